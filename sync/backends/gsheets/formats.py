"""The job's conditional-format rules by identity: its record of what it made, and matching that
record to a tab's rules (exactly as made, or moved by people's column edits) -- never by colour."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ...model import CFRule
from .build import FORMATS_KEY, cf_json, to_hex

#: An A1 cell reference in a formula (``$O2``, ``AB$10``).
_A1_REF = re.compile(r"\$?[A-Z]{1,3}\$?[0-9]+")


def mask_refs(formula: str) -> str:
    """A formula with its cell references blanked, string literals kept: two rules that differ
    only in where they point (Sheets moved them with an inserted column) look alike.

    >>> mask_refs('ISNUMBER(FIND("[B2]",$U2))')
    'ISNUMBER(FIND("[B2]",§))'
    """
    parts = formula.split('"')
    return '"'.join(p if i % 2 else _A1_REF.sub("§", p) for i, p in enumerate(parts))


def _color(style: dict[str, Any], key: str) -> str | None:
    return to_hex(style.get(key) or (style.get(key + "Style") or {}).get("rgbColor"))


def rule_sig(rule: dict[str, Any], rows: int | None = None) -> tuple[Any, ...] | None:
    """What identifies a conditional-format rule: its ranges, condition and format, normalised
    (colours as RRGGBB; the sheet id, Google's mirrored ``*Style`` colours and a row end at or
    past the grid's ``rows`` left out). None for a gradient rule: the job makes none."""
    boolean = rule.get("booleanRule")
    if not isinstance(boolean, dict):
        return None
    ranges = []
    for g in rule.get("ranges") or []:
        end = g.get("endRowIndex")
        if end is not None and rows is not None and int(end) >= rows:
            end = None
        ranges.append(
            (
                int(g.get("startRowIndex", 0) or 0),
                None if end is None else int(end),
                int(g.get("startColumnIndex", 0) or 0),
                None if g.get("endColumnIndex") is None else int(g["endColumnIndex"]),
            )
        )
    condition = boolean.get("condition") or {}
    values = tuple(str(v.get("userEnteredValue", "")) for v in condition.get("values") or [])
    fmt = boolean.get("format") or {}
    text = fmt.get("textFormat") or {}
    flags = tuple(bool(text.get(k)) for k in ("bold", "italic", "strikethrough", "underline"))
    return (
        tuple(ranges),
        condition.get("type"),
        values,
        _color(fmt, "backgroundColor"),
        _color(text, "foregroundColor"),
        flags,
    )


def rule_shape(sig: tuple[Any, ...]) -> tuple[Any, ...]:
    """A rule's identity without where it sits: as many ranges, the same condition with its cell
    references blanked, the same format."""
    ranges, kind, values, fill, font, flags = sig
    return (len(ranges), kind, tuple(mask_refs(v) for v in values), fill, font, flags)


def sans_end(sig: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """A rule's identity with its ranges' row ends left out (Google may report an open-ended
    range clamped to the grid, which rows inserted meanwhile change)."""
    if sig is None:
        return None
    return (tuple((r0, c0, c1) for r0, _, c0, c1 in sig[0]), *sig[1:])


def decode_rule(rule: dict[str, Any], recorded: CFRule) -> CFRule:
    """The CFRule a (moved) rule of the job's now stands for."""
    rng = (rule.get("ranges") or [{}])[0]
    condition = (rule.get("booleanRule") or {}).get("condition") or {}
    formula = str(((condition.get("values") or [{}])[0]).get("userEnteredValue", ""))
    end = rng.get("endRowIndex")
    return CFRule(
        int(rng.get("startRowIndex", 0) or 0),
        recorded.last_row if end is None else int(end) - 1,
        int(rng.get("startColumnIndex", 0) or 0),
        int(rng.get("endColumnIndex", 1) or 1) - 1,
        formula.removeprefix("="),
        recorded.fill,
        recorded.font,
    )


@dataclass(frozen=True)
class OwnRules:
    """The job's rules among a tab's rules, found by what it recorded making them."""

    #: Indexes (in the tab's rule list) of the job's rules, in recorded order.
    indexes: tuple[int, ...] = ()
    #: What each stands for now, in the same order: the recorded CFRule where the rule is
    #: exactly as made, else what Sheets moved it to.
    rules: tuple[CFRule, ...] = ()
    #: Some rule was found moved (its record is out of date).
    moved: bool = False


def own_rules(
    sheet_id: int, rules: list[dict[str, Any]], recorded: list[CFRule], rows: int
) -> OwnRules:
    """Match the recorded rules to a tab's rules: each recorded rule takes the one rule that is
    exactly as the job made it, else one that differs only in where it sits (people inserted or
    deleted columns, and Sheets moved its ranges and cell references). Colour alone never
    decides: a person's rule with the job's fill is a person's rule. Each rule is matched once.
    """
    sigs = [rule_sig(r, rows) for r in rules]
    taken: set[int] = set()
    found: list[tuple[int, int, bool]] = []  # (record, rule index, exact)
    wanted = [
        {rule_sig(cf_json(sheet_id, rec, bounded=b), rows) for b in (False, True)}
        for rec in recorded
    ]
    for i in range(len(recorded)):
        j = next((j for j, g in enumerate(sigs) if j not in taken and g in wanted[i]), None)
        if j is not None:
            taken.add(j)
            found.append((i, j, True))
    matched = {i for i, _, _ in found}
    for i, rec in enumerate(recorded):
        if i in matched:
            continue
        shape = rule_shape(rule_sig(cf_json(sheet_id, rec), rows) or ())
        j = next(
            (
                j
                for j, g in enumerate(sigs)
                if j not in taken and g is not None and rule_shape(g) == shape
            ),
            None,
        )
        if j is not None:
            taken.add(j)
            found.append((i, j, False))
    found.sort()
    return OwnRules(
        indexes=tuple(j for _, j, _ in found),
        rules=tuple(
            recorded[i] if exact else decode_rule(rules[j], recorded[i]) for i, j, exact in found
        ),
        moved=any(not exact for _, _, exact in found),
    )


def formats_record(
    metadata: list[dict[str, Any]], sheet_id: int
) -> tuple[list[CFRule] | None, int | None, str | None]:
    """The job's record of the rules it made on tab ``sheet_id`` (developer metadata
    ``tracker_sync.formats``): (rules or None, its metadataId, its raw value)."""
    for m in metadata:
        if m.get("metadataKey") != FORMATS_KEY:
            continue
        raw = m.get("metadataValue")
        mid = m.get("metadataId")
        try:
            data = json.loads(raw or "{}")
            if int(data.get("sheetId", -1)) != sheet_id:
                return None, mid, raw
            return [CFRule.from_json(r) for r in data.get("rules", [])], mid, raw
        except (ValueError, TypeError, KeyError, AttributeError):
            return None, mid, raw
    return None, None, None


def legacy_record(meta: dict[str, Any]) -> list[CFRule]:
    """Before the record existed, the job's metadata listed the rules it asked for."""
    try:
        return [CFRule.from_json(r) for r in meta.get("conditional_formats") or []]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []

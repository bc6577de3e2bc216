"""Validate: run every rule the sheet's columns allow and collect findings into one long table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cells import col_letter
from .checks import Context, run_check
from .i18n import text
from .model import FINDING_COLUMNS
from .parse import Table
from .rules import PLACEHOLDER, RuleSet


def empty_findings() -> pd.DataFrame:
    """A findings table with no rows (the columns and dtypes of a real one)."""
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "row" else object) for c in FINDING_COLUMNS}
    )


def validate(table: Table, ruleset: RuleSet, ctx: Context) -> pd.DataFrame:
    """Findings: one row per (sheet row, column, rule), sorted by row then column.

    Columns: ``row`` (the sheet's 1-based row), ``column`` (the header as in the sheet),
    ``rule`` (id), ``severity`` (error / warning / info), ``message`` (in ``ctx.locale``).
    Rules run as :meth:`RuleSet.for_sheet` narrows them to the columns the sheet has.
    """
    parts: list[_Part] = []
    order = {name: i for i, name in enumerate(ruleset.columns)}
    runnable, _ = ruleset.for_sheet(table.positions)
    rows = table.rows
    for rule_pos, rule in enumerate(runnable):
        result = run_check(table, rule, ctx)
        for col, mask in result.masks.items():
            pos = _failing(mask, rows)
            if not len(pos):
                continue
            template = rule.text(ctx.locale)
            template = template.replace("{column}", table.headers[col]).replace(
                "{other}", result.other or ""
            )
            message = _fill(template, "value", table.display_at(rule.value_column or col, pos))
            values = {**(result.values or {}), **(result.column_values or {}).get(col, {})}
            for key, series in values.items():
                message = _fill(message, key, _at(series, rows, pos).astype(str).to_numpy())
            for kind, name in set(PLACEHOLDER.findall(template)):
                message = _fill(
                    message, f"{kind}:{name}", _placeholder(table, kind, name, pos, ctx)
                )
            if isinstance(message, str):
                message = [message] * len(pos)
            parts.append(
                _Part(
                    rows.to_numpy()[pos],
                    table.headers[col],
                    rule.id,
                    rule.severity,
                    message,
                    table.positions.get(col, 1000 + order.get(col, 0)),
                    rule_pos,
                )
            )
    parts.extend(_header_findings(table, ctx.locale))
    if not parts:
        return empty_findings()
    return _frame(parts)


@dataclass(frozen=True)
class _Part:
    """The findings of one rule on one column: their rows and messages."""

    rows: np.ndarray
    column: str
    rule: str
    severity: str
    messages: list[str]
    #: sort keys after the row: the column's place in the sheet, the rule's in the pack
    col: int
    rule_pos: int


def _frame(parts: list[_Part]) -> pd.DataFrame:
    """The findings table, sorted by row, then column, then rule (built once: a frame per
    part and a concat of 250k findings cost more than the checks themselves)."""
    sizes = [len(p.rows) for p in parts]
    row = np.concatenate([p.rows for p in parts]).astype(np.int64)
    col = np.repeat([p.col for p in parts], sizes)
    rule_pos = np.repeat([p.rule_pos for p in parts], sizes)
    by = np.lexsort((rule_pos, col, row))  # stable, last key first

    def spread(values: list[str]) -> np.ndarray:
        return np.repeat(np.array(values, dtype=object), sizes)[by]

    messages = np.empty(len(row), dtype=object)
    messages[:] = [m for p in parts for m in p.messages]
    return pd.DataFrame(
        {
            "row": row[by],
            "column": spread([p.column for p in parts]),
            "rule": spread([p.rule for p in parts]),
            "severity": spread([p.severity for p in parts]),
            "message": messages[by],
        }
    )[FINDING_COLUMNS]


def _failing(mask: pd.Series, rows: pd.Index) -> np.ndarray:
    """The 0-based positions of the rows where ``mask`` holds (NaN: it does not)."""
    if not (mask.index is rows or mask.index.equals(rows)):
        mask = mask.reindex(rows)
    if mask.dtype != bool:
        mask = mask.fillna(False).astype(bool)
    return np.flatnonzero(mask.to_numpy(dtype=bool))


def _at(series: pd.Series, rows: pd.Index, pos: np.ndarray) -> pd.Series:
    """``series`` at the table rows at ``pos`` (by position when it is over those rows)."""
    if series.index is rows or series.index.equals(rows):
        return series.iloc[pos]
    return series.loc[rows[pos]]


#: The finding for two header cells that name one column (the sheet's shape, not a rule of
#: the pack: it comes from reading the header row).
DUPLICATE_HEADER = "duplicate-header"


def _header_findings(table: Table, locale: str) -> list[_Part]:
    """A warning on the header row for each column named by more than one header cell: which
    columns (by letter) and which one is read."""
    parts = []
    for name, cells in table.duplicate_headers.items():
        letters = [col_letter(c) for c, _ in cells]
        named = text(locale, "dup.and").join(
            text(locale, "dup.column").replace("{letter}", letter).replace("{header}", header)
            for letter, (_, header) in zip(letters, cells, strict=True)
        )
        message = (
            text(locale, "dup.message")
            .replace("{columns}", named)
            .replace("{field}", name)
            .replace("{first}", letters[0])
            .replace("{others}", ", ".join(letters[1:]))
        )
        parts.append(
            _Part(
                np.array([table.header_row + 1]),
                cells[0][1],
                DUPLICATE_HEADER,
                "warning",
                [message],
                cells[0][0],
                -1,
            )
        )
    return parts


def _placeholder(
    table: Table, kind: str, name: str, pos: np.ndarray, ctx: Context
) -> np.ndarray | list[str]:
    if kind == "col":
        return table.display_at(name, pos)
    dates = table.data[name].iloc[pos]
    days = (pd.Timestamp(ctx.as_of) - dates).dt.days
    return [("" if pd.isna(d) else str(int(d))) for d in days]


def _fill(template: str | list[str], key: str, values: np.ndarray | list[str]) -> str | list[str]:
    """Replace ``{key}`` by per-row values without ``str.format`` (cell text may hold braces)."""
    token = "{" + key + "}"
    if isinstance(template, str):
        if token not in template:
            return template
        pieces = template.split(token)
        # one string per distinct value: messages repeat (an owner, a status) and share it
        made: dict[str, str] = {}
        return [made.get(v) or made.setdefault(v, v.join(pieces)) for v in map(str, values)]
    pairs: dict[tuple[str, str], str] = {}
    return [
        pairs.get((t, v)) or pairs.setdefault((t, v), t.replace(token, v))
        for t, v in zip(template, map(str, values), strict=True)
    ]

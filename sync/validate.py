"""Validate: run every rule the sheet's columns allow and collect findings into one long table."""

from __future__ import annotations

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
    parts: list[pd.DataFrame] = []
    order = {name: i for i, name in enumerate(ruleset.columns)}
    runnable, _ = ruleset.for_sheet(table.positions)
    for rule_pos, rule in enumerate(runnable):
        result = run_check(table, rule, ctx)
        for col, mask in result.masks.items():
            mask = mask.fillna(False).astype(bool)
            if not mask.any():
                continue
            idx = mask[mask].index
            template = rule.text(ctx.locale)
            template = template.replace("{column}", table.headers[col]).replace(
                "{other}", result.other or ""
            )
            message = _fill(template, "value", table.display(rule.value_column or col, idx))
            values = {**(result.values or {}), **(result.column_values or {}).get(col, {})}
            for key, series in values.items():
                message = _fill(message, key, series.loc[idx].astype(str))
            for kind, name in set(PLACEHOLDER.findall(template)):
                message = _fill(
                    message, f"{kind}:{name}", _placeholder(table, kind, name, idx, ctx)
                )
            messages = message if isinstance(message, pd.Series) else pd.Series(message, index=idx)
            parts.append(
                pd.DataFrame(
                    {
                        "row": idx.to_numpy(),
                        "column": table.headers[col],
                        "rule": rule.id,
                        "severity": rule.severity,
                        "message": messages.to_numpy(),
                        "_col": table.positions.get(col, 1000 + order.get(col, 0)),
                        "_rule": rule_pos,
                    }
                )
            )
    parts.append(_header_findings(table, ctx.locale))
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_findings()
    out = pd.concat(parts, ignore_index=True).sort_values(["row", "_col", "_rule"], kind="stable")
    return out[FINDING_COLUMNS].reset_index(drop=True)


#: The finding for two header cells that name one column (the sheet's shape, not a rule of
#: the pack: it comes from reading the header row).
DUPLICATE_HEADER = "duplicate-header"


def _header_findings(table: Table, locale: str) -> pd.DataFrame:
    """A warning on the header row for each column named by more than one header cell: which
    columns (by letter) and which one is read."""
    rows = []
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
        rows.append(
            {
                "row": table.header_row + 1,
                "column": cells[0][1],
                "rule": DUPLICATE_HEADER,
                "severity": "warning",
                "message": message,
                "_col": cells[0][0],
                "_rule": -1,
            }
        )
    return pd.DataFrame(rows, columns=[*FINDING_COLUMNS, "_col", "_rule"])


def _placeholder(table: Table, kind: str, name: str, idx: pd.Index, ctx: Context) -> pd.Series:
    if kind == "col":
        return table.display(name, idx)
    dates = table.data.loc[idx, name]
    days = (pd.Timestamp(ctx.as_of) - dates).dt.days
    return pd.Series([("" if pd.isna(d) else str(int(d))) for d in days], index=idx, dtype=object)


def _fill(template: str | pd.Series, key: str, values: pd.Series) -> str | pd.Series:
    """Replace ``{key}`` by per-row values without ``str.format`` (cell text may hold braces)."""
    token = "{" + key + "}"
    if isinstance(template, str):
        if token not in template:
            return template
        pieces = template.split(token)
        out = pd.Series(pieces[0], index=values.index, dtype=object)
        for piece in pieces[1:]:
            out = out + values.astype(str) + piece
        return out
    return pd.Series(
        [t.replace(token, v) for t, v in zip(template, values.astype(str), strict=True)],
        index=template.index,
    )

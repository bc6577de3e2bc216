"""Render: the cells, conditional formats and summary tab the job wants to exist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import summary_layout
from .cells import col_letter
from .collector import paused
from .i18n import GENERATED_KEYS, text
from .model import CFRule, SummaryTab
from .parse import Table
from .rules import STATUS_IDS
from .style import FILL_AMBER, FILL_DELAYED, FILL_FINDING, FILL_ON_HOLD, FONT_FINDING
from .summarize import Summary

META_VERSION = 1
#: The fields that identify a task, used to check that a row still holds the same task.
KEY_FIELDS = ("phase", "channel", "task", "description")
#: Conditional formats cover rows in blocks of this size, so a growing sheet keeps its rules.
CF_ROW_BLOCK = 500


@dataclass(frozen=True)
class Desired:
    """The full content of everything the job owns, before diffing."""

    tracker_title: str
    columns: dict[int, pd.Series]  # 0-based col -> values by 0-based row (header row included)
    header_cells: tuple[tuple[int, int], ...]
    #: generated column key -> 0-based column; ``new_columns`` lists those that do not exist yet
    positions: dict[str, int]
    new_columns: tuple[str, ...]
    key_columns: tuple[int, ...]
    conditional_formats: tuple[CFRule, ...]
    summary: SummaryTab
    meta: dict[str, Any]


def generated_positions(table: Table) -> tuple[dict[str, int], tuple[str, ...]]:
    """Where each generated column is: existing ones stay put (people may have added columns
    beside them); missing ones go right of every human header, used cell and generated column."""
    existing = table.generated_cols
    start = max([*table.human_cols, table.last_used_col, *existing.values()]) + 1
    positions: dict[str, int] = {}
    new: list[str] = []
    for key in GENERATED_KEYS:
        if key in existing:
            positions[key] = existing[key]
        else:
            positions[key] = start
            start += 1
            new.append(key)
    return positions, tuple(new)


def issues_text(table: Table, findings: pd.DataFrame, locale: str) -> pd.Series:
    """Per task row: ``[header] message`` for each finding, joined by line breaks (in the
    findings' order), indexed by row.

    Warnings and infos are prefixed with their severity; errors are not.
    """
    if not len(findings):
        return pd.Series(dtype=object)
    rows = findings["row"].to_numpy()
    order = None if (rows[1:] >= rows[:-1]).all() else np.argsort(rows, kind="stable")

    def column(name: str) -> np.ndarray:
        values = findings[name].astype(str).to_numpy(dtype=object)
        return values if order is None else values[order]

    if order is not None:
        rows = rows[order]
    severity = column("severity")
    lead = np.full(len(rows), "[", dtype=object)
    for sev in ("warning", "info"):
        lead[severity == sev] = f"({text(locale, 'severity.' + sev)}) ["
    # 100k-row trackers have ~250k findings: their pieces are joined in one string, a NUL
    # after each row's last finding, a line break between a row's findings, and split at the
    # NULs (two copies of the text instead of a string concatenation per piece)
    first = np.r_[True, rows[1:] != rows[:-1]]
    starts = np.flatnonzero(first)
    pieces = np.empty(5 * len(rows), dtype=object)
    pieces[0::5] = lead
    pieces[1::5] = column("column")
    pieces[2::5] = "] "
    pieces[3::5] = column("message")
    ends = np.full(len(rows), "\n", dtype=object)
    ends[np.r_[first[1:], True]] = "\0"  # (NumPy's own strings would drop a NUL)
    pieces[4::5] = ends
    flat = pieces.tolist()
    cells = "".join(flat)[:-1].split("\0")
    if len(cells) != len(starts):  # a message holds a NUL itself: join row by row
        stops = [*(starts[1:] * 5).tolist(), 5 * len(rows)]
        cells = [
            "".join(flat[a : b - 1]) for a, b in zip((starts * 5).tolist(), stops, strict=True)
        ]
    return pd.Series(cells, index=pd.Index(rows[starts]), dtype=object)


@paused
def render(
    table: Table,
    derived: pd.DataFrame,
    findings: pd.DataFrame,
    summary: Summary,
    *,
    tracker_title: str,
    summary_title: str,
    target: str,
    locale: str,
    now: dt.datetime,
    row_capacity: int | None = None,
    reasons: pd.Series | None = None,
    summary_capacity: object = None,
) -> Desired:
    """Everything the job owns, in full. ``row_capacity`` caps formats at the grid's size;
    ``reasons`` (by sheet row, :func:`sync.explain.reasons`) lead the ⚙ 问题 cell of each red
    or amber row, above its findings; ``summary_capacity`` is the summary tables' reserved rows
    as the last run recorded them (its metadata), kept while their rows fit."""
    pos, new = generated_positions(table)
    hr = table.header_row
    last_row = max(table.n_grid_rows - 1, int(table.rows.max()) - 1 if len(table) else hr)
    index = pd.RangeIndex(hr, last_row + 1)  # the header row, then every row below it
    at = table.rows.to_numpy() - 1 - hr  # each task's position in ``index``

    def column(header: str, cells: np.ndarray) -> pd.Series:
        """The header cell, then each task's cell in its row (None elsewhere)."""
        out = np.full(len(index), None, dtype=object)
        out[0] = header
        out[at] = cells
        return pd.Series(out, index=index, dtype=object)

    # each column's cells by task, None where empty
    status_label = _labels(derived["status"], {s: text(locale, f"status.{s}") for s in STATUS_IDS})
    health_label = _labels(
        derived["health"], {h: text(locale, f"health.{h}") for h in ("green", "amber", "red")}
    )
    issues = _by_task(table, issues_text(table, findings, locale))
    if reasons is not None and len(reasons):  # a row's reasons lead its findings
        why = _by_task(table, reasons)
        lead, found = pd.notna(why), pd.notna(issues)
        merged = np.where(lead, why, issues)
        both = lead & found
        merged[both] = why[both] + "\n" + issues[both]
        issues = merged
    values = {
        "gen_status": status_label,
        "gen_planned": _floats(derived["planned_progress"]),
        "gen_deviation": _floats(derived["deviation"]),
        "gen_days_late": _cells(derived["days_late"]),
        "gen_health": health_label,
        "gen_issues": issues,
        "gen_baseline": _baseline_variance(table),
        "gen_id": _cells(table.ids.reindex(table.rows)),
    }
    columns: dict[int, pd.Series] = {}
    headers: list[tuple[int, int]] = []
    for key, c in pos.items():
        columns[c] = column(text(locale, key), values[key])
        headers.append((hr, c))
    cf = conditional_formats(table, pos, locale, last_row, row_capacity)
    tab = summary_tab(
        summary, table, derived, summary_title, target, tracker_title, locale, now, summary_capacity
    )
    meta = {
        "version": META_VERSION,
        "tracker": tracker_title,
        "summary": summary_title,
        "conditional_formats": [r.to_json() for r in cf],
        "summary_layout": summary_layout.signature(tab),
        "summary_capacity": tab.capacity,
    }
    keys = tuple(table.positions[k] for k in KEY_FIELDS if k in table.positions)
    return Desired(tracker_title, columns, tuple(headers), pos, new, keys, cf, tab, meta)


def _cells(s: pd.Series) -> np.ndarray:
    """The values as cells: None for NaN, NA and NaT."""
    out = s.to_numpy(dtype=object, copy=True)
    out[pd.isna(out)] = None
    return out


def _by_task(table: Table, by_row: pd.Series) -> np.ndarray:
    """Values given by sheet row, one per task of the table (None where a row has none)."""
    out = np.full(len(table), None, dtype=object)
    at = table.rows.get_indexer(by_row.index)
    known = at >= 0
    out[at[known]] = by_row.to_numpy(dtype=object)[known]
    return out


def _baseline_variance(table: Table) -> np.ndarray:
    """Days the planned finish moved since the baseline (+ later, − earlier), per task."""
    d = table.data
    out = np.full(len(table), None, dtype=object)
    if "baseline_finish" not in d.columns:
        return out
    days = (d["planned_finish"] - d["baseline_finish"]).dt.days
    known = days.notna().to_numpy()
    # whole days; a column with an empty cell holds them as floats (as Series.map made them)
    out[known] = days.to_numpy()[known].astype(object)
    return out


def _labels(values: pd.Series, words: dict[str, str]) -> np.ndarray:
    """``values.map(words)`` (None where no word), each distinct value looked up once."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=object))
    table = np.array([*(words.get(u) for u in uniques), None], dtype=object)
    out: np.ndarray = table[codes]
    return out


def _floats(s: pd.Series) -> np.ndarray:
    """Numbers for cells: None for missing and for ±inf (no sheet stores infinity)."""
    values = s.to_numpy(dtype=float)
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out


def conditional_formats(
    table: Table, pos: dict[str, int], locale: str, last_row: int, row_capacity: int | None = None
) -> tuple[CFRule, ...]:
    """Cell rules for every human column (lit when the issues column names it), then row rules."""
    first = table.header_row + 1
    last = max(((last_row // CF_ROW_BLOCK) + 1) * CF_ROW_BLOCK - 1, first)
    if row_capacity is not None:
        last = max(min(last, row_capacity - 1), first)
    r1 = first + 1  # A1 row number of the range's first row
    issues = col_letter(pos["gen_issues"])
    status = col_letter(pos["gen_status"])
    health = col_letter(pos["gen_health"])
    rules: list[CFRule] = []
    for c in table.human_cols:
        name = str(_header_at(table, c)).strip().replace('"', '""')
        formula = f'ISNUMBER(FIND("[{name}]",${issues}{r1}))'
        rules.append(CFRule(first, last, c, c, formula, FILL_FINDING, FONT_FINDING))
    right = max(pos.values())
    delayed = text(locale, "status.delayed").replace('"', '""')
    amber = text(locale, "health.amber").replace('"', '""')
    on_hold = text(locale, "status.on_hold").replace('"', '""')
    rules.append(CFRule(first, last, 0, right, f'${status}{r1}="{delayed}"', FILL_DELAYED))
    rules.append(CFRule(first, last, 0, right, f'${health}{r1}="{amber}"', FILL_AMBER))
    rules.append(CFRule(first, last, 0, right, f'${status}{r1}="{on_hold}"', FILL_ON_HOLD))
    return tuple(rules)


def _header_at(table: Table, col: int) -> str:
    for name, c in table.positions.items():
        if c == col:
            return table.headers[name]
    for name, c in table.extra_columns.items():
        if c == col:
            return name
    return col_letter(col)


# ---------------------------------------------------------------------------- summary tab


def summary_tab(
    s: Summary,
    table: Table,
    derived: pd.DataFrame,
    title: str,
    target: str,
    tracker_title: str,
    locale: str,
    now: dt.datetime,
    capacity: object = None,
) -> SummaryTab:
    """The summary tab (:mod:`sync.summary_layout`): title band, KPI tiles and their
    definitions, charts, tables; the tracker named by its file name, never its path."""
    return summary_layout.summary_tab(
        s,
        table,
        derived,
        title=title,
        tracker_name=summary_layout.tracker_name(target, tracker_title),
        locale=locale,
        now=now,
        previous=capacity,
    )

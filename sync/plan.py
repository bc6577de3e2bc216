"""Diff: turn the desired state into a write plan holding only what differs from the snapshot."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .cells import RawValue, same_value
from .collector import paused
from .model import Snapshot, SummaryTab, WritePlan
from .render import Desired


def current_column(snapshot: Snapshot, col: int, index: pd.Index) -> pd.Series:
    """The snapshot's values in column ``col`` at the given 0-based rows."""
    return snapshot.tracker.column(col, index).astype(object)


def changed(current: pd.Series, desired: pd.Series) -> pd.Series:
    """Element-wise "differs" for two object Series on the same index (vectorized fast path)."""
    cur = current.to_numpy(dtype=object)
    new = desired.to_numpy(dtype=object)
    return pd.Series(_differs(cur, pd.isna(cur), new, pd.isna(new)), index=desired.index)


def _differs(cur: np.ndarray, cur_na: np.ndarray, new: np.ndarray, new_na: np.ndarray) -> Any:
    """:func:`changed` on arrays, given where each is NA (None / NaN)."""
    new_empty = new_na | (new == "")
    if cur_na.all():  # nothing there yet (a first run, a new column): every cell with a value
        return ~new_empty
    cur_empty = cur_na | (cur == "")
    out = ~((cur == new) | (cur_empty & new_empty))
    # numbers that are equal in value but not identical in type (54.5 vs 54.50000001)
    suspects = np.flatnonzero(out & ~cur_empty & ~new_empty)
    for i in suspects:
        if same_value(cur[i], new[i]):
            out[i] = False
    return out


def summary_changes(
    current: Any, desired: SummaryTab
) -> dict[tuple[int, int], tuple[RawValue, RawValue]]:
    """The summary cells that differ, (row, col) -> (old, new); empty when only the run-time
    stamp moved (it alone does not make a write). A missing tab differs in every cell."""
    rows = current.rows if current is not None else []
    out: dict[tuple[int, int], tuple[RawValue, RawValue]] = {}
    stamp_moved = False
    for r in range(max(len(rows), len(desired.rows))):
        have = rows[r] if r < len(rows) else []
        want = desired.rows[r] if r < len(desired.rows) else []
        if have == want and list(map(type, have)) == list(map(type, want)):
            continue  # the same values of the same types: every cell is the same value
        for c in range(max(len(have), len(want))):
            a = have[c] if c < len(have) else None
            b = want[c] if c < len(want) else None
            if same_value(a, b):
                continue
            if desired.volatile == (r, c):
                stamp_moved = True
            out[(r, c)] = (a, b)
    if stamp_moved and len(out) == 1 and current is not None:
        return {}
    return out


@paused
def diff(snapshot: Snapshot, desired: Desired) -> WritePlan:
    """The write plan: changed owned cells, and the summary, formats and metadata if they differ."""
    cells: dict[int, pd.Series] = {}
    old: dict[int, pd.Series] = {}
    for col, want in desired.columns.items():
        cur = current_column(snapshot, col, want.index).to_numpy(dtype=object)
        new = want.to_numpy(dtype=object)
        cur_na, new_na = pd.isna(cur), pd.isna(new)
        mask = _differs(cur, cur_na, new, new_na)
        if mask.any():
            index = want.index[mask]
            values, was = new[mask], cur[mask]  # copies: NA becomes None in them
            values[new_na[mask]] = None
            was[cur_na[mask]] = None
            cells[col] = pd.Series(values, index=index, dtype=object)
            old[col] = pd.Series(was, index=index, dtype=object)
    # charts (and the tab's look) are drawn with a new tab, again when people deleted every
    # chart, and when the layout moved (a table grew, the trend chart's first day ...)
    charts = bool(desired.summary.charts) and (
        snapshot.summary is None
        or snapshot.summary_charts == 0
        or snapshot.meta.get("summary_layout") != desired.meta.get("summary_layout")
    )
    changes = summary_changes(snapshot.summary, desired.summary)
    redo = bool(changes) or charts
    cf = desired.conditional_formats
    formats = None if tuple(snapshot.conditional_formats) == tuple(cf) else cf
    meta = None if snapshot.meta == desired.meta else desired.meta
    return WritePlan(
        tracker_title=desired.tracker_title,
        cells=cells,
        old=old,
        header_cells=tuple(hc for hc in desired.header_cells if hc[1] in cells),
        columns=desired.positions,
        new_columns=desired.new_columns,
        header_row=desired.header_cells[0][0] if desired.header_cells else 0,
        key_columns=desired.key_columns,
        summary=desired.summary if redo else None,
        summary_exists=snapshot.summary is not None,
        summary_changes=changes if redo else {},
        summary_charts=charts,
        conditional_formats=formats,
        meta=meta,
    )

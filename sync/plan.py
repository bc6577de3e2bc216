"""Diff: turn the desired state into a write plan holding only what differs from the snapshot."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .model import RawValue, Snapshot, SummaryTab, WritePlan
from .render import Desired


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == "")


def same_value(a: RawValue, b: RawValue) -> bool:
    """True when a cell holding ``a`` already shows ``b`` (numbers compare by value)."""
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


def current_column(snapshot: Snapshot, col: int, index: pd.Index) -> pd.Series:
    """The snapshot's values in column ``col`` at the given 0-based rows."""
    return snapshot.tracker.column(col, index).astype(object)


def changed(current: pd.Series, desired: pd.Series) -> pd.Series:
    """Element-wise "differs" for two object Series on the same index (vectorized fast path)."""
    cur = current.to_numpy(dtype=object)
    new = desired.to_numpy(dtype=object)
    cur_empty = pd.isna(current).to_numpy() | (cur == "")
    new_empty = pd.isna(desired).to_numpy() | (new == "")
    eq = cur == new
    out = ~(eq | (cur_empty & new_empty))
    # numbers that are equal in value but not identical in type (54.5 vs 54.50000001)
    suspects = np.flatnonzero(out & ~cur_empty & ~new_empty)
    for i in suspects:
        if same_value(cur[i], new[i]):
            out[i] = False
    return pd.Series(out, index=desired.index)


def summary_differs(current: Any, desired: SummaryTab) -> bool:
    """Whether the summary tab must be rewritten (the run-time stamp alone does not count)."""
    if current is None:
        return True
    rows = current.rows
    height = max(len(rows), len(desired.rows))
    for r in range(height):
        have = rows[r] if r < len(rows) else []
        want = desired.rows[r] if r < len(desired.rows) else []
        for c in range(max(len(have), len(want))):
            if desired.volatile == (r, c):
                continue
            a = have[c] if c < len(have) else None
            b = want[c] if c < len(want) else None
            if not same_value(a, b):
                return True
    return False


def diff(snapshot: Snapshot, desired: Desired) -> WritePlan:
    """The write plan: changed owned cells, and the summary, formats and metadata if they differ."""
    cells: dict[int, pd.Series] = {}
    for col, want in desired.columns.items():
        have = current_column(snapshot, col, want.index)
        mask = changed(have, want)
        if mask.any():
            new = want[mask.to_numpy()].astype(object)
            cells[col] = new.where(new.notna(), None)
    redo = summary_differs(snapshot.summary, desired.summary) or not snapshot.summary_has_chart
    summary = desired.summary if redo else None
    cf = desired.conditional_formats
    formats = None if tuple(snapshot.conditional_formats) == tuple(cf) else cf
    meta = None if snapshot.meta == desired.meta else desired.meta
    return WritePlan(
        tracker_title=desired.tracker_title,
        cells=cells,
        header_cells=tuple(hc for hc in desired.header_cells if hc[1] in cells),
        summary=summary,
        conditional_formats=formats,
        meta=meta,
        positions=desired.positions,
        new_columns=desired.new_columns,
        key_columns=desired.key_columns,
        header_row=desired.header_cells[0][0] if desired.header_cells else 0,
    )

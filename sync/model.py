"""The data that flows through a run: snapshot in, write plan out (plain, backend-neutral)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

#: A raw cell value as a backend hands it over: str, int, float, bool, datetime/date or None.
RawValue = Any

#: Columns of the findings frame, in order.
FINDING_COLUMNS = ["row", "column", "rule", "severity", "message"]


def nones(index: pd.Index) -> pd.Series:
    """An object Series of None (``pd.Series(None, dtype=object)`` would hold NaN)."""
    return pd.Series([None] * len(index), index=index, dtype=object)


@dataclass(frozen=True)
class Grid:
    """One tab's cells as the workbook holds them.

    ``rows`` is row-major and 0-based (``rows[0][0]`` is A1); rows may be ragged. A cell whose
    number format is a percentage is listed in ``percent_cells`` as (row, col), so that ``0.6``
    there reads as 60 %.
    """

    title: str
    rows: list[list[RawValue]]
    percent_cells: frozenset[tuple[int, int]] = frozenset()

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The cells as an object DataFrame (0-based row index, column = 0-based column)."""
        if not self.rows:
            return pd.DataFrame(dtype=object)
        width = max(map(len, self.rows))
        padded = [r if len(r) == width else [*r, *([None] * (width - len(r)))] for r in self.rows]
        return pd.DataFrame(padded, dtype=object)

    def column(self, col: int, rows: pd.Index) -> pd.Series:
        """Column ``col`` at the given 0-based rows (None beyond the grid)."""
        frame = self.frame
        if col in frame.columns:
            return frame[col].reindex(rows)
        return nones(rows)

    def value(self, row: int, col: int) -> RawValue:
        if 0 <= row < len(self.rows):
            r = self.rows[row]
            if 0 <= col < len(r):
                return r[col]
        return None


@dataclass(frozen=True)
class CFRule:
    """A conditional-format rule the job owns: fill the range where the formula holds.

    Rows and columns are 0-based and inclusive; ``formula`` is A1-style without the leading
    ``=``, relative to the range's top-left cell (Excel and Sheets read it the same way).
    """

    first_row: int
    last_row: int
    first_col: int
    last_col: int
    formula: str
    fill: str  # RRGGBB
    font: str | None = None  # RRGGBB

    def to_json(self) -> dict[str, Any]:
        return {
            "range": [self.first_row, self.last_row, self.first_col, self.last_col],
            "formula": self.formula,
            "fill": self.fill,
            "font": self.font,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CFRule:
        r = data["range"]
        return cls(
            int(r[0]),
            int(r[1]),
            int(r[2]),
            int(r[3]),
            str(data["formula"]),
            str(data["fill"]),
            data.get("font"),
        )


@dataclass(frozen=True)
class ChartSpec:
    """A chart on the summary tab: categories and values are 0-based cell ranges of that tab."""

    kind: str  # "bar" | "pie"
    title: str
    categories: tuple[int, int, int]  # (col, first_row, last_row)
    values: tuple[int, int, int]  # (col, header_row, last_row): header row names the series
    anchor: tuple[int, int]  # (row, col) of the top-left corner


@dataclass(frozen=True)
class SummaryTab:
    """The whole summary tab the job owns: cell values, column widths, charts."""

    title: str
    rows: list[list[RawValue]]
    widths: dict[int, float] = field(default_factory=dict)
    bold_rows: frozenset[int] = frozenset()
    charts: tuple[ChartSpec, ...] = ()
    #: (row, col) of the run-time stamp: it alone changing does not make a write.
    volatile: tuple[int, int] | None = None


@dataclass(frozen=True)
class Snapshot:
    """What a backend read: the tracker tab, the job's own tab and state, and a version token."""

    target: str
    tracker: Grid
    sheet_titles: tuple[str, ...]
    summary: Grid | None = None
    time_zone: str | None = None
    #: The job's conditional-format rules found on the tracker tab (recognised by the backend).
    conditional_formats: tuple[CFRule, ...] = ()
    #: The job's own metadata, as written by the last run.
    meta: dict[str, Any] = field(default_factory=dict)
    #: Opaque token the backend uses to detect a change between read and write.
    version: Any = None
    #: Rows the tracker tab can hold without growing (Sheets' grid size), to cap ranges.
    row_capacity: int | None = None
    #: Generated column key -> 0-based column, where the backend anchors columns itself.
    anchors: dict[str, int] = field(default_factory=dict)
    #: Whether the summary tab still has its chart.
    summary_has_chart: bool = True
    #: Every other tab's cells (rosters for lookups, a KPI tab ...), by title.
    tabs: dict[str, Grid] = field(default_factory=dict)


@dataclass(frozen=True)
class WritePlan:
    """Only what differs from the snapshot. An empty plan means: send nothing.

    ``cells`` maps a 0-based column of the tracker tab to a Series indexed by 0-based row with
    the values to write (None clears the cell). ``header_cols`` are the generated header cells
    (row, col) to style as generated.
    """

    tracker_title: str
    cells: dict[int, pd.Series] = field(default_factory=dict)
    header_cells: tuple[tuple[int, int], ...] = ()
    summary: SummaryTab | None = None
    conditional_formats: tuple[CFRule, ...] | None = None
    meta: dict[str, Any] | None = None
    #: Generated column key -> 0-based column, and the keys whose columns do not exist yet.
    positions: dict[str, int] = field(default_factory=dict)
    new_columns: tuple[str, ...] = ()
    header_row: int = 0
    #: The human columns that identify a task (phase, channel, task, description), to check rows.
    key_columns: tuple[int, ...] = ()

    @property
    def cell_count(self) -> int:
        n = sum(len(s) for s in self.cells.values())
        if self.summary is not None:
            n += sum(sum(1 for v in row if v is not None) for row in self.summary.rows)
        return n

    @property
    def is_empty(self) -> bool:
        return (
            not self.cells
            and self.summary is None
            and self.conditional_formats is None
            and self.meta is None
        )


@dataclass(frozen=True)
class ApplyResult:
    """What a backend did with a plan."""

    cells_written: int
    requests: int = 1
    output: str | None = None


class RequestCounter:
    """Requests a backend sent during one run, by kind (``read`` / ``write``)."""

    def __init__(self) -> None:
        self.read = 0
        self.write = 0

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "write": self.write}

"""The data that flows through a run: snapshot in, write plan out (plain, backend-neutral)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from .cells import RawValue, a1, a1_range, col_letter, json_value

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
    there reads as 60 %. ``uncalculated`` lists the formula cells (row, col) that hold no result
    a spreadsheet program calculated (their value reads as None): a file written by a script and
    never opened in Excel or LibreOffice.
    """

    title: str
    rows: list[list[RawValue]]
    percent_cells: frozenset[tuple[int, int]] = frozenset()
    uncalculated: frozenset[tuple[int, int]] = frozenset()

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
    """A chart on the summary tab: categories and values are 0-based cell ranges of that tab.

    ``kind``: "bar" (columns), "stacked" (stacked horizontal bars), "line", "pie", or "gantt"
    (stacked horizontal bars whose first series is invisible: the offset of each bar's start).
    ``series`` are more value columns over the same rows as ``values`` (each named by its cell
    in the header row); ``colors`` give each series' colour (RRGGBB; None = no fill).
    ``end`` is the (row, col) just past the bottom-right corner: the chart fills the cells from
    ``anchor`` up to it (a layout computes both from the tables, so nothing is covered).
    ``marker`` is a value-axis position drawn as a line across the chart (the Gantt's today),
    ``axis`` the value axis' (min, max), ``axis_title`` its title.
    """

    kind: str
    title: str
    categories: tuple[int, int, int]  # (col, first_row, last_row)
    values: tuple[int, int, int]  # (col, header_row, last_row): header row names the series
    anchor: tuple[int, int]  # (row, col) of the top-left corner
    series: tuple[int, ...] = ()
    colors: tuple[str | None, ...] = ()
    end: tuple[int, int] | None = None
    marker: float | None = None
    axis: tuple[float, float] | None = None
    axis_title: str | None = None

    @property
    def value_columns(self) -> tuple[int, ...]:
        """Every series' column, the first one's included."""
        return (self.values[0], *self.series)


@dataclass(frozen=True)
class CellStyle:
    """How one summary cell looks; each backend maps it to its own formats.

    ``number`` is a number-format code Excel and Sheets both read (``0.0"%"``, ``0" 天"``);
    ``align`` is "left", "center" or "right"; colours are RRGGBB; ``size`` in points.
    """

    bold: bool = False
    size: float | None = None
    color: str | None = None
    fill: str | None = None
    number: str | None = None
    align: str | None = None
    wrap: bool = False
    italic: bool = False


@dataclass(frozen=True)
class SummaryTab:
    """The whole summary tab the job owns: cell values, column widths, charts, cell styles."""

    title: str
    rows: list[list[RawValue]]
    widths: dict[int, float] = field(default_factory=dict)
    bold_rows: frozenset[int] = frozenset()
    charts: tuple[ChartSpec, ...] = ()
    #: (row, col) of the run-time stamp: it alone changing does not make a write.
    volatile: tuple[int, int] | None = None
    #: (row, col) -> how that cell looks (cells not listed: plain, in ``font``).
    styles: dict[tuple[int, int], CellStyle] = field(default_factory=dict)
    #: 0-based row -> height in points (rows not listed: the program's own height).
    heights: dict[int, float] = field(default_factory=dict)
    #: The font family of every cell (a CJK-capable one for zh-CN); None: the workbook's.
    font: str | None = None
    #: Table -> the rows it is laid out for (its rows and blank reserved ones); recorded in the
    #: job's metadata so the next run keeps them while the rows fit (summary_layout.capacity).
    capacity: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    """What a backend read. Every field means the same for every backend.

    ``version`` is an opaque token: the backend that made the snapshot recognises it in
    ``apply`` (and refuses a snapshot it did not read); nothing else looks inside.
    """

    target: str
    tracker: Grid
    sheet_titles: tuple[str, ...]
    summary: Grid | None = None
    time_zone: str | None = None
    #: The job's conditional-format rules found on the tracker tab.
    conditional_formats: tuple[CFRule, ...] = ()
    #: The job's own metadata, as written by the last run.
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    #: Rows the tracker tab has room for (a grid's fixed size); None when it grows freely.
    row_capacity: int | None = None
    #: Generated column key -> 0-based column, for columns the backend found by the identity it
    #: recorded when it made them (not by their header). Empty when it only knows headers.
    owned_columns: dict[str, int] = field(default_factory=dict)
    #: How many charts the job's summary tab holds now.
    summary_charts: int = 0
    #: Every other tab's cells (rosters for lookups, a KPI tab ...), by title.
    tabs: dict[str, Grid] = field(default_factory=dict)


@dataclass(frozen=True)
class WritePlan:
    """Only what differs from the snapshot. An empty plan means: send nothing.

    Tracker tab: ``cells`` maps a 0-based column to a Series indexed by 0-based row with the
    values to write (None clears the cell); ``old`` holds what those cells show now (same
    keys and index). ``columns`` names every generated column the job owns (key -> 0-based
    column); ``new_columns`` are the keys whose column does not exist yet, to be created
    (never reusing a column that might hold a person's cell). ``header_row`` is the 0-based
    header row and ``header_cells`` the generated header cells to style as generated.
    ``key_columns`` are the human columns that identify a task (phase, channel, task,
    description), for a backend that re-checks rows before or after writing.

    Summary tab: ``summary`` is the whole tab when anything on it changed; ``summary_changes``
    lists just the cells that differ, (row, col) -> (old, new); ``summary_charts`` says the
    charts must be (re)drawn. ``conditional_formats`` and ``meta`` replace the job's own when
    not None. ``to_dict()`` is the readable, JSON-ready form (``run --dry-run``).
    """

    tracker_title: str
    cells: dict[int, pd.Series] = field(default_factory=dict)
    old: dict[int, pd.Series] = field(default_factory=dict)
    header_cells: tuple[tuple[int, int], ...] = ()
    columns: dict[str, int] = field(default_factory=dict)
    new_columns: tuple[str, ...] = ()
    header_row: int = 0
    key_columns: tuple[int, ...] = ()
    summary: SummaryTab | None = None
    summary_exists: bool = True
    summary_changes: dict[tuple[int, int], tuple[RawValue, RawValue]] = field(default_factory=dict)
    summary_charts: bool = False
    conditional_formats: tuple[CFRule, ...] | None = None
    meta: dict[str, Any] | None = None

    @property
    def cell_count(self) -> int:
        """Cells whose value changes: tracker tab and summary tab."""
        return sum(len(s) for s in self.cells.values()) + len(self.summary_changes)

    @property
    def is_empty(self) -> bool:
        return (
            not self.cells
            and self.summary is None
            and self.conditional_formats is None
            and self.meta is None
        )

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data: every cell in A1 notation with its old and new value, the
        tabs created or rewritten, the highlight rules, the new columns.

        >>> WritePlan("进度表").to_dict()["cells"]
        []
        """
        cells: list[dict[str, Any]] = []
        for col in sorted(self.cells):
            new = self.cells[col]
            old = self.old.get(col)
            olds = old.reindex(new.index).tolist() if old is not None else [None] * len(new)
            for r, was, now in zip(new.index.tolist(), olds, new.tolist(), strict=True):
                cells.append(
                    {
                        "tab": self.tracker_title,
                        "a1": a1(int(r), col),
                        "old": json_value(was),
                        "new": json_value(now),
                    }
                )
        tabs: list[dict[str, Any]] = []
        if self.summary is not None:
            for (r, c), (was, now) in sorted(self.summary_changes.items()):
                cells.append(
                    {
                        "tab": self.summary.title,
                        "a1": a1(r, c),
                        "old": json_value(was),
                        "new": json_value(now),
                    }
                )
            tabs.append(
                {
                    "title": self.summary.title,
                    "action": "update" if self.summary_exists else "create",
                    "cells": len(self.summary_changes),
                    "charts": len(self.summary.charts) if self.summary_charts else 0,
                }
            )
        formats = [
            {
                "tab": self.tracker_title,
                "range": a1_range(r.first_row, r.last_row, r.first_col, r.last_col),
                "formula": "=" + r.formula,
                "fill": r.fill,
                "font": r.font,
            }
            for r in self.conditional_formats or ()
        ]
        return {
            "cells": cells,
            "tabs": tabs,
            "new_columns": [
                {"key": k, "column": col_letter(self.columns[k])} for k in self.new_columns
            ],
            "conditional_formats": formats,
            "replaces_conditional_formats": self.conditional_formats is not None,
            "metadata": self.meta is not None,
        }


@dataclass(frozen=True)
class TemplateColumn:
    """One column of a new tracker tab from the seed template (``init``)."""

    title: str
    type: str  # a column type of rules/columns.yaml: text, date, percent, status ...
    width: float  # in characters


@dataclass(frozen=True)
class ApplyResult:
    """What a backend did with a plan."""

    cells_written: int
    requests: int = 1
    output: str | None = None


#: The tab where the .xlsx backend keeps the job's metadata (JSON in column A, chunked); an
#: upload to Google Sheets keeps it, so the Sheets backend reads it too.
META_TAB = "_tracker_sync"


def meta_from_rows(rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """The job's metadata from a metadata tab's rows (JSON split over column A), or {}.

    >>> meta_from_rows([['{"summary": '], ['"推广概览"}']])
    {'summary': '推广概览'}
    """
    text = "".join(str(r[0]) for r in rows if r and r[0] is not None)
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


class RequestCounter:
    """Requests a backend sent during one run, by kind (``read`` / ``write``)."""

    def __init__(self) -> None:
        self.read = 0
        self.write = 0

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "write": self.write}

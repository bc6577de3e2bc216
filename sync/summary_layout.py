"""The summary tab's design: title band, KPI tiles with their definitions, charts in a band of
their own, then the tables — every cell's style, every column's width and every chart's cells
computed here, as data, so each backend only translates it (pure: no I/O, no clock)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import PureWindowsPath
from typing import Any

import numpy as np
import pandas as pd

from .cells import RawValue
from .i18n import text
from .model import CellStyle, ChartSpec, SummaryTab
from .rules import STATUS_IDS
from .style import FONTS, display_width
from .summarize import RETRO_DIMENSIONS, Summary

#: Rows a list table shows at most (the rest is counted in a line below it).
LIST_LIMIT = 500
#: Tasks the Gantt shows at most: beyond this, the late ones and those next to start or finish.
GANTT_LIMIT = 25
#: Phases the status-by-phase chart shows at most (the largest).
PHASE_CHART_LIMIT = 15
#: A column is never narrower or wider than this (characters); longer text wraps.
MIN_WIDTH, MAX_WIDTH = 6.0, 30.0
#: A table whose length follows the tracker (a list, a breakdown) is laid out for more rows than
#: it has: room for at least CAPACITY_HEAD more (or a tenth more, for long ones), rounded up to
#: CAPACITY_STEP. Its blank reserved rows look like empty cells, so a table gaining or losing a
#: few rows changes only values: no style, row or chart moves, and backends that style apart
#: from the values (Sheets) send one values write. See :func:`capacity`.
CAPACITY_STEP, CAPACITY_HEAD = 10, 3
#: Rows of one chart band, and their height in points (set, so every program agrees where a
#: chart anchored to them ends).
CHART_ROWS = 18
CHART_ROW_HEIGHT = 15.0
# colours (RRGGBB)
BAND, BAND_TEXT = "1F4E79", "FFFFFF"
HEADER_FILL = "DDEBF7"
TILE_FILL, TILE_LABEL = "F2F2F2", "595959"
MUTED = "7F7F7F"
RED, AMBER, GREEN, BLUE, GREY = "C00000", "ED7D31", "70AD47", "5B9BD5", "A5A5A5"
STATUS_COLORS = {
    "completed": GREEN,
    "in_progress": BLUE,
    "not_started": GREY,
    "delayed": RED,
    "on_hold": "FFC000",
}

PCT = '0.0"%"'
PP = '+0.0" pp";-0.0" pp";0.0" pp"'
COUNT = "0"
MONEY = "#,##0"
RATIO = "0.00"

_WORDS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "tile.planned": "平均计划进度",
        "tile.actual": "平均实际进度",
        "tile.deviation": "平均进度偏差",
        "tile.completion": "完成率",
        "tile.delayed": "延期",
        "tile.finished_late": "逾期完成",
        "tile.open_risks": "未关闭风险",
        "tile.no_cm": "风险无应对措施",
        "def.planned": "按计划开始、计划完成和统计日期,今天应完成的比例(⚙ 计划进度%)的平均值;没有计划日期的任务不计",
        "def.actual": "当前进度的平均值(限制在 0–100%,空白计 0)",
        "def.deviation": "实际进度 − 计划进度的平均值,单位百分点 pp(已完成计 0,暂停不计,限制在 ±100)",
        "def.completion": "已完成任务数 / 任务总数 × 100%",
        "def.delayed": "延期:已过计划完成(或已过计划开始仍未开始)且未完成的任务数",
        "def.finished_late": "逾期完成:已完成、实际完成晚于计划完成的任务数",
        "def.open_risks": "填写了风险描述、尚未完成的任务数",
        "def.no_cm": "未关闭风险中没有填写应对措施的任务数",
        "definitions": "指标说明",
        "charts": "图表",
        "status_by_phase": "各阶段任务状态",
        "planned_vs_actual": "各阶段计划进度与实际进度",
        "avg_planned": "平均计划进度%",
        "avg_actual": "平均实际进度%",
        "gantt": "甘特图(计划与实际)",
        "gantt_data": "甘特图数据(自 {origin} 起的天数)",
        "gantt_axis": "自 {origin} 起的天数(今天 {today} = 第 {n} 天)",
        "gantt_more": "共 {n} 个任务有计划日期,图中显示 {k} 个:延期的与最近要开始或完成的",
        "gantt_task": "任务",
        "gantt_start": "开始",
        "gantt_offset": "起点(天)",
        "gantt_plan": "计划(天)",
        "gantt_actual": "实际(天)",
        "gantt_late": "实际·延期(天)",
        "gantt_actual_tag": "↳ 实际",
        "gantt_shown": "(显示其中 {k} 个任务)",
        "gantt_none": "没有同时填写计划开始和计划完成的任务,甘特图从有计划日期起显示",
        "trend_wait": "趋势图从第二次运行起显示(目前只有 {day} 一天的记录)",
        "status_by_phase_table": "各阶段 × 状态(任务数)",
        "days": '0" 天"',
        "days_late_calendar": "延期(日历天)",
        "budget_weighted_progress": "加权进度%(按预算)",
    },
    "en": {
        "tile.planned": "Avg planned progress",
        "tile.actual": "Avg actual progress",
        "tile.deviation": "Avg deviation",
        "tile.completion": "Completion rate",
        "tile.delayed": "Delayed",
        "tile.finished_late": "Finished late",
        "tile.open_risks": "Open risks",
        "tile.no_cm": "Risks without countermeasure",
        "def.planned": "Mean of the share of each task that should be done by the as-of date from its planned start and finish (⚙ Planned %); tasks without planned dates do not count",
        "def.actual": "Mean of progress (clamped to 0–100 %, empty = 0)",
        "def.deviation": "Mean of actual − planned progress, in percentage points (completed = 0, on hold excluded, clamped to ±100)",
        "def.completion": "Completed tasks / all tasks × 100 %",
        "def.delayed": "Delayed: past the planned finish (or past the planned start with nothing started) and not complete",
        "def.finished_late": "Finished late: completed, with the actual finish after the planned finish",
        "def.open_risks": "Tasks with a risk recorded that are not complete",
        "def.no_cm": "Open risks without a countermeasure",
        "definitions": "Definitions",
        "charts": "Charts",
        "status_by_phase": "Task status by phase",
        "planned_vs_actual": "Planned vs actual progress by phase",
        "avg_planned": "Avg planned %",
        "avg_actual": "Avg actual %",
        "gantt": "Gantt (planned vs actual)",
        "gantt_data": "Gantt data (days since {origin})",
        "gantt_axis": "Days since {origin} (today, {today}, is day {n})",
        "gantt_more": "{n} tasks have planned dates; the chart shows {k}: the late ones and those next to start or finish",
        "gantt_task": "Task",
        "gantt_start": "Start",
        "gantt_offset": "Offset (days)",
        "gantt_plan": "Planned (days)",
        "gantt_actual": "Actual (days)",
        "gantt_late": "Actual, late (days)",
        "gantt_actual_tag": "↳ actual",
        "gantt_shown": " ({k} tasks shown)",
        "gantt_none": "No task has both a planned start and a planned finish: the Gantt appears once one has",
        "trend_wait": "The trend chart appears from the second run on (so far one day: {day})",
        "status_by_phase_table": "Phase × status (tasks)",
        "days": '0" d"',
        "days_late_calendar": "Days late (calendar)",
        "budget_weighted_progress": "Weighted progress % (by budget)",
    },
}

#: The KPI tiles, in order: (word key, definition key).
TILES = (
    ("tile.planned", "def.planned"),
    ("tile.actual", "def.actual"),
    ("tile.deviation", "def.deviation"),
    ("tile.completion", "def.completion"),
    ("tile.delayed", "def.delayed"),
    ("tile.finished_late", "def.finished_late"),
    ("tile.open_risks", "def.open_risks"),
    ("tile.no_cm", "def.no_cm"),
)


def word(locale: str, key: str) -> str:
    """A layout word in ``locale`` (English when the locale has none).

    >>> word("zh-CN", "tile.delayed"), word("fr", "tile.delayed")
    ('延期', 'Delayed')
    """
    return _WORDS.get(locale, _WORDS["en"]).get(key) or _WORDS["en"][key]


def capacity(n: int, previous: int | None = None, limit: int | None = None) -> int:
    """Rows a table of ``n`` rows is laid out for. Fresh: the next multiple of CAPACITY_STEP
    with at least CAPACITY_HEAD (or n/10) spare rows, at most ``limit`` (a table that never
    shows more), never fewer than ``n``. The capacity the last run laid out (``previous``) is
    kept while the rows fit it and fill more than about half of it, so a table that gains or
    loses a few rows, or hovers around a step, keeps its layout; only a table that outgrows its
    capacity, or shrinks far below it, moves the tables under it.

    >>> capacity(0), capacity(7), capacity(8), capacity(100), capacity(498, limit=500)
    (10, 10, 20, 110, 500)
    >>> capacity(10, previous=10), capacity(11, previous=10), capacity(1, previous=20)
    (10, 20, 20)
    >>> capacity(3, previous=40)  # shrank far below it
    10
    """
    spare = max(CAPACITY_HEAD, -(-n // 10))
    fresh = -(-(n + spare) // CAPACITY_STEP) * CAPACITY_STEP
    if limit is not None:
        fresh = max(n, min(fresh, limit))
    if (
        previous is not None
        and n <= previous <= 2 * fresh
        and (limit is None or previous <= max(limit, n))
    ):
        return previous
    return fresh


def _capacities(recorded: object) -> dict[str, int]:
    """The capacities a run recorded (its metadata, which a person could have edited): only
    table -> whole number entries in a sane range are kept, the rest laid out afresh."""
    if not isinstance(recorded, dict):
        return {}
    return {
        str(k): v
        for k, v in recorded.items()
        if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100_000
    }


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


@dataclass
class Sheet:
    """A summary tab under construction: rows, styles, and which cells size their column."""

    rows: list[list[RawValue]] = field(default_factory=list)
    styles: dict[tuple[int, int], CellStyle] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    #: (row, col) -> extra width the cell's look needs (bold, larger font, number suffix)
    sized: dict[tuple[int, int], float] = field(default_factory=dict)
    wrapped: set[tuple[int, int]] = field(default_factory=set)

    @property
    def next_row(self) -> int:
        return len(self.rows)

    def add(
        self,
        cells: Sequence[RawValue],
        styles: Sequence[CellStyle | None] | CellStyle | None = None,
        *,
        size: bool = True,
        height: float | None = None,
    ) -> int:
        r = len(self.rows)
        self.rows.append([_cell(v) for v in cells])
        for c, v in enumerate(self.rows[r]):
            st = styles[c] if isinstance(styles, Sequence) and c < len(styles) else None
            if isinstance(styles, CellStyle):
                st = styles
            if st is not None:
                self.styles[(r, c)] = st
            if size and v is not None:
                self.sized[(r, c)] = _extra(st)
        if height is not None:
            self.heights[r] = height
        return r

    def blank(self) -> None:
        self.rows.append([])

    def band(self, n: int) -> None:
        """``n`` empty rows of a set height for charts, and an empty row below them."""
        for _ in range(n):
            self.heights[len(self.rows)] = CHART_ROW_HEIGHT
            self.rows.append([])
        self.rows.append([])

    def section(self, title: str) -> int:
        """A section title: bold, larger, free to run across the empty cells to its right."""
        return self.add([title], CellStyle(bold=True, size=12, color=BAND), size=False, height=20)

    def note(self, line: str | None) -> int:
        """An italic, muted line; None keeps the line (and its look) with nothing in it."""
        return self.add([line], CellStyle(italic=True, color=MUTED), size=False)

    def table(
        self,
        header: Sequence[str],
        body: Sequence[Sequence[RawValue]],
        formats: Sequence[str | None],
        *,
        rows: int | None = None,
        wrap: Collection[int] = (),
    ) -> tuple[int, int]:
        """A table: header row (bold, filled; right-aligned over numbers), body rows with each
        column's number format. ``formats[c]`` None means a text column. ``rows`` lays the body
        out for that many rows (at least ``len(body)``): the blank ones below carry the body's
        number formats and nothing visible. In the ``wrap`` columns (free text in a list
        whose rows move from run to run) every body cell wraps, so which cells wrap does not
        depend on what they hold; elsewhere only a text too wide for its column does
        (:meth:`widths`). Returns (header row, last row holding data)."""
        head_styles = [
            CellStyle(bold=True, fill=HEADER_FILL, align="right" if f else "left", wrap=True)
            for f in formats
        ]
        h = self.add(header, head_styles)
        # every program puts text on the left and numbers on the right by itself, and shows a
        # whole number whole: only a format that shows more (%, pp, days) is a look of its own
        body_styles = [
            CellStyle(number=f) if f and f != COUNT else CellStyle(wrap=True) if c in wrap else None
            for c, f in enumerate(formats)
        ]
        for rec in body:
            self.add(rec, body_styles)
        last = self.next_row - 1
        for _ in range(max((rows or 0) - len(body), 0)):
            self.add([None] * len(formats), body_styles)
        return h, last

    def widths(self) -> dict[int, float]:
        """Each column's width: its widest sized cell (CJK double, + look), 2 characters of
        padding, between MIN_WIDTH and MAX_WIDTH; cells wider than that wrap."""
        need: dict[int, float] = {}
        # list cells repeat (phases, owners, dates, days): each distinct one is measured once
        shown: dict[tuple[type, RawValue, str | None], float] = {}
        for (r, c), extra in self.sized.items():
            v = self.rows[r][c]
            st = self.styles.get((r, c))
            key = (type(v), v, st.number if st is not None else None)
            width = shown.get(key)
            if width is None:
                width = shown[key] = display_width(_format_preview(v, st))
            w = width * extra + 2
            if st is not None and st.wrap and w > MAX_WIDTH:
                w = MAX_WIDTH
            need[c] = max(need.get(c, MIN_WIDTH), w)
        out = {c: round(min(max(w, MIN_WIDTH), MAX_WIDTH), 1) for c, w in need.items()}
        plain: dict[str, float] = {}
        for (r, c), _ in self.sized.items():
            v = self.rows[r][c]
            if not isinstance(v, str):
                continue
            width = plain.get(v)
            if width is None:
                width = plain[v] = display_width(v)
            if width + 2 > out[c]:
                st = self.styles.get((r, c)) or CellStyle()
                self.styles[(r, c)] = CellStyle(**{**st.__dict__, "wrap": True})
                self.wrapped.add((r, c))
        return out


def _extra(style: CellStyle | None) -> float:
    """How much wider than plain 11-point text a cell's look makes it."""
    if style is None:
        return 1.0
    f = 1.1 if style.bold else 1.0
    if style.size:
        f *= style.size / 11
    return f


def _format_preview(v: RawValue, st: CellStyle | None) -> str:
    """A cell's text about as a spreadsheet shows it with its number format."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return _shown(v)
    code = st.number if st is not None else None
    if code is None or code == COUNT:
        return f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
    suffix = code.split('"')[1] if '"' in code else ""
    if code.startswith("+"):
        return f"{v:+.1f}{suffix}"
    if code == MONEY:
        return f"{v:,.0f}"
    decimals = len(code.split(".")[1].split('"')[0]) if "." in code.split('"')[0] else 0
    return f"{v:,.{decimals}f}{suffix}"


def _cell(v: Any) -> RawValue:
    """A value for the summary grid: NaN/NA -> None, numpy -> Python, dates -> ISO text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- the tab


def summary_tab(
    s: Summary,
    table: Any,
    derived: pd.DataFrame,
    *,
    title: str,
    tracker_name: str,
    locale: str,
    now: dt.datetime,
    previous: object = None,
) -> SummaryTab:
    """The designed summary tab. ``tracker_name`` is what the tab says the tracker is (a file
    name or spreadsheet title and the tab, never a machine path). ``previous`` is the
    capacities the last run's tab recorded (:attr:`SummaryTab.capacity`, kept in the job's
    metadata): each table keeps its reserved rows while its rows fit them (:func:`capacity`)."""
    recorded = _capacities(previous)
    reserved: dict[str, int] = {}

    def room(key: str, n: int, limit: int | None = None) -> int:
        reserved[key] = capacity(n, recorded.get(key), limit)
        return reserved[key]

    def t(key: str) -> str:
        return text(locale, key)

    def w(key: str) -> str:
        return word(locale, key)

    days = w("days")
    sh = Sheet()
    band = CellStyle(bold=True, size=16, color=BAND_TEXT, fill=BAND)
    sh.add([t("s.title")], band, size=False, height=30)
    label = CellStyle(color=MUTED)
    sh.add([t("s.as_of"), s.as_of.isoformat()], [label, CellStyle(align="left")], size=False)
    updated = sh.add(
        [t("s.updated"), now.strftime("%Y-%m-%d %H:%M:%S %Z").strip()],
        [label, CellStyle(align="left")],
        size=False,
    )
    sh.add([t("s.tracker"), tracker_name], [label, CellStyle(align="left")], size=False)
    sh.blank()

    # KPI tiles: a label row and a value row, one tile a column
    planned = derived["planned_progress"].clip(0.0, 100.0).dropna() if len(derived) else None
    avg_planned = round(float(planned.mean()), 1) if planned is not None and len(planned) else None
    delayed = s.status_counts.get("delayed", 0)
    # each tile's colour names its kind, not today's value (a colour that followed the value
    # would make a one-cell edit restyle the tab on backends that style apart from values)
    values: list[tuple[RawValue, str, str | None]] = [
        (avg_planned, PCT, None),
        (s.avg_progress, PCT, None),
        (s.avg_deviation, PP, None),
        (s.completion_rate, PCT, None),
        (delayed, COUNT, RED),
        (s.finished_late, COUNT, AMBER),
        (len(s.open_risks), COUNT, None),
        (len(s.risks_without_countermeasure), COUNT, RED),
    ]
    sh.section(t("s.kpis"))
    tile_label = CellStyle(color=TILE_LABEL, fill=TILE_FILL, align="center", wrap=True)
    labels_row = sh.add([w(k) for k, _ in TILES], tile_label, size=False, height=30)
    sh.add(
        [v for v, _, _ in values],
        [
            CellStyle(bold=True, size=18, fill=TILE_FILL, align="center", number=f, color=c)
            for _, f, c in values
        ],
        height=34,
    )
    for c in range(len(TILES)):  # a tile's label may take two lines
        sh.sized[(labels_row, c)] = 0.55
    sh.add(
        [
            t("s.total"),
            s.total,
            None,
            *[
                f"{t(f'severity.{v}')} {s.findings_by_severity.get(v, 0)}"
                for v in ("error", "warning", "info")
            ],
        ],
        [label, CellStyle(align="right"), None, label, label, label],
    )
    sh.blank()
    sh.section(w("definitions"))
    for k, d in TILES:
        sh.add([w(k), w(d)], [CellStyle(bold=True), CellStyle(color=TILE_LABEL)], size=False)
    sh.blank()

    # the chart band: rows kept empty for the charts, filled in once the tables are laid out
    sh.section(w("charts"))
    band1 = sh.next_row
    sh.band(CHART_ROWS)
    gantt_rows = _gantt_rows(table, derived, s.as_of, w("gantt_actual_tag"))
    band2 = sh.next_row
    gantt_height = max(CHART_ROWS, 6 + len(gantt_rows[0]) if gantt_rows else CHART_ROWS)
    sh.band(gantt_height)
    has_trend = s.extras is not None and len(s.extras.trend) >= 2
    trend_line = sh.next_row
    sh.blank()  # the trend's own line (its chart's caption, or why there is none yet)
    band3 = sh.next_row
    if has_trend:
        sh.band(CHART_ROWS)
    sh.blank()

    # tables
    sh.section(t("s.by_status"))
    sh.table(
        [t("s.status"), t("s.count")],
        [[t(f"status.{sid}"), n] for sid, n in s.status_counts.items()],
        [None, COUNT],
    )
    sh.blank()

    phase_status = _phase_status(table, derived)
    sh.section(w("status_by_phase_table"))
    ps_head, ps_last = sh.table(
        [t("s.phase"), *[t(f"status.{sid}") for sid in STATUS_IDS]],
        [[k or t("unnamed"), *row] for k, row in phase_status],
        [None, *[COUNT] * len(STATUS_IDS)],
        rows=room("phase_status", len(phase_status), PHASE_CHART_LIMIT),
    )
    sh.blank()

    planned_by_phase = _mean_by(table, derived["planned_progress"].clip(0.0, 100.0), "phase")
    pva_rows: tuple[int, int] | None = None
    for key, dim, frame in (
        ("s.by_phase", "s.phase", s.by_phase),
        ("s.by_channel", "s.channel", s.by_channel),
        ("s.by_owner", "s.owner", s.by_owner),
    ):
        sh.section(t(key))
        # a column summarize added that has nothing in it here (no budgets ...) is left out
        cols = [c for c in frame.columns if c != "key" and frame[c].notna().any()]
        header = [t(dim)]
        formats: list[str | None] = [None]
        extra_planned = key == "s.by_phase"
        if extra_planned:
            header.append(w("avg_planned"))
            formats.append(PCT)
        for col in cols:
            name, fmt = _BREAKDOWN.get(col, (col, None))
            if name.startswith("s."):
                name = t(name)
            elif name in _WORDS["en"]:
                name = w(name)
            header.append(name)
            formats.append(fmt if col in _BREAKDOWN else _guess_format(frame[col]))
        body = []
        for rec in frame.to_dict("records"):
            k = rec["key"]
            row: list[RawValue] = [k or t("unnamed")]
            if extra_planned:
                row.append(planned_by_phase.get(k))
            row += [_cell(rec[col]) for col in cols]
            body.append(row)
        head, last = sh.table(header, body, formats, rows=room(key[2:], len(body)))
        if extra_planned and "avg_progress" in cols:
            pva_rows = (head, last)
            pva_actual_col = 2 + cols.index("avg_progress")
        sh.blank()

    # each list is followed by its note line: how many more it has, or nothing
    for key, frame in (
        ("delayed", s.delayed),
        ("open_risks", s.open_risks),
        ("no_countermeasure", s.risks_without_countermeasure),
    ):
        sh.section(t("s.delayed_tasks" if key == "delayed" else f"s.{key}"))
        _list(sh, t, w, frame, days, room(key, min(len(frame), LIST_LIMIT), LIST_LIMIT))

    sh.section(t("s.findings_by_rule"))
    fr = s.findings_by_rule
    fr_head, _ = sh.table(
        [t("s.rule"), t("s.severity"), t("s.count"), t("s.example")],
        [
            [rule, t(f"severity.{sev}"), int(n), ex]
            for rule, sev, n, ex in fr[["rule", "severity", "count", "example"]].itertuples(
                index=False
            )
        ],
        [None, None, COUNT, None],
        rows=room("findings_by_rule", len(fr)),
        wrap=(3,),  # the example message
    )
    if not len(fr):
        sh.rows[fr_head + 1] = [t("s.none")]
    if s.inactive_rules:
        sh.blank()
        sh.section(t("s.inactive_rules"))
        sh.table(
            [t("s.rule"), t("s.missing_columns")],
            [
                [r.id, "; ".join(f"{table.headers[c]} ({c})" for c in r.missing)]
                for r in s.inactive_rules
            ],
            [None, None],
        )
    if s.repeated_header_rows:
        sh.blank()
        sh.section(t("s.repeated_headers"))
        sh.note(", ".join(map(str, s.repeated_header_rows)))

    trend: tuple[int, int] | None = None
    if s.extras is not None:
        trend = _extras(sh, t, s.extras, room, set(table.positions))

    # the Gantt's data: last, it is the chart's source more than a table to read
    gantt_chart: ChartSpec | None = None
    sh.blank()
    if gantt_rows:
        rows_, origin, today_off, shown, total = gantt_rows
        sh.section(w("gantt_data").replace("{origin}", origin.isoformat()))
        if shown < total:
            sh.note(w("gantt_more").replace("{n}", str(total)).replace("{k}", str(shown)))
        g_head, g_last = sh.table(
            [
                w("gantt_task"),
                w("gantt_start"),
                w("gantt_offset"),
                w("gantt_plan"),
                w("gantt_actual"),
                w("gantt_late"),
            ],
            rows_,
            [None, None, COUNT, COUNT, COUNT, COUNT],
        )
        span = max(
            [today_off + 1]
            + [
                int(r[2]) + int(r[3] or 0) + int(r[4] or 0) + int(r[5] or 0)
                for r in rows_
                if r[2] is not None
            ]
        )
        gantt_chart = ChartSpec(
            kind="gantt",
            title=w("gantt")
            + (w("gantt_shown").replace("{k}", str(shown)) if shown < total else ""),
            categories=(0, g_head + 1, g_last),
            values=(2, g_head, g_last),
            anchor=(band2, 0),
            series=(3, 4, 5),
            colors=(None, "9DC3E6", GREEN, RED),
            marker=float(today_off),
            axis=(0.0, float(span)),
            axis_title=w("gantt_axis")
            .replace("{origin}", origin.isoformat())
            .replace("{today}", s.as_of.isoformat())
            .replace("{n}", str(today_off)),
        )
    else:
        sh.rows[band2] = [w("gantt_none")]
        sh.styles[(band2, 0)] = CellStyle(italic=True, color=MUTED)

    widths = sh.widths()
    ncols = max(len(r) for r in sh.rows)
    for c in range(ncols):
        widths.setdefault(c, MIN_WIDTH * 1.5)
    # the band's columns: charts side by side share the table columns' total width
    total_cols = max(ncols, 8)
    for c in range(total_cols):
        widths.setdefault(c, 10.0)
    split = _split(widths, total_cols)
    charts: list[ChartSpec] = []
    charts.append(
        ChartSpec(
            kind="stacked",
            title=w("status_by_phase"),
            categories=(0, ps_head + 1, ps_last),
            values=(1, ps_head, ps_last),
            anchor=(band1, 0),
            series=tuple(range(2, 1 + len(STATUS_IDS))),
            colors=tuple(STATUS_COLORS[sid] for sid in STATUS_IDS),
            end=(band1 + CHART_ROWS, split),
        )
    )
    if pva_rows is not None:
        head, last = pva_rows
        charts.append(
            ChartSpec(
                kind="bar",
                title=w("planned_vs_actual"),
                categories=(0, head + 1, last),
                values=(1, head, last),
                anchor=(band1, split),
                series=(pva_actual_col,),
                colors=("9DC3E6", BLUE),
                end=(band1 + CHART_ROWS, total_cols),
            )
        )
    if gantt_chart is not None:
        charts.append(
            ChartSpec(**{**gantt_chart.__dict__, "end": (band2 + gantt_height, total_cols)})
        )
    if trend is not None and has_trend:
        head, last = trend
        charts.append(
            ChartSpec(
                "line",
                t("s.trend_chart"),
                (0, head + 1, last),
                (1, head, last),
                (band3, 0),
                colors=(BLUE,),
                end=(band3 + CHART_ROWS, split),
            )
        )
        sh.rows[trend_line] = [t("s.trend_chart")]
        sh.styles[(trend_line, 0)] = CellStyle(bold=True, color=BAND)
    else:
        sh.rows[trend_line] = [w("trend_wait").replace("{day}", s.as_of.isoformat())]
        sh.styles[(trend_line, 0)] = CellStyle(italic=True, color=MUTED)

    width = max(len(r) for r in sh.rows)
    rows = [r + [None] * (width - len(r)) for r in sh.rows]
    for c in range(1, total_cols):  # the title band spans the tab's width
        sh.styles[(0, c)] = sh.styles[(0, 0)]
    bold = frozenset(r for (r, _), st in sh.styles.items() if st.bold)
    return SummaryTab(
        title,
        rows,
        widths,
        bold,
        tuple(charts),
        volatile=(updated, 1),
        styles=dict(sh.styles),
        heights=dict(sh.heights),
        font=FONTS.get(locale, FONTS["en"]),
        capacity=reserved,
    )


_BREAKDOWN: dict[str, tuple[str, str | None]] = {
    "tasks": ("s.tasks", COUNT),
    "completed": ("s.completed", COUNT),
    "delayed": ("s.delayed", COUNT),
    "avg_progress": ("s.avg_progress_short", PCT),
    "weighted_progress": ("s.weighted_progress_short", PCT),
    "avg_deviation": ("s.avg_deviation_short", PP),
    "budget_weighted_progress": ("budget_weighted_progress", PCT),
}

_LIST_COLUMNS: dict[str, tuple[str, str | None]] = {
    "row": ("s.row", COUNT),
    "phase": ("s.phase", None),
    "channel": ("s.channel", None),
    "task": ("s.task", None),
    "owner": ("s.owner", None),
    "planned_finish": ("s.planned_finish", None),
    "days_late": ("s.days_late", "days"),
    "days_late_calendar": ("days_late_calendar", "days"),
    "progress": ("s.progress", PCT),
    "risk": ("s.risk", None),
    "countermeasure": ("s.countermeasure", None),
}


#: List columns of free text, which wrap in every row (names, dates, numbers are short).
_FREE_TEXT = frozenset({"task", "risk", "countermeasure"})


def _guess_format(s: pd.Series) -> str | None:
    return (
        PCT
        if pd.api.types.is_float_dtype(s)
        else (COUNT if pd.api.types.is_integer_dtype(s) else None)
    )


def _list(
    sh: Sheet,
    t: Callable[[str], str],
    w: Callable[[str], str],
    frame: pd.DataFrame,
    days: str,
    rows: int,
) -> None:
    """A list laid out for ``rows`` rows, then its note line (how many more it has, else
    empty); an empty list says so in its first row, in that row's own look."""
    cols = [c for c in frame.columns if c != "row"] + (["row"] if "row" in frame.columns else [])
    frame = frame[cols]
    header = []
    formats: list[str | None] = []
    for c in cols:
        name, fmt = _LIST_COLUMNS.get(c, (c, None))
        if name.startswith("s."):
            name = t(name)
        elif name in _WORDS["en"]:
            name = w(name)
        header.append(name)
        formats.append(days if fmt == "days" else fmt)
    body = list(frame.head(LIST_LIMIT).itertuples(index=False))  # Sheet.add makes them cells
    free = [i for i, c in enumerate(cols) if c in _FREE_TEXT]
    head, _ = sh.table(header, body, formats, rows=rows, wrap=free)
    if not body:
        sh.rows[head + 1] = [t("s.none")]
    more = len(frame) - LIST_LIMIT
    sh.note(t("s.truncated").replace("{n}", str(more)) if more > 0 else None)


def _extras(
    sh: Sheet,
    t: Callable[[str], str],
    x: Any,
    room: Callable[..., int],
    dims_present: Collection[str] = (),
) -> tuple[int, int]:
    """Trend, earned value, retrospective and KPI tables, each laid out for ``room(key, n)``
    rows (the retrospective by each of ``dims_present``, the tracker's columns); returns the
    trend table's rows."""
    sh.blank()
    sh.section(t("s.trend"))
    trend = sh.table(
        [t("s.day"), t("s.trend_rate"), t("s.trend_delayed"), t("s.avg_deviation_short")],
        [
            [rec.day.isoformat(), rec.completion_rate, int(rec.delayed), rec.avg_deviation]
            for rec in x.trend.itertuples(index=False)
        ],
        [None, PCT, COUNT, PP],
        rows=room("trend", len(x.trend)),
    )
    if x.earned_value is not None:
        sh.blank()
        sh.section(t("s.ev"))
        sh.table(
            [t("s.phase"), "PV", "EV", "AC", "SV", "CV", "SPI", "CPI"],
            [
                [
                    rec.key or t("s.ev_total"),
                    rec.PV,
                    rec.EV,
                    rec.AC,
                    rec.SV,
                    rec.CV,
                    rec.SPI,
                    rec.CPI,
                ]
                for rec in x.earned_value.itertuples(index=False)
            ],
            [None, MONEY, MONEY, MONEY, MONEY, MONEY, RATIO, RATIO],
            rows=room("earned_value", len(x.earned_value)),
        )
    r = x.retrospective
    sh.blank()
    sh.section(t("s.retro"))
    # a line and a table for each dimension the tracker has, whether or not a late task names
    # one today: the section keeps its shape as tasks fall late and catch up
    dims = [d for d in RETRO_DIMENSIONS if d in dims_present or d in r.delays_by]
    top = {dim: (key, share) for dim, key, share in r.top}
    for dim in dims:
        key, share = top.get(dim, (None, None))
        sh.note(
            t("s.retro_top")
            .replace("{share}", f"{share:.0f}")
            .replace("{dim}", t(f"dim.{dim}"))
            .replace("{key}", key or t("unnamed"))
            if share is not None
            else None
        )
    for label, (num, den) in (
        ("s.risk_in_advance", r.risk_in_advance),
        ("s.cm_success", r.countermeasure_success),
    ):
        rate = f"{num / den * 100:.1f}%" if den else "-"
        sh.add([f"{t(label)}: {num}/{den} = {rate}"], CellStyle(align="left"), size=False)
    for dim in dims:
        frame = r.delays_by.get(dim)
        body = (
            [
                [rec.key or t("unnamed"), int(rec.delayed), float(rec.share)]
                for rec in frame.head(10).itertuples(index=False)
            ]
            if frame is not None
            else []
        )
        sh.blank()
        head, _ = sh.table(
            [t("s.retro_by").replace("{dim}", t(f"dim.{dim}")), t("s.delayed"), t("s.share")],
            body,
            [None, COUNT, PCT],
            rows=room(f"retro_{dim}", len(body), 10),
        )
        if not body:
            sh.rows[head + 1] = [t("s.none")]
    if x.kpis is not None:
        sh.blank()
        sh.section(t("s.kpi"))
        sh.table(
            [t("s.kpi_metric"), t("s.kpi_target"), t("s.kpi_actual"), t("s.kpi_rate")],
            [
                [rec.metric, rec.target, rec.actual, rec.rate]
                for rec in x.kpis.itertuples(index=False)
            ],
            [None, "#,##0.##", "#,##0.##", PCT],
            rows=room("kpis", len(x.kpis)),
        )
    return trend


def _phase_status(table: Any, derived: pd.DataFrame) -> list[tuple[str, list[int]]]:
    """Tasks by phase and status, the largest phases first (at most PHASE_CHART_LIMIT)."""
    if not len(derived):
        return []
    # counted with one bincount over (phase, status) codes, phases in the sheet's order
    phase = table.data["phase"].fillna("").astype(str).to_numpy(dtype=object)
    codes, phases = pd.factorize(phase)
    status = pd.Index(STATUS_IDS).get_indexer(pd.Index(derived["status"].to_numpy(dtype=object)))
    known = status >= 0
    width = len(STATUS_IDS)
    counts = np.bincount(
        codes[known] * width + status[known], minlength=len(phases) * width
    ).reshape(len(phases), width)
    keep = np.arange(len(phases))
    if len(phases) > PHASE_CHART_LIMIT:  # the largest, ties in the sheet's order
        keep = np.argsort(-counts.sum(axis=1), kind="stable")[:PHASE_CHART_LIMIT]
    return [(str(phases[i]), [int(v) for v in counts[i]]) for i in keep]


def _mean_by(table: Any, values: pd.Series, col: str) -> dict[str, float]:
    key = table.data[col].fillna("").astype(str)
    m = values.groupby(key.to_numpy(), sort=False).mean().round(1)
    return {str(k): float(v) for k, v in m.items() if not math.isnan(v)}


def _gantt_rows(
    table: Any, derived: pd.DataFrame, as_of: dt.date, act_tag: str
) -> tuple[list[list[RawValue]], dt.date, int, int, int] | None:
    """The Gantt's rows: per task a plan row and an actual row, (label, start, offset, planned
    days, actual days on time, actual days late), offsets in days since the earliest start.
    Beyond GANTT_LIMIT tasks: the late ones (most days late first), then those whose planned
    start or finish is nearest to the as-of date."""
    d = table.data
    ps, pf = d["planned_start"], d["planned_finish"]
    has = ps.notna() & pf.notna()
    if not has.any():
        return None
    status = derived["status"].to_numpy(dtype=object)
    days_late = derived["days_late"].fillna(0).to_numpy(dtype=float)
    late = pd.Series((status == "delayed") | (days_late > 0), index=derived.index)
    where = np.flatnonzero(has.to_numpy())  # the candidates' positions
    total = len(where)
    if total > GANTT_LIMIT:  # vectorised on arrays: a tracker may hold 100k tasks
        today = np.datetime64(as_of, "D")
        open_ = status[where] != "completed"
        late_open = late.to_numpy()[where] & open_
        near = np.minimum(  # whole days to the nearer of the planned start and finish
            np.abs(ps.to_numpy()[where] - today) // np.timedelta64(1, "D"),
            np.abs(pf.to_numpy()[where] - today) // np.timedelta64(1, "D"),
        )
        # the late ones, most days late first, then the open ones nearest to today (stable:
        # ties in sheet order)
        rest = open_ & ~late_open
        pick = np.concatenate(
            [
                where[late_open][np.argsort(-days_late[where][late_open], kind="stable")],
                where[rest][np.argsort(near[rest], kind="stable")],
            ]
        )[:GANTT_LIMIT].tolist()
        if len(pick) < GANTT_LIMIT:  # few open tasks: fill up in sheet order
            chosen = set(pick)
            pick += [p for p in where[: 2 * GANTT_LIMIT].tolist() if p not in chosen][
                : GANTT_LIMIT - len(pick)
            ]
        idx = list(d.index[np.sort(pick)])
    else:
        idx = list(d.index[where])
    astart = d["actual_start"] if "actual_start" in d.columns else pd.Series(pd.NaT, index=d.index)
    afinish = (
        d["actual_finish"] if "actual_finish" in d.columns else pd.Series(pd.NaT, index=d.index)
    )
    starts = [ps[i] for i in idx] + [astart[i] for i in idx if pd.notna(astart[i])]
    origin = min(starts).date()
    today_off = (as_of - origin).days

    def off(ts: Any) -> int:
        return int((ts.date() - origin).days)

    out: list[list[RawValue]] = []
    for i in idx:
        name = str(d.at[i, "task"]) if pd.notna(d.at[i, "task"]) else f"#{i}"
        name = name if display_width(name) <= 24 else name[:12] + "…"
        out.append(
            [
                name,
                ps[i].date().isoformat(),
                off(ps[i]),
                (pf[i] - ps[i]).days + 1,
                None,
                None,
            ]
        )
        a0 = astart[i]
        if pd.notna(a0):
            a1 = afinish[i] if pd.notna(afinish[i]) else pd.Timestamp(as_of)
            n = max((a1 - a0).days + 1, 1)
            out.append(
                [act_tag, a0.date().isoformat(), off(a0), None,
                 None if late[i] else n, n if late[i] else None]
            )  # fmt: skip
        else:
            out.append([act_tag, None, None, None, None, None])
    return out, origin, today_off, len(idx), total


def _split(widths: dict[int, float], ncols: int) -> int:
    """The column where a band's second chart starts: about half the total width."""
    total = sum(widths.get(c, 10.0) for c in range(ncols))
    run = 0.0
    for c in range(ncols):
        run += widths.get(c, 10.0)
        if run >= total / 2:
            return max(1, min(c + 1, ncols - 1))
    return max(1, ncols // 2)


def tracker_name(target: str, tab: str) -> str:
    """What the summary says the tracker is: a file's name (never its directory) and the tab;
    for a spreadsheet addressed by key, the tab alone (the summary sits in that spreadsheet).

    >>> tracker_name("/srv/team/进度.xlsx", "进度表"), tracker_name("1AbCkey", "进度表")
    ('进度.xlsx / 进度表', '进度表')
    """
    if "/" in target or "\\" in target or target.lower().endswith((".xlsx", ".xlsm")):
        return f"{PureWindowsPath(target).name} / {tab}"
    return tab


def signature(tab: SummaryTab) -> str:
    """A short digest of the tab's layout (cell looks, row heights, where the charts are and
    what they show), not its values, widths or the Gantt's axis: when it changes, backends that
    style cells and draw charts apart from the values (Sheets, Feishu) do both again.

    >>> signature(SummaryTab("S", [["a"]])) == signature(SummaryTab("S", [["b"]]))
    True
    """
    import hashlib

    charts = [
        (c.kind, c.title, c.categories, c.values, c.anchor, c.series, c.colors, c.end)
        for c in tab.charts
    ]  # not the Gantt's axis or today's line: they move every day
    looks: dict[int, str] = {}  # cells share their style objects: each is written out once
    parts = (
        sorted(
            (k, looks.get(id(v)) or looks.setdefault(id(v), repr(v))) for k, v in tab.styles.items()
        ),
        sorted(tab.heights.items()),
        charts,
        tab.font,
    )
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()[:16]

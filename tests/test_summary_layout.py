"""The summary tab's design, as data: tiles and their definitions, aligned tables, widths from
content, charts on empty cells, the trend from the second day, the Gantt's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sync.backends.gsheets.build import chart_request, dumps, summary_structure
from sync.i18n import text
from sync.model import CellStyle, Grid, SummaryTab
from sync.pipeline import RunResult, plan_run
from sync.style import display_width
from sync.summary_layout import (
    GANTT_LIMIT,
    HEADER_FILL,
    TILES,
    capacity,
    signature,
    tracker_name,
    word,
)
from sync.timeline import HistoryView, TrendPoint

from .conftest import grid, task
from .fakes import MemoryBackend

DAY = dt.date(2024, 3, 20)
NOW = dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)


def run(g: Grid, ruleset: Any, history: HistoryView | None = None) -> RunResult:
    return plan_run(
        MemoryBackend(g).read(), ruleset, as_of=DAY, now=NOW, locale="zh-CN", history=history
    )


def word_s(key: str) -> str:
    return text("zh-CN", key)


def find(tab: SummaryTab, value: Any) -> tuple[int, int]:
    return next((r, c) for r, row in enumerate(tab.rows) for c, v in enumerate(row) if v == value)


def test_every_kpi_tile_shows_a_number_and_has_its_definition(
    seed_grid: Grid, ruleset: Any
) -> None:
    r = run(seed_grid, ruleset)
    tab = r.desired.summary
    cells = [v for row in tab.rows for v in row if isinstance(v, str)]
    r0, _ = find(tab, word("zh-CN", TILES[0][0]))
    for c, (label, definition) in enumerate(TILES):
        assert tab.rows[r0][c] == word("zh-CN", label)
        assert isinstance(tab.rows[r0 + 1][c], int | float), label  # the number under it
        assert tab.styles[(r0 + 1, c)].number, "a number format (%, pp, count)"
        assert word("zh-CN", definition) in cells, definition
    # 延期 and 逾期完成 are the summary's counts
    assert tab.rows[r0 + 1][4] == r.summary.status_counts["delayed"]
    assert tab.rows[r0 + 1][5] == r.summary.finished_late


def test_numbers_sit_right_aligned_under_right_aligned_headers(
    seed_grid: Grid, ruleset: Any
) -> None:
    tab = run(seed_grid, ruleset).desired.summary
    headers = {
        k for k, st in tab.styles.items() if st.fill == HEADER_FILL and st.bold
    }  # table header cells
    checked = 0
    for (r, c), st in tab.styles.items():
        v = tab.rows[r][c]
        if (r, c) in headers or not isinstance(v, int | float) or st.size or not st.number:
            continue  # a table's numbers carry a number format (the tiles are sized apart)
        above = max((h for h in headers if h[1] == c and h[0] < r), default=None)
        assert above is not None, (r, c)
        # a number is right-aligned by every program unless told otherwise
        assert st.align in (None, "right") and tab.styles[above].align == "right", (r, c, v)
        checked += 1
    assert checked > 20


def test_columns_fit_their_headers_counting_cjk_double(seed_grid: Grid, ruleset: Any) -> None:
    tab = run(seed_grid, ruleset).desired.summary
    for (r, c), st in tab.styles.items():
        if st.fill == HEADER_FILL and st.bold and not st.wrap:
            assert tab.widths[c] >= display_width(tab.rows[r][c]) * 1.1, tab.rows[r][c]
    # a long header too wide for any column wraps instead of being cut
    assert all(
        st.wrap for (r, c), st in tab.styles.items()
        if isinstance(tab.rows[r][c], str) and display_width(tab.rows[r][c]) + 2 > tab.widths[c]
        and st.fill == HEADER_FILL
    )  # fmt: skip


def test_charts_cover_only_empty_cells_and_read_numbers(seed_grid: Grid, ruleset: Any) -> None:
    tab = run(seed_grid, ruleset).desired.summary
    kinds = [c.kind for c in tab.charts]
    assert kinds == ["stacked", "bar", "gantt"], "no trend chart on the first day"
    for chart in tab.charts:
        assert chart.end is not None
        for r in range(chart.anchor[0], chart.end[0]):
            for c in range(chart.anchor[1], chart.end[1]):
                row = tab.rows[r] if r < len(tab.rows) else []
                assert c >= len(row) or row[c] is None, (chart.title, r, c)
        _, h, last = chart.values
        for col in chart.value_columns:
            assert isinstance(tab.rows[h][col], str), "the series is named by its header"
            body = [tab.rows[r][col] for r in range(h + 1, last + 1)]
            assert all(v is None or isinstance(v, int | float) for v in body), chart.title


def test_the_trend_chart_appears_from_the_second_day(seed_grid: Grid, ruleset: Any) -> None:
    first = run(seed_grid, ruleset).desired.summary
    waiting = [v for row in first.rows for v in row if isinstance(v, str) and "第二次运行" in v]
    assert waiting and "line" not in [c.kind for c in first.charts]
    history = HistoryView(trend=(TrendPoint(dt.date(2024, 3, 19), 10.0, 2, -5.0),))
    second = run(seed_grid, ruleset, history).desired.summary
    line = next(c for c in second.charts if c.kind == "line")
    assert [second.rows[r][0] for r in range(line.categories[1], line.categories[2] + 1)] == [
        "2024-03-19",
        "2024-03-20",
    ]
    assert not [v for row in second.rows for v in row if isinstance(v, str) and "第二次" in v]


def test_the_gantt_has_a_plan_and_an_actual_bar_per_task_late_ones_red(
    seed_grid: Grid, ruleset: Any
) -> None:
    tab = run(seed_grid, ruleset).desired.summary
    gantt = next(c for c in tab.charts if c.kind == "gantt")
    _, r0, r1 = gantt.categories
    assert r1 - r0 + 1 == 2 * 4, "the seed's four tasks, two bars each"
    assert gantt.colors[0] is None and gantt.colors[3] == "C00000"  # start hidden, late red
    late = [tab.rows[r][5] for r in range(r0, r1 + 1) if tab.rows[r][5] is not None]
    assert late, "a late task's actual bar is in the red series"
    assert gantt.marker == (DAY - dt.date(2024, 3, 1)).days, "today's line, in days"


def test_a_large_tracker_gantt_shows_the_late_and_next_tasks_and_says_so(
    ruleset: Any,
) -> None:
    rows = [
        task(task=f"任务{i}", planned_start="2024-03-01", planned_finish=f"2024-03-{10 + i % 15}")
        for i in range(60)
    ]
    tab = run(grid(rows, ruleset), ruleset).desired.summary
    gantt = next(c for c in tab.charts if c.kind == "gantt")
    assert gantt.categories[2] - gantt.categories[1] + 1 == 2 * GANTT_LIMIT
    # the title says a part is shown; the count of all tasks, which moves with every task
    # added, is in a cell (a chart's title is drawn with the chart, a cell goes with the values)
    assert f"显示其中 {GANTT_LIMIT} 个任务" in gantt.title and "60" not in gantt.title
    notes = [v for row in tab.rows for v in row if isinstance(v, str) and "共 60 个任务" in v]
    assert notes


def test_the_tracker_is_named_by_file_name_never_its_path() -> None:
    assert tracker_name("/srv/share/team/plan.xlsx", "进度表") == "plan.xlsx / 进度表"
    assert tracker_name(r"C:\Users\li\plan.xlsx", "进度表") == "plan.xlsx / 进度表"
    assert tracker_name("1AbCdEfkey", "进度表") == "进度表"  # a spreadsheet: the tab alone


def test_sheets_draws_the_gantt_as_a_native_stacked_bar_chart_sized_to_its_cells(
    seed_grid: Grid, ruleset: Any
) -> None:
    tab = run(seed_grid, ruleset).desired.summary
    gantt = next(c for c in tab.charts if c.kind == "gantt")
    req = chart_request(7, gantt, tab.widths)["addChart"]["chart"]
    basic = req["spec"]["basicChart"]
    assert basic["chartType"] == "BAR" and basic["stackedType"] == "STACKED"
    assert basic["series"][0]["colorStyle"]["rgbColor"] == {"red": 1, "green": 1, "blue": 1}
    window = basic["axis"][0]["viewWindowOptions"]
    assert (window["viewWindowMin"], window["viewWindowMode"]) == (0.0, "EXPLICIT")
    pos = req["position"]["overlayPosition"]
    assert pos["anchorCell"]["rowIndex"] == gantt.anchor[0]
    assert pos["heightPixels"] == (gantt.end[0] - gantt.anchor[0]) * 21
    # a redraw deletes the charts that are there by id, restyles in formats only
    reqs = summary_structure(
        7, tab, exists=True, grid_rows=500, grid_cols=20, filled=10, restyle=False,
        chart=True, old_charts=[11, 12],
    )  # fmt: skip
    assert [q["deleteEmbeddedObject"]["objectId"] for q in reqs if "deleteEmbeddedObject" in q] == [
        11,
        12,
    ]
    looks = [q["repeatCell"] for q in reqs if "repeatCell" in q]
    assert looks and all(q["fields"].startswith("userEnteredFormat") for q in looks)
    assert looks[0]["range"]["endRowIndex"] >= len(tab.rows), "first, every cell back to plain"
    assert len(looks) < len(tab.styles) / 2, "cells alike go in one rectangle"


def test_cell_styles_are_plain_data() -> None:
    # the backends key their formats by the style itself
    assert CellStyle(bold=True) == CellStyle(bold=True) and len({CellStyle(), CellStyle()}) == 1


def test_the_summary_look_on_sheets_does_not_grow_with_the_rows(ruleset: Any) -> None:
    def size(n: int) -> int:
        rows = [
            task(
                task=f"任务{i}",
                owner=f"负责人{i % 7}",
                progress=f"{i * 7 % 100}%",
                planned_finish=f"2024-03-{1 + i % 28:02d}",
            )
            for i in range(n)
        ]
        tab = run(grid(rows, ruleset), ruleset).desired.summary
        reqs = summary_structure(
            7, tab, exists=True, grid_rows=2000, grid_cols=20, filled=0, restyle=True, chart=True
        )
        return len(dumps({"requests": reqs}))

    small, big = size(60), size(600)
    assert big < small * 1.2, (small, big)


# ---------------------------------------------------------------------------- reserved rows


@pytest.mark.parametrize(
    ("n", "previous", "limit", "expected"),
    [
        (0, None, None, 10),  # an empty table keeps room for a few
        (7, None, None, 10),  # 3 spare rows fit under 10
        (8, None, None, 20),  # 8 + 3 > 10: the next step
        (100, None, None, 110),  # a long table: a tenth spare
        (498, None, 500, 500),  # a list never shows more than its limit
        (10, 10, None, 10),  # full, still fits: kept
        (11, 10, None, 20),  # outgrown: laid out afresh
        (1, 20, None, 20),  # shrank a little: kept
        (3, 40, None, 10),  # shrank far below: laid out afresh
        (12, 30, 15, 15),  # the limit went down (a phase chart of at most 15 phases)
    ],
)
def test_capacity(n: int, previous: int | None, limit: int | None, expected: int) -> None:
    assert capacity(n, previous, limit) == expected
    assert capacity(n, previous, limit) >= n


def late_tasks(late: int, total: int = 30) -> list[list[Any]]:
    """``total`` tasks of one phase, channel and owner, the first ``late`` of them past their
    planned finish (as of DAY), the others due in April."""
    return [
        task(
            task=f"任务{i}",
            planned_finish="2024-03-10" if i < late else "2024-04-30",
            progress="20%",
            status="进行中",
        )
        for i in range(total)
    ]


def rerun(g: Grid, ruleset: Any, meta: dict[str, Any]) -> RunResult:
    """A run whose snapshot carries ``meta``, the metadata the previous run wrote."""
    b = MemoryBackend(g)
    b.meta = dict(meta)
    return plan_run(b.read(), ruleset, as_of=DAY, now=NOW, locale="zh-CN")


@pytest.mark.parametrize("start", [0, 1, 6, 7, 8, 17, 40])
def test_a_list_growing_or_shrinking_by_a_few_rows_keeps_the_layout(
    ruleset: Any, start: int
) -> None:
    first = run(grid(late_tasks(start, 60), ruleset), ruleset)
    assert first.summary.status_counts["delayed"] == start
    sig = signature(first.desired.summary)
    for late in (start + 1, start + 2, start + 3, max(start - 3, 0)):
        then = rerun(grid(late_tasks(late, 60), ruleset), ruleset, first.desired.meta)
        tab = then.desired.summary
        assert then.summary.status_counts["delayed"] == late
        # only values move: every style, row height and chart stays; the plan says so
        assert signature(tab) == sig, (start, late)
        assert then.desired.meta["summary_layout"] == first.desired.meta["summary_layout"]
        assert tab.capacity == first.desired.summary.capacity
        assert len(tab.rows) == len(first.desired.summary.rows)
        shown = [v for row in tab.rows for v in row if isinstance(v, str) and v.startswith("任务")]
        assert len(shown) >= late, "every late task is listed"


def test_a_list_past_its_reserved_rows_moves_the_layout_once(ruleset: Any) -> None:
    first = run(grid(late_tasks(5, 60), ruleset), ruleset)
    assert first.desired.summary.capacity["delayed"] == 10
    grown = rerun(grid(late_tasks(11, 60), ruleset), ruleset, first.desired.meta)
    assert grown.desired.summary.capacity["delayed"] == 20
    assert signature(grown.desired.summary) != signature(first.desired.summary)
    # the next run lays it out as this one recorded it: settled
    again = rerun(grid(late_tasks(12, 60), ruleset), ruleset, grown.desired.meta)
    assert signature(again.desired.summary) == signature(grown.desired.summary)
    # shrunk far below its rows (20 reserved, 1 left): laid out afresh, 10 rows
    few = rerun(grid(late_tasks(1, 60), ruleset), ruleset, again.desired.meta)
    assert few.desired.summary.capacity["delayed"] == 20, "1 of 20 still fills about half of 10"
    gone = rerun(grid(late_tasks(0, 60), ruleset), ruleset, {
        **again.desired.meta, "summary_capacity": {"delayed": 40}
    })  # fmt: skip
    assert gone.desired.summary.capacity["delayed"] == 10


def test_reserved_rows_look_like_empty_cells_and_charts_skip_them(ruleset: Any) -> None:
    tab = run(grid(late_tasks(3, 60), ruleset), ruleset).desired.summary
    head = next(r for r, row in enumerate(tab.rows) if row[:1] == [word_s("s.phase")] and
                r > 0 and tab.rows[r - 1][:1] == [word_s("s.delayed_tasks")])  # fmt: skip
    reserved = range(head + 4, head + 1 + tab.capacity["delayed"])
    assert len(reserved) == 7
    for r in reserved:
        assert all(v is None for v in tab.rows[r]), r
        for c in range(len(tab.rows[r])):
            st = tab.styles.get((r, c))
            assert st is None or (not st.fill and not st.bold and not st.size), (r, c, st)
    # the note line under the list: kept (italic, muted), empty while nothing is cut off
    note = head + 1 + tab.capacity["delayed"]
    assert tab.styles[(note, 0)].italic and tab.rows[note][0] is None
    for chart in tab.charts:  # a chart's rows are its table's rows, never the blank ones
        _, first, last = chart.categories
        assert all(tab.rows[r][0] not in (None, "") for r in range(first, last + 1)), chart


def test_an_empty_list_says_none_in_its_first_row_in_that_row_s_look(ruleset: Any) -> None:
    empty = run(grid(late_tasks(0, 60), ruleset), ruleset)
    one = rerun(grid(late_tasks(1, 60), ruleset), ruleset, empty.desired.meta)
    assert signature(one.desired.summary) == signature(empty.desired.summary)
    rows = empty.desired.summary.rows
    head = next(
        r for r, row in enumerate(rows) if r > 0 and rows[r - 1][:1] == [word_s("s.delayed_tasks")]
    )
    assert rows[head + 1][0] == word_s("s.none")


def test_recorded_capacities_a_person_garbled_are_laid_out_afresh(ruleset: Any) -> None:
    first = run(grid(late_tasks(3, 60), ruleset), ruleset)
    for bad in ("x", ["delayed"], {"delayed": "many", "by_owner": -5, "trend": True}):
        r = rerun(
            grid(late_tasks(3, 60), ruleset),
            ruleset,
            {**first.desired.meta, "summary_capacity": bad},
        )
        assert r.desired.summary.capacity == first.desired.summary.capacity, bad

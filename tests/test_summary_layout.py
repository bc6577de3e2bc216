"""The summary tab's design, as data: tiles and their definitions, aligned tables, widths from
content, charts on empty cells, the trend from the second day, the Gantt's rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync.backends.gsheets.build import chart_request, dumps, summary_structure
from sync.model import CellStyle, Grid, SummaryTab
from sync.pipeline import RunResult, plan_run
from sync.style import display_width
from sync.summary_layout import GANTT_LIMIT, HEADER_FILL, TILES, tracker_name, word
from sync.timeline import HistoryView, TrendPoint

from .conftest import grid, task
from .fakes import MemoryBackend

DAY = dt.date(2024, 3, 20)
NOW = dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)


def run(g: Grid, ruleset: Any, history: HistoryView | None = None) -> RunResult:
    return plan_run(
        MemoryBackend(g).read(), ruleset, as_of=DAY, now=NOW, locale="zh-CN", history=history
    )


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

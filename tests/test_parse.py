"""Parse: header detection, column mapping, and every messy cell form the issue lists."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, get_args

import pandas as pd
import pytest

from sync.errors import MissingColumns
from sync.model import Grid
from sync.parse import (
    PARSERS,
    ColumnContext,
    parse,
    parse_date_value,
    parse_percent_value,
    parse_status_value,
    present_mask,
)
from sync.rules import ColumnType, header_keys

from .conftest import SEED_AS_OF, grid, header, task

D = dt.date


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (dt.datetime(2024, 3, 1, 0, 0), D(2024, 3, 1)),  # a real date cell
        (D(2024, 3, 1), D(2024, 3, 1)),
        (45352, D(2024, 3, 1)),  # Excel serial number
        (45352.0, D(2024, 3, 1)),
        ("45352", D(2024, 3, 1)),  # serial typed as text
        ("2024-03-01", D(2024, 3, 1)),
        ("2024-3-1", D(2024, 3, 1)),
        ("2024/3/1", D(2024, 3, 1)),
        ("2024.3.1", D(2024, 3, 1)),
        ("2024年3月1日", D(2024, 3, 1)),
        ("2024 年 3 月 1 日", D(2024, 3, 1)),
        ("２０２４－０３－０１", D(2024, 3, 1)),  # full-width digits and dash
        ("2024-03-01 00:00:00", D(2024, 3, 1)),  # a date cell pasted as text
        ("20240301", D(2024, 3, 1)),
        (20240301, D(2024, 3, 1)),
        ("3月1日", D(2030, 3, 1)),  # year-less: the caller's year
        ("3/1", D(2030, 3, 1)),
        ("6.29", D(2030, 6, 29)),
        (" 3/1 ", D(2030, 3, 1)),
        ("26/9/25", D(2025, 9, 26)),  # there is no month 26: day first
        ("9/26/2025", D(2025, 9, 26)),  # there is no month 26: month first
        ("26.09.2025", D(2025, 9, 26)),
        ("26-9-25", D(2025, 9, 26)),
        ("5/5/25", D(2025, 5, 5)),  # the same day either way
        ("24th Sept", D(2030, 9, 24)),  # a month name: year-less, the caller's year
        ("1 April", D(2030, 4, 1)),
        ("3 Sept 2025", D(2025, 9, 3)),
        ("1st of May", D(2030, 5, 1)),
        ("Sept 24", D(2030, 9, 24)),
        ("April 2nd, 2025", D(2025, 4, 2)),
        ("22nd Feb 99", D(1999, 2, 22)),  # two-digit years are 1970–2069
        ("24-SEP-25", D(2025, 9, 24)),
    ],
)
def test_parse_date_value_reads_the_forms_people_type(cell: Any, expected: D) -> None:
    assert parse_date_value(cell, 2030)[0] == expected


@pytest.mark.parametrize(
    "cell",
    [
        "3月上旬",
        "2024/-/--",
        "2024-02-30",
        "13/45",
        "明天",
        "TBD",
        "3/1-3/5",
        "3/2/25",  # 3 February or March 2: the column must say which
        "3-5",  # a dash without a year is a range, not a day
        "31 April",
        "24th Smarch",
    ],
)
def test_parse_date_value_rejects_what_is_not_a_day(cell: Any) -> None:
    assert parse_date_value(cell, 2030)[0] is None


@pytest.mark.parametrize(
    ("cell", "value", "note"),
    [
        ("60", 60.0, None),
        ("60%", 60.0, None),
        ("60％", 60.0, None),  # full-width percent sign
        ("６０％", 60.0, None),  # full-width digits
        (60, 60.0, None),
        (0.6, 60.0, None),  # a bare fraction
        ("0.5", 50.0, None),
        ("100%", 100.0, None),
        ("0%", 0.0, None),
        ("1", 1.0, None),  # 1 is one percent: only values strictly between 0 and 1 are fractions
        ("60%(2篇已发布,1篇待审核)", 60.0, "(2篇已发布,1篇待审核)"),
        ("30%(素材已上线,消耗1.5万)", 30.0, "(素材已上线,消耗1.5万)"),
        ("45% 初稿已交", 45.0, "初稿已交"),
        ("150%", 150.0, None),  # parsed; the range rule reports it
    ],
)
def test_parse_percent_value(cell: Any, value: float, note: str | None) -> None:
    assert parse_percent_value(cell) == (value, note)


@pytest.mark.parametrize("cell", ["完成", "50-60%", "about half", "1/2"])
def test_parse_percent_value_rejects_non_numbers(cell: str) -> None:
    assert parse_percent_value(cell)[0] is None


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("未开始", "not_started"),
        ("未開始", "not_started"),
        ("进行中", "in_progress"),
        ("已完成", "completed"),
        ("延期", "delayed"),
        ("Not started", "not_started"),
        ("In Progress", "in_progress"),
        ("done", "completed"),
        ("Completed", "completed"),
        ("delayed", "delayed"),
        ("overdue", "delayed"),
        ("✅", "completed"),
        ("✅ 已完成", "completed"),
        ("进行中(80%)", "in_progress"),
        (" 进行中 ", "in_progress"),
        ("搁置", "on_hold"),  # paused work: neither late nor progressing
        ("On hold", "on_hold"),
        ("待审核", "in_progress"),  # waiting for review: still in progress
        ("看情况", None),
    ],
)
def test_parse_status_value(ruleset: Any, cell: str, expected: str | None) -> None:
    assert parse_status_value(cell, ruleset.status_words()) == expected


def test_parse_seed_rows(seed_grid: Grid, ruleset: Any) -> None:
    t = parse(seed_grid, ruleset, SEED_AS_OF)
    assert list(t.rows) == [2, 3, 4, 5]
    d = t.data
    assert d.loc[2, "progress"] == 60 and d.loc[2, "progress_note"] == "(2篇已发布,1篇待审核)"
    assert d.loc[2, "actual_finish"] is pd_nat() or str(d.loc[2, "actual_finish"]) == "NaT"
    assert d.loc[3, "actual_finish"].date() == D(2024, 3, 11)
    assert list(d["status"]) == ["in_progress", "completed", "in_progress", "not_started"]
    assert not t.present.loc[3, "risk"]  # "-" is empty
    assert not t.invalid.any().any()


def pd_nat() -> Any:
    import pandas as pd

    return pd.NaT


def test_header_may_sit_below_a_title_and_use_aliases(ruleset: Any) -> None:
    head = [
        "Phase ",
        "渠道",
        "核心任務",
        "任务描述（具体可执行）",
        " owner",
        "Planned start",
        "計劃完成時間",
        "当前进度(%)",
        "完成状态(未开始/进行中/已完成/延期)",
    ]
    g = Grid(
        "T",
        [
            ["Campaign tracker"],
            [],
            head,
            ["a", "b", "c", "d", "e", "2024-03-01", "2024-03-02", "10%", "进行中"],
        ],
    )
    t = parse(g, ruleset, SEED_AS_OF)
    assert t.header_row == 2
    assert t.positions["owner"] == 4 and t.positions["planned_finish"] == 6
    assert t.headers["owner"] == "owner"
    assert list(t.rows) == [4]
    assert "risk" not in t.positions and not t.present["risk"].any()


def test_header_keys_fold_width_case_and_spaces() -> None:
    assert (
        header_keys(" 当前进度（％） ") == header_keys("当前进度(%)") == ["当前进度(%)", "当前进度"]
    )
    assert header_keys("Planned  Start") == ["plannedstart"]
    assert header_keys("⚠️ 风险") == header_keys("⚠ 风险")  # emoji variation selector dropped


def test_every_column_type_has_a_parser() -> None:
    assert set(PARSERS) == set(get_args(ColumnType))


@pytest.mark.parametrize(
    ("kind", "cells", "values", "invalid"),
    [
        # "-" is an empty token: blank, not unreadable
        ("number", ["1,200", "-", "lots"], [1200.0, None, None], [False, False, True]),
        ("bool", ["是", None, "maybe"], [True, None, None], [False, False, True]),
        ("status", ["进行中", "看情况"], ["in_progress", None], [False, True]),
        ("percent", ["60%(ok)", "half"], [60.0, None], [False, True]),
        ("date", ["2024/3/1", "3月上旬"], [pd.Timestamp(2024, 3, 1), None], [False, True]),
        ("text", [" a ", "/"], ["a", None], [False, False]),  # any filled cell reads as text
    ],
)
def test_a_parser_returns_typed_values_and_unreadable_cells(
    kind: str, cells: list[Any], values: list[Any], invalid: list[bool]
) -> None:
    s = pd.Series(cells, index=range(2, 2 + len(cells)), dtype=object)
    out = PARSERS[kind](s, ColumnContext(present_mask(s), words={"进行中": "in_progress"}))
    assert [None if pd.isna(v) else v for v in out.values] == values
    assert out.invalid.tolist() == invalid
    assert list(out.values.index) == list(s.index)


def test_percent_parser_splits_off_the_note_and_scales_percent_cells() -> None:
    s = pd.Series([1, 1, "30%(素材已上线)"], index=[2, 3, 4], dtype=object)
    grid = Grid("T", [], percent_cells=frozenset({(1, 9)}))  # sheet row 2, column J
    out = PARSERS["percent"](s, ColumnContext(present_mask(s), grid=grid, position=9))
    assert out.values.tolist() == [100.0, 1.0, 30.0]  # row 2 shows 100 %, row 3 one percent
    assert [None if pd.isna(n) else n for n in out.extra["note"]] == [None, None, "(素材已上线)"]


def test_year_less_days_are_marked_for_the_row_to_complete() -> None:
    s = pd.Series(["3/1", "2024-03-01", "2/29"], index=[2, 3, 4], dtype=object)
    out = PARSERS["date"](s, ColumnContext(present_mask(s)))
    assert out.yearless is not None and out.yearless.tolist() == [True, False, True]


def test_missing_required_column_lists_expected_and_found(ruleset: Any) -> None:
    head = [h for h in header(ruleset) if h != "负责人"]
    with pytest.raises(MissingColumns) as exc:
        parse(Grid("T", [head]), ruleset, SEED_AS_OF)
    msg = str(exc.value)
    assert "负责人 / Owner (owner)" in msg
    assert "'推广阶段'" in msg and "row 1" in msg


def test_a_missing_optional_column_does_not_stop_the_run(ruleset: Any) -> None:
    # progress and status are not mandatory: a tracker without them is read, and the rules
    # about them are inactive (RuleSet.for_sheet), not a finding per row
    head = [
        h
        for h in header(ruleset)
        if h not in ("当前进度(%)", "完成状态(未开始/进行中/已完成/延期)")
    ]
    t = parse(Grid("T", [head, ["x"] * len(head)]), ruleset, SEED_AS_OF)
    assert "status" not in t.positions and "progress" not in t.positions and len(t) == 1


def test_no_header_at_all_is_missing_columns(ruleset: Any) -> None:
    with pytest.raises(MissingColumns, match="missing required column"):
        parse(Grid("T", [["hello", "world"], [1, 2]]), ruleset, SEED_AS_OF)


def test_blank_and_section_rows_are_skipped(ruleset: Any) -> None:
    g = grid([task(), [None] * 14, ["—— 预热期 ——"], ["", " ", "-"], task(owner="李雷")], ruleset)
    t = parse(g, ruleset, SEED_AS_OF)
    assert list(t.rows) == [2, 6]
    assert t.data.loc[6, "owner"] == "李雷"


def test_unreadable_cells_are_marked_invalid_not_raised(ruleset: Any) -> None:
    g = grid([task(planned_start="3月上旬", progress="大概一半", status="看情况")], ruleset)
    t = parse(g, ruleset, SEED_AS_OF)
    assert (
        bool(t.invalid.loc[2, "planned_start"])
        and bool(t.invalid.loc[2, "progress"])
        and bool(t.invalid.loc[2, "status"])
    )
    assert str(t.data.loc[2, "planned_start"]) == "NaT"


def test_yearless_date_takes_the_rows_year(ruleset: Any) -> None:
    g = grid(
        [
            task(planned_start="2023-12-20", planned_finish="12/28"),
            task(planned_start="3/1", planned_finish="3/5"),
        ],
        ruleset,
    )
    t = parse(g, ruleset, dt.date(2024, 1, 10))
    assert t.data.loc[2, "planned_finish"].date() == D(2023, 12, 28)  # from the row's other date
    assert t.data.loc[3, "planned_start"].date() == D(2024, 3, 1)  # no full date: the as-of year


def test_percent_formatted_cells_are_fractions(ruleset: Any) -> None:
    g = grid([task(progress=0.6), task(progress=1), task(progress=1)], ruleset)
    g = Grid(g.title, g.rows, frozenset({(1, 9), (2, 9)}))  # rows 2 and 3 are percent-formatted
    t = parse(g, ruleset, SEED_AS_OF)
    assert list(t.data["progress"]) == [60.0, 100.0, 1.0]


def test_headerless_filled_column_counts_as_used(ruleset: Any) -> None:
    row = task()
    g = grid([[*row, None, "a person's note"]], ruleset)
    t = parse(g, ruleset, SEED_AS_OF)
    assert t.last_used_col == 15


def test_generated_columns_are_recognised(ruleset: Any) -> None:
    g = grid([[*task(), "延期", 100]], ruleset)
    g.rows[0].extend(["⚙ 计算状态", "⚙ 计划进度%"])
    t = parse(g, ruleset, SEED_AS_OF)
    assert t.generated_cols == {"gen_status": 14, "gen_planned": 15}
    assert 14 not in t.human_cols and t.last_used_col == 13


def test_generated_headers_are_recognised_in_any_locale(ruleset: Any) -> None:
    g = grid([[*task(), "Delayed", "T0001"]], ruleset)
    g.rows[0].extend(["⚙ Status (computed)", "⚙ 任务ID"])
    t = parse(g, ruleset, SEED_AS_OF)
    assert t.generated_cols == {"gen_status": 14, "gen_id": 15}
    assert t.ids.tolist() == ["T0001"]


def test_backend_anchors_win_over_header_text(ruleset: Any) -> None:
    g = grid([[*task(), None, "x"]], ruleset)
    g.rows[0].extend(["renamed by someone", None])
    t = parse(g, ruleset, SEED_AS_OF, anchors={"gen_status": 14})
    assert t.generated_cols == {"gen_status": 14} and 14 not in t.human_cols


def test_zero_width_characters_and_boms_pasted_from_chat_apps_are_invisible(
    ruleset: Any,
) -> None:
    head = header(ruleset)
    head[4] = "\u200b" + head[4]  # 负责人, pasted with a zero-width space in front
    row = task(owner="\ufeff王丽", planned_finish="\u200b2024-03-10", progress="\u200b30%")
    t = parse(Grid("进度表", [head, row]), ruleset, SEED_AS_OF)
    assert "owner" in t.positions, "the header is recognised"
    assert t.data["planned_finish"].iloc[0] == pd.Timestamp("2024-03-10")
    assert t.data["progress"].iloc[0] == 30.0
    assert not t.invalid.any().any()


def test_a_header_row_repeated_further_down_is_not_a_task(ruleset: Any) -> None:
    head = header(ruleset)
    g = Grid("进度表", [head, task(), list(head), task(task="直播带货", description="完成2场直播")])
    t = parse(g, ruleset, SEED_AS_OF)
    assert t.rows.tolist() == [2, 4], "row 3 repeats the header"


def test_two_headers_naming_one_column_read_the_first_and_keep_the_other(ruleset: Any) -> None:
    head = [*header(ruleset), "负责人"]  # 负责人 again, in column O
    g = Grid("进度表", [head, [*task(owner="王丽"), "李雷"]])
    t = parse(g, ruleset, SEED_AS_OF)
    assert t.positions["owner"] == 4 and t.data.loc[2, "owner"] == "王丽"
    assert t.duplicate_headers == {"owner": ((4, "负责人"), (14, "负责人"))}
    assert 14 in t.human_cols and t.extra_columns == {"负责人": 14}


@pytest.mark.parametrize(
    ("cells", "order", "expected"),
    [
        # 26/9/25 settles it: the column is day first, so 3/10/25 is 3 October, 3/10 too
        (["26/9/25", "3/10/25", "3/10"], "dmy", [D(2025, 9, 26), D(2025, 10, 3), D(2024, 10, 3)]),
        # 9/26/25 settles it the other way
        (["9/26/25", "3/10/25", "3/10"], "mdy", [D(2025, 9, 26), D(2025, 3, 10), D(2024, 3, 10)]),
        # nothing settles it: year-less days stay month first (3/10 = 3月10日), a day with a year
        # that reads two ways is unreadable
        (["3/10/25", "3/10", "2025-01-05"], None, [None, D(2024, 3, 10), D(2025, 1, 5)]),
        # both orders occur: the same
        (["26/9/25", "9/26/25", "3/10/25"], None, [D(2025, 9, 26), D(2025, 9, 26), None]),
    ],
)
def test_a_date_column_settles_day_or_month_first(
    cells: list[Any], order: str | None, expected: list[D | None]
) -> None:
    s = pd.Series(cells, index=range(2, 2 + len(cells)), dtype=object)
    out = PARSERS["date"](s, ColumnContext(present_mask(s)))
    assert out.order == order
    assert out.yearless is not None
    # year-less days carry the parser's leap year until the row gives them theirs: show 2024
    got = [
        None if pd.isna(v) else (v.date().replace(year=2024) if y else v.date())
        for v, y in zip(out.values, out.yearless, strict=True)
    ]
    assert got == expected
    unreadable = [e is None for e in expected]
    assert out.invalid.tolist() == unreadable
    assert (out.ambiguous is not None and out.ambiguous.notna().tolist()) == (
        unreadable if any(unreadable) else False
    )


def test_a_day_that_reads_two_ways_is_one_finding_with_both_readings(ruleset: Any) -> None:
    from sync.checks import Context
    from sync.validate import validate

    g = grid([task(planned_start="3/2/24", planned_finish="2024-03-10")], ruleset)
    for locale, readings in (
        ("zh-CN", "2024-02-03(日在前)或 2024-03-02(月在前)"),
        ("en", "2024-02-03 (day first) or 2024-03-02 (month first)"),
    ):
        f = validate(parse(g, ruleset, SEED_AS_OF), ruleset, Context(SEED_AS_OF, locale))
        on_start = f[f["column"] == "计划开始时间"]
        assert on_start["rule"].tolist() == ["ambiguous-date"], f.to_dict("records")
        assert readings in on_start.iloc[0]["message"] and "3/2/24" in on_start.iloc[0]["message"]


def test_checkboxes_beside_ones_and_zeros_keep_their_own_text(ruleset: Any) -> None:
    # factorizing merges True with 1 and False with 0: a column holding both reads each
    # checkbox as its text, the numbers as numbers, and shows each cell as typed
    rows = [task(remarks=1), task(remarks=True), task(remarks=0), task(remarks=False)]
    t = parse(grid(rows, ruleset), ruleset, SEED_AS_OF)
    assert list(t.data["remarks"]) == ["1", "TRUE", "0", "FALSE"]
    assert list(t.display("remarks")) == ["1", "True", "0", "False"]


def test_a_section_row_does_not_settle_a_date_columns_order(ruleset: Any) -> None:
    # the label row's 26/9/25 (day first only) is not a task's cell: 3/2/25 still reads two ways
    label = [None] * len(header(ruleset))
    label[5] = "26/9/25"
    t = parse(grid([label, task(planned_start="3/2/25")], ruleset), ruleset, SEED_AS_OF)
    assert list(t.rows) == [3]
    assert t.date_orders.get("planned_start") is None
    assert t.ambiguous["planned_start"].loc[3] == (D(2025, 2, 3), D(2025, 3, 2))


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2024-02-20", D(2024, 2, 29)),  # the row's year is a leap year
        ("2025-02-20", None),  # 2025 has no 29 February: unreadable
    ],
)
def test_a_year_less_29_february_takes_the_rows_year_or_is_unreadable(
    ruleset: Any, start: str, expected: D | None
) -> None:
    t = parse(
        grid([task(planned_start=start, planned_finish="2/29")], ruleset), ruleset, SEED_AS_OF
    )
    finish = t.data.loc[2, "planned_finish"]
    assert (None if pd.isna(finish) else finish.date()) == expected
    assert bool(t.invalid.loc[2, "planned_finish"]) is (expected is None)


def test_a_percent_cell_shows_as_its_percentage(ruleset: Any) -> None:
    g = grid([task(progress=0.5), task(progress=0.5), task(progress="-0%")], ruleset)
    g = Grid(g.title, g.rows, frozenset({(1, 9)}))  # only row 2 is percent-formatted
    t = parse(g, ruleset, SEED_AS_OF)
    # a number shows as the percentage it reads as; text as typed
    assert list(t.display("progress")) == ["50%", "50%", "-0%"]
    assert list(t.display("progress", pd.Index([4, 2]))) == ["-0%", "50%"]


def test_text_map_calls_once_per_distinct_cell_and_blanks_read_empty(ruleset: Any) -> None:
    rows = [task(owner=" Ａ "), task(owner="a"), task(owner=" Ａ "), task(owner="-")]
    t = parse(grid(rows, ruleset), ruleset, SEED_AS_OF)
    seen: list[str] = []
    lengths = t.text_map("owner", lambda s: seen.append(s) or len(s), int)
    assert list(lengths) == [1, 1, 1, 0]
    # once for each distinct cell (" Ａ ", "a", "-") and once for blank; an empty token's
    # rows read "" whatever its own text
    assert sorted(seen) == ["", "-", "a", "a"]
    assert list(t.text("owner")) == ["a", "a", "a", ""]


def test_a_table_copied_with_other_cells_reads_those_cells(ruleset: Any) -> None:
    # parse's factorized cells are not carried over by dataclasses.replace, which may swap them
    t = parse(grid([task(owner="王丽"), task(owner="李雷")], ruleset), ruleset, SEED_AS_OF)
    assert list(t.text("owner")) == ["王丽", "李雷"]
    other = dataclasses.replace(t, cells=t.cells.assign(owner=["Ｚｈａｎｇ", "Li"]))
    assert list(other.text("owner")) == ["zhang", "li"]
    assert list(other.display("owner")) == ["Ｚｈａｎｇ", "Li"]
    assert list(t.display("owner")) == ["王丽", "李雷"]

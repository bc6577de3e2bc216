"""Summarize, render and diff through the in-memory backend: the whole pure pipeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sync.config import Config
from sync.i18n import GENERATED_KEYS
from sync.model import Grid
from sync.pipeline import plan_run
from sync.report import report
from sync.run import sync

from .conftest import SEED_AS_OF, grid, task
from .fakes import MemoryBackend

NOW = dt.datetime(2024, 3, 20, 9, 30, tzinfo=dt.UTC)


def config(**kw: Any) -> Config:
    return Config.model_validate({"tracker": {"backend": "xlsx", "path": "unused.xlsx"}, **kw})


def run(
    backend: MemoryBackend, as_of: dt.date = SEED_AS_OF, now: dt.datetime = NOW, **kw: Any
) -> Any:
    return sync(config(**kw), as_of=as_of, backend=backend, now=now)  # type: ignore[arg-type]


def test_summary_counts_and_breakdowns(seed_grid: Grid, ruleset: Any) -> None:
    r = plan_run(MemoryBackend(seed_grid).read(), ruleset, as_of=SEED_AS_OF, now=NOW)
    s = r.summary
    assert s.total == 4
    assert s.status_counts == {
        "not_started": 1,
        "in_progress": 1,
        "completed": 1,
        "delayed": 1,
        "on_hold": 0,
    }
    assert s.completion_rate == 25.0
    assert s.avg_progress == 47.5  # (60 + 100 + 30 + 0) / 4
    assert s.avg_deviation == -16.1  # (-40 + 0 - 24.545 + 0) / 4
    phase = s.by_phase.set_index("key")
    assert (
        phase.loc["筹备期(第1-2周)", "tasks"] == 2 and phase.loc["筹备期(第1-2周)", "delayed"] == 1
    )
    assert list(s.delayed["row"]) == [2]
    assert list(s.open_risks["row"]) == [2, 4, 5]
    assert s.risks_without_countermeasure.empty


def test_delayed_list_is_sorted_by_days_late(ruleset: Any) -> None:
    rows = [
        task(planned_finish="2024-03-15", progress="10%", actual_start="2024-03-01"),
        task(planned_finish="2024-03-05", progress="10%", actual_start="2024-03-01"),
        task(planned_finish="2024-03-10", progress="10%", actual_start="2024-03-01"),
    ]
    r = plan_run(MemoryBackend(grid(rows, ruleset)).read(), ruleset, as_of=SEED_AS_OF, now=NOW)
    assert list(r.summary.delayed["days_late"]) == [15, 10, 5]
    assert list(r.summary.delayed["row"]) == [3, 4, 2]


def test_generated_columns_land_right_of_the_human_columns(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    run(b, calendar={"country": "none"})  # the figures below are in calendar days
    head = b.rows[0]
    assert head[:14] == seed_grid.rows[0]
    assert head[14:] == [
        "⚙ 计算状态",
        "⚙ 计划进度%",
        "⚙ 进度偏差(百分点)",
        "⚙ 延期天数",
        "⚙ 健康度",
        "⚙ 较基线(天)",
        "⚙ 问题",
        "⚙ 任务ID",
    ]
    assert b.rows[1][14:19] == ["延期", 100.0, -40.0, 10, "红"]
    assert b.rows[3][14:19] == ["进行中", 54.5, -24.5, 0, "黄"]


def test_human_cells_are_never_written(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    before = [list(r[:14]) for r in b.rows]
    run(b)
    run(b, as_of=dt.date(2024, 4, 1))
    assert [r[:14] for r in b.rows] == before


def test_second_run_without_edits_writes_nothing(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    first = run(b)
    assert first.applied is not None and first.requests == {"read": 1, "write": 1}
    second = run(b, now=NOW + dt.timedelta(minutes=10))  # only the clock moved
    assert (
        second.plan.is_empty
        and second.applied is None
        and second.requests == {"read": 1, "write": 0}
    )
    assert report(second)["requests"] == {"read": 1, "write": 0}


def test_an_edit_writes_only_what_changed(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    run(b)
    b.set(1, 9, "100%")  # a person reports row 2 done
    b.set(1, 8, "2024-03-19")
    r = run(b)
    assert r.applied is not None
    changed = {(int(row), col) for col, s in r.plan.cells.items() for row in s.index}
    # status, deviation, days late, health change; planned % stays 100; the issues cell clears
    # (the row was flagged as "in progress" past its planned finish)
    assert changed == {(1, 14), (1, 16), (1, 17), (1, 18), (1, 20)}
    assert b.rows[1][14] == "已完成"


def test_generated_block_stays_when_a_person_adds_a_column_beside_it(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    none = {"country": "none"}  # the figures below are in calendar days
    run(b, calendar=none)
    b.set(0, 22, "预算")  # a person adds a column right of the generated block
    b.set(1, 22, "5万")
    second = run(b, calendar=none)
    assert b.rows[0][22] == "预算" and b.rows[1][22] == "5万"
    assert b.rows[0][14] == "⚙ 计算状态" and b.rows[1][14:19] == ["延期", 100.0, -40.0, 10, "红"]
    assert 22 not in second.plan.cells
    # the new human column is highlighted like the others
    assert any(cf.first_col == 22 == cf.last_col for cf in second.plan.conditional_formats or ())


def test_task_ids_are_assigned_once_and_follow_the_row(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    run(b)
    assert [r[21] for r in b.rows[1:5]] == ["T0001", "T0002", "T0003", "T0004"]
    b.rows.insert(1, b.rows.pop(4))  # a person moves the last task to the top
    b.rows.append(task_row := list(b.rows[2][:14]))  # and copies a row, ID included
    task_row.extend([None] * 7 + ["T0001"])
    run(b)
    assert [r[21] for r in b.rows[1:6]] == ["T0004", "T0001", "T0002", "T0003", "T0005"]


def test_headerless_notes_beside_the_table_are_not_overwritten(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    b.set(3, 15, "a note someone typed")
    run(b)
    assert b.rows[3][15] == "a note someone typed"
    assert b.rows[0][16] == "⚙ 计算状态"


def test_formula_like_tracker_text_stays_text_in_the_summary(ruleset: Any) -> None:
    evil = '=HYPERLINK("http://x.example","click")'
    rows = [task(task=evil, planned_finish="2024-03-10", progress="10%", actual_start="2024-03-01")]
    b = MemoryBackend(grid(rows, ruleset))
    run(b)
    assert b.summary is not None
    cells = [c for r in b.summary for c in r]
    assert evil in cells  # the very string, to be written as a string by every backend


def test_findings_go_to_the_issues_column_and_highlights(ruleset: Any) -> None:
    b = MemoryBackend(
        grid(
            [
                task(
                    owner="-",
                    risk="KOL档期冲突",
                    planned_start="2024-03-25",
                    planned_finish="2024-03-30",
                )
            ],
            ruleset,
        )
    )
    r = run(b)
    issues = b.rows[1][14 + GENERATED_KEYS.index("gen_issues")]
    assert issues == (
        "[负责人] “负责人”未填写\n"
        "(警告) [计划完成时间] 计划完成日 2024-03-30(周六)是休息日(周末、法定节假日或公司假期);"
        "是否应为前一个工作日?\n"
        "(警告) [应对措施] 有风险“KOL档期冲突”但还没有应对措施(应在24小时内补上)"
    )
    formulas = [cf.formula for cf in r.plan.conditional_formats or ()]
    assert 'ISNUMBER(FIND("[负责人]",$U2))' in formulas
    assert '$O2="延期"' in formulas and '$S2="黄"' in formulas


def test_english_locale(seed_grid: Grid) -> None:
    b = MemoryBackend(seed_grid)
    run(b, locale="en")
    assert b.rows[0][14] == "⚙ Status (computed)"
    assert b.rows[1][14] == "Delayed" and b.rows[1][18] == "red"
    assert b.summary_title == "Summary"


@pytest.mark.parametrize("as_of", [dt.date(2024, 3, 1), dt.date(2024, 3, 20), dt.date(2024, 5, 1)])
def test_report_json_shape(seed_grid: Grid, as_of: dt.date) -> None:
    rep = report(run(MemoryBackend(seed_grid), as_of=as_of))
    assert set(rep) >= {
        "as_of",
        "tracker",
        "worksheet",
        "rows",
        "status_counts",
        "completion_rate",
        "findings",
        "tasks",
        "cells_written",
        "requests",
    }
    assert rep["rows"] == 4 and [t["row"] for t in rep["tasks"]] == [2, 3, 4, 5]
    assert set(rep["tasks"][0]) == {
        "row",
        "status",
        "progress",
        "planned_progress",
        "deviation",
        "days_late",
        "health",
        "days_late_calendar",
    }
    assert rep["calendar_warning"] is None
    assert rep["requests"] == {"read": 1, "write": 1}


def test_a_task_on_hold_is_counted_labelled_and_greyed(ruleset: Any) -> None:
    rows = [
        # paused long past its planned finish: not delayed, not behind plan
        task(status="暂停", progress="30%", actual_start="2024-03-01"),
        task(status="进行中", progress="30%", actual_start="2024-03-01"),
    ]
    b = MemoryBackend(grid(rows, ruleset))
    r = run(b)
    assert r.summary.status_counts["on_hold"] == 1 and r.summary.status_counts["delayed"] == 1
    assert b.rows[1][14] == "暂停" and b.rows[2][14] == "延期"
    assert ["暂停", 1] in [row[:2] for row in b.summary]  # the summary's status table
    on_hold = [cf for cf in r.plan.conditional_formats or () if cf.fill == "E2E3E5"]
    assert len(on_hold) == 1 and on_hold[0].formula.endswith('="暂停"')
    assert report(r)["status_counts"]["on_hold"] == 1


def test_rules_whose_columns_are_missing_are_listed_once_not_per_row(ruleset: Any) -> None:
    # the template without 实际开始时间 and 实际完成时间 (columns 7 and 8), three tasks
    head = [h for i, h in enumerate(grid([], ruleset).rows[0]) if i not in (7, 8)]
    body = [
        [v for i, v in enumerate(task(progress=p, status=s)) if i not in (7, 8)]
        for p, s in (("100%", "已完成"), ("50%", "进行中"), ("0%", "未开始"))
    ]
    r = plan_run(
        MemoryBackend(Grid("进度表", [head, *body])).read(), ruleset, as_of=SEED_AS_OF, now=NOW
    )
    assert not set(r.findings["column"]) & {"实际开始时间", "实际完成时间"}
    # progress-needs-start would fire on row 3 (progress, no actual start), completed-truthful
    # on row 2 (no actual finish): neither runs
    assert set(r.findings["rule"]).isdisjoint({"progress-needs-start", "completed-truthful"})
    inactive = {i.id: i.missing for i in r.inactive_rules}
    assert inactive["progress-needs-start"] == ("actual_start",)
    assert inactive["completed-truthful"] == ("actual_finish",)
    # a per-column rule is inactive once none of its columns is left
    assert inactive["actual-not-future"] == ("actual_start", "actual_finish")
    assert "done-marked-completed" not in inactive  # its `any` keeps the progress branch
    js = report(r)["inactive_rules"]
    assert {"id": "completed-truthful", "missing": ["actual_finish"]} in js
    assert len(js) == len(r.inactive_rules) == len({i["id"] for i in js})
    rows = [row for row in r.desired.summary.rows if row[0] == "completed-truthful"]
    assert rows == [["completed-truthful", "实际完成时间 (actual_finish)", *rows[0][2:]]]

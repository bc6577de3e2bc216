"""Every colour explains itself (issue 11): each red or amber row's ⚙ 问题 cell says why."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from sync.model import Grid
from sync.pipeline import RunResult, plan_run
from sync.rules import TEMPLATE_COLUMNS
from sync.workdays import CalendarConfig

from .conftest import grid, header, task
from .fakes import MemoryBackend

AS_OF = dt.date(2024, 3, 20)  # a Wednesday
NOW = dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)


def run(g: Grid, ruleset: Any, country: str = "CN", locale: str = "zh-CN") -> RunResult:
    return plan_run(
        MemoryBackend(g).read(),
        ruleset,
        as_of=AS_OF,
        now=NOW,
        locale=locale,
        calendar=CalendarConfig(country=country),
    )


def issues(r: RunResult) -> dict[int, str | None]:
    col = r.desired.columns[r.desired.positions["gen_issues"]]
    return {int(row): col.get(row - 1) for row in r.table.rows}


def test_the_seed_rows_say_why_in_working_days(seed_grid: Grid, ruleset: Any) -> None:
    idle = task(planned_start="2024-03-14", planned_finish="2024-03-29", progress="0%")
    g = Grid(seed_grid.title, [*seed_grid.rows, idle])
    r = run(g, ruleset)
    why = issues(r)
    # row 2: planned finish Sun 3/10, 60 %: working days 3/11–15 and 3/18–20 since → 8
    assert str(why[2]).startswith("(红) 计划 3月10日 完成,已过 8 个工作日,进度 60%")
    # row 4: 3/15–3/25 has 7 working days, 4 of them done by 3/20 → 57.1, 30 − 57.1 = −27.1
    assert str(why[4]).startswith(
        "(黄) 进度 30%,按计划应为 57.1%,落后 27.1 个百分点(超过 10 即为黄)"
    )
    # row 6: planned to start Thu 3/14, no progress: 3/15, 3/18, 3/19, 3/20 → 4 working days
    assert str(why[6]).startswith("(红) 计划 3月14日 开始,已过 4 个工作日,进度仍为 0")
    # calendar days and English
    why = issues(run(g, ruleset, country="none", locale="en"))
    assert str(why[2]).startswith("(red) planned to finish Mar 10: 10 days past it, progress 60%")
    assert str(why[6]).startswith("(red) planned to start Mar 14: 6 days past it, progress still 0")
    assert str(why[4]).startswith("(amber) progress 30%, the plan says 54.5%: 24.5 points behind")
    assert why[3] is None or not str(why[3]).startswith("(")  # green rows have no colour line


PATHS = list(
    itertools.product(
        ["-", "0%", "5%", "100%"],  # progress
        ["-", "2024-03-05"],  # actual start
        ["-", "2024-03-18"],  # actual finish
        ["未开始", "进行中", "暂停", "已完成"],  # the sheet's status
        [
            ("2024-03-01", "2024-03-10"),
            ("2024-03-14", "2024-03-29"),
            ("2024-03-25", "2024-04-05"),
            ("-", "2024-03-12"),
            ("2024-03-12", "-"),
            ("2024-03-05", "2024-03-26"),
        ],
    )
)


@pytest.mark.parametrize("country", ["CN", "none"])
def test_every_red_or_amber_row_carries_its_reason(ruleset: Any, country: str) -> None:
    rows = [
        task(
            progress=p,
            actual_start=a_s,
            actual_finish=a_f,
            status=st,
            planned_start=ps,
            planned_finish=pf,
        )
        for p, a_s, a_f, st, (ps, pf) in PATHS
    ]
    r = run(grid(rows, ruleset), ruleset, country=country)
    why = issues(r)
    health = r.derived["health"]
    seen = set()
    for row in r.table.rows:
        h = health[row]
        text = why[row]
        if h in ("red", "amber"):
            label = "(红) " if h == "red" else "(黄) "
            assert text is not None and text.startswith(label), (row, h, r.derived.loc[row])
            first = text.split("\n")[0]
            kind = "落后" if h == "amber" else ("完成," if "完成," in first else "开始,")
            assert kind in first, (row, text)
            seen.add((h, kind))
        else:
            assert text is None or not text.startswith(("(红)", "(黄)")), (row, text)
    # the walk reaches every colouring path: late finish, idle start, behind plan
    assert seen == {("red", "完成,"), ("red", "开始,"), ("amber", "落后")}


def test_a_sheet_without_progress_explains_its_red_rows(ruleset: Any) -> None:
    keep = [c for c in TEMPLATE_COLUMNS if c != "progress"]
    head = [h for h, c in zip(header(ruleset), TEMPLATE_COLUMNS, strict=True) if c in keep]
    row = [v for v, c in zip(task(status="进行中"), TEMPLATE_COLUMNS, strict=True) if c in keep]
    r = run(Grid("进度表", [head, row]), ruleset)
    assert r.derived["health"].iloc[0] == "red"
    assert str(issues(r)[2]).startswith("(红) 计划 3月10日 完成,已过 8 个工作日")

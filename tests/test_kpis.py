"""One vocabulary (issue 11): 延期 is late now, 逾期完成 finished late; README's KPI table
matches the code; completed tasks have deviation 0."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from sync.pipeline import plan_run
from sync.report import report
from sync.summarize import KPIS
from sync.workdays import CalendarConfig

from .conftest import grid, task
from .fakes import MemoryBackend

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_kpi_table_matches_the_code() -> None:
    section = README.split("### KPIs", 1)[1].split("\n#", 1)[0]
    names = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    assert names == list(KPIS)


def test_delayed_and_finished_late_are_counted_apart(ruleset: Any) -> None:
    rows = [
        # late now: past its finish, not complete
        task(planned_start="2024-03-01", planned_finish="2024-03-10", progress="60%"),
        # finished late: completed 3/15 after its 3/12 plan, with a deviation of 0
        task(
            planned_start="2024-03-01",
            planned_finish="2024-03-12",
            actual_start="2024-03-01",
            actual_finish="2024-03-15",
            progress="100%",
            status="已完成",
        ),
        # finished early: progress 100 while the plan says 50 % → deviation 0, not +50
        task(
            planned_start="2024-03-15",
            planned_finish="2024-03-25",
            actual_start="2024-03-15",
            actual_finish="2024-03-18",
            progress="100%",
            status="已完成",
        ),
    ]
    r = plan_run(
        MemoryBackend(grid(rows, ruleset)).read(),
        ruleset,
        as_of=dt.date(2024, 3, 20),
        now=dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC),
        calendar=CalendarConfig(country="none"),
    )
    assert r.summary.status_counts["delayed"] == 1 and r.summary.finished_late == 1
    assert list(r.derived["deviation"]) == [-40.0, 0.0, 0.0]
    assert list(r.derived["days_late"]) == [10, 3, 0]
    out = report(r)
    assert out["status_counts"]["delayed"] == 1 and out["finished_late"] == 1
    assert r.summary.extras is not None
    # the retrospective counts both, and says so
    assert r.summary.extras.retrospective.risk_in_advance[1] == 2
    # the summary's KPI tiles show both apart (label above its number), each with its definition
    rows = r.desired.summary.rows
    for label, n in (("延期", 1), ("逾期完成", 1)):
        r0, c0 = next((i, j) for i, row in enumerate(rows) for j, v in enumerate(row) if v == label)
        assert rows[r0 + 1][c0] == n, label
    cells = [c for row in rows for c in row if isinstance(c, str)]
    assert any(c.startswith("逾期完成:已完成、实际完成晚于计划完成") for c in cells)
    assert any(c.startswith("延期:已过计划完成") for c in cells)


def test_roll_ups_weighted_by_planned_working_days(ruleset: Any) -> None:
    rows = [
        # one working day (Fri 2026-02-13), done
        task(planned_start="2026-02-13", planned_finish="2026-02-13", progress="100%"),
        # 2026-02-12..02-27 over 春节: 7 working days (Sat 02-14 worked, 02-16..02-23 off)
        task(planned_start="2026-02-12", planned_finish="2026-02-27", progress="0%"),
    ]
    g = grid(rows, ruleset)
    as_of, now = dt.date(2026, 2, 13), dt.datetime(2026, 2, 13, 9, tzinfo=dt.UTC)
    for country, weighted in (("CN", 12.5), ("none", 5.9)):  # 100×1/8; calendar: 100×1/17
        r = plan_run(
            MemoryBackend(g).read(),
            ruleset,
            as_of=as_of,
            now=now,
            calendar=CalendarConfig(country=country),
        )
        phase = r.summary.by_phase.iloc[0]
        assert (phase["avg_progress"], phase["weighted_progress"]) == (50.0, weighted)
    cells = [c for row in r.desired.summary.rows for c in row]
    assert "加权进度%(按计划工作日)" in cells and 5.9 in cells

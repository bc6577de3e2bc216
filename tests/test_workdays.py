"""Working days (issue 11): China's 2026 calendar with 调休, a US case, company days, and
``country: none`` reproducing calendar days. Every expected figure is counted by hand below."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sync.compute import compute
from sync.config import Config
from sync.parse import parse
from sync.pipeline import plan_run
from sync.report import report
from sync.workdays import CalendarConfig, WorkCalendar, build, official_until

from .conftest import grid, task
from .fakes import MemoryBackend

D = dt.date


def cal(country: str = "CN", **kw: Any) -> WorkCalendar | None:
    return build(CalendarConfig(country=country, **kw), [D(2026, 1, 1), D(2026, 12, 31)])


def derived(rows: list[list[Any]], ruleset: Any, as_of: dt.date, **kw: Any) -> pd.DataFrame:
    table = parse(grid(rows, ruleset), ruleset, as_of)
    return compute(table, as_of, 10.0, cal(**kw))


def days(*ds: str) -> np.ndarray:
    return np.array(ds, dtype="datetime64[D]")


def test_china_2026_knows_the_make_up_saturday_and_the_holidays() -> None:
    c = cal()
    assert c is not None
    # 2026-02-14 and 2026-02-28 are Saturdays worked for 春节; 2026-09-20 a Sunday and
    # 2026-10-10 a Saturday worked for 国庆; 02-16..02-20, 02-23 and 10-01..10-07 are off
    assert c.is_workday(days("2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10")).all()
    off = days("2026-02-16", "2026-02-20", "2026-02-23", "2026-10-01", "2026-10-05", "2026-10-07")
    assert not c.is_workday(off).any()
    assert c.is_workday(days("2026-02-13", "2026-02-24", "2026-10-08")).all()
    assert not c.is_workday(days("2026-02-15", "2026-02-21")).any()  # an ordinary weekend


def test_planned_progress_and_days_late_around_spring_festival(ruleset: Any) -> None:
    # planned Thu 02-12 .. Fri 02-27: working days 02-12, 02-13, Sat 02-14 (调休), then
    # 02-15..02-23 off (weekend + 春节 + 02-23 substituted), then 02-24..02-27 → 3 + 4 = 7
    row = task(planned_start="2026-02-12", planned_finish="2026-02-27", progress="0%")
    d = derived([row], ruleset, D(2026, 2, 14))
    assert d["planned_progress"].iloc[0] == 42.9  # 3/7 (calendar days: 3/16 = 18.8)
    d = derived([row], ruleset, D(2026, 2, 23))  # nothing planned during the holiday: still 3/7
    assert d["planned_progress"].iloc[0] == 42.9
    d = derived([row], ruleset, D(2026, 2, 25))  # 02-12, 13, 14, 24, 25: 5/7
    assert d["planned_progress"].iloc[0] == 71.4
    # open, planned finish Fri 02-13, as of Tue 02-24: late on Sat 02-14 and 02-24 → 2
    # working days (11 calendar days)
    late = task(planned_start="2026-02-09", planned_finish="2026-02-13", progress="50%")
    d = derived([late], ruleset, D(2026, 2, 24))
    assert (d["days_late"].iloc[0], d["days_late_calendar"].iloc[0]) == (2, 11)
    # finished on the make-up Saturday: one working day late; finished on 02-23 (a day off):
    # the only working day between is 02-14 → 1 (10 calendar days)
    for finish, expected in (("2026-02-14", (1, 1)), ("2026-02-23", (1, 10))):
        done = task(
            planned_start="2026-02-09",
            planned_finish="2026-02-13",
            actual_start="2026-02-09",
            actual_finish=finish,
            progress="100%",
        )
        d = derived([done], ruleset, D(2026, 3, 2))
        assert (d["days_late"].iloc[0], d["days_late_calendar"].iloc[0]) == expected


def test_a_task_spanning_national_day(ruleset: Any) -> None:
    # planned Wed 09-30 .. Fri 10-09: 10-01..10-07 off, 10-08 and 10-09 worked → 3 working days
    row = task(
        planned_start="2026-09-30",
        planned_finish="2026-10-09",
        actual_start="2026-09-30",
        progress="50%",
    )
    d = derived([row], ruleset, D(2026, 10, 5))  # only 09-30 worked: 1/3 (calendar: 6/10)
    assert d["planned_progress"].iloc[0] == 33.3 and d["health"].iloc[0] == "green"
    d = derived([row], ruleset, D(2026, 10, 8))  # 09-30, 10-08: 2/3 = 66.7, 50 − 66.7 = −16.7
    assert d["planned_progress"].iloc[0] == 66.7 and d["deviation"].iloc[0] == -16.7
    assert d["health"].iloc[0] == "amber"
    none = derived([row], ruleset, D(2026, 10, 8), country="none")  # 9/10 = 90, −40
    assert none["planned_progress"].iloc[0] == 90.0 and none["deviation"].iloc[0] == -40.0
    # a task planned inside the holiday has no working day: 0 until its finish, then 100;
    # open after it, it is late by the working days since: 10-08, 10-09 and Sat 10-10 (调休)
    inside = task(planned_start="2026-10-01", planned_finish="2026-10-07", progress="0%")
    assert derived([inside], ruleset, D(2026, 10, 5))["planned_progress"].iloc[0] == 0.0
    d = derived([inside], ruleset, D(2026, 10, 11))
    assert d["planned_progress"].iloc[0] == 100.0
    assert (d["days_late"].iloc[0], d["days_late_calendar"].iloc[0]) == (3, 4)


def test_united_states_independence_day_observed(ruleset: Any) -> None:
    # 2026-07-04 is a Saturday, observed Fri 07-03. Planned Wed 07-01 .. Tue 07-07: working
    # days 07-01, 07-02, 07-06, 07-07 = 4; as of 07-03 two are done → 50.0 (calendar: 3/7)
    row = task(planned_start="2026-07-01", planned_finish="2026-07-07", progress="0%")
    d = derived([row], ruleset, D(2026, 7, 3), country="US")
    assert d["planned_progress"].iloc[0] == 50.0
    d = derived([row], ruleset, D(2026, 7, 3), country="none")
    assert d["planned_progress"].iloc[0] == 42.9


def test_company_days_and_a_six_day_week(ruleset: Any) -> None:
    row = task(planned_start="2026-06-01", planned_finish="2026-06-12", progress="0%")
    # CN: 06-01..06-12 is two full weeks, 10 working days; as of Wed 06-03 → 3/10
    assert derived([row], ruleset, D(2026, 6, 3))["planned_progress"].iloc[0] == 30.0
    # a company day off on 06-02 and a worked Saturday 06-06: still 10 days, 2 done by 06-03
    d = derived(
        [row],
        ruleset,
        D(2026, 6, 3),
        extra_holidays=["2026-06-02"],
        extra_workdays=["2026-06-06..2026-06-06"],
    )
    assert d["planned_progress"].iloc[0] == 20.0
    # mon..sat: 11 working days (Saturday 06-06 added), 3 done by Wed → 27.3
    six = derived(
        [row], ruleset, D(2026, 6, 3), workweek=["mon", "tue", "wed", "thu", "fri", "sat"]
    )
    assert six["planned_progress"].iloc[0] == 27.3


def test_none_reproduces_calendar_days(seed_grid: Any, ruleset: Any) -> None:
    as_of = D(2024, 3, 20)
    table = parse(seed_grid, ruleset, as_of)
    plain = compute(table, as_of)
    assert cal("none") is None
    pd.testing.assert_frame_equal(compute(table, as_of, 10.0, cal("none")), plain)
    r = plan_run(
        MemoryBackend(seed_grid).read(),
        ruleset,
        as_of=as_of,
        now=dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC),
        calendar=CalendarConfig(country="none"),
    )
    pd.testing.assert_frame_equal(r.derived, plain)
    assert [t["days_late"] for t in report(r)["tasks"]] == [10, 0, 0, 0]
    assert [t["days_late_calendar"] for t in report(r)["tasks"]] == [10, 0, 0, 0]


def test_unpublished_years_warn_once(ruleset: Any, seed_grid: Any) -> None:
    until = official_until("CN")
    assert until is not None and until >= 2026
    assert official_until("US") is None  # rule-based by law: nothing to publish
    c = build(CalendarConfig(), [D(2026, 3, 1), D(until + 1, 1, 5)])
    assert c is not None and c.warning is not None and str(until + 1) in c.warning
    assert build(CalendarConfig(), [D(2026, 3, 1)]).warning is None  # type: ignore[union-attr]
    r = plan_run(
        MemoryBackend(seed_grid).read(),
        ruleset,
        as_of=D(until + 1, 3, 1),
        now=dt.datetime(until + 1, 3, 1, 9, tzinfo=dt.UTC),
        calendar=CalendarConfig(),
    )
    assert r.calendar_warning is not None and report(r)["calendar_warning"] == r.calendar_warning


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ({"country": "XX"}, "unknown country"),
        ({"extra_holidays": ["2026-13-01"]}, "is not a date"),
        ({"extra_workdays": ["2026-05-09..2026-05-01"]}, "ends before it starts"),
        ({"workweek": ["mon", "funday"]}, "not a day of the week"),
    ],
)
def test_bad_calendar_config_is_refused(calendar: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Config.model_validate({"tracker": {"path": "t.xlsx"}, "calendar": calendar})


def test_working_day_maths_at_100k_rows() -> None:
    """The cost of the calendar at 100k tasks (target ≤ 0.1 s; asserted loosely for CI)."""
    n = 100_000
    rng = np.random.default_rng(11)
    start = np.datetime64("2026-01-01") + rng.integers(0, 330, n).astype("timedelta64[D]")
    finish = start + rng.integers(0, 30, n).astype("timedelta64[D]")
    c = cal()
    assert c is not None
    today = np.full(n, np.datetime64("2026-10-08"))
    t0 = time.perf_counter()
    span = c.count(start, finish + 1)
    done = c.count(start, today + 1)
    late = c.count(finish + 1, today + 1)
    elapsed = time.perf_counter() - t0
    assert span.shape == done.shape == late.shape == (n,)
    assert elapsed < 1.0, elapsed


def test_predecessor_lead_time_counts_working_days(ruleset: Any) -> None:
    # the predecessor finishes Wed 09-30; the next task starts Thu 10-08, after 国庆: 8 calendar
    # days, but only one working day (10-08) → short of the 3-day buffer with CN
    first = task(task="物料设计", planned_start="2026-09-21", planned_finish="2026-09-30")
    second = task(
        task="广告投放",
        description="投放3支短视频广告",
        planned_start="2026-10-08",
        planned_finish="2026-10-16",
    )
    g = grid([[*first, None], [*second, "物料设计"]], ruleset)
    g = type(g)(g.title, [[*g.rows[0], "前置任务"], *g.rows[1:]])
    now = dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)

    def lead(country: str) -> list[str]:
        r = plan_run(
            MemoryBackend(g).read(),
            ruleset,
            as_of=D(2026, 9, 1),
            now=now,
            calendar=CalendarConfig(country=country),
        )
        f = r.findings
        return list(f[f["rule"] == "predecessor-lead-time"]["message"])

    assert lead("CN") == [
        "前置任务“物料设计”(第2行)计划完成后1个工作日就开始,应至少留3个工作日缓冲"
    ]
    assert lead("none") == []


def test_the_cli_says_the_calendar_warning_once(tracker_file: Any) -> None:
    from click.testing import CliRunner

    from sync.cli import cli

    config = tracker_file.parent / "config.yaml"
    text = config.read_text("utf-8").replace("country: none", "country: CN")
    config.write_text(text, "utf-8")
    year = (official_until("CN") or 2026) + 1
    args = ["run", "-c", str(config), "--today", f"{year}-03-02", "--dry-run"]
    out = CliRunner().invoke(cli, args).output
    assert (
        out.count(f"warning: calendar CN: the official holidays and make-up workdays for {year}")
        == 1
    )


def test_the_working_day_index_counts_as_busday_count_does() -> None:
    """Counts inside the covered years come from a cumulative index; outside them (and for a
    calendar without years) numpy's busday_count with the holiday list. Both agree."""
    import dataclasses

    cal = build(CalendarConfig(), [dt.date(2025, 3, 1), dt.date(2027, 2, 1)])
    assert cal is not None
    plain = dataclasses.replace(cal, years=frozenset())  # no index: the busday_count path
    rng = np.random.default_rng(7)
    begin = np.datetime64("2025-01-01") + rng.integers(-200, 1300, 5000).astype("timedelta64[D]")
    end = begin + rng.integers(-90, 300, 5000).astype("timedelta64[D]")
    begin[::53] = np.datetime64("NaT")
    np.testing.assert_array_equal(cal.count(begin, end), plain.count(begin, end))
    # 2026-02-14, a Saturday, is a working day; 2026-10-01..07 are not
    days = np.array(["2026-02-14", "2026-02-15", "2026-10-01", "2026-10-08"], dtype="datetime64[D]")
    assert cal.is_workday(days).tolist() == [True, False, False, True]


def test_the_calendar_cache_answers_the_next_run_without_the_holidays_package(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import holidays

    from sync import workdays

    monkeypatch.setattr(workdays, "_OFFICIAL", {})
    with workdays.calendar_cache(tmp_path):
        first = cal()
    assert (tmp_path / "calendars.json").is_file()

    # a new process: nothing remembered, and a package that must not be asked
    monkeypatch.setattr(workdays, "_OFFICIAL", {})

    def not_asked(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the holidays package was asked")

    monkeypatch.setattr(holidays, "country_holidays", not_asked)
    with workdays.calendar_cache(tmp_path):
        again = cal()
    assert again is not None and first is not None
    assert again.off.tolist() == first.off.tolist() and D(2026, 10, 1) in first.off.tolist()
    assert (
        again.extra.tolist()
        == first.extra.tolist()
        == [
            D(2026, 1, 4),
            D(2026, 2, 14),
            D(2026, 2, 28),
            D(2026, 5, 9),
            D(2026, 9, 20),
            D(2026, 10, 10),
        ]
    )
    assert again.warning == first.warning

    # other years are asked of the package (here: refused, so the run fails as it would)
    with pytest.raises(AssertionError), workdays.calendar_cache(tmp_path):
        build(CalendarConfig(), [D(2030, 1, 1)])


@pytest.mark.parametrize(
    "content",
    [
        "{not json",  # damaged
        '{"holidays": "0.0.1", "calendars": []}',  # another version of the package
        '{"holidays": "VERSION", "calendars": [{"country": "CN"}]}',  # an entry missing keys
    ],
)
def test_a_calendar_cache_that_cannot_be_used_is_passed_over_and_rewritten(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    import json
    from importlib import metadata

    from sync import workdays

    monkeypatch.setattr(workdays, "_OFFICIAL", {})
    path = tmp_path / "calendars.json"
    path.write_text(content.replace("VERSION", metadata.version("holidays")), "utf-8")
    with workdays.calendar_cache(tmp_path):
        c = cal()
    assert c is not None and D(2026, 2, 14) in c.extra.tolist()
    saved = json.loads(path.read_text("utf-8"))
    assert saved["holidays"] == metadata.version("holidays")
    assert [(e["country"], e["years"]) for e in saved["calendars"]] == [("CN", [2026])]


def test_the_calendar_cache_is_off_when_its_directory_is_empty_or_unwritable(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync import workdays

    monkeypatch.setenv(workdays.CACHE_DIR_ENV, "")
    assert workdays.cache_dir() is None
    monkeypatch.setenv(workdays.CACHE_DIR_ENV, str(tmp_path / "c"))
    assert workdays.cache_dir() == tmp_path / "c"
    blocked = tmp_path / "file"
    blocked.write_text("not a directory", "utf-8")
    monkeypatch.setattr(workdays, "_OFFICIAL", {})
    with workdays.calendar_cache(blocked / "sub"):  # cannot be made: the run goes on
        assert cal() is not None
    assert blocked.read_text("utf-8") == "not a directory"

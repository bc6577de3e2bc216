"""The timeline's helpers: one row's new state per case, and the history columns read off it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import pandas as pd
import pytest

from sync.parse import parse
from sync.rules import RuleSet
from sync.timeline import (
    HistoryView,
    TaskState,
    TaskStates,
    _existing_task,
    _fresh_task,
    _history_columns,
    _Rows,
    changed_states,
    resolve_ids,
    step,
)

from .conftest import grid, task

TODAY = "2024-03-20"
NOW = "2024-03-20T09:00:00+00:00"
EARLIER = "2024-03-18T15:00:00+00:00"
VALUES = {"planned_start": "2024-03-01", "planned_finish": "2024-03-10", "remarks": ""}


def old(**fields: Any) -> TaskState:
    """A remembered task, last changed two days ago, 40 % done, in progress."""
    base: dict[str, Any] = {
        "task_id": "T0001",
        "key": "k",
        "first_seen": "2024-03-01",
        "last_changed": EARLIER,
        "values": dict(VALUES),
        "baseline_start": "2024-03-01",
        "baseline_finish": "2024-03-10",
        "status": "in_progress",
        "progress": 40.0,
        "progress_max": 40.0,
        "first_progress_day": "2024-03-05",
    }
    return TaskState(**{**base, **fields})


@pytest.mark.parametrize(
    ("status", "progress", "risk_on", "started", "done", "risk_since"),
    [
        ("not_started", None, False, None, None, None),
        ("not_started", 0.0, False, None, None, None),  # 0 % has not started
        ("in_progress", 30.0, True, TODAY, None, NOW),
        ("completed", 30.0, False, TODAY, TODAY, None),  # completed counts as done at any %
        ("in_progress", 100.0, False, TODAY, TODAY, None),
    ],
)
def test_new_task_starts_every_clock_today(
    status: str, progress: float | None, risk_on: bool, started: Any, done: Any, risk_since: Any
) -> None:
    s = _fresh_task(
        None, "T0001", "k", dict(VALUES), status, progress, "2024-03-01", None, risk_on, TODAY, NOW
    )
    assert (s.first_seen, s.last_changed) == (TODAY, NOW)
    assert (s.baseline_start, s.baseline_finish) == ("2024-03-01", None)
    assert (s.progress, s.progress_max) == (progress, progress)
    assert (s.first_progress_day, s.done_day) == (started, done)
    assert (s.risk_since, s.risk_first_seen) == (risk_since, TODAY if risk_on else None)
    assert (s.plan_unexplained, s.progress_before_done, s.deleted) == (False, None, False)


def test_reappeared_task_keeps_first_seen_and_baseline_only() -> None:
    gone = old(deleted=True, plan_unexplained=True, progress_before_done=10.0, done_day="x")
    s = _fresh_task(
        gone, "T0001", "k2", {"remarks": "back"}, None, 20.0, "2024-04-01", None, False, TODAY, NOW
    )
    assert (s.first_seen, s.baseline_start, s.baseline_finish) == (
        "2024-03-01",
        "2024-03-01",
        "2024-03-10",
    )
    assert (s.key, s.values, s.last_changed, s.progress_max) == (
        "k2",
        {"remarks": "back"},
        NOW,
        20.0,
    )
    assert (s.first_progress_day, s.done_day) == (TODAY, None)
    assert (s.plan_unexplained, s.progress_before_done, s.deleted) == (False, None, False)


def test_existing_task_is_the_same_object_when_nothing_moved() -> None:
    before = old()
    after, diff = _existing_task(before, "k", dict(VALUES), "in_progress", 40.0, False, TODAY, NOW)
    assert after is before
    assert diff == []


@pytest.mark.parametrize(
    ("before", "edits", "status", "risk_on", "expected"),
    [
        # the plan moved without a remark: unexplained until the remarks change
        ({}, {"planned_finish": "2024-03-12"}, "in_progress", False, {"plan_unexplained": True}),
        ({}, {"planned_finish": "2024-03-12", "remarks": "KOL"}, "in_progress", False, {}),
        ({"plan_unexplained": True}, {"remarks": "KOL"}, "in_progress", False, {}),
        ({"plan_unexplained": True}, {}, "in_progress", False, {"plan_unexplained": True}),
        # completed: remember the progress seen before, once
        ({}, {}, "completed", False, {"progress_before_done": 40.0, "done_day": TODAY}),
        (
            {"status": "completed", "progress_before_done": 10.0},
            {},
            "completed",
            False,
            {"progress_before_done": 10.0},
        ),
        # the risk clock starts with the first run that sees a risk, and stops when it clears
        ({}, {}, "in_progress", True, {"risk_since": NOW, "risk_first_seen": TODAY}),
        ({"risk_since": EARLIER}, {}, "in_progress", True, {"risk_since": EARLIER}),
        ({"risk_since": EARLIER, "risk_first_seen": "2024-03-18"}, {}, "in_progress", False, {}),
    ],
)
def test_existing_task_remembers(
    before: dict[str, Any],
    edits: dict[str, str],
    status: str,
    risk_on: bool,
    expected: dict[str, Any],
) -> None:
    o = old(**before)
    values = {**VALUES, **edits}
    new, diff = _existing_task(o, "k", values, status, 40.0, risk_on, TODAY, NOW)
    assert diff == list(edits)
    assert new.last_changed == (NOW if edits else EARLIER)
    want = {
        "plan_unexplained": False,
        "progress_before_done": None,
        "risk_since": None,
        "risk_first_seen": o.risk_first_seen,
        "done_day": None,
        **expected,
    }
    assert {k: getattr(new, k) for k in want} == want
    assert (new.first_seen, new.baseline_finish, new.values) == (o.first_seen, "2024-03-10", values)


def test_existing_task_takes_a_new_key_without_counting_as_a_change() -> None:
    new, diff = _existing_task(old(), "k2", dict(VALUES), "in_progress", 40.0, False, TODAY, NOW)
    assert (new.key, new.last_changed, diff) == ("k2", EARLIER, [])


def test_history_columns_are_read_off_each_rows_state() -> None:
    states = [
        old(risk_since=EARLIER, risk_first_seen="2024-03-18"),  # quiet, risk open 42 h
        old(status="completed", progress_before_done=40.0),  # completed after 40 %
        dataclasses.replace(old(), last_changed=NOW, progress=20.0),  # edited, progress went down
        # compared, progress as before; reopened, so its progress before done no longer shows
        old(risk_since=EARLIER, progress_before_done=40.0),
    ]
    rows = _Rows(
        ids=["T0001", "T0002", "T0003", "T0004"],
        keys=["k"] * 4,
        fields=[],
        values=[()] * 4,
        progresses=[40.0, 100.0, 20.0, 40.0],
        statuses=["in_progress", "completed", "in_progress", "in_progress"],
        risks=[True, False, False, True],
        open_risks=[0],  # row 3's risk has a countermeasure
        starts=[None] * 4,
        finishes=[None] * 4,
    )
    frame = _history_columns(
        rows,
        states,
        changed=[False, False, True, False],
        previous={2: 40.0, 3: 40.0},
        as_of=dt.date(2024, 3, 20),
        now=dt.datetime.fromisoformat(NOW),
    )
    assert frame["days_unchanged"].tolist() == [2.0, 2.0, 0.0, 2.0]
    assert _floats(frame["risk_hours_open"]) == [42.0, None, None, None]
    assert _floats(frame["progress_before_done"]) == [None, 40.0, None, None]
    assert _floats(frame["progress_drop"]) == [None, None, 20.0, None]
    assert frame["first_seen"].tolist() == [pd.Timestamp("2024-03-01")] * 4
    assert frame["risk_first_seen"].iloc[0] == pd.Timestamp("2024-03-18")


def test_step_keeps_quiet_states_and_marks_missing_tasks_removed(ruleset: RuleSet) -> None:
    as_of = dt.date(2024, 3, 20)
    now = dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)
    table = parse(grid([task(), task(description="第二条")], ruleset), ruleset, as_of)
    ids = resolve_ids(table, HistoryView())
    first = step(HistoryView(), table, ids, as_of, now)
    gone = old(task_id="T0009", values={})
    long_gone = old(task_id="T0008", deleted=True)  # removed before: no second event
    view = HistoryView(states={**first.states, "T0008": long_gone, "T0009": gone}, max_id=9)
    later = step(view, table, ids, as_of, now + dt.timedelta(hours=1))
    assert [later.states[t] is first.states[t] for t in ids] == [True, True]
    assert later.states["T0009"].deleted and not gone.deleted
    assert later.states["T0008"] is long_gone
    assert later.events == (("T0009", "task", "present", "removed"),)


def _floats(s: pd.Series) -> list[float | None]:
    return [None if math.isnan(v) else v for v in s.tolist()]


def test_task_states_read_back_from_their_blob_as_they_were() -> None:
    states = {
        "T0002": old(task_id="T0002", values={"task": "KOL 种草 🌱", "remarks": ""}),
        "T0001": old(
            risk_since=EARLIER,
            risk_first_seen="2024-03-18",
            plan_unexplained=True,
            progress=None,
            progress_max=100.0,
            progress_before_done=37.5,
        ),
        "T0010": old(task_id="T0010", values={}, status=None, deleted=True),
    }
    frame = TaskStates.of(states)
    back = TaskStates.decode(frame.encode())
    assert list(back) == ["T0002", "T0001", "T0010"]
    assert dict(back) == states
    assert back.fingerprint.tolist() == frame.fingerprint.tolist()
    with pytest.raises(ValueError, match="damaged"):
        TaskStates.decode(frame.encode()[:-3])


@pytest.mark.parametrize(
    ("values", "same"),
    [
        (dict(VALUES), True),
        ({**VALUES, "remarks": "KOL"}, False),
        ({**VALUES, "owner": ""}, False),  # an empty cell of a column the tracker did not have
        ({k: v for k, v in VALUES.items() if k != "remarks"}, False),
    ],
)
def test_a_tasks_fingerprint_is_its_tracked_cells(values: dict[str, str], same: bool) -> None:
    a, b = TaskStates.of([old()]), TaskStates.of([old(values=values)])
    assert bool(a.fingerprint[0] == b.fingerprint[0]) is same


def test_step_on_stored_states_changes_only_the_edited_task(ruleset: RuleSet) -> None:
    as_of = dt.date(2024, 3, 20)
    now = dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)
    rows = [task(), task(description="第二条"), task(description="第三条")]
    table = parse(grid(rows, ruleset), ruleset, as_of)
    ids = resolve_ids(table, HistoryView())
    first = step(HistoryView(), table, ids, as_of, now)
    assert len(changed_states(first.states, {})) == 3
    view = HistoryView(states=TaskStates.decode(first.states.encode()), max_id=3)
    quiet = step(view, table, ids, as_of, now + dt.timedelta(hours=1))
    assert not changed_states(quiet.states, view.states) and quiet.events == ()
    assert dict(quiet.states) == dict(first.states)
    rows[1] = task(description="第二条", remarks="改期")
    edited = parse(grid(rows, ruleset), ruleset, as_of)
    later = step(view, edited, ids, as_of, now + dt.timedelta(hours=2))
    (tid,) = changed_states(later.states, view.states)
    assert tid == ids.iloc[1] and later.states[tid].values["remarks"] == "改期"
    assert later.events == ((tid, "remarks", None, "改期"),)
    assert later.columns["days_unchanged"].tolist() == [0.0, 0.0, 0.0]


def test_changed_states_compares_any_two_sets_of_states() -> None:
    a = {"T0001": old(), "T0002": old(task_id="T0002", progress=None)}
    b = {**a, "T0002": old(task_id="T0002", progress=None, deleted=True), "T0003": old()}
    for new in (b, TaskStates.of(b)):
        assert sorted(changed_states(new, a)) == ["T0002", "T0003"]
        assert not changed_states(new, TaskStates.of(b))

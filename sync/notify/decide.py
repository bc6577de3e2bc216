"""What to send, decided from one run and what the run store remembers (pure: no I/O, no clock).

An *alert* is a (task, kind) that is true in this run:

========== ==============================================================================
kind       true when
========== ==============================================================================
delayed    the computed status is delayed (past the planned finish, or the start with no
           progress and no actual start)
risk       a risk still has no countermeasure after its 24 hours (rule risk-response-overdue)
stale_key  a key task was not updated for more than a day (rule stale-key-task)
fake_done  the sheet says 已完成 but progress is below 100 % or there is no actual finish
           (rule completed-truthful; fake-completion, a jump from below 50 %, stays true
           after the task is really done, so it is not an alert)
========== ==============================================================================

Alerts are sent on state changes only: when (task, kind) becomes true it *opens* (one
alert); while it stays true a *reminder* goes out every ``reminders.key_tasks`` working days
(of ``calendar.*``; calendar days with ``calendar.country: none``) for key
tasks (the 关键任务 column, or within 3 days of the planned start or finish — the rule
stale-key-task's own definition), ``reminders.other_tasks`` days otherwise; when it is no
longer true it *closes* and nothing more is sent. Digests are due once per slot: the day
(``daily_at``) and the ISO week (``weekly_on``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..history import AlertRecord
from ..pipeline import RunResult
from ..workdays import WorkCalendar
from .config import DigestConfig, RemindersConfig, parse_time, parse_weekly

ALERT_KINDS = ("delayed", "risk", "stale_key", "fake_done")
#: alert kind -> the rules whose findings make it true (delayed comes from the computed status)
ALERT_RULES: dict[str, tuple[str, ...]] = {
    "risk": ("risk-response-overdue",),
    "stale_key": ("stale-key-task",),
    "fake_done": ("completed-truthful",),
}
#: a task within this many days of its planned start or finish counts as key (as stale-key-task)
KEY_WINDOW_DAYS = 3


@dataclass(frozen=True)
class Condition:
    """One alert that is true in this run."""

    task_id: str
    kind: str
    row: int
    key: bool


@dataclass(frozen=True)
class Notice:
    """An alert to announce in this run: ``notice`` is 1 for the alert, 2+ for reminders."""

    task_id: str
    kind: str
    row: int
    notice: int
    since: str  # ISO time the alert opened

    @property
    def pair(self) -> tuple[str, str]:
        return (self.task_id, self.kind)


@dataclass(frozen=True)
class AlertDecision:
    """Alerts that open, are reminded of, close, or stay open quietly in this run."""

    opened: tuple[Notice, ...]
    reminded: tuple[Notice, ...]
    closed: tuple[AlertRecord, ...]
    quiet: tuple[Notice, ...]

    @property
    def announced(self) -> tuple[Notice, ...]:
        return self.opened + self.reminded

    @property
    def open_pairs(self) -> set[tuple[str, str]]:
        """Every (task, kind) still true after this run."""
        return {n.pair for n in self.opened + self.reminded + self.quiet}


def conditions(result: RunResult) -> list[Condition]:
    """Every alert true in ``result``, in sheet-row order (needs the run's task IDs)."""
    if result.history is None:
        return []
    table, derived = result.table, result.derived
    ids = result.history.ids.reindex(table.rows)
    key = key_tasks(result)
    found: dict[tuple[int, str], Condition] = {}

    def add(rows: Iterable[int], kind: str) -> None:
        for row in rows:
            tid = ids.get(row)
            if isinstance(tid, str) and (row, kind) not in found:
                found[(row, kind)] = Condition(tid, kind, int(row), bool(key.get(row, False)))

    add(table.rows[(derived["status"] == "delayed").to_numpy()].tolist(), "delayed")
    findings = result.findings
    sheet_status = table.data["status"].reindex(table.rows)
    for kind, rules in ALERT_RULES.items():
        rows = findings.loc[findings["rule"].isin(rules), "row"].astype(int).tolist()
        if kind == "fake_done":
            rows = [r for r in rows if sheet_status.get(r) == "completed"]
        add(sorted(set(rows)), kind)
    return sorted(found.values(), key=lambda c: (c.row, ALERT_KINDS.index(c.kind)))


def key_tasks(result: RunResult) -> pd.Series:
    """Key tasks by sheet row: the 关键任务 column says so, or the as-of day is within 3 days
    of the planned start or finish (the rule stale-key-task's definition)."""
    data = result.table.data
    as_of = pd.Timestamp(result.as_of)
    window = pd.Timedelta(days=KEY_WINDOW_DAYS)
    key = pd.Series(False, index=data.index)
    if "key_task" in data.columns:
        key |= data["key_task"].eq(True).fillna(False).astype(bool)
    for col in ("planned_start", "planned_finish"):
        if col in data.columns:
            day = pd.to_datetime(data[col], errors="coerce")
            key |= ((day - as_of).abs() <= window).fillna(False).astype(bool)
    key.index = result.table.rows
    return key


def days_between(earlier: dt.date, later: dt.date, calendar: WorkCalendar | None = None) -> int:
    """Days from ``earlier`` to ``later`` that count for reminders: the working days after
    ``earlier`` up to ``later`` with a calendar (``calendar.*``), else calendar days.

    >>> days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 8))
    8
    >>> from .. import workdays
    >>> cn = workdays.build(workdays.CalendarConfig(), [dt.date(2026, 10, 1)])
    >>> days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 8), cn)  # 国庆: 10-01..10-07 off
    1
    """
    if calendar is None:
        return (later - earlier).days
    one = np.timedelta64(1, "D")
    b = np.array([earlier], dtype="datetime64[D]") + one
    e = np.array([later], dtype="datetime64[D]") + one
    return int(calendar.count(b, e)[0])


def decide_alerts(
    true_now: list[Condition],
    open_alerts: list[AlertRecord],
    as_of: dt.date,
    reminders: RemindersConfig,
    calendar: WorkCalendar | None = None,
) -> AlertDecision:
    """Compare what is true now with the open alerts the store remembers. Reminder intervals
    count the working days of ``calendar`` (None: calendar days).

    >>> c = Condition("T0001", "delayed", 5, key=False)
    >>> d = decide_alerts([c], [], dt.date(2024, 3, 20), RemindersConfig())
    >>> [(n.task_id, n.notice) for n in d.opened]
    [('T0001', 1)]
    >>> a = AlertRecord(1, "T0001", "delayed", "2024-03-20T09:30:00+08:00", "2024-03-20", 1)
    >>> d = decide_alerts([c], [a], dt.date(2024, 3, 23), RemindersConfig())
    >>> [(n.task_id, n.notice) for n in d.reminded]
    [('T0001', 2)]
    >>> decide_alerts([], [a], dt.date(2024, 3, 21), RemindersConfig()).closed == (a,)
    True
    """
    remembered = {(a.task_id, a.kind): a for a in open_alerts}
    opened, reminded, quiet = [], [], []
    for c in true_now:
        alert = remembered.get((c.task_id, c.kind))
        if alert is None:
            opened.append(Notice(c.task_id, c.kind, c.row, 1, ""))
            continue
        every = reminders.key_tasks if c.key else reminders.other_tasks
        last = dt.date.fromisoformat(alert.last_notice)
        if days_between(last, as_of, calendar) >= every:
            reminded.append(Notice(c.task_id, c.kind, c.row, alert.notices + 1, alert.opened_at))
        else:
            quiet.append(Notice(c.task_id, c.kind, c.row, alert.notices, alert.opened_at))
    true_pairs = {(c.task_id, c.kind) for c in true_now}
    closed = tuple(a for pair, a in remembered.items() if pair not in true_pairs)
    return AlertDecision(tuple(opened), tuple(reminded), closed, tuple(quiet))


def due_digests(as_of: dt.date, now: dt.datetime, digest: DigestConfig) -> list[tuple[str, str]]:
    """(schedule, slot) of each digest due at ``now``: ``daily:2024-03-20`` once ``daily_at``
    has passed on the as-of day, ``weekly:2024-W12`` once ``weekly_on`` has passed in the
    as-of day's ISO week (a run after the time — the next morning's on a Saturday — still
    sends a digest that no run sent).

    >>> at = dt.datetime(2024, 3, 22, 17, 5)
    >>> due_digests(at.date(), at, DigestConfig())
    [('daily', 'daily:2024-03-22'), ('weekly', 'weekly:2024-W12')]
    >>> due_digests(at.date(), at.replace(hour=9), DigestConfig())
    []
    """
    clock = now.time().replace(tzinfo=None)
    due = []
    if digest.daily_at is not None and clock >= parse_time(digest.daily_at):
        due.append(("daily", f"daily:{as_of.isoformat()}"))
    if digest.weekly_on is not None:
        weekday, at = parse_weekly(digest.weekly_on)
        if (as_of.weekday(), clock) >= (weekday, at):
            year, week, _ = as_of.isocalendar()
            due.append(("weekly", f"weekly:{year}-W{week:02d}"))
    return due

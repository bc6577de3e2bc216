"""The pure pipeline: snapshot → parse → ids/history → validate → compute → summarize →
render → diff → write plan. No I/O and no clock (the as-of day and the run's time are
arguments); :mod:`sync.run` adds the two seams (backend, run store) around it, and
:mod:`sync.report` turns a result into ``--json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .checks import Context
from .compute import compute
from .defaults import AMBER_DEVIATION, DEFAULT_LOCALE
from .explain import reasons
from .model import ApplyResult, Snapshot, WritePlan
from .parse import Table, parse
from .plan import diff
from .render import Desired, render
from .rules import InactiveRule, RuleSet
from .summarize import Summary, extras, summarize
from .timeline import HistoryView, Step, resolve_ids, step
from .validate import validate
from .workdays import CalendarConfig, WorkCalendar, build, calendar_days


@dataclass(frozen=True)
class Notification:
    """One message a run sent (or, in a dry run, would send) to one channel (sync.notify)."""

    channel: str
    kind: str  # alert | digest
    task_rows: tuple[int, ...]
    #: False when sending failed (the next run retries) and in a dry run (nothing is sent)
    delivered: bool
    title: str = ""
    #: the message as plain text (dry runs show it)
    text: str = ""
    error: str | None = None


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced; ``applied`` is None when nothing was written. ``now`` is
    the run's clock (``as_of`` is its day), the same for every stage."""

    as_of: dt.date
    snapshot: Snapshot
    table: Table
    findings: pd.DataFrame
    derived: pd.DataFrame
    summary: Summary
    desired: Desired
    plan: WritePlan
    applied: ApplyResult | None = None
    dry_run: bool = False
    requests: dict[str, int] = field(default_factory=lambda: {"read": 1, "write": 0})
    history: Step | None = None
    now: dt.datetime | None = None
    #: enabled rules that did not run: the sheet lacks columns they need (listed once per run)
    inactive_rules: tuple[InactiveRule, ...] = ()
    #: messages sent (or, dry run, that would be sent) after the run; see sync.notify
    notifications: tuple[Notification, ...] = ()
    #: the as-of day or task dates fall in a year the calendar's official schedule does not
    #: cover yet (said once per run); None otherwise
    calendar_warning: str | None = None

    @property
    def has_errors(self) -> bool:
        return bool((self.findings["severity"] == "error").any())


def plan_run(
    snapshot: Snapshot,
    ruleset: RuleSet,
    *,
    as_of: dt.date,
    now: dt.datetime,
    locale: str = DEFAULT_LOCALE,
    amber_deviation: float = AMBER_DEVIATION,
    summary_title: str = "Summary",
    history: HistoryView | None = None,
    calendar: CalendarConfig | None = None,
) -> RunResult:
    """The pure pipeline: a snapshot (and what history remembers) in, a write plan out."""
    view = history or HistoryView()
    parsed = parse(snapshot.tracker, ruleset, as_of, anchors=snapshot.owned_columns)
    ids = resolve_ids(parsed, view)
    hist = step(view, parsed, ids, as_of, now)
    table = parsed.with_history(ids, hist.columns)
    cal = build(calendar or CalendarConfig(country="none"), calendar_days(table.data, as_of))
    ctx = Context(as_of=as_of, locale=locale, tabs=snapshot.tabs, calendar=cal)
    findings = validate(table, ruleset, ctx)
    inactive = tuple(ruleset.for_sheet(table.positions)[1])
    derived = compute(table, as_of, amber_deviation, cal)
    summary = summarize(
        table, derived, findings, as_of, inactive_rules=inactive, weights=_weights(table, cal)
    )
    summary = dataclasses.replace(
        summary, extras=extras(table, derived, summary, view.trend, snapshot.tabs)
    )
    desired = render(
        table,
        derived,
        findings,
        summary,
        tracker_title=snapshot.tracker.title,
        summary_title=summary_title,
        target=snapshot.target,
        locale=locale,
        now=now,
        row_capacity=snapshot.row_capacity,
        reasons=reasons(table, derived, as_of, cal, locale, amber_deviation),
        summary_capacity=snapshot.meta.get("summary_capacity"),
    )
    plan = diff(snapshot, desired)
    return RunResult(
        as_of,
        snapshot,
        table,
        findings,
        derived,
        summary,
        desired,
        plan,
        history=hist,
        now=now,
        inactive_rules=inactive,
        calendar_warning=cal.warning if cal is not None else None,
    )


def _weights(table: Table, cal: WorkCalendar | None) -> pd.Series | None:
    """Planned working days per task (the roll-ups' weights); None: calendar days."""
    if cal is None:
        return None
    d = table.data
    ps = d["planned_start"].to_numpy("datetime64[D]")
    pf = d["planned_finish"].to_numpy("datetime64[D]")
    return pd.Series(cal.count(ps, pf + np.timedelta64(1, "D")), index=d.index)

"""One run: read → parse → validate → compute → summarize → render → diff → apply.

Everything in :func:`plan_run` is pure (no I/O, no clock); :func:`sync` adds the two seams.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .backends import Backend, open_backend
from .checks import Context
from .compute import compute
from .config import Config
from .errors import BackendUnavailable, ConfigError, RetryRun, TrackerError, TrackerSyncError
from .history import History, human_snapshot
from .model import ApplyResult, RequestCounter, Snapshot, WritePlan
from .parse import Table, parse
from .plan import diff
from .render import Desired, render
from .rules import RuleSet, load_rules
from .summarize import Summary, extras, summarize
from .timeline import Event, HistoryView, Step, TaskState, rebaseline, resolve_ids, step
from .validate import validate


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced; ``applied`` is None when nothing was written."""

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

    @property
    def has_errors(self) -> bool:
        return bool((self.findings["severity"] == "error").any())


def plan_run(
    snapshot: Snapshot,
    ruleset: RuleSet,
    *,
    as_of: dt.date,
    now: dt.datetime,
    locale: str = "zh-CN",
    amber_deviation: float = 10.0,
    summary_title: str = "Summary",
    history: HistoryView | None = None,
) -> RunResult:
    """The pure pipeline: a snapshot (and what history remembers) in, a write plan out."""
    view = history or HistoryView()
    parsed = parse(snapshot.tracker, ruleset, as_of, anchors=snapshot.anchors)
    ids = resolve_ids(parsed, view)
    hist = step(view, parsed, ids, as_of, now)
    table = parsed.with_history(ids, hist.columns)
    findings = validate(table, ruleset, Context(as_of=as_of, locale=locale, tabs=snapshot.tabs))
    derived = compute(table, as_of, amber_deviation)
    summary = summarize(table, derived, findings, as_of)
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
    )
    plan = diff(snapshot, desired)
    return RunResult(
        as_of, snapshot, table, findings, derived, summary, desired, plan, history=hist
    )


def zone(config: Config, snapshot: Snapshot | None = None) -> dt.tzinfo:
    """The configured time zone, else the sheet's own, else the machine's."""
    name = config.timezone or (snapshot.time_zone if snapshot else None)
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    tz = dt.datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


def sync(
    config: Config,
    *,
    as_of: dt.date | None = None,
    write: bool = True,
    backend: Backend | None = None,
    now: dt.datetime | None = None,
) -> RunResult:
    """Read the tracker, run the pipeline and (if ``write``) apply the plan in one atomic step.

    >>> result = sync(load_config("demo/config.yaml"), write=False)  # doctest: +SKIP
    """
    ruleset = load_rules(config.rule_dirs())
    backend = backend or open_backend(config)
    if isinstance(getattr(backend, "requests", None), RequestCounter):
        backend.requests = RequestCounter()  # type: ignore[attr-defined]  # counts are per run
    path = config.history_path()
    store = History(path) if path is not None else None
    try:
        if store is None or not write:
            view = store.view() if store is not None else HistoryView()
            return _sync(config, ruleset, backend, view, as_of=as_of, write=write, now=now)
        with store.lock(backend.target):
            started = now or dt.datetime.now(dt.UTC)
            view = store.view()
            try:
                result = _sync(config, ruleset, backend, view, as_of=as_of, write=True, now=now)
            except TrackerSyncError as exc:
                store.record(
                    started_at=started,
                    outcome="failed",
                    message=str(exc).splitlines()[0],
                    target=backend.target,
                )
                raise
            _record(store, result, started, view)
            return result
    finally:
        if store is not None:
            store.close()


def _changed_states(new: dict[str, TaskState], old: dict[str, TaskState]) -> dict[str, TaskState]:
    """Only the task states this run changed (a quiet run writes none)."""
    return {tid: s for tid, s in new.items() if old.get(tid) != s}


def _record(store: History, result: RunResult, started: dt.datetime, view: HistoryView) -> None:
    table, summary = result.table, result.summary
    generated = set(result.desired.positions.values()) | set(table.generated_cols.values())
    counts = dict(summary.findings_by_severity)
    counts |= {
        "rows": len(table),
        "cells_written": result.applied.cells_written if result.applied else 0,
    }
    kpis = {
        "total": summary.total,
        "completion_rate": summary.completion_rate,
        "delayed": summary.status_counts["delayed"],
        "avg_deviation": summary.avg_deviation,
        "status_counts": summary.status_counts,
    }
    step_ = result.history
    store.record(
        started_at=started,
        outcome="written" if result.applied is not None else "unchanged",
        as_of=result.as_of,
        target=result.snapshot.target,
        worksheet=result.snapshot.tracker.title,
        counts=counts,
        requests=result.requests,
        kpis=kpis,
        snapshot=human_snapshot(
            result.snapshot.tracker.rows, generated, result.snapshot.tracker.title
        ),
        findings=[
            {str(k): v for k, v in f.items()}
            for f in result.findings.astype({"row": int}).to_dict("records")
        ],
        states=_changed_states(step_.states, view.states) if step_ else None,
        events=step_.events if step_ else (),
    )


def _sync(
    config: Config,
    ruleset: RuleSet,
    backend: Backend,
    view: HistoryView,
    *,
    as_of: dt.date | None,
    write: bool,
    now: dt.datetime | None,
) -> RunResult:
    replans = 0
    while True:
        snapshot = backend.read()
        tz = zone(config, snapshot)
        run_now = now or dt.datetime.now(tz)
        day = as_of or run_now.astimezone(tz).date()
        result = plan_run(
            snapshot,
            ruleset,
            as_of=day,
            now=run_now,
            locale=config.locale,
            amber_deviation=config.thresholds.amber_deviation,
            summary_title=config.summary_title(),
            history=view,
        )
        if not write or result.plan.is_empty:
            return _replace(result, dry_run=not write, requests=_counts(backend))
        try:
            applied = backend.apply(snapshot, result.plan)
        except RetryRun as exc:
            # the write's outcome was unknown, or people moved rows under it: start over
            replans += 1
            if replans > getattr(backend, "replans", 0):
                raise BackendUnavailable(
                    f"{backend.target}: gave up after {replans} attempts: {exc}"
                ) from None
            continue
        return _replace(result, applied=applied, requests=_counts(backend))


def _counts(backend: Backend) -> dict[str, int]:
    counter = getattr(backend, "requests", None)
    if isinstance(counter, RequestCounter):
        return counter.as_dict()
    return {"read": 1, "write": 0}


def _replace(result: RunResult, **changes: Any) -> RunResult:
    from dataclasses import replace

    return replace(result, **changes)


def report(result: RunResult) -> dict[str, Any]:
    """The ``--json`` object."""
    d = result.derived
    table = result.table
    columns = {
        "row": table.rows.tolist(),
        "status": d["status"].tolist(),
        "progress": [_num(v) for v in table.data["progress"].tolist()],
        "planned_progress": [_num(v) for v in d["planned_progress"].tolist()],
        "deviation": [_num(v) for v in d["deviation"].tolist()],
        "days_late": [None if v is pd.NA else int(v) for v in d["days_late"].tolist()],
        "health": d["health"].tolist(),
    }
    tasks = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    findings = result.findings.astype({"row": int}).to_dict("records")
    applied = result.applied
    return {
        "as_of": result.as_of.isoformat(),
        "tracker": result.snapshot.target,
        "worksheet": result.snapshot.tracker.title,
        "rows": len(table),
        "status_counts": result.summary.status_counts,
        "completion_rate": result.summary.completion_rate,
        "findings": findings,
        "tasks": tasks,
        "cells_written": applied.cells_written if applied else 0,
        "requests": result.requests,
        "dry_run": result.dry_run,
        "planned_cells": result.plan.cell_count,
    }


def _num(v: Any) -> float | None:
    """A number for JSON: None for missing and for ±inf (strict JSON has no Infinity)."""
    if v is None or v is pd.NA or v != v:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def init_spreadsheet(
    spreadsheet: str,
    base: Config | None = None,
    *,
    worksheet: str | None = None,
    locale: str | None = None,
) -> str:
    """Add a tracker tab from the seed template to a Google spreadsheet, then run the first sync
    on it so its generated columns, their warning-only protection and the summary tab exist.
    Returns the tab's title. ``base`` supplies the google: section (credentials, endpoint)."""
    from .backends.gsheets import SheetsBackend
    from .demo import default_tab_title, template_columns, template_statuses

    lang = locale or (base.locale if base else "zh-CN")
    title = worksheet or (base.tracker.worksheet if base else None) or default_tab_title(lang)
    data: dict[str, Any] = {
        "tracker": {"backend": "gsheets", "spreadsheet": spreadsheet, "worksheet": title},
        "locale": lang,
    }
    if base is not None:
        data["tracker"]["summary_worksheet"] = base.tracker.summary_worksheet
        google = base.google.model_dump()
        google["credentials"] = (
            base.resolve(base.google.credentials) if base.google.credentials else None
        )
        data["google"] = google
    config = Config.model_validate(data)
    backend = open_backend(config)
    assert isinstance(backend, SheetsBackend)
    ruleset = load_rules(config.rule_dirs())
    backend.create_tracker_tab(title, template_columns(ruleset, lang), template_statuses(lang))
    sync(config, backend=backend)
    return title


def _store(config: Config) -> History:
    path = config.history_path()
    if path is None:
        raise ConfigError(
            "history is off (history.enabled: false, or a config without a file); "
            "this command needs the run store — set history.enabled: true"
        )
    return History(path)


def reset_baseline(
    config: Config, *, as_of: dt.date | None = None, backend: Backend | None = None
) -> int:
    """Make every task's current planned dates its baseline; recorded in history. Returns the
    number of tasks whose baseline moved."""
    ruleset = load_rules(config.rule_dirs())
    backend = backend or open_backend(config)
    store = _store(config)
    try:
        with store.lock(backend.target):
            started = dt.datetime.now(dt.UTC)
            result = _sync(
                config, ruleset, backend, store.view(), as_of=as_of, write=False, now=None
            )
            assert result.history is not None
            before = result.history.states
            after = rebaseline(before)
            events = tuple(
                Event(
                    tid,
                    "baseline",
                    f"{s.baseline_start}..{s.baseline_finish}",
                    f"{after[tid].baseline_start}..{after[tid].baseline_finish}",
                )
                for tid, s in before.items()
                if not s.deleted
                and (s.baseline_start, s.baseline_finish)
                != (after[tid].baseline_start, after[tid].baseline_finish)
            )
            store.record(
                started_at=started,
                outcome="baseline-reset",
                as_of=result.as_of,
                target=result.snapshot.target,
                worksheet=result.snapshot.tracker.title,
                states=after,
                events=result.history.events + events,
            )
            return len(events)
    finally:
        store.close()


def restore_run(config: Config, run_id: int, tab: str, *, backend: Backend | None = None) -> int:
    """Write the human columns as run ``run_id`` read them into a new tab ``tab`` (never the
    live tab). Returns the number of rows written."""
    store = _store(config)
    try:
        snapshot = store.snapshot(run_id)
    finally:
        store.close()
    backend = backend or open_backend(config)
    if tab == snapshot["title"]:
        raise TrackerError(
            f"restore never writes the live tab {tab!r}; choose a new tab name with --to-tab"
        )
    add_tab = getattr(backend, "add_tab", None)
    if add_tab is None:
        raise TrackerError(f"{backend.target}: this backend cannot add a tab")
    rows: list[list[Any]] = snapshot["rows"]
    add_tab(tab, rows)
    return len(rows)

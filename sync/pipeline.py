"""One run: read → parse → validate → compute → summarize → render → diff → apply.

Everything in :func:`plan_run` is pure (no I/O, no clock); :func:`sync` adds the two seams.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .backends import Backend, open_backend
from .checks import Context
from .compute import compute
from .config import Config
from .model import ApplyResult, Snapshot, WritePlan
from .parse import Table, parse
from .plan import diff
from .render import Desired, render
from .rules import RuleSet, load_rules
from .summarize import Summary, summarize
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
) -> RunResult:
    """The pure pipeline: a snapshot in, a write plan (and all that led to it) out."""
    table = parse(snapshot.tracker, ruleset, as_of)
    findings = validate(table, ruleset, Context(as_of=as_of, locale=locale))
    derived = compute(table, as_of, amber_deviation)
    summary = summarize(table, derived, findings, as_of)
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
    )
    plan = diff(snapshot, desired)
    return RunResult(as_of, snapshot, table, findings, derived, summary, desired, plan)


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
    snapshot = backend.read()
    tz = zone(config, snapshot)
    now = now or dt.datetime.now(tz)
    as_of = as_of or now.astimezone(tz).date()
    result = plan_run(
        snapshot,
        ruleset,
        as_of=as_of,
        now=now,
        locale=config.locale,
        amber_deviation=config.thresholds.amber_deviation,
        summary_title=config.summary_title(),
    )
    if not write:
        return _replace(result, dry_run=True)
    if result.plan.is_empty:
        return result
    applied = backend.apply(snapshot, result.plan)
    return _replace(result, applied=applied)


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
        "requests": {"read": 1, "write": applied.requests if applied else 0},
        "dry_run": result.dry_run,
        "planned_cells": result.plan.cell_count,
    }


def _num(v: Any) -> float | None:
    return None if v is None or v is pd.NA or v != v else float(v)

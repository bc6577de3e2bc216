"""A run's result for people and programs: the ``--json`` object and the readable write plan."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .pipeline import Notification, RunResult


def report(result: RunResult, *, plan: bool = False) -> dict[str, Any]:
    """The ``--json`` object; ``plan=True`` adds ``"plan"`` (:meth:`WritePlan.to_dict`), as
    ``run --dry-run --json`` prints it."""
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
        "days_late_calendar": [
            None if v is pd.NA else int(v)
            for v in (d["days_late_calendar"] if "days_late_calendar" in d else d["days_late"])
        ],
    }
    tasks = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    findings = result.findings.astype({"row": int}).to_dict("records")
    applied = result.applied
    out: dict[str, Any] = {
        "as_of": result.as_of.isoformat(),
        "now": result.now.isoformat() if result.now else None,
        "tracker": result.snapshot.target,
        "worksheet": result.snapshot.tracker.title,
        "rows": len(table),
        "status_counts": result.summary.status_counts,
        "completion_rate": result.summary.completion_rate,
        # 延期 (late now) is status_counts["delayed"]; 逾期完成 (finished late) is this
        "finished_late": result.summary.finished_late,
        "findings": findings,
        "inactive_rules": [{"id": r.id, "missing": list(r.missing)} for r in result.inactive_rules],
        "repeated_header_rows": list(result.summary.repeated_header_rows),
        "calendar_warning": result.calendar_warning,
        "tasks": tasks,
        "cells_written": applied.cells_written if applied else 0,
        "requests": result.requests,
        "dry_run": result.dry_run,
        "planned_cells": result.plan.cell_count,
        "notifications": [_notification(n, result.dry_run) for n in result.notifications],
    }
    if plan:
        out["plan"] = result.plan.to_dict()
    return out


def plan_lines(plan: dict[str, Any], limit: int = 40) -> list[str]:
    """A write plan (``WritePlan.to_dict()``) as lines for a terminal: the first ``limit``
    cells as ``tab!A1: old → new``, then tabs, new columns and highlight rules.

    >>> plan_lines({"cells": [{"tab": "T", "a1": "O2", "old": None, "new": "延期"}],
    ...             "tabs": [], "new_columns": [], "conditional_formats": [],
    ...             "replaces_conditional_formats": False, "metadata": False})
    ["T!O2: ∅ → '延期'"]
    """
    lines = []
    cells = plan["cells"]
    for c in cells[:limit]:
        lines.append(f"{c['tab']}!{c['a1']}: {_show(c['old'])} → {_show(c['new'])}")
    if len(cells) > limit:
        lines.append(f"... and {len(cells) - limit} more cells (--json lists every cell)")
    for col in plan["new_columns"]:
        lines.append(f"new column {col['column']}: {col['key']}")
    for tab in plan["tabs"]:
        charts = f", {tab['charts']} charts" if tab["charts"] else ""
        lines.append(f"tab {tab['title']!r}: {tab['action']} ({tab['cells']} cells{charts})")
    if plan["replaces_conditional_formats"]:
        lines.append(
            f"highlight rules: the job's own replaced by {len(plan['conditional_formats'])}"
        )
    if plan["metadata"]:
        lines.append("the job's metadata: updated")
    return lines


def _notification(n: Notification, dry_run: bool) -> dict[str, Any]:
    """``{channel, kind, task_rows, delivered}`` (+ title; the error when it failed; the text
    in a dry run)."""
    out: dict[str, Any] = {
        "channel": n.channel,
        "kind": n.kind,
        "task_rows": list(n.task_rows),
        "delivered": n.delivered,
        "title": n.title,
    }
    if n.error:
        out["error"] = n.error
    if dry_run:
        out["text"] = n.text
    return out


def _show(v: Any) -> str:
    return "∅" if v is None or v == "" else repr(v)


def _num(v: Any) -> float | None:
    """A number for JSON: None for missing and for ±inf (strict JSON has no Infinity)."""
    if v is None or v is pd.NA or v != v:
        return None
    f = float(v)
    return f if math.isfinite(f) else None

"""What history says about each task: identity across runs, changes, baselines (pure functions).

The run store (``sync.history``) keeps one :class:`TaskState` per task ID. Each run,
:func:`step` compares the tracker as it is now with those states and returns

- the task ID of every row (kept, matched back by phase + channel + description, or new),
- the history columns the rules can use (``days_unchanged``, ``risk_hours_open`` ...),
- the new states and the cell-by-cell events to record.

No I/O and no clock: the run's time is an argument.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from .parse import Table

#: Human fields whose change counts as "the task was updated".
TRACKED = (
    "phase",
    "channel",
    "task",
    "description",
    "owner",
    "planned_start",
    "planned_finish",
    "actual_start",
    "actual_finish",
    "progress",
    "status",
    "risk",
    "countermeasure",
    "remarks",
)
ID_PATTERN = re.compile(r"^T\d{4,}$")

#: The columns :func:`step` adds to the table (declared in rules/columns.yaml, source: history).
HISTORY_COLUMNS = (
    "first_seen",
    "days_unchanged",
    "risk_hours_open",
    "risk_first_seen",
    "plan_unexplained",
    "progress_before_done",
    "progress_drop",
    "baseline_start",
    "baseline_finish",
)


@dataclass(frozen=True)
class TaskState:
    """Everything remembered about one task after the last recorded run."""

    task_id: str
    key: str
    first_seen: str  # ISO date
    last_changed: str  # ISO datetime
    values: dict[str, str] = field(default_factory=dict)
    baseline_start: str | None = None
    baseline_finish: str | None = None
    status: str | None = None
    progress: float | None = None
    progress_max: float | None = None
    first_progress_day: str | None = None
    done_day: str | None = None
    risk_since: str | None = None
    risk_first_seen: str | None = None
    plan_unexplained: bool = False
    progress_before_done: float | None = None
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "task_id"}

    @classmethod
    def from_json(cls, task_id: str, data: dict[str, Any]) -> TaskState:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(task_id=task_id, **known)


@dataclass(frozen=True)
class TrendPoint:
    """The last run of one day, for the trend table and chart."""

    day: dt.date
    completion_rate: float
    delayed: int
    avg_deviation: float | None


@dataclass(frozen=True)
class HistoryView:
    """What the run store hands the pure pipeline (empty when there is no history yet)."""

    states: dict[str, TaskState] = field(default_factory=dict)
    trend: tuple[TrendPoint, ...] = ()
    max_id: int = 0


@dataclass(frozen=True)
class Event:
    """One cell of one task that changed (or a task that appeared / disappeared)."""

    task_id: str
    field: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class Step:
    """The result of comparing this run with history."""

    ids: pd.Series  # task ID by sheet row
    columns: pd.DataFrame  # history columns by sheet row
    states: dict[str, TaskState]
    events: tuple[Event, ...]


def task_key(phase: Any, channel: Any, description: Any) -> str:
    return "\x1f".join(str(v or "").strip().lower() for v in (phase, channel, description))


def resolve_ids(table: Table, view: HistoryView) -> pd.Series:
    """A task ID per row: the row's own if valid and unique; else the ID of a remembered task
    with the same phase + channel + description that no other row claims; else a new one."""
    ids = table.ids.reindex(table.rows)
    text = ids.astype(object).where(ids.notna(), "").astype(str).str.strip()
    valid = text.where(text.str.match(ID_PATTERN.pattern), None)
    valid = valid.where(~valid.duplicated(keep="first") | valid.isna(), None)
    out: dict[int, str] = {
        int(r): v
        for r, v in zip(valid.index.tolist(), valid.tolist(), strict=True)
        if isinstance(v, str)
    }
    claimed = set(out.values())
    by_key: dict[str, list[str]] = {}
    for sid, state in view.states.items():
        if not state.deleted or sid not in claimed:
            by_key.setdefault(state.key, []).append(sid)
    keys = _keys(table)
    numbers = [int(v[1:]) for v in claimed] + [view.max_id]
    next_id = max(numbers, default=0) + 1
    for row in table.rows:
        r = int(row)
        if r in out:
            continue
        match = next((sid for sid in by_key.get(keys[r], []) if sid not in claimed), None)
        if match is None:
            match = f"T{next_id:04d}"
            next_id += 1
        out[r] = match
        claimed.add(match)
    return pd.Series([out[int(r)] for r in table.rows], index=table.rows, dtype=object)


def _keys(table: Table) -> dict[int, str]:
    d = table.data
    return {
        int(r): task_key(p, c, s)
        for r, p, c, s in zip(table.rows, d["phase"], d["channel"], d["description"], strict=True)
    }


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _day(value: Any) -> str | None:
    return (
        None
        if value is None or value is pd.NaT or pd.isna(value)
        else pd.Timestamp(value).date().isoformat()
    )


def step(view: HistoryView, table: Table, ids: pd.Series, as_of: dt.date, now: dt.datetime) -> Step:
    """Compare the tracker with what history remembers; see the module docstring."""
    d = table.data
    fields = [f for f in TRACKED if f in d.columns]
    now_iso = now.isoformat()
    today = as_of.isoformat()
    keys = _keys(table)
    states: dict[str, TaskState] = dict(view.states)
    events: list[Event] = []
    cols: dict[str, list[Any]] = {c: [] for c in HISTORY_COLUMNS}
    present = table.present
    seen: set[str] = set()
    values_by_field = {f: [_cell(v) for v in d[f].tolist()] for f in fields}
    progresses = [_num(v) for v in d["progress"].tolist()]
    statuses = [v if isinstance(v, str) else None for v in d["status"].tolist()]
    risks = present["risk"].tolist()
    cms = present["countermeasure"].tolist()
    starts = [_day(v) for v in d["planned_start"].tolist()]
    finishes = [_day(v) for v in d["planned_finish"].tolist()]
    id_list = [str(v) for v in ids.reindex(table.rows).tolist()]
    for i, row in enumerate(table.rows):
        tid = id_list[i]
        seen.add(tid)
        values = {f: values_by_field[f][i] for f in fields}
        old = view.states.get(tid)
        progress = progresses[i]
        status = statuses[i]
        risk_on = bool(risks[i])
        cm_on = bool(cms[i])
        ps, pf = starts[i], finishes[i]
        if old is None or old.deleted:
            changed = list(fields)
            new = TaskState(
                task_id=tid,
                key=keys[int(row)],
                first_seen=old.first_seen if old else today,
                last_changed=now_iso,
                values=values,
                baseline_start=old.baseline_start if old else ps,
                baseline_finish=old.baseline_finish if old else pf,
                status=status,
                progress=progress,
                progress_max=progress,
                first_progress_day=today if (progress or 0) > 0 else None,
                done_day=today if status == "completed" or (progress or 0) >= 100 else None,
                risk_since=now_iso if risk_on else None,
                risk_first_seen=today if risk_on else None,
            )
            events.append(Event(tid, "task", None, "appeared" if old is None else "reappeared"))
            drop = math.nan
            before_done = math.nan
            plan_unexplained = False
        else:
            changed = [f for f in fields if old.values.get(f, "") != values[f]]
            for f in changed:
                events.append(Event(tid, f, old.values.get(f) or None, values[f] or None))
            plan_moved = any(f in changed for f in ("planned_start", "planned_finish"))
            remarks_changed = "remarks" in changed
            plan_unexplained = (old.plan_unexplained or plan_moved) and not remarks_changed
            prev_progress = old.progress
            drop = (
                (prev_progress - progress)
                if (prev_progress is not None and progress is not None and progress < prev_progress)
                else math.nan
            )
            if status != "completed":
                before_done = math.nan
            elif old.status == "completed":  # still completed: keep what it jumped from, if it did
                before_done = (
                    math.nan if old.progress_before_done is None else old.progress_before_done
                )
            else:  # it became completed in this run
                before_done = math.nan if prev_progress is None else prev_progress
            new = replace(
                old,
                key=keys[int(row)],
                last_changed=now_iso if changed else old.last_changed,
                values=values,
                status=status,
                progress=progress,
                progress_max=_max(old.progress_max, progress),
                first_progress_day=old.first_progress_day
                or (today if (progress or 0) > 0 else None),
                done_day=old.done_day
                or (today if status == "completed" or (progress or 0) >= 100 else None),
                risk_since=(old.risk_since or now_iso) if risk_on else None,
                risk_first_seen=old.risk_first_seen or (today if risk_on else None),
                plan_unexplained=plan_unexplained,
                progress_before_done=None
                if status != "completed" or math.isnan(before_done)
                else before_done,
            )
        states[tid] = new
        last = dt.datetime.fromisoformat(new.last_changed)
        cols["first_seen"].append(pd.Timestamp(new.first_seen))
        cols["days_unchanged"].append(float((as_of - last.date()).days) if not changed else 0.0)
        since = dt.datetime.fromisoformat(new.risk_since) if new.risk_since else None
        cols["risk_hours_open"].append(
            (now - since).total_seconds() / 3600 if since and risk_on and not cm_on else math.nan
        )
        cols["risk_first_seen"].append(
            pd.Timestamp(new.risk_first_seen) if new.risk_first_seen else pd.NaT
        )
        cols["plan_unexplained"].append(bool(plan_unexplained))
        cols["progress_before_done"].append(before_done)
        cols["progress_drop"].append(drop)
        cols["baseline_start"].append(
            pd.Timestamp(new.baseline_start) if new.baseline_start else pd.NaT
        )
        cols["baseline_finish"].append(
            pd.Timestamp(new.baseline_finish) if new.baseline_finish else pd.NaT
        )
    for tid, state in view.states.items():
        if tid not in seen and not state.deleted:
            states[tid] = replace(state, deleted=True)
            events.append(Event(tid, "task", "present", "removed"))
    frame = pd.DataFrame(cols, index=table.rows)
    for c in ("first_seen", "baseline_start", "baseline_finish", "risk_first_seen"):
        frame[c] = pd.to_datetime(frame[c])
    return Step(ids=ids, columns=frame, states=states, events=tuple(events))


def rebaseline(states: dict[str, TaskState]) -> dict[str, TaskState]:
    """Every task's baseline becomes its current planned dates."""
    return {
        tid: replace(
            s,
            baseline_start=s.values.get("planned_start") or None,
            baseline_finish=s.values.get("planned_finish") or None,
            plan_unexplained=False,
        )
        for tid, s in states.items()
    }


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _max(a: float | None, b: float | None) -> float | None:
    vals = [x for x in (a, b) if x is not None]
    return max(vals) if vals else None

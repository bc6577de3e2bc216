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
from typing import Any, NamedTuple

import pandas as pd

from .parse import Table
from .rules import TEMPLATE_COLUMNS

#: Human fields whose change counts as "the task was updated": the seed template's columns.
TRACKED = TEMPLATE_COLUMNS
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


@dataclass(slots=True)
class TaskState:
    """Everything remembered about one task after the last recorded run (treat as immutable:
    :func:`step` makes new ones with ``dataclasses.replace``)."""

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
        return {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "task_id"}

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


class Event(NamedTuple):
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


def resolve_ids(table: Table, view: HistoryView) -> pd.Series:
    """A task ID per row: the row's own if valid and unique; else the ID of a remembered task
    with the same phase + channel + description that no other row claims; else a new one."""
    ids = table.ids.reindex(table.rows)
    text = ids.astype(object).where(ids.notna(), "").astype(str).str.strip()
    valid = text.where(text.str.match(ID_PATTERN.pattern), None)
    valid = valid.where(~valid.duplicated(keep="first") | valid.isna(), None)
    out = valid.tolist()
    claimed = {v for v in out if isinstance(v, str)}
    missing = [i for i, v in enumerate(out) if not isinstance(v, str)]
    if not missing:
        return pd.Series(out, index=table.rows, dtype=object)
    by_key: dict[str, list[str]] = {}
    for sid, state in view.states.items():
        if sid not in claimed:
            by_key.setdefault(state.key, []).append(sid)
    keys = row_keys(table)
    numbers = [int(v[1:]) for v in claimed] + [view.max_id]
    next_id = max(numbers, default=0) + 1
    for i in missing:
        match = next((sid for sid in by_key.get(keys[i], []) if sid not in claimed), None)
        if match is None:
            match = f"T{next_id:04d}"
            next_id += 1
        out[i] = match
        claimed.add(match)
    return pd.Series(out, index=table.rows, dtype=object)


def row_keys(table: Table) -> list[str]:
    """phase + channel + description of every row, folded (the fallback identity)."""
    cached: list[str] | None = table.__dict__.get("_row_keys")
    if cached is not None:
        return cached
    parts = [
        table.data[c]
        .astype(object)
        .where(table.data[c].notna(), "")
        .astype(str)
        .str.strip()
        .str.lower()
        for c in ("phase", "channel", "description")
    ]
    keys: list[str] = (parts[0] + "\x1f" + parts[1] + "\x1f" + parts[2]).tolist()
    table.__dict__["_row_keys"] = keys
    return keys


def _texts(s: pd.Series) -> list[str]:
    """A typed column as the text history compares (dates as ISO days, numbers compact)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        days: list[str] = s.dt.strftime("%Y-%m-%d").fillna("").tolist()
        return days
    codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
    texts = [_cell(u) for u in uniques] + [""]
    return [texts[c] for c in codes]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _none_if_empty(values: list[str]) -> list[str | None]:
    return [v or None for v in values]


def step(view: HistoryView, table: Table, ids: pd.Series, as_of: dt.date, now: dt.datetime) -> Step:
    """Compare the tracker with what history remembers; see the module docstring."""
    d = table.data
    fields = [f for f in TRACKED if f in d.columns]
    now_iso = now.isoformat()
    today = as_of.isoformat()
    keys = row_keys(table)
    states: dict[str, TaskState] = dict(view.states)
    events: list[Event] = []
    texts = {f: _texts(d[f]) for f in fields}
    rows_values = (
        list(zip(*(texts[f] for f in fields), strict=True)) if fields else [()] * len(table)
    )
    progresses = [None if v != v else float(v) for v in d["progress"].astype(float).tolist()]
    statuses = [v if isinstance(v, str) else None for v in d["status"].tolist()]
    risks = table.present["risk"].tolist()
    cms = table.present["countermeasure"].tolist()
    starts = _none_if_empty(texts.get("planned_start") or _texts(d["planned_start"]))
    finishes = _none_if_empty(texts.get("planned_finish") or _texts(d["planned_finish"]))
    id_list = [str(v) for v in ids.reindex(table.rows).tolist()]
    n = len(id_list)
    first_seen: list[str] = [""] * n
    days_unchanged = [0.0] * n
    risk_hours = [math.nan] * n
    risk_first: list[str | None] = [None] * n
    unexplained = [False] * n
    before_done = [math.nan] * n
    drops = [math.nan] * n
    base_start: list[str | None] = [None] * n
    base_finish: list[str | None] = [None] * n
    seen: set[str] = set()
    remembered = view.states.get
    for i, tid in enumerate(id_list):
        seen.add(tid)
        old = remembered(tid)
        risk_on = bool(risks[i])
        if old is None:  # a task seen for the first time: the common case of a first run
            p, st = progresses[i], statuses[i]
            states[tid] = TaskState(
                tid,
                keys[i],
                today,
                now_iso,
                dict(zip(fields, rows_values[i], strict=True)),
                starts[i],
                finishes[i],
                st,
                p,
                p,
                today if p is not None and p > 0 else None,
                today if st == "completed" or (p is not None and p >= 100) else None,
                now_iso if risk_on else None,
                today if risk_on else None,
            )
            events.append(Event(tid, "task", None, "appeared"))
            first_seen[i] = today
            base_start[i], base_finish[i] = starts[i], finishes[i]
            if risk_on:
                risk_first[i] = today
                if not cms[i]:
                    risk_hours[i] = 0.0
            continue
        if (
            old is not None
            and not old.deleted
            and tuple(old.values.values()) == rows_values[i]
            and len(old.values) == len(fields)
        ):
            # the quiet case: every cell as last time, so every fact stays as it was
            new = old
            states[tid] = new
            first_seen[i] = new.first_seen
            days_unchanged[i] = float((as_of - dt.date.fromisoformat(new.last_changed[:10])).days)
            if new.risk_since and risk_on and not cms[i]:
                risk_hours[i] = (
                    now - dt.datetime.fromisoformat(new.risk_since)
                ).total_seconds() / 3600
            risk_first[i] = new.risk_first_seen
            base_start[i] = new.baseline_start
            base_finish[i] = new.baseline_finish
            unexplained[i] = new.plan_unexplained
            if new.progress_before_done is not None and statuses[i] == "completed":
                before_done[i] = new.progress_before_done
            continue
        values = dict(zip(fields, rows_values[i], strict=True))
        progress, status = progresses[i], statuses[i]
        if old is None or old.deleted:
            new = TaskState(
                task_id=tid,
                key=keys[i],
                first_seen=old.first_seen if old else today,
                last_changed=now_iso,
                values=values,
                baseline_start=old.baseline_start if old else starts[i],
                baseline_finish=old.baseline_finish if old else finishes[i],
                status=status,
                progress=progress,
                progress_max=progress,
                first_progress_day=today if (progress or 0) > 0 else None,
                done_day=today if status == "completed" or (progress or 0) >= 100 else None,
                risk_since=now_iso if risk_on else None,
                risk_first_seen=today if risk_on else None,
            )
            events.append(Event(tid, "task", None, "appeared" if old is None else "reappeared"))
            changed = True
        else:
            diff = [f for f in fields if old.values.get(f, "") != values[f]]
            changed = bool(diff)
            for f in diff:
                events.append(Event(tid, f, old.values.get(f) or None, values[f] or None))
            plan_moved = "planned_start" in diff or "planned_finish" in diff
            plan_unexplained = (old.plan_unexplained or plan_moved) and "remarks" not in diff
            prev = old.progress
            if prev is not None and progress is not None and progress < prev:
                drops[i] = prev - progress
            jumped: float | None = None
            if status == "completed":
                jumped = old.progress_before_done if old.status == "completed" else prev
            risk_since = (old.risk_since or now_iso) if risk_on else None
            if (
                not changed
                and risk_since == old.risk_since
                and plan_unexplained == old.plan_unexplained
                and jumped == old.progress_before_done
                and keys[i] == old.key
            ):
                new = old  # a quiet task: nothing to remember anew
            else:
                new = replace(
                    old,
                    key=keys[i],
                    last_changed=now_iso if changed else old.last_changed,
                    values=values,
                    status=status,
                    progress=progress,
                    progress_max=_max(old.progress_max, progress),
                    first_progress_day=old.first_progress_day
                    or (today if (progress or 0) > 0 else None),
                    done_day=old.done_day
                    or (today if status == "completed" or (progress or 0) >= 100 else None),
                    risk_since=risk_since,
                    risk_first_seen=old.risk_first_seen or (today if risk_on else None),
                    plan_unexplained=plan_unexplained,
                    progress_before_done=jumped,
                )
            unexplained[i] = plan_unexplained
            before_done[i] = math.nan if jumped is None else jumped
        states[tid] = new
        first_seen[i] = new.first_seen
        if not changed:
            days_unchanged[i] = float((as_of - dt.date.fromisoformat(new.last_changed[:10])).days)
        if new.risk_since and risk_on and not cms[i]:
            risk_hours[i] = (now - dt.datetime.fromisoformat(new.risk_since)).total_seconds() / 3600
        risk_first[i] = new.risk_first_seen
        base_start[i] = new.baseline_start
        base_finish[i] = new.baseline_finish
    for tid, state in view.states.items():
        if tid not in seen and not state.deleted:
            states[tid] = replace(state, deleted=True)
            events.append(Event(tid, "task", "present", "removed"))
    frame = pd.DataFrame(
        {
            "first_seen": pd.to_datetime(pd.Series(first_seen, dtype=object), errors="coerce"),
            "days_unchanged": days_unchanged,
            "risk_hours_open": risk_hours,
            "risk_first_seen": pd.to_datetime(pd.Series(risk_first, dtype=object), errors="coerce"),
            "plan_unexplained": unexplained,
            "progress_before_done": before_done,
            "progress_drop": drops,
            "baseline_start": pd.to_datetime(pd.Series(base_start, dtype=object), errors="coerce"),
            "baseline_finish": pd.to_datetime(
                pd.Series(base_finish, dtype=object), errors="coerce"
            ),
        }
    )
    frame.index = table.rows
    return Step(ids=ids, columns=frame[list(HISTORY_COLUMNS)], states=states, events=tuple(events))


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

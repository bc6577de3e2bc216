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
import functools
import gc
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

import numpy as np
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


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _gc_paused(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with the cyclic garbage collector paused (as it was before, afterwards).

    The history stage makes a few small objects per task (states, their value dicts, tuples)
    while the snapshot's grid is alive; each generation-0 collection it triggers also walks
    the young part of that grid, and the older generations all of it: at 100k rows the
    collector was a third of the stage. Nothing made here forms a reference cycle, so
    reference counting frees it all the same; the collector runs normally after the stage.
    """

    @functools.wraps(fn)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused


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
        fields = cls.__dataclass_fields__
        if data.keys() <= fields.keys() and "task_id" not in data:
            return cls(task_id=task_id, **data)  # the usual case: nothing to drop
        known = {k: v for k, v in data.items() if k in fields and k != "task_id"}
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


@_gc_paused
def resolve_ids(table: Table, view: HistoryView) -> pd.Series:
    """A task ID per row: the row's own if valid and unique; else the ID of a remembered task
    with the same phase + channel + description that no other row claims; else a new one."""
    ids = table.ids.reindex(table.rows)
    text = ids.astype(object).where(ids.notna(), "").astype(str).str.strip()
    valid = text.where(text.str.match(ID_PATTERN.pattern), None)
    valid = valid.where(~valid.duplicated(keep="first") | valid.isna(), None)
    out: list[str | None] = [v if isinstance(v, str) else None for v in valid.tolist()]
    if view.states:
        out = _follow_moved_ids(out, row_keys(table), view.states)
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
        candidates = by_key.get(keys[i]) if by_key else None  # a first run has none
        match = (
            next((sid for sid in candidates if sid not in claimed), None) if candidates else None
        )
        if match is None:
            match = f"T{next_id:04d}"
            next_id += 1
        out[i] = match
        claimed.add(match)
    return pd.Series(out, index=table.rows, dtype=object)


def _follow_moved_ids(
    ids: list[str | None], keys: list[str], states: dict[str, TaskState]
) -> list[str | None]:
    """IDs that no longer sit beside their tasks go back to them.

    Sorting only the human columns (or pasting rows over others) leaves the ID column where it
    was, so row i holds task B's cells beside task A's ID. A row keeps its ID when the task
    remembered under that ID has the row's phase + channel + description; otherwise, when
    exactly one remembered task has them and no row holds that task's ID rightfully, the row
    takes that task's ID. An ID then held by two rows stays with the one whose content matches;
    the other row gets one the usual way (a match by content, or a new ID). ``ids`` are unique
    on entry (:func:`resolve_ids` drops repeated ones first).

    >>> a, b = TaskState("T0001", "k-a", "", ""), TaskState("T0002", "k-b", "", "")
    >>> _follow_moved_ids(["T0001", "T0002"], ["k-b", "k-a"], {"T0001": a, "T0002": b})
    ['T0002', 'T0001']
    """
    # (maps of C functions: this runs over every row)
    remembered_keys = map(_KEY, map(states.get, cast(list[str], ids), repeat(_NOBODY)))
    rightful = {
        v
        for v, same in zip(ids, map(operator.eq, remembered_keys, keys), strict=True)
        if same and v is not None
    }
    # rows whose ID is remembered under other content (none in a steady state: then no ID
    # moves, and the IDs, unique on entry, stay unique)
    strays = [i for i, v in enumerate(ids) if v is not None and v not in rightful and v in states]
    if not strays:
        return list(ids)
    owner: dict[str, str | None] = {}
    for sid, state in states.items():
        owner[state.key] = sid if state.key not in owner else None  # None: ambiguous
    out = list(ids)
    for i in strays:
        v = ids[i]
        other = owner.get(keys[i])
        if other is not None and other != v and other not in rightful:
            out[i] = other
    seen: dict[str, int] = {}
    for i, v in enumerate(out):
        if v is None:
            continue
        if v in seen:  # two rows: the one whose content matches keeps it
            j = seen[v]
            keep_i = v in states and states[v].key == keys[i] and states[v].key != keys[j]
            loser = j if keep_i else i
            out[loser] = None
            if keep_i:
                seen[v] = i
        else:
            seen[v] = i
    return out


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
    # each distinct value is formatted once; code -1 (empty) is the trailing ""
    if pd.api.types.is_datetime64_any_dtype(s):
        codes, days = pd.factorize(s, use_na_sentinel=True)
        texts: list[str] = [*pd.Index(days).strftime("%Y-%m-%d"), ""]
    else:
        codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
        texts = [_cell(u) for u in uniques] + [""]
    return np.array(texts, dtype=object)[codes].tolist()  # type: ignore[no-any-return]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _none_if_empty(values: list[str]) -> list[str | None]:
    return [v or None for v in values]


class _Rows(NamedTuple):
    """The tracker's rows as the plain lists :func:`step` walks (one item per sheet row)."""

    ids: list[str]
    keys: list[str]
    fields: list[str]  # the tracked fields this tracker has, in TRACKED order
    values: list[tuple[str, ...]]  # the text of each tracked field
    progresses: list[float | None]
    statuses: list[str | None]
    risks: list[bool]
    open_risks: list[int]  # positions of rows with a risk and no countermeasure
    starts: list[str | None]
    finishes: list[str | None]


def _read_rows(table: Table, ids: pd.Series) -> _Rows:
    """Every column :func:`step` needs, read once from the typed table."""
    d = table.data
    fields = [f for f in TRACKED if f in d.columns]
    texts = {f: _texts(d[f]) for f in fields}
    values: list[tuple[str, ...]] = (
        list(zip(*(texts[f] for f in fields), strict=True)) if fields else [()] * len(table)
    )
    return _Rows(
        ids=[str(v) for v in ids.reindex(table.rows).tolist()],
        keys=row_keys(table),
        fields=fields,
        values=values,
        progresses=[None if v != v else float(v) for v in d["progress"].astype(float).tolist()],
        statuses=[v if isinstance(v, str) else None for v in d["status"].tolist()],
        risks=table.present["risk"].tolist(),
        open_risks=np.flatnonzero(
            table.present["risk"].to_numpy(dtype=bool)
            & ~table.present["countermeasure"].to_numpy(dtype=bool)
        ).tolist(),
        starts=_none_if_empty(texts.get("planned_start") or _texts(d["planned_start"])),
        finishes=_none_if_empty(texts.get("planned_finish") or _texts(d["planned_finish"])),
    )


@_gc_paused
def step(view: HistoryView, table: Table, ids: pd.Series, as_of: dt.date, now: dt.datetime) -> Step:
    """Compare the tracker with what history remembers; see the module docstring.

    Each row is a new task or one back after being removed (:func:`_fresh_task`), or a
    remembered task (:func:`_existing_task`, skipped
    when every cell is as last time). The history columns are then read off each row's state
    (:func:`_history_columns`), and remembered tasks no row claims are marked removed.
    """
    rows = _read_rows(table, ids)
    today = as_of.isoformat()
    now_iso = now.isoformat()
    events: list[Event] = []
    previous: dict[int, float | None] = {}  # progress before this run, rows compared cell by cell
    fields, keys, values_of = rows.fields, rows.keys, rows.values
    progresses, statuses, risks = rows.progresses, rows.statuses, rows.risks
    starts, finishes = rows.starts, rows.finishes
    found = list(map(view.states.get, rows.ids, repeat(_NOBODY)))
    # the quiet rows (most of them): every cell as last time (the same texts of the same
    # fields), every fact as it was; their state is the remembered one, unchanged. Maps of C
    # functions: this runs over every row.
    same = map(operator.eq, map(tuple, map(dict.values, map(_VALUES, found))), values_of)
    loud = [
        i
        for i, (quiet, deleted) in enumerate(zip(same, map(_DELETED, found), strict=True))
        if deleted or not quiet
    ]
    olds = [None if s is _NOBODY else s for s in found] if loud else found
    row_states = cast(list[TaskState], olds)  # every None is a loud row, replaced below
    changed = [False] * len(olds)
    add_event = events.append
    for i in loud:
        tid, old = rows.ids[i], olds[i]
        values = dict(zip(fields, values_of[i], strict=True))
        if old is None or old.deleted:
            row_states[i] = _fresh_task(
                old,
                tid,
                keys[i],
                values,
                statuses[i],
                progresses[i],
                starts[i],
                finishes[i],
                risks[i],
                today,
                now_iso,
            )
            add_event(Event(tid, "task", None, "appeared" if old is None else "reappeared"))
            changed[i] = True
        else:
            new, diff = _existing_task(
                old, keys[i], values, statuses[i], progresses[i], risks[i], today, now_iso
            )
            row_states[i] = new
            events.extend(_cell_events(tid, old.values, values, diff))
            changed[i] = bool(diff)
            previous[i] = old.progress
    states = dict(view.states)
    states.update(zip(rows.ids, row_states, strict=True))
    removed = _removed(view.states, set(rows.ids))
    states.update(removed)
    events.extend(Event(tid, "task", "present", "removed") for tid in removed)
    columns = _history_columns(rows, row_states, changed, previous, as_of, now)
    columns.index = table.rows
    return Step(ids=ids, columns=columns, states=states, events=tuple(events))


#: Stands in for a task history does not know (deleted: never quiet; no key, no values).
_NOBODY = TaskState("", "\x00", "", "", deleted=True)
_KEY, _VALUES, _DELETED = (operator.attrgetter(a) for a in ("key", "values", "deleted"))


def _fresh_task(
    old: TaskState | None,
    tid: str,
    key: str,
    values: dict[str, str],
    status: str | None,
    progress: float | None,
    start: str | None,
    finish: str | None,
    risk_on: bool,
    today: str,
    now_iso: str,
) -> TaskState:
    """The one place a TaskState is made from a row, every fact as the row shows it now: a task
    seen for the first time (``old`` None: first seen today, its planned dates its baseline), or
    a removed task back in the tracker (it starts over but keeps first_seen and baseline)."""
    return TaskState(
        task_id=tid,
        key=key,
        first_seen=old.first_seen if old is not None else today,
        last_changed=now_iso,
        values=values,
        baseline_start=old.baseline_start if old is not None else start,
        baseline_finish=old.baseline_finish if old is not None else finish,
        status=status,
        progress=progress,
        progress_max=progress,
        first_progress_day=today if (progress or 0) > 0 else None,
        done_day=today if status == "completed" or (progress or 0) >= 100 else None,
        risk_since=now_iso if risk_on else None,
        risk_first_seen=today if risk_on else None,
    )


def _existing_task(
    old: TaskState,
    key: str,
    values: dict[str, str],
    status: str | None,
    progress: float | None,
    risk_on: bool,
    today: str,
    now_iso: str,
) -> tuple[TaskState, list[str]]:
    """A remembered task's new state, and the tracked fields whose text changed (in order).

    A planned date moved in a run that did not touch the remarks leaves the plan unexplained
    until a run that does; progress before done is the progress last seen before the status
    became completed; the risk clock runs from the first run that saw the current risk. When
    nothing moved, ``old`` itself comes back (nothing new to store).
    """
    old_values = old.values
    diff = [f for f, v in values.items() if old_values.get(f, "") != v]
    changed = bool(diff)
    plan_moved = "planned_start" in diff or "planned_finish" in diff
    plan_unexplained = (old.plan_unexplained or plan_moved) and "remarks" not in diff
    jumped: float | None = None
    if status == "completed":
        jumped = old.progress_before_done if old.status == "completed" else old.progress
    risk_since = (old.risk_since or now_iso) if risk_on else None
    if (
        not changed
        and risk_since == old.risk_since
        and plan_unexplained == old.plan_unexplained
        and jumped == old.progress_before_done
        and key == old.key
    ):
        return old, diff  # a quiet task: nothing to remember anew
    new = replace(
        old,
        key=key,
        last_changed=now_iso if changed else old.last_changed,
        values=values,
        status=status,
        progress=progress,
        progress_max=_max(old.progress_max, progress),
        first_progress_day=old.first_progress_day or (today if (progress or 0) > 0 else None),
        done_day=old.done_day
        or (today if status == "completed" or (progress or 0) >= 100 else None),
        risk_since=risk_since,
        risk_first_seen=old.risk_first_seen or (today if risk_on else None),
        plan_unexplained=plan_unexplained,
        progress_before_done=jumped,
    )
    return new, diff


def _cell_events(
    tid: str, old: dict[str, str], new: dict[str, str], fields: list[str]
) -> list[Event]:
    """One event per changed cell (empty text recorded as None)."""
    return [Event(tid, f, old.get(f) or None, new[f] or None) for f in fields]


def _removed(remembered: dict[str, TaskState], seen: set[str]) -> dict[str, TaskState]:
    """Remembered tasks no row claims any more, marked deleted (once: not if already so)."""
    gone = remembered.keys() - seen
    if all(remembered[tid].deleted for tid in gone):
        return {}  # the usual run: every remembered task is still there (or long removed)
    return {
        tid: replace(state, deleted=True)
        for tid, state in remembered.items()
        if tid not in seen and not state.deleted
    }


def _history_columns(
    rows: _Rows,
    states: list[TaskState],
    changed: list[bool],
    previous: dict[int, float | None],
    as_of: dt.date,
    now: dt.datetime,
) -> pd.DataFrame:
    """The history columns of every row, read off the row's state ``s`` after this run.

    - ``first_seen``, ``risk_first_seen``, ``baseline_start``, ``baseline_finish``,
      ``plan_unexplained``: the state's own facts;
    - ``days_unchanged``: 0 if a tracked cell changed in this run, else ``as_of`` minus the day
      of ``s.last_changed`` (never below 0: a ``check --today`` before the store's last run
      sees no negative age);
    - ``risk_hours_open``: hours from ``s.risk_since`` to ``now`` (never below 0) while the
      row has a risk and no countermeasure, else NaN;
    - ``progress_before_done``: ``s.progress_before_done`` while the status is completed;
    - ``progress_drop``: previous minus current progress where a remembered task's progress
      went down in this run (``previous`` holds the rows compared cell by cell), else NaN.
    """
    n = len(states)
    # many tasks share a last-changed time or a risk start: parse each once
    ages = {
        stamp: float(max((as_of - dt.date.fromisoformat(stamp[:10])).days, 0))
        for stamp in {s.last_changed for s, c in zip(states, changed, strict=True) if not c}
    }
    days_unchanged = [
        0.0 if c else ages[s.last_changed] for s, c in zip(states, changed, strict=True)
    ]
    risk_hours = [math.nan] * n
    hours: dict[str, float] = {}
    for i in rows.open_risks:
        since = states[i].risk_since
        if since:
            open_hours = hours.get(since)
            if open_hours is None:
                elapsed = (now - dt.datetime.fromisoformat(since)).total_seconds()
                open_hours = max(elapsed, 0.0) / 3600
                hours[since] = open_hours
            risk_hours[i] = open_hours
    before_done = [math.nan] * n
    for i, status in enumerate(rows.statuses):
        if status == "completed":
            jumped = states[i].progress_before_done
            if jumped is not None:
                before_done[i] = jumped
    drops = [math.nan] * n
    progresses = rows.progresses
    for i, p0 in previous.items():
        p = progresses[i]
        if p0 is not None and p is not None and p < p0:
            drops[i] = p0 - p
    frame = pd.DataFrame(
        {
            "first_seen": _days([s.first_seen for s in states]),
            "days_unchanged": days_unchanged,
            "risk_hours_open": risk_hours,
            "risk_first_seen": _days([s.risk_first_seen for s in states]),
            "plan_unexplained": [s.plan_unexplained for s in states],
            "progress_before_done": before_done,
            "progress_drop": drops,
            "baseline_start": _days([s.baseline_start for s in states]),
            "baseline_finish": _days([s.baseline_finish for s in states]),
        }
    )
    return frame[list(HISTORY_COLUMNS)]


def _days(values: list[str | None]) -> pd.Series:
    """ISO day texts as datetimes (NaT where empty or unreadable)."""
    return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce")


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


def _max(a: float | None, b: float | None) -> float | None:
    vals = [x for x in (a, b) if x is not None]
    return max(vals) if vals else None

"""What history says about each task: identity across runs, changes, baselines (pure functions).

The run store (``sync.history``) keeps the state of every task ID as one columnar frame
(:class:`TaskStates`: a column per fact, a row per task). Each run, :func:`step` joins the
tracker's rows to that frame on the task ID and returns

- the task ID of every row (kept, matched back by phase + channel + description, or new),
- the history columns the rules can use (``days_unchanged``, ``risk_hours_open`` ...),
- the new states and the cell-by-cell events to record.

A row whose tracked cells hash to the fingerprint its task was remembered with is quiet: its
state carries over as it is. Only the other rows' states are computed (column by column) and
only they make events. No I/O and no clock: the run's time is an argument.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .collector import paused
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
    """Everything remembered about one task after the last recorded run: one row of
    :class:`TaskStates` as an object (treat as immutable)."""

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

    @classmethod
    def from_json(cls, task_id: str, data: dict[str, Any]) -> TaskState:
        """A state as the run store kept it up to schema 4 (one JSON document per task)."""
        fields = cls.__dataclass_fields__
        if data.keys() <= fields.keys() and "task_id" not in data:
            return cls(task_id=task_id, **data)  # the usual case: nothing to drop
        known = {k: v for k, v in data.items() if k in fields and k != "task_id"}
        return cls(task_id=task_id, **known)


#: The facts of a state kept as text (None: not known), as numbers (NaN: None) and as flags.
TEXT_FACTS = (
    "key",
    "first_seen",
    "last_changed",
    "baseline_start",
    "baseline_finish",
    "status",
    "first_progress_day",
    "done_day",
    "risk_since",
    "risk_first_seen",
)
NUMBER_FACTS = ("progress", "progress_max", "progress_before_done")
FLAG_FACTS = ("plan_unexplained", "deleted")

_U64 = np.dtype(np.uint64)
#: The hash of a tracked field the tracker did not have (a cell's text never hashes to it).
_ABSENT = np.uint64(0x9E3779B97F4A7C15)


def _hash_texts(texts: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each text (None: the field was absent), each distinct text hashed once."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), categorize=False)
    return np.append(hashed, _ABSENT)[codes]  # type: ignore[no-any-return]


def fingerprints(hashes: Sequence[np.ndarray | None], n: int) -> np.ndarray:
    """One 64-bit fingerprint per row from each tracked field's hashes (in TRACKED order;
    None: a field the tracker did not have)."""
    fp = np.full(n, 0xCBF29CE484222325, dtype=_U64)
    prime = np.uint64(0x100000001B3)
    for h in hashes:
        fp *= prime  # wraps around: arrays of uint64 overflow silently
        fp ^= _ABSENT if h is None else h
    return fp


class TaskStates(Mapping[str, TaskState]):
    """Every remembered task as columns: ``ids`` (task IDs), ``facts`` (:data:`TEXT_FACTS`
    as objects, :data:`NUMBER_FACTS` as floats, :data:`FLAG_FACTS` as booleans), ``cells``
    (the text of every tracked field, None where the tracker had no such column) and
    ``fingerprint`` (the hash of those texts, :func:`fingerprints`).

    It reads as a mapping of task ID -> :class:`TaskState`; a state is made when looked up.

    >>> s = TaskStates.of({"T0001": TaskState("T0001", "k", "2024-03-01", "2024-03-01T09")})
    >>> s["T0001"].first_seen, len(s), list(s)
    ('2024-03-01', 1, ['T0001'])
    """

    __slots__ = (
        "_anew",
        "_index",
        "_made",
        "_origin",
        "_pos",
        "cells",
        "facts",
        "fingerprint",
        "ids",
    )

    def __init__(
        self,
        ids: np.ndarray,
        facts: dict[str, np.ndarray],
        cells: dict[str, np.ndarray],
        fingerprint: np.ndarray | None = None,
        made: dict[str, TaskState] | None = None,
    ) -> None:
        self.ids = ids
        self.facts = facts
        self.cells = cells
        self.fingerprint = (
            fingerprint
            if fingerprint is not None
            else fingerprints([_hash_texts(cells[f]) for f in TRACKED], len(ids))
        )
        self._made: dict[str, TaskState] = made if made is not None else {}
        self._pos: dict[str, int] | None = None
        self._index: pd.Index | None = None
        # set by step(): the states it started from, and which rows it made anew
        self._origin: Mapping[str, TaskState] | None = None
        self._anew: np.ndarray | None = None

    # ---------------------------------------------------------------- as a mapping

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids.tolist())

    def __contains__(self, tid: object) -> bool:
        return tid in self._positions()

    def __getitem__(self, tid: str) -> TaskState:
        made = self._made.get(tid)
        if made is None:
            made = self._made[tid] = self.row(self._positions()[tid])
        return made

    def __repr__(self) -> str:
        return f"<TaskStates of {len(self)} tasks>"

    def _positions(self) -> dict[str, int]:
        if self._pos is None:
            self._pos = dict(zip(self.ids.tolist(), range(len(self.ids)), strict=True))
        return self._pos

    def row(self, i: int) -> TaskState:
        """Row ``i`` as a :class:`TaskState`."""
        f = self.facts
        text = {name: f[name][i] for name in TEXT_FACTS}
        return TaskState(
            task_id=str(self.ids[i]),
            key=text["key"],
            first_seen=text["first_seen"],
            last_changed=text["last_changed"],
            values={k: v for k, col in self.cells.items() if (v := col[i]) is not None},
            baseline_start=text["baseline_start"],
            baseline_finish=text["baseline_finish"],
            status=text["status"],
            progress=_number(f["progress"][i]),
            progress_max=_number(f["progress_max"][i]),
            first_progress_day=text["first_progress_day"],
            done_day=text["done_day"],
            risk_since=text["risk_since"],
            risk_first_seen=text["risk_first_seen"],
            plan_unexplained=bool(f["plan_unexplained"][i]),
            progress_before_done=_number(f["progress_before_done"][i]),
            deleted=bool(f["deleted"][i]),
        )

    # ---------------------------------------------------------------- as a frame

    @classmethod
    def empty(cls) -> TaskStates:
        return cls.of({})

    @classmethod
    def of(cls, states: Mapping[str, TaskState] | Sequence[TaskState]) -> TaskStates:
        """States as columns (a TaskStates comes back as it is); a sequence is keyed by each
        state's own ID."""
        if isinstance(states, TaskStates):
            return states
        if isinstance(states, Mapping):
            ids, objs = list(states.keys()), list(states.values())
            made = dict(states)
        else:
            objs = list(states)
            ids, made = [s.task_id for s in objs], {}
        facts: dict[str, np.ndarray] = {
            name: _objects([getattr(s, name) for s in objs]) for name in TEXT_FACTS
        }
        for name in NUMBER_FACTS:
            facts[name] = np.array(
                [math.nan if (v := getattr(s, name)) is None else v for s in objs], dtype=float
            )
        for name in FLAG_FACTS:
            facts[name] = np.array([getattr(s, name) for s in objs], dtype=bool)
        cells = {f: _objects([s.values.get(f) for s in objs]) for f in TRACKED}
        return cls(_objects(ids), facts, cells, made=made)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """The row of each task ID (-1: not remembered)."""
        if not len(self.ids):
            return np.full(len(ids), -1, dtype=np.intp)
        if self._index is None:  # one hash table per frame, however often it is joined
            self._index = pd.Index(self.ids)
        if not self._index.is_unique:  # (never from step(): the last row of an ID counts)
            at = self._positions()
            return np.array([at.get(t, -1) for t in ids.tolist()], dtype=np.intp)
        return self._index.get_indexer(ids)  # type: ignore[no-any-return,arg-type]

    def take(self, rows: np.ndarray) -> TaskStates:
        """The states at positions ``rows`` (in that order)."""
        made = self._made
        ids = self.ids[rows]
        return TaskStates(
            ids,
            {k: v[rows] for k, v in self.facts.items()},
            {k: v[rows] for k, v in self.cells.items()},
            self.fingerprint[rows],
            {t: made[t] for t in ids.tolist() if t in made} if made else None,
        )

    def updated(self, other: Mapping[str, TaskState]) -> TaskStates:
        """These states with ``other``'s in place of those of the same ID, the new ones after
        (the run store's upsert)."""
        new = TaskStates.of(other)
        if not len(new):
            return self
        at = self.positions(new.ids)
        known = at >= 0
        out = _assign(self, at[known], new, np.flatnonzero(known))
        return _concat(out, new.take(np.flatnonzero(~known)))

    # ---------------------------------------------------------------- stored

    def encode(self) -> bytes:
        """One compressed blob: each text column as codes into its distinct values, the
        numbers, flags and fingerprints as raw little-endian arrays."""
        header: dict[str, Any] = {
            "n": len(self),
            "text": {},
            "codes": {},
            "number": [],
            "flag": [],
        }
        parts: list[bytes] = []
        texts = {"task_id": self.ids}
        texts |= {k: self.facts[k] for k in TEXT_FACTS}
        texts |= {f"values.{k}": v for k, v in self.cells.items()}
        for name, col in texts.items():
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
            width = "<i1" if len(uniques) < 2**7 else "<i2" if len(uniques) < 2**15 else "<i4"
            header["text"][name] = uniques.tolist()
            header["codes"][name] = width  # the narrowest that holds them: less to compress
            parts.append(codes.astype(width).tobytes())
        for name in NUMBER_FACTS:
            header["number"].append(name)
            parts.append(self.facts[name].astype("<f8").tobytes())
        for name in FLAG_FACTS:
            header["flag"].append(name)
            parts.append(self.facts[name].astype(np.uint8).tobytes())
        parts.append(self.fingerprint.astype("<u8").tobytes())
        head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
        return _MAGIC + zlib.compress(struct.pack("<I", len(head)) + head + b"".join(parts), 1)

    @classmethod
    def decode(cls, blob: bytes) -> TaskStates:
        """The states :meth:`encode` stored (ValueError: not such a blob, or damaged)."""
        if not blob.startswith(_MAGIC):
            raise ValueError("not a task-state blob")
        try:
            raw = zlib.decompress(blob[len(_MAGIC) :])
            (size,) = struct.unpack_from("<I", raw)
            header = json.loads(raw[4 : 4 + size])
            n = int(header["n"])
            at = 4 + size

            def chunk(dtype: str) -> np.ndarray:
                nonlocal at
                width = np.dtype(dtype).itemsize * n
                if at + width > len(raw):
                    raise ValueError("truncated")
                out = np.frombuffer(raw, dtype=dtype, count=n, offset=at)
                at += width
                return out

            texts: dict[str, np.ndarray] = {}
            widths = header.get("codes", {})
            for name, uniques in header["text"].items():
                width = widths.get(name, "<i4")
                if width not in ("<i1", "<i2", "<i4"):
                    raise ValueError(f"column {name} has codes of type {width!r}")
                codes = chunk(width)
                if n and (codes.min() < -1 or codes.max() >= len(uniques)):
                    raise ValueError(f"column {name} is damaged")
                texts[name] = np.array([*uniques, None], dtype=object)[codes]
            facts = {k: texts.get(k, np.full(n, None, dtype=object)) for k in TEXT_FACTS}
            for name in header["number"]:
                facts[name] = chunk("<f8").astype(float)
            for name in header["flag"]:
                facts[name] = chunk("<u1").astype(bool)
            fingerprint = chunk("<u8").astype(_U64)
        except (zlib.error, struct.error, KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"damaged task-state blob ({exc})") from None
        for name in NUMBER_FACTS:
            facts.setdefault(name, np.full(n, math.nan))
        for name in FLAG_FACTS:
            facts.setdefault(name, np.zeros(n, dtype=bool))
        cells = {f: texts.get(f"values.{f}", np.full(n, None, dtype=object)) for f in TRACKED}
        hashed = all(f"values.{f}" in texts for f in TRACKED)  # else a field added since
        return cls(texts["task_id"], facts, cells, fingerprint if hashed else None)


_MAGIC = b"tracker-sync task states 1\n"


def _objects(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _number(v: float) -> float | None:
    return None if v != v else float(v)


def _concat(a: TaskStates, b: TaskStates) -> TaskStates:
    if not len(b):
        return a
    if not len(a):
        return b
    return TaskStates(
        np.concatenate([a.ids, b.ids]),
        {k: np.concatenate([v, b.facts[k]]) for k, v in a.facts.items()},
        {k: np.concatenate([v, b.cells[k]]) for k, v in a.cells.items()},
        np.concatenate([a.fingerprint, b.fingerprint]),
        {**a._made, **b._made} if a._made or b._made else None,
    )


def _assign(base: TaskStates, at: np.ndarray, src: TaskStates, rows: np.ndarray) -> TaskStates:
    """``base`` with its rows ``at`` replaced by ``src``'s rows ``rows``."""
    if not len(at):
        return base

    def put(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = a.copy()
        out[at] = b[rows]
        return out

    made = base._made
    if made:
        gone = set(base.ids[at].tolist())
        made = {t: s for t, s in made.items() if t not in gone}
    return TaskStates(
        base.ids,
        {k: put(v, src.facts[k]) for k, v in base.facts.items()},
        {k: put(v, src.cells[k]) for k, v in base.cells.items()},
        put(base.fingerprint, src.fingerprint),
        made or None,
    )


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

    states: Mapping[str, TaskState] = field(default_factory=dict)
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
    states: TaskStates
    events: tuple[Event, ...]


@paused
def resolve_ids(table: Table, view: HistoryView) -> pd.Series:
    """A task ID per row: the row's own if valid and unique; else the ID of a remembered task
    with the same phase + channel + description that no other row claims; else a new one."""
    states = TaskStates.of(view.states) if view.states else None
    out = _own_ids(table, states)
    if states is not None:
        out = _follow_moved_ids(out, row_keys(table), states)
    if None not in out:
        return pd.Series(out, index=table.rows, dtype=object)
    claimed = {v for v in out if v is not None}
    if not claimed and states is None:  # a first run: a new ID for every row, in row order
        start = view.max_id + 1
        out = [f"T{n:04d}" for n in range(start, start + len(out))]
        return pd.Series(out, index=table.rows, dtype=object)
    missing = [i for i, v in enumerate(out) if v is None]
    keys = row_keys(table)
    by_key: dict[str, list[str]] = {}
    if states is not None:
        wanted = {keys[i] for i in missing}
        for sid, key in zip(states.ids.tolist(), states.facts["key"].tolist(), strict=True):
            if key in wanted and sid not in claimed:
                by_key.setdefault(key, []).append(sid)
    numbers = [int(v[1:]) for v in claimed] + [view.max_id]
    next_id = max(numbers, default=0) + 1
    if not by_key:  # every missing row gets a new ID, in row order
        for i, n in zip(missing, range(next_id, next_id + len(missing)), strict=True):
            out[i] = f"T{n:04d}"
        return pd.Series(out, index=table.rows, dtype=object)
    for i in missing:
        candidates = by_key.get(keys[i])
        match = (
            next((sid for sid in candidates if sid not in claimed), None) if candidates else None
        )
        if match is None:
            match = f"T{next_id:04d}"
            next_id += 1
        out[i] = match
        claimed.add(match)
    return pd.Series(out, index=table.rows, dtype=object)


def _own_ids(table: Table, states: TaskStates | None) -> list[str | None]:
    """The ID each row holds, stripped, where it is valid and no row above holds it too."""
    ids = table.ids.reindex(table.rows)
    raw = ids.to_numpy(dtype=object)
    empty = ids.isna().to_numpy()
    if empty.all():
        return [None] * len(ids)
    # most rows hold an ID history gave (valid, no spaces): found in one hash join
    valid = (states.positions(raw) >= 0) if states is not None else np.zeros(len(raw), bool)
    text = raw.copy()
    match = ID_PATTERN.match
    for i in np.flatnonzero(~valid & ~empty).tolist():
        v = raw[i]
        text[i] = (v if isinstance(v, str) else str(v)).strip()
        valid[i] = match(text[i]) is not None
    out = _choose(valid, text, None)
    out[valid & pd.Series(out).duplicated(keep="first").to_numpy()] = None
    return out.tolist()  # type: ignore[no-any-return]


def _follow_moved_ids(
    ids: list[str | None], keys: list[str], states: Mapping[str, TaskState]
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
    frame = TaskStates.of(states)
    at = frame.positions(_objects(ids))
    # the remembered key of each row's ID ("\x00": none), compared with the row's in one pass
    remembered = np.append(frame.facts["key"], "\x00")[at]
    same = remembered == _objects(keys)
    # rows whose ID is remembered under other content (none in a steady state: then no ID
    # moves, and the IDs, unique on entry, stay unique)
    strays = np.flatnonzero((at >= 0) & ~same).tolist()
    if not strays:
        return list(ids)
    rightful = {v for v, ok in zip(ids, same.tolist(), strict=True) if ok and v is not None}
    owner: dict[str, str | None] = {}
    for sid, key in zip(frame.ids.tolist(), frame.facts["key"].tolist(), strict=True):
        owner[key] = sid if key not in owner else None  # None: ambiguous
    key_of = dict(zip(frame.ids.tolist(), frame.facts["key"].tolist(), strict=True))
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
            keep_i = v in key_of and key_of[v] == keys[i] and key_of[v] != keys[j]
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
    parts = [_folded(table.data[c]) for c in ("phase", "channel", "description")]
    if math.prod(len(texts) for _, texts in parts) < 2**62:
        # each distinct (phase, channel, description) is joined once
        combined = np.zeros(len(table), dtype=np.int64)
        for codes, texts in parts:
            combined = combined * len(texts) + codes
        which, distinct = pd.factorize(combined)
        rest = np.asarray(distinct, dtype=np.int64)
        columns: list[np.ndarray] = []
        for _, texts in reversed(parts):
            columns.append(texts[rest % len(texts)])
            rest = rest // len(texts)
        description, channel, phase = columns
    else:
        which = np.arange(len(table))
        phase, channel, description = (texts[codes] for codes, texts in parts)
    joined = phase + "\x1f" + channel + "\x1f" + description
    keys: list[str] = joined[which].tolist()
    table.__dict__["_row_keys"] = keys
    return keys


def _folded(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column's cells as codes into their distinct texts, stripped and lower-cased ("" when
    empty: the last text); a column of text is folded once per distinct value."""
    values = s.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        folded = [u.strip().lower() for u in uniques.tolist()]
    else:  # mixed types: 1, 1.0 and True are one value to factorize but three texts
        text = s.astype(object).where(s.notna(), "").astype(str).str.strip().str.lower()
        codes, uniques = pd.factorize(text.to_numpy(dtype=object))
        folded = uniques.tolist()
    codes[codes < 0] = len(folded)
    return codes.astype(np.int64), np.array([*folded, ""], dtype=object)


def _texts(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A typed column as the text history compares (dates as ISO days, numbers compact), and
    the hash of each text (:func:`fingerprints`)."""
    # each distinct value is formatted and hashed once; code -1 (empty) is the trailing ""
    if pd.api.types.is_datetime64_any_dtype(s):
        codes, days = pd.factorize(s, use_na_sentinel=True)
        texts: list[str] = [*pd.Index(days).strftime("%Y-%m-%d"), ""]
    else:
        codes, uniques = pd.factorize(s.to_numpy(dtype=object), use_na_sentinel=True)
        texts = [_cell(u) for u in uniques] + [""]
    distinct = np.array(texts, dtype=object)
    hashed = pd.util.hash_array(distinct, categorize=False)
    return distinct[codes], hashed[codes]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class _Rows(NamedTuple):
    """The tracker's rows as the columns :func:`step` compares (one item per sheet row)."""

    ids: np.ndarray  # task IDs
    keys: np.ndarray  # phase + channel + description, folded
    fields: list[str]  # the tracked fields this tracker has, in TRACKED order
    values: dict[str, np.ndarray]  # the text of each of those fields
    progresses: np.ndarray  # float, NaN: none
    statuses: np.ndarray  # status id or None
    risks: np.ndarray  # bool: the row has a risk
    open_risks: np.ndarray  # positions of rows with a risk and no countermeasure
    starts: np.ndarray  # planned start as an ISO day, or None
    finishes: np.ndarray
    fingerprint: np.ndarray | None = None  # of the tracked fields' texts


def _strings(s: pd.Series, each: Callable[[Any], str | None], *, skipna: bool) -> np.ndarray:
    """``each`` of a column's values, as objects; a column of text (and, ``skipna``, empty
    cells, which become None) is taken as it is."""
    values = s.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=skipna) == "string":
        return _choose(s.notna().to_numpy(), values, None) if skipna else values
    return _objects([each(v) for v in values.tolist()])


def _read_rows(table: Table, ids: pd.Series) -> _Rows:
    """Every column :func:`step` needs, read once from the typed table."""
    d = table.data
    n = len(table)
    fields = [f for f in TRACKED if f in d.columns]
    texts = {f: _texts(d[f]) for f in fields}
    for f in ("planned_start", "planned_finish"):
        if f not in texts:
            texts[f] = _texts(d[f])
    risk = table.present["risk"].to_numpy(dtype=bool)
    return _Rows(
        ids=_strings(ids.reindex(table.rows), str, skipna=False),
        keys=_objects(row_keys(table)),
        fields=fields,
        values={f: texts[f][0] for f in fields},
        progresses=d["progress"].to_numpy(dtype=float, na_value=math.nan),
        statuses=_strings(d["status"], lambda v: v if isinstance(v, str) else None, skipna=True),
        risks=risk,
        open_risks=np.flatnonzero(risk & ~table.present["countermeasure"].to_numpy(dtype=bool)),
        starts=_choose(texts["planned_start"][0] != "", texts["planned_start"][0], None),
        finishes=_choose(texts["planned_finish"][0] != "", texts["planned_finish"][0], None),
        fingerprint=fingerprints([texts[f][1] if f in fields else None for f in TRACKED], n),
    )


@paused
def step(view: HistoryView, table: Table, ids: pd.Series, as_of: dt.date, now: dt.datetime) -> Step:
    """Compare the tracker with what history remembers; see the module docstring.

    The rows are joined to the remembered states on the task ID. A row whose fingerprint is
    its task's is quiet (its state carries over); the others are a new task or one back
    after being removed (:func:`_fresh_states`), or a remembered task whose cells changed
    (:func:`_existing_states`). The history columns are then read off each row's state
    (:func:`_history_columns`), and remembered tasks no row claims are marked removed.
    """
    rows = _read_rows(table, ids)
    old = TaskStates.of(view.states)
    today, now_iso = as_of.isoformat(), now.isoformat()
    n = len(rows.ids)
    at = old.positions(rows.ids)
    known = np.flatnonzero(at >= 0)
    gone = old.facts["deleted"][at[known]]
    assert rows.fingerprint is not None
    quiet = ~gone & (old.fingerprint[at[known]] == rows.fingerprint[known])
    loud = known[~quiet & ~gone]  # remembered, some cell not as last time
    fresh = np.sort(np.concatenate([np.flatnonzero(at < 0), known[gone]]))
    made_fresh = _fresh_states(rows, fresh, old, at[fresh], today, now_iso)
    before = old.take(at[loud])
    made_loud, diff, moved = _existing_states(before, rows, loud, today, now_iso)
    # this run's state of every row: the remembered one, or one made above
    parts = [(known[quiet], old.take(at[known[quiet]])), (fresh, made_fresh), (loud, made_loud)]
    mine = _stack(parts, n, old)
    changed = np.zeros(n, dtype=bool)
    changed[fresh] = True
    changed[loud] = diff.any(axis=1)
    previous = np.full(n, math.nan)
    previous[loud] = before.facts["progress"]
    columns = _history_columns(rows, mine, changed, previous, as_of, now)
    columns.index = table.rows
    # the new frame: the remembered tasks (rows' in place, the unclaimed marked removed),
    # then the new tasks in row order
    claimed = np.zeros(len(old), dtype=bool)
    claimed[at[known]] = True
    removed = np.flatnonzero(~claimed & ~old.facts["deleted"])
    if len(fresh) or moved.any() or len(removed):
        states = _assign(old, at[known], mine, known)
    else:  # a quiet run: the frame as it was
        states = TaskStates(old.ids, old.facts, old.cells, old.fingerprint)
        states._index, states._pos = old._index, old._pos
    if len(removed):
        states.facts["deleted"] = states.facts["deleted"].copy()
        states.facts["deleted"][removed] = True
    new = np.flatnonzero(at < 0)
    states = _concat(states, mine if len(new) == n else mine.take(new))
    anew = np.zeros(len(states), dtype=bool)
    anew[at[fresh[at[fresh] >= 0]]] = True
    anew[at[loud[moved]]] = True
    anew[removed] = True
    anew[len(old) :] = True
    states._origin, states._anew = view.states, anew
    if old._made:
        keep = ~anew[: len(old)]
        pos = old._positions()
        states._made = {t: s for t, s in old._made.items() if keep[pos[t]]}
    events = _events(rows, fresh, at[fresh] >= 0, loud, diff, before)
    events.extend(Event(tid, "task", "present", "removed") for tid in old.ids[removed].tolist())
    return Step(ids=ids, columns=columns, states=states, events=tuple(events))


def _stack(parts: list[tuple[np.ndarray, TaskStates]], n: int, like: TaskStates) -> TaskStates:
    """One frame of ``n`` rows from parts placed at their rows (together they cover all)."""
    parts = [(rows, part) for rows, part in parts if len(rows)]
    if len(parts) == 1:  # (rows ascending: all of them, in order)
        return parts[0][1]

    def column(cols: list[np.ndarray], dtype: Any) -> np.ndarray:
        out = np.empty(n, dtype=dtype)
        for (rows, _), col in zip(parts, cols, strict=True):
            out[rows] = col
        return out

    facts = {k: column([p.facts[k] for _, p in parts], v.dtype) for k, v in like.facts.items()}
    cells = {k: column([p.cells[k] for _, p in parts], object) for k in like.cells}
    ids = column([p.ids for _, p in parts], object)
    return TaskStates(ids, facts, cells, column([p.fingerprint for _, p in parts], _U64))


def _events(
    rows: _Rows,
    fresh: np.ndarray,
    back: np.ndarray,
    loud: np.ndarray,
    diff: np.ndarray,
    before: TaskStates,
) -> list[Event]:
    """A task appeared / reappeared per fresh row, one event per changed cell of the loud rows
    (empty text recorded as None), in row order."""
    tids = rows.ids
    label = (
        [("appeared", "reappeared")[b] for b in back.tolist()] if back.any() else repeat("appeared")
    )
    # tuple.__new__ makes each Event in C (Event(...) runs a Python __new__ per event)
    fields = zip(tids[fresh].tolist(), repeat("task"), repeat(None), label)
    arrivals: list[Event] = list(map(tuple.__new__, repeat(Event), fields))
    edited = np.flatnonzero(diff.any(axis=1))
    if not len(edited):
        return arrivals
    cells: list[tuple[int, list[Event]]] = []
    for j in edited.tolist():
        i = int(loud[j])
        cells.append(
            (
                i,
                [
                    Event(
                        str(tids[i]),
                        f,
                        before.cells[f][j] or None,
                        rows.values[f][i] or None,
                    )
                    for f in (rows.fields[k] for k in np.flatnonzero(diff[j]).tolist())
                ],
            )
        )
    by_row = sorted([(int(i), [e]) for i, e in zip(fresh.tolist(), arrivals, strict=True)] + cells)
    return [e for _, found in by_row for e in found]


def _choose(cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
    """``a`` where ``cond`` else ``b``, as objects (each an array or one value)."""
    out = b.astype(object) if isinstance(b, np.ndarray) else _repeated(b, len(cond))
    out[cond] = a[cond] if isinstance(a, np.ndarray) else a
    return out


def _repeated(value: Any, n: int) -> np.ndarray:
    """``n`` references to one ``value`` (``np.full`` would copy a text into each item)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


def _truthy(a: np.ndarray) -> np.ndarray:
    """Which texts are neither None nor empty (``x or y`` picks ``x`` there)."""
    return pd.notna(a) & (a != "")  # type: ignore[no-any-return]


def _fresh_states(
    rows: _Rows, idx: np.ndarray, old: TaskStates, at: np.ndarray, today: str, now_iso: str
) -> TaskStates:
    """The states of rows ``idx``, every fact as the row shows it now: a task seen for the
    first time (``at`` -1: first seen today, its planned dates its baseline), or a removed task
    back in the tracker (``old``'s row ``at``: it starts over but keeps first_seen and
    baseline)."""
    m = len(idx)
    back = at >= 0
    kept = {k: np.full(m, None, dtype=object) for k in ("first_seen", *TEXT_FACTS[3:5])}
    if back.any():
        for k, col in kept.items():
            col[back] = old.facts[k][at[back]]
    p = rows.progresses[idx]
    status = rows.statuses[idx]
    risk = rows.risks[idx]
    with np.errstate(invalid="ignore"):
        started, full = p > 0, p >= 100
    facts = {
        "key": rows.keys[idx],
        "first_seen": _choose(back, kept["first_seen"], today),
        "last_changed": _repeated(now_iso, m),
        "baseline_start": _choose(back, kept["baseline_start"], rows.starts[idx]),
        "baseline_finish": _choose(back, kept["baseline_finish"], rows.finishes[idx]),
        "status": status,
        "first_progress_day": _choose(started, today, None),
        "done_day": _choose((status == "completed") | full, today, None),
        "risk_since": _choose(risk, now_iso, None),
        "risk_first_seen": _choose(risk, today, None),
        "progress": p,
        "progress_max": p.copy(),
        "progress_before_done": np.full(m, math.nan),
        "plan_unexplained": np.zeros(m, dtype=bool),
        "deleted": np.zeros(m, dtype=bool),
    }
    assert rows.fingerprint is not None
    return TaskStates(rows.ids[idx], facts, _row_values(rows, idx), rows.fingerprint[idx])


def _row_values(rows: _Rows, idx: np.ndarray) -> dict[str, np.ndarray]:
    none = np.full(len(idx), None, dtype=object)
    return {f: rows.values[f][idx] if f in rows.values else none for f in TRACKED}


def _existing_states(
    old: TaskStates, rows: _Rows, idx: np.ndarray, today: str, now_iso: str
) -> tuple[TaskStates, np.ndarray, np.ndarray]:
    """The new states of remembered tasks (``old``, aligned with rows ``idx``), which tracked
    fields' text changed (a row per task, a column per field of ``rows.fields``), and which
    states moved (the others are ``old``'s own row: nothing new to store).

    A planned date moved in a run that did not touch the remarks leaves the plan unexplained
    until a run that does; progress before done is the progress last seen before the status
    became completed; the risk clock runs from the first run that saw the current risk.
    """
    m = len(idx)
    f = old.facts
    diff = np.zeros((m, len(rows.fields)), dtype=bool)
    for k, name in enumerate(rows.fields):
        was = old.cells[name]
        diff[:, k] = _choose(pd.notna(was), was, "") != rows.values[name][idx]
    col = dict(zip(rows.fields, diff.T, strict=True))
    no = np.zeros(m, dtype=bool)
    changed = np.asarray(diff.any(axis=1), dtype=bool)
    plan_moved = col.get("planned_start", no) | col.get("planned_finish", no)
    plan_unexplained = (f["plan_unexplained"] | plan_moved) & ~col.get("remarks", no)
    p, status, risk, key = (
        rows.progresses[idx],
        rows.statuses[idx],
        rows.risks[idx],
        rows.keys[idx],
    )
    completed = np.asarray(status == "completed", dtype=bool)
    jumped = np.where(
        completed,
        np.where(f["status"] == "completed", f["progress_before_done"], f["progress"]),
        math.nan,
    )
    risk_since = _choose(risk, _choose(_truthy(f["risk_since"]), f["risk_since"], now_iso), None)
    same_jump = (jumped == f["progress_before_done"]) | (
        np.isnan(jumped) & np.isnan(f["progress_before_done"])
    )
    moved = ~(
        ~changed
        & (risk_since == f["risk_since"])
        & (plan_unexplained == f["plan_unexplained"])
        & same_jump
        & (key == f["key"])
    )
    with np.errstate(invalid="ignore"):
        started, full = p > 0, p >= 100

    def kept_or(name: str, when: np.ndarray, value: str) -> np.ndarray:
        return _choose(_truthy(f[name]), f[name], _choose(when, value, None))

    facts = {
        **f,
        "key": key,
        "last_changed": _choose(changed, now_iso, f["last_changed"]),
        "status": status,
        "progress": p,
        "progress_max": np.fmax(f["progress_max"], p),
        "first_progress_day": kept_or("first_progress_day", started, today),
        "done_day": kept_or("done_day", completed | full, today),
        "risk_since": risk_since,
        "risk_first_seen": kept_or("risk_first_seen", risk, today),
        "plan_unexplained": plan_unexplained,
        "progress_before_done": jumped,
    }
    assert rows.fingerprint is not None
    new = TaskStates(old.ids, facts, _row_values(rows, idx), rows.fingerprint[idx])
    still = np.flatnonzero(~moved)
    return _assign(new, still, old, still), diff, moved


def _one_row(
    tid: str,
    key: str,
    values: dict[str, str],
    status: str | None,
    progress: float | None,
    risk_on: bool,
    start: str | None = None,
    finish: str | None = None,
) -> _Rows:
    """One tracker row as :class:`_Rows` (the helpers' one-task spelling)."""
    fields = [f for f in TRACKED if f in values]
    texts = {f: _objects([values[f]]) for f in fields}
    return _Rows(
        ids=_objects([tid]),
        keys=_objects([key]),
        fields=fields,
        values=texts,
        progresses=np.array([math.nan if progress is None else progress]),
        statuses=_objects([status]),
        risks=np.array([risk_on]),
        open_risks=np.array([], dtype=np.intp),
        starts=_objects([start]),
        finishes=_objects([finish]),
        fingerprint=fingerprints(
            [_hash_texts(texts[f]) if f in texts else None for f in TRACKED], 1
        ),
    )


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
    """:func:`_fresh_states` for one task (``old``: the removed task coming back)."""
    rows = _one_row(tid, key, values, status, progress, risk_on, start, finish)
    gone = TaskStates.of([] if old is None else [old])
    at = np.array([-1 if old is None else 0])
    return _fresh_states(rows, np.array([0]), gone, at, today, now_iso).row(0)


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
    """:func:`_existing_states` for one task: its new state (``old`` itself when nothing
    moved) and the tracked fields whose text changed, in order."""
    rows = _one_row(old.task_id, key, values, status, progress, risk_on)
    new, diff, moved = _existing_states(TaskStates.of([old]), rows, np.array([0]), today, now_iso)
    fields = [f for f, d in zip(rows.fields, diff[0].tolist(), strict=True) if d]
    return (new.row(0) if moved[0] else old), fields


def _history_columns(
    rows: _Rows,
    states: TaskStates | Sequence[TaskState],
    changed: np.ndarray | Sequence[bool],
    previous: np.ndarray | Mapping[int, float | None],
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
      went down in this run (``previous``: the progress before this run of the rows compared
      cell by cell, NaN or absent for the others), else NaN.
    """
    s = TaskStates.of(states)
    f = s.facts
    n = len(s)
    changed = np.asarray(changed, dtype=bool)
    if isinstance(previous, Mapping):
        before = np.full(n, math.nan)
        for i, p0 in previous.items():
            before[i] = math.nan if p0 is None else p0
    else:
        before = previous
    # many tasks share a last-changed time or a risk start: parse each once
    days_unchanged = np.zeros(n)
    quiet = np.flatnonzero(~changed)
    codes, stamps = pd.factorize(f["last_changed"][quiet])
    ages = [float(max((as_of - dt.date.fromisoformat(t[:10])).days, 0)) for t in stamps]
    days_unchanged[quiet] = np.asarray(ages, dtype=float)[codes]
    risk_hours = np.full(n, math.nan)
    open_ = np.asarray(rows.open_risks, dtype=np.intp)
    since = f["risk_since"][open_]
    timed = _truthy(since)
    codes, starts = pd.factorize(since[timed])
    hours = [max((now - dt.datetime.fromisoformat(t)).total_seconds(), 0.0) / 3600 for t in starts]
    risk_hours[open_[timed]] = np.asarray(hours, dtype=float)[codes]
    completed = _objects(list(rows.statuses)) == "completed"
    before_done = np.where(completed, f["progress_before_done"], math.nan)
    p = np.asarray(rows.progresses, dtype=float)
    with np.errstate(invalid="ignore"):
        drops = np.where(p < before, before - p, math.nan)
    frame = pd.DataFrame(
        {
            "first_seen": _days(f["first_seen"]),
            "days_unchanged": days_unchanged,
            "risk_hours_open": risk_hours,
            "risk_first_seen": _days(f["risk_first_seen"]),
            "plan_unexplained": f["plan_unexplained"].astype(bool),
            "progress_before_done": before_done,
            "progress_drop": drops,
            "baseline_start": _days(f["baseline_start"]),
            "baseline_finish": _days(f["baseline_finish"]),
        }
    )
    return frame[list(HISTORY_COLUMNS)]


def _days(values: np.ndarray) -> pd.Series:
    """ISO day texts as datetimes (NaT where empty or unreadable), each distinct text read once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    days = pd.to_datetime(pd.Series([*uniques.tolist(), None], dtype=object), errors="coerce")
    return pd.Series(days.to_numpy()[codes])


def rebaseline(states: Mapping[str, TaskState]) -> TaskStates:
    """Every task's baseline becomes its current planned dates."""
    s = TaskStates.of(states)
    start, finish = s.cells["planned_start"], s.cells["planned_finish"]
    facts = {
        **s.facts,
        "baseline_start": _choose(_truthy(start), start, None),
        "baseline_finish": _choose(_truthy(finish), finish, None),
        "plan_unexplained": np.zeros(len(s), dtype=bool),
    }
    return TaskStates(s.ids, facts, s.cells, s.fingerprint)


def changed_states(
    new: Mapping[str, TaskState], old: Mapping[str, TaskState]
) -> Mapping[str, TaskState]:
    """The states of ``new`` that differ from ``old``'s (what a run stores; none when quiet)."""
    if not isinstance(new, TaskStates):
        return {tid: s for tid, s in new.items() if old.get(tid) != s}
    if new._origin is old and new._anew is not None:  # step() knows which it made anew
        return new.take(np.flatnonzero(new._anew))
    before = TaskStates.of(old)
    at = before.positions(new.ids)
    known = np.flatnonzero(at >= 0)
    differs = at < 0
    for a, b in ((new.facts, before.facts), (new.cells, before.cells)):
        for name, col in a.items():
            x, y = col[known], b[name][at[known]]
            same = x == y
            if x.dtype.kind == "f":
                same |= np.isnan(x) & np.isnan(y)
            differs[known] |= ~same
    return new.take(np.flatnonzero(differs))

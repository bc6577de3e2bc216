"""The run store (SQLite): every run, the task states, cell-by-cell changes, snapshots; a lock.

Tables (schema version in ``PRAGMA user_version``, migrated forward on open)::

    runs    one row per run: times, as-of day, target, outcome, counts, requests, KPIs,
            and references to its snapshot and findings
    blobs   zlib-compressed JSON, stored once per distinct content (a run whose sheet did
            not change reuses the previous snapshot)
    task_states  one row: the latest state of every task ID as one columnar blob
            (sync.timeline.TaskStates.encode), rewritten by each run that changes a state
    tasks   up to schema 4, one JSON TaskState per task ID (moved into task_states by the
            migration to 5; still read if an older store is opened read-only)
    events  what changed: task, field, old -> new, with run and as-of day
    (runs.fingerprint / valid_until: the inputs of a quiet run and until when the clock keeps
    its outcome, so the next run may stop after the read — sync.unchanged; runs.same_as: the
    run such a skipped run repeats)
    store   key/value facts about the store itself: ``tracker`` = the tracker it belongs to
            (and ``notify.*`` notes made once, e.g. an owner missing from the directory;
            ``read.hint``: the tabs the last run's read found, for the next read to start
            with their values -- sync.backends.base.Probes)
    alerts      notify: one row per alert (task, kind) while it is true, closed when resolved;
                the last day it was announced and how often (sync.notify.decide)
    deliveries  notify: one row per message per channel (alert batch or digest slot): its
                tasks, status (pending, failed, delivered, superseded, dropped), attempts,
                the last error (secrets removed); a failed one is retried in place next run

A store belongs to one tracker (``claim``): a run of another tracker is refused, so two
trackers can never mix their task IDs. Opened ``readonly`` (``check``, ``--dry-run``) it
writes and creates nothing; a store that does not exist yet reads as empty.

:class:`RunStore` is the protocol the run needs; :class:`History` is the SQLite one. Only
``sync.run`` and the CLI use this module; the pure pipeline gets a HistoryView.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import json
import logging
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from .errors import ConfigError, TrackerError
from .text import redact
from .timeline import Event, HistoryView, TaskState, TaskStates, TrendPoint
from .unchanged import LastInputs

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs(
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        as_of TEXT,
        target TEXT,
        worksheet TEXT,
        outcome TEXT NOT NULL,
        message TEXT,
        rows INTEGER,
        errors INTEGER,
        warnings INTEGER,
        infos INTEGER,
        cells_written INTEGER,
        requests_read INTEGER,
        requests_write INTEGER,
        kpis TEXT,
        snapshot_id INTEGER REFERENCES blobs(id),
        findings_id INTEGER REFERENCES blobs(id)
    );
    CREATE TABLE blobs(id INTEGER PRIMARY KEY, sha TEXT UNIQUE NOT NULL, data BLOB NOT NULL);
    CREATE TABLE tasks(task_id TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE events(
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        at TEXT NOT NULL,
        as_of TEXT NOT NULL,
        task_id TEXT NOT NULL,
        field TEXT NOT NULL,
        old TEXT,
        new TEXT
    );
    CREATE INDEX events_as_of ON events(as_of);
    CREATE INDEX runs_as_of ON runs(as_of);
    """,
    2: """
    CREATE TABLE store(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    3: """
    CREATE TABLE alerts(
        id INTEGER PRIMARY KEY,
        task_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        last_notice TEXT NOT NULL,
        notices INTEGER NOT NULL,
        closed_at TEXT
    );
    CREATE UNIQUE INDEX alerts_open ON alerts(task_id, kind) WHERE closed_at IS NULL;
    CREATE TABLE deliveries(
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        last_run_id INTEGER REFERENCES runs(id),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        slot TEXT,
        items TEXT NOT NULL,
        task_rows TEXT NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        delivered_at TEXT
    );
    CREATE INDEX deliveries_open ON deliveries(status, channel);
    """,
    4: """
    ALTER TABLE runs ADD COLUMN fingerprint TEXT;
    ALTER TABLE runs ADD COLUMN valid_until TEXT;
    ALTER TABLE runs ADD COLUMN same_as INTEGER REFERENCES runs(id);
    """,
    5: """
    CREATE TABLE task_states(
        id INTEGER PRIMARY KEY CHECK (id = 1),
        run_id INTEGER REFERENCES runs(id),
        data BLOB NOT NULL
    );
    """,
}


def _states_into_one_blob(db: sqlite3.Connection) -> None:
    """Schema 5: the JSON document of each task (``tasks``) becomes one columnar blob."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'tasks'").fetchone():
        return
    rows = db.execute("SELECT task_id, state FROM tasks ORDER BY rowid").fetchall()
    if rows:
        states = TaskStates.of({t: TaskState.from_json(t, json.loads(s)) for t, s in rows})
        db.execute("INSERT INTO task_states(id, data) VALUES (1, ?)", (states.encode(),))
        db.execute("DELETE FROM tasks")


#: Steps that move data, run after their version's SQL in the same transaction.
_DATA_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {5: _states_into_one_blob}

#: Deliveries still to be sent (a run that died mid-send leaves ``pending``; both are retried).
OPEN_DELIVERY = ("pending", "failed")


class TrackerBusy(TrackerError):
    """Another run against the same tracker is in progress."""


@dataclass(frozen=True)
class RunRecord:
    """One line of ``tracker-sync history``."""

    id: int
    started_at: str
    as_of: str | None
    target: str | None
    worksheet: str | None
    outcome: str
    message: str | None
    rows: int | None
    errors: int | None
    warnings: int | None
    cells_written: int | None
    requests_read: int | None
    requests_write: int | None


@dataclass(frozen=True)
class AlertRecord:
    """One open alert of sync.notify: a task and what is wrong with it."""

    id: int
    task_id: str
    kind: str
    opened_at: str
    last_notice: str  # ISO day the alert or its last reminder was decided
    notices: int


@dataclass(frozen=True)
class DeliveryRecord:
    """One message to one channel (``tracker-sync history`` lists them)."""

    id: int
    run_id: int | None
    last_run_id: int | None
    created_at: str
    updated_at: str
    channel: str
    kind: str
    slot: str | None
    items: list[dict[str, Any]]
    task_rows: list[int]
    title: str
    status: str
    attempts: int
    error: str | None
    delivered_at: str | None


@dataclass(frozen=True)
class Change:
    """One line of ``tracker-sync changes``."""

    run_id: int
    at: str
    as_of: str
    task_id: str
    field: str
    old: str | None
    new: str | None


def encode_cell(value: Any) -> Any:
    """A raw cell as JSON: dates keep their type so a restore is exact."""
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, float) and value != value:
        return None
    return value


def decode_cell(value: Any) -> Any:
    if isinstance(value, dict):
        if "$dt" in value:
            return dt.datetime.fromisoformat(value["$dt"])
        if "$d" in value:
            return dt.date.fromisoformat(value["$d"])
    return value


_F = TypeVar("_F", bound=Callable[..., Any])


def _store_errors(fn: _F) -> _F:
    """SQLite failures (a damaged file, a full disk) become TrackerError naming the file."""

    @functools.wraps(fn)
    def wrapper(self: History, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise TrackerError(f"{self.path}: the run store failed: {exc}") from None

    return wrapper  # type: ignore[return-value]


@runtime_checkable
class RunStore(Protocol):
    """What a run needs from its store (``sync(config, history=...)`` takes any of these)."""

    def claim(self, tracker: str, *, write: bool) -> None:
        """Refuse (ConfigError) a store that belongs to another tracker; ``write``: adopt an
        unclaimed one."""
        ...

    def view(self) -> HistoryView:
        """Task states and trend for the pure pipeline."""
        ...

    def last_run_at(self) -> dt.datetime | None:
        """The clock of the newest recorded run (a run may not be dated before it)."""
        ...

    def lock(self, target: str) -> AbstractContextManager[None]:
        """One writing run at a time per tracker."""
        ...

    def record(
        self,
        *,
        started_at: dt.datetime,
        outcome: str,
        message: str | None = None,
        as_of: dt.date | None = None,
        target: str | None = None,
        worksheet: str | None = None,
        counts: dict[str, int] | None = None,
        requests: dict[str, int] | None = None,
        kpis: dict[str, Any] | None = None,
        snapshot: dict[str, Any] | None = None,
        findings: list[dict[str, Any]] | None = None,
        states: Mapping[str, TaskState] | None = None,
        events: tuple[Event, ...] = (),
    ) -> int:
        """Store one run atomically; returns its number."""
        ...


@runtime_checkable
class RemembersInputs(Protocol):
    """A run store that can let a run stop after its read (:mod:`sync.unchanged`); the
    SQLite :class:`History` is one."""

    def last_inputs(self) -> LastInputs | None:
        """The fingerprint of the newest run, if it was quiet."""
        ...

    def remember_inputs(
        self, run_id: int, fingerprint: str, valid_until: dt.datetime | None
    ) -> None:
        """Mark run ``run_id`` as one a run with the same inputs may repeat."""
        ...

    def record_unchanged(
        self, *, started_at: dt.datetime, same_as: int, requests: dict[str, int] | None = None
    ) -> int:
        """Record a run that stopped after the read as a repeat of run ``same_as``."""
        ...

    def run_facts(self, run_id: int) -> dict[str, Any]:
        """Rows, findings by severity and KPIs of run ``run_id``."""
        ...


@runtime_checkable
class KeepsReadHint(Protocol):
    """A run store that keeps what the last run's read found (opaque text, the ``store`` table's
    ``read.hint``), so the next read of a :class:`~sync.backends.base.Probes` backend can start
    with the values; the SQLite :class:`History` is one."""

    def read_hint(self) -> str | None:
        """The hint the newest run left, if any."""
        ...

    def keep_read_hint(self, hint: str | None) -> None:
        """Replace the hint (None: forget it)."""
        ...


class History:
    """A run store at ``path`` (created on first use, unless ``readonly``)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                self.db = self._connect_readonly()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, isolation_level=None)
                # a rollback journal, not WAL: a read-only reader then needs no -shm/-wal files
                # (one writer at a time holds the lock anyway); older WAL stores convert here
                self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise TrackerError(
                f"{self.path}: cannot open the run store ({exc}); nothing was read or written. "
                "If the file is damaged, move it away: the next run starts a new history."
            ) from None

    def _connect_readonly(self) -> sqlite3.Connection:
        """The file read-only, or an empty in-memory store when there is none: nothing is
        created either way (an old WAL-mode store in a read-only folder is read as immutable)."""
        if not self.path.exists():
            log.debug("no run store at %s yet; reading as empty", self.path)
            return sqlite3.connect(":memory:", isolation_level=None)
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            # a WAL-mode store needs its -shm file, which a read-only folder cannot hold
            return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        version = int(self.db.execute("PRAGMA user_version").fetchone()[0])
        if self.readonly and self.path.exists():
            if version > SCHEMA_VERSION:
                raise TrackerError(
                    f"{self.path} was written by a newer tracker-sync (schema {version} > {SCHEMA_VERSION}); upgrade tracker-sync"
                )
            return  # an older store is read as it is; the next writing run migrates it
        if version > SCHEMA_VERSION:
            raise TrackerError(
                f"{self.path} was written by a newer tracker-sync (schema {version} > {SCHEMA_VERSION}); upgrade tracker-sync"
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            # one transaction per step: the schema, its data and its version number move together
            move = _DATA_MIGRATIONS.get(v)
            if move is None:
                self.db.executescript(
                    f"BEGIN IMMEDIATE;\n{_MIGRATIONS[v]}\nPRAGMA user_version={v};\nCOMMIT;"
                )
                continue
            with self._tx():
                self.db.execute(_MIGRATIONS[v])  # (one statement)
                move(self.db)
                self.db.execute(f"PRAGMA user_version={v}")

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ owner

    @_store_errors
    def tracker(self) -> str | None:
        """The tracker this store belongs to (None: not claimed yet, or an older store)."""
        try:
            row = self.db.execute("SELECT value FROM store WHERE key = 'tracker'").fetchone()
        except sqlite3.OperationalError:  # a schema-1 store opened read-only
            return None
        return str(row[0]) if row else None

    @_store_errors
    def read_hint(self) -> str | None:
        """What the last run's read found (:class:`KeepsReadHint`)."""
        try:
            row = self.db.execute("SELECT value FROM store WHERE key = 'read.hint'").fetchone()
        except sqlite3.OperationalError:  # an older store opened read-only
            return None
        return str(row[0]) if row else None

    @_store_errors
    def keep_read_hint(self, hint: str | None) -> None:
        """Keep ``hint`` for the next run's read (None forgets it); read-only: nothing."""
        if self.readonly:
            return
        if hint is None:
            self.db.execute("DELETE FROM store WHERE key = 'read.hint'")
            return
        self.db.execute(
            "INSERT INTO store(key, value) VALUES ('read.hint', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (hint,),
        )

    @_store_errors
    def claim(self, tracker: str, *, write: bool) -> None:
        owner = self.tracker()
        if owner is not None and owner != tracker:
            raise ConfigError(
                f"{self.path} is the run store of another tracker ({owner}), not of {tracker}; "
                "give each tracker its own store (drop history.path to get one per tracker)"
            )
        if owner is None and write and not self.readonly:
            self.db.execute(
                "INSERT INTO store(key, value) VALUES ('tracker', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (tracker,),
            )

    @_store_errors
    def last_run_at(self) -> dt.datetime | None:
        # the newest runs, compared as instants (runs may be recorded in different zones)
        times = [
            dt.datetime.fromisoformat(r[0])
            for r in self.db.execute("SELECT started_at FROM runs ORDER BY id DESC LIMIT 50")
        ]
        aware = [t if t.tzinfo else t.replace(tzinfo=dt.UTC) for t in times]
        return max(aware, default=None)

    # ------------------------------------------------------------------ lock

    @contextlib.contextmanager
    def lock(self, target: str) -> Iterator[None]:
        """One run at a time per tracker: a second run exits at once, writing nothing."""
        path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise TrackerError(
                f"{path}: cannot create the run's lock file ({exc.strerror}); a run that writes "
                "needs a writable folder for its run store (history.path); nothing was written. "
                "`tracker-sync check` only reads."
            ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                raise TrackerBusy(
                    f"another tracker-sync run against {target} is in progress ({holder}); "
                    "this run wrote nothing. Run again when it has finished (cron will)."
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(
                fd,
                f"pid {os.getpid()}, started {dt.datetime.now().isoformat(timespec='seconds')}".encode(),
                0,
            )
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # ------------------------------------------------------------------ read

    @_store_errors
    def view(self, trend_days: int = 60) -> HistoryView:
        """Task states, the daily trend and the highest task ID ever given."""
        states = self._states()
        rows = self.db.execute(
            "SELECT as_of, kpis FROM runs WHERE kpis IS NOT NULL AND id IN "
            "(SELECT MAX(id) FROM runs WHERE kpis IS NOT NULL GROUP BY as_of) ORDER BY as_of DESC LIMIT ?",
            (trend_days,),
        ).fetchall()
        trend = []
        for as_of, kpis in reversed(rows):
            k = json.loads(kpis)
            trend.append(
                TrendPoint(
                    dt.date.fromisoformat(as_of),
                    k["completion_rate"],
                    k["delayed"],
                    k.get("avg_deviation"),
                )
            )
        numbers = [int(t[1:]) for t in states.ids.tolist() if t[1:].isdigit()]
        return HistoryView(states=states, trend=tuple(trend), max_id=max(numbers, default=0))

    def _states(self) -> TaskStates:
        """The latest state of every task: the one blob, and any JSON rows of an older store
        opened read-only (a writing run has moved them into the blob)."""
        try:
            row = self.db.execute("SELECT data FROM task_states WHERE id = 1").fetchone()
        except sqlite3.OperationalError:  # schema 4 or older, opened read-only
            row = None
        try:
            states = TaskStates.decode(row[0]) if row else TaskStates.empty()
        except ValueError as exc:
            raise TrackerError(
                f"{self.path}: the task states in the run store are damaged ({exc}); move the "
                "file away: the next run starts a new history"
            ) from None
        try:
            legacy = self.db.execute("SELECT task_id, state FROM tasks ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # a store from before any task was kept
            legacy = []
        if legacy:
            states = states.updated({t: TaskState.from_json(t, json.loads(s)) for t, s in legacy})
        return states

    @_store_errors
    def runs(self, limit: int = 50) -> list[RunRecord]:
        cur = self.db.execute(
            "SELECT id, started_at, as_of, target, worksheet, outcome, message, rows, errors, warnings, cells_written, "
            "requests_read, requests_write FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [RunRecord(*row) for row in cur.fetchall()]

    @_store_errors
    def changes(self, since: dt.date) -> list[Change]:
        cur = self.db.execute(
            "SELECT run_id, at, as_of, task_id, field, old, new FROM events WHERE as_of >= ? ORDER BY task_id, id",
            (since.isoformat(),),
        )
        return [Change(*row) for row in cur.fetchall()]

    @_store_errors
    def snapshot(self, run_id: int) -> dict[str, Any]:
        """The human cells of the tracker as run ``run_id`` read them."""
        row = self.db.execute("SELECT snapshot_id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise TrackerError(
                f"{self.path}: there is no run {run_id}; `tracker-sync history` lists the runs"
            )
        if row[0] is None:
            raise TrackerError(
                f"run {run_id} did not read the tracker (it failed before), so it has no snapshot"
            )
        data: dict[str, Any] = self._materialize(int(row[0]))
        data["rows"] = [[decode_cell(v) for v in r] for r in data["rows"]]
        return data

    @_store_errors
    def findings(self, run_id: int) -> list[dict[str, Any]]:
        """The findings run ``run_id`` reported."""
        row = self.db.execute("SELECT findings_id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or row[0] is None:
            return []
        result: list[dict[str, Any]] = self._materialize(int(row[0]))
        return result

    def _doc(self, blob_id: int) -> dict[str, Any]:
        (data,) = self.db.execute("SELECT data FROM blobs WHERE id = ?", (blob_id,)).fetchone()
        doc: dict[str, Any] = json.loads(zlib.decompress(data))
        return doc

    def _materialize(self, blob_id: int) -> Any:
        """A stored content: a keyframe, or a chain of deltas back to one."""
        chain = []
        doc = self._doc(blob_id)
        while "delta" in doc:
            chain.append(doc)
            doc = self._doc(int(doc["prev"]))
        content = doc["full"]
        for d in reversed(chain):
            content = _apply(content, d["delta"])
        return content

    # ------------------------------------------------------------------ write

    def _put_versioned(self, content: Any, prev_id: int | None) -> int:
        """Store content as a delta on the previous run's (a keyframe every KEYFRAME_EVERY)."""
        if prev_id is not None:
            prev_doc = self._doc(prev_id)
            previous = self._materialize(prev_id)
            if previous == content:
                return prev_id
            depth = int(prev_doc.get("depth", 0))
            delta = _delta(previous, content) if depth < KEYFRAME_EVERY else None
            if delta is not None and _is_empty(delta, previous):
                return prev_id  # the same content (findings compare as a set)
            if delta is not None:
                return self._put_blob({"prev": prev_id, "depth": depth + 1, "delta": delta})
        return self._put_blob({"full": content, "depth": 0})

    def _put_blob(self, content: Any) -> int:
        raw = json.dumps(
            content, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        ).encode()
        sha = hashlib.sha256(raw).hexdigest()
        row = self.db.execute("SELECT id FROM blobs WHERE sha = ?", (sha,)).fetchone()
        if row:
            return int(row[0])
        cur = self.db.execute(
            "INSERT INTO blobs(sha, data) VALUES (?, ?)", (sha, zlib.compress(raw, 6))
        )
        return int(cur.lastrowid or 0)

    @_store_errors
    def record(
        self,
        *,
        started_at: dt.datetime,
        outcome: str,
        message: str | None = None,
        as_of: dt.date | None = None,
        target: str | None = None,
        worksheet: str | None = None,
        counts: dict[str, int] | None = None,
        requests: dict[str, int] | None = None,
        kpis: dict[str, Any] | None = None,
        snapshot: dict[str, Any] | None = None,
        findings: list[dict[str, Any]] | None = None,
        states: Mapping[str, TaskState] | None = None,
        events: tuple[Event, ...] = (),
    ) -> int:
        """Store one run atomically; task states and events only when the run read the tracker
        (``states``: those the run changed, merged into the stored ones)."""
        if self.readonly:
            raise TrackerError(f"{self.path}: opened read-only; this run records nothing")
        counts = counts or {}
        requests = requests or {}
        with self._tx():
            last = self.db.execute(
                "SELECT snapshot_id, findings_id FROM runs WHERE snapshot_id IS NOT NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
            prev_snap, prev_find = (last[0], last[1]) if last else (None, None)
            snap_id = self._put_versioned(snapshot, prev_snap) if snapshot is not None else None
            find_id = self._put_versioned(findings, prev_find) if findings is not None else None
            cur = self.db.execute(
                "INSERT INTO runs(started_at, as_of, target, worksheet, outcome, message, rows, errors, warnings, infos, "
                "cells_written, requests_read, requests_write, kpis, snapshot_id, findings_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    started_at.isoformat(timespec="seconds"),
                    as_of.isoformat() if as_of else None,
                    target,
                    worksheet,
                    outcome,
                    redact(message) if message is not None else None,
                    counts.get("rows"),
                    counts.get("error"),
                    counts.get("warning"),
                    counts.get("info"),
                    counts.get("cells_written"),
                    requests.get("read"),
                    requests.get("write"),
                    json.dumps(kpis, ensure_ascii=False) if kpis is not None else None,
                    snap_id,
                    find_id,
                ),
            )
            run_id = int(cur.lastrowid or 0)
            if states:
                merged = self._states().updated(states)
                self.db.execute(
                    "INSERT INTO task_states(id, run_id, data) VALUES (1, ?, ?) ON CONFLICT(id) "
                    "DO UPDATE SET run_id = excluded.run_id, data = excluded.data",
                    (run_id, merged.encode()),
                )
            if events:
                at = started_at.isoformat(timespec="seconds")
                day = as_of.isoformat() if as_of else at[:10]
                self.db.executemany(
                    "INSERT INTO events(run_id, at, as_of, task_id, field, old, new) VALUES (?,?,?,?,?,?,?)",
                    [(run_id, at, day, e.task_id, e.field, e.old, e.new) for e in events],
                )
        return run_id

    # ------------------------------------------------------------------ skip (sync.unchanged)

    @_store_errors
    def last_inputs(self) -> LastInputs | None:
        """The fingerprint of the newest run, when it has one (a quiet sync run), with the
        number of the run that computed it (a skipped run names the run it repeats)."""
        try:
            row = self.db.execute(
                "SELECT COALESCE(same_as, id), fingerprint, valid_until FROM runs "
                "ORDER BY id DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # an older store opened read-only
            return None
        if row is None or row[1] is None:
            return None
        until = dt.datetime.fromisoformat(row[2]) if row[2] else None
        return LastInputs(int(row[0]), str(row[1]), until)

    @_store_errors
    def remember_inputs(
        self, run_id: int, fingerprint: str, valid_until: dt.datetime | None
    ) -> None:
        """Mark run ``run_id`` as repeatable: its inputs hashed to ``fingerprint``."""
        if self.readonly:
            raise TrackerError(f"{self.path}: opened read-only; this run records nothing")
        self.db.execute(
            "UPDATE runs SET fingerprint = ?, valid_until = ? WHERE id = ?",
            (fingerprint, valid_until.isoformat() if valid_until else None, run_id),
        )

    @_store_errors
    def record_unchanged(
        self, *, started_at: dt.datetime, same_as: int, requests: dict[str, int] | None = None
    ) -> int:
        """Record a run that stopped after the read as a copy of run ``same_as`` (its day,
        counts, KPIs, snapshot, findings and fingerprint), outcome ``unchanged``, nothing
        written. Returns its number."""
        if self.readonly:
            raise TrackerError(f"{self.path}: opened read-only; this run records nothing")
        requests = requests or {}
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO runs(started_at, as_of, target, worksheet, outcome, rows, errors, "
                "warnings, infos, cells_written, requests_read, requests_write, kpis, "
                "snapshot_id, findings_id, fingerprint, valid_until, same_as) "
                "SELECT ?, as_of, target, worksheet, 'unchanged', rows, errors, warnings, infos, "
                "0, ?, ?, kpis, snapshot_id, findings_id, fingerprint, valid_until, "
                "COALESCE(same_as, id) "
                "FROM runs WHERE id = ?",
                (
                    started_at.isoformat(timespec="seconds"),
                    requests.get("read"),
                    requests.get("write"),
                    same_as,
                ),
            )
            if not cur.rowcount:
                raise TrackerError(f"{self.path}: there is no run {same_as} to repeat")
        return int(cur.lastrowid or 0)

    @_store_errors
    def run_facts(self, run_id: int) -> dict[str, Any]:
        """Rows, findings by severity and KPIs run ``run_id`` recorded (for a skipped run's
        report)."""
        row = self.db.execute(
            "SELECT rows, errors, warnings, infos, kpis FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return {}
        return {
            "rows": row[0],
            "findings_by_severity": {
                "error": row[1] or 0,
                "warning": row[2] or 0,
                "info": row[3] or 0,
            },
            "kpis": json.loads(row[4]) if row[4] else {},
        }

    # ------------------------------------------------------------------ notify

    def _has_notify_tables(self) -> bool:
        """False for an older store opened read-only (migrated by the next writing run)."""
        row = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'"
        ).fetchone()
        return row is not None

    @_store_errors
    def open_alerts(self) -> list[AlertRecord]:
        """Alerts still true at the last notifying run."""
        if not self._has_notify_tables():
            return []
        cur = self.db.execute(
            "SELECT id, task_id, kind, opened_at, last_notice, notices FROM alerts "
            "WHERE closed_at IS NULL ORDER BY id"
        )
        return [AlertRecord(*row) for row in cur.fetchall()]

    @_store_errors
    def deliveries(
        self,
        *,
        limit: int = 50,
        open_only: bool = False,
        channel: str | None = None,
        kind: str | None = None,
    ) -> list[DeliveryRecord]:
        """Deliveries, newest first (``open_only``: those still to be sent)."""
        if not self._has_notify_tables():
            return []
        where, args = [], []
        if open_only:
            where.append(f"status IN ({','.join('?' * len(OPEN_DELIVERY))})")
            args += list(OPEN_DELIVERY)
        if channel is not None:
            where.append("channel = ?")
            args.append(channel)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = (
            "SELECT id, run_id, last_run_id, created_at, updated_at, channel, kind, slot, items, "
            "task_rows, title, status, attempts, error, delivered_at FROM deliveries"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY id DESC LIMIT ?"
        )
        rows = self.db.execute(sql, (*args, limit)).fetchall()
        return [_delivery(r) for r in rows]

    @_store_errors
    def digest_slots(self, channel: str) -> dict[str, str]:
        """Digest slot -> status of the newest delivery for it, on one channel."""
        if not self._has_notify_tables():
            return {}
        cur = self.db.execute(
            "SELECT slot, status FROM deliveries WHERE channel = ? AND kind = 'digest' "
            "AND slot IS NOT NULL ORDER BY id",
            (channel,),
        )
        return {slot: status for slot, status in cur.fetchall()}

    @_store_errors
    def noted(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` the store already noted (things said once)."""
        if not keys:
            return set()
        try:
            cur = self.db.execute(
                f"SELECT key FROM store WHERE key IN ({','.join('?' * len(keys))})", keys
            )
        except sqlite3.OperationalError:  # a schema-1 store opened read-only
            return set()
        return {row[0] for row in cur.fetchall()}

    @_store_errors
    def record_notices(
        self,
        *,
        at: dt.datetime,
        day: dt.date,
        opened: Sequence[tuple[str, str]] = (),
        reminded: Sequence[tuple[str, str]] = (),
        closed: Sequence[tuple[str, str]] = (),
        deliveries: Sequence[dict[str, Any]] = (),
        finished: Sequence[tuple[int, str]] = (),
        notes: Sequence[str] = (),
    ) -> list[int]:
        """What one run decided, atomically: alerts opened / reminded / closed (by task and
        kind), deliveries to send (a dict with ``id`` updates that delivery in place, else a
        new one; keys run_id, channel, kind, slot, items, task_rows, title), earlier
        deliveries finished without sending (id, status: superseded / dropped), and notes made
        once. Returns the ids of ``deliveries``, all left ``pending``."""
        if self.readonly:
            raise TrackerError(f"{self.path}: opened read-only; this run records nothing")
        stamp = at.isoformat(timespec="seconds")
        today = day.isoformat()
        ids: list[int] = []
        with self._tx():
            for task_id, kind in closed:
                self.db.execute(
                    "UPDATE alerts SET closed_at = ? WHERE task_id = ? AND kind = ? "
                    "AND closed_at IS NULL",
                    (stamp, task_id, kind),
                )
            for task_id, kind in opened:
                self.db.execute(
                    "INSERT INTO alerts(task_id, kind, opened_at, last_notice, notices) "
                    "VALUES (?, ?, ?, ?, 1)",
                    (task_id, kind, stamp, today),
                )
            for task_id, kind in reminded:
                self.db.execute(
                    "UPDATE alerts SET last_notice = ?, notices = notices + 1 "
                    "WHERE task_id = ? AND kind = ? AND closed_at IS NULL",
                    (today, task_id, kind),
                )
            for delivery_id, status in finished:
                self.db.execute(
                    "UPDATE deliveries SET status = ?, updated_at = ? WHERE id = ?",
                    (status, stamp, delivery_id),
                )
            for d in deliveries:
                items = json.dumps(d["items"], ensure_ascii=False, sort_keys=True)
                rows = json.dumps(d["task_rows"])
                title = redact(d["title"])
                if d.get("id") is not None:
                    self.db.execute(
                        "UPDATE deliveries SET last_run_id = ?, updated_at = ?, items = ?, "
                        "task_rows = ?, title = ?, status = 'pending' WHERE id = ?",
                        (d["run_id"], stamp, items, rows, title, d["id"]),
                    )
                    ids.append(int(d["id"]))
                    continue
                cur = self.db.execute(
                    "INSERT INTO deliveries(run_id, last_run_id, created_at, updated_at, "
                    "channel, kind, slot, items, task_rows, title, status) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,'pending')",
                    (
                        d["run_id"],
                        d["run_id"],
                        stamp,
                        stamp,
                        d["channel"],
                        d["kind"],
                        d.get("slot"),
                        items,
                        rows,
                        title,
                    ),
                )
                ids.append(int(cur.lastrowid or 0))
            for key in notes:
                self.db.execute(
                    "INSERT INTO store(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
                    (key, stamp),
                )
        return ids

    @_store_errors
    def finish_delivery(
        self, delivery_id: int, *, delivered: bool, at: dt.datetime, error: str | None = None
    ) -> None:
        """The outcome of one attempt to send a delivery (the error with secrets removed)."""
        stamp = at.isoformat(timespec="seconds")
        self.db.execute(
            "UPDATE deliveries SET status = ?, attempts = attempts + 1, error = ?, "
            "updated_at = ?, delivered_at = ? WHERE id = ?",
            (
                "delivered" if delivered else "failed",
                redact(error) if error else None,
                stamp,
                stamp if delivered else None,
                delivery_id,
            ),
        )


def _delivery(r: Sequence[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=r[0],
        run_id=r[1],
        last_run_id=r[2],
        created_at=r[3],
        updated_at=r[4],
        channel=r[5],
        kind=r[6],
        slot=r[7],
        items=json.loads(r[8]),
        task_rows=json.loads(r[9]),
        title=r[10],
        status=r[11],
        attempts=r[12],
        error=r[13],
        delivered_at=r[14],
    )


#: A full copy at least this often in a chain of deltas (a day of 10-minute runs).
KEYFRAME_EVERY = 144


def _delta(old: Any, new: Any) -> dict[str, Any] | None:
    """A small description of ``new`` against ``old`` (None when a full copy is better)."""
    if isinstance(old, dict) and isinstance(new, dict):  # a snapshot
        if old.get("title") != new.get("title") or old.get("columns") != new.get("columns"):
            return None
        a, b = old["rows"], new["rows"]
        changes = []
        for r in range(len(b)):
            ra = a[r] if r < len(a) else []
            rb = b[r]
            if ra != rb:
                changes.append([r, rb])
        if len(changes) * 2 > max(len(b), 1):
            return None
        return {"height": len(b), "rows": changes}
    if isinstance(old, list) and isinstance(new, list):  # findings
        olds = {_fast_key(f): f for f in old}
        news = {_fast_key(f) for f in new}
        removed = sorted(_key(olds[k]) for k in olds.keys() - news)  # stored as JSON text
        added = [f for f in new if _fast_key(f) not in olds]
        if len(removed) + len(added) > max(len(new), 1) // 2:
            return None
        return {"removed": removed, "added": added}
    return None


def _is_empty(delta: dict[str, Any], previous: Any) -> bool:
    if "height" in delta:
        return not delta["rows"] and delta["height"] == len(previous["rows"])
    return not delta["removed"] and not delta["added"]


def _key(finding: Any) -> str:
    """A finding as the deltas store it: its JSON text, keys sorted."""
    return json.dumps(finding, sort_keys=True, ensure_ascii=False)


def _fast_key(finding: dict[str, Any]) -> Any:
    """A finding as a set member, equal exactly when :func:`_key` is: a tuple of the five
    columns a run records (``sync.model.FINDING_COLUMNS``: a row number and texts), else the JSON text —
    several times faster than JSON for the 250k findings of a 100k-row tracker."""
    try:
        row, column, rule = finding["row"], finding["column"], finding["rule"]
        severity, message = finding["severity"], finding["message"]
    except KeyError:
        return _key(finding)
    types = _KEY_TYPES
    if (
        len(finding) == 5
        and type(row) in types
        and type(column) in types
        and type(rule) in types
        and type(severity) in types
        and type(message) in types
    ):
        return (row, column, rule, severity, message)
    return _key(finding)


#: The value types whose equality is their JSON text's (not float: NaN, 1 vs 1.0).
_KEY_TYPES = frozenset({str, int, type(None)})


def _apply(content: Any, delta: dict[str, Any]) -> Any:
    if "height" in delta:
        rows = [list(r) for r in content["rows"][: delta["height"]]]
        rows += [[] for _ in range(delta["height"] - len(rows))]
        for r, row in delta["rows"]:
            rows[r] = row
        return {**content, "rows": rows}
    gone = {_fast_key(json.loads(k)) for k in delta["removed"]}
    kept = [f for f in content if _fast_key(f) not in gone] if gone else list(content)
    merged = kept + list(delta["added"])
    return sorted(merged, key=lambda f: (f.get("row", 0), str(f.get("column")), str(f.get("rule"))))


#: Cell types :func:`encode_cell` returns unchanged (floats too, unless NaN: checked apart).
_PLAIN = frozenset({str, int, bool, type(None)})


def human_snapshot(rows: list[list[Any]], generated: set[int], title: str) -> dict[str, Any]:
    """The tracker tab without the job's columns, cells encoded for JSON."""
    width = max((len(r) for r in rows), default=0)
    keep = [c for c in range(width) if c not in generated]
    out = []
    plain = _PLAIN
    for r in rows:
        if len(r) < width:
            r = [*r, *([None] * (width - len(r)))]
        # most cells are text, numbers or empty: only dates and NaN need encoding
        out.append(
            [
                v if (t := type(v)) in plain or (t is float and v == v) else encode_cell(v)
                for v in map(r.__getitem__, keep)
            ]
        )
    while out and all(v is None for v in out[-1]):
        out.pop()
    return {"title": title, "columns": keep, "rows": [_trim(r) for r in out]}


def _trim(row: list[Any]) -> list[Any]:
    while row and row[-1] is None:
        row = row[:-1]
    return row

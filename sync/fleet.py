"""A fleet: many trackers from one manifest, run concurrently within one request quota per
credential, unchanged spreadsheets skipped cheaply, each tracker isolated, a portfolio roll-up.

The manifest (``fleet.yaml``)::

    defaults:            # any config keys, deep-merged under each tracker's own
      google: {credentials: bot.json}
    fleet: {concurrency: 4, quota_per_minute: 60}
    trackers:
      - name: spring-launch
        config: spring/config.yaml       # an existing config file (its own store and lock) ...
      - name: summer-618                 # ... or inline keys (both: inline wins over the file)
        tracker: {backend: gsheets, spreadsheet: 1AbC…, worksheet: 推广进度表}
    portfolio: {backend: gsheets, spreadsheet: 1XyZ…, worksheet: 总览}   # optional

Paths in ``defaults`` and inline keys are relative to the manifest, paths in a tracker's config
file to that file. Each tracker keeps its own run store (the one ``tracker-sync run -c`` uses
for the same config) and, beside it, a small state file (``<store>.fleet.json``): the
fingerprint of the spreadsheet it last found unchanged, the run's day and config, its KPIs and
outcome (the portfolio reads these).

``--shard I/N`` (or ``JOB_COMPLETION_INDEX`` + ``TRACKER_SYNC_SHARD_COUNT`` on a Kubernetes
Indexed Job, ``CLOUD_RUN_TASK_INDEX`` + ``CLOUD_RUN_TASK_COUNT`` on Cloud Run) takes every N-th
tracker of the name-sorted manifest starting at I: shards 0..N-1 cover it exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import quota, yamlio
from .config import Config
from .errors import ConfigError, TrackerSyncError

log = logging.getLogger(__name__)

#: Config keys holding paths (``*`` = every item of a list), made absolute before merging.
PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("tracker", "path"),
    ("tracker", "output"),
    ("google", "credentials"),
    ("feishu", "app_secret_file"),
    ("history", "path"),
    ("notify", "owners"),
    ("notify", "channels", "*", "password_file"),
    ("notify", "channels", "*", "secret_file"),
    ("rules", "*"),
)

MANIFEST_KEYS = ("defaults", "fleet", "trackers", "portfolio")

#: Environment variables that name this process's shard: (index, count).
SHARD_ENV = (
    ("JOB_COMPLETION_INDEX", "TRACKER_SYNC_SHARD_COUNT"),  # Kubernetes Indexed Job
    ("CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT"),  # Cloud Run job
)

DRIVE_SCOPE = "https://www.googleapis.com/auth/drive.metadata.readonly"
GOOGLE_DRIVE = "https://www.googleapis.com"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FleetSettings(_Strict):
    """``fleet:`` — how the trackers share one machine and one quota."""

    #: trackers run at the same time (threads)
    concurrency: int = Field(default=4, ge=1, le=64)
    #: Sheets requests per minute per credential, reads and writes each (Google: 60 per user)
    quota_per_minute: int = Field(default=quota.SHEETS_PER_MINUTE, ge=1, le=100_000)
    #: writes per minute per credential when different from reads
    write_quota_per_minute: int | None = Field(default=None, ge=1, le=100_000)
    #: Drive requests per minute per credential (the modifiedTime checks)
    drive_quota_per_minute: int = Field(default=quota.DRIVE_PER_MINUTE, ge=1, le=100_000)
    #: skip a tracker whose spreadsheet (Drive modifiedTime) or file (size + mtime), config and
    #: day are those of its last run that found nothing to write
    change_detection: bool = True
    #: where the run stores of trackers without their own history.path go (default: beside
    #: the manifest or the tracker's config file); relative to the manifest
    store_dir: Path | None = None

    def limits(self, window: float = 60.0, margin: float = 1.0) -> quota.Limits:
        return quota.Limits(
            read=self.quota_per_minute,
            write=self.write_quota_per_minute or self.quota_per_minute,
            drive=self.drive_quota_per_minute,
            window=window,
            margin=margin,
        )


class PortfolioConfig(_Strict):
    """``portfolio:`` — where the roll-up tab goes (a spreadsheet or workbook of its own)."""

    backend: str = "gsheets"
    spreadsheet: str | None = None
    path: Path | None = None
    #: the roll-up tab (default: 组合总览 / Portfolio)
    worksheet: str | None = None


@dataclass(frozen=True)
class FleetTracker:
    """One manifest entry: its config, or why it has none (reported, never fatal)."""

    name: str
    config: Config | None
    error: ConfigError | None = None

    def link(self) -> str:
        c = self.config
        if c is None:
            return ""
        if c.tracker.backend == "gsheets" and c.tracker.spreadsheet:
            from .backends.gsheets.transport import spreadsheet_key

            return f"https://docs.google.com/spreadsheets/d/{spreadsheet_key(c.tracker.spreadsheet)}/edit"
        if c.tracker.path is not None:
            return str(c.resolve(c.tracker.path))
        return str(c.tracker.spreadsheet or "")


@dataclass(frozen=True)
class Manifest:
    path: Path
    settings: FleetSettings
    trackers: tuple[FleetTracker, ...]
    portfolio: Config | None = None

    def names(self) -> list[str]:
        return [t.name for t in self.trackers]


# ---------------------------------------------------------------------------- manifest


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, mappings merged key by key (lists and values replaced).

    >>> deep_merge({"google": {"timeout": 5, "credentials": "a.json"}, "locale": "en"},
    ...            {"google": {"timeout": 9}})
    {'google': {'timeout': 9, 'credentials': 'a.json'}, 'locale': 'en'}
    """
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def absolute_paths(data: Mapping[str, Any], folder: Path) -> dict[str, Any]:
    """``data`` with every path key (:data:`PATH_KEYS`) made absolute against ``folder``."""

    def fix(node: Any, keys: Sequence[str]) -> Any:
        if not keys:
            if isinstance(node, str) and node != "builtin":
                p = Path(node).expanduser()
                return str(p if p.is_absolute() else (folder / p).resolve())
            return node
        head, rest = keys[0], keys[1:]
        if head == "*" and isinstance(node, list):
            return [fix(item, rest) for item in node]
        if isinstance(node, Mapping) and head in node:
            return {**node, head: fix(node[head], rest)}
        return node

    out: Any = dict(data)
    for keys in PATH_KEYS:
        out = fix(out, keys)
    return dict(out)


def _mapping(doc: yamlio.Located, loc: list[str | int], value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{doc.where(loc)}: {'.'.join(map(str, loc))}: {what}")
    return value


def load_manifest(path: Path | str) -> Manifest:
    """Read a fleet manifest. Errors in its shape stop here (naming file, line and key); a
    tracker whose own config is invalid becomes a :class:`FleetTracker` with ``error`` set, so
    the rest of the fleet still runs.

    >>> load_manifest("fleet.yaml").names()  # doctest: +SKIP
    ['spring-launch', 'summer-618']
    """
    path = Path(path)
    doc = yamlio.load(path)
    data = _mapping(
        doc, [], doc.data, "a fleet manifest is a mapping (defaults:, fleet:, trackers:)"
    )
    for key in data:
        if key not in MANIFEST_KEYS:
            raise ConfigError(
                f"{doc.where([key])}: {key}: unknown key (a manifest has {', '.join(MANIFEST_KEYS)})"
            )
    folder = path.resolve().parent
    defaults = _mapping(doc, ["defaults"], data.get("defaults"), "must be a mapping of config keys")
    if "history" in defaults and "path" in (defaults["history"] or {}):
        raise ConfigError(
            f"{doc.where(['defaults', 'history', 'path'])}: defaults.history.path would give every "
            "tracker the same run store; set history.path per tracker, or leave it out (each "
            "tracker then gets its own store in .tracker-sync/)"
        )
    defaults = absolute_paths(defaults, folder)
    try:
        settings = FleetSettings.model_validate(
            _mapping(doc, ["fleet"], data.get("fleet"), "must be a mapping")
        )
    except ValidationError as exc:
        raise ConfigError(
            "invalid fleet manifest:\n"
            + yamlio.format_pydantic_errors(doc, exc.errors(), prefix=["fleet"])
        ) from None
    entries = data.get("trackers")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{doc.where(['trackers'])}: trackers: a list of trackers is required")
    trackers: list[FleetTracker] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        loc: list[str | int] = ["trackers", i]
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str | int):
            raise ConfigError(
                f"{doc.where(loc)}: trackers[{i}]: each tracker needs a name: (and config: or keys)"
            )
        name = str(entry["name"]).strip()
        if not name or name in seen:
            raise ConfigError(
                f"{doc.where([*loc, 'name'])}: trackers[{i}].name: "
                + (f"{name!r} is used twice" if name else "is empty")
            )
        seen.add(name)
        tracker = _tracker(doc, loc, name, entry, defaults, folder)
        if settings.store_dir is not None and tracker.config is not None:
            tracker = FleetTracker(name, _stored_in(tracker.config, folder / settings.store_dir))
        trackers.append(tracker)
    owners: dict[str, str] = {}
    for i, t in enumerate(trackers):
        if t.config is None:
            continue
        identity = t.config.tracker.identity()
        if identity in owners:
            raise ConfigError(
                f"{doc.where(['trackers', i])}: trackers {owners[identity]!r} and {t.name!r} are "
                f"the same tracker ({identity}); list it once"
            )
        owners[identity] = t.name
    portfolio = _portfolio(doc, data.get("portfolio"), defaults, folder, trackers)
    return Manifest(path, settings, tuple(trackers), portfolio)


def _tracker(
    doc: yamlio.Located,
    loc: list[str | int],
    name: str,
    entry: dict[str, Any],
    defaults: dict[str, Any],
    folder: Path,
) -> FleetTracker:
    inline = absolute_paths({k: v for k, v in entry.items() if k not in ("name", "config")}, folder)
    merged = defaults
    where, prefix, source, base = doc, loc, doc.path, folder
    try:
        if entry.get("config") is not None:
            file = Path(str(entry["config"])).expanduser()
            file = file if file.is_absolute() else folder / file
            own = yamlio.load(file)
            if not isinstance(own.data, dict):
                raise ConfigError(f"{own.where([])}: the config must be a mapping of keys")
            merged = deep_merge(merged, absolute_paths(own.data, file.resolve().parent))
            where, prefix, source, base = own, [], file, file.resolve().parent
        merged = deep_merge(merged, inline)
        for key in ("base_dir", "source"):
            if key in merged:
                raise ConfigError(f"{doc.where(loc)}: trackers[{loc[1]}].{key}: unknown key")
        try:
            config = Config.model_validate(merged)
        except ValidationError as exc:
            raise ConfigError(
                f"tracker {name!r}: invalid config:\n"
                + yamlio.format_pydantic_errors(where, exc.errors(), prefix=prefix)
            ) from None
    except ConfigError as exc:
        return FleetTracker(name, None, exc)
    return FleetTracker(name, config.model_copy(update={"base_dir": base, "source": source}))


def _stored_in(config: Config, folder: Path) -> Config:
    """``config`` with its run store in ``folder`` (unless its own history.path says where)."""
    from .config import _slug

    if not config.history.enabled or config.history.path is not None:
        return config
    path = folder.resolve() / f"{_slug(config.tracker.identity())}.sqlite"
    return config.model_copy(update={"history": config.history.model_copy(update={"path": path})})


def _portfolio(
    doc: yamlio.Located,
    value: Any,
    defaults: dict[str, Any],
    folder: Path,
    trackers: list[FleetTracker],
) -> Config | None:
    if value is None:
        return None
    raw = _mapping(doc, ["portfolio"], value, "must be a mapping (backend:, spreadsheet: or path:)")
    try:
        p = PortfolioConfig.model_validate(raw)
        locale = defaults.get("locale", "zh-CN")
        title = p.worksheet or ("组合总览" if locale == "zh-CN" else "Portfolio")
        tracker = {"backend": p.backend, "spreadsheet": p.spreadsheet, "summary_worksheet": title}
        if p.path is not None:
            tracker["path"] = str(p.path)
        data = deep_merge(
            {k: v for k, v in defaults.items() if k not in ("tracker", "notify", "history")},
            absolute_paths({"tracker": tracker}, folder),
        )
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            "invalid fleet manifest:\n"
            + yamlio.format_pydantic_errors(doc, exc.errors(), prefix=["portfolio"])
        ) from None
    mine = config.tracker.identity().rsplit("#", 1)[0]
    for t in trackers:
        if t.config is not None and t.config.tracker.identity().rsplit("#", 1)[0] == mine:
            raise ConfigError(
                f"{doc.where(['portfolio'])}: portfolio: the roll-up would go into tracker "
                f"{t.name!r}'s own spreadsheet; give the portfolio a spreadsheet or workbook of its own"
            )
    return config.model_copy(update={"base_dir": folder, "source": doc.path})


# ---------------------------------------------------------------------------- shards


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N.

    >>> parse_shard("2/4")
    (2, 4)
    """
    index, sep, count = text.strip().partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: give I/N with 0 <= I < N, e.g. 0/4")
    return i, n


def shard_from_env(env: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """The shard a Kubernetes Indexed Job or a Cloud Run job gives this process, if any.

    Kubernetes sets ``JOB_COMPLETION_INDEX`` only (the count is ``spec.completions``; pass it
    as ``TRACKER_SYNC_SHARD_COUNT``); Cloud Run sets both of its variables.

    >>> shard_from_env({"CLOUD_RUN_TASK_INDEX": "1", "CLOUD_RUN_TASK_COUNT": "3"})
    (1, 3)
    """
    env = os.environ if env is None else env
    for index_var, count_var in SHARD_ENV:
        if env.get(index_var, "").strip():
            if not env.get(count_var, "").strip():
                raise ConfigError(
                    f"{index_var} is set but {count_var} is not: set it to the number of shards "
                    "(a Kubernetes Indexed Job's spec.completions), or pass --shard I/N"
                )
            return parse_shard(f"{env[index_var]}/{env[count_var]}")
    return None


def select(
    manifest: Manifest, *, only: Iterable[str] = (), shard: tuple[int, int] | None = None
) -> list[FleetTracker]:
    """The trackers this process runs: ``only`` those named, then this shard's share (every
    N-th of the name-sorted list from I: deterministic, balanced, each tracker in one shard)."""
    wanted = list(only)
    unknown = [n for n in wanted if n not in manifest.names()]
    if unknown:
        raise ConfigError(
            f"--only: no tracker named {', '.join(map(repr, unknown))} in {manifest.path} "
            f"(the trackers are: {', '.join(manifest.names())})"
        )
    chosen = [t for t in manifest.trackers if not wanted or t.name in wanted]
    if shard is None:
        return chosen
    i, n = shard
    mine = {t.name for k, t in enumerate(sorted(chosen, key=lambda t: t.name)) if k % n == i}
    return [t for t in chosen if t.name in mine]


# ---------------------------------------------------------------------------- state


def state_path(config: Config) -> Path | None:
    """The tracker's fleet state file, beside its run store (None: history is off)."""
    store = config.history_path()
    return store.with_name(store.name + ".fleet.json") if store is not None else None


def read_state(config: Config | None) -> dict[str, Any]:
    path = state_path(config) if config is not None else None
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(config: Config, state: Mapping[str, Any]) -> None:
    path = state_path(config)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- change detection


class Fingerprints:
    """What the tracker's file or spreadsheet looks like now, cheaply: Drive's modifiedTime
    (one ``files.get?fields=modifiedTime`` with the drive.metadata.readonly scope) for Google
    Sheets, size + mtime for .xlsx; None when unknown (the tracker then simply runs)."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self.requests = 0

    def of(self, config: Config) -> str | None:
        t = config.tracker
        if t.backend == "xlsx" and t.path is not None:
            try:
                st = config.resolve(t.path).stat()
            except OSError:
                return None
            return f"size={st.st_size};mtime_ns={st.st_mtime_ns}"
        if t.backend == "gsheets" and t.spreadsheet:
            return self._modified_time(config)
        return None

    def _session(self, config: Config) -> tuple[Any, str]:
        creds_path = (
            config.resolve(config.google.credentials) if config.google.credentials else None
        )
        cred = str(creds_path or "default")
        key = (cred, config.google.api_endpoint)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                from google.auth.transport.requests import AuthorizedSession

                session = AuthorizedSession(_drive_credentials(creds_path))  # type: ignore[no-untyped-call]
                self._sessions[key] = session
        return session, cred

    def _modified_time(self, config: Config) -> str | None:
        from .backends.gsheets.transport import GOOGLE_SHEETS, spreadsheet_key

        assert config.tracker.spreadsheet is not None
        endpoint = config.google.api_endpoint
        base = GOOGLE_DRIVE if endpoint == GOOGLE_SHEETS else endpoint
        key = spreadsheet_key(config.tracker.spreadsheet)
        try:
            session, cred = self._session(config)
            quota.acquire(cred, "drive")
            with self._lock:
                self.requests += 1
            response = session.get(
                f"{base}/drive/v3/files/{key}",
                params={"fields": "modifiedTime", "supportsAllDrives": "true"},
                timeout=config.google.timeout,
            )
        except Exception as exc:  # change detection never fails a run
            log.info("fleet: no modifiedTime for %s (%s); the tracker runs", key, exc)
            return None
        if response.status_code in (401, 403):
            self._warn(cred, response.status_code)
        if response.status_code != 200:
            return None  # unknown: the tracker runs (and reports a missing spreadsheet itself)
        value = (response.json() or {}).get("modifiedTime")
        return f"modifiedTime={value}" if value else None

    def _warn(self, cred: str, status: int) -> None:
        with self._lock:
            if cred in self._warned:
                return
            self._warned.add(cred)
        log.warning(
            "fleet: Drive answered %s to files.get(modifiedTime): unchanged spreadsheets cannot "
            "be skipped, every tracker runs. Enable the Google Drive API for the credentials' "
            "project (the scope drive.metadata.readonly is asked for), or set "
            "fleet.change_detection: false",
            status,
        )


def _drive_credentials(path: Path | None) -> Any:
    if path is None and os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        path = Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"])
    if path is not None:
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(path), scopes=[DRIVE_SCOPE]
        )
    import google.auth

    creds, _ = google.auth.default(scopes=[DRIVE_SCOPE])  # type: ignore[no-untyped-call]
    return creds


# ---------------------------------------------------------------------------- running


@dataclass
class TrackerOutcome:
    """One tracker's part of a fleet run (``--json``'s ``trackers`` items)."""

    name: str
    outcome: str  # written | unchanged | skipped | checked | failed | never run | ...
    exit_code: int
    message: str = ""
    requests: dict[str, int] = field(default_factory=dict)
    skipped_unchanged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "message": self.message,
            "requests": self.requests,
            "skipped_unchanged": self.skipped_unchanged,
        }


@dataclass
class FleetResult:
    trackers: list[TrackerOutcome]
    shard: tuple[int, int] = (0, 1)
    #: the roll-up's outcome (None: no portfolio, or not this shard's job)
    portfolio: TrackerOutcome | None = None
    seconds: float = 0.0
    #: seconds the threads spent waiting for quota, in total
    quota_wait: float = 0.0

    @property
    def exit_code(self) -> int:
        codes = [t.exit_code for t in self.trackers]
        if self.portfolio is not None:
            codes.append(self.portfolio.exit_code)
        return max(codes, default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "trackers": [t.to_json() for t in self.trackers],
            "shard": list(self.shard),
            "portfolio": self.portfolio.to_json() if self.portfolio else None,
        }


def run_fleet(
    manifest: Manifest,
    *,
    mode: str = "run",
    only: Iterable[str] = (),
    shard: tuple[int, int] | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    window: float = 60.0,
    margin: float = 1.0,
) -> FleetResult:
    """Run (``mode="run"``), check (``"check"``: nothing written, exit 1 on error findings) or
    report the last state of (``"status"``: no request at all) the selected trackers.

    Every tracker runs in a thread of its own (``fleet.concurrency`` at once) through the same
    per-credential quota (``window`` seconds, 60 for Google's per-minute quota; tests shorten
    it); a tracker's failure is its own outcome, never the fleet's end. After a ``run`` the
    first shard writes the portfolio roll-up from every tracker's state file.
    """
    chosen = select(manifest, only=only, shard=shard)
    t0 = time.perf_counter()
    if mode == "status":
        return FleetResult([_status(t) for t in chosen], shard or (0, 1))
    if mode not in ("run", "check"):
        raise ValueError(f"unknown fleet mode {mode!r}")
    prints = Fingerprints()
    settings = manifest.settings
    with quota.limits(settings.limits(window, margin)) as q:

        def one(t: FleetTracker) -> TrackerOutcome:
            return _run_one(t, mode, settings, prints, as_of=as_of, now=now)

        with ThreadPoolExecutor(settings.concurrency, thread_name_prefix="fleet") as pool:
            outcomes = list(pool.map(one, chosen))
        portfolio = None
        if mode == "run" and manifest.portfolio is not None and (shard or (0, 1))[0] == 0:
            portfolio = _portfolio_outcome(manifest, now)
        waited = q.waited()
    return FleetResult(
        outcomes, shard or (0, 1), portfolio, time.perf_counter() - t0, quota_wait=waited
    )


def _portfolio_outcome(manifest: Manifest, now: dt.datetime | None) -> TrackerOutcome:
    """Write the roll-up from every tracker's state file; a failure is the portfolio's outcome."""
    from .portfolio import write_portfolio

    assert manifest.portfolio is not None
    name = "(portfolio)"
    rows = [(t.name, t.link(), read_state(t.config)) for t in manifest.trackers]
    try:
        written, cells, requests = write_portfolio(manifest.portfolio, rows, now)
    except TrackerSyncError as exc:
        return TrackerOutcome(name, "failed", exc.exit_code, _first_line(exc))
    except Exception as exc:  # the roll-up never hides the trackers' outcomes
        log.exception("fleet: the portfolio roll-up failed unexpectedly")
        return TrackerOutcome(name, "failed", 3, f"unexpected error: {type(exc).__name__}: {exc}")
    if not written:
        return TrackerOutcome(name, "unchanged", 0, "the roll-up is up to date", requests)
    return TrackerOutcome(name, "written", 0, f"wrote {cells} cells of the roll-up", requests)


def _status(t: FleetTracker) -> TrackerOutcome:
    if t.config is None:
        assert t.error is not None
        return TrackerOutcome(t.name, "failed", t.error.exit_code, _first_line(t.error))
    state = read_state(t.config)
    if not state:
        return TrackerOutcome(t.name, "never run", 0, "no fleet run recorded yet")
    outcome = str(state.get("outcome", "unknown"))
    when = state.get("checked_at") or state.get("last_run_at") or "?"
    message = str(state.get("message") or f"last run {state.get('last_run_at', '?')}")
    return TrackerOutcome(
        t.name,
        outcome,
        int(state.get("exit_code", 0)),
        f"{message} (checked {when})" if state.get("checked_at") else message,
        skipped_unchanged=bool(state.get("skipped")),
    )


def _first_line(exc: BaseException) -> str:
    from .text import redact

    return redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _run_one(
    t: FleetTracker,
    mode: str,
    settings: FleetSettings,
    prints: Fingerprints,
    *,
    as_of: dt.date | None,
    now: dt.datetime | None,
) -> TrackerOutcome:
    if t.config is None:
        assert t.error is not None
        return TrackerOutcome(t.name, "failed", t.error.exit_code, _first_line(t.error))
    config = t.config
    try:
        return _sync_one(t.name, config, mode, settings, prints, as_of=as_of, now=now)
    except TrackerSyncError as exc:
        out = TrackerOutcome(t.name, "failed", exc.exit_code, _first_line(exc))
    except Exception as exc:  # one tracker's bug never stops the fleet
        log.exception("fleet: tracker %s failed unexpectedly", t.name)
        out = TrackerOutcome(
            t.name, "failed", 3, f"unexpected error: {type(exc).__name__}: {_first_line(exc)}"
        )
    if mode == "run":
        state = read_state(config)
        state |= {
            "outcome": "failed",
            "exit_code": out.exit_code,
            "message": out.message,
            "fingerprint": None,
            "skipped": False,
            "last_run_at": _stamp(now),
        }
        try:
            write_state(config, state)
        except OSError as exc:
            log.warning("fleet: could not record %s's state: %s", t.name, exc)
    return out


def _stamp(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")


def _sync_one(
    name: str,
    config: Config,
    mode: str,
    settings: FleetSettings,
    prints: Fingerprints,
    *,
    as_of: dt.date | None,
    now: dt.datetime | None,
) -> TrackerOutcome:
    from .run import run_clock, sync, sync_or_skip, zone
    from .unchanged import Unchanged, setup_key

    write = mode == "run"
    state = read_state(config) if write else {}
    day = run_clock(zone(config), as_of=as_of, now=now)[0].isoformat()
    key = setup_key(config)
    fingerprint = None
    detect = (
        write
        and settings.change_detection
        and state_path(config) is not None
        and not config.notify.channels  # digests are due by the clock, not by edits
    )
    if detect:
        fingerprint = prints.of(config)
    drive = 1 if detect and config.tracker.backend == "gsheets" else 0
    if (
        fingerprint is not None
        and state.get("fingerprint") == fingerprint
        and state.get("day") == day
        and state.get("config") == key
    ):
        write_state(config, state | {"skipped": True, "checked_at": _stamp(now)})
        return TrackerOutcome(
            name,
            "skipped",
            0,
            f"unchanged since its last run ({fingerprint.split(';')[0]})",
            {"read": 0, "write": 0, "drive": drive},
            skipped_unchanged=True,
        )
    if not write:
        result = sync(config, as_of=as_of, now=now, write=False, notify=False)
        requests = dict(result.requests) | ({"drive": drive} if drive else {})
        errors = int(result.summary.findings_by_severity.get("error", 0))
        return TrackerOutcome(
            name,
            "checked",
            1 if errors else 0,
            f"{result.summary.total} tasks, {errors} error findings",
            requests,
        )
    # a spreadsheet whose content is that of the last run stops after its read (sync.unchanged)
    done = sync_or_skip(config, as_of=as_of, now=now, notify=True)
    requests = dict(done.requests) | ({"drive": drive} if drive else {})
    if isinstance(done, Unchanged):
        wrote, figures = False, state.get("kpis") or _stored_kpis(done.kpis)
        message = f"nothing to write (the content of run {done.same_as})"
    else:
        wrote, figures = done.applied is not None, kpis(done)
        message = (
            f"wrote {done.applied.cells_written} cells" if done.applied else "nothing to write"
        )
    outcome = "written" if wrote else "unchanged"
    # what it looks like after our own write is unknown until it is read again: remember a
    # fingerprint only when this run wrote nothing (the next run after a write reads once more)
    write_state(
        config,
        {
            "name": name,
            "outcome": outcome,
            "exit_code": 0,
            "message": message,
            "fingerprint": None if wrote else fingerprint,
            "day": day,
            "config": key,
            "skipped": False,
            "last_run_at": (done.now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
            "as_of": done.as_of.isoformat(),
            "kpis": figures,
        },
    )
    return TrackerOutcome(name, outcome, 0, message, requests)


def _stored_kpis(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The portfolio's figures from what the run store recorded (when no fleet run did)."""
    return {
        "total": stored.get("total"),
        "completion_rate": stored.get("completion_rate"),
        "deviation": stored.get("avg_deviation"),
        "late": stored.get("delayed"),
    }


def kpis(result: Any) -> dict[str, Any]:
    """The figures the portfolio shows for one tracker, from its run."""
    s, d = result.summary, result.derived

    def mean(col: str) -> float | None:
        if col not in d.columns:
            return None
        v = d[col].dropna()
        return round(float(v.astype(float).mean()), 1) if len(v) else None

    health = None
    if "health" in d.columns:
        seen = set(d["health"].dropna())
        health = next((h for h in ("red", "amber", "green") if h in seen), None)
    return {
        "total": s.total,
        "planned": mean("planned_progress"),
        "actual": round(s.avg_progress, 1) if s.avg_progress is not None else None,
        "deviation": round(s.avg_deviation, 1) if s.avg_deviation is not None else None,
        "completion_rate": round(s.completion_rate, 1),
        "late": int(s.status_counts.get("delayed", 0)),
        "open_risks": len(s.open_risks),
        "health": health,
    }

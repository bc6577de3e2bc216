"""A run with its seams: open the backend and the run store, fix the run's clock, read, plan
(:func:`sync.pipeline.plan_run`), apply, record; plus the other commands that touch a tracker
(``init --spreadsheet``, ``baseline --reset``, ``restore``).

The backend is asked for optional capabilities by type (:mod:`sync.backends.base`); the run
store is anything with the :class:`sync.history.RunStore` protocol (the SQLite
:class:`~sync.history.History` by default; ``check`` and ``--dry-run`` open it read-only and
create nothing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import time
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from .backends import (
    AddsTabs,
    Backend,
    CountsRequests,
    CreatesTracker,
    Probe,
    Probes,
    ReadHints,
    Replans,
    open_backend,
)
from .config import Config
from .defaults import DEFAULT_LOCALE, LOCALES
from .errors import (
    BackendUnavailable,
    ConfigError,
    RetryRun,
    RunOutOfOrder,
    TrackerError,
    TrackerSyncError,
)
from .history import History, KeepsReadHint, RemembersInputs, RunStore, human_snapshot
from .i18n import text
from .model import Snapshot
from .parse import header_column, header_locale
from .pipeline import RunResult, plan_run
from .rules import RuleSet, load_rules
from .timeline import Event, HistoryView, changed_states, rebaseline
from .unchanged import (
    CLOCK_COLUMNS,
    LastInputs,
    Unchanged,
    fingerprint,
    snapshot_values,
    valid_until,
    values_fingerprint,
)

log = logging.getLogger(__name__)


def zone(
    config: Config, snapshot: Snapshot | None = None, *, time_zone: str | None = None
) -> dt.tzinfo:
    """The configured time zone, else the sheet's own (``snapshot``'s, or ``time_zone`` as an
    earlier read found it), else the machine's."""
    name = config.timezone or (snapshot.time_zone if snapshot else None) or time_zone
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            log.warning("unknown time zone %r from the tracker; using the machine's", name)
    tz = dt.datetime.now().astimezone().tzinfo
    assert tz is not None
    return tz


def run_clock(
    tz: dt.tzinfo,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    wall: dt.datetime | None = None,
) -> tuple[dt.date, dt.datetime]:
    """The run's day and time, one clock for every stage.

    ``now`` pins the time (a naive one is read in ``tz``); else ``as_of`` pins the day at the
    wall clock's time of day; else the wall clock (``wall``, for tests) decides both. The day
    is ``as_of`` when given, else ``now``'s date in ``tz``.

    >>> tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    >>> wall = dt.datetime(2026, 12, 1, 2, 30, tzinfo=dt.UTC)
    >>> run_clock(tz, as_of=dt.date(2024, 3, 20), wall=wall)[1].isoformat()
    '2024-03-20T10:30:00+08:00'
    >>> run_clock(tz, now=dt.datetime(2024, 3, 20, 17, 45))[0].isoformat()
    '2024-03-20'
    """
    if now is not None:
        at = now if now.tzinfo is not None else now.replace(tzinfo=tz)
    else:
        clock = (wall or dt.datetime.now(dt.UTC)).astimezone(tz)
        at = dt.datetime.combine(as_of, clock.timetz()) if as_of is not None else clock
    return (as_of or at.astimezone(tz).date()), at


def run_locale(config: Config, snapshot: Snapshot, ruleset: RuleSet) -> str:
    """The run's language: the config's ``locale`` when it sets one; else the language of the
    summary tab the job already made (an existing tracker keeps its tab and words); else the
    language of the tracker's header row (English headers: English generated columns and
    summary); else the default."""
    if config.locale_given:
        return config.locale
    made = snapshot.meta.get("summary")
    for loc in LOCALES:
        if made == text(loc, "summary_title"):
            return loc
    return header_locale(snapshot.tracker, ruleset) or config.locale


def localized(config: Config, snapshot: Snapshot, ruleset: RuleSet) -> Config:
    """``config`` with the run's language (:func:`run_locale`) as its ``locale``."""
    loc = run_locale(config, snapshot, ruleset)
    return config if loc == config.locale else config.model_copy(update={"locale": loc})


def open_store(config: Config, *, readonly: bool) -> History | None:
    """The configured run store (None when history is off). Read-only opens create nothing."""
    path = config.history_path()
    if path is None:
        return None
    return History(path, readonly=readonly)


def sync(
    config: Config,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    write: bool = True,
    backend: Backend | None = None,
    history: RunStore | None = None,
    notify: bool = True,
) -> RunResult:
    """Read the tracker, run the pipeline and (if ``write``) apply the plan in one atomic step,
    then record the run in the run store and (``notify``) send the alerts and digests due
    (:mod:`sync.notify`; a failing channel never fails the sync).

    ``as_of`` / ``now`` pin the run's clock (:func:`run_clock`); ``backend`` and ``history``
    replace the configured ones (the caller keeps ownership of what it passes in). Without
    ``write`` nothing is written or sent anywhere: the store is opened read-only, and
    ``result.notifications`` lists the messages a writing run would send.

    >>> from sync import load_config
    >>> result = sync(load_config("demo/config.yaml"), write=False)  # doctest: +SKIP
    """
    result = _run(
        config,
        as_of=as_of,
        now=now,
        write=write,
        backend=backend,
        history=history,
        notify=notify,
        skip_unchanged=False,
    )
    assert isinstance(result, RunResult)
    return result


def sync_or_skip(
    config: Config,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    backend: Backend | None = None,
    history: RunStore | None = None,
    notify: bool = True,
) -> RunResult | Unchanged:
    """A writing :func:`sync` that stops after the read when the newest recorded run had the
    same inputs (tracker content, as-of day, config, rules, code: :mod:`sync.unchanged`),
    changed nothing the store remembers and the clock cannot have changed a finding since:
    nothing is computed or written, and the run is recorded as ``unchanged`` (returned as
    :class:`~sync.unchanged.Unchanged`). Runs that send notifications (``notify`` with
    channels configured) never stop early: their alerts and digests depend on the time.
    """
    return _run(
        config,
        as_of=as_of,
        now=now,
        write=True,
        backend=backend,
        history=history,
        notify=notify,
        skip_unchanged=True,
    )


def _run(
    config: Config,
    *,
    as_of: dt.date | None,
    now: dt.datetime | None,
    write: bool,
    backend: Backend | None,
    history: RunStore | None,
    notify: bool,
    skip_unchanged: bool,
) -> RunResult | Unchanged:
    ruleset = load_rules(config.rule_dirs())
    backend = backend or open_backend(config)
    if isinstance(backend, CountsRequests):
        backend.reset_request_counts()  # counts are per run
    with _store(config, history, readonly=not write) as store:
        hint = _ReadHint.load(store, config, as_of=as_of, now=now)
        if isinstance(backend, Probes):
            backend.prepare_read(
                ReadHints(
                    last=hint.backend if hint else None,
                    percent_header=percent_header(ruleset),
                    key_header=key_header(ruleset),
                )
            )
        if store is None:
            if notify and config.notify.channels:
                log.warning(
                    "notify: history is off, so nothing is sent (alerts need the run store)"
                )
            return _computed(
                _sync(config, ruleset, backend, HistoryView, as_of=as_of, now=now, write=write)
            )
        store.claim(config.tracker.identity(), write=write)
        if not write:
            result = _computed(
                _sync(config, ruleset, backend, store.view, as_of=as_of, now=now, write=False)
            )
            if not notify:
                return result
            return _notify(localized(config, result.snapshot, ruleset), store, result, None)
        with store.lock(backend.target):
            view = functools.cache(store.view)  # loaded only when the pipeline runs
            repeat = isinstance(store, RemembersInputs)
            last = None
            # alerts and digests depend on the time: a notifying run never stops early
            quiet_run = not (notify and config.notify.channels)
            if isinstance(store, RemembersInputs) and skip_unchanged and quiet_run:
                last = store.last_inputs()
            check = _SkipCheck(config, last, values_only=isinstance(backend, Probes))
            try:
                outcome = _sync(
                    config,
                    ruleset,
                    backend,
                    view,
                    as_of=as_of,
                    now=now,
                    write=True,
                    not_before=store.last_run_at(),
                    skip=check if repeat else None,
                    hint=hint,
                )
            except RunOutOfOrder:
                raise  # a refused clock is not a run
            except TrackerSyncError as exc:
                _ReadHint.forget(store)  # the next run reads every tab afresh
                _, started = run_clock(zone(config), as_of=as_of, now=now)
                store.record(
                    started_at=started,
                    outcome="failed",
                    message=str(exc).splitlines()[0],
                    target=backend.target,
                )
                raise
            if isinstance(outcome, _Skipped):
                assert isinstance(store, RemembersInputs) and check.last is not None
                return _record_unchanged(store, outcome, check.last)
            result = outcome
            _ReadHint.keep(store, backend, result)
            run_id = _record(store, result, view())
            if isinstance(store, RemembersInputs) and check.fingerprint is not None:
                _remember(store, run_id, result, view(), ruleset, check.fingerprint)
            if not notify:
                return result
            return _notify(localized(config, result.snapshot, ruleset), store, result, run_id)


def _notify(config: Config, store: RunStore, result: RunResult, run_id: int | None) -> RunResult:
    """Send (or, without a run id, preview) the run's messages; never fails the sync."""
    if not config.notify.channels:
        return result
    if not hasattr(store, "record_notices"):
        log.warning("notify: this run store cannot record deliveries, so nothing is sent")
        return result
    from .notify.deliver import notify_run, preview

    deliveries: Any = store  # the SQLite store has the notify tables (sync.history)
    try:
        if run_id is None:
            sent = preview(config, deliveries, result)
        else:
            sent = notify_run(config, deliveries, result, run_id)
    except Exception:
        log.exception("notify: could not decide or record the messages; the sync itself is done")
        return result
    return _replace(result, notifications=sent)


@contextlib.contextmanager
def _store(config: Config, given: RunStore | None, *, readonly: bool) -> Iterator[RunStore | None]:
    """The store passed in (left open), else the configured one (closed afterwards)."""
    if given is not None:
        yield given
        return
    store = open_store(config, readonly=readonly)
    try:
        yield store
    finally:
        if store is not None:
            store.close()


class _Skipped(NamedTuple):
    """A run that stopped after the read (its inputs repeat the newest recorded run's)."""

    as_of: dt.date
    now: dt.datetime
    target: str
    worksheet: str
    requests: dict[str, int]


class _SkipCheck:
    """Hashes each snapshot read (:func:`sync.unchanged.fingerprint`) and says whether it
    repeats ``last``. ``values_only`` (a backend that probes): the hash covers the tabs' values
    only (:func:`sync.unchanged.values_fingerprint`), so a probe's values alone can match it."""

    def __init__(
        self, config: Config, last: LastInputs | None, *, values_only: bool = False
    ) -> None:
        self.config = config
        self.last = last
        self.values_only = values_only
        self.fingerprint: str | None = None

    def __call__(self, snapshot: Snapshot, day: dt.date, now: dt.datetime) -> bool:
        t0 = time.perf_counter()
        if self.values_only:
            fp = values_fingerprint(
                snapshot.target,
                snapshot.time_zone,
                snapshot_values(snapshot),
                as_of=day,
                config=self.config,
            )
        else:
            fp = fingerprint(snapshot, as_of=day, config=self.config)
        self.fingerprint = fp
        log.debug("fingerprint %s in %.2f s", fp[:12], time.perf_counter() - t0)
        return self.last is not None and self.last.repeats(fp, now)

    def probe(self, probe: Probe, time_zone: str | None, day: dt.date, now: dt.datetime) -> bool:
        """The probed values, day and setup repeat ``last``'s."""
        if self.last is None or not self.values_only:
            return False
        fp = values_fingerprint(probe.target, time_zone, probe.grids, as_of=day, config=self.config)
        return self.last.repeats(fp, now)


class _ReadHint(NamedTuple):
    """What the run store keeps of the last run's read (``read.hint``): its as-of day, the
    sheet's time zone and the backend's own hint (:meth:`~sync.backends.base.Probes.read_hint`).
    It is used on the same as-of day only, so each day's first run reads every tab afresh (a tab
    added during the day is seen the next day, or after a failed run)."""

    as_of: dt.date
    time_zone: str | None
    backend: str

    @classmethod
    def load(
        cls,
        store: RunStore | None,
        config: Config,
        *,
        as_of: dt.date | None,
        now: dt.datetime | None,
    ) -> _ReadHint | None:
        if not isinstance(store, KeepsReadHint):
            return None
        text_ = store.read_hint()
        try:
            data = json.loads(text_ or "")
            hint = cls(dt.date.fromisoformat(data["as_of"]), data.get("time_zone"), data["read"])
        except (ValueError, KeyError, TypeError):
            return None
        day, _ = run_clock(zone(config, time_zone=hint.time_zone), as_of=as_of, now=now)
        return hint if day == hint.as_of and isinstance(hint.backend, str) else None

    @staticmethod
    def keep(store: RunStore, backend: Backend, result: RunResult) -> None:
        if not isinstance(store, KeepsReadHint) or not isinstance(backend, Probes):
            return
        read = backend.read_hint()
        if read is None or result.as_of is None:
            return
        store.keep_read_hint(
            json.dumps(
                {
                    "as_of": result.as_of.isoformat(),
                    "time_zone": result.snapshot.time_zone,
                    "read": read,
                },
                ensure_ascii=False,
            )
        )

    @staticmethod
    def forget(store: RunStore) -> None:
        if isinstance(store, KeepsReadHint):
            store.keep_read_hint(None)


def percent_header(ruleset: RuleSet) -> Callable[[object], bool]:
    """Whether a header cell names a column of the ``percent`` type (as the parser matches
    headers), for a backend that reads number formats only where they decide something.

    >>> from sync.rules import load_rules, shipped_rules_dir
    >>> is_percent = percent_header(load_rules([shipped_rules_dir()]))
    >>> is_percent(" 当前进度（％） "), is_percent("Progress"), is_percent("负责人")
    (True, True, False)
    """
    return _names_column(
        ruleset, {name for name, spec in ruleset.columns.items() if spec.type == "percent"}
    )


def key_header(ruleset: RuleSet) -> Callable[[object], bool]:
    """Whether a header cell names a column that identifies a task (:data:`sync.render.KEY_FIELDS`).

    >>> from sync.rules import load_rules, shipped_rules_dir
    >>> is_key = key_header(load_rules([shipped_rules_dir()]))
    >>> is_key("推广阶段"), is_key("Task description"), is_key("负责人")
    (True, True, False)
    """
    from .render import KEY_FIELDS

    return _names_column(ruleset, set(KEY_FIELDS) & set(ruleset.columns))


def _names_column(ruleset: RuleSet, names: set[str]) -> Callable[[object], bool]:
    """Whether a header cell names one of the rule pack's columns ``names``."""
    index = ruleset.alias_index()

    def names_one(value: object) -> bool:
        return header_column(value, index) in names

    return names_one


def _computed(outcome: RunResult | _Skipped) -> RunResult:
    assert isinstance(outcome, RunResult)  # only a writing run with a skip check stops early
    return outcome


def _record_unchanged(store: RemembersInputs, skipped: _Skipped, last: LastInputs) -> Unchanged:
    run_id = store.record_unchanged(
        started_at=skipped.now, same_as=last.run_id, requests=skipped.requests
    )
    facts = store.run_facts(last.run_id)
    log.info("unchanged since run %d: nothing computed or written (run %d)", last.run_id, run_id)
    return Unchanged(
        as_of=skipped.as_of,
        now=skipped.now,
        target=skipped.target,
        worksheet=skipped.worksheet,
        same_as=last.run_id,
        run_id=run_id,
        rows=facts.get("rows"),
        findings_by_severity=facts.get("findings_by_severity", {}),
        kpis=facts.get("kpis", {}),
        requests=skipped.requests,
    )


def _remember(
    store: RemembersInputs,
    run_id: int,
    result: RunResult,
    view: HistoryView,
    ruleset: RuleSet,
    fp: str,
) -> None:
    """Keep the fingerprint of a run that wrote nothing and changed nothing the store
    remembers: a next run with the same inputs may stop after its read."""
    step_ = result.history
    if result.applied is not None or step_ is None or step_.events:
        return
    if changed_states(step_.states, view.states):
        return
    cols = step_.columns
    clock = [
        float(v) for c in CLOCK_COLUMNS if c in cols.columns for v in cols[c].astype(float).tolist()
    ]
    assert result.now is not None
    store.remember_inputs(run_id, fp, valid_until(ruleset, clock, result.now))


def _record(store: RunStore, result: RunResult, view: HistoryView) -> int:
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
    assert result.now is not None
    run_id = store.record(
        started_at=result.now,
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
        findings=_records(result.findings.astype({"row": int})),
        states=changed_states(step_.states, view.states) if step_ else None,
        events=step_.events if step_ else (),
    )
    log.info("recorded run %d (%d events)", run_id, len(step_.events) if step_ is not None else 0)
    return run_id


def _records(frame: Any) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` with text keys, built column by column (several times
    faster for the findings of a large tracker)."""
    cols = [str(c) for c in frame.columns]
    return [
        dict(zip(cols, vals, strict=True))
        for vals in zip(*(frame[c].tolist() for c in frame.columns), strict=True)
    ]


def _sync(
    config: Config,
    ruleset: RuleSet,
    backend: Backend,
    view: Callable[[], HistoryView],
    *,
    as_of: dt.date | None,
    now: dt.datetime | None,
    write: bool,
    not_before: dt.datetime | None = None,
    skip: _SkipCheck | None = None,
    hint: _ReadHint | None = None,
) -> RunResult | _Skipped:
    replans = 0
    max_replans = backend.max_replans if isinstance(backend, Replans) else 0
    if write and skip is not None and skip.last is not None and isinstance(backend, Probes):
        probe = backend.probe()  # one request: the tabs' values alone
        if probe is not None:
            tz = hint.time_zone if hint else None
            day, run_now = run_clock(zone(config, time_zone=tz), as_of=as_of, now=now)
            _check_order(run_now, not_before)
            if skip.probe(probe, tz, day, run_now):
                return _Skipped(day, run_now, backend.target, probe.tracker, _counts(backend))
    while True:
        t0 = time.perf_counter()
        snapshot = backend.read()
        log.info(
            "read %s / %s: %d rows in %.2f s",
            snapshot.target,
            snapshot.tracker.title,
            len(snapshot.tracker.rows),
            time.perf_counter() - t0,
        )
        config = localized(config, snapshot, ruleset)
        _check_summary_owner(snapshot, config)
        day, run_now = run_clock(zone(config, snapshot), as_of=as_of, now=now)
        if write:
            _check_order(run_now, not_before)
        if write and skip is not None and skip(snapshot, day, run_now):
            return _Skipped(day, run_now, snapshot.target, snapshot.tracker.title, _counts(backend))
        t0 = time.perf_counter()
        result = plan_run(
            snapshot,
            ruleset,
            as_of=day,
            now=run_now,
            locale=config.locale,
            amber_deviation=config.thresholds.amber_deviation,
            summary_title=config.summary_title(),
            history=view(),
            calendar=config.calendar,
        )
        log.info(
            "planned as of %s (%s): %d findings, %d cells to write in %.2f s",
            day.isoformat(),
            run_now.isoformat(timespec="minutes"),
            len(result.findings),
            result.plan.cell_count,
            time.perf_counter() - t0,
        )
        if not write or result.plan.is_empty:
            return _replace(result, dry_run=not write, requests=_counts(backend))
        try:
            t0 = time.perf_counter()
            applied = backend.apply(snapshot, result.plan)
        except RetryRun as exc:
            # the write's outcome was unknown, or people moved rows under it: start over
            replans += 1
            if replans > max_replans:
                raise BackendUnavailable(
                    f"{backend.target}: gave up after {replans} attempts: {exc}"
                ) from None
            log.warning("%s: %s; reading again (attempt %d)", backend.target, exc, replans + 1)
            continue
        log.info(
            "wrote %d cells in %d requests in %.2f s",
            applied.cells_written,
            applied.requests,
            time.perf_counter() - t0,
        )
        return _replace(result, applied=applied, requests=_counts(backend))


def _check_order(run_now: dt.datetime, not_before: dt.datetime | None) -> None:
    if not_before is not None and run_now < not_before:
        raise RunOutOfOrder(
            f"this run is dated {run_now.isoformat(timespec='minutes')}, before the run store's "
            f"last run ({not_before.isoformat(timespec='minutes')}); history only moves "
            "forward, so nothing was recorded or written. Look at a past day with "
            "--dry-run, or replay days into a fresh store (history.path)."
        )


def _check_summary_owner(snapshot: Snapshot, config: Config) -> None:
    """The summary tab is rebuilt only if the job made it (its metadata names it): a person's
    tab that happens to carry the summary's name is theirs."""
    title = config.summary_title()
    if snapshot.summary is not None and snapshot.meta.get("summary") != title:
        raise ConfigError(
            f"{snapshot.target}: the tab {title!r} was not made by tracker-sync (its metadata "
            "does not name it), so the job will not rebuild it; nothing was written. Set "
            "tracker.summary_worksheet to a new tab name (or, if tracker-sync did make that tab "
            "and its metadata was lost, delete the tab and run again)."
        )


def _counts(backend: Backend) -> dict[str, int]:
    if isinstance(backend, CountsRequests):
        return backend.request_counts()
    return {"read": 1, "write": 0}


def _replace(result: RunResult, **changes: Any) -> RunResult:
    from dataclasses import replace

    return replace(result, **changes)


# ---------------------------------------------------------------------------- other commands


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
    from .demo import default_tab_title, template_columns, template_statuses

    lang = locale or (base.locale if base else DEFAULT_LOCALE)
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
    if not isinstance(backend, CreatesTracker):
        raise TrackerError(f"{backend.target}: this backend cannot create a tracker tab")
    ruleset = load_rules(config.rule_dirs())
    backend.create_tracker_tab(title, template_columns(ruleset, lang), template_statuses(lang))
    sync(config, backend=backend)
    return title


def init_feishu(
    folder: str,
    base: Config,
    *,
    worksheet: str | None = None,
    locale: str | None = None,
) -> tuple[str, str, str]:
    """Create a Feishu / Lark spreadsheet in folder ``folder`` holding a tracker tab from the
    seed template, then run the first sync on it. ``base`` supplies the feishu: section.
    Returns (spreadsheet token, its URL, the tab's title)."""
    from .backends.feishu import create_spreadsheet
    from .demo import default_tab_title, template_columns, template_statuses

    lang = locale or base.locale
    title = worksheet or base.tracker.worksheet or default_tab_title(lang)
    secret_file = base.resolve(base.feishu.app_secret_file) if base.feishu.app_secret_file else None
    token, url = create_spreadsheet(base.feishu, folder, title, secret_file=secret_file)
    feishu = base.feishu.model_dump()
    feishu["app_secret_file"] = secret_file
    data: dict[str, Any] = {
        "tracker": {
            "backend": "feishu",
            "spreadsheet": token,
            "worksheet": title,
            "summary_worksheet": base.tracker.summary_worksheet,
        },
        "locale": lang,
        "feishu": feishu,
    }
    config = Config.model_validate(data)
    backend = open_backend(config)
    if not isinstance(backend, CreatesTracker):
        raise TrackerError(f"{backend.target}: this backend cannot create a tracker tab")
    ruleset = load_rules(config.rule_dirs())
    backend.create_tracker_tab(title, template_columns(ruleset, lang), template_statuses(lang))
    sync(config, backend=backend)
    return token, url, title


def _required_store(config: Config, *, readonly: bool = False) -> History:
    store = open_store(config, readonly=readonly)
    if store is None:
        raise ConfigError(
            "history is off (history.enabled: false, or a config without a file); "
            "this command needs the run store — set history.enabled: true"
        )
    return store


def reset_baseline(
    config: Config,
    *,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    backend: Backend | None = None,
) -> int:
    """Make every task's current planned dates its baseline; recorded in history. Returns the
    number of tasks whose baseline moved."""
    ruleset = load_rules(config.rule_dirs())
    backend = backend or open_backend(config)
    store = _required_store(config)
    try:
        store.claim(config.tracker.identity(), write=True)
        with store.lock(backend.target):
            result = _computed(
                _sync(config, ruleset, backend, store.view, as_of=as_of, now=now, write=False)
            )
            assert result.history is not None and result.now is not None
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
                started_at=result.now,
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
    store = _required_store(config, readonly=True)
    try:
        snapshot = store.snapshot(run_id)
    finally:
        store.close()
    backend = backend or open_backend(config)
    if tab == snapshot["title"]:
        raise TrackerError(
            f"restore never writes the live tab {tab!r}; choose a new tab name with --to-tab"
        )
    if not isinstance(backend, AddsTabs):
        raise TrackerError(f"{backend.target}: this backend cannot add a tab")
    rows: list[list[Any]] = snapshot["rows"]
    backend.add_tab(tab, rows)
    log.info("restored run %d into tab %r (%d rows)", run_id, tab, len(rows))
    return len(rows)

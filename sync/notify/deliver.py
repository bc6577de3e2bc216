"""The run's side of notify: decide from the run store, record the decision, send, record the
outcome. A failing channel never fails the sync: its delivery stays ``failed`` and the next run
retries it.

One run, in order (:func:`notify_run`):

1. alerts true now (:func:`sync.notify.decide.conditions`) against the open alerts the store
   remembers: which open, get a reminder, close;
2. per channel: one alert message carrying this run's alerts and reminders plus whatever an
   earlier run could not deliver to that channel and is still true (that delivery is retried in
   place, so a channel down for a day gets it all the next day, once); an undelivered message
   whose alerts were all resolved meanwhile is dropped;
3. per channel: the digests due (``daily_at``, ``weekly_on``) and not delivered yet; an
   undelivered digest is retried until the next digest of its schedule is due, which replaces
   it (``superseded``);
4. the decision is recorded in one transaction (alerts, deliveries ``pending``), then each
   message is rendered for its platform (split to its size limits), sent under the channel's
   rate limit with bounded tenacity retries, and its outcome recorded (``delivered`` /
   ``failed`` with the error, secrets removed).

A crash between sending and recording leaves the delivery ``pending``: it is sent again by the
next run (at least once, never silently lost).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from .. import workdays
from ..config import Config
from ..history import AlertRecord, DeliveryRecord
from ..pipeline import Notification, RunResult
from .channels import Channel, DeliveryError, TransientError, open_channel
from .config import channel_names
from .decide import AlertDecision, Notice, conditions, decide_alerts, due_digests
from .message import Message, alert_message, digest_message, test_message
from .owners import EMPTY, Directory, load_owners

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Tries per payload within one run, and how long they may take (the next run tries again)."""

    attempts: int = 3
    first_wait: float = 2.0
    max_wait: float = 20.0
    max_seconds: float = 45.0


RETRY = RetryPolicy()


class NotifyStore(Protocol):
    """What notify needs from the run store (:class:`sync.history.History` has it)."""

    def open_alerts(self) -> list[AlertRecord]: ...

    def deliveries(
        self,
        *,
        limit: int = 50,
        open_only: bool = False,
        channel: str | None = None,
        kind: str | None = None,
    ) -> list[DeliveryRecord]: ...

    def digest_slots(self, channel: str) -> dict[str, str]: ...

    def noted(self, keys: list[str]) -> set[str]: ...


# ---------------------------------------------------------------------------- rate limits


class RateLimiter:
    """At most ``calls`` per ``seconds`` for every window (a sliding log of send times).
    ``margin`` seconds are added to each window: the platform counts requests when they
    arrive, and two sends a full window apart can arrive closer than that.

    >>> now = [0.0]
    >>> r = RateLimiter(((2, 1.0),), clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> for _ in range(3):
    ...     r.acquire()
    >>> now[0]
    1.0
    """

    def __init__(
        self,
        windows: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float = 0.0,
    ) -> None:
        self.windows = tuple((calls, seconds + margin) for calls, seconds in windows)
        self.clock = clock
        self.sleep = sleep
        self.sent: list[float] = []

    def acquire(self) -> None:
        while True:
            now = self.clock()
            wait = 0.0
            for calls, seconds in self.windows:
                recent = [t for t in self.sent if t > now - seconds]
                if len(recent) >= calls:
                    wait = max(wait, recent[-calls] + seconds - now)
            if wait <= 0:
                self.sent.append(now)
                horizon = max((s for _, s in self.windows), default=0.0)
                self.sent = [t for t in self.sent if t > now - horizon]
                return
            self.sleep(wait)


#: seconds of network jitter a limiter allows for on top of each documented window
NETWORK_MARGIN = 0.1

#: one limiter per channel name for the life of the process (a run, or a test session)
_LIMITERS: dict[str, RateLimiter] = {}


def _limiter(channel: Channel) -> RateLimiter:
    key = f"{channel.type}:{channel.name}"
    if key not in _LIMITERS:
        _LIMITERS[key] = RateLimiter(channel.rate, margin=NETWORK_MARGIN)
    return _LIMITERS[key]


# ---------------------------------------------------------------------------- sending


def send(channel: Channel, message: Message) -> str | None:
    """Send ``message`` on ``channel`` (every part); None when delivered, else the error
    (secrets removed). Transient failures are retried within :data:`RETRY`."""
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        stop_after_delay,
        wait_exponential,
        wait_random,
    )

    policy = RETRY
    backoff = wait_exponential(multiplier=policy.first_wait, max=policy.max_wait) + wait_random(
        0, policy.first_wait
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None) or 0.0
        return float(min(max(after, backoff(state)), policy.max_wait))

    def warn(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "notify %s: %s; trying again (attempt %d)",
            channel.name,
            channel.scrub(str(exc)),
            state.attempt_number + 1,
        )

    try:
        payloads = channel.render(message)
        for payload in payloads:
            for attempt in Retrying(
                stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
                wait=wait,
                retry=retry_if_exception_type(TransientError),
                before_sleep=warn,
                reraise=True,
            ):
                with attempt:
                    _limiter(channel).acquire()
                    channel.send(payload)
    except DeliveryError as exc:
        return channel.scrub(str(exc)) or type(exc).__name__
    except Exception as exc:  # a bug or a foreign error must not fail the sync either
        log.exception("notify %s: unexpected error", channel.name)
        return channel.scrub(f"{type(exc).__name__}: {exc}")
    return None


# ---------------------------------------------------------------------------- deciding


@dataclass
class Planned:
    """A message to send on one channel (``reuse``: the undelivered delivery it retries)."""

    channel: str
    kind: str
    slot: str | None
    message: Message
    items: list[dict[str, Any]] = field(default_factory=list)
    reuse: int | None = None


@dataclass
class Plan:
    """What one run decided (recorded before anything is sent)."""

    decision: AlertDecision | None
    deliveries: list[Planned]
    finished: list[tuple[int, str]]
    notes: list[str]


def _channels(config: Config, directory: Directory) -> dict[str, Channel]:
    names = channel_names(config.notify.channels)
    return {
        name: open_channel(name, c, directory, config.base_dir)
        for name, c in zip(names, config.notify.channels, strict=True)
    }


def _directory(config: Config) -> Directory:
    if config.notify.owners is None:
        return EMPTY
    try:
        return load_owners(config.resolve(config.notify.owners))
    except Exception as exc:  # a broken directory costs the @mentions, never the sync
        log.error("notify: the owner directory cannot be used (%s); messages go without @", exc)
        return EMPTY


def plan(config: Config, store: NotifyStore, result: RunResult, directory: Directory) -> Plan:
    """Decide every message of this run from the run's result and the store (no writes)."""
    assert result.now is not None
    decision = None
    announced: dict[tuple[str, str], Notice] = {}
    current: dict[tuple[str, str], Notice] = {}
    if config.notify.alerts:
        alerts = store.open_alerts()
        seen = [result.as_of, *(dt.date.fromisoformat(a.last_notice) for a in alerts)]
        decision = decide_alerts(
            conditions(result),
            alerts,
            result.as_of,
            config.notify.reminders,
            workdays.build(config.calendar, seen),
        )
        announced = {n.pair: n for n in decision.announced}
        current = {n.pair: n for n in decision.quiet} | announced
    due = due_digests(result.as_of, result.now, config.notify.digest)
    due_slot = dict(due)
    configured = {
        s
        for s, on in (
            ("daily", config.notify.digest.daily_at),
            ("weekly", config.notify.digest.weekly_on),
        )
        if on is not None
    }
    pending = store.deliveries(open_only=True, limit=100_000)
    planned: list[Planned] = []
    finished: list[tuple[int, str]] = []
    for name in channel_names(config.notify.channels):
        mine = sorted((d for d in pending if d.channel == name), key=lambda d: d.id)
        if decision is not None:
            earlier = [d for d in mine if d.kind == "alert"]
            items = dict(announced)
            for d in earlier:
                for it in d.items:
                    pair = (str(it["task_id"]), str(it["kind"]))
                    if pair in current and pair not in items:
                        items[pair] = replace(current[pair], notice=int(it["notice"]))
            if items:
                notices = sorted(items.values(), key=lambda n: (n.row, n.kind))
                planned.append(
                    Planned(
                        name,
                        "alert",
                        None,
                        alert_message(config, result, notices),
                        [
                            {"task_id": n.task_id, "kind": n.kind, "notice": n.notice, "row": n.row}
                            for n in notices
                        ],
                        earlier[0].id if earlier else None,
                    )
                )
                finished += [(d.id, "superseded") for d in earlier[1:]]
            else:
                finished += [(d.id, "dropped") for d in earlier]
        slots = store.digest_slots(name)
        for d in (d for d in mine if d.kind == "digest"):
            schedule = (d.slot or "daily:").split(":")[0]
            if schedule not in configured:
                finished.append((d.id, "dropped"))
            elif schedule in due_slot and due_slot[schedule] != d.slot:
                finished.append((d.id, "superseded"))
            elif schedule not in due_slot:  # no newer digest yet: try this one again
                message = digest_message(config, result, schedule)
                planned.append(Planned(name, "digest", d.slot, message, reuse=d.id))
        for schedule, slot in due:
            if slots.get(slot) == "delivered":
                continue
            reuse = next((d.id for d in mine if d.kind == "digest" and d.slot == slot), None)
            message = digest_message(config, result, schedule)
            planned.append(Planned(name, "digest", slot, message, reuse=reuse))
    return Plan(decision, planned, finished, _owner_notes(config, store, planned, directory))


def _owner_notes(
    config: Config, store: NotifyStore, planned: list[Planned], directory: Directory
) -> list[str]:
    """An owner the directory lacks is said once (a warning, then a note in the store)."""
    if config.notify.owners is None or not planned:
        return []
    missing: list[str] = []
    for p in planned:
        for cell in p.message.owners:
            for name in directory.find(cell)[1]:
                if name not in missing:
                    missing.append(name)
    keys = [f"notify.owner_missing:{name}" for name in missing]
    seen = store.noted(keys)
    new = [k for k in keys if k not in seen]
    for key in new:
        log.warning(
            "notify: owner %r is not in the owner directory (%s); messages name them without an @",
            key.split(":", 1)[1],
            config.notify.owners,
        )
    return new


# ---------------------------------------------------------------------------- entry points


def notify_run(
    config: Config, store: Any, result: RunResult, run_id: int
) -> tuple[Notification, ...]:
    """Decide, record, send and record again (see the module docstring). Never raises for a
    channel's failure: the returned notifications say what was delivered."""
    if not config.notify.channels or result.now is None:
        return ()
    directory = _directory(config)
    decided = plan(config, store, result, directory)
    d = decided.decision
    ids = store.record_notices(
        at=result.now,
        day=result.as_of,
        opened=[n.pair for n in d.opened] if d else [],
        reminded=[n.pair for n in d.reminded] if d else [],
        closed=[(a.task_id, a.kind) for a in d.closed] if d else [],
        deliveries=[
            {
                "id": p.reuse,
                "run_id": run_id,
                "channel": p.channel,
                "kind": p.kind,
                "slot": p.slot,
                "items": p.items,
                "task_rows": list(p.message.task_rows),
                "title": p.message.title,
            }
            for p in decided.deliveries
        ],
        finished=decided.finished,
        notes=decided.notes,
    )
    channels = _channels(config, directory)
    out = []
    for delivery_id, p in zip(ids, decided.deliveries, strict=True):
        error = send(channels[p.channel], p.message)
        store.finish_delivery(delivery_id, delivered=error is None, at=result.now, error=error)
        if error is None:
            log.info("notify %s: %s delivered (%s)", p.channel, p.kind, p.message.title)
        else:
            log.warning(
                "notify %s: %s not delivered, the next run retries: %s", p.channel, p.kind, error
            )
        out.append(
            Notification(
                p.channel,
                p.kind,
                p.message.task_rows,
                error is None,
                p.message.title,
                p.message.to_text(),
                error,
            )
        )
    return tuple(out)


def preview(config: Config, store: NotifyStore, result: RunResult) -> tuple[Notification, ...]:
    """What :func:`notify_run` would send now (``run --dry-run``): nothing is sent or recorded."""
    if not config.notify.channels or result.now is None:
        return ()
    decided = plan(config, store, result, _directory(config))
    return tuple(
        Notification(
            p.channel,
            p.kind,
            p.message.task_rows,
            False,
            p.message.title,
            p.message.to_text(),
        )
        for p in decided.deliveries
    )


def send_test(config: Config) -> list[tuple[str, str | None]]:
    """``tracker-sync notify test``: a sample message to every channel; (name, error or None)."""
    directory = load_owners(config.resolve(config.notify.owners)) if config.notify.owners else EMPTY
    return [
        (name, send(channel, test_message(config, name)))
        for name, channel in _channels(config, directory).items()
    ]

"""Client-side request quota: one limiter per credential and kind (read, write, drive) that every
Google request passes, so a fleet of trackers stays inside the per-user per-minute quota.

Google counts Sheets requests per minute per user (a service account is one user): 60 reads and
60 writes by default (developers.google.com/sheets/api/limits). A limiter here allows at most
``limit`` requests in any ``window`` seconds: a token bucket whose tokens come back one window
after they were spent (a sliding log, like :class:`sync.notify.deliver.RateLimiter`, but shared
by threads). A plain refilling bucket would let a full burst plus a window's refill through
within one window; a sliding log never sends more than the quota counts.

Nothing is limited until a caller installs limits (``with limits(Limits(...)):``, what
``tracker-sync fleet`` does); one tracker's ``run`` keeps sending at once and backs off on 429.

>>> clock = [0.0]
>>> lim = Limiter(2, 1.0, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s))
>>> for _ in range(5):
...     lim.acquire()
>>> clock[0]  # two per second: the 3rd waits to 1.0, the 5th to 2.0
2.0
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

#: Google's Sheets quota per user: read and write requests per minute, each.
SHEETS_PER_MINUTE = 60

#: Drive's per-user quota is far larger (12,000 per minute); file metadata checks rarely matter.
DRIVE_PER_MINUTE = 1_000


class Limiter:
    """At most ``limit`` acquisitions in any ``window`` seconds (``margin`` is added to the
    window: Google counts arrivals, and two requests a window apart may arrive closer).
    Thread-safe; a waiting thread sleeps without holding the lock."""

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        margin: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a limiter needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window + margin
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        #: seconds spent waiting, in total (reports and benchmarks)
        self.waited = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                wait = self._sent[0] + self.window - now
                self.waited += wait
            self.sleep(wait)


@dataclass(frozen=True)
class Limits:
    """Requests per ``window`` seconds, per credential, by kind."""

    read: int = SHEETS_PER_MINUTE
    write: int = SHEETS_PER_MINUTE
    drive: int = DRIVE_PER_MINUTE
    window: float = 60.0
    #: added to each window (network jitter between our count and Google's)
    margin: float = 1.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def limiter(self, kind: str) -> Limiter:
        limit = {"read": self.read, "write": self.write, "drive": self.drive}.get(kind, self.read)
        return Limiter(limit, self.window, margin=self.margin, clock=self.clock, sleep=self.sleep)


class Quota:
    """The limiters of every credential seen, made on first use."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._limiters: dict[tuple[str, str], Limiter] = {}
        self._lock = threading.Lock()

    def limiter(self, credential: str, kind: str) -> Limiter:
        key = (credential, kind if kind in ("read", "drive") else "write")
        with self._lock:
            lim = self._limiters.get(key)
            if lim is None:
                lim = self._limiters[key] = self.limits.limiter(key[1])
            return lim

    def waited(self) -> float:
        """Seconds every thread spent waiting for a token, in total."""
        with self._lock:
            return sum(lim.waited for lim in self._limiters.values())


_active: Quota | None = None


def acquire(credential: str, kind: str) -> None:
    """Wait for a token of ``kind`` for ``credential`` (no-op unless limits are installed).
    Every request to Google calls this just before it is sent, retries included."""
    quota = _active
    if quota is not None:
        quota.limiter(credential, kind).acquire()


@contextlib.contextmanager
def limits(value: Limits) -> Iterator[Quota]:
    """Install per-credential limits for the duration of the block (process-wide)."""
    global _active
    previous, _active = _active, Quota(value)
    try:
        yield _active
    finally:
        _active = previous

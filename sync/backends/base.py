"""The backend contract: what the run needs from a place that holds a tracker.

A backend is an object with ``target``, ``read()`` and ``apply()`` (:class:`Backend`). Every
other ability is optional, a small Protocol of its own that the run asks for by type
(``isinstance(backend, AddsTabs)``), never by probing attributes:

==================== ===================================== ===============================
capability           what it adds                          used by
==================== ===================================== ===============================
:class:`CountsRequests` requests sent, by kind              ``--json`` "requests", history
:class:`Replans`     ``apply`` may raise ``RetryRun``: the    ``run`` (re-read, re-plan)
                     run reads again and re-plans
:class:`AddsTabs`    write rows into a brand-new tab         ``restore --to-tab``
:class:`CreatesTracker` a new tracker tab from the template   ``init --spreadsheet``
:class:`Probes`      read the tabs' values alone first (one    ``run`` (a no-change run is one
                     request) when it knows the tabs; formats   read), the run store (the hint,
                     only for the percent columns; the hint     which may keep the backend's
                     may keep what the backend needs again      structure for the same day)
==================== ===================================== ===============================

Rules every backend keeps (the contract test suite, ``tests/test_backend_contract.py``,
checks them for every registered backend):

- ``read()`` returns a :class:`~sync.model.Snapshot` of the tracker tab, the job's summary tab
  and metadata, and an opaque ``version``; it writes nothing.
- ``apply(snapshot, plan)`` writes the plan all-or-nothing, and only if the tracker is still as
  ``snapshot`` saw it (else :class:`~sync.errors.TrackerChanged`; nothing written). An empty
  plan sends nothing. A snapshot the backend did not read is refused.
- Human cells are never written; values are written as values (text never becomes a formula).
- Foreign errors are mapped to :mod:`sync.errors` inside the backend.
- Anything the backend needs between ``read`` and ``apply`` (ids, file versions, request
  state) stays inside the backend; the snapshot and the plan carry only what every backend
  means.

Backends are found by name through the entry-point group ``tracker_sync.backends`` (see
:mod:`sync.backends`); an entry point names a factory ``(config) -> Backend``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..cells import RawValue
from ..model import ApplyResult, Snapshot, TemplateColumn, WritePlan

if TYPE_CHECKING:
    from ..config import Config


@runtime_checkable
class Backend(Protocol):
    """What every backend does: read a snapshot, apply a plan."""

    #: Human-readable target (file path or spreadsheet id), for messages and reports.
    target: str

    def read(self) -> Snapshot:
        """Everything the run needs, in as few requests as the backend allows."""
        ...

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        """Write the plan all-or-nothing; raise TrackerChanged if the tracker moved since
        ``snapshot``."""
        ...


@runtime_checkable
class CountsRequests(Protocol):
    """A backend that counts the requests it sends (reads and writes)."""

    def request_counts(self) -> dict[str, int]:
        """``{"read": n, "write": m}`` since the last :meth:`reset_request_counts`."""
        ...

    def reset_request_counts(self) -> None:
        """Start counting from zero (the run calls it once, before its first read)."""
        ...


@runtime_checkable
class Replans(Protocol):
    """A backend whose ``apply`` may raise :class:`~sync.errors.RetryRun` (people moved rows
    under the write, or its outcome is unknown): the run reads again and plans anew, at most
    ``max_replans`` times."""

    @property
    def max_replans(self) -> int: ...


@runtime_checkable
class AddsTabs(Protocol):
    """A backend that can write rows into a new tab (``restore --to-tab``)."""

    def add_tab(self, title: str, rows: list[list[RawValue]]) -> None:
        """Create tab ``title`` holding ``rows``; refuse (TrackerError) if it exists."""
        ...


@runtime_checkable
class CreatesTracker(Protocol):
    """A backend that can lay out a new, empty tracker tab from the seed template (``init``)."""

    def create_tracker_tab(
        self, title: str, columns: list[TemplateColumn], statuses: list[str]
    ) -> None:
        """Add tab ``title`` with the template's header row, formats and status dropdown;
        refuse (TrackerError) if it exists."""
        ...


@dataclass(frozen=True)
class ReadHints:
    """What the run tells a :class:`Probes` backend before it reads.

    ``last`` is the text the backend's :meth:`Probes.read_hint` gave after an earlier read (the
    run store keeps it; None: read as if for the first time). ``percent_header`` says whether a
    header cell names a column of the rule pack's ``percent`` type (a number in a
    percent-formatted cell there is a fraction); None: the backend cannot tell, so it reads the
    number format of every formatted cell. ``key_header`` says whether a header cell names a
    column that identifies a task (phase, channel, task, description): what a backend may
    remember a task by across runs when the row's other cells were edited (its task ID will
    not do: a sort of the human columns alone leaves it beside another task); None: no key
    columns.
    """

    last: str | None = None
    percent_header: Callable[[object], bool] | None = None
    key_header: Callable[[object], bool] | None = None


@dataclass(frozen=True)
class Probe:
    """Every tab's values as one request read them, by title (no formats, no structure): enough
    to tell that nothing changed since a run that read the same values."""

    target: str
    #: The tracker tab's title (as the read that left the hint found it).
    tracker: str
    grids: dict[str, list[list[RawValue]]] = field(default_factory=dict)


@runtime_checkable
class Probes(Protocol):
    """A backend whose read can start with the tabs' values alone, in one request, when an
    earlier run told it the tabs (:class:`ReadHints`): a run whose values repeat the last quiet
    run's stops there (one read); otherwise :meth:`~Backend.read` continues from the probed
    values with the structure request."""

    def prepare_read(self, hints: ReadHints) -> None:
        """Use ``hints`` for the reads that follow."""
        ...

    def probe(self) -> Probe | None:
        """One request: the values of the tabs the hint names; None without a hint, or when the
        hint no longer fits (a tab renamed or deleted). The next :meth:`~Backend.read` reuses
        the probed values."""
        ...

    def read_hint(self) -> str | None:
        """After a :meth:`~Backend.read`: the text a later run passes back as ``ReadHints.last``
        (the tabs it found); None before any read."""
        ...


#: What an entry point of ``tracker_sync.backends`` names.
BackendFactory = Callable[["Config"], Backend]

__all__ = [
    "AddsTabs",
    "ApplyResult",
    "Backend",
    "BackendFactory",
    "CountsRequests",
    "CreatesTracker",
    "Probe",
    "Probes",
    "ReadHints",
    "Replans",
    "Snapshot",
    "WritePlan",
]

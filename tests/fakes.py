"""An in-memory backend: the fake most tests use for the backend seam.

It is also the third backend of the contract suite (tests/test_backend_contract.py), which
registers it through the ``tracker_sync.backends`` entry-point group as ``memory``."""

from __future__ import annotations

import copy
from typing import Any

from sync.model import ApplyResult, CFRule, Grid, RequestCounter, Snapshot, WritePlan

#: Trackers the ``memory`` entry point opens, by ``tracker.spreadsheet``.
MEMORY_TRACKERS: dict[str, MemoryBackend] = {}


def open_memory(config: Any) -> MemoryBackend:
    """The factory the ``memory`` entry point names (tests register it, see the contract suite)."""
    return MEMORY_TRACKERS[config.tracker.spreadsheet]


class MemoryBackend:
    """Holds a tracker tab, a summary tab, the job's formats and metadata; counts reads and
    writes. Capabilities: CountsRequests, AddsTabs."""

    def __init__(self, tracker: Grid, *, time_zone: str | None = None) -> None:
        self.target = "memory"
        self.rows: list[list[Any]] = [list(r) for r in tracker.rows]
        self.title = tracker.title
        self.percent = tracker.percent_cells
        self.summary: list[list[Any]] | None = None
        self.summary_title: str | None = None
        self.charts: list[Any] = []
        self.cf: tuple[CFRule, ...] = ()
        self.meta: dict[str, Any] = {}
        self.time_zone = time_zone
        self.requests = RequestCounter()
        self.version = 0
        self.tabs: dict[str, list[list[Any]]] = {}

    def request_counts(self) -> dict[str, int]:
        return self.requests.as_dict()

    def reset_request_counts(self) -> None:
        self.requests = RequestCounter()

    def add_tab(self, title: str, rows: list[list[Any]]) -> None:
        from sync.errors import TrackerError

        if title in (self.title, self.summary_title) or title in self.tabs:
            raise TrackerError(f"memory already has a tab named {title!r}")
        self.tabs[title] = [list(r) for r in rows]
        self.requests.write += 1
        self.version += 1

    def read(self) -> Snapshot:
        self.requests.read += 1
        summary = (
            Grid(self.summary_title or "", copy.deepcopy(self.summary))
            if self.summary is not None
            else None
        )
        titles = (
            (self.title,) + ((self.summary_title,) if self.summary_title else ()) + tuple(self.tabs)
        )
        return Snapshot(
            target=self.target,
            tracker=Grid(self.title, copy.deepcopy(self.rows), self.percent),
            sheet_titles=titles,
            summary=summary,
            time_zone=self.time_zone,
            conditional_formats=self.cf,
            meta=copy.deepcopy(self.meta),
            version=str(self.version),
            summary_charts=len(self.charts),
            tabs={t: Grid(t, copy.deepcopy(rows)) for t, rows in self.tabs.items()},
        )

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        from sync.errors import TrackerChanged, TrackerError

        if not snapshot.version.isdigit() or snapshot.target != self.target:
            raise TrackerError("apply() needs the snapshot read by this backend")
        if int(snapshot.version) != self.version:
            raise TrackerChanged("memory: the tracker changed after it was read; nothing written")
        if plan.is_empty:
            return ApplyResult(cells_written=0, requests=0)
        for col, series in plan.cells.items():
            for r, value in series.items():
                self.set(int(r), col, value)
        if plan.summary is not None:
            self.summary = [list(r) for r in plan.summary.rows]
            self.summary_title = plan.summary.title
            if plan.summary_charts:
                self.charts = list(plan.summary.charts)
        if plan.conditional_formats is not None:
            self.cf = plan.conditional_formats
        if plan.meta is not None:
            self.meta = copy.deepcopy(plan.meta)
        self.requests.write += 1
        self.version += 1
        return ApplyResult(cells_written=plan.cell_count, requests=1)

    @property
    def writes(self) -> int:
        return self.requests.write

    def set(self, row: int, col: int, value: Any) -> None:
        """A write (by the job or, in tests, by a person)."""
        while len(self.rows) <= row:
            self.rows.append([])
        r = self.rows[row]
        while len(r) <= col:
            r.append(None)
        r[col] = value

"""The backend seam: ``read()`` a snapshot, ``apply(snapshot, plan)`` in one atomic step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..model import ApplyResult, Snapshot, WritePlan

if TYPE_CHECKING:
    from ..config import Config


class Backend(Protocol):
    """What the pipeline needs from a place that holds a tracker."""

    #: Human-readable target (file path or spreadsheet id), for messages and reports.
    target: str

    def read(self) -> Snapshot:
        """Everything the run needs, in as few requests as the backend allows."""
        ...

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        """Write the plan all-or-nothing; raise TrackerChanged if the tracker moved since ``snapshot``."""
        ...


def open_backend(config: Config) -> Backend:
    """The backend named by ``config.tracker.backend``."""
    if config.tracker.backend == "xlsx":
        from .xlsx import XlsxBackend

        assert config.tracker.path is not None
        output = config.resolve(config.tracker.output) if config.tracker.output else None
        return XlsxBackend(
            config.resolve(config.tracker.path),
            worksheet=config.tracker.worksheet,
            summary_title=config.summary_title(),
            output=output,
        )
    from .gsheets import SheetsBackend

    assert config.tracker.spreadsheet is not None
    creds = config.resolve(config.google.credentials) if config.google.credentials else None
    return SheetsBackend(
        config.tracker.spreadsheet,
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        google=config.google,
        credentials_path=creds,
    )


__all__ = ["ApplyResult", "Backend", "Snapshot", "WritePlan", "open_backend"]

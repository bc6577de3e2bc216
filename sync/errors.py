"""Exceptions: the reasons a run cannot happen (never used for findings).

The tree, with the CLI exit code each maps to::

    TrackerSyncError                 base; .exit_code
    ├── ConfigError                  2  bad config.yaml or rule files (names file and key)
    │   ├── RuleError                2  a rule file is invalid (file:line)
    │   └── RunOutOfOrder            2  --today/--at before the run store's last run
    └── TrackerError                 3  the tracker cannot be read or written
        ├── TrackerNotFound          3  no such file / spreadsheet / tab
        ├── MissingColumns           3  a required column is not in the header row
        ├── TrackerChanged           3  the tracker changed between read and write
        ├── WouldLoseContent         3  saving would drop content people made
        ├── AccessDenied             3  credentials lack access (say whom to share with)
        ├── BackendUnavailable       3  the service failed after all retries
        └── RetryRun                 3  (internal) read again and re-plan; escapes only when
                                        the retry budget is spent

Findings about rows are data (see ``sync.validate``), not exceptions.
"""

from __future__ import annotations


class TrackerSyncError(Exception):
    """Something prevents the run."""

    exit_code = 3


class ConfigError(TrackerSyncError):
    """The configuration is invalid."""

    exit_code = 2


class RuleError(ConfigError):
    """A rule file is invalid."""


class RunOutOfOrder(ConfigError):
    """The run is dated before the last run its store remembers (history only moves forward)."""


class TrackerError(TrackerSyncError):
    """The tracker cannot be read or written."""

    exit_code = 3


class TrackerNotFound(TrackerError):
    """The tracker (file, spreadsheet or tab) does not exist."""


class MissingColumns(TrackerError):
    """A required column is missing from the tracker's header row."""


class TrackerChanged(TrackerError):
    """The tracker changed between the read and the write; nothing was written."""


class WouldLoseContent(TrackerError):
    """Writing the tracker would lose content that people made."""


class AccessDenied(TrackerError):
    """The credentials do not give access to the tracker."""


class BackendUnavailable(TrackerError):
    """The backend kept failing; the tracker was left as it was."""


class RetryRun(TrackerError):
    """The write's outcome is unknown or rows moved under it: read again and re-plan."""

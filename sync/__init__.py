"""tracker-sync: validate, compute and write back a shared promotion progress tracker."""

from __future__ import annotations

from .config import Config, load_config
from .errors import (
    AccessDenied,
    BackendUnavailable,
    ConfigError,
    MissingColumns,
    RuleError,
    TrackerChanged,
    TrackerError,
    TrackerNotFound,
    TrackerSyncError,
    WouldLoseContent,
)
from .model import Grid, Snapshot, WritePlan
from .pipeline import RunResult, plan_run
from .report import report
from .rules import RuleSet, load_rules, shipped_rules_dir
from .run import sync

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "BackendUnavailable",
    "Config",
    "ConfigError",
    "Grid",
    "MissingColumns",
    "RuleError",
    "RuleSet",
    "RunResult",
    "Snapshot",
    "TrackerChanged",
    "TrackerError",
    "TrackerNotFound",
    "TrackerSyncError",
    "WouldLoseContent",
    "WritePlan",
    "__version__",
    "load_config",
    "load_rules",
    "plan_run",
    "report",
    "shipped_rules_dir",
    "sync",
]

"""tracker-sync: validate, compute and write back a shared promotion progress tracker."""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .config import Config, load_config
    from .model import Grid, Snapshot, WritePlan
    from .pipeline import RunResult, plan_run
    from .report import report
    from .rules import RuleSet, load_rules, shipped_rules_dir
    from .run import sync

#: Where each public name lives; imported on first use (``import sync`` stays light, so the
#: command line prints --help without loading pandas).
_LAZY = {
    "Config": "config",
    "load_config": "config",
    "Grid": "model",
    "Snapshot": "model",
    "WritePlan": "model",
    "RunResult": "pipeline",
    "plan_run": "pipeline",
    "report": "report",
    "RuleSet": "rules",
    "load_rules": "rules",
    "shipped_rules_dir": "rules",
    "sync": "run",
}


class _Package(types.ModuleType):
    """``sync.report`` is the public function, as it was when this package imported eagerly:
    importing the submodule of that name (which sets the package's attribute) must not hide it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sync' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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

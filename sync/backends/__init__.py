"""Backends, found by name: the entry-point group ``tracker_sync.backends``.

The three built-ins are registered the same way as any other (``pyproject.toml``)::

    [project.entry-points."tracker_sync.backends"]
    xlsx = "sync.backends.xlsx:open_backend"
    gsheets = "sync.backends.gsheets:open_backend"
    feishu = "sync.backends.feishu:open_backend"

so a third backend is a package that declares its own entry point, then
``tracker.backend: <name>`` in config.yaml selects it. The contract is in :mod:`.base`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import ConfigError, TrackerError
from ..registry import GROUP, registered
from .base import (
    AddsTabs,
    ApplyResult,
    Backend,
    BackendFactory,
    CountsRequests,
    CreatesTracker,
    Probe,
    Probes,
    ReadHints,
    Replans,
    Snapshot,
    WritePlan,
)

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger(__name__)


def open_backend(config: Config) -> Backend:
    """The backend named by ``config.tracker.backend``, built by its registered factory."""
    name = config.tracker.backend
    eps = registered()
    ep = eps.get(name)
    if ep is None:
        raise ConfigError(
            f"tracker.backend: no backend named {name!r} is installed "
            f"(installed: {', '.join(sorted(eps))}); a backend package registers itself in the "
            f"entry-point group {GROUP!r}"
        )
    try:
        factory: BackendFactory = ep.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"tracker.backend: the {name!r} backend ({ep.value}) cannot be loaded: {exc}"
        ) from None
    backend = factory(config)
    if not isinstance(backend, Backend):
        raise TrackerError(
            f"tracker.backend: {ep.value} returned {type(backend).__name__}, which lacks the "
            "backend contract (target, read, apply; see sync.backends.base)"
        )
    log.debug("backend %s (%s) for %s", name, ep.value, backend.target)
    return backend


__all__ = [
    "GROUP",
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
    "open_backend",
    "registered",
]

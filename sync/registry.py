"""The names of the installed backends: the entry-point group ``tracker_sync.backends``.

Only names and entry points live here (nothing is imported), so the config can check
``tracker.backend`` while it loads; :mod:`sync.backends` loads and builds the backend.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

GROUP = "tracker_sync.backends"

#: The built-ins' entry points, for a source tree that was never installed (no metadata).
_BUILTIN = {
    "xlsx": "sync.backends.xlsx:open_backend",
    "gsheets": "sync.backends.gsheets:open_backend",
    "feishu": "sync.backends.feishu:open_backend",
}


def registered() -> dict[str, EntryPoint]:
    """Every backend name with its entry point.

    >>> sorted(n for n in registered() if n in ("xlsx", "gsheets"))
    ['gsheets', 'xlsx']
    """
    return dict(_scan(tuple(sys.path)))


@lru_cache(maxsize=4)
def _scan(path: tuple[str, ...]) -> dict[str, EntryPoint]:
    """The group's entry points on ``path``: reading every installed distribution's metadata
    takes ~10 ms, and a run asks twice (the config's check, then opening the backend)."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    for name, value in _BUILTIN.items():
        found.setdefault(name, EntryPoint(name, value, GROUP))
    return found

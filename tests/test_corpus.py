"""The messy-input corpus (tests/corpus/cells.yaml): every cell form people type, read right.

Each entry is checked twice: by the scalar parser of its column type, and inside a whole row
(``BASE_EXAMPLE`` with the cell put in) that goes through ``parse`` and the shipped rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from sync.checks import Context
from sync.model import Grid
from sync.parse import (
    Table,
    is_present,
    parse,
    parse_date_value,
    parse_percent_value,
    parse_status_value,
)
from sync.rules import TEMPLATE_COLUMNS, load_rules, shipped_rules_dir
from sync.ruletools import BASE_EXAMPLE, EXAMPLE_AS_OF, example_grid
from sync.validate import validate

CORPUS_PATH = Path(__file__).parent / "corpus" / "cells.yaml"
SHIPPED = load_rules([shipped_rules_dir()])
WORDS = SHIPPED.status_words()
STATUS_IDS = {"not_started", "in_progress", "completed", "delayed", "on_hold"}
_KEYS = {
    "id",
    "field",
    "raw",
    "value",
    "note",
    "empty",
    "finding",
    "finding_column",
    "row",
    "allow",
    "percent_cell",
    "xfail",
}


def load_corpus(path: Path = CORPUS_PATH) -> list[dict[str, Any]]:
    """The corpus entries, as YAML typed them (dates, numbers, booleans and None stay so)."""
    with path.open(encoding="utf-8") as fh:
        return list(yaml.safe_load(fh)["cells"])


CORPUS = load_corpus()


def _param(entry: dict[str, Any]) -> Any:
    marks = (
        [pytest.mark.xfail(strict=True, reason=" ".join(str(entry["xfail"]).split()))]
        if entry.get("xfail")
        else []
    )
    return pytest.param(entry, id=entry["id"], marks=marks)


def kind_of(entry: dict[str, Any]) -> str:
    return SHIPPED.columns[entry["field"]].type


def run_entry(entry: dict[str, Any]) -> tuple[Table, pd.DataFrame]:
    """Put the entry's cell into BASE_EXAMPLE (plus its ``row`` fields); parse and validate."""
    row = {**BASE_EXAMPLE, **entry.get("row", {}), entry["field"]: entry["raw"]}
    grid = example_grid(SHIPPED, [row])
    if entry.get("percent_cell"):
        col = grid.rows[0].index(SHIPPED.columns[entry["field"]].title("zh-CN"))
        grid = dataclasses.replace(grid, percent_cells=frozenset({(1, col)}))
    table = parse(grid, SHIPPED, EXAMPLE_AS_OF)
    return table, validate(table, SHIPPED, Context(EXAMPLE_AS_OF))


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def check_scalar(entry: dict[str, Any]) -> None:
    """The column type's scalar parser reads the raw cell as the entry says."""
    raw, kind = entry["raw"], kind_of(entry)
    if entry.get("empty"):
        assert not is_present(raw)
        if kind == "date":
            assert parse_date_value(raw, EXAMPLE_AS_OF.year)[0] is None
        elif kind == "percent":
            assert parse_percent_value(raw)[0] is None
        elif kind == "status":
            assert parse_status_value(raw, WORDS) is None
        return
    assert is_present(raw)
    if "value" not in entry or entry.get("percent_cell"):
        return  # the scalar parser cannot know a cell's number format
    expected = entry["value"]
    if kind == "date":
        assert _iso(parse_date_value(raw, EXAMPLE_AS_OF.year)[0]) == expected
    elif kind == "percent":
        value, note = parse_percent_value(raw)
        assert value == pytest.approx(expected)
        assert note == entry.get("note")
    elif kind == "status":
        assert parse_status_value(raw, WORDS) == expected


def check_table(entry: dict[str, Any], table: Table) -> None:
    """Inside a whole row the cell is present (or not) and parsed to the entry's value."""
    field, kind = entry["field"], kind_of(entry)
    assert list(table.rows) == [2], "the example row is a task row"
    present = bool(table.present.loc[2, field])
    got = table.data.loc[2, field]
    if entry.get("empty"):
        assert not present
        assert got is None or pd.isna(got)
        return
    assert present
    if "value" not in entry:
        if kind != "text":  # a cell the type cannot read has no value
            assert got is None or pd.isna(got), got
        return
    expected = entry["value"]
    if kind == "date":
        assert _iso(got) == expected
    elif kind == "percent":
        assert got == pytest.approx(expected)
        assert table.data.loc[2, "progress_note"] == entry.get("note")
    else:
        assert got == expected


def check_findings(entry: dict[str, Any], table: Table, findings: pd.DataFrame) -> None:
    """The entry's finding fires on its column; no other error lights up the cell's column."""
    header = table.headers[entry["field"]]
    allowed = set(entry.get("allow", []))
    errors = findings[findings["severity"] == "error"]
    rule = entry.get("finding")
    if rule is not None:
        on = table.headers[entry.get("finding_column", entry["field"])]
        fired = set(findings.loc[findings["column"] == on, "rule"])
        assert rule in fired, findings.to_dict("records")
        if entry.get("finding_column", entry["field"]) == entry["field"]:
            allowed.add(rule)
    here = set(errors.loc[errors["column"] == header, "rule"])
    assert here <= allowed, findings.to_dict("records")


@pytest.mark.parametrize("entry", [_param(e) for e in CORPUS])
def test_corpus_cell(entry: dict[str, Any]) -> None:
    check_scalar(entry)
    table, findings = run_entry(entry)
    check_table(entry, table)
    check_findings(entry, table, findings)


# ---------------------------------------------------------------------------- the corpus itself


def test_corpus_is_large_and_covers_every_field_type_and_cell_type() -> None:
    assert len(CORPUS) >= 150
    ids = [e["id"] for e in CORPUS]
    assert len(ids) == len(set(ids)), "ids are unique"
    fields = {e["field"] for e in CORPUS}
    assert set(TEMPLATE_COLUMNS) <= fields, set(TEMPLATE_COLUMNS) - fields
    kinds = {kind_of(e) for e in CORPUS}
    assert {"text", "date", "percent", "status"} <= kinds
    raw_types = {type(e["raw"]) for e in CORPUS}
    assert {str, int, float, bool, dt.date, dt.datetime, type(None)} <= raw_types
    assert any(isinstance(e["raw"], float) and math.isnan(e["raw"]) for e in CORPUS)
    for kind in ("date", "percent", "status", "text"):
        of_kind = [e for e in CORPUS if kind_of(e) == kind]
        assert any("value" in e for e in of_kind), kind
        assert any(e.get("empty") for e in of_kind), kind
        assert any("finding" in e and "value" not in e for e in of_kind) or kind == "text", kind
    for status in STATUS_IDS:
        assert any(e.get("value") == status for e in CORPUS if kind_of(e) == "status"), status


def test_corpus_entries_are_well_formed() -> None:
    rule_ids = {r.id for r in SHIPPED.rules}
    for e in CORPUS:
        where = e.get("id")
        assert set(e) <= _KEYS, (where, set(e) - _KEYS)
        assert {"id", "field", "raw"} <= set(e), where
        assert e["field"] in SHIPPED.columns, where
        assert "value" in e or e.get("empty") or "finding" in e, (where, "no expectation")
        assert not (e.get("empty") and "value" in e), where
        if "finding" in e:
            assert e["finding"] in rule_ids, where
        for rule in e.get("allow", []):
            assert rule in rule_ids, where
        assert e.get("finding_column", e["field"]) in SHIPPED.columns, where
        assert set(e.get("row", {})) <= set(SHIPPED.columns), where
        if kind_of(e) == "status" and "value" in e:
            assert e["value"] in STATUS_IDS, where
        if kind_of(e) == "date" and "value" in e:
            assert dt.date.fromisoformat(e["value"]), where
        if "note" in e or e.get("percent_cell"):
            assert kind_of(e) == "percent", where


def test_base_example_alone_raises_no_finding() -> None:
    """The corpus relies on this: any finding in a test above comes from the cell put in."""
    table = parse(example_grid(SHIPPED, [dict(BASE_EXAMPLE)]), SHIPPED, EXAMPLE_AS_OF)
    assert validate(table, SHIPPED, Context(EXAMPLE_AS_OF)).empty


# ---------------------------------------------------------------------------- header variants

_BASE_ROW = [BASE_EXAMPLE[f] for f in TEMPLATE_COLUMNS]

HEADER_VARIANTS: dict[str, list[str]] = {
    "trailing-and-leading-spaces": [
        "推广阶段 ",
        " 推广渠道",
        "核心任务  ",
        "任务描述(具体可执行) ",
        " 负责人 ",
        "计划开始时间\t",
        "计划完成时间 ",
        " 实际开始时间",
        "实际完成时间 ",
        "当前进度(%) ",
        "完成状态 ",
        "风险描述 ",
        "应对措施 ",
        "备注 ",
    ],
    "line-breaks-inside": [
        "推广\n阶段",
        "推广渠道",
        "核心\n任务",
        "任务描述\n(具体可执行)",
        "负\n责\n人",
        "计划\n开始时间",
        "计划\r\n完成时间",
        "实际\n开始时间",
        "实际\n完成时间",
        "当前进度\n(%)",
        "完成状态\n(未开始/进行中/已完成/延期)",
        "风险\n描述",
        "应对\n措施",
        "备注",
    ],
    "full-width-brackets-and-letters": [
        "推广阶段",
        "推广渠道",
        "核心任务",
        "任务描述（具体可执行）",
        "负责人",
        "计划开始时间（必填）",
        "计划完成时间（必填）",
        "实际开始时间（YYYY-MM-DD）",
        "实际完成时间",
        "当前进度（％）",
        "完成状态（未开始/进行中/已完成/延期）",
        "风险描述",
        "应对措施",
        "备注（选填）",
    ],
    "traditional": [
        "推廣階段",
        "推廣渠道",
        "核心任務",
        "任務描述",
        "負責人",
        "計劃開始時間",
        "計劃完成時間",
        "實際開始時間",
        "實際完成時間",
        "當前進度(%)",
        "完成狀態",
        "風險描述",
        "應對措施",
        "備註",
    ],
    "english": [
        "Phase",
        "Channel",
        "Core task",
        "Description (specific and actionable)",
        "Owner",
        "Planned start",
        "Planned finish",
        "Actual start",
        "Actual finish",
        "Progress (%)",
        "Status (not started / in progress / completed / delayed)",
        "Risk",
        "Countermeasure",
        "Remarks",
    ],
    "english-synonyms-and-case": [
        "STAGE",
        "channel",
        "Task Name",
        "Task description",
        "ｏｗｎｅｒ",
        "PLANNED START",
        "Due Date",
        "actual  start",
        "Actual End",
        "% Complete",
        "State",
        "Risks",
        "Mitigation",
        "Notes",
    ],
    "short-aliases": [
        "阶段",
        "渠道",
        "任务",
        "描述",
        "主责人",
        "计划开始",
        "计划结束时间",
        "实际开始",
        "实际结束时间",
        "进度",
        "状态",
        "风险",
        "对策",
        "备注说明",
    ],
}


@pytest.mark.parametrize("title_row", [False, True], ids=["header-first", "title-above"])
@pytest.mark.parametrize("variant", list(HEADER_VARIANTS))
def test_header_variants_are_recognised(variant: str, title_row: bool) -> None:
    head = HEADER_VARIANTS[variant]
    top: list[list[Any]] = [["2024 新品上市推广进度表"], []] if title_row else []
    g = Grid("进度表", [*top, head, list(_BASE_ROW)])
    table = parse(g, SHIPPED, EXAMPLE_AS_OF)
    assert table.header_row == len(top)
    assert table.positions == {f: i for i, f in enumerate(TEMPLATE_COLUMNS)}
    assert table.headers == {
        **{f: h.strip() for f, h in zip(TEMPLATE_COLUMNS, head, strict=True)},
        **{n: table.headers[n] for n in SHIPPED.columns if n not in TEMPLATE_COLUMNS},
    }
    assert table.extra_columns == {}
    row = len(top) + 2
    assert list(table.rows) == [row]
    d = table.data.loc[row]
    assert d["planned_start"].date() == dt.date(2024, 3, 15)
    assert d["progress"] == 50 and d["status"] == "in_progress" and d["owner"] == "王丽"
    assert validate(table, SHIPPED, Context(EXAMPLE_AS_OF)).empty

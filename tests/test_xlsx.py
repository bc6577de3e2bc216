"""The .xlsx backend: human cells untouched, atomic replace, change detection, content protection."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.styles import Border, Font, PatternFill, Side

from sync.backends.xlsx import META_SHEET, XlsxBackend
from sync.config import load_config
from sync.errors import TrackerChanged, TrackerNotFound
from sync.run import sync

from .conftest import SEED_AS_OF

HUMAN_COLS = 14


def cell_state(
    path: Path, sheet: str | None = None, cols: int = HUMAN_COLS
) -> dict[tuple[int, int], tuple[Any, ...]]:
    """Everything about the human cells a person could see or have typed."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet] if sheet else wb.worksheets[0]
    state = {}
    for row in ws.iter_rows(min_col=1, max_col=cols):
        for c in row:
            state[(c.row, c.column)] = (
                c.value,
                c.data_type,
                c.number_format,
                repr(c.font),
                repr(c.fill),
                repr(c.border),
                repr(c.alignment),
                repr(c.protection),
                c.comment.text if c.comment else None,
                c.hyperlink.target if c.hyperlink else None,
            )
    return state


def decorate(path: Path) -> None:
    """A person's own formatting, notes, validation and formulas in human cells."""
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    ws["A2"].font = Font(bold=True, color="FF0000")
    ws["B3"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["C4"].border = Border(left=Side(style="thin"))
    ws["D5"].comment = Comment("check with the KOL agency", "王丽")
    ws["F2"].number_format = "yyyy/mm/dd"
    ws["N3"] = "=1+1"  # a person's formula in remarks
    ws["L2"].hyperlink = "https://example.com/risk"
    wb.save(path)


def test_human_cells_are_byte_for_byte_unchanged(tracker_file: Path) -> None:
    decorate(tracker_file)
    before = cell_state(tracker_file)
    config = load_config(tracker_file.parent / "config.yaml")
    r1 = sync(config, as_of=SEED_AS_OF)
    assert r1.applied is not None
    r2 = sync(config, as_of=dt.date(2024, 4, 2))
    assert r2.applied is not None
    assert cell_state(tracker_file) == before
    wb = openpyxl.load_workbook(tracker_file)
    ws = wb.worksheets[0]
    assert ws.freeze_panes == "A2"
    assert ws.data_validations.dataValidation, "the status dropdown survives"
    assert ws["O1"].value == "⚙ 计算状态" and ws["O2"].value == "延期"


def test_generated_cells_summary_chart_and_formats_exist(tracker_file: Path) -> None:
    sync(load_config(tracker_file.parent / "config.yaml"), as_of=SEED_AS_OF)
    wb = openpyxl.load_workbook(tracker_file)
    assert wb.sheetnames[:2] == ["推广进度表", "推广概览"]
    assert wb[META_SHEET].sheet_state == "veryHidden"
    ws = wb["推广进度表"]
    assert [ws.cell(row=4, column=c).value for c in range(15, 20)] == [
        "进行中",
        54.5,
        -24.5,
        0,
        "黄",
    ]
    assert ws["O1"].font.bold
    formulas = [rule.formula[0] for cf in ws.conditional_formatting for rule in cf.rules]
    assert '$O2="延期"' in formulas and '$S2="黄"' in formulas
    summary = wb["推广概览"]
    assert summary["A1"].value.startswith("推广进度概览")
    assert summary._charts, "the summary tab has a chart"
    with zipfile.ZipFile(tracker_file) as z:
        assert any(n.startswith("xl/charts/chart") for n in z.namelist())


def test_second_run_leaves_the_file_alone(tracker_file: Path) -> None:
    config = load_config(tracker_file.parent / "config.yaml")
    sync(config, as_of=SEED_AS_OF)
    stamp = tracker_file.stat().st_mtime_ns
    data = tracker_file.read_bytes()
    again = sync(config, as_of=SEED_AS_OF)
    assert again.plan.is_empty and again.applied is None
    assert tracker_file.read_bytes() == data and tracker_file.stat().st_mtime_ns == stamp


def test_formula_like_text_is_written_as_text(tracker_file: Path) -> None:
    wb = openpyxl.load_workbook(tracker_file)
    ws = wb.worksheets[0]
    ws["C2"].value = '=HYPERLINK("http://x.example","click")'
    ws["C2"].data_type = "s"
    wb.save(tracker_file)
    sync(load_config(tracker_file.parent / "config.yaml"), as_of=SEED_AS_OF)
    with zipfile.ZipFile(tracker_file) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        xml = "".join(z.read(n).decode() for n in sheets)
    assert "<f>HYPERLINK" not in xml and "<f>=HYPERLINK" not in xml
    wb = openpyxl.load_workbook(tracker_file)
    found = [
        c
        for row in wb["推广概览"].iter_rows()
        for c in row
        if c.value == '=HYPERLINK("http://x.example","click")'
    ]
    assert found and all(c.data_type == "s" for c in found)


def test_changed_on_disk_between_read_and_write_aborts(tracker_file: Path, ruleset: Any) -> None:
    backend = XlsxBackend(tracker_file, summary_title="推广概览")
    config = load_config(tracker_file.parent / "config.yaml")
    snapshot = backend.read()
    # a person saves the file while the run computes
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["J2"] = "70%"
    wb.save(tracker_file)
    edited = tracker_file.read_bytes()
    from sync.pipeline import plan_run

    plan = plan_run(
        snapshot, ruleset, as_of=SEED_AS_OF, now=dt.datetime(2024, 3, 20), summary_title="推广概览"
    ).plan
    with pytest.raises(TrackerChanged, match="changed on disk"):
        backend.apply(snapshot, plan)
    assert tracker_file.read_bytes() == edited
    assert not list(tracker_file.parent.glob(".tracker.xlsx.*")), "no temp file left behind"
    del config


def test_people_made_charts_are_kept_byte_for_byte(tracker_file: Path) -> None:
    wb = openpyxl.load_workbook(tracker_file)
    ws = wb.worksheets[0]
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=10, min_row=1, max_row=5), titles_from_data=True)
    ws.add_chart(chart, "P2")
    wb.save(tracker_file)
    with zipfile.ZipFile(tracker_file) as z:
        before = {
            n: z.read(n) for n in z.namelist() if n.startswith(("xl/charts/", "xl/drawings/"))
        }
    assert before
    result = sync(load_config(tracker_file.parent / "config.yaml"), as_of=SEED_AS_OF)
    assert result.applied is not None and result.applied.output == str(tracker_file)
    with zipfile.ZipFile(tracker_file) as z:
        assert {n: z.read(n) for n in before} == before  # the person's chart, as it was
    wb = openpyxl.load_workbook(tracker_file)
    assert wb.worksheets[0]["O2"].value == "延期"
    assert len(wb.worksheets[0]._charts) == 1


def test_a_part_no_program_here_understands_is_copied_as_it_was(tracker_file: Path) -> None:
    """A pivot table (or any part the job does not own) is neither refused nor touched."""
    data = io.BytesIO()
    with zipfile.ZipFile(tracker_file) as src, zipfile.ZipFile(data, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("xl/pivotTables/pivotTable1.xml", "<pivotTableDefinition/>")
    tracker_file.write_bytes(data.getvalue())
    sync(load_config(tracker_file.parent / "config.yaml"), as_of=SEED_AS_OF)
    with zipfile.ZipFile(tracker_file) as z:
        assert z.read("xl/pivotTables/pivotTable1.xml") == b"<pivotTableDefinition/>"


def test_missing_tab_lists_the_tabs(tracker_file: Path) -> None:
    with pytest.raises(TrackerNotFound, match="no tab named 'Nope'; the tabs are: '推广进度表'"):
        XlsxBackend(tracker_file, worksheet="Nope").read()


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(TrackerNotFound, match="tracker-sync init"):
        XlsxBackend(tmp_path / "nope.xlsx").read()


def test_a_formula_without_a_calculated_value_is_a_finding_and_is_kept(
    tracker_file: Path,
) -> None:
    # openpyxl writes a formula with no result (no spreadsheet program calculated it): the run
    # says so on that cell instead of reading it as empty, and the formula survives the write
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["J3"] = "=50+50"
    wb.worksheets[0]["E4"] = '=IF(1,"王丽","")'
    wb.save(tracker_file)
    result = sync(load_config(tracker_file.parent / "config.yaml"), as_of=SEED_AS_OF)
    found = result.findings[result.findings["rule"] == "formula-not-calculated"]
    assert sorted(zip(found["row"], found["column"], strict=True)) == [
        (3, "当前进度(%)"),
        (4, "负责人"),
    ]
    assert "Excel" in found["message"].iloc[0]
    on_e4 = result.findings[(result.findings["row"] == 4) & (result.findings["column"] == "负责人")]
    assert list(on_e4["rule"]) == ["formula-not-calculated"], "not also 'owner is empty'"
    ws = openpyxl.load_workbook(tracker_file).worksheets[0]
    assert (ws["J3"].value, ws["E4"].value) == ("=50+50", '=IF(1,"王丽","")')

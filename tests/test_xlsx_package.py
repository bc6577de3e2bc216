"""The surgical writer's pieces (sync/backends/xlsx_package.py) on hand-made sheet parts: what it
writes, and that every byte it does not own stays as it was."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from sync.backends.xlsx_package import (
    MAIN,
    Package,
    PackageError,
    SheetEdit,
    Styles,
    Workbook,
    apply_plan,
    cell_xml,
    edit_sheet,
    uncalculated_cells,
)
from sync.model import CFRule, WritePlan

NS = f'xmlns="{MAIN}"'


def sheet(rows: str, tail: str = "", head: str = "", ns: str = NS, prefix: str = "") -> bytes:
    p = prefix
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<{p}worksheet {ns}>{head}'
        f"<{p}sheetData>{rows}</{p}sheetData>{tail}</{p}worksheet>"
    ).encode()


def styles() -> Styles:
    """The styles of a tiny openpyxl workbook (a real styles.xml)."""
    buf = io.BytesIO()
    openpyxl.Workbook().save(buf)
    package = Package(buf.getvalue())
    return Styles(package, Workbook(package))


def edit(data: bytes, cells: dict[int, dict[int, object]], **kw: object) -> bytes:
    out, _ = edit_sheet(data, SheetEdit(cells=cells, **kw), styles())  # type: ignore[arg-type]
    etree.fromstring(out)  # still well-formed
    return out


def test_cells_are_spliced_in_column_order_and_other_bytes_stay() -> None:
    person = '<c r="A1" s="2" t="s"><v>0</v></c>  <c r="D1"><f>B1*2</f><v>4</v></c>'
    data = sheet(f'<row r="1" spans="1:4" customHeight="1" ht="30">{person}</row>')
    out = edit(data, {0: {2: "进行中", 5: 12.5}})
    assert out == sheet(
        '<row r="1" spans="1:6" customHeight="1" ht="30"><c r="A1" s="2" t="s"><v>0</v></c>  '
        '<c r="C1" t="inlineStr"><is><t>进行中</t></is></c><c r="D1"><f>B1*2</f><v>4</v></c>'
        '<c r="F1"><v>12.5</v></c></row>'
    )


def test_new_rows_go_between_and_after_the_existing_ones() -> None:
    data = sheet('<row r="2"><c r="A2"><v>1</v></c></row><row r="5"><c r="A5"><v>2</v></c></row>')
    out = edit(data, {0: {1: 1}, 3: {1: 2}, 9: {1: 3}})
    rows = [r.get("r") for r in etree.fromstring(out).iter(f"{{{MAIN}}}row")]
    assert rows == ["1", "2", "4", "5", "10"]


def test_rows_and_cells_without_references_keep_their_places() -> None:
    # r="" is optional: a row follows the previous one, a cell the previous cell
    data = sheet("<row><c><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row>")
    out = edit(data, {1: {3: "x"}})
    root = etree.fromstring(out)
    second = root.findall(f".//{{{MAIN}}}row")[1]
    assert second.get("r") == "2"
    assert [c.get("r") for c in second] == ["A2", "D2"]
    assert root.findall(f".//{{{MAIN}}}row")[0].get("r") is None  # an untouched row as it was


def test_a_prefixed_main_namespace_is_written_with_its_prefix() -> None:
    data = sheet(
        '<x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c></x:row>',
        ns=f'xmlns:x="{MAIN}"',
        prefix="x:",
    )
    out = edit(data, {0: {1: "a"}})
    cells = etree.fromstring(out).findall(f".//{{{MAIN}}}c")
    assert [c.get("r") for c in cells] == ["A1", "B1"]
    assert b'<x:c r="B1" t="inlineStr"><x:is><x:t>a</x:t></x:is></x:c>' in out


def test_text_is_always_text_never_a_formula() -> None:
    assert cell_xml("A1", '=HYPERLINK("x")', None) == (
        '<c r="A1" t="inlineStr"><is><t>=HYPERLINK("x")</t></is></c>'
    )
    assert cell_xml("A1", " a<b&c\x01 ", None) == (
        '<c r="A1" t="inlineStr"><is><t xml:space="preserve"> a&lt;b&amp;c_x0001_ </t></is></c>'
    )


def test_clearing_a_cell_keeps_its_style() -> None:
    data = sheet('<row r="1"><c r="A1" s="3" t="inlineStr"><is><t>old</t></is></c></row>')
    assert b'<c r="A1" s="3"/>' in edit(data, {0: {0: None}})
    data = sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>old</t></is></c></row>')
    assert b'<row r="1"></row>' in edit(data, {0: {0: None}})


def test_the_dimension_hint_grows_to_the_written_cells() -> None:
    data = sheet('<row r="1"><c r="A1"><v>1</v></c></row>', head='<dimension ref="A1:B3"/>')
    assert b'<dimension ref="A1:E9"/>' in edit(data, {8: {4: 1}})


def test_an_empty_sheet_data_gets_rows() -> None:
    data = f"<worksheet {NS}><sheetData/></worksheet>".encode()
    out = edit(data, {0: {0: "a"}})
    assert b'<sheetData><row r="1">' in out


def test_highlight_rules_only_the_jobs_are_replaced_and_they_sit_in_schema_order() -> None:
    person = '<conditionalFormatting sqref="A1:A9"><cfRule type="expression" dxfId="0" priority="7"><formula>$A1&gt;1</formula></cfRule></conditionalFormatting>'
    ours = '<conditionalFormatting sqref="O2:O9"><cfRule type="expression" dxfId="1" priority="8"><formula>$O2="延期"</formula></cfRule></conditionalFormatting>'
    tail = f'{person}{ours}<dataValidations count="0"/><pageMargins left="1"/>'
    data = sheet("", tail=tail)
    e = SheetEdit(
        replace_cf=True,
        remove_cf={("O2:O9", '$O2="延期"')},
        add_cf=[("P2:P9", '$P2="红"', 4)],
    )
    out, _ = edit_sheet(data, e, styles())
    root = etree.fromstring(out)
    names = [etree.QName(el).localname for el in root]
    assert names == [
        "sheetData",
        "conditionalFormatting",
        "conditionalFormatting",
        "dataValidations",
        "pageMargins",
    ]
    rules = [(cf.get("sqref"), cf[0].get("priority"), cf[0][0].text) for cf in root[1:3]]
    assert rules == [("A1:A9", "7", "$A1>1"), ("P2:P9", "9", '$P2="红"')]


def test_a_formula_overwritten_is_reported_so_the_calc_chain_goes() -> None:
    data = sheet('<row r="1"><c r="A1"><f>1+1</f><v>2</v></c></row>')
    _, had = edit_sheet(data, SheetEdit(cells={0: {0: "x"}}), styles())
    assert had
    _, had = edit_sheet(data, SheetEdit(cells={0: {1: "x"}}), styles())
    assert not had


def test_uncalculated_formulas_are_found() -> None:
    data = sheet(
        '<row r="2"><c r="A2"><f>1+1</f></c>'  # no <v>: never calculated
        '<c r="B2"><f>1+1</f><v></v></c>'  # openpyxl's empty <v>
        '<c r="C2" t="str"><f>""</f><v></v></c>'  # Excel: the formula's result is empty text
        '<c r="D2"><f>1+1</f><v>2</v></c>'
        '<c r="E2" t="inlineStr"><is><r><rPr><family val="2"/></rPr><t>x</t></r></is></c>'
        "</row>"
    )
    assert uncalculated_cells(data) == {(1, 0), (1, 1)}


def test_styles_are_appended_once_and_never_move(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "T"
    wb.active["A1"] = "任务"
    wb.save(path)
    plan = WritePlan(
        "T",
        cells={1: pd.Series(["状态"], index=[0], dtype=object)},
        header_cells=((0, 1),),
        conditional_formats=(CFRule(1, 9, 0, 1, '$B2="延期"', "F8D7DA"),),
        meta={"version": 1},
    )
    once = apply_plan(path.read_bytes(), plan, (), header_fill="D9D9D9", meta_title="_m")
    twice = apply_plan(
        once, plan, plan.conditional_formats or (), header_fill="D9D9D9", meta_title="_m"
    )

    def part(data: bytes, name: str) -> bytes:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return z.read(name)

    assert part(once, "xl/styles.xml") == part(twice, "xl/styles.xml")
    ws = openpyxl.load_workbook(io.BytesIO(twice))["T"]
    assert ws["B1"].value == "状态" and ws["B1"].font.b
    assert ws["B1"].fill.fgColor.rgb == "FFD9D9D9"
    assert len(ws.conditional_formatting) == 1


def test_strict_open_xml_is_refused_with_a_way_out() -> None:
    buf = io.BytesIO()
    openpyxl.Workbook().save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/workbook.xml":
                data = data.replace(MAIN.encode(), b"http://purl.oclc.org/ooxml/spreadsheetml/main")
            z.writestr(name, data)
    with pytest.raises(PackageError, match="Strict Open XML"):
        Workbook(Package(out.getvalue()))


@given(
    present=st.lists(st.integers(0, 20), unique=True, max_size=12),
    selfclosing=st.integers(0, 2**20),
    changes=st.dictionaries(
        st.integers(0, 24),
        st.one_of(st.none(), st.text(max_size=3), st.integers(-5, 5)),
        max_size=6,
    ),
)
def test_writing_by_reference_is_the_same_as_scanning_every_cell(
    present: list[int], selfclosing: int, changes: dict[int, object]
) -> None:
    """The fast path (find each cell by its reference) writes what the full scan writes."""
    from sync.backends.xlsx_package import SheetParts, _SheetWriter
    from sync.cells import col_letter

    cells = "".join(
        f'<c r="{col_letter(c)}3" s="1"/>'
        if selfclosing >> i & 1
        else f'<c r="{col_letter(c)}3" t="inlineStr"><is><t>v{c}</t></is></c>'
        for i, c in enumerate(sorted(present))
    )
    edit_ = SheetEdit(cells={2: changes})
    parts = SheetParts(sheet(f'<row r="3">{cells}</row>'))
    writer = _SheetWriter(parts, edit_, styles(), False)
    fast = writer.cells_by_reference(2, cells.encode(), changes)
    slow = writer.cells_by_scan(2, cells.encode(), changes)
    assert fast is None or fast == slow


def test_the_common_rows_take_the_path_by_reference() -> None:
    from sync.backends.xlsx_package import SheetParts, _SheetWriter

    inner = b'<c r="A2" t="s"><v>0</v></c><c r="B2" s="1"/><c r="O2"><v>1</v></c>'
    writer = _SheetWriter(SheetParts(sheet("")), SheetEdit(), styles(), False)
    assert writer.cells_by_reference(1, inner, {14: "延期", 15: 3}) == (
        b'<c r="A2" t="s"><v>0</v></c><c r="B2" s="1"/>'
        + '<c r="O2" t="inlineStr"><is><t>延期</t></is></c><c r="P2"><v>3</v></c>'.encode()
    )
    assert writer.cells_by_reference(1, inner, {2: "x"}) is None  # between: scan


def test_styled_cells_reads_only_the_style_of_cell_tags() -> None:
    """A cell's style is its tag's ``s`` attribute, wherever it stands among the attributes;
    a row's style, a text that spells ``s="3"``, a longer index and another tag are not."""
    from sync.backends.xlsx_package import styled_cells

    body = (
        '<row r="1" s="3" customFormat="1"><c r="A1" s="3"/><c s="3" r="B1"><v>1</v></c>'
        '<c r="C1" t="inlineStr"><is><t> s="3"</t></is></c><c r="D1" s="13"/>'
        '<c\tr="E1"\ts="3"/><c r="F1" xs="3"/></row>'
    )
    data = sheet(body)
    assert styled_cells(data, {3}) == {(0, 0), (0, 1), (0, 4)}
    assert styled_cells(data, {13}) == {(0, 3)}
    assert styled_cells(data, set()) == set()

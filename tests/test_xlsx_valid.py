"""tests/xlsx_valid.py on the corpus: every workbook as built is valid, each kind of damage is
reported naming the part, and what the surgical writer writes (run, edit a cell, run again)
is still a valid package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .test_xlsx_corpus import (
    EDITED_CELL,
    EDITED_TEXT,
    _drop,
    _edit,
    edit_cell,
    make_case,
    sync_like_a_person,
)
from .xlsx_corpus import CORPUS, Package, read_package
from .xlsx_valid import orphans, package_problems

SHEET1 = "xl/worksheets/sheet1.xml"
SHEET1_RELS = "xl/worksheets/_rels/sheet1.xml.rels"
WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
STYLES = "xl/styles.xml"
TYPES = "[Content_Types].xml"
_RULE = (
    '<conditionalFormatting sqref="K2:K5"><cfRule type="expression" dxfId="{dxf}" priority="1">'
    '<formula>$K2="延期"</formula></cfRule></conditionalFormatting>'
)


@pytest.mark.parametrize("name", list(CORPUS))
def test_every_corpus_case_is_valid_as_built(tmp_path: Path, name: str) -> None:
    package = read_package(CORPUS[name](tmp_path))
    assert package_problems(package) == []
    assert orphans(package) == set()


def _add(part: str, data: bytes) -> Callable[[Package], None]:
    return lambda p: p.__setitem__(part, data)


def _all(*spoils: Callable[[Package], None]) -> Callable[[Package], None]:
    def spoil(p: Package) -> None:
        for s in spoils:
            s(p)

    return spoil


_STRAY = b'<?xml version="1.0"?><stray/>'


@pytest.mark.parametrize(
    ("name", "spoil", "reported"),
    [
        # well-formed XML
        (
            "plain",
            _edit("docProps/app.xml", "</Properties>", ""),
            "docProps/app.xml: not well-formed",
        ),
        # the bug that slipped through: a sheet's rels dropped, its <drawing r:id> kept
        ("chart_on_tracker", _drop(SHEET1_RELS), f'{SHEET1}: <drawing r:id="rId1">'),
        ("chart_on_tracker", _drop(SHEET1_RELS), "xl/drawings/drawing1.xml: orphan part"),
        # content types
        (
            "plain",
            _edit(TYPES, '<Override PartName="/xl/worksheets/sheet1.xml"[^>]*/>', ""),
            f'{SHEET1}: content type "application/xml" for a worksheet part',
        ),
        (
            "plain",
            _edit(TYPES, "</Types>", '<Override PartName="/xl/gone.xml" ContentType="x"/></Types>'),
            f'{TYPES}: Override PartName="/xl/gone.xml" names no part',
        ),
        (
            "plain",
            _edit(TYPES, '(<Override PartName="/xl/styles.xml"[^>]*/>)', r"\1\1"),
            f'{TYPES}: duplicate Override PartName="/xl/styles.xml"',
        ),
        (
            "image_over_cells",
            _edit(TYPES, '<Default Extension="png"[^>]*/>', ""),
            "xl/media/image1.png: no content type",
        ),
        # relationships
        (
            "chart_on_tracker",
            _edit(SHEET1_RELS, "drawing1.xml", "drawing9.xml"),
            f'{SHEET1_RELS}: Id="rId1" Target="../drawings/drawing9.xml" names no part',
        ),
        (
            "plain",
            _edit(WORKBOOK_RELS, 'Id="rId2"', 'Id="rId1"'),
            f'{WORKBOOK_RELS}: duplicate Id="rId1"',
        ),
        (
            "chart_on_tracker",
            _add(
                "xl/worksheets/_rels/sheet7.xml.rels",
                b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>',
            ),
            "xl/worksheets/_rels/sheet7.xml.rels: its source part xl/worksheets/sheet7.xml does not exist",
        ),
        ("plain", _add("xl/stray.xml", _STRAY), "xl/stray.xml: orphan part"),
        (
            "plain",
            _edit("_rels/.rels", '/officeDocument"', '/other"'),
            "_rels/.rels: no officeDocument",
        ),
        # workbook.xml
        (
            "hidden_sheet",
            _edit(WORKBOOK, 'sheetId="2"', 'sheetId="1"'),
            f'{WORKBOOK}: duplicate sheet sheetId "1"',
        ),
        (
            "hidden_sheet",
            _edit(WORKBOOK, 'name="备用"', 'name="进度表"'),
            f'{WORKBOOK}: duplicate sheet name "进度表"',
        ),
        (
            "hidden_sheet",
            _edit(WORKBOOK, 'name="备用"', f'name="{"备" * 32}"'),
            f'{WORKBOOK}: sheet name "{"备" * 32}"',
        ),
        (
            "hidden_sheet",
            _edit(WORKBOOK, 'name="备用"', 'name="备/用"'),
            f'{WORKBOOK}: sheet name "备/用"',
        ),
        (
            "hidden_sheet",
            _edit(WORKBOOK, 'r:id="rId2"', 'r:id="rId9"'),
            f'{WORKBOOK}: sheet "备用" r:id="rId9" is not a relationship',
        ),
        (
            "printer_settings",
            _edit(WORKBOOK, 'Print_Titles" localSheetId="0"', 'Print_Titles" localSheetId="1"'),
            f'{WORKBOOK}: definedName "_xlnm.Print_Titles" localSheetId=1 but 1 sheets',
        ),
        (
            "defined_names",
            _edit(
                WORKBOOK,
                "</definedNames>",
                '<definedName name="任务清单">1</definedName></definedNames>',
            ),
            f'{WORKBOOK}: duplicate definedName "任务清单" (localSheetId=None)',
        ),
        # styles.xml
        (
            "plain",
            _edit(STYLES, '<cellXfs count="3">', '<cellXfs count="4">'),
            f'{STYLES}: <cellXfs count="4"> holds 3',
        ),
        (
            "plain",
            _edit(STYLES, '<fonts count="2">', '<fonts count="1">'),
            f'{STYLES}: <fonts count="1"> holds 2',
        ),
        (
            "plain",
            _edit(STYLES, 'fontId="1" fillId="2"', 'fontId="2" fillId="2"'),
            f"{STYLES}: cellXfs xf 1 fontId=2 but 2 fonts",
        ),
        # worksheet parts
        (
            "plain",
            _edit(SHEET1, '<c r="C3"', '<c r="C3" s="3"'),
            f'{SHEET1}: cell C3 s="3" but 3 cellXfs',
        ),
        (
            "plain",
            _edit(SHEET1, "<pageMargins", _RULE.format(dxf=0) + "<pageMargins"),
            f'{SHEET1}: cfRule dxfId="0" but 0 dxfs',
        ),
        (
            "plain",
            _edit(
                SHEET1, "(<pageMargins[^>]*/>)", r"\1" + _RULE.format(dxf=0).replace("\\", "\\\\")
            ),
            f"{SHEET1}: <conditionalFormatting> after <pageMargins> (schema order)",
        ),
        (
            "plain",
            _edit(SHEET1, "<pageMargins", "<pageMarginz/><pageMargins"),
            f"{SHEET1}: <pageMarginz> is not a child",
        ),
        ("plain", _edit(SHEET1, '<row r="3"', '<row r="2"'), f"{SHEET1}: row 2 after row 2"),
        ("plain", _edit(SHEET1, '<row r="4"', '<row r="1"'), f"{SHEET1}: row 1 after row 3"),
        (
            "plain",
            _edit(SHEET1, '<c r="C3"', '<c r="A3"'),
            f"{SHEET1}: cell A3 out of column order in row 3",
        ),
        ("plain", _edit(SHEET1, '<c r="C3"', '<c r="C9"'), f"{SHEET1}: cell C9 in row 3"),
        (
            "plain",
            _edit(SHEET1, '<c r="C3" t="s"><v>25</v></c>', '<c r="C3" t="inlineStr"><v>x</v></c>'),
            f'{SHEET1}: cell C3 t="inlineStr" without <is>',
        ),
        (
            "formulas",
            _edit(SHEET1, "<f>F2\\+10</f>", "<f>=F2+10</f>"),
            f"{SHEET1}: cell G2 formula stored with its = sign",
        ),
    ],
)
def test_damage_is_reported_naming_the_part(
    tmp_path: Path, name: str, spoil: Callable[[Package], None], reported: str
) -> None:
    package = read_package(CORPUS[name](tmp_path))
    spoil(package)
    problems = package_problems(package)
    assert [p for p in problems if p.startswith(reported)], problems


def test_orphans_already_in_the_input_can_be_allowed(tmp_path: Path) -> None:
    package = read_package(CORPUS["plain"](tmp_path))
    package["xl/stray.xml"] = _STRAY
    assert orphans(package) == {"xl/stray.xml"}
    assert package_problems(package, allowed_orphans=orphans(package)) == []


def test_prefixed_namespaces_are_read_by_namespace(tmp_path: Path) -> None:
    package = read_package(CORPUS["plain"](tmp_path))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    for part in (SHEET1, WORKBOOK, STYLES):
        text = package[part].decode()
        text = text.replace(f'xmlns="{main}"', f'xmlns:x="{main}"')
        text = (
            text.replace("</", "</x:")
            .replace("<", "<x:")
            .replace("<x:/", "</")
            .replace("<x:?", "<?")
        )
        package[part] = text.encode()
    assert package_problems(package) == []
    package[SHEET1] = package[SHEET1].replace(b'<x:c r="C3"', b'<x:c r="C3" s="7"')
    assert package_problems(package) == [f'{SHEET1}: cell C3 s="7" but 3 cellXfs']


@pytest.mark.parametrize("name", list(CORPUS))
def test_run_edit_run_writes_a_valid_package(tmp_path: Path, name: str) -> None:
    tracker, config = make_case(name, tmp_path)
    allowed = orphans(read_package(tracker))
    sync_like_a_person(tracker, config)
    problems = {"first run": package_problems(read_package(tracker), allowed)}
    edit_cell(tracker, EDITED_CELL, EDITED_TEXT)
    sync_like_a_person(tracker, config)
    problems["second run"] = package_problems(read_package(tracker), allowed)
    assert problems == {"first run": [], "second run": []}

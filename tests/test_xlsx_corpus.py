"""Workbooks made by another program (tests/xlsx_corpus.py), synced through the CLI (issue 8).

What holds today and must keep holding: a run either syncs (exit 0) with what people made
still there, or refuses (exit 3) naming what it would lose and leaving the file as it was; a
formula's cached result is read. What issue 8 asks for (strict xfail until the surgical writer
lands): run, edit a human cell, run again, and every zip member that is not the job's own is
byte for byte the input's, the parts the job must touch lost nothing of the person's, and the
formulas' results are still read.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from sync.backends.xlsx import META_SHEET
from sync.cli import cli

from .xlsx_corpus import CORPUS, FEATURES, TAB, Package, read_package, sheet_parts

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SUMMARY = "推广概览"  # the summary tab's default title (zh-CN)
HUMAN_COLS = 14
TODAY = "2024-03-20"
#: the cell a person edits between the two runs: 当前进度 of the 抖音 task (row 4)
EDITED_CELL, EDITED_ROW, EDITED_TEXT, EDITED_PROGRESS = "J4", 4, "50%", 50.0

#: a word the refusal message must use to name what the case would lose
LOSS_WORDS = {
    "plain": None,  # nothing to lose: must never be refused
    "rich_string": "rich text",
    "image_over_cells": "image",
    "image_in_cell": "image",
    "chart_on_tracker": "chart",
    "chart_on_other_tab": "chart",
    "table": "table",
    "comments": "comment",
    "data_validation": "validation",
    "defined_names": "name",
    "hidden_sheet": "hidden",
    "outline": "outline",
    "printer_settings": "print",
    "header_image": "header",
    "formulas": "formula",
    "external_link": "external",
    "macro": "macro",
    "libreoffice_saved": "chart",
}
#: cases where an exit-0 run loses what a person made today, and what goes
SILENT_LOSS = {
    "rich_string": "the bold red run of L2 becomes plain text",
    "image_in_cell": "the picture in N2 (xl/richData, the cell's vm attribute) is dropped",
    "printer_settings": "openpyxl rewrites the page header '&C&14推广进度表' as '&C&14 推广进度表'",
    "header_image": "the page header's picture (legacyDrawingHF) is dropped",
    "formulas": "every formula's cached result is dropped",
    "external_link": "E5's cached result is dropped",
}
#: sheet rows whose formula results a lost cache would turn into "required field empty"
FORMULA_ROWS = {"formulas": [2], "external_link": [5]}

_ISSUE_8 = (
    "issue 8: the openpyxl writer rewrites every part; a surgical writer keeps them byte for byte"
)


def _cases(xfail: dict[str, str] | set[str], reason: str = _ISSUE_8) -> list[Any]:
    """Every corpus case, those in ``xfail`` marked as strict xfail."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.xfail(
                strict=True,
                reason=f"{reason}: {xfail[name]}" if isinstance(xfail, dict) else reason,
            )
            if name in xfail
            else (),
        )
        for name in CORPUS
    ]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def make_case(name: str, folder: Path) -> tuple[Path, Path]:
    """The case's workbook and a config.yaml beside it."""
    tracker = CORPUS[name](folder)
    config = folder / "config.yaml"
    config.write_text(
        f"tracker:\n  path: {tracker.name}\n  worksheet: {TAB}\ntimezone: Asia/Shanghai\n",
        encoding="utf-8",
    )
    return tracker, config


def run_json(config: Path, *extra: str) -> Any:
    return invoke("run", "-c", str(config), "--today", TODAY, "--json", *extra)


def errors_on(report: dict[str, Any], rows: list[int]) -> list[tuple[int, str, str]]:
    return [
        (f["row"], f["column"], f["message"])
        for f in report["findings"]
        if f["row"] in rows and f["severity"] == "error"
    ]


# ---------------------------------------------------------------------------- the harness


def foreign_members(
    original_zip: zipfile.ZipFile, written_zip: zipfile.ZipFile, owned: set[str]
) -> dict[str, str]:
    """The input's members, other than ``owned``, that the written package changed
    (``"changed"``: other bytes) or dropped (``"vanished"``)."""
    written = set(written_zip.namelist())
    out = {}
    for name in original_zip.namelist():
        if name in owned:
            continue
        if name not in written:
            out[name] = "vanished"
        elif original_zip.read(name) != written_zip.read(name):
            out[name] = "changed"
    return out


#: parts the job must edit to add its own (workbook entries, appended styles and strings)
SHARED_PARTS = {
    "[Content_Types].xml",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/styles.xml",
    "xl/sharedStrings.xml",
}


def _rels_of(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def owned_parts(original: Package, written: Package) -> set[str]:
    """What the job may have rewritten: the shared parts, the tracker sheet part, and every part
    reachable from its summary and metadata tabs that the input did not hold (a person's part
    that the job's reuses the name of is the person's, and must be kept)."""
    tabs = sheet_parts(written)
    owned = SHARED_PARTS | {tabs[TAB]}
    todo = [tabs[t] for t in (SUMMARY, META_SHEET) if t in tabs]
    seen: set[str] = set()
    while todo:
        part = todo.pop()
        if part in seen:
            continue
        seen.add(part)
        rels = _rels_of(part)
        if rels in written:
            seen.add(rels)
            for rel in ElementTree.fromstring(written[rels]):
                if rel.get("TargetMode") != "External":
                    target = rel.get("Target", "")
                    todo.append(
                        target.lstrip("/")
                        if target.startswith("/")
                        else posixpath.normpath(posixpath.join(posixpath.dirname(part), target))
                    )
    return owned | (seen - set(original))


def _x(el: ElementTree.Element) -> tuple[Any, ...]:
    """An element as comparable data: attribute order, namespace prefixes and indentation
    are how a writer spells the XML, not what it says."""
    text = el.text or ""
    if len(el) and not text.strip():
        text = ""
    return (el.tag, tuple(sorted(el.attrib.items())), text, tuple(_x(c) for c in el))


def _show(el: ElementTree.Element) -> str:
    attrs = " ".join(f'{k.rsplit("}", 1)[-1]}="{v}"' for k, v in el.attrib.items())
    return f"<{_local(el)} {attrs}>"[:140]


def _local(el: ElementTree.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


_NOT_PERSONS = {"sheetData", "dimension", "cols", "conditionalFormatting", "dataValidations"}


def lost_from_shared_parts(original: Package, written: Package, tracker_before: bytes) -> list[str]:
    """What the parts the job may edit lost of the person's: content types, workbook
    relationships, tabs and names, styles (append only), shared strings (append only), and in
    the tracker sheet (as it was just before the run) every human cell, row and sheet setting."""
    lost: list[str] = []

    def missing(part: str, select: Any) -> None:
        if part not in original:
            return
        after = (
            {_x(e) for e in select(ElementTree.fromstring(written[part]))}
            if part in written
            else set()
        )
        lost.extend(
            f"{part}: {_show(e)}"
            for e in select(ElementTree.fromstring(original[part]))
            if _x(e) not in after
        )

    def prefix(part: str, collections: Any) -> None:
        """Each collection of ``part`` is the input's entries, then appended ones."""
        if part not in original:
            return
        after = ElementTree.fromstring(written[part]) if part in written else None
        for path, coll in collections(ElementTree.fromstring(original[part])):
            found = (
                after
                if after is not None and path == "."
                else (after.find(path) if after is not None else None)
            )
            kept = [_x(e) for e in (found if found is not None else [])][: len(coll)]
            if kept != [_x(e) for e in coll]:
                lost.append(f"{part}: <{_local(coll)}> is not the input's plus appended entries")

    missing("[Content_Types].xml", lambda r: list(r))
    missing("xl/_rels/workbook.xml.rels", lambda r: list(r))
    missing(
        "xl/workbook.xml",
        lambda r: [
            e for e in r.iter() if _local(e) in ("sheet", "definedName", "externalReference")
        ],
    )
    prefix("xl/styles.xml", lambda r: [(e.tag, e) for e in r if len(e)])
    prefix("xl/sharedStrings.xml", lambda r: [(".", r)])

    part = sheet_parts(original)[TAB]
    new_part = sheet_parts(written)[TAB]
    sheet = ElementTree.fromstring(tracker_before)
    sheet2 = ElementTree.fromstring(written[new_part])
    for el in sheet:
        if _local(el) in ("conditionalFormatting", "dataValidations"):
            after = {_x(e) for e in sheet2.iter(el.tag)} | {
                _x(e) for f in sheet2.iter(el.tag) for e in f
            }
            kids = [el] if _local(el) == "conditionalFormatting" else list(el)
            lost.extend(f"{part}: {_show(k)}" for k in kids if _x(k) not in after)
        elif _local(el) not in _NOT_PERSONS:
            found = sheet2.find(el.tag)
            if found is None or _x(found) != _x(el):
                lost.append(f"{part}: <{_local(el)}> changed")
    rows2 = {r.get("r"): r for r in sheet2.iter(_tag(sheet, "row"))}
    for row in sheet.iter(_tag(sheet, "row")):
        row2 = rows2.get(row.get("r"))
        attrs = {k: v for k, v in row.attrib.items() if k != "spans"}
        if row2 is None or attrs != {k: v for k, v in row2.attrib.items() if k != "spans"}:
            lost.append(f"{part}: row {row.get('r')} attributes")
            continue
        human = {c.get("r"): _x(c) for c in row if _col(c.get("r", "")) < HUMAN_COLS}
        human2 = {c.get("r"): _x(c) for c in row2 if _col(c.get("r", "")) < HUMAN_COLS}
        lost.extend(
            f"{part}: cell {ref}"
            for ref in sorted(set(human) | set(human2))
            if human.get(ref) != human2.get(ref)
        )
    return lost


def _tag(root: ElementTree.Element, local: str) -> str:
    return root.tag.rsplit("}", 1)[0] + "}" + local


def _col(ref: str) -> int:
    n = 0
    for ch in re.match(r"[A-Z]*", ref).group(0):  # type: ignore[union-attr]
        n = n * 26 + ord(ch) - 64
    return n - 1


def edit_cell(path: Path, ref: str, text: str) -> None:
    """A person's edit: cell ``ref`` of the tracker tab now holds ``text`` (an inline string,
    keeping the cell's style); no other part of the package changes."""
    package = read_package(path)
    part = sheet_parts(package)[TAB]
    xml = package[part].decode("utf-8")
    pattern = re.compile(rf'<c r="{ref}"([^>]*?)(/>|>.*?</c>)', re.S)
    m = pattern.search(xml)
    assert m, f"no cell {ref} in {part}"
    style = re.search(r'\ss="\d+"', m.group(1))
    new = f'<c r="{ref}"{style.group(0) if style else ""} t="inlineStr"><is><t>{text}</t></is></c>'
    package[part] = (xml[: m.start()] + new + xml[m.end() :]).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in package.items():
            z.writestr(name, data)


# ---------------------------------------------------------------------------- the corpus itself


def test_every_case_has_a_probe_and_a_loss_word() -> None:
    assert set(CORPUS) == set(FEATURES) == set(LOSS_WORDS)
    assert set(SILENT_LOSS) | set(FORMULA_ROWS) <= set(CORPUS)


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_case_holds_its_feature(tmp_path: Path, name: str) -> None:
    path = CORPUS[name](tmp_path)
    assert FEATURES[name](read_package(path)) is None
    assert zipfile.ZipFile(path).testzip() is None


# ---------------------------------------------------------------------------- holds today


@pytest.mark.parametrize("name", list(CORPUS))
def test_first_run_syncs_or_refuses_naming_the_loss(tmp_path: Path, name: str) -> None:
    tracker, config = make_case(name, tmp_path)
    before = tracker.read_bytes()
    r = run_json(config)
    if r.exit_code == 3:
        word = LOSS_WORDS[name]
        assert word is not None, f"{name} refused: {r.stderr}"
        assert "Traceback" not in r.output and word in r.stderr.lower(), r.stderr
        assert tracker.read_bytes() == before
        assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
            "config.yaml",
            tracker.name,
        ]
    else:
        assert r.exit_code == 0, r.output
        assert FEATURES[name](read_package(tracker)) is None


@pytest.mark.parametrize("name", list(FORMULA_ROWS))
def test_first_run_reads_cached_formula_results(tmp_path: Path, name: str) -> None:
    _, config = make_case(name, tmp_path)
    r = run_json(config)
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert errors_on(report, FORMULA_ROWS[name]) == []
    if name == "formulas":  # J3 =2/2, cached 1 in a 0% cell
        assert [t["progress"] for t in report["tasks"] if t["row"] == 3] == [100.0]


# ---------------------------------------------------------------------------- issue 8's target


def sync_like_a_person(tracker: Path, config: Path) -> dict[str, Any]:
    """One run. Where the in-place run is refused, the result goes to ``--output`` and the
    person adopts it: it replaces the tracker. (Running the next time against the original
    instead would re-read the input's untouched cached results and hide what the writer lost;
    with the adopted file, the second run reads what the writer wrote.)"""
    r = run_json(config)
    if r.exit_code == 3:
        synced = tracker.with_name("synced" + tracker.suffix)
        r = run_json(config, "--output", str(synced))
        assert r.exit_code == 0, r.output
        shutil.move(synced, tracker)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _problems(original: Package, written: Package, tracker_before: bytes) -> dict[str, Any]:
    owned = owned_parts(original, written)
    with (
        zipfile.ZipFile(io.BytesIO(_zip(original))) as a,
        zipfile.ZipFile(io.BytesIO(_zip(written))) as b,
    ):
        foreign = foreign_members(a, b, owned)
    return {"foreign": foreign, "shared": lost_from_shared_parts(original, written, tracker_before)}


def _zip(package: Package) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in package.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("name", list(CORPUS))
def test_run_edit_run_keeps_every_foreign_byte(tmp_path: Path, name: str) -> None:
    tracker, config = make_case(name, tmp_path)
    original = read_package(tracker)
    tracker_part = original[sheet_parts(original)[TAB]]
    first = sync_like_a_person(tracker, config)
    after_first = read_package(tracker)
    problems = {"first run": _problems(original, after_first, tracker_part)}

    edit_cell(tracker, EDITED_CELL, EDITED_TEXT)
    edited = read_package(tracker)
    second = sync_like_a_person(tracker, config)
    problems["second run"] = _problems(
        original, read_package(tracker), edited[sheet_parts(edited)[TAB]]
    )

    def progress(report: dict[str, Any]) -> dict[int, Any]:
        return {t["row"]: t["progress"] for t in report["tasks"]}

    def others(report: dict[str, Any]) -> list[Any]:
        return [f for f in report["findings"] if f["row"] != EDITED_ROW]

    assert progress(second)[EDITED_ROW] == EDITED_PROGRESS  # the edit was read
    assert {**progress(second), EDITED_ROW: None} == {**progress(first), EDITED_ROW: None}
    assert others(second) == others(first)  # no finding came from what the writer lost
    changes = json.loads(invoke("changes", "-c", str(config), "--since", TODAY, "--json").stdout)
    edits = [(c["field"], c["old"], c["new"]) for c in changes if c["field"] != "task"]
    assert edits == [("progress", "30", "50")]  # the person's edit, and no edit nobody made
    assert problems == {run: {"foreign": {}, "shared": []} for run in ("first run", "second run")}


# ---------------------------------------------------------------------------- the harness itself


def _package(**members: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(_zip({k.replace("__", "/"): v for k, v in members.items()})))


def test_foreign_members_reports_changed_and_vanished_members_and_ignores_owned() -> None:
    original = _package(a=b"1", b=b"2", c=b"3", owned=b"4", gone_owned=b"5")
    written = _package(a=b"1", b=b"2!", owned=b"4!", new=b"6")
    assert foreign_members(original, written, {"owned", "gone_owned", "new"}) == {
        "b": "changed",
        "c": "vanished",
    }
    assert foreign_members(original, original, set()) == {}


def _sub(data: bytes, old: str, new: str, count: int = 1) -> bytes:
    text = data.decode("utf-8")
    out, n = re.subn(old, new, text, count=count)
    assert n, f"{old!r} not found"
    return out.encode("utf-8")


_WS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{_MAIN}" xmlns:r="{_R}"><sheetData/>{{extra}}</worksheet>"""


def surgical_write(original: Package) -> Package:
    """What a writer that touches only the job's parts does, by hand: a value in column O of
    every tracker row (inline), a highlight rule and its appended dxf, an appended shared
    string and cell style, a summary tab with a drawing and a chart, and the metadata tab,
    each entered in workbook.xml, its rels and [Content_Types].xml. Every other byte is kept."""
    p = dict(original)
    tracker = sheet_parts(p)[TAB]
    sheet = _sub(p[tracker], r'<dimension ref="[^"]*"/>', '<dimension ref="A1:O5"/>')
    sheet = _sub(sheet, r'spans="1:14"', 'spans="1:15"', count=0)
    sheet = _sub(
        sheet,
        r'(<row r="(\d+)"[^>]*>.*?)</row>',
        r'\1<c r="O\2" t="inlineStr"><is><t>⚙</t></is></c></row>',
        count=0,
    )
    rule = '<conditionalFormatting sqref="O2:O5"><cfRule type="expression" dxfId="0" priority="1"><formula>$O2="延期"</formula></cfRule></conditionalFormatting>'
    sheet = _sub(sheet, r"(<dataValidations|<pageMargins)", rule + r"\1")
    p[tracker] = sheet
    p["xl/styles.xml"] = _sub(
        _sub(
            p["xl/styles.xml"],
            "</cellXfs>",
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>',
        ),
        r'<dxfs count="0"/>',
        '<dxfs count="1"><dxf><fill><patternFill><bgColor rgb="FFFFC7CE"/></patternFill></fill></dxf></dxfs>',
    )
    p["xl/sharedStrings.xml"] = _sub(
        p["xl/sharedStrings.xml"], "</sst>", "<si><t>推广概览</t></si></sst>"
    )
    new = {
        "xl/worksheets/sheet90.xml": _WS.format(extra='<drawing r:id="rId1"/>').encode(),
        "xl/worksheets/_rels/sheet90.xml.rels": _rels(
            ("rId1", "drawing", "../drawings/drawing90.xml")
        ),
        "xl/drawings/drawing90.xml": b"<xdr:wsDr/>",
        "xl/drawings/_rels/drawing90.xml.rels": _rels(("rId1", "chart", "../charts/chart90.xml")),
        "xl/charts/chart90.xml": b"<c:chartSpace/>",
        "xl/worksheets/sheet91.xml": _WS.format(extra="").encode(),
    }
    p.update(new)
    types = "".join(f'<Override PartName="/{n}" ContentType="x"/>' for n in new if "_rels" not in n)
    p["[Content_Types].xml"] = _sub(p["[Content_Types].xml"], "</Types>", types + "</Types>")
    p["xl/_rels/workbook.xml.rels"] = _sub(
        p["xl/_rels/workbook.xml.rels"],
        "</Relationships>",
        f'<Relationship Id="rId91" Type="{_R}/worksheet" Target="worksheets/sheet90.xml"/>'
        f'<Relationship Id="rId92" Type="{_R}/worksheet" Target="worksheets/sheet91.xml"/>'
        "</Relationships>",
    )
    p["xl/workbook.xml"] = _sub(
        p["xl/workbook.xml"],
        "</sheets>",
        f'<sheet name="{SUMMARY}" sheetId="90" r:id="rId91"/>'
        f'<sheet name="{META_SHEET}" sheetId="91" state="veryHidden" r:id="rId92"/></sheets>',
    )
    return p


def _rels(*rels: tuple[str, str, str]) -> bytes:
    body = "".join(
        f'<Relationship Id="{i}" Type="{_R}/{t}" Target="{target}"/>' for i, t, target in rels
    )
    return f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{body}</Relationships>'.encode()


# the hand-made write edits XlsxWriter's spelling (spans="1:14", <dxfs count="0"/>)
@pytest.mark.parametrize("name", [n for n in CORPUS if n != "libreoffice_saved"])
def test_harness_passes_a_write_that_touches_only_the_jobs_parts(tmp_path: Path, name: str) -> None:
    original = read_package(CORPUS[name](tmp_path))
    written = surgical_write(original)
    assert _problems(original, written, original[sheet_parts(original)[TAB]]) == {
        "foreign": {},
        "shared": [],
    }


def _edit(part: str, old: str, new: str) -> Callable[[Package], None]:
    def spoil(p: Package) -> None:
        p[part] = _sub(p[part], old, new)

    return spoil


def _drop(part: str) -> Callable[[Package], None]:
    return lambda p: p.__delitem__(part)


def _person_chart_reused(p: Package) -> None:
    p["xl/drawings/_rels/drawing90.xml.rels"] = _rels(("rId1", "chart", "../charts/chart1.xml"))
    p["xl/charts/chart1.xml"] = b"<c:chartSpace/>"


SHEET1 = "xl/worksheets/sheet1.xml"


@pytest.mark.parametrize(
    ("name", "spoil", "reported"),
    [
        # the rich run made plain in sharedStrings, a part the job may append to
        (
            "rich_string",
            _edit("xl/sharedStrings.xml", r"<si><r>.*?</si>", "<si><t>合规风险</t></si>"),
            "xl/sharedStrings.xml: <sst> is not the input's plus appended entries",
        ),
        # the job's summary chart takes the name of the person's chart
        ("chart_on_other_tab", _person_chart_reused, "xl/charts/chart1.xml"),
        ("macro", _drop("xl/vbaProject.bin"), "xl/vbaProject.bin"),
        # the macro workbook's content type becomes another
        (
            "macro",
            _edit("[Content_Types].xml", r"ms-excel\.sheet\.macroEnabled\.main", "x"),
            '[Content_Types].xml: <Override PartName="/xl/workbook.xml"',
        ),
        (
            "defined_names",
            _edit("xl/workbook.xml", r'<definedName name="预算上限">[^<]*</definedName>', ""),
            'xl/workbook.xml: <definedName name="预算上限">',
        ),
        ("plain", _edit("docProps/app.xml", "</Properties>", " </Properties>"), "docProps/app.xml"),
        ("comments", _drop("xl/comments1.xml"), "xl/comments1.xml"),
        # in the tracker sheet part: a human cell's style, a row's outline, the page setup,
        # the person's validation
        ("plain", _edit(SHEET1, '<c r="C3"', '<c r="C3" s="1"'), f"{SHEET1}: cell C3"),
        ("outline", _edit(SHEET1, ' outlineLevel="1"', ""), f"{SHEET1}: row 2 attributes"),
        (
            "printer_settings",
            _edit(SHEET1, "landscape", "portrait"),
            f"{SHEET1}: <pageSetup> changed",
        ),
        (
            "data_validation",
            _edit(SHEET1, "<dataValidations.*?</dataValidations>", ""),
            f"{SHEET1}: <dataValidation ",
        ),
    ],
)
def test_harness_reports_what_a_write_lost(
    tmp_path: Path, name: str, spoil: Callable[[Package], Any], reported: str
) -> None:
    original = read_package(CORPUS[name](tmp_path))
    written = surgical_write(original)
    spoil(written)
    problems = _problems(original, written, original[sheet_parts(original)[TAB]])
    found = [*problems["foreign"], *problems["shared"]]
    assert [p for p in found if p.startswith(reported)], found

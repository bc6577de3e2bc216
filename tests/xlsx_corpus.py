"""Trackers made by another program (XlsxWriter), each with one feature openpyxl may not keep.

Every builder writes ``<folder>/tracker.xlsx`` (``.xlsm`` for the macro case): the tab 进度表
with the seed template's header and the seed's four rows (dates as real dates), plus one
feature, and returns the path. ``CORPUS`` maps a case name to its builder; ``FEATURES`` maps
the same name to a probe that says, from the package's bytes, whether that feature is still
there (``None``) or what is missing, e.g. ``FEATURES["comments"](read_package(path))``.
Nothing binary is committed: the images and the macro project are made here in code.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import xlsxwriter

from sync.demo import SEED_ROWS
from sync.rules import load_rules, shipped_rules_dir

from .conftest import header

TAB = "进度表"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#: cells of the tab (0-based row, col) that the formula cases write; rows are sheet row - 1
OWNER_FORMULA = (1, 4)  # E2 ="王丽", cached 王丽
FINISH_FORMULA = (1, 6)  # G2 =F2+10, cached 2024-03-11
PROGRESS_FORMULA = (2, 9)  # J3 =2/2, cached 1 (100 %)
EXTERNAL_OWNER = (4, 4)  # E5 =[1]Owners!$A$2, cached 销售部*总监
#: the 风险描述 cell holding rich text, the cell with a comment, ...
RISK_CELL = (1, 11)  # L2
DATE_COLS = (5, 6, 7, 8)
STATUSES = ["未开始", "进行中", "已完成", "延期"]

Package = dict[str, bytes]
Builder = Callable[[Path], Path]
Probe = Callable[[Package], "str | None"]


def read_package(path: Path) -> Package:
    """Every zip member's bytes, by name."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def tiny_png(width: int = 4, height: int = 4, rgb: tuple[int, int, int] = (220, 40, 40)) -> bytes:
    """A valid RGB PNG of one colour, made with zlib and struct (no Pillow)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png()


@functools.cache
def _header() -> tuple[str, ...]:
    return tuple(header(load_rules([shipped_rules_dir()])))


def _tracker(folder: Path, suffix: str = ".xlsx") -> tuple[Any, Any, Path]:
    """A new XlsxWriter workbook with the tracker tab filled in; the caller adds its feature
    and closes the workbook."""
    path = folder / f"tracker{suffix}"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(TAB)
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "text_wrap": True})
    ws.write_row(0, 0, _header(), bold)
    for r, row in enumerate(SEED_ROWS, start=1):
        for c, value in enumerate(row):
            if c in DATE_COLS and value != "-":
                ws.write_datetime(r, c, dt.datetime.fromisoformat(value), date)
            else:
                ws.write_string(r, c, value)
    ws.freeze_panes(1, 0)
    return wb, ws, path


def _date_format(wb: Any) -> Any:
    return wb.add_format({"num_format": "yyyy-mm-dd"})


def _excel_serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


# ---------------------------------------------------------------------------- builders


def plain(folder: Path) -> Path:
    """No extra feature: the control case."""
    wb, _, path = _tracker(folder)
    wb.close()
    return path


def rich_string(folder: Path) -> Path:
    """风险描述 of row 2 as rich text: a bold red run, then a plain one."""
    wb, ws, path = _tracker(folder)
    red = wb.add_format({"bold": True, "font_color": "#C00000"})
    ws.write_rich_string(*RISK_CELL, red, "合规风险:", "1位KOL笔记审核因内容合规问题延迟")
    wb.close()
    return path


def image_over_cells(folder: Path) -> Path:
    """A picture floating over L3:M6."""
    wb, ws, path = _tracker(folder)
    ws.insert_image(2, 11, "dot.png", {"image_data": io.BytesIO(PNG), "x_scale": 20, "y_scale": 12})
    wb.close()
    return path


def image_in_cell(folder: Path) -> Path:
    """A picture placed in the 备注 cell N2 (Excel 365 rich-value image)."""
    wb, ws, path = _tracker(folder)
    ws.embed_image(1, 13, "dot.png", {"image_data": io.BytesIO(PNG)})
    wb.close()
    return path


def _dates_chart(wb: Any, title: str) -> Any:
    chart = wb.add_chart({"type": "bar"})
    chart.add_series(
        {
            "name": "计划完成时间",
            "categories": f"='{TAB}'!$C$2:$C$5",
            "values": f"='{TAB}'!$G$2:$G$5",
        }
    )
    chart.set_title({"name": title})
    return chart


def chart_on_tracker(folder: Path) -> Path:
    """A bar chart of the planned finish dates, on the tracker tab itself."""
    wb, ws, path = _tracker(folder)
    ws.insert_chart("P2", _dates_chart(wb, "完成时间一览"))
    wb.close()
    return path


def chart_on_other_tab(folder: Path) -> Path:
    """The same chart on a tab of its own (图表)."""
    wb, _, path = _tracker(folder)
    wb.add_worksheet("图表").insert_chart("B2", _dates_chart(wb, "完成时间一览"))
    wb.close()
    return path


def table(folder: Path) -> Path:
    """An Excel table (ListObject) 渠道预算 on the tab 预算."""
    wb, _, path = _tracker(folder)
    ws = wb.add_worksheet("预算")
    ws.add_table(
        "A1:C4",
        {
            "name": "渠道预算",
            "columns": [{"header": "渠道"}, {"header": "预算(万元)"}, {"header": "已用"}],
            "data": [["小红书", 3, 1.2], ["抖音信息流", 5, 1.5], ["线下门店", 8, 0]],
        },
    )
    wb.close()
    return path


def comments(folder: Path) -> Path:
    """A note on the 风险描述 of row 2."""
    wb, ws, path = _tracker(folder)
    ws.write_comment(*RISK_CELL, "请法务在3月12日前确认", {"author": "王丽"})
    wb.close()
    return path


def data_validation(folder: Path) -> Path:
    """The status dropdown on K2:K200."""
    wb, ws, path = _tracker(folder)
    ws.data_validation(1, 10, 199, 10, {"validate": "list", "source": STATUSES})
    wb.close()
    return path


def defined_names(folder: Path) -> Path:
    """A workbook-wide name for the task range and a constant."""
    wb, _, path = _tracker(folder)
    wb.define_name("任务清单", f"='{TAB}'!$A$1:$N$5")
    wb.define_name("预算上限", "=50000")
    wb.close()
    return path


def hidden_sheet(folder: Path) -> Path:
    """A hidden tab 备用 with a person's notes."""
    wb, _, path = _tracker(folder)
    ws = wb.add_worksheet("备用")
    ws.write_string(0, 0, "备用KOL名单:李娜、周杰")
    ws.hide()
    wb.close()
    return path


def outline(folder: Path) -> Path:
    """Rows 2–3 grouped (outline level 1), collapsible from row 4."""
    wb, ws, path = _tracker(folder)
    ws.set_row(1, None, None, {"level": 1})
    ws.set_row(2, None, None, {"level": 1})
    wb.close()
    return path


def printer_settings(folder: Path) -> Path:
    """Landscape A4, fit to one page wide, header row repeated, print area, header and footer."""
    wb, ws, path = _tracker(folder)
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.print_area("A1:N5")
    ws.set_header("&C&14推广进度表")
    ws.set_footer("&C第 &P 页,共 &N 页")
    wb.close()
    return path


def header_image(folder: Path) -> Path:
    """A picture in the page header (left)."""
    wb, ws, path = _tracker(folder)
    ws.set_header(
        "&L&G&C推广进度表", {"image_left": "logo.png", "image_data_left": io.BytesIO(PNG)}
    )
    wb.close()
    return path


def formulas(folder: Path) -> Path:
    """Formulas with the results a spreadsheet program cached: 负责人 ``="王丽"``, 计划完成时间
    ``=F2+10`` (a date) and 当前进度 ``=2/2`` (100 %)."""
    wb, ws, path = _tracker(folder)
    ws.write_formula(*OWNER_FORMULA, '="王丽"', None, "王丽")
    finish = dt.date(2024, 3, 1) + dt.timedelta(days=10)
    ws.write_formula(*FINISH_FORMULA, "=F2+10", _date_format(wb), _excel_serial(finish))
    ws.write_formula(*PROGRESS_FORMULA, "=2/2", wb.add_format({"num_format": "0%"}), 1)
    wb.close()
    return path


_EXTERNAL_LINK = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<externalLink xmlns="{_MAIN}" xmlns:r="{_REL}"><externalBook r:id="rId1"><sheetNames>\
<sheetName val="Owners"/></sheetNames><sheetDataSet><sheetData sheetId="0"><row r="2">\
<cell r="A2" t="str"><v>销售部*总监</v></cell></row></sheetData></sheetDataSet></externalBook>\
</externalLink>""".encode()
_EXTERNAL_LINK_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" Type="{_REL}/externalLinkPath" Target="名单.xlsx" TargetMode="External"/>\
</Relationships>""".encode()


def external_link(folder: Path) -> Path:
    """负责人 of row 5 from another workbook (``=[1]Owners!$A$2``, cached 销售部*总监), with the
    externalLink part Excel writes for it (XlsxWriter writes the formula; the link part, its
    rels, the workbook's externalReferences and the content type are added here)."""
    wb, ws, path = _tracker(folder)
    ws.write_formula(*EXTERNAL_OWNER, "=[1]Owners!$A$2", None, "销售部*总监")
    wb.close()
    parts = read_package(path)
    parts["xl/externalLinks/externalLink1.xml"] = _EXTERNAL_LINK
    parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = _EXTERNAL_LINK_RELS
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>',
    )
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        f'<Relationship Id="rId90" Type="{_REL}/externalLink" '
        'Target="externalLinks/externalLink1.xml"/></Relationships>'.encode(),
    )
    workbook = parts["xl/workbook.xml"]
    assert b"</sheets>" in workbook
    parts["xl/workbook.xml"] = workbook.replace(
        b"</sheets>",
        b'</sheets><externalReferences><externalReference r:id="rId90"/></externalReferences>',
    )
    _write_package(path, parts)
    return path


def macro(folder: Path) -> Path:
    """An .xlsm with a VBA project (a module ThisWorkbook with one Sub)."""
    wb, _, path = _tracker(folder, ".xlsm")
    wb.add_vba_project(io.BytesIO(vba_project_bin()), is_stream=True)
    wb.close()
    return path


#: Workbooks saved by a spreadsheet program, committed (small): made from a case above, opened
#: and saved by that program. LibreOffice 7.4 writes its own spelling of every part.
SAVED = Path(__file__).parent / "corpus"


def libreoffice_saved(folder: Path) -> Path:
    """chart_on_tracker's workbook as LibreOffice 7.4 saved it (soffice --convert-to xlsx)."""
    path = folder / "tracker.xlsx"
    path.write_bytes((SAVED / "libreoffice_chart_on_tracker.xlsx").read_bytes())
    return path


def _write_package(path: Path, parts: Package) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


CORPUS: dict[str, Builder] = {
    f.__name__: f
    for f in (
        plain,
        rich_string,
        image_over_cells,
        image_in_cell,
        chart_on_tracker,
        chart_on_other_tab,
        table,
        comments,
        data_validation,
        defined_names,
        hidden_sheet,
        outline,
        printer_settings,
        header_image,
        formulas,
        external_link,
        macro,
        libreoffice_saved,
    )
}


# ---------------------------------------------------------------------------- probes
#
# Each probe looks at the raw XML (never through openpyxl) and returns what is missing.


def sheet_parts(package: Package) -> dict[str, str]:
    """Tab title -> its part name, from workbook.xml and its rels."""
    rels = ElementTree.fromstring(package["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    out = {}
    for sheet in ElementTree.fromstring(package["xl/workbook.xml"]).iter(f"{{{_MAIN}}}sheet"):
        target = targets[sheet.get(f"{{{_REL}}}id")]
        out[sheet.get("name", "")] = (
            target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
        )
    return out


def _tracker_xml(package: Package) -> bytes:
    return package[sheet_parts(package)[TAB]]


def _cell_xml(package: Package, ref: str) -> bytes | None:
    m = re.search(rb'<c r="' + ref.encode() + rb'"(?:[^>]*/>|[^>]*>.*?</c>)', _tracker_xml(package))
    return m.group(0) if m else None


def _any_member(package: Package, prefix: str, needle: bytes) -> bool:
    return any(n.startswith(prefix) and needle in data for n, data in package.items())


def _has(ok: bool, missing: str) -> str | None:
    return None if ok else missing


def _rich_text_kept(package: Package) -> str | None:
    cell = _cell_xml(package, "L2") or b""
    if b't="inlineStr"' in cell:
        item = cell
    else:
        index = re.search(rb"<v>(\d+)</v>", cell)
        items = re.findall(rb"<si>.*?</si>", package.get("xl/sharedStrings.xml", b""), re.S)
        item = items[int(index.group(1))] if index and int(index.group(1)) < len(items) else b""
    runs = re.findall(rb"<r>.*?</r>", item, re.S)
    return _has(
        len(runs) >= 2 and b"<b/>" in runs[0] and b"C00000" in runs[0],
        "the rich text of L2 (a bold red run, then a plain one)",
    )


def _formulas_kept(package: Package) -> str | None:
    want = {  # cell: (formula, cached result); a quote may be written as &quot; or as is
        "E2": ('<f>(?:"|&quot;)王丽(?:"|&quot;)</f>', "<v>王丽</v>"),
        "G2": (r"<f>F2\+10</f>", "<v>45362</v>"),
        "J3": ("<f>2/2</f>", "<v>1</v>"),
    }
    lost = [
        ref
        for ref, (f, v) in want.items()
        if not (
            (cell := (_cell_xml(package, ref) or b"").decode()) and re.search(f, cell) and v in cell
        )
    ]
    return _has(not lost, f"the formulas and cached results of {', '.join(lost)}")


def _external_link_kept(package: Package) -> str | None:
    cell = _cell_xml(package, "E5") or b""
    return _has(
        package.get("xl/externalLinks/externalLink1.xml") == _EXTERNAL_LINK
        and b"<f>[1]Owners!$A$2</f>" in cell
        and "<v>销售部*总监</v>".encode() in cell,
        "the external link part and E5's formula with its cached result",
    )


def _workbook_has(pattern: bytes) -> Callable[[Package], bool]:
    return lambda p: re.search(pattern, p["xl/workbook.xml"]) is not None


FEATURES: dict[str, Probe] = {
    "plain": lambda p: None,
    "rich_string": _rich_text_kept,
    "image_over_cells": lambda p: _has(
        any(n.startswith("xl/media/") and d == PNG for n, d in p.items())
        and _any_member(p, "xl/drawings/drawing", b"<xdr:pic>"),
        "the picture over L3:M6",
    ),
    "image_in_cell": lambda p: _has(
        any(n.startswith("xl/richData/") for n in p)
        and any(n.startswith("xl/media/") and d == PNG for n, d in p.items())
        and b'vm="1"' in (_cell_xml(p, "N2") or b""),
        "the picture in N2 (xl/richData and the cell's vm attribute)",
    ),
    "chart_on_tracker": lambda p: _has(
        _any_member(p, "xl/charts/chart", "完成时间一览".encode())
        and _any_member(
            p, "xl/worksheets/_rels/" + sheet_parts(p)[TAB].rsplit("/", 1)[1], b"drawing"
        ),
        "the chart on the tracker tab",
    ),
    "libreoffice_saved": lambda p: _has(
        _any_member(p, "xl/charts/chart", "完成时间一览".encode())
        and _any_member(
            p, "xl/worksheets/_rels/" + sheet_parts(p)[TAB].rsplit("/", 1)[1], b"drawing"
        ),
        "the chart on the tracker tab (LibreOffice's spelling)",
    ),
    "chart_on_other_tab": lambda p: _has(
        _any_member(p, "xl/charts/chart", "完成时间一览".encode()) and "图表" in sheet_parts(p),
        "the chart on tab 图表",
    ),
    "table": lambda p: _has(
        _any_member(p, "xl/tables/table", 'displayName="渠道预算"'.encode()), "the table 渠道预算"
    ),
    "comments": lambda p: _has(
        _any_member(p, "xl/comments", "请法务在3月12日前确认".encode()), "the note on L2"
    ),
    "data_validation": lambda p: _has(
        b"<dataValidation " in _tracker_xml(p)
        and "未开始,进行中,已完成,延期".encode() in _tracker_xml(p),
        "the status dropdown on K2:K200",
    ),
    "defined_names": lambda p: _has(
        _workbook_has('<definedName name="任务清单">'.encode())(p)
        and _workbook_has('<definedName name="预算上限">=?50000<'.encode())(p),
        "the names 任务清单 and 预算上限",
    ),
    "hidden_sheet": lambda p: _has(
        _workbook_has('<sheet name="备用"[^>]*state="hidden"'.encode())(p), "the hidden tab 备用"
    ),
    "outline": lambda p: _has(
        len(re.findall(rb'<row r="[23]"[^>]*outlineLevel="1"', _tracker_xml(p))) == 2,
        "the outline (grouping) of rows 2-3",
    ),
    "printer_settings": lambda p: _has(
        b'orientation="landscape"' in _tracker_xml(p)
        and b'paperSize="9"' in _tracker_xml(p)
        and b'fitToHeight="0"' in _tracker_xml(p)
        and "<oddHeader>&amp;C&amp;14推广进度表</oddHeader>".encode() in _tracker_xml(p)
        and "第 &amp;P 页,共 &amp;N 页".encode() in _tracker_xml(p)
        and _workbook_has(b'name="_xlnm.Print_Titles"')(p)
        and _workbook_has(b'name="_xlnm.Print_Area"')(p),
        "the printer settings (landscape A4, fit to width, print titles/area, header, footer)",
    ),
    "header_image": lambda p: _has(
        any(n.startswith("xl/media/") and d == PNG for n, d in p.items())
        and b"<legacyDrawingHF " in _tracker_xml(p),
        "the picture in the page header",
    ),
    "formulas": _formulas_kept,
    "external_link": _external_link_kept,
    "macro": lambda p: _has(
        p.get("xl/vbaProject.bin") == vba_project_bin()
        and b"application/vnd.ms-excel.sheet.macroEnabled.main+xml" in p["[Content_Types].xml"],
        "the VBA project (xl/vbaProject.bin) and the macro-enabled content type",
    ),
}


# ---------------------------------------------------------------------------- VBA project
# A minimal vbaProject.bin written from the specs, so no binary file is committed: the VBA
# streams of [MS-OVBA] (PROJECT, PROJECTwm, VBA/_VBA_PROJECT, VBA/dir, one stream per module)
# inside a Compound File [MS-CFB] version 3. _VBA_PROJECT declares no compiled code (version
# 0xFFFF), so Excel compiles the project from the modules' source when it opens the file.

_PROJECT_ID = "{9E394C0B-697E-4AEE-9FA6-446F51FB30DC}"
_MODULES = [  # (name, VB_Base of a document module or None for a standard module, code)
    ("ThisWorkbook", "0{00020819-0000-0000-C000-000000000046}", ""),
    ("Sheet1", "0{00020820-0000-0000-C000-000000000046}", ""),
    ("Module1", None, 'Sub MarkDone()\r\n    ActiveCell.Value = "Done"\r\nEnd Sub\r\n'),
]


def _ovba_compress(data: bytes) -> bytes:
    """[MS-OVBA] 2.4.1 compressed container: full 4096-byte chunks stored raw, the last one as
    a compressed chunk made of literal tokens only (valid, just not smaller)."""
    out = bytearray(b"\x01")
    for i in range(0, len(data), 4096):
        part = data[i : i + 4096]
        if len(part) == 4096:
            out += struct.pack("<H", 0x3000 | (4098 - 3)) + part
            continue
        body = bytearray()
        for j in range(0, len(part), 8):
            body += b"\x00" + part[j : j + 8]  # flag byte 0: eight literal tokens
        out += struct.pack("<H", 0xB000 | (len(body) + 2 - 3)) + body
    return bytes(out)


def _ovba_encrypt(data: bytes, seed: int = 0x31) -> str:
    """[MS-OVBA] 2.4.3.2 data encryption (for CMG, DPB, GC); a fixed seed keeps it repeatable."""
    version, key = 2, sum(_PROJECT_ID.encode()) & 0xFF
    out = [seed, version ^ seed, key ^ seed]
    plain, enc1, enc2 = key, out[2], out[1]
    for byte in bytes((seed & 6) // 2) + struct.pack("<I", len(data)) + data:
        e = byte ^ ((enc2 + plain) & 0xFF)
        out.append(e)
        enc2, enc1, plain = enc1, e, byte
    return bytes(out).hex().upper()


def _record(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HI", rid, len(payload)) + payload


def _dir_stream() -> bytes:
    """[MS-OVBA] 2.3.4.2, uncompressed: project information, no references, the modules."""
    text = b"".join(
        [
            _record(0x0001, struct.pack("<I", 1)),  # SYSKIND: 32-bit Windows
            _record(0x0002, struct.pack("<I", 0x0409)),  # LCID
            _record(0x0014, struct.pack("<I", 0x0409)),  # LCIDINVOKE
            _record(0x0003, struct.pack("<H", 1252)),  # CODEPAGE
            _record(0x0004, b"VBAProject"),  # NAME
            _record(0x0005, b"") + _record(0x0040, b""),  # DOCSTRING (+ unicode)
            _record(0x0006, b"") + _record(0x003D, b""),  # HELPFILEPATH 1 and 2
            _record(0x0007, struct.pack("<I", 0)),  # HELPCONTEXT
            _record(0x0008, struct.pack("<I", 0)),  # LIBFLAGS
            struct.pack("<HIIH", 0x0009, 4, 1, 0),  # VERSION (Reserved=4, major, minor)
            _record(0x000C, b"") + _record(0x003C, b""),  # CONSTANTS (+ unicode)
            _record(0x000F, struct.pack("<H", len(_MODULES))),  # MODULES count
            _record(0x0013, struct.pack("<H", 0xFFFF)),  # PROJECTCOOKIE
        ]
    )
    for name, base, _ in _MODULES:
        ascii_, wide = name.encode("cp1252"), name.encode("utf-16-le")
        text += b"".join(
            [
                _record(0x0019, ascii_),  # MODULENAME
                _record(0x0047, wide),  # MODULENAMEUNICODE
                _record(0x001A, ascii_) + _record(0x0032, wide),  # MODULESTREAMNAME
                _record(0x001C, b"") + _record(0x0048, b""),  # MODULEDOCSTRING
                _record(0x0031, struct.pack("<I", 0)),  # MODULEOFFSET: no performance cache
                _record(0x001E, struct.pack("<I", 0)),  # MODULEHELPCONTEXT
                _record(0x002C, struct.pack("<H", 0xFFFF)),  # MODULECOOKIE
                _record(0x0022 if base else 0x0021, b""),  # MODULETYPE: document / procedural
                _record(0x002B, b""),  # module terminator
            ]
        )
    return text + _record(0x0010, b"")  # dir terminator


def _module_source(name: str, base: str | None, code: str) -> bytes:
    lines = [f'Attribute VB_Name = "{name}"']
    if base:
        lines += [
            f'Attribute VB_Base = "{base}"',
            "Attribute VB_GlobalNameSpace = False",
            "Attribute VB_Creatable = False",
            "Attribute VB_PredeclaredId = True",
            "Attribute VB_Exposed = True",
            "Attribute VB_TemplateDerived = False",
            "Attribute VB_Customizable = True",
        ]
    return ("\r\n".join(lines) + "\r\n" + code).encode("cp1252")


def _project_stream() -> bytes:
    """[MS-OVBA] 2.3.1: the project's text properties."""
    cmg = _ovba_encrypt(struct.pack("<I", 0))  # not protected
    dpb = _ovba_encrypt(b"\x00")  # no password
    gc = _ovba_encrypt(b"\xff")  # visible
    lines = [f'ID="{_PROJECT_ID}"']
    for name, base, _ in _MODULES:
        lines.append(f"Document={name}/&H00000000" if base else f"Module={name}")
    lines += [
        'Name="VBAProject"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{cmg}"',
        f'DPB="{dpb}"',
        f'GC="{gc}"',
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
        "[Workspace]",
        *(f"{name}=0, 0, 0, 0, C" for name, _, _ in _MODULES),
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _projectwm_stream() -> bytes:
    """[MS-OVBA] 2.3.3: module names, MBCS then UTF-16, each zero-terminated."""
    return (
        b"".join(
            n.encode("cp1252") + b"\x00" + n.encode("utf-16-le") + b"\x00\x00"
            for n, _, _ in _MODULES
        )
        + b"\x00\x00"
    )


_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _cfb(tree: dict[str, Any]) -> bytes:
    """A compound file [MS-CFB] v3 (512-byte sectors) holding ``tree``: a dict of stream name
    -> bytes (each under 4096 bytes, so all live in the mini stream) or storage name -> dict."""
    entries: list[dict[str, Any]] = [{"name": "Root Entry", "type": 5, "children": []}]
    mini = bytearray()

    def add(node: dict[str, Any], parent: dict[str, Any]) -> None:
        for name, value in node.items():
            entry: dict[str, Any] = {"name": name, "children": []}
            entries.append(entry)
            parent["children"].append(len(entries) - 1)
            if isinstance(value, dict):
                entry.update(type=1, start=0, size=0)
                add(value, entry)
            else:
                assert 0 < len(value) < 4096
                entry.update(type=2, start=len(mini) // 64, size=len(value))
                mini.extend(value + bytes(-len(value) % 64))

    add(tree, entries[0])

    def key(i: int) -> tuple[int, str]:  # sibling order: length, then upper-cased name
        return (len(entries[i]["name"]), entries[i]["name"].upper())

    def balanced(ids: list[int]) -> int:
        """Siblings as a balanced binary tree, all black ([MS-CFB] 2.6.4 allows this)."""
        if not ids:
            return _NOSTREAM
        mid = len(ids) // 2
        entries[ids[mid]]["left"] = balanced(ids[:mid])
        entries[ids[mid]]["right"] = balanced(ids[mid + 1 :])
        return ids[mid]

    for entry in entries:
        entry["child"] = balanced(sorted(entry["children"], key=key))

    n_dir = -(-len(entries) // 4)
    n_minifat = -(-(len(mini) // 64) // 128)
    n_mini = -(-len(mini) // 512)
    fat: list[int] = [_FATSECT]  # sector 0 is the FAT itself; then directory, mini FAT, mini stream
    first: dict[str, int] = {}
    for part, count in (("dir", n_dir), ("minifat", n_minifat), ("mini", n_mini)):
        first[part] = len(fat)
        fat += [len(fat) + i + 1 for i in range(count - 1)] + [_END]
    assert len(fat) <= 128
    entries[0].update(start=first["mini"], size=len(mini))

    minifat = [i + 1 for i in range(len(mini) // 64 - 1)]
    for entry in entries:  # end each stream's mini chain
        if entry["type"] == 2:
            last = entry["start"] + -(-entry["size"] // 64) - 1
            if last < len(minifat):
                minifat[last] = _END
    minifat.append(_END)

    def dir_entry(e: dict[str, Any]) -> bytes:
        name = e["name"].encode("utf-16-le") + b"\x00\x00"
        return (
            name.ljust(64, b"\x00")
            + struct.pack("<HBB", len(name), e["type"], 1)
            + struct.pack("<III", e.get("left", _NOSTREAM), e.get("right", _NOSTREAM), e["child"])
            + bytes(16 + 4 + 8 + 8)  # CLSID, state bits, creation and modified time
            + struct.pack("<IQ", e["start"] if e["type"] != 1 else 0, e["size"])
        )

    header = (
        bytes.fromhex("D0CF11E0A1B11AE1")
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack(
            "<IIIIIIIII", 0, 1, first["dir"], 0, 4096, first["minifat"], n_minifat, _END, 0
        )
        + struct.pack("<I", 0)
        + struct.pack("<108I", *[_FREE] * 108)
    )
    directory = b"".join(dir_entry(e) for e in entries)
    directory += b"".join(
        dir_entry({"name": "", "type": 0, "child": _NOSTREAM, "start": 0, "size": 0})
        for _ in range(n_dir * 4 - len(entries))
    )

    def sectors(data: bytes) -> bytes:
        return data + bytes(-len(data) % 512)

    return b"".join(
        [
            header,
            sectors(
                struct.pack(f"<{len(fat)}I", *fat) + struct.pack("<I", _FREE) * (128 - len(fat))
            ),
            sectors(directory),
            sectors(
                struct.pack(f"<{len(minifat)}I", *minifat)
                + struct.pack("<I", _FREE) * (n_minifat * 128 - len(minifat))
            ),
            sectors(bytes(mini)),
        ]
    )


@functools.cache
def vba_project_bin() -> bytes:
    """The bytes of a minimal, valid xl/vbaProject.bin (see the notes above)."""
    vba: dict[str, Any] = {
        "_VBA_PROJECT": struct.pack("<HHBH", 0x61CC, 0xFFFF, 0, 0),
        "dir": _ovba_compress(_dir_stream()),
    }
    for name, base, code in _MODULES:
        vba[name] = _ovba_compress(_module_source(name, base, code))
    return _cfb({"VBA": vba, "PROJECT": _project_stream(), "PROJECTwm": _projectwm_stream()})

"""The surgical .xlsx writer: edit only the job's own parts of an OPC package (issue 8).

An .xlsx is a zip of XML parts. openpyxl rebuilds every part from what it understood, and
drops what it did not (formula results, rich text, pictures in cells, macros, pivot tables ...).
This writer instead opens the package, changes

- in the tracker sheet's part: the cells of the generated columns (as inline strings, never
  formulas), the ``spans`` hint of the rows it writes in, the ``dimension`` hint, and the
  job's own conditional-format elements (recognised by the range and formula the job recorded);
- the job's own tabs (summary, metadata) with their drawing and chart parts;
- the entries for those parts in ``workbook.xml``, its rels and ``[Content_Types].xml``;
- ``styles.xml``, only appended to (an existing style index never moves; an entry equal to the
  one needed is reused, so running again adds nothing);

and copies every other member byte for byte. The big sheet part is edited as bytes: rows and
cells are found with patterns of SpreadsheetML's fixed grammar (a row holds only ``c``
elements, whose attributes hold no free text), so every untouched cell keeps its exact bytes.
The small parts (workbook, rels, content types, styles, the sheet's trailing elements) go
through lxml, which keeps namespace prefixes and unknown elements as they were.

Everything here is pure: bytes in, bytes out. The file handling (locks, atomic replace) stays
in :mod:`sync.backends.xlsx`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import numbers
import posixpath
import re
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ..cells import col_letter
from ..i18n import text as i18n_text
from ..model import CellStyle, CFRule, ChartSpec, SummaryTab, WritePlan
from ..style import FONTS, WRAPPED, font_for, generated_width

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
DRAWING_MAIN = "http://schemas.openxmlformats.org/drawingml/2006/main"
CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"

WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
DRAWING_TYPE = "application/vnd.openxmlformats-officedocument.drawing+xml"
CHART_TYPE = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
STYLES_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

#: CT_Worksheet's children in the order the schema (and Excel) requires.
SHEET_ORDER = [
    "sheetPr",
    "dimension",
    "sheetViews",
    "sheetFormatPr",
    "cols",
    "sheetData",
    "sheetCalcPr",
    "sheetProtection",
    "protectedRanges",
    "scenarios",
    "autoFilter",
    "sortState",
    "dataConsolidate",
    "customSheetViews",
    "mergeCells",
    "phoneticPr",
    "conditionalFormatting",
    "dataValidations",
    "hyperlinks",
    "printOptions",
    "pageMargins",
    "pageSetup",
    "headerFooter",
    "rowBreaks",
    "colBreaks",
    "customProperties",
    "cellWatches",
    "ignoredErrors",
    "smartTags",
    "drawing",
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
]
#: CT_Workbook's children in schema order.
WORKBOOK_ORDER = [
    "fileVersion",
    "fileSharing",
    "workbookPr",
    "workbookProtection",
    "bookViews",
    "sheets",
    "functionGroups",
    "externalReferences",
    "definedNames",
    "calcPr",
    "oleSize",
    "customWorkbookViews",
    "pivotCaches",
    "smartTagPr",
    "smartTagTypes",
    "webPublishing",
    "fileRecoveryPr",
    "webPublishObjects",
    "extLst",
]
#: The job's column anchors in workbook.xml: hidden defined names with this prefix.
ANCHOR_PREFIX = "_tracker_sync_"
_COLUMN_REF = re.compile(
    r"(?:'(?P<sheet>(?:[^']|'')+)'|(?P<bare>[^'!]+))!\$?(?P<c1>[A-Z]{1,3}):\$?(?P<c2>[A-Z]{1,3})"
)
#: CT_Stylesheet's children in schema order.
STYLE_ORDER = [
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
    "tableStyles",
    "colors",
    "extLst",
]


class PackageError(ValueError):
    """The package is not one this writer can edit safely (the message says why)."""


def _xml(data: bytes) -> Any:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PackageError(f"malformed XML ({exc})") from None


def _dump(root: Any) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True))


def _local(el: Any) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def rels_name(part: str) -> str:
    """The relationships part of ``part``: ``xl/_rels/workbook.xml.rels`` for ``xl/workbook.xml``."""
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def resolve(source: str, target: str) -> str:
    """A relationship target as a part name (no leading slash), relative to ``source``'s folder."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


# ---------------------------------------------------------------------------- the package


class Package:
    """An OPC package opened for edits: parts by name; ``save`` writes the members in their
    original order (new ones last), each unchanged one with its original bytes and zip entry."""

    def __init__(self, data: bytes) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            self._infos = self._zip.infolist()
        except zipfile.BadZipFile as exc:
            raise PackageError(f"not a zip package ({exc})") from None
        self._names = {i.filename for i in self._infos}
        self._changed: dict[str, bytes] = {}
        self._removed: set[str] = set()
        self._added: list[str] = []
        self._types: Any = None
        self._rels: dict[str, Any] = {}
        self._dirty_rels: set[str] = set()

    # -- parts

    def __contains__(self, name: str) -> bool:
        return name not in self._removed and (name in self._names or name in self._changed)

    def names(self) -> list[str]:
        return [n for n in [*(i.filename for i in self._infos), *self._added] if n in self]

    def read(self, name: str) -> bytes:
        if name in self._changed:
            return self._changed[name]
        if name in self._removed or name not in self._names:
            raise PackageError(f"the part {name} is missing")
        return self._zip.read(name)

    def write(self, name: str, data: bytes, content_type: str | None = None) -> None:
        if name not in self._names and name not in self._added:
            self._added.append(name)
        self._removed.discard(name)
        self._changed[name] = data
        if content_type is not None:
            self._set_override(name, content_type)

    def remove(self, name: str) -> None:
        """Drop a part, its relationships part and its content-type override."""
        for n in (name, rels_name(name)):
            if n in self:
                self._removed.add(n)
                self._changed.pop(n, None)
                self._rels.pop(n, None)
                self._dirty_rels.discard(n)
        types = self._content_types()
        for o in types.findall(f"{{{CT}}}Override"):
            if o.get("PartName", "").lstrip("/") == name:
                types.remove(o)

    def free_name(self, pattern: str) -> str:
        """The first ``pattern % n`` (n = 1, 2 ...) that names no part."""
        n = 1
        while pattern % n in self or pattern % n in self._removed:
            n += 1
        return pattern % n

    # -- content types

    def _content_types(self) -> Any:
        if self._types is None:
            self._types = _xml(self.read("[Content_Types].xml"))
        return self._types

    def _set_override(self, name: str, content_type: str) -> None:
        types = self._content_types()
        for o in types.findall(f"{{{CT}}}Override"):
            if o.get("PartName", "").lstrip("/") == name:
                o.set("ContentType", content_type)
                return
        etree.SubElement(types, f"{{{CT}}}Override", PartName="/" + name, ContentType=content_type)

    # -- relationships

    def rels(self, part: str) -> Any:
        """The relationships of ``part`` (an empty, new element when it has none); call
        ``touch_rels`` after changing them."""
        name = rels_name(part)
        if name not in self._rels:
            self._rels[name] = (
                _xml(self.read(name))
                if name in self
                else etree.Element(f"{{{PKG_REL}}}Relationships", nsmap={None: PKG_REL})
            )
        return self._rels[name]

    def touch_rels(self, part: str) -> None:
        self._dirty_rels.add(rels_name(part))

    def targets(self, part: str) -> dict[str, tuple[str, str]]:
        """rId -> (relationship type's last word, target part) of ``part``'s internal targets."""
        if rels_name(part) not in self and rels_name(part) not in self._rels:
            return {}
        out = {}
        for r in self.rels(part):
            if r.get("TargetMode") == "External":
                continue
            out[r.get("Id", "")] = (
                r.get("Type", "").rsplit("/", 1)[-1],
                resolve(part, r.get("Target", "")),
            )
        return out

    def relate(self, part: str, kind: str, target: str) -> str:
        """Add a relationship of type ``kind`` from ``part`` to ``target``; its new rId."""
        rels = self.rels(part)
        used = {r.get("Id") for r in rels}
        n = len(used) + 1
        while f"rId{n}" in used:
            n += 1
        rid = f"rId{n}"
        etree.SubElement(
            rels,
            f"{{{PKG_REL}}}Relationship",
            Id=rid,
            Type=f"{REL}/{kind}",
            Target=posixpath.relpath(target, posixpath.dirname(part) or "."),
        )
        self.touch_rels(part)
        return rid

    def remove_tree(self, part: str) -> None:
        """Remove ``part`` and what only it reaches: every part reachable from it that no
        relationship from outside that tree points at."""
        tree: list[str] = []
        todo = [part]
        while todo:
            p = todo.pop()
            if p in tree or p not in self:
                continue
            tree.append(p)
            todo.extend(t for _, t in self.targets(p).values())
        inside = set(tree) | {rels_name(p) for p in tree}
        outside: set[str] = set()
        for name in self.names():
            if name.endswith(".rels") and name not in inside:
                folder = posixpath.dirname(posixpath.dirname(name))
                source = posixpath.join(folder, posixpath.basename(name)[: -len(".rels")])
                outside.update(t for _, t in self.targets(source).values())
        for p in tree:
            if p == part or p not in outside:
                self.remove(p)

    # -- output

    def save(self) -> bytes:
        for name in sorted(self._dirty_rels):
            if name in self._rels:
                self.write(name, _dump(self._rels[name]))
        self._dirty_rels.clear()
        if self._types is not None:
            self.write("[Content_Types].xml", _dump(self._types))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as out:
            for info in self._infos:
                name = info.filename
                if name in self._removed:
                    continue
                data = self._changed.get(name)
                if data is None:
                    data = self._zip.read(name)
                out.writestr(info, data, compress_type=info.compress_type)
            for name in self._added:
                if name in self._removed or name in self._names:
                    continue
                entry = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
                entry.compress_type = zipfile.ZIP_DEFLATED
                out.writestr(entry, self._changed[name])
        return buf.getvalue()


# ---------------------------------------------------------------------------- the workbook


@dataclass
class Tab:
    name: str
    part: str
    element: Any  # the <sheet> element in workbook.xml


class Workbook:
    """``xl/workbook.xml`` (wherever the package's root rels put it) and its tabs."""

    def __init__(self, package: Package) -> None:
        self.package = package
        root_rels = _xml(package.read("_rels/.rels"))
        part = next(
            (
                resolve("", r.get("Target", ""))
                for r in root_rels
                if r.get("Type", "").endswith("/officeDocument")
            ),
            "xl/workbook.xml",
        )
        self.part = part
        self.root = _xml(package.read(part))
        if etree.QName(self.root).namespace != MAIN:
            raise PackageError(
                "the workbook is saved as 'Strict Open XML'; save it as an ordinary Excel "
                "workbook (.xlsx) and run again"
            )
        self.changed = False
        pr = self.root.find(f"{{{MAIN}}}workbookPr")
        self.date1904 = pr is not None and pr.get("date1904") in ("1", "true")

    def tabs(self) -> list[Tab]:
        targets = self.package.targets(self.part)
        out = []
        for el in self.root.iterfind(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet"):
            kind, part = targets.get(el.get(f"{{{REL}}}id", ""), ("", ""))
            out.append(Tab(el.get("name", ""), part if kind == "worksheet" else "", el))
        return out

    def tab(self, name: str) -> Tab | None:
        return next((t for t in self.tabs() if t.name == name), None)

    def add_tab(self, name: str, part: str, *, hidden: str | None = None) -> None:
        """Enter a new worksheet part as the last tab (appending keeps every defined name's
        ``localSheetId`` and the active tab pointing where they pointed)."""
        rid = self.package.relate(self.part, "worksheet", part)
        sheets = self.root.find(f"{{{MAIN}}}sheets")
        ids = [int(s.get("sheetId", "0")) for s in sheets]
        attrs = {"name": name, "sheetId": str(max(ids, default=0) + 1)}
        if hidden:
            attrs["state"] = hidden
        el = etree.SubElement(sheets, f"{{{MAIN}}}sheet", attrs)
        el.set(f"{{{REL}}}id", rid)
        self.changed = True

    def anchors(self, tab: str) -> dict[str, int]:
        """The job's column anchors on tab ``tab``: generated column key -> 0-based column.

        Each is a hidden workbook-level defined name ``_tracker_sync_<key>`` naming the whole
        column (``'进度表'!$O:$O``). Excel and LibreOffice move a name's reference when columns
        are inserted or deleted before it (and turn it into ``#REF!`` when its column is deleted),
        so the anchor follows the job's column the way Sheets' developer metadata does; a header
        a person renamed does not make the column theirs."""
        out = {}
        for el in self.root.iterfind(f"{{{MAIN}}}definedNames/{{{MAIN}}}definedName"):
            name = el.get("name", "")
            if not name.startswith(ANCHOR_PREFIX) or el.get("localSheetId") is not None:
                continue
            m = _COLUMN_REF.fullmatch((el.text or "").strip())
            sheet = (m["sheet"].replace("''", "'") if m["sheet"] else m["bare"]) if m else None
            if m and sheet == tab and m["c1"] == m["c2"]:
                out[name[len(ANCHOR_PREFIX) :]] = _col_index(m["c1"].encode())
        return out

    def set_anchors(self, tab: str, columns: Mapping[str, int]) -> None:
        """Make the job's anchors exactly ``columns`` on ``tab`` (touching no other name)."""
        ours = [
            el
            for el in self.root.iterfind(f"{{{MAIN}}}definedNames/{{{MAIN}}}definedName")
            if el.get("name", "").startswith(ANCHOR_PREFIX) and el.get("localSheetId") is None
        ]
        if len(ours) == len(columns) and self.anchors(tab) == dict(columns):
            return
        names = self.root.find(f"{{{MAIN}}}definedNames")
        if names is None:
            names = _el("definedNames")
            _insert_in_order(self.root, names, WORKBOOK_ORDER)
        for el in ours:
            names.remove(el)
        quoted = "'" + tab.replace("'", "''") + "'"
        for key, col in sorted(columns.items()):
            el = etree.SubElement(names, f"{{{MAIN}}}definedName", name=ANCHOR_PREFIX + key)
            el.set("hidden", "1")
            letter = col_letter(col)
            el.text = f"{quoted}!${letter}:${letter}"
        self.changed = True

    def drop_calc_chain(self) -> None:
        """Remove the calculation chain (Excel rebuilds it): needed when a formula cell became
        a value, since a chain entry for a cell without a formula makes Excel 'repair' the file."""
        for rid, (kind, target) in self.package.targets(self.part).items():
            if kind == "calcChain":
                self.package.remove(target)
                rels = self.package.rels(self.part)
                for r in list(rels):
                    if r.get("Id") == rid:
                        rels.remove(r)
                self.package.touch_rels(self.part)

    def save(self) -> None:
        if self.changed:
            self.package.write(self.part, _dump(self.root))


# ---------------------------------------------------------------------------- styles


def _canon(el: Any) -> tuple[Any, ...]:
    """An element as comparable data (attribute order and whitespace are spelling)."""
    return (
        el.tag,
        tuple(sorted(el.attrib.items())),
        (el.text or "").strip(),
        tuple(_canon(c) for c in el if isinstance(c.tag, str)),
    )


class Styles:
    """``styles.xml``, append-only: ``find_or_add`` reuses an equal entry or appends one."""

    def __init__(self, package: Package, workbook: Workbook) -> None:
        self.package = package
        self.changed = False
        #: per collection, each entry's canonical form -> its first index (built on first use;
        #: only :meth:`find_or_add` appends to these collections, so it stays true)
        self._index: dict[str, dict[tuple[Any, ...], int]] = {}
        #: derived styles already resolved: (kind, args) -> index (the collections are
        #: append-only, so an index once found stays right)
        self._derived: dict[tuple[Any, ...], int] = {}
        targets = package.targets(workbook.part)
        self.part = next((t for k, t in targets.values() if k == "styles"), "")
        if self.part:
            self.root = _xml(package.read(self.part))
        else:  # a workbook without styles (some generators): give it the minimal one
            self.part = posixpath.join(posixpath.dirname(workbook.part), "styles.xml")
            self.root = _xml(_MINIMAL_STYLES)
            package.relate(workbook.part, "styles", self.part)
            package.write(self.part, _MINIMAL_STYLES, STYLES_TYPE)

    def collection(self, name: str) -> Any:
        el = self.root.find(f"{{{MAIN}}}{name}")
        if el is None:
            el = etree.Element(f"{{{MAIN}}}{name}")
            el.set("count", "0")
            _insert_in_order(self.root, el, STYLE_ORDER)
        return el

    def entries(self, name: str) -> list[Any]:
        return [e for e in self.collection(name) if isinstance(e.tag, str)]

    def find_or_add(self, name: str, entry: Any) -> int:
        """The index of an entry equal to ``entry`` in collection ``name``, appending it if none."""
        want = _canon(entry)
        index = self._index.get(name)
        if index is None:
            index = self._index[name] = {}
            for i, e in enumerate(self.entries(name)):
                index.setdefault(_canon(e), i)
        found = index.get(want)
        if found is not None:
            return found
        coll = self.collection(name)
        coll.append(entry)
        count = len(self.entries(name))
        coll.set("count", str(count))
        self.changed = True
        index[want] = count - 1
        return count - 1

    def xf(self, index: int) -> Any:
        xfs = self.entries("cellXfs")
        if 0 <= index < len(xfs):
            return xfs[index]
        return _el("xf", numFmtId="0", fontId="0", fillId="0", borderId="0", xfId="0")

    def bold_xf(self, base: int, fill: str | None = None, font_name: str | None = None) -> int:
        """The cell style ``base`` with a bold font (and a solid ``fill``, RRGGBB; the font
        named ``font_name``)."""
        key = ("bold", base, fill, font_name)
        if key not in self._derived:
            self._derived[key] = self._bold_xf(base, fill, font_name)
        return self._derived[key]

    def _bold_xf(self, base: int, fill: str | None, font_name: str | None) -> int:
        xf = _copy(self.xf(base))
        fonts = self.entries("fonts")
        font_id = int(xf.get("fontId", "0"))
        font = _copy(fonts[font_id]) if font_id < len(fonts) else _el("font")
        for b in font.findall(f"{{{MAIN}}}b"):
            font.remove(b)
        font.insert(0, _el("b"))
        if font_name:
            for el in font.findall(f"{{{MAIN}}}name") + font.findall(f"{{{MAIN}}}scheme"):
                font.remove(el)
            font.append(_el("name", val=font_name))
            _sort_font(font)
        xf.set("fontId", str(self.find_or_add("fonts", font)))
        xf.set("applyFont", "1")
        if fill is not None:
            pattern = _el("patternFill", patternType="solid")
            pattern.append(_el("fgColor", rgb="FF" + fill))
            pattern.append(_el("bgColor", indexed="64"))
            f = _el("fill")
            f.append(pattern)
            xf.set("fillId", str(self.find_or_add("fills", f)))
            xf.set("applyFill", "1")
        return self.find_or_add("cellXfs", xf)

    def wrap_xf(self, base: int) -> int:
        """The cell style ``base`` with its text wrapped, top-aligned."""
        key = ("wrap", base)
        if key in self._derived:
            return self._derived[key]
        xf = _copy(self.xf(base))
        for al in xf.findall(f"{{{MAIN}}}alignment"):
            xf.remove(al)
        xf.insert(0, _el("alignment", vertical="top", wrapText="1"))
        xf.set("applyAlignment", "1")
        self._derived[key] = self.find_or_add("cellXfs", xf)
        return self._derived[key]

    def number_xf(self, code: str) -> int:
        """A cell style showing numbers with format ``code`` (a date format, say)."""
        key = ("number", code)
        if key not in self._derived:
            xf = _copy(self.xf(0))
            xf.set("numFmtId", str(self.number_format_id(code)))
            xf.set("applyNumberFormat", "1")
            self._derived[key] = self.find_or_add("cellXfs", xf)
        return self._derived[key]

    def cell_xf(self, style: CellStyle | None, font_name: str | None) -> int:
        """A cell style for one of the job's own tabs: ``style`` (bold, size, colours, number
        format, alignment, wrap) in the font ``font_name``; appended only when no equal one
        exists. ``style`` None with no font name is the workbook's default style, 0."""
        if style is None and font_name is None:
            return 0
        st = style or CellStyle()
        xf = _copy(self.xf(0))
        for child in list(xf):
            xf.remove(child)
        fonts = self.entries("fonts")
        font = _copy(fonts[0]) if fonts else _el("font")
        for child in list(font):
            if _local(child) in ("b", "i", "sz", "color", "name", "family", "scheme", "charset"):
                font.remove(child)
        head = []
        if st.bold:
            head.append(_el("b"))
        if st.italic:
            head.append(_el("i"))
        for i, el in enumerate(head):
            font.insert(i, el)
        font.append(_el("sz", val=f"{st.size or _font_size(fonts)}".removesuffix(".0")))
        if st.color:
            font.append(_el("color", rgb="FF" + st.color))
        name = font_name or _font_name(fonts)
        if name:
            font.append(_el("name", val=name))
        _sort_font(font)
        xf.set("fontId", str(self.find_or_add("fonts", font)))
        xf.set("applyFont", "1")
        if st.fill:
            pattern = _el("patternFill", patternType="solid")
            pattern.append(_el("fgColor", rgb="FF" + st.fill))
            pattern.append(_el("bgColor", indexed="64"))
            f = _el("fill")
            f.append(pattern)
            xf.set("fillId", str(self.find_or_add("fills", f)))
            xf.set("applyFill", "1")
        if st.number:
            xf.set("numFmtId", str(self.number_format_id(st.number)))
            xf.set("applyNumberFormat", "1")
        if st.align or st.wrap:
            al = _el("alignment", vertical="center")
            if st.align:
                al.set("horizontal", st.align)
            if st.wrap:
                al.set("wrapText", "1")
            xf.append(al)
            xf.set("applyAlignment", "1")
        return self.find_or_add("cellXfs", xf)

    def number_format_id(self, code: str) -> int:
        """The id of number format ``code``, added to ``numFmts`` when the workbook lacks it."""
        fmts = self.collection("numFmts")
        fmt_id = next(
            (int(f.get("numFmtId", "0")) for f in fmts if f.get("formatCode") == code), None
        )
        if fmt_id is None:
            fmt_id = max([163, *(int(f.get("numFmtId", "0")) for f in fmts)]) + 1
            fmts.append(_el("numFmt", numFmtId=str(fmt_id), formatCode=code))
            fmts.set("count", str(len(fmts)))
            self.changed = True
        return fmt_id

    def dxf(self, fill: str, font: str | None) -> int:
        """A differential style (for a highlight rule): a solid ``fill``, a ``font`` colour."""
        d = _el("dxf")
        if font:
            f = _el("font")
            f.append(_el("color", rgb="FF" + font))
            d.append(f)
        pattern = _el("patternFill", patternType="solid")
        pattern.append(_el("fgColor", rgb="FF" + fill))
        pattern.append(_el("bgColor", rgb="FF" + fill))
        fl = _el("fill")
        fl.append(pattern)
        d.append(fl)
        return self.find_or_add("dxfs", d)

    def save(self) -> None:
        if self.changed:
            self.package.write(self.part, _dump(self.root))


_FONT_ORDER = [
    "b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign", "sz",
    "color", "name", "family", "charset", "scheme",
]  # fmt: skip


def _sort_font(font: Any) -> None:
    """Put a font's children in the schema's order (Excel refuses others)."""
    children = sorted(
        (c for c in font if isinstance(c.tag, str)),
        key=lambda c: _FONT_ORDER.index(_local(c)) if _local(c) in _FONT_ORDER else 99,
    )
    for c in list(font):
        font.remove(c)
    for c in children:
        font.append(c)


def _font_size(fonts: list[Any]) -> float:
    sz = fonts[0].find(f"{{{MAIN}}}sz") if fonts else None
    try:
        return float(sz.get("val")) if sz is not None else 11.0
    except (TypeError, ValueError):
        return 11.0


def _font_name(fonts: list[Any]) -> str | None:
    name = fonts[0].find(f"{{{MAIN}}}name") if fonts else None
    return name.get("val") if name is not None else None


_MINIMAL_STYLES = (
    f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/>'
    '</font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill>'
    '<patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/>'
    '<right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf '
    'numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="1"><xf '
    'numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>'
).encode()


def _el(local: str, **attrs: str) -> Any:
    return etree.Element(f"{{{MAIN}}}{local}", attrs)


def _copy(el: Any) -> Any:
    return etree.fromstring(etree.tostring(el), _PARSER)


def _insert_in_order(parent: Any, el: Any, order: list[str]) -> None:
    """Insert ``el`` among ``parent``'s children where ``order`` (the schema's) puts it."""
    rank = order.index(_local(el))
    for i, child in enumerate(parent):
        name = _local(child)
        if name in order and order.index(name) > rank:
            parent.insert(i, el)
            return
    parent.append(el)


# ---------------------------------------------------------------------------- cells


_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPED = re.compile("_(x[0-9A-Fa-f]{4}_)")
_PLAIN = re.compile("[^&<>_\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*")


def text_xml(text: str) -> str:
    """``text`` as the content of a ``<t>`` element: XML-escaped; characters XML cannot hold
    spelled ``_xHHHH_`` as Excel does (and a literal ``_xHHHH_`` protected as ``_x005F_xHHHH_``).

    >>> text_xml("a<b & _x0041_\\x01")
    'a&lt;b &amp; _x005F_x0041__x0001_'
    """
    if _PLAIN.fullmatch(text):  # the common case: nothing to escape
        return text
    text = _ESCAPED.sub(r"_x005F_\1", text)
    text = _ILLEGAL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cell_xml(
    ref: str, value: Any, style: int | None, prefix: str = "", *, date1904: bool = False
) -> str:
    """One ``<c>`` element: a string always as an inline string (never a formula), a number,
    a boolean, a date as its serial number; None leaves only the style."""
    s = f' s="{style}"' if style else ""
    p = prefix
    kind = type(value)
    if kind is str and value:  # the common cases first, by exact type
        edge = value[0] in _SPACE or value[-1] in _SPACE or "\n" in value
        space = ' xml:space="preserve"' if edge else ""
        return f'<{p}c r="{ref}"{s} t="inlineStr"><{p}is><{p}t{space}>{text_xml(value)}</{p}t></{p}is></{p}c>'
    if kind is int or (kind is float and value == value):
        return f'<{p}c r="{ref}"{s}><{p}v>{_number(value)}</{p}v></{p}c>'
    if value is None:
        return f'<{p}c r="{ref}"{s}/>' if s else ""
    if isinstance(value, bool):
        return f'<{p}c r="{ref}"{s} t="b"><{p}v>{int(value)}</{p}v></{p}c>'
    if isinstance(value, float) and value != value:  # NaN: nothing to show
        return f'<{p}c r="{ref}"{s}/>' if s else ""
    if isinstance(value, numbers.Real):
        return f'<{p}c r="{ref}"{s}><{p}v>{_number(value)}</{p}v></{p}c>'
    if isinstance(value, dt.date):
        return f'<{p}c r="{ref}"{s}><{p}v>{_number(excel_serial(value, date1904))}</{p}v></{p}c>'
    text = str(value)
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    return f'<{p}c r="{ref}"{s} t="inlineStr"><{p}is><{p}t{space}>{text_xml(text)}</{p}t></{p}is></{p}c>'


_SPACE = frozenset(" \t\n\r")


def _number(v: Any) -> str:
    if type(v) is int:
        return str(v)
    if type(v) is float:
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, numbers.Integral):
        return str(int(v))
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)


def excel_serial(value: dt.date, date1904: bool = False) -> float:
    """A date or datetime as Excel's serial day number."""
    epoch = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30)
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    delta = value.replace(tzinfo=None) - epoch
    return delta.days + delta.seconds / 86400


@dataclass
class SheetEdit:
    """One run's edits of the tracker's sheet part.

    ``cells``: 0-based row -> 0-based column -> value (None clears the value, keeping the
    cell's style); ``headers``: the cells among them to style as generated headers (bold, on
    ``header_fill``). When ``replace_cf``, the rules ``remove_cf`` ((range, formula) pairs the job
    recorded) are taken out and ``add_cf`` ((range, formula, dxf index)) put in.
    """

    cells: dict[int, dict[int, Any]] = field(default_factory=dict)
    headers: set[tuple[int, int]] = field(default_factory=set)
    header_fill: str = "D9D9D9"
    replace_cf: bool = False
    remove_cf: set[tuple[str, str]] = field(default_factory=set)
    add_cf: list[tuple[str, str, int]] = field(default_factory=list)
    #: 0-based column -> width, for generated columns no ``<col>`` sizes yet (a width a person
    #: set is kept); ``wrap``: columns whose written cells wrap; ``font``: the headers' font
    widths: dict[int, float] = field(default_factory=dict)
    wrap: set[int] = field(default_factory=set)
    font: str | None = None


class SheetParts:
    """A worksheet part as bytes: its head (through ``<sheetData>``), rows, and tail."""

    def __init__(self, data: bytes) -> None:
        root = re.search(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet\b[^>]*>", data)
        if root is None:
            raise PackageError("the tracker tab's part is not a worksheet")
        self.prefix = (root.group(1) + b":") if root.group(1) else b""
        self.root_tag = root.group(0)
        p = re.escape(self.prefix)
        m = re.search(rb"<" + p + rb"sheetData\b[^>]*?(/?)>", data)
        if m is None:
            raise PackageError("the tracker tab's part has no sheetData")
        close = b"</" + self.prefix + b"sheetData>"
        if m.group(1):  # <sheetData/>: no rows yet
            self.head = data[: m.start()] + b"<" + self.prefix + b"sheetData>"
            self.body = b""
            self.tail = close + data[m.end() :]
        else:
            end = data.rfind(close)
            if end < m.end():
                raise PackageError("the tracker tab's part has no end of sheetData")
            self.head, self.body, self.tail = data[: m.end()], data[m.end() : end], data[end:]

    def join(self) -> bytes:
        return self.head + self.body + self.tail

    def tail_tree(self) -> tuple[Any, bytes]:
        """The elements after ``sheetData`` as a tree under the sheet's own root tag (so its
        namespace prefixes hold), and what follows the closing root tag."""
        close = b"</" + self.prefix + b"sheetData>"
        end_tag = b"</" + self.prefix + b"worksheet>"
        rest = self.tail[len(close) :]
        cut = rest.rfind(end_tag)
        if cut < 0:
            raise PackageError("the tracker tab's part has no end")
        return _xml(self.root_tag + rest[:cut] + end_tag), rest[cut + len(end_tag) :]


_ROW_R = re.compile(rb'\br="(\d+)"')
_CELL_R = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_STYLE = re.compile(rb'\ss="(\d+)"')
_WORD = re.compile(rb"\w")
_ATTR_SPACE = (b" ", b"\t", b"\n", b"\r")
_SPANS = re.compile(rb'\sspans="(\d+):(\d+)"')


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


class _SheetWriter:
    """Splices one run's cells into the rows of a sheet part, leaving every other byte."""

    def __init__(self, parts: SheetParts, edit: SheetEdit, styles: Styles, date1904: bool):
        self.edit, self.styles, self.date1904 = edit, styles, date1904
        self.prefix = parts.prefix
        p = re.escape(parts.prefix)
        self.row_start = re.compile(rb"<" + p + rb"row\b([^>]*?)(/?)>")
        self.row_end = b"</" + parts.prefix + b"row>"
        self.cell = re.compile(rb"<" + p + rb"c\b([^>]*?)(?:/>|>(.*?)</" + p + rb"c>)", re.S)
        self.formula = re.compile(rb"<" + p + rb"f\b")
        self.had_formula = False
        self.max_col = -1

    def body(self, body: bytes) -> bytes:
        pending = sorted(self.edit.cells.items())
        out: list[bytes] = []
        pos = k = implicit = 0
        for m in self.row_start.finditer(body):
            if k >= len(pending):
                break
            r = _ROW_R.search(m.group(1))
            row0 = int(r.group(1)) - 1 if r else implicit
            implicit = row0 + 1
            while k < len(pending) and pending[k][0] < row0:  # rows that do not exist yet
                out += [body[pos : m.start()], self.new_row(*pending[k])]
                pos = m.start()
                k += 1
            if k < len(pending) and pending[k][0] == row0:
                if m.group(2):  # <row .../>
                    inner, end = b"", m.end()
                else:
                    close = body.find(self.row_end, m.end())
                    if close < 0:
                        raise PackageError(f"row {row0 + 1} of the tracker tab has no end")
                    inner, end = body[m.end() : close], close + len(self.row_end)
                row_attrs = m.group(1) if r else b' r="%d"' % (row0 + 1) + m.group(1)
                changes = pending[k][1]
                out += [
                    body[pos : m.start()],
                    b"<" + self.prefix + b"row" + _spans(row_attrs, changes) + b">",
                    self.cells(row0, inner, changes),
                    self.row_end,
                ]
                pos = end
                k += 1
        out.append(body[pos:])
        out += [self.new_row(*rest) for rest in pending[k:]]
        return b"".join(out)

    def new_row(self, row0: int, changes: dict[int, Any]) -> bytes:
        cells = self.cells(row0, b"", changes)
        if not cells:
            return b""
        p = self.prefix
        return b"<" + p + b'row r="%d">' % (row0 + 1) + cells + b"</" + p + b"row>"

    def cells(self, row0: int, inner: bytes, changes: dict[int, Any]) -> bytes:
        fast = self.cells_by_reference(row0, inner, changes)
        return fast if fast is not None else self.cells_by_scan(row0, inner, changes)

    def cells_by_reference(self, row0: int, inner: bytes, changes: dict[int, Any]) -> bytes | None:
        """The common cases without scanning every cell: each written cell either exists (found
        by its reference) or goes after the row's last cell. None when that does not hold (a
        cell without a reference, a new cell between existing ones): then scan."""
        p = self.prefix
        starts = inner.count(b"<" + p + b"c ") + inner.count(b"<" + p + b"c>")
        if starts != inner.count(b' r="'):
            return None  # some cell has no reference (or text looks like one): scan
        end_tag = b"</" + p + b"c>"
        last_start = max(inner.rfind(b"<" + p + b"c "), inner.rfind(b"<" + p + b"c>"))
        last_col, last_end = -1, 0
        if last_start >= 0:
            close = inner.find(b">", last_start)
            ref = _CELL_R.search(inner, last_start, close + 1)
            if ref is None:
                return None
            last_col = _col_index(ref.group(1))
            if inner[close - 1 : close] == b"/":
                last_end = close + 1
            else:
                last_end = inner.find(end_tag, close)
                if last_end < 0:
                    return None
                last_end += len(end_tag)
        row = b"%d" % (row0 + 1)
        edits: list[tuple[int, int, bytes]] = []
        appended: list[bytes] = []
        for col, value in sorted(changes.items()):
            if col > last_col:
                appended.append(self.new_cell(row0, col, value, None))
                continue
            at = inner.find(b' r="' + col_letter(col).encode() + row + b'"')
            if at < 0:
                return None  # a new cell between existing ones: scan
            start = inner.rfind(b"<" + p + b"c", 0, at)
            close = inner.find(b">", at)
            end = close + 1 if inner[close - 1 : close] == b"/" else inner.find(end_tag, close)
            if end < 0:
                return None
            end = end if inner[close - 1 : close] == b"/" else end + len(end_tag)
            cell = inner[start:end]
            if self.formula.search(cell):
                self.had_formula = True
            s = _STYLE.search(inner, start, close)
            edits.append(
                (start, end, self.new_cell(row0, col, value, int(s.group(1)) if s else None))
            )
        out: list[bytes] = []
        pos = 0
        for start, end, new in edits:
            out += [inner[pos:start], new]
            pos = end
        if appended:
            tail = max(last_end, pos)
            out += [inner[pos:tail], *appended]
            pos = tail
        out.append(inner[pos:])
        return b"".join(out)

    def cells_by_scan(self, row0: int, inner: bytes, changes: dict[int, Any]) -> bytes:
        found = []
        col = -1
        for m in self.cell.finditer(inner):
            ref = _CELL_R.search(m.group(1))
            col = _col_index(ref.group(1)) if ref else col + 1
            found.append((col, m, ref is not None))
        explicit = all(f[2] for f in found)
        todo = sorted(changes.items())
        out: list[bytes] = []
        last = t = 0
        for col, m, _ in found:
            out.append(inner[last : m.start()])
            while t < len(todo) and todo[t][0] < col:
                out.append(self.new_cell(row0, *todo[t], None))
                t += 1
            if t < len(todo) and todo[t][0] == col:
                if m.group(2) is not None and self.formula.search(m.group(2)):
                    self.had_formula = True
                s = _STYLE.search(m.group(1))
                out.append(self.new_cell(row0, *todo[t], int(s.group(1)) if s else None))
                t += 1
            elif explicit:
                out.append(m.group(0))
            else:  # cells without r="": name them, so that an inserted cell can't shift them
                tag = b"<" + self.prefix + b"c"
                named = f' r="{col_letter(col)}{row0 + 1}"'.encode()
                out.append(tag + named + m.group(0)[len(tag) :])
            last = m.end()
        out += [self.new_cell(row0, *change, None) for change in todo[t:]]
        out.append(inner[last:])
        return b"".join(out)

    def new_cell(self, row0: int, col: int, value: Any, style: int | None) -> bytes:
        self.max_col = max(self.max_col, col)
        if (row0, col) in self.edit.headers:
            style = self.styles.bold_xf(
                style or 0, fill=self.edit.header_fill, font_name=self.edit.font
            )
        elif col in self.edit.wrap:
            style = self.styles.wrap_xf(style or 0)
        elif isinstance(value, dt.date):
            style = self.styles.number_xf("yyyy-mm-dd")
        ref = f"{col_letter(col)}{row0 + 1}"
        p = self.prefix.decode()
        return cell_xml(ref, value, style, p, date1904=self.date1904).encode("utf-8")


def uncalculated_cells(data: bytes) -> set[tuple[int, int]]:
    """The formula cells (0-based row, col) of a sheet part that hold no calculated result: no
    ``<v>``, or an empty one in a cell that is not of string type (openpyxl writes ``<v></v>``
    for every formula; Excel writes a formula's empty-text result as ``t="str"``)."""
    parts = SheetParts(data)
    p = re.escape(parts.prefix)
    body = parts.body
    formula = re.compile(rb"<" + p + rb"f[\s>/]")
    value = re.compile(rb"<" + p + rb"v>(.+?)</" + p + rb"v>", re.S)
    end_tag = b"</" + parts.prefix + b"c>"
    out: set[tuple[int, int]] = set()
    pos = 0
    while (m := formula.search(body, pos)) is not None:
        end = body.find(end_tag, m.end())
        begin = body.rfind(b"<" + parts.prefix + b"c", 0, m.start())  # <f> is a cell's first child
        pos = m.end() if end < 0 else end
        if begin < 0 or end < 0:
            continue
        cell = body[begin:end]
        tag = cell[: cell.find(b">") + 1]
        ref = _CELL_R.search(tag)
        if ref is None:
            continue
        if value.search(cell) is None and b't="str"' not in tag and b't="inlineStr"' not in tag:
            out.add((int(ref.group(2)) - 1, _col_index(ref.group(1))))
    return out


_BUILTIN_PERCENT = {9, 10}
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def percent_styles(styles: Styles) -> set[int]:
    """The cell style indexes whose number format shows a percentage (``0%``, ``0.0%`` ...)."""
    codes = {
        int(f.get("numFmtId", "-1")): f.get("formatCode", "")
        for f in styles.root.iterfind(f"{{{MAIN}}}numFmts/{{{MAIN}}}numFmt")
    }
    out = set()
    for i, xf in enumerate(styles.root.iterfind(f"{{{MAIN}}}cellXfs/{{{MAIN}}}xf")):
        fmt = int(xf.get("numFmtId", "0"))
        if fmt in _BUILTIN_PERCENT or "%" in _QUOTED.sub("", codes.get(fmt, "")):
            out.add(i)
    return out


def styled_cells(data: bytes, styles: set[int]) -> set[tuple[int, int]]:
    """The cells (0-based row, col) of a sheet part whose style index is in ``styles``."""
    if not styles:
        return set()
    parts = SheetParts(data)
    body = parts.body
    tag = b"<" + parts.prefix + b"c"
    alternatives = b"|".join(str(s).encode() for s in sorted(styles))
    # find the style attributes (a literal scan), then the cell tag each sits in — several
    # times faster than trying a pattern at every cell of a 50k-row sheet
    attribute = re.compile(rb's="(?:' + alternatives + rb')"')  # literal first: a fast scan
    out = set()
    for m in attribute.finditer(body):
        begin = body.rfind(b"<", 0, m.start())
        after = begin + len(tag)
        if (
            body[m.start() - 1 : m.start()] not in _ATTR_SPACE  # an attribute s, not ...s="
            or begin < 0
            or not body.startswith(tag, begin)
            or _WORD.match(body, after) is not None  # <col ..., not <c ...
            or body.find(b">", begin, m.start()) >= 0  # not inside that tag
        ):
            continue
        end = body.find(b">", m.end())
        ref = _CELL_R.search(body, after, end if end >= 0 else len(body))
        if ref is not None:
            out.add((int(ref.group(2)) - 1, _col_index(ref.group(1))))
    return out


def conditional_formats(data: bytes) -> set[tuple[str, str]]:
    """(range, formula) of every expression rule in a sheet part (the job's are among them)."""
    parts = SheetParts(data)
    if b"conditionalFormatting" not in parts.tail:
        return set()
    root, _ = parts.tail_tree()
    return {
        (cf.get("sqref", ""), f.text or "")
        for cf in root.iterfind(f"{{{MAIN}}}conditionalFormatting")
        for rule in cf.iterfind(f"{{{MAIN}}}cfRule")
        for f in rule.iterfind(f"{{{MAIN}}}formula")
    }


def chart_count(package: Package, part: str) -> int:
    """How many charts the drawings of sheet part ``part`` hold."""
    return sum(
        1
        for kind, drawing in package.targets(part).values()
        if kind == "drawing"
        for k, _ in package.targets(drawing).values()
        if k == "chart"
    )


def edit_sheet(
    data: bytes, edit: SheetEdit, styles: Styles, date1904: bool = False
) -> tuple[bytes, bool]:
    """The sheet part with ``edit`` applied, and whether a formula cell was overwritten."""
    parts = SheetParts(data)
    writer = _SheetWriter(parts, edit, styles, date1904)
    if edit.cells:
        parts.body = writer.body(parts.body)
        parts.head = _dimension(parts.head, parts.prefix, max(edit.cells), writer.max_col)
    if edit.widths:
        parts.head = _widths(parts.head, parts.prefix, edit.widths)
    if edit.replace_cf:
        parts.tail = _edit_tail(parts, edit)
    return parts.join(), writer.had_formula


def _widths(head: bytes, prefix: bytes, widths: Mapping[int, float]) -> bytes:
    """``<cols>`` with a ``<col>`` for each column in ``widths`` that no ``<col>`` covers yet
    (every other byte of the head kept; ``<col>`` elements stay in column order)."""
    p = re.escape(prefix)
    block = re.search(rb"<" + p + rb"cols\b[^>]*>(.*?)</" + p + rb"cols>", head, re.S)
    inner = block.group(1) if block else b""
    have = [
        (int(m.group(1)), int(m.group(2)), m.group(0))
        for m in re.finditer(
            rb"<" + p + rb'col\b[^>]*?\bmin="(\d+)"[^>]*?\bmax="(\d+)"[^>]*?/>', inner
        )
    ]
    if block and len(have) != inner.count(b"<" + prefix + b"col"):
        return head  # a <col> written in a form not read here: leave the widths alone
    covered = {c for lo, hi, _ in have for c in range(lo, min(hi, 16384) + 1)}
    new = [
        (c + 1, c + 1, f'<{prefix.decode()}col min="{c + 1}" max="{c + 1}" width="{w}" '
         'customWidth="1"/>'.encode())
        for c, w in sorted(widths.items())
        if c + 1 not in covered
    ]  # fmt: skip
    if not new:
        return head
    cols = b"".join(el for _, _, el in sorted(have + new, key=lambda x: x[0]))
    wrapped = b"<" + prefix + b"cols>" + cols + b"</" + prefix + b"cols>"
    if block:
        return head[: block.start()] + wrapped + head[block.end() :]
    at = re.search(rb"<" + p + rb"sheetData\b", head)
    assert at is not None  # SheetParts found it
    return head[: at.start()] + wrapped + head[at.start() :]


def _spans(attrs: bytes, changes: Mapping[int, Any]) -> bytes:
    """Widen the row's ``spans`` hint (1-based first:last column) to the written cells."""
    m = _SPANS.search(attrs)
    if not m:
        return attrs
    lo = min(int(m.group(1)), *(c + 1 for c in changes))
    hi = max(int(m.group(2)), *(c + 1 for c in changes))
    return attrs[: m.start()] + b' spans="%d:%d"' % (lo, hi) + attrs[m.end() :]


def _dimension(head: bytes, prefix: bytes, max_row: int, max_col: int) -> bytes:
    """Widen the ``dimension`` hint (the used range) to cover the written cells."""
    m = re.search(
        rb"<" + re.escape(prefix) + rb'dimension\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"', head
    )
    if not m:
        return head
    c1, r1 = m.group(1), int(m.group(2))
    c2, r2 = m.group(3) or c1, int(m.group(4) or r1)
    ref = f"{c1.decode()}{r1}:{col_letter(max(_col_index(c2), max_col))}{max(r2, max_row + 1)}"
    return head[: m.start(1)] + ref.encode() + head[m.end(m.lastindex or 1) :]


def _edit_tail(parts: SheetParts, edit: SheetEdit) -> bytes:
    """The sheet's trailing elements, with the job's old highlight rules taken out and its new
    ones put where the schema orders them (after the sheet's own rules)."""
    root, after = parts.tail_tree()
    rules = [
        (cf, rule)
        for cf in root.iterfind(f"{{{MAIN}}}conditionalFormatting")
        for rule in cf.iterfind(f"{{{MAIN}}}cfRule")
    ]
    top = max((int(r.get("priority", "0")) for _, r in rules), default=0)
    for cf, rule in rules:
        formulas = [f.text or "" for f in rule.iterfind(f"{{{MAIN}}}formula")]
        if any((cf.get("sqref", ""), f) in edit.remove_cf for f in formulas):
            cf.remove(rule)
            if cf.find(f"{{{MAIN}}}cfRule") is None:
                root.remove(cf)
    for i, (sqref, formula, dxf) in enumerate(edit.add_cf, 1):
        cf = _el("conditionalFormatting", sqref=sqref)
        rule = etree.SubElement(
            cf, f"{{{MAIN}}}cfRule", type="expression", dxfId=str(dxf), priority=str(top + i)
        )
        etree.SubElement(rule, f"{{{MAIN}}}formula").text = formula
        _insert_after_last(root, cf, SHEET_ORDER)
    text = bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=False))
    inner = (
        b""
        if text.endswith(b"/>") and len(root) == 0
        else text[text.index(b">") + 1 : text.rindex(b"</")]
    )
    close = b"</" + parts.prefix + b"sheetData>"
    return close + inner + b"</" + parts.prefix + b"worksheet>" + after


def _insert_after_last(parent: Any, el: Any, order: list[str]) -> None:
    """Insert ``el`` after the last child the schema orders at or before it."""
    rank = order.index(_local(el))
    index = 0
    for i, child in enumerate(parent):
        if _local(child) in order and order.index(_local(child)) <= rank:
            index = i + 1
    parent.insert(index, el)


def cf_sqref(rule: CFRule) -> str:
    """The range of one of the job's highlight rules, as Excel writes it (``O2:O120``)."""
    return (
        f"{col_letter(rule.first_col)}{rule.first_row + 1}:"
        f"{col_letter(rule.last_col)}{rule.last_row + 1}"
    )


# ---------------------------------------------------------------------------- the job's tabs


def sheet_xml(
    rows: list[list[Any]],
    *,
    styles: Styles,
    bold_rows: Iterable[int] = (),
    widths: Mapping[int, float] | None = None,
    drawing_rid: str | None = None,
    date1904: bool = False,
    cell_styles: Mapping[tuple[int, int], CellStyle] | None = None,
    heights: Mapping[int, float] | None = None,
    font: str | None = None,
    page: bool = False,
) -> bytes:
    """A whole worksheet part for one of the job's own tabs. ``cell_styles`` style single
    cells (others take ``font``, bold in ``bold_rows``); ``page`` sets it up to print: landscape,
    one page wide, no gridlines on screen."""
    bold = set(bold_rows)
    looks = cell_styles or {}
    xfs: dict[CellStyle | None, int] = {}

    def xf(style: CellStyle | None) -> int:
        if style not in xfs:
            xfs[style] = styles.cell_xf(style, font)
        return xfs[style]

    plain_bold = CellStyle(bold=True)
    out = [_DECL.decode(), f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">']
    if page:
        out.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        out.append('<sheetViews><sheetView workbookViewId="0" showGridLines="0"/></sheetViews>')
    if widths:
        out.append("<cols>")
        out += [
            f'<col min="{c + 1}" max="{c + 1}" width="{w}" customWidth="1"/>'
            for c, w in sorted(widths.items())
        ]
        out.append("</cols>")
    out.append("<sheetData>")
    tall = heights or {}
    for r, row in enumerate(rows):
        cells = []
        for c, v in enumerate(row):
            look = looks.get((r, c))
            if v is None and (look is None or look.fill is None):
                continue
            if look is None and r in bold:
                look = plain_bold
            style: int | None = xf(look) if (look is not None or font) else None
            if isinstance(v, dt.date) and not style:
                code = "yyyy-mm-dd hh:mm" if isinstance(v, dt.datetime) else "yyyy-mm-dd"
                style = styles.number_xf(code)
            cells.append(cell_xml(f"{col_letter(c)}{r + 1}", v, style, date1904=date1904))
        ht = f' ht="{tall[r]}" customHeight="1"' if r in tall else ""
        if cells or ht:
            out.append(f'<row r="{r + 1}"{ht}>{"".join(cells)}</row>')
    out.append("</sheetData>")
    out.append(
        '<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
        if page
        else '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/>'
    )
    if page:
        out.append(
            '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        )
    if drawing_rid:
        out.append(f'<drawing r:id="{drawing_rid}"/>')
    out.append("</worksheet>")
    return "".join(out).encode("utf-8")


_EMU_PER_CM = 360000


def drawing_xml(
    anchors: list[tuple[int, int, str, tuple[int, int] | None]],
    width_cm: float = 12,
    height_cm: float = 7.5,
) -> bytes:
    """A drawing part placing charts: (row, col, chart rId, (end row, end col) | None), its
    top-left at that cell; with an end, the chart fills the cells up to it (a two-cell anchor),
    else it is ``width_cm`` x ``height_cm``."""
    cx, cy = int(width_cm * _EMU_PER_CM), int(height_cm * _EMU_PER_CM)
    out = [_DECL.decode(), f'<xdr:wsDr xmlns:xdr="{XDR}" xmlns:a="{DRAWING_MAIN}">']
    for i, (row, col, rid, end) in enumerate(anchors, 1):
        start = (
            f"<xdr:from><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{row}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
        )
        if end is not None:
            head = f'<xdr:twoCellAnchor editAs="oneCell">{start}'
            head += (
                f"<xdr:to><xdr:col>{end[1]}</xdr:col><xdr:colOff>0</xdr:colOff>"
                f"<xdr:row>{end[0]}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            )
            tail = "</xdr:twoCellAnchor>"
        else:
            head = f'<xdr:oneCellAnchor>{start}<xdr:ext cx="{cx}" cy="{cy}"/>'
            tail = "</xdr:oneCellAnchor>"
        out.append(
            f'{head}<xdr:graphicFrame macro="">'
            f'<xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 1}" name="Chart {i}"/>'
            "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{CHART}"><c:chart xmlns:c="{CHART}" '
            f'xmlns:r="{REL}" r:id="{rid}"/></a:graphicData></a:graphic></xdr:graphicFrame>'
            f"<xdr:clientData/>{tail}"
        )
    out.append("</xdr:wsDr>")
    return "".join(out).encode("utf-8")


def chart_xml(spec: ChartSpec, sheet_title: str, font: str | None = None) -> bytes:
    """A chart part, serialised by openpyxl's chart model (its XML writer, not its workbook).

    "bar" is clustered columns, "stacked" stacked horizontal bars, "gantt" stacked horizontal
    bars whose first series (each bar's start) has no fill, categories top-down, the value axis
    over ``spec.axis`` and the category axis crossing it at ``spec.marker`` (today) as a red
    line; "line" a line; anything else a pie."""
    from openpyxl.chart import BarChart, LineChart, PieChart, Reference
    from openpyxl.chart.legend import Legend
    from openpyxl.chart.reference import DummyWorksheet
    from openpyxl.chart.shapes import GraphicalProperties
    from openpyxl.drawing.line import LineProperties
    from openpyxl.xml.functions import tostring

    chart: Any
    if spec.kind in ("bar", "stacked", "gantt"):
        chart = BarChart()
        chart.type = "col" if spec.kind == "bar" else "bar"
        if spec.kind != "bar":
            chart.grouping = "stacked"
            chart.overlap = 100
            chart.gapWidth = 40
    elif spec.kind == "line":
        chart = LineChart()
    else:
        chart = PieChart()
    chart.title = spec.title
    ws = DummyWorksheet(sheet_title)
    _, first, last = spec.values
    for col in spec.value_columns:
        chart.add_data(
            Reference(ws, min_col=col + 1, min_row=first + 1, max_row=last + 1),
            titles_from_data=True,
        )
    col, first, last = spec.categories
    chart.set_categories(Reference(ws, min_col=col + 1, min_row=first + 1, max_row=last + 1))
    for i, serie in enumerate(chart.series):
        color = spec.colors[i] if i < len(spec.colors) else None
        if spec.kind == "gantt" and i == 0:
            serie.graphicalProperties = GraphicalProperties(noFill=True)
            serie.graphicalProperties.line.noFill = True
        elif color and spec.kind == "line":
            serie.graphicalProperties.line.solidFill = color
            serie.graphicalProperties.line.width = 28575
        elif color:
            serie.graphicalProperties = GraphicalProperties(solidFill=color)
    if isinstance(chart, BarChart | LineChart):
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.y_axis.majorGridlines = None if spec.kind == "gantt" else chart.y_axis.majorGridlines
        if len(chart.series) > 1:  # (the Gantt's start series stays listed, without a swatch:
            # LibreOffice drops another entry than the one a legendEntry deletes)
            chart.legend = Legend(legendPos="b")
        else:
            chart.legend = None
    if spec.kind == "gantt":
        chart.x_axis.scaling.orientation = "maxMin"
        chart.x_axis.tickLblPos = "low"
        if spec.axis is not None:
            chart.y_axis.scaling.min, chart.y_axis.scaling.max = spec.axis
        if spec.axis_title:
            chart.y_axis.title = spec.axis_title
        if spec.marker is not None:
            chart.x_axis.crossesAt = spec.marker
            chart.x_axis.crosses = None
            chart.x_axis.spPr = GraphicalProperties(
                ln=LineProperties(solidFill="FF0000", w=28575, prstDash="dash")
            )
    data = _DECL + bytes(tostring(chart._write()))
    if font:  # the chart's text in the tab's font (CJK glyphs for zh-CN)
        data = data.replace(
            b"</c:chartSpace>",
            f'<c:txPr><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr><a:latin typeface="{font}"/>'
            f'<a:ea typeface="{font}"/></a:defRPr></a:pPr><a:endParaRPr lang="zh-CN"/></a:p>'
            "</c:txPr></c:chartSpace>".encode(),
        )
    return data


def write_own_tab(
    package: Package,
    workbook: Workbook,
    styles: Styles,
    title: str,
    rows: list[list[Any]],
    *,
    hidden: str | None = None,
    bold_rows: Iterable[int] = (),
    widths: Mapping[int, float] | None = None,
    charts: tuple[ChartSpec, ...] = (),
    tab_look: SummaryTab | None = None,
) -> None:
    """(Re)write the job's tab ``title`` whole: in its own sheet part when it exists (same
    part, position and id; its old drawing and charts removed), else as a new last tab.
    ``tab_look`` (the summary) gives cell styles, row heights, the font and print setup."""
    tab = workbook.tab(title)
    if tab is not None and tab.part:
        part = tab.part
        for _, target in list(package.targets(part).values()):
            package.remove_tree(target)
        package.remove(rels_name(part))
    else:
        part = package.free_name("xl/worksheets/sheet%d.xml")
    drawing_rid = None
    if charts:
        drawing = package.free_name("xl/drawings/drawing%d.xml")
        package.write(drawing, b"", DRAWING_TYPE)
        anchors = []
        for spec in charts:
            chart = package.free_name("xl/charts/chart%d.xml")
            font = tab_look.font if tab_look is not None else None
            package.write(chart, chart_xml(spec, title, font), CHART_TYPE)
            rid = package.relate(drawing, "chart", chart)
            anchors.append((spec.anchor[0], spec.anchor[1], rid, spec.end))
        package.write(drawing, drawing_xml(anchors))
        drawing_rid = package.relate(part, "drawing", drawing)
    data = sheet_xml(
        rows,
        styles=styles,
        bold_rows=bold_rows,
        widths=widths,
        drawing_rid=drawing_rid,
        date1904=workbook.date1904,
        cell_styles=tab_look.styles if tab_look is not None else None,
        heights=tab_look.heights if tab_look is not None else None,
        font=tab_look.font if tab_look is not None else None,
        page=tab_look is not None,
    )
    package.write(part, data, WORKSHEET_TYPE)
    if tab is None or not tab.part:
        workbook.add_tab(title, part, hidden=hidden)


__all__ = [
    "Package",
    "PackageError",
    "SheetEdit",
    "Styles",
    "Workbook",
    "add_tab",
    "apply_plan",
    "cell_xml",
    "cf_sqref",
    "edit_sheet",
    "excel_serial",
    "text_xml",
    "write_own_tab",
]


#: The metadata tab holds its JSON in cells of this many characters (Excel allows 32,767).
META_CHUNK = 30000


def apply_plan(
    data: bytes,
    plan: WritePlan,
    old_formats: tuple[CFRule, ...],
    *,
    header_fill: str,
    meta_title: str,
) -> bytes:
    """The package ``data`` with ``plan`` written into the job's parts only."""
    package = Package(data)
    workbook = Workbook(package)
    styles = Styles(package, workbook)
    tab = workbook.tab(plan.tracker_title)
    if tab is None or not tab.part:
        raise PackageError(f"no worksheet named {plan.tracker_title!r}")
    headers = [plan.cells[c].get(r) for r, c in plan.header_cells if c in plan.cells]
    font = (
        plan.summary.font
        if plan.summary is not None and plan.summary.font
        else font_for(" ".join(h for h in headers if isinstance(h, str)))
    )
    edit = SheetEdit(
        headers=set(plan.header_cells),
        header_fill=header_fill,
        widths={
            c: generated_width(k, i18n_text(_locale_of(font), k)) for k, c in plan.columns.items()
        },
        wrap={c for k, c in plan.columns.items() if k in WRAPPED},
        font=font,
    )
    for col, series in plan.cells.items():
        for r, value in zip(series.index.tolist(), series.tolist(), strict=True):
            edit.cells.setdefault(int(r), {})[col] = value
    if plan.conditional_formats is not None:
        edit.replace_cf = True
        edit.remove_cf = {(cf_sqref(r), r.formula) for r in old_formats}
        edit.add_cf = [
            (cf_sqref(r), r.formula, styles.dxf(r.fill, r.font)) for r in plan.conditional_formats
        ]
    if edit.cells or edit.replace_cf:
        sheet, had_formula = edit_sheet(package.read(tab.part), edit, styles, workbook.date1904)
        package.write(tab.part, sheet)
        if had_formula:
            workbook.drop_calc_chain()
    workbook.set_anchors(plan.tracker_title, plan.columns)
    if plan.summary is not None:
        s = plan.summary
        write_own_tab(
            package,
            workbook,
            styles,
            s.title,
            s.rows,
            bold_rows=s.bold_rows,
            widths=s.widths,
            charts=s.charts,
            tab_look=s,
        )
    if plan.meta is not None:
        text = json.dumps(plan.meta, ensure_ascii=False, sort_keys=True)
        chunks = [[text[i : i + META_CHUNK]] for i in range(0, max(len(text), 1), META_CHUNK)]
        write_own_tab(package, workbook, styles, meta_title, chunks, hidden="veryHidden")
    styles.save()
    workbook.save()
    return package.save()


def _locale_of(font: str) -> str:
    return next((loc for loc, f in FONTS.items() if f == font), "en")


def add_tab(data: bytes, title: str, rows: list[list[Any]]) -> bytes:
    """The package ``data`` with a new last tab ``title`` holding ``rows``."""
    package = Package(data)
    workbook = Workbook(package)
    if workbook.tab(title) is not None:
        raise PackageError(f"a tab named {title!r} exists")
    styles = Styles(package, workbook)
    write_own_tab(package, workbook, styles, title, rows)
    styles.save()
    workbook.save()
    return package.save()

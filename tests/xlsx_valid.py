"""Is an .xlsx package valid as Excel needs it? ``package_problems`` says what is not.

The byte comparison of tests/test_xlsx_corpus.py says the writer kept what is not its own; this
says the whole package still holds together: every XML part parses, every part has a content
type, every relationship points at a part, no part is left unreachable, and the workbook,
styles and worksheet parts keep the rules Excel checks on opening (unique sheet names and ids,
counts that match, style indexes in range, children in schema order). Each problem is a
string that starts with the part's name. An input may already hold orphans (a program left a
part behind); ``orphans(original)`` passed as ``allowed_orphans`` keeps those from counting.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from lxml import etree

from sync.backends.xlsx_package import SHEET_ORDER

Package = dict[str, bytes]

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
OFFICE_DOCUMENT = f"{REL}/officeDocument"
CONTENT_TYPES = "[Content_Types].xml"
STYLE_COLLECTIONS = (
    "numFmts",
    "fonts",
    "fills",
    "borders",
    "cellStyleXfs",
    "cellXfs",
    "cellStyles",
    "dxfs",
)
#: a relationship type's last segment -> how the content type of its target ends
PART_TYPES = {
    "officeDocument": "main+xml",
    "worksheet": "spreadsheetml.worksheet+xml",
    "styles": "spreadsheetml.styles+xml",
    "sharedStrings": "spreadsheetml.sharedStrings+xml",
    "drawing": "drawing+xml",
    "chart": "drawingml.chart+xml",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_REF = re.compile(r"([A-Za-z]{1,3})(\d+)")


def _m(tag: str) -> str:
    return f"{{{MAIN}}}{tag}"


def _parts(package: Package) -> list[str]:
    """The package's parts: its members, less zip folder entries."""
    return [n for n in package if not n.endswith("/")]


def _xml(package: Package, part: str) -> Any:
    """The part's root element, or None where it is missing or does not parse."""
    try:
        return etree.fromstring(package[part], _PARSER)
    except (KeyError, etree.XMLSyntaxError):
        return None


def _source(rels_part: str) -> str:
    """The part a .rels part describes ("" for the package's own _rels/.rels)."""
    folder, name = posixpath.split(rels_part)
    return posixpath.join(posixpath.dirname(folder), name.removesuffix(".rels"))


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _resolve(source: str, target: str) -> str:
    target = unquote(target.split("#", 1)[0])
    if target.startswith("/"):
        return posixpath.normpath(target).lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def relationships(package: Package, source: str) -> Iterator[tuple[Any, str | None]]:
    """The relationships of ``source`` ("" for the package): each element with the part name
    its target resolves to (None for an external target)."""
    root = _xml(package, _rels_part(source) if source else "_rels/.rels")
    for rel in [] if root is None else root.iter(f"{{{PKG_REL}}}Relationship"):
        external = rel.get("TargetMode") == "External"
        yield rel, None if external else _resolve(source, rel.get("Target", ""))


def orphans(package: Package) -> set[str]:
    """Parts (other than [Content_Types].xml and .rels parts) no internal relationship chain
    from the package's _rels/.rels reaches."""
    parts = {p.lower(): p for p in _parts(package)}
    seen: set[str] = set()
    todo = [""]
    while todo:
        for _, target in relationships(package, todo.pop()):
            found = parts.get((target or "").lower())
            if found is not None and found not in seen:
                seen.add(found)
                todo.append(found)
    return {
        p
        for p in _parts(package)
        if p not in seen and p != CONTENT_TYPES and not p.endswith(".rels")
    }


def package_problems(
    package: Package, allowed_orphans: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """Everything that makes ``package`` invalid for Excel, one readable string per problem."""
    out: list[str] = []
    for part in _parts(package):
        if part.lower().endswith((".xml", ".rels")) and _xml(package, part) is None:
            out.append(f"{part}: not well-formed XML")
    out += _content_type_problems(package)
    out += _rels_problems(package)
    out += _rid_problems(package)
    out += [
        f"{p}: orphan part (no relationship reaches it)"
        for p in sorted(orphans(package) - set(allowed_orphans))
    ]
    workbook = next(
        (t for r, t in relationships(package, "") if r.get("Type") == OFFICE_DOCUMENT and t), None
    )
    if workbook is None or workbook not in package:
        return [*out, "_rels/.rels: no officeDocument relationship to an existing workbook part"]
    styles = _styles(package, workbook, out)
    for sheet in _workbook_problems(package, workbook, out):
        _sheet_problems(package, sheet, styles, out)
    return out


def _content_type_problems(package: Package) -> list[str]:
    root = _xml(package, CONTENT_TYPES)
    if root is None:
        return [f"{CONTENT_TYPES}: missing or not XML"]
    out: list[str] = []
    parts = {p.lower() for p in _parts(package)}
    defaults = {
        d.get("Extension", "").lower(): d.get("ContentType", "")
        for d in root.iter(f"{{{CT}}}Default")
    }
    types: dict[str, str] = {}  # part name, lower case -> content type
    for o in root.iter(f"{{{CT}}}Override"):
        name = o.get("PartName", "")
        key = unquote(name).lstrip("/").lower()
        if key in types:
            out.append(f'{CONTENT_TYPES}: duplicate Override PartName="{name}"')
        types[key] = o.get("ContentType", "")
        if key not in parts:
            out.append(f'{CONTENT_TYPES}: Override PartName="{name}" names no part')
    for part in _parts(package):
        name = posixpath.basename(part)
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        if part == CONTENT_TYPES or part.lower() in types:
            continue
        if ext not in defaults:
            out.append(f"{part}: no content type (no Override, no Default for .{ext})")
        types[part.lower()] = defaults.get(ext, "")
    # a part SpreadsheetML reaches by a relationship must carry that kind's type, not the
    # generic application/xml its extension's Default gives when its Override is missing
    for rels in (p for p in _parts(package) if p.endswith(".rels")):
        for rel, target in relationships(package, _source(rels)):
            kind = rel.get("Type", "").rpartition("/")[2]
            got = types.get((target or "").lower())
            if kind in PART_TYPES and got is not None and not got.endswith(PART_TYPES[kind]):
                out.append(f'{target}: content type "{got}" for a {kind} part')
    return out


def _rels_problems(package: Package) -> list[str]:
    out: list[str] = []
    parts = {p.lower() for p in _parts(package)}
    for rels in (p for p in _parts(package) if p.endswith(".rels")):
        source = _source(rels)
        if source and source.lower() not in parts:
            out.append(f"{rels}: its source part {source} does not exist")
        ids: set[str] = set()
        for rel, target in relationships(package, source):
            rid = rel.get("Id", "")
            if rid in ids:
                out.append(f'{rels}: duplicate Id="{rid}"')
            ids.add(rid)
            if target is not None and target.lower() not in parts:
                out.append(
                    f'{rels}: Id="{rid}" Target="{rel.get("Target")}" names no part ({target})'
                )
    return out


def _rid_problems(package: Package) -> list[str]:
    """An r:id (r:embed, r:link, ...) in a part must name one of that part's relationships."""
    out: list[str] = []
    for part in _parts(package):
        root = None if part.endswith(".rels") or part == CONTENT_TYPES else _xml(package, part)
        if root is None or REL.encode() not in package[part]:
            continue
        ids = {r.get("Id") for r, _ in relationships(package, part)}
        for el in root.iter():
            for attr, value in el.attrib.items():
                if attr.startswith(f"{{{REL}}}") and value and value not in ids:
                    name = f"{etree.QName(el).localname} r:{etree.QName(attr).localname}"
                    out.append(f'{part}: <{name}="{value}"> names no relationship of the part')
    return out


def _workbook_problems(package: Package, workbook: str, out: list[str]) -> list[str]:
    """Checks workbook.xml; returns the worksheet parts its sheets resolve to."""
    root = _xml(package, workbook)
    if root is None:
        return []
    rels = {r.get("Id"): t for r, t in relationships(package, workbook)}
    names: set[str] = set()
    ids: set[str] = set()
    rids: set[str] = set()
    sheets: list[str] = []
    for sheet in root.iterfind(f"{_m('sheets')}/{_m('sheet')}"):
        name, sid, rid = (
            sheet.get("name", ""),
            sheet.get("sheetId", ""),
            sheet.get(f"{{{REL}}}id", ""),
        )
        if not 1 <= len(name) <= 31 or _BAD_SHEET_CHARS.search(name):
            out.append(f'{workbook}: sheet name "{name}" is not 1..31 characters without []:*?/\\')
        for value, seen, what in (
            (name.lower(), names, "name"),
            (sid, ids, "sheetId"),
            (rid, rids, "r:id"),
        ):
            if value in seen:
                out.append(f'{workbook}: duplicate sheet {what} "{value}" (sheet "{name}")')
            seen.add(value)
        target = rels.get(rid)
        if target is None:
            out.append(
                f'{workbook}: sheet "{name}" r:id="{rid}" is not a relationship of the workbook'
            )
        elif target in package and _xml(package, target) is not None:
            sheets.append(target)
    count = len(root.findall(f"{_m('sheets')}/{_m('sheet')}"))
    defined: set[tuple[str, str | None]] = set()
    for dn in root.iter(_m("definedName")):
        name, local = dn.get("name", ""), dn.get("localSheetId")
        if local is not None and not (local.isdigit() and int(local) < count):
            out.append(f'{workbook}: definedName "{name}" localSheetId={local} but {count} sheets')
        if (name.lower(), local) in defined:
            out.append(f'{workbook}: duplicate definedName "{name}" (localSheetId={local})')
        defined.add((name.lower(), local))
    return sheets


def _styles(package: Package, workbook: str, out: list[str]) -> dict[str, int]:
    """Checks styles.xml; returns the number of children of each collection (0 where absent)."""
    part = next(
        (t for r, t in relationships(package, workbook) if r.get("Type") == f"{REL}/styles"), None
    )
    root = None if part is None else _xml(package, part)
    sizes = dict.fromkeys(STYLE_COLLECTIONS, 0)
    if root is None:
        return sizes
    for name in STYLE_COLLECTIONS:
        el = root.find(_m(name))
        if el is None:
            continue
        sizes[name] = len([c for c in el if isinstance(c.tag, str)])
        if el.get("count") is not None and el.get("count") != str(sizes[name]):
            out.append(f'{part}: <{name} count="{el.get("count")}"> holds {sizes[name]}')
    for i, xf in enumerate(root.iterfind(f"{_m('cellXfs')}/{_m('xf')}")):
        for attr, coll in (("fontId", "fonts"), ("fillId", "fills"), ("borderId", "borders")):
            if not _index_ok(xf.get(attr), sizes[coll]):
                out.append(f"{part}: cellXfs xf {i} {attr}={xf.get(attr)} but {sizes[coll]} {coll}")
    return sizes


def _index_ok(value: str | None, size: int) -> bool:
    return value is None or (value.isdigit() and int(value) < size)


def _column(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _sheet_problems(package: Package, part: str, styles: dict[str, int], out: list[str]) -> None:
    root = _xml(package, part)
    if root.tag != _m("worksheet"):  # a chartsheet or dialogsheet
        return
    tags = [etree.QName(c) for c in root if isinstance(c.tag, str)]
    ranks = []
    for t in (t for t in tags if t.namespace == MAIN):
        if t.localname in SHEET_ORDER:
            ranks.append(SHEET_ORDER.index(t.localname))
        else:
            out.append(f"{part}: <{t.localname}> is not a child of <worksheet>")
    for a, b in itertools.pairwise(ranks):
        if b < a:
            out.append(f"{part}: <{SHEET_ORDER[b]}> after <{SHEET_ORDER[a]}> (schema order)")
    last_row = 0
    for row in root.iterfind(f"{_m('sheetData')}/{_m('row')}"):
        given = row.get("r")  # a row without r follows the one before it
        r = last_row + 1 if given is None else int(given) if given.isdigit() else 0
        if r <= last_row:
            out.append(f"{part}: row {r} after row {last_row}")
        last_row, last_col = r, 0
        for c in row.iterfind(_m("c")):
            ref = c.get("r")
            m = _REF.fullmatch(ref or "")
            col = _column(m.group(1)) if m else last_col + 1
            if ref is not None and (m is None or int(m.group(2)) != r):
                out.append(f"{part}: cell {ref} in row {r}")
            if col <= last_col:
                out.append(f"{part}: cell {ref} out of column order in row {r}")
            last_col = col
            where = f"{part}: cell {ref or f'#{col} of row {r}'}"
            if not _index_ok(c.get("s"), styles["cellXfs"]):
                out.append(f'{where} s="{c.get("s")}" but {styles["cellXfs"]} cellXfs')
            if c.get("t") == "inlineStr" and c.find(_m("is")) is None:
                out.append(f'{where} t="inlineStr" without <is>')
            f = c.find(_m("f"))
            if f is not None and (f.text or "").startswith("="):
                out.append(f"{where} formula stored with its = sign: {f.text}")
    for rule in root.iter(_m("cfRule")):
        if not _index_ok(rule.get("dxfId"), styles["dxfs"]):
            out.append(f'{part}: cfRule dxfId="{rule.get("dxfId")}" but {styles["dxfs"]} dxfs')

"""Pure request builders: every request body the backend sends, built from plain data (no HTTP,
no state), and the size arithmetic that keeps each request within the budget."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...cells import col_letter, runs
from ...model import CellStyle, CFRule, ChartSpec, Grid, SummaryTab, WritePlan
from ...style import WRAPPED, font_for, generated_width

COLUMN_KEY = "tracker_sync.column"

META_KEY = "tracker_sync.meta"

#: The job's record of the highlight rules it made (which tab, each rule's range, formula, fill).
FORMATS_KEY = "tracker_sync.formats"
#: The job's record of the charts it drew on its summary tab (by id: a person's chart there
#: is theirs, never deleted).
CHARTS_KEY = "tracker_sync.charts"

PROTECTION_DESCRIPTION = "tracker-sync: generated columns (computed; edits are overwritten)"

HEADER_FILL = {"red": 0.85, "green": 0.85, "blue": 0.85}

TEMPLATE_HEADER_FILL = {"red": 0.867, "green": 0.922, "blue": 0.969}

#: The first read's field mask (``spreadsheets.get``): what the decisions need and no cell
#: value -- the tabs' properties, the job's metadata, the tracker's conditional formats and the
#: job's protections, chart ids, the column anchors, and per cell only the number-format type,
#: present only on cells a person or the job formatted (``userEnteredFormat``; an unformatted
#: cell is ``{}``): a number in a percent-formatted cell is a fraction.
READ_FIELDS = (
    "spreadsheetId,properties(title,locale,timeZone),"
    "developerMetadata(metadataId,metadataKey,metadataValue),"
    "sheets(properties(sheetId,title,index,hidden,sheetType,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "conditionalFormats,protectedRanges(protectedRangeId,range,description,warningOnly),charts(chartId),"
    "data(startRow,startColumn,columnMetadata(developerMetadata(metadataId,metadataKey,metadataValue)),"
    "rowData(values(userEnteredFormat(numberFormat(type))))))"
)

#: The second read (``values:batchGet``, every tab): each cell's value as a plain JSON item,
#: numbers unformatted and dates as serial numbers -- what the grid read's ``effectiveValue``
#: gave, at a fraction of the bytes (``"x"`` instead of ``{"effectiveValue":{"stringValue":"x"}}``).
VALUES_READ = {
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "majorDimension": "ROWS",
    "fields": "valueRanges(range,values)",
}

#: The reply parts a structural batch needs back: the header row, values only.
HEADER_REPLY_FIELDS = (
    "updatedSpreadsheet(sheets(properties(title),"
    "data(startRow,startColumn,rowData(values(effectiveValue)))))"
)

#: The reply parts a values write needs back: which filter matched, and the echoed cells.
VALUES_REPLY_FIELDS = "totalUpdatedCells,responses(dataFilter,updatedData(majorDimension,values))"

#: Bytes of a values request around its entries.
ENVELOPE = 256


def dumps(body: Any) -> bytes:
    """A request body as sent: compact JSON, UTF-8 (the bytes the size budget counts)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class Entry:
    """One DataFilterValueRange of a values write, its size in bytes and what it writes."""

    body: dict[str, Any]
    size: int
    #: Generated column key and its anchor's metadataId (tracker columns only).
    key: str | None = None
    metadata_id: int | None = None
    #: Row -> value written (tracker columns only).
    cells: dict[int, Any] = field(default_factory=dict)
    #: First and last row of a row guard's A1 range, and whether it holds task IDs.
    rows: tuple[int, int] | None = None
    ids: bool = False


def wire_value(value: Any) -> Any:
    """A cell value as sent: None clears the cell ("")."""
    return "" if value is None else value


def _lookup(key: str, metadata_id: int) -> dict[str, Any]:
    # a lookup selects the metadata matching all the fields given (documented, Sheets API
    # reference: DeveloperMetadataLookup); the id pins the one anchor the read found on the
    # tracker tab, never a copy on another tab
    return {
        "developerMetadataLookup": {
            "metadataKey": COLUMN_KEY,
            "metadataValue": key,
            "locationType": "COLUMN",
            "metadataId": metadata_id,
        }
    }


def column_entry(
    key: str, cells: dict[int, Any], metadata_id: int, *, by_rows: bool | None = None
) -> dict[str, Any]:
    """A values entry for one anchored column: row r's value at index r, nothing where unchanged.

    An anchor addresses its whole column from row 1, so the rows above and between the cells
    written are sent as "skip": ``null`` in a column-major entry (5 bytes a row with its comma;
    documented: Sheets API reference, ValueRange.values, "Null values will be skipped") or an
    empty row ``[]`` in a row-major one (3 bytes; a row with no item writes no cell: each item is
    one cell, same page). ``by_rows`` picks the form; None takes the smaller (row-major when more
    rows are skipped than written -- a sparse change far down a long column).
    """
    height = max(cells, default=-1) + 1
    if by_rows is None:
        by_rows = height - len(cells) > len(cells) + 2
    if by_rows and height:
        rows: list[list[Any]] = [[] for _ in range(height)]
        for r, v in cells.items():
            rows[r] = [wire_value(v)]
        return {"dataFilter": _lookup(key, metadata_id), "majorDimension": "ROWS", "values": rows}
    values: list[Any] = [None] * height
    for r, v in cells.items():
        values[r] = wire_value(v)
    return {
        "dataFilter": _lookup(key, metadata_id),
        "majorDimension": "COLUMNS",
        "values": [values or [None]],
    }


def column_entries(key: str, metadata_id: int, cells: dict[int, Any], budget: int) -> list[Entry]:
    """One anchored column's values as entries of at most ``budget`` bytes each.

    An anchor addresses the whole column, so an entry starts at row 1 and skips every row above
    and between the cells it writes (see :func:`column_entry`: 5 bytes a row column-major, 3
    row-major; each piece takes the smaller). A single row whose entry is larger than
    ``budget`` still goes, alone.

    >>> [(e.cells, e.size) for e in column_entries("gen_id", 7, {1: "T-1", 2: "T-2", 3: "T-3"}, 205)]
    [({1: 'T-1', 2: 'T-2'}, 198), ({3: 'T-3'}, 196)]
    """
    rows = sorted(cells)
    # the entry with an empty values list; the list's items and commas are added below
    base_c = len(dumps(column_entry(key, {}, metadata_id, by_rows=False))) - len("null")
    base_r = base_c - len("COLUMNS") + len("ROWS") - 2
    out: list[Entry] = []
    i = 0
    while i < len(rows):
        written = chars = 0  # cells written and their bytes, in rows [0, height)
        by_rows = False
        j = i
        while j < len(rows):
            r = rows[j]
            n = len(dumps(wire_value(cells[r])))
            skipped = r - written  # rows [0, r] less the cells written, less row r itself
            size_c = base_c + 4 * skipped + chars + n + r
            size_r = base_r + 2 * skipped + chars + n + 2 * (written + 1) + r
            if j > i and min(size_c, size_r) > budget:
                break
            written, chars, by_rows = written + 1, chars + n, size_r < size_c
            j += 1
        piece = {r: cells[r] for r in rows[i:j]}
        body = column_entry(key, piece, metadata_id, by_rows=by_rows)
        out.append(Entry(body, len(dumps(body)), key, metadata_id, piece))
        i = j
    return out


def pack(entries: list[Entry], budget: int) -> list[list[Entry]]:
    """Entries in order, packed into requests of at most ``budget`` bytes (an entry larger than
    ``budget`` alone in its request).

    >>> [[e.size for e in c] for c in pack([Entry({}, s) for s in (900, 900, 100)], 2100)]
    [[900, 900], [100]]
    """
    chunks: list[list[Entry]] = []
    current: list[Entry] = []
    size = ENVELOPE
    for e in entries:
        if current and size + e.size + 1 > budget:
            chunks.append(current)
            current, size = [], ENVELOPE
        current.append(e)
        size += e.size + 1
    if current:
        chunks.append(current)
    return chunks


def merge_runs(rows: list[int], gap: int, most: int) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs, joining runs less than ``gap`` rows apart and then
    the closest ones until at most ``most`` remain.

    >>> merge_runs([1, 2, 3, 10, 40, 41, 90], gap=5, most=2)
    [(1, 41), (90, 90)]
    """
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and r - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    if len(runs) > most:
        gaps = sorted(range(len(runs) - 1), key=lambda i: (runs[i + 1][0] - runs[i][1], i))
        join = set(gaps[: len(runs) - most])
        merged = [runs[0]]
        for i in range(1, len(runs)):
            if i - 1 in join:
                merged[-1] = (merged[-1][0], runs[i][1])
            else:
                merged.append(runs[i])
        runs = merged
    return runs


def summary_entries(current: Grid | None, plan: WritePlan, budget: int) -> list[Entry]:
    """The summary tab's changed cells as A1 ranges of whole rows, at most ``budget`` bytes
    each: "" to clear, null where unchanged, a row cut after its last change (an empty row
    for a row without one: no item, no cell written), a range starting at a changed row.

    >>> tab = SummaryTab("概览", [["KPI", 1], ["延期", 2], ["完成", 3]])
    >>> plan = WritePlan("进度表", summary=tab, summary_changes={(2, 0): ("已完成", "完成")})
    >>> [(e.body["dataFilter"]["a1Range"], e.body["values"]) for e in summary_entries(None, plan, 2_000)]
    [("'概览'!A3:B3", [['完成']])]
    """
    assert plan.summary is not None
    have = current.rows if current is not None else []
    height = max(len(plan.summary.rows), len(have))
    width = max(tab_width(plan.summary), max((len(r) for r in have), default=0))
    rows: list[list[Any]] = [[None] * width for _ in range(height)]
    for (r, c), (_, new) in plan.summary_changes.items():
        rows[r][c] = wire_value(new)
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    title = quote_title(plan.summary.title)
    last = col_letter(width - 1)

    def block(r0: int, r1: int) -> Entry:
        while r1 > r0 + 1 and not rows[r1 - 1]:
            r1 -= 1
        body = {
            "dataFilter": {"a1Range": f"{title}!A{r0 + 1}:{last}{r1}"},
            "majorDimension": "ROWS",
            "values": rows[r0:r1],
        }
        return Entry(body, len(dumps(body)))

    out: list[Entry] = []
    base = 120 + len(title.encode())
    start: int | None = None
    size = 0
    for r, row in enumerate(rows):
        if start is None and not row:
            continue
        n = len(dumps(row)) + 1
        if start is not None and r > start and base + size + n > budget:
            out.append(block(start, r))
            start = None
            if not row:
                continue
        if start is None:
            start, size = r, 0
        size += n
    if start is not None:
        out.append(block(start, height))
    return out


def insert_columns(
    sheet_id: int, column_count: int, plan: WritePlan, cols: list[int]
) -> list[dict[str, Any]]:
    """Brand-new generated columns, *inserted* at their index (so they can never be a column that
    holds a person's cell), anchored with developer metadata and given the generated header's
    look — all inside the one atomic batch, where positions cannot shift under it. No values:
    those are written through the anchors afterwards."""
    reqs: list[dict[str, Any]] = []
    if cols[0] > column_count:  # only empty room up to the first new column
        reqs.append(
            {
                "appendDimension": {
                    "sheetId": sheet_id,
                    "dimension": "COLUMNS",
                    "length": cols[0] - column_count,
                }
            }
        )
    for lo, hi in runs(cols):
        reqs.append(
            {
                "insertDimension": {
                    "range": {
                        "sheetId": sheet_id,
                        "dimension": "COLUMNS",
                        "startIndex": lo,
                        "endIndex": hi + 1,
                    },
                    "inheritFromBefore": False,
                }
            }
        )
    by_col = {c: k for k, c in plan.columns.items()}
    reqs += [anchor_request(sheet_id, c, by_col[c]) for c in cols]
    hr = plan.header_row
    headers = [plan.cells[c].get(hr) for c in cols if c in plan.cells]
    font = SHEETS_FONTS[font_for(" ".join(h for h in headers if isinstance(h, str)))]
    for lo, hi in runs(cols):
        reqs.append(
            {
                "repeatCell": {
                    "range": {
                        "sheetId": sheet_id,
                        "startRowIndex": hr,
                        "endRowIndex": hr + 1,
                        "startColumnIndex": lo,
                        "endColumnIndex": hi + 1,
                    },
                    "cell": {
                        "userEnteredFormat": {
                            "textFormat": {"bold": True, "fontFamily": font},
                            "backgroundColor": HEADER_FILL,
                        }
                    },
                    "fields": "userEnteredFormat(textFormat.bold,textFormat.fontFamily,"
                    "backgroundColor)",
                }
            }
        )
    reqs += generated_look(sheet_id, plan, cols)
    return reqs


def generated_look(sheet_id: int, plan: WritePlan, cols: list[int]) -> list[dict[str, Any]]:
    """New generated columns' widths (their own, or their bold header's), and ⚙ 问题 wrapping
    below the header."""
    by_col = {c: k for k, c in plan.columns.items()}
    reqs: list[dict[str, Any]] = []
    hr = plan.header_row
    for c in cols:
        key = by_col[c]
        header = plan.cells[c].get(hr) if c in plan.cells else None
        width = generated_width(key, header if isinstance(header, str) else "")
        reqs.append(
            {
                "updateDimensionProperties": {
                    "range": {
                        "sheetId": sheet_id,
                        "dimension": "COLUMNS",
                        "startIndex": c,
                        "endIndex": c + 1,
                    },
                    "properties": {"pixelSize": int(width * PX_PER_CHAR)},
                    "fields": "pixelSize",
                }
            }
        )
        if key in WRAPPED:
            reqs.append(
                {
                    "repeatCell": {
                        "range": {
                            "sheetId": sheet_id,
                            "startRowIndex": hr + 1,
                            "startColumnIndex": c,
                            "endColumnIndex": c + 1,
                        },
                        "cell": {"userEnteredFormat": {"wrapStrategy": "WRAP"}},
                        "fields": "userEnteredFormat.wrapStrategy",
                    }
                }
            )
    return reqs


def bold_request(sheet_id: int, r0: int, r1: int, c0: int, c1: int, on: bool) -> dict[str, Any]:
    """Bold (or not) a block of cells, their values untouched."""
    return {
        "repeatCell": {
            "range": {
                "sheetId": sheet_id,
                "startRowIndex": r0,
                "endRowIndex": r1,
                "startColumnIndex": c0,
                "endColumnIndex": c1,
            },
            "cell": {"userEnteredFormat": {"textFormat": {"bold": on}}},
            "fields": "userEnteredFormat.textFormat.bold",
        }
    }


def anchor_request(sheet_id: int, col: int, key: str) -> dict[str, Any]:
    """Column-anchored developer metadata naming a generated column (it moves with the column)."""
    location = {
        "dimensionRange": {
            "sheetId": sheet_id,
            "dimension": "COLUMNS",
            "startIndex": col,
            "endIndex": col + 1,
        }
    }
    return {
        "createDeveloperMetadata": {
            "developerMetadata": {
                "metadataKey": COLUMN_KEY,
                "metadataValue": key,
                "location": location,
                "visibility": "DOCUMENT",
            }
        }
    }


def cf_json(sheet_id: int, rule: CFRule, *, bounded: bool = False) -> dict[str, Any]:
    """The Sheets rule for a CFRule. Its rows run to the end of the sheet (no ``endRowIndex``:
    "missing indexes indicate the range is unbounded", documented: Sheets API reference,
    GridRange), so rows people insert or delete never change it; ``bounded`` gives the form
    versions before 0.3 wrote (rows ending at ``last_row``)."""
    fmt: dict[str, Any] = {"backgroundColor": to_rgb(rule.fill)}
    if rule.font:
        fmt["textFormat"] = {"foregroundColor": to_rgb(rule.font)}
    rng: dict[str, Any] = {"sheetId": sheet_id, "startRowIndex": rule.first_row}
    if bounded:
        rng["endRowIndex"] = rule.last_row + 1
    rng |= {"startColumnIndex": rule.first_col, "endColumnIndex": rule.last_col + 1}
    return {
        "ranges": [rng],
        "booleanRule": {
            "condition": {
                "type": "CUSTOM_FORMULA",
                "values": [{"userEnteredValue": "=" + rule.formula}],
            },
            "format": fmt,
        },
    }


def formats_record_request(record_id: int | None, value: str | None) -> dict[str, Any]:
    """Create, update or (``value`` None) delete the job's record of its rules."""
    return record_request(FORMATS_KEY, record_id, value)


def charts_value(sheet_id: int, chart_ids: Sequence[int]) -> str:
    """The job's record of the charts it drew on tab ``sheet_id``."""
    return json.dumps({"sheetId": sheet_id, "charts": list(chart_ids)}, separators=(",", ":"))


def record_request(key: str, record_id: int | None, value: str | None) -> dict[str, Any]:
    """Create, update or (``value`` None) delete the job's spreadsheet-level record ``key``."""
    lookup = {"developerMetadataLookup": {"metadataId": record_id}}
    if value is None:
        return {"deleteDeveloperMetadata": {"dataFilter": lookup}}
    if record_id is None:
        return {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": key,
                    "metadataValue": value,
                    "location": {"spreadsheet": True},
                    "visibility": "DOCUMENT",
                }
            }
        }
    return {
        "updateDeveloperMetadata": {
            "dataFilters": [lookup],
            "developerMetadata": {"metadataValue": value},
            "fields": "metadataValue",
        }
    }


def formats_value(sheet_id: int, rules: tuple[CFRule, ...]) -> str:
    return json.dumps(
        {"sheetId": sheet_id, "rules": [r.to_json() for r in rules]},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


#: Pixels of a column per character of width, and of a row (Sheets' default row height).
PX_PER_CHAR, ROW_PX = 7, 21


def chart_request(
    sheet_id: int,
    spec: ChartSpec,
    widths: dict[int, float] | None = None,
    chart_id: int | None = None,
) -> dict[str, Any]:
    """An ``addChart`` for ``spec``: a native basic chart. "bar" is columns, "stacked" and
    "gantt" stacked horizontal bars (documented: BasicChartType BAR, BasicChartStackedType
    STACKED); the Gantt's first series (each bar's start) is painted white, the sheet's
    background (a series colour's alpha is not supported), its value axis spans ``spec.axis``
    (ChartAxisViewWindowOptions, EXPLICIT). Sheets has no axis-crossing setting, so the Gantt's
    today line is not drawn (its axis title names today). With ``spec.end`` the chart is sized to
    cover exactly those cells (``widths`` in characters, rows at Sheets' 21 px). ``chart_id``
    is the id the job records (documented, AddChartRequest: "The chartId field is optional ...
    It is an error to specify the ID of an embedded object that already exists")."""

    def source(col: int, r0: int, r1: int) -> dict[str, Any]:
        return {
            "sourceRange": {
                "sources": [
                    {
                        "sheetId": sheet_id,
                        "startRowIndex": r0,
                        "endRowIndex": r1 + 1,
                        "startColumnIndex": col,
                        "endColumnIndex": col + 1,
                    }
                ]
            }
        }

    cat_col, cat_r0, cat_r1 = spec.categories
    _, val_r0, val_r1 = spec.values
    series = []
    for i, col in enumerate(spec.value_columns):
        one: dict[str, Any] = {"series": source(col, val_r0, val_r1), "targetAxis": "BOTTOM_AXIS"
                               if spec.kind in ("stacked", "gantt") else "LEFT_AXIS"}  # fmt: skip
        color = spec.colors[i] if i < len(spec.colors) else None
        if spec.kind == "gantt" and i == 0:
            color = "FFFFFF"
        if color:
            one["colorStyle"] = {"rgbColor": to_rgb(color)}
        series.append(one)
    chart_type = {"bar": "COLUMN", "line": "LINE", "stacked": "BAR", "gantt": "BAR"}
    basic: dict[str, Any] = {
        "chartType": chart_type.get(spec.kind, "PIE"),
        "legendPosition": "BOTTOM_LEGEND" if len(series) > 1 else "NO_LEGEND",
        "headerCount": 1,
        "domains": [{"domain": source(cat_col, cat_r0 - 1, cat_r1)}],
        "series": series,
    }
    if spec.kind in ("stacked", "gantt"):
        basic["stackedType"] = "STACKED"
    if spec.kind == "gantt":
        axis: dict[str, Any] = {"position": "BOTTOM_AXIS"}
        if spec.axis_title:
            axis["title"] = spec.axis_title
        if spec.axis is not None:
            axis["viewWindowOptions"] = {
                "viewWindowMin": spec.axis[0],
                "viewWindowMax": spec.axis[1],
                "viewWindowMode": "EXPLICIT",
            }
        basic["axis"] = [axis]
    position: dict[str, Any] = {
        "anchorCell": {
            "sheetId": sheet_id,
            "rowIndex": spec.anchor[0],
            "columnIndex": spec.anchor[1],
        }
    }
    if spec.end is not None:
        w = widths or {}
        position["widthPixels"] = sum(
            int(w.get(c, 12.0) * PX_PER_CHAR) for c in range(spec.anchor[1], spec.end[1])
        )
        position["heightPixels"] = (spec.end[0] - spec.anchor[0]) * ROW_PX
    chart: dict[str, Any] = {
        "spec": {"title": spec.title, "basicChart": basic},
        "position": {"overlayPosition": position},
    }
    if chart_id is not None:
        chart["chartId"] = chart_id
    return {"addChart": {"chart": chart}}


def format_json(style: CellStyle | None, font: str | None = None) -> tuple[dict[str, Any], str]:
    """A summary cell's look as a Sheets CellFormat and the field mask naming exactly what it
    sets (so the tab's font, set once for every cell, stays).

    >>> format_json(CellStyle(bold=True, align="right"))
    ({'textFormat': {'bold': True}, 'horizontalAlignment': 'RIGHT'}, 'userEnteredFormat(textFormat.bold,horizontalAlignment)')
    """
    st = style or CellStyle()
    text: dict[str, Any] = {}
    if st.bold:
        text["bold"] = True
    if st.italic:
        text["italic"] = True
    if st.size:
        text["fontSize"] = st.size
    if st.color:
        text["foregroundColor"] = _rgb3(st.color)
    if font:
        text["fontFamily"] = font
    out: dict[str, Any] = {"textFormat": text} if text else {}
    if st.fill:
        out["backgroundColor"] = _rgb3(st.fill)
    if st.wrap:
        out["wrapStrategy"] = "WRAP"
    if st.align:
        out["horizontalAlignment"] = st.align.upper()
    if st.number:
        out["numberFormat"] = {"type": "NUMBER", "pattern": st.number}
    names = [f"textFormat.{k}" for k in text] + [k for k in out if k != "textFormat"]
    return out, f"userEnteredFormat({','.join(names)})"


def _rgb3(hex_: str) -> dict[str, float]:
    """A colour with its components to 3 decimals (what a screen shows; a smaller request)."""
    return {k: round(v, 3) for k, v in to_rgb(hex_).items()}


def style_rects(
    styles: dict[tuple[int, int], CellStyle],
) -> list[tuple[CellStyle, int, int, int, int]]:
    """The styled cells as few rectangles as a column-then-row sweep finds: (style, first row,
    last row, first column, last column), inclusive — a table's column is one rectangle, and
    neighbouring columns alike in every row merge into one.

    >>> b = CellStyle(bold=True)
    >>> style_rects({(0, 0): b, (1, 0): b, (0, 1): b, (1, 1): b, (3, 1): b})
    [(CellStyle(bold=True, size=None, color=None, fill=None, number=None, align=None, wrap=False, italic=False), 0, 1, 0, 1), (CellStyle(bold=True, size=None, color=None, fill=None, number=None, align=None, wrap=False, italic=False), 3, 3, 1, 1)]
    """
    runs: list[tuple[CellStyle, int, int, int]] = []  # (style, r0, r1, col)
    for (r, c), st in sorted(styles.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if runs and runs[-1][0] == st and runs[-1][3] == c and runs[-1][2] == r - 1:
            runs[-1] = (st, runs[-1][1], r, c)
        else:
            runs.append((st, r, r, c))
    rects: dict[tuple[CellStyle, int, int, int], int] = {}  # (style, r0, r1, last col) -> c0
    out: list[tuple[CellStyle, int, int, int, int]] = []
    for st, r0, r1, c in runs:
        c0 = rects.pop((st, r0, r1, c - 1), None)
        rects[(st, r0, r1, c)] = c if c0 is None else c0
    for (st, r0, r1, c1), c0 in rects.items():
        out.append((st, r0, r1, c0, c1))
    return sorted(out, key=lambda x: (x[1], x[3]))


#: Sheets' font for the summary, by the font the layout chose: Microsoft YaHei is not one of
#: Sheets' fonts (it would show a fallback), Noto Sans SC is (Google Fonts).
SHEETS_FONTS = {"Microsoft YaHei": "Noto Sans SC", "Calibri": "Arial"}


def summary_format_requests(
    sid: int, tab: SummaryTab, rows: int, width: int
) -> list[dict[str, Any]]:
    """The whole summary tab's look: every cell back to plain (in the tab's font), then one
    ``repeatCell`` per rectangle of cells alike (formats only, values untouched: the request
    does not grow with a table's rows), then the row heights."""
    font = SHEETS_FONTS.get(tab.font or "", tab.font)

    def repeat(
        fmt: dict[str, Any], fields: str, r0: int, r1: int, c0: int, c1: int
    ) -> dict[str, Any]:
        return {
            "repeatCell": {
                "range": {
                    "sheetId": sid,
                    "startRowIndex": r0,
                    "endRowIndex": r1 + 1,
                    "startColumnIndex": c0,
                    "endColumnIndex": c1 + 1,
                },
                "cell": {"userEnteredFormat": fmt},
                "fields": fields,
            }
        }

    # every cell back to no format (a plain cell carries none: the read stays small); then
    # each rectangle's own fields, bold text in the tab's CJK-capable font
    reqs = [repeat({}, "userEnteredFormat", 0, rows - 1, 0, width - 1)]
    reqs += [
        repeat(*format_json(st, font if st.bold else None), *box)
        for st, *box in style_rects(tab.styles)
    ]
    runs: list[tuple[int, int, float]] = []  # rows of one height, together
    for r, pt in sorted(tab.heights.items()):
        if pt < 24 and not (r - 1 in tab.heights or r + 1 in tab.heights):
            continue  # a lone section title: Sheets' own row height holds it
        if runs and runs[-1][1] == r - 1 and runs[-1][2] == pt:
            runs[-1] = (runs[-1][0], r, pt)
        else:
            runs.append((r, r, pt))
    for r0, r1, pt in runs:
        reqs.append(
            {
                "updateDimensionProperties": {
                    "range": {
                        "sheetId": sid,
                        "dimension": "ROWS",
                        "startIndex": r0,
                        "endIndex": r1 + 1,
                    },
                    "properties": {"pixelSize": int(pt * 4 / 3)},
                    "fields": "pixelSize",
                }
            }
        )
    return reqs


def meta_request(meta_id: int | None, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Create or update the job's metadata (developer metadata ``tracker_sync.meta``)."""
    value = json.dumps(meta, ensure_ascii=False, sort_keys=True)
    if meta_id is None:
        return [
            {
                "createDeveloperMetadata": {
                    "developerMetadata": {
                        "metadataKey": META_KEY,
                        "metadataValue": value,
                        "location": {"spreadsheet": True},
                        "visibility": "DOCUMENT",
                    }
                }
            }
        ]
    return [
        {
            "updateDeveloperMetadata": {
                "dataFilters": [{"developerMetadataLookup": {"metadataId": meta_id}}],
                "developerMetadata": {"metadataValue": value},
                "fields": "metadataValue",
            }
        }
    ]


def quote_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def tab_width(tab: SummaryTab) -> int:
    return max((len(r) for r in tab.rows), default=1)


def to_rgb(hex_: str) -> dict[str, float]:
    return {
        "red": int(hex_[0:2], 16) / 255,
        "green": int(hex_[2:4], 16) / 255,
        "blue": int(hex_[4:6], 16) / 255,
    }


def to_hex(color: dict[str, Any] | None) -> str | None:
    if not color:
        return None
    return "".join(f"{round(float(color.get(k, 0)) * 255):02X}" for k in ("red", "green", "blue"))


def cell_data(value: Any) -> dict[str, Any]:
    """CellData for a value: text is always a stringValue, never a formula."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, int | float):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def typed_cell_data(value: Any) -> dict[str, Any]:
    """CellData keeping a date a date (serial number + date format)."""
    if isinstance(value, dt.datetime | dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        serial: float = (day - dt.date(1899, 12, 30)).days
        if isinstance(value, dt.datetime):
            serial += (value - dt.datetime.combine(day, dt.time())).total_seconds() / 86400
        pattern = (
            "yyyy-mm-dd hh:mm:ss"
            if isinstance(value, dt.datetime) and value.time() != dt.time()
            else "yyyy-mm-dd"
        )
        return {
            "userEnteredValue": {"numberValue": serial},
            "userEnteredFormat": {"numberFormat": {"type": "DATE", "pattern": pattern}},
        }
    return cell_data(value)


def add_tab_requests(sid: int, title: str, rows: list[list[Any]]) -> list[dict[str, Any]]:
    """A new tab ``title`` holding ``rows``: dates as dates (serial numbers with a date format),
    text always as text."""
    width = max((len(r) for r in rows), default=1)
    grid_rows = [{"values": [typed_cell_data(v) for v in row]} for row in rows]
    reqs: list[dict[str, Any]] = [
        {
            "addSheet": {
                "properties": {
                    "sheetId": sid,
                    "title": title,
                    "gridProperties": {
                        "rowCount": max(len(rows) + 10, 100),
                        "columnCount": max(width, 26),
                    },
                }
            }
        }
    ]
    if rows:
        reqs.append(
            {
                "updateCells": {
                    "range": {
                        "sheetId": sid,
                        "startRowIndex": 0,
                        "endRowIndex": len(rows),
                        "startColumnIndex": 0,
                        "endColumnIndex": width,
                    },
                    "rows": grid_rows,
                    "fields": "userEnteredValue,userEnteredFormat.numberFormat",
                }
            }
        )
    return reqs


def tracker_tab_requests(
    sid: int, title: str, columns: list[Any], statuses: list[str], rows: int
) -> list[dict[str, Any]]:
    """A tracker tab from the seed template: header row, frozen header, status dropdown, date
    formats and column widths."""
    width = max(len(columns), 26)
    reqs: list[dict[str, Any]] = [
        {
            "addSheet": {
                "properties": {
                    "sheetId": sid,
                    "title": title,
                    "gridProperties": {
                        "rowCount": rows,
                        "columnCount": width,
                        "frozenRowCount": 1,
                    },
                }
            }
        },
        {
            "updateCells": {
                "range": {
                    "sheetId": sid,
                    "startRowIndex": 0,
                    "endRowIndex": 1,
                    "startColumnIndex": 0,
                    "endColumnIndex": len(columns),
                },
                "rows": [
                    {
                        "values": [
                            cell_data(col.title)
                            | {
                                "userEnteredFormat": {
                                    "textFormat": {"bold": True},
                                    "backgroundColor": TEMPLATE_HEADER_FILL,
                                    "wrapStrategy": "WRAP",
                                }
                            }
                            for col in columns
                        ]
                    }
                ],
                "fields": "userEnteredValue,userEnteredFormat",
            }
        },
    ]
    for i, col in enumerate(columns):
        body_range = {
            "sheetId": sid,
            "startRowIndex": 1,
            "endRowIndex": rows,
            "startColumnIndex": i,
            "endColumnIndex": i + 1,
        }
        reqs.append(
            {
                "updateDimensionProperties": {
                    "range": {
                        "sheetId": sid,
                        "dimension": "COLUMNS",
                        "startIndex": i,
                        "endIndex": i + 1,
                    },
                    "properties": {"pixelSize": int(col.width * 7)},
                    "fields": "pixelSize",
                }
            }
        )
        if col.type == "date":
            reqs.append(
                {
                    "repeatCell": {
                        "range": body_range,
                        "cell": {
                            "userEnteredFormat": {
                                "numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}
                            }
                        },
                        "fields": "userEnteredFormat.numberFormat",
                    }
                }
            )
        if col.type == "status":
            reqs.append(
                {
                    "setDataValidation": {
                        "range": body_range,
                        "rule": {
                            "condition": {
                                "type": "ONE_OF_LIST",
                                "values": [{"userEnteredValue": s} for s in statuses],
                            },
                            "showCustomUi": True,
                            "strict": False,  # teams write synonyms too; the rules report unknown values
                        },
                    }
                }
            )
    return reqs


def protect_requests(
    sheet_id: int, own: list[dict[str, Any]], columns: list[int]
) -> list[dict[str, Any]]:
    """Warning-only protection over the generated columns (people may still edit after a
    warning), replacing the job's own (``own``, as read)."""
    reqs: list[dict[str, Any]] = [
        {"deleteProtectedRange": {"protectedRangeId": p["protectedRangeId"]}} for p in own
    ]
    for lo, hi in runs(sorted(columns)):
        reqs.append(
            {
                "addProtectedRange": {
                    "protectedRange": {
                        "range": {
                            "sheetId": sheet_id,
                            "startColumnIndex": lo,
                            "endColumnIndex": hi + 1,
                        },
                        "description": PROTECTION_DESCRIPTION,
                        "warningOnly": True,
                    }
                }
            }
        )
    return reqs


def summary_structure(
    sid: int,
    tab: SummaryTab,
    *,
    exists: bool,
    grid_rows: int,
    grid_cols: int,
    filled: int,
    restyle: bool,
    chart: bool,
    old_charts: Sequence[int] = (),
    chart_ids: Sequence[int] = (),
) -> list[dict[str, Any]]:
    """The summary tab's structure: the tab (or room for more rows / columns), column widths,
    cell formats and row heights, charts (``old_charts``, the ids of the job's charts on it now,
    are deleted first; the new ones take ``chart_ids`` when given); its values go with the
    values write. ``grid_rows`` x ``grid_cols`` is its
    grid now and ``filled`` the rows holding something."""
    reqs: list[dict[str, Any]] = []
    height = max(len(tab.rows) + 50, 200)
    width = max(tab_width(tab), 10)
    if not exists:
        reqs.append(
            {
                "addSheet": {
                    "properties": {
                        "sheetId": sid,
                        "title": tab.title,
                        "gridProperties": {
                            "rowCount": height,
                            "columnCount": width,
                            "frozenRowCount": 1,
                            "hideGridlines": True,
                        },
                    }
                }
            }
        )
    else:
        if height > grid_rows:
            reqs.append(
                {
                    "appendDimension": {
                        "sheetId": sid,
                        "dimension": "ROWS",
                        "length": height - grid_rows,
                    }
                }
            )
        if width > grid_cols:
            reqs.append(
                {
                    "appendDimension": {
                        "sheetId": sid,
                        "dimension": "COLUMNS",
                        "length": width - grid_cols,
                    }
                }
            )
    if restyle or chart or not exists:
        for c, w in tab.widths.items():
            reqs.append(
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": sid,
                            "dimension": "COLUMNS",
                            "startIndex": c,
                            "endIndex": c + 1,
                        },
                        "properties": {"pixelSize": int(w * PX_PER_CHAR)},
                        "fields": "pixelSize",
                    }
                }
            )
    if restyle or chart:  # a new layout: every cell's look and the charts again
        rows = max(len(tab.rows), filled, 1)
        reqs += summary_format_requests(sid, tab, rows, width)
    if chart:
        reqs += [{"deleteEmbeddedObject": {"objectId": i}} for i in old_charts]
        ids: list[int | None] = [*chart_ids] or [None] * len(tab.charts)
        reqs += [
            chart_request(sid, spec, tab.widths, cid)
            for spec, cid in zip(tab.charts, ids, strict=True)
        ]
    return reqs

"""Grid decoding: the cells, percent cells and the job's column anchors from Sheets' replies."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...i18n import GENERATED_KEYS
from .build import COLUMN_KEY

_A1_END = re.compile(r":\$?([A-Z]+)\$?([0-9]+)$")


def decode_grid(
    sheet: dict[str, Any] | None,
) -> tuple[list[list[Any]], set[tuple[int, int]], dict[str, int]]:
    """Sheets grid data -> raw rows, percent cells, and the job's column anchors."""
    rows: list[list[Any]] = []
    percent: set[tuple[int, int]] = set()
    anchors: dict[str, int] = {}
    if not sheet:
        return rows, percent, anchors
    for block in sheet.get("data", []):
        r0, c0 = int(block.get("startRow", 0)), int(block.get("startColumn", 0))
        for i, meta in enumerate(block.get("columnMetadata", []) or []):
            for m in meta.get("developerMetadata", []) or []:
                if m.get("metadataKey") == COLUMN_KEY and m.get("metadataValue") in GENERATED_KEYS:
                    anchors[m["metadataValue"]] = c0 + i
        for i, row in enumerate(block.get("rowData", []) or []):
            r = r0 + i
            while len(rows) <= r:
                rows.append([])
            out = rows[r]
            for j, cell in enumerate(row.get("values", []) or []):
                c = c0 + j
                while len(out) <= c:
                    out.append(None)
                ev = cell.get("effectiveValue")
                value: Any = None
                if ev:
                    if "numberValue" in ev:
                        value = ev["numberValue"]
                    elif "stringValue" in ev:
                        value = ev["stringValue"]
                    elif "boolValue" in ev:
                        value = ev["boolValue"]
                    elif "errorValue" in ev:
                        value = "#" + str(ev["errorValue"].get("type", "ERROR"))
                out[c] = value
                fmt = cell.get("userEnteredFormat") or cell.get("effectiveFormat") or {}
                if value is not None and (fmt.get("numberFormat") or {}).get("type") == "PERCENT":
                    percent.add((r, c))
            while out and out[-1] is None:
                out.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows, percent, anchors


def decode_values(value_range: dict[str, Any] | None) -> list[list[Any]]:
    """A ``values:batchGet`` range (UNFORMATTED_VALUE, SERIAL_NUMBER, ROWS) -> raw rows, as
    :func:`decode_grid` gives them: an empty cell (``""``) is None, no trailing empties."""
    rows: list[list[Any]] = []
    for row in (value_range or {}).get("values", []) or []:
        out = [None if v == "" else v for v in row]
        while out and out[-1] is None:
            out.pop()
        rows.append(out)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def decode_percent(sheet: dict[str, Any] | None, rows: list[list[Any]]) -> set[tuple[int, int]]:
    """The cells of ``rows`` holding a number in a percent-formatted cell (``sheet``: grid data
    with the number-format type per cell)."""
    percent: set[tuple[int, int]] = set()
    for block in (sheet or {}).get("data", []):
        r0, c0 = int(block.get("startRow", 0)), int(block.get("startColumn", 0))
        for i, row in enumerate(block.get("rowData", []) or []):
            r = r0 + i
            for j, cell in enumerate(row.get("values", []) or []):
                fmt = (cell or {}).get("userEnteredFormat") or {}
                if (fmt.get("numberFormat") or {}).get("type") != "PERCENT":
                    continue
                c = c0 + j
                if r < len(rows) and c < len(rows[r]) and rows[r][c] is not None:
                    percent.add((r, c))
    return percent


#: Rows searched for the header (as the parser does).
HEADER_SCAN_ROWS = 30


def header_columns(rows: list[list[Any]], names: Callable[[object], bool]) -> list[int]:
    """The 0-based columns of ``rows`` whose header (a text cell in the first rows) ``names``
    accepts.

    >>> header_columns([["Phase", "Owner", "Task"]], lambda v: v in ("Phase", "Task"))
    [0, 2]
    """
    found: set[int] = set()
    for row in rows[:HEADER_SCAN_ROWS]:
        for c, v in enumerate(row):
            if isinstance(v, str) and v and c not in found and names(v):
                found.add(c)
    return sorted(found)


def key_columns(rows: list[list[Any]], key_header: Callable[[object], bool] | None) -> list[int]:
    """The columns whose header names a task's key column; none when ``key_header`` is None."""
    return [] if key_header is None else header_columns(rows, key_header)


def percent_columns(
    rows: list[list[Any]], percent_header: Callable[[object], bool] | None
) -> list[int] | None:
    """The columns whose header names a percent column; None when ``percent_header`` is None
    (every column may be one).

    >>> percent_columns([["Task", "Progress"], ["a", 0.5]], lambda v: v == "Progress")
    [1]
    """
    return None if percent_header is None else header_columns(rows, percent_header)


def a1_extent(a1: str) -> tuple[int, int] | None:
    """(rows, columns) of an A1 range's grid as a values reply names it (``'Tab'!A1:Z1000``).

    >>> a1_extent("'进度表'!A1:AB100003")
    (100003, 28)
    """
    m = _A1_END.search(a1)
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def reply_sheet(reply: dict[str, Any], title: str) -> dict[str, Any] | None:
    sheets = reply.get("updatedSpreadsheet", {}).get("sheets", [])
    return next((s for s in sheets if s.get("properties", {}).get("title") == title), None)


def find_anchor_ids(sheet: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
    """The tracker tab's anchors by key -> metadataId, and the keys found on several columns."""
    ids: dict[str, int] = {}
    doubled: list[str] = []
    for block in sheet.get("data", []):
        for meta in block.get("columnMetadata", []) or []:
            for m in meta.get("developerMetadata", []) or []:
                key = m.get("metadataValue")
                if m.get("metadataKey") != COLUMN_KEY or key not in GENERATED_KEYS:
                    continue
                mid = int(m.get("metadataId", 0))
                # one anchor seen in two data blocks (two ranges over its column) is one anchor
                if key in ids and ids[key] != mid and key not in doubled:
                    doubled.append(key)
                ids[key] = mid
    return ids, doubled


def created_anchor_ids(requests: list[dict[str, Any]], reply: dict[str, Any]) -> dict[str, int]:
    """Key -> metadataId of the column anchors a batchUpdate just created (its replies are in
    request order)."""
    out: dict[str, int] = {}
    replies = reply.get("replies", []) if isinstance(reply, dict) else []
    for request, answer in zip(requests, replies, strict=False):
        made = request.get("createDeveloperMetadata", {}).get("developerMetadata", {})
        if made.get("metadataKey") != COLUMN_KEY:
            continue
        meta = (answer or {}).get("createDeveloperMetadata", {}).get("developerMetadata", {})
        if meta.get("metadataId") is not None:
            out[str(made.get("metadataValue"))] = int(meta["metadataId"])
    return out


def norm_value(v: Any) -> Any:
    if v is None or v == "":
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def same_key(now: Any, before: Any) -> bool:
    """A key cell as the values reply shows it vs. as the read saw it (an error value is
    rendered differently by the two, so it is not compared)."""
    if isinstance(before, str) and before.startswith("#"):
        return True
    return bool(norm_value(now) == norm_value(before))

"""Stateful, in-memory fake of the Google Sheets API v4 served over HTTP.

The fake is meant to be driven by the *real* client stack (gspread 6.x +
google-auth + requests), so it speaks HTTP on ``127.0.0.1`` and mimics the
response shapes recorded in ``/work/shared/reference/google-sheets-api``
(cassettes of real gspread <-> Google traffic).

Quick start (pytest)::

    from tests.sheets_fake import SheetsFake, patched_gspread_urls

    with SheetsFake() as fake:
        ss_id = fake.add_spreadsheet(title="Tracker", sheets={"Tasks": [["ID", "Due"], [1, date(2024, 1, 2)]]})
        sa_path = fake.write_service_account(tmp_path / "sa.json")
        creds = service_account.Credentials.from_service_account_file(
            sa_path, scopes=["https://www.googleapis.com/auth/spreadsheets"])
        # (a) no global state: a session that rebases Google URLs onto the fake
        gc = gspread.Client(auth=creds, session=RebasingSession(creds, fake.api_endpoint))
        # (b) or patch gspread's URL constants (they are copied by value into
        #     gspread.http_client at import time, so patching gspread.urls alone
        #     is NOT enough):
        with patched_gspread_urls(fake.api_endpoint):
            gc = gspread.authorize(creds)
        gc.open_by_key(ss_id).worksheet("Tasks").get_all_values()

For pytest's ``monkeypatch``::

    for module, name, value in gspread_url_overrides(fake.api_endpoint):
        monkeypatch.setattr(module, name, value)

``api_endpoint`` is ``http://127.0.0.1:<port>``; the Sheets API lives under
``<api_endpoint>/v4/spreadsheets`` exactly like ``https://sheets.googleapis.com``.

HTTP endpoints
==============
OAuth:
  ``POST /token``  JWT-bearer grant (what ``service_account.Credentials``
  sends; the signature is not verified, the claims are decoded) and the
  ``refresh_token`` grant.  Returns ``{"access_token", "expires_in",
  "token_type": "Bearer"}``.  Every Sheets/Drive request needs
  ``Authorization: Bearer <issued token>`` or gets 401 UNAUTHENTICATED.

Sheets v4 (paths under ``/v4/spreadsheets``):
  ``POST   ''``                                   spreadsheets.create
  ``GET    /{id}``                                spreadsheets.get (ranges, includeGridData, fields)
  ``POST   /{id}:getByDataFilter``                spreadsheets.getByDataFilter
  ``POST   /{id}:batchUpdate``                    spreadsheets.batchUpdate (atomic, see below)
  ``GET    /{id}/values/{range}``                 values.get (valueRenderOption, dateTimeRenderOption, majorDimension)
  ``PUT    /{id}/values/{range}``                 values.update (valueInputOption RAW | USER_ENTERED)
  ``POST   /{id}/values/{range}:append``          values.append (insertDataOption OVERWRITE | INSERT_ROWS)
  ``POST   /{id}/values/{range}:clear``           values.clear
  ``GET    /{id}/values:batchGet``                values.batchGet
  ``POST   /{id}/values:batchUpdate``             values.batchUpdate (atomic)
  ``POST   /{id}/values:batchClear``              values.batchClear
  ``POST   /{id}/values:batchGetByDataFilter``    values.batchGetByDataFilter
  ``POST   /{id}/values:batchUpdateByDataFilter`` values.batchUpdateByDataFilter (atomic)
  ``POST   /{id}/values:batchClearByDataFilter``  values.batchClearByDataFilter
  ``POST   /{id}/developerMetadata:search``       developerMetadata.search
  ``GET    /{id}/developerMetadata/{metadataId}`` developerMetadata.get
A ``fields`` query parameter (field mask: ``a,b(c,d/e)``, ``.`` or ``/``
separators) filters any JSON success body.

Drive v3 (only what gspread needs for metadata): ``GET /drive/v3/files/{id}``
and ``GET /drive/v3/files`` (``q`` with ``name = '...'``).

batchUpdate sub-requests: updateCells, repeatCell, addSheet, deleteSheet,
duplicateSheet, updateSheetProperties, updateSpreadsheetProperties,
addConditionalFormatRule, updateConditionalFormatRule,
deleteConditionalFormatRule, addProtectedRange, updateProtectedRange,
deleteProtectedRange, createDeveloperMetadata, updateDeveloperMetadata,
deleteDeveloperMetadata, addChart, deleteEmbeddedObject, setDataValidation,
updateDimensionProperties, insertDimension, deleteDimension,
appendDimension, sortRange, mergeCells, unmergeCells, addNamedRange,
deleteNamedRange, setBasicFilter, clearBasicFilter; accepted as no-ops:
updateBorders, autoResizeDimensions, updateChartSpec,
updateEmbeddedObjectPosition, updateEmbeddedObjectBorder.  Other *known*
request kinds answer 400 "not implemented by the fake"; unknown names answer
Google's "Unknown name" 400.  Every batch is validated and applied on a copy:
if any sub-request fails, the reply is 400 INVALID_ARGUMENT
``Invalid requests[i].<kind>: <reason>`` and nothing changes.

Behaviours copied from the real API (see the cassettes):
* values responses drop trailing empty cells / rows; empty ranges have no
  ``values`` key; ``range`` is clipped to the grid (``A:A`` -> ``A1:A1000``);
  explicit ranges beyond the grid fail with "exceeds grid limits".
* UNFORMATTED_VALUE + SERIAL_NUMBER gives dates as serial days (1899-12-30
  epoch) and percents as fractions; FORMATTED_VALUE gives strings rendered
  with the cell's numberFormat and the spreadsheet locale.
* RAW input stores strings verbatim (``"=1+1"`` stays a string);
  USER_ENTERED parses numbers, percents, currency, dates, booleans, formulas
  (formulas with plain arithmetic are evaluated, others have their text as
  effective value).
* GridRange / DimensionRange outputs omit ``sheetId`` when it is 0 (proto3),
  requests with no ``sheetId`` address sheet 0.
* Row/column developer metadata is anchored to the row/column object: it
  moves with insertDimension/deleteDimension/sortRange (full-width sorts) and
  is deleted with its row.  Conditional-format, protected, merge and named
  ranges shift on insert/delete.

Python hooks (``SheetsFake``)
=============================
* lifecycle: ``start()``, ``stop()``, context manager; ``base_url`` ==
  ``api_endpoint``, ``sheets_base_url``, ``token_uri``.
* data: ``add_spreadsheet``, ``load`` / ``load_xlsx`` / ``load_json``,
  ``add_spreadsheet_resource``, ``snapshot``, ``apply_requests`` (edit as a
  collaborator, same code path as batchUpdate but not counted).
* read back: ``values``, ``cell``, ``sheet_titles``, ``sheet_properties``,
  ``spreadsheet_properties``, ``conditional_formats``, ``protected_ranges``,
  ``developer_metadata``, ``metadata_row``, ``charts``.
* human edits (1-based rows/columns like the Sheets UI): ``set_cell``,
  ``set_values``, ``insert_rows``, ``delete_rows``, ``sort_rows``,
  ``insert_columns``, ``delete_columns``, ``rename_header``, ``add_sheet``,
  ``delete_sheet``, ``rename_sheet``, ``set_note``, ``set_number_format``,
  ``add_developer_metadata``, ``set_access``.
* credentials: ``write_service_account``, ``service_account_info``,
  ``credentials``, ``gspread_client``, ``expire_tokens``.
* log: ``requests`` (list of ``RequestRecord``), ``request_count(kind)``,
  ``reset_log``.  Kinds: ``get``, ``getByDataFilter``, ``batchUpdate``,
  ``create``, ``values.get``, ``values.batchGet``, ``values.update``,
  ``values.append``, ``values.clear``, ``values.batchUpdate``,
  ``values.batchClear``, ``values.batchGetByDataFilter``,
  ``values.batchUpdateByDataFilter``, ``values.batchClearByDataFilter``,
  ``developerMetadata.search``, ``developerMetadata.get``, ``drive``,
  ``token``, ``control``, ``unknown``; groups: ``None``/``"sheets"`` (every
  Sheets v4 request), ``"values"`` (values.*), ``"read"``, ``"write"``,
  ``"all"`` (everything incl. token).
* faults / edits between requests: ``inject_fault`` and ``on_request``
  (alias ``before_request``).  **N is relative and 1-based**: ``at=1`` is the
  next request *of the given kind* (default: any Sheets v4 request; token,
  Drive and control requests never count) that arrives after the call.  Every
  arriving request counts, whatever its outcome (a request answered by an
  injected 429 counts too).  ``on_request`` callbacks run with the state lock
  held, just before the request is served, and receive the fake.
  ``set_rate_limit`` emulates the per-minute quota (429 RESOURCE_EXHAUSTED).

CLI: ``python -m tests.sheets_fake --help``.
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import datetime as dt
import functools
import json
import math
import operator
import random
import re
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Union
from urllib.parse import parse_qs, unquote, urlsplit

from google.auth.transport.requests import AuthorizedSession

JSON = dict[str, Any]
MaskTree = dict[str, Union["MaskTree", None]]

SHEETS_PREFIX = "/v4/spreadsheets"
DRIVE_PREFIX = "/drive/v3/files"
TOKEN_PATH = "/token"
CONTROL_PREFIX = "/_fake"
DEFAULT_CLIENT_EMAIL = "tracker-bot@fake-project.iam.gserviceaccount.com"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE_SHEETS = "https://www.googleapis.com/auth/spreadsheets"
READ_SCOPES = {
    SCOPE_SHEETS,
    SCOPE_SHEETS + ".readonly",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.file",
}
WRITE_SCOPES = {
    SCOPE_SHEETS,
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
}
EPOCH = dt.datetime(1899, 12, 30)
DEFAULT_ROWS = 1000
DEFAULT_COLS = 26
ROW_PIXELS = 21
COL_PIXELS = 100

_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNKNOWN",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_FAULT_MESSAGES = {
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' "
    "of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.",
    500: "Internal error encountered.",
    502: "Bad Gateway",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}
MSG_NOT_FOUND = "Requested entity was not found."
MSG_NO_PERMISSION = "The caller does not have permission"
MSG_MISSING_AUTH = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MSG_BAD_AUTH = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)

# Every request kind that exists in the real batchUpdate API (used to tell
# "not implemented by the fake" from "unknown field").
KNOWN_REQUEST_KINDS = {
    "updateSpreadsheetProperties", "updateSheetProperties", "updateDimensionProperties",
    "updateNamedRange", "repeatCell", "addNamedRange", "deleteNamedRange", "addSheet", "deleteSheet",
    "autoFill", "cutPaste", "copyPaste", "mergeCells", "unmergeCells", "updateBorders", "updateCells",
    "addFilterView", "appendCells", "clearBasicFilter", "deleteDimension", "deleteEmbeddedObject",
    "deleteFilterView", "duplicateFilterView", "duplicateSheet", "findReplace", "insertDimension",
    "insertRange", "moveDimension", "updateEmbeddedObjectPosition", "pasteData", "textToColumns",
    "updateFilterView", "deleteRange", "appendDimension", "addConditionalFormatRule",
    "updateConditionalFormatRule", "deleteConditionalFormatRule", "sortRange", "setDataValidation",
    "setBasicFilter", "addProtectedRange", "updateProtectedRange", "deleteProtectedRange",
    "autoResizeDimensions", "addChart", "updateChartSpec", "updateBanding", "addBanding",
    "deleteBanding", "createDeveloperMetadata", "updateDeveloperMetadata", "deleteDeveloperMetadata",
    "randomizeRange", "addDimensionGroup", "deleteDimensionGroup", "updateDimensionGroup",
    "trimWhitespace", "deleteDuplicates", "updateEmbeddedObjectBorder", "addSlicer", "updateSlicerSpec",
    "addDataSource", "updateDataSource", "deleteDataSource", "refreshDataSource", "cancelDataSourceRefresh",
    "addTable", "updateTable", "deleteTable",
}
NOOP_REQUEST_KINDS = {
    "updateBorders", "autoResizeDimensions", "updateChartSpec", "updateEmbeddedObjectPosition",
    "updateEmbeddedObjectBorder",
}
CELL_FIELDS = {
    "userEnteredValue", "effectiveValue", "formattedValue", "userEnteredFormat", "effectiveFormat",
    "hyperlink", "note", "textFormatRuns", "dataValidation", "pivotTable", "dataSourceTable",
    "dataSourceFormula", "chipRuns",
}
CELL_READ_ONLY = {"effectiveValue", "formattedValue", "effectiveFormat", "hyperlink", "dataSourceFormula"}
STORED_CELL_KEYS = ("userEnteredValue", "effectiveValue", "userEnteredFormat", "note", "dataValidation",
                    "textFormatRuns", "pivotTable", "chipRuns")

DEFAULT_FORMAT: JSON = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {},
        "fontFamily": "arial,sans,sans-serif",
        "fontSize": 10,
        "bold": False,
        "italic": False,
        "strikethrough": False,
        "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}
_THEME_COLORS = [
    ("TEXT", {}), ("BACKGROUND", {"red": 1, "green": 1, "blue": 1}),
    ("ACCENT1", {"red": 0.25882354, "green": 0.52156866, "blue": 0.95686275}),
    ("ACCENT2", {"red": 0.91764706, "green": 0.2627451, "blue": 0.20784314}),
    ("ACCENT3", {"red": 0.9843137, "green": 0.7372549, "blue": 0.015686275}),
    ("ACCENT4", {"red": 0.20392157, "green": 0.65882355, "blue": 0.3254902}),
    ("ACCENT5", {"red": 1, "green": 0.42745098, "blue": 0.003921569}),
    ("ACCENT6", {"red": 0.27450982, "green": 0.7411765, "blue": 0.7764706}),
    ("LINK", {"red": 0.06666667, "green": 0.33333334, "blue": 0.8}),
]
SPREADSHEET_THEME: JSON = {
    "primaryFontFamily": "Arial",
    "themeColors": [{"colorType": t, "color": {"rgbColor": c}} for t, c in _THEME_COLORS],
}


class ApiError(Exception):
    """An error answered as Google does: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, message: str, status: str | None = None,
                 headers: Mapping[str, str] | None = None, details: list[JSON] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or _STATUS_TEXT.get(code, "UNKNOWN")
        self.headers = dict(headers or {})
        self.details = details

    def body(self) -> JSON:
        err: JSON = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def _bad(message: str) -> ApiError:
    return ApiError(400, message)


class _ReqError(Exception):
    """Raised inside a batchUpdate sub-request; becomes 'Invalid requests[i].kind: msg'."""


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def _num(x: Any) -> int | float:
    """Normalise a JSON number the way Google prints it (2.0 -> 2)."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        return x
    xf = float(x)
    if math.isfinite(xf) and xf.is_integer() and abs(xf) < 2**53:
        return int(xf)
    return xf


def _jcopy(obj: Any) -> Any:
    """Fast deep copy for JSON-like data."""
    if isinstance(obj, dict):
        return {k: _jcopy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jcopy(v) for v in obj]
    return obj


def _deep_merge(base: JSON, over: Mapping[str, Any]) -> JSON:
    out = _jcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = _jcopy(v)
    return out


def _truthy(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def date_to_serial(value: dt.date | dt.datetime | dt.time) -> int | float:
    """Google/Excel serial number (days since 1899-12-30, fraction = time of day)."""
    if isinstance(value, dt.datetime):
        delta = value.replace(tzinfo=None) - EPOCH
        return _num(delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6)
    if isinstance(value, dt.date):
        return (value - EPOCH.date()).days
    if isinstance(value, dt.time):
        return _num((value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400)
    raise TypeError(value)


def serial_to_datetime(serial: float) -> dt.datetime:
    days = math.floor(serial)
    secs = round((serial - days) * 86400, 3)
    return EPOCH + dt.timedelta(days=days, seconds=secs)


def col_letters(index0: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    n = index0 + 1
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def col_index(letters: str) -> int:
    """'A' -> 0, 'AA' -> 26."""
    n = 0
    for ch in letters.upper():
        if not "A" <= ch <= "Z":
            raise ValueError(letters)
        n = n * 26 + (ord(ch) - 64)
    return n - 1


_SIMPLE_TITLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CELLISH = re.compile(r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*")


def quote_title(title: str) -> str:
    """Quote a sheet title for A1 notation only when needed (like Google's responses)."""
    if _SIMPLE_TITLE.fullmatch(title) and not _CELLISH.fullmatch(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def a1(title: str, r0: int, r1: int, c0: int, c1: int) -> str:
    """Format the half-open box [r0,r1) x [c0,c1) as 'Title!A1:B2'."""
    start = f"{col_letters(c0)}{r0 + 1}"
    if r1 - r0 == 1 and c1 - c0 == 1:
        return f"{quote_title(title)}!{start}"
    return f"{quote_title(title)}!{start}:{col_letters(c1 - 1)}{r1}"


# ---------------------------------------------------------------------------
# field masks
# ---------------------------------------------------------------------------

_IDENT = re.compile(r"\s*([A-Za-z0-9_@*]+)\s*")


def _merge_tree(a: MaskTree, b: MaskTree) -> None:
    for k, v in b.items():
        if k in a and a[k] is None:
            continue
        if v is None:
            a[k] = None
        elif k in a:
            sub = a[k]
            assert sub is not None
            _merge_tree(sub, v)
        else:
            a[k] = v


def _parse_mask_list(s: str, i: int) -> tuple[MaskTree, int]:
    tree: MaskTree = {}
    while True:
        names: list[str] = []
        while True:
            m = _IDENT.match(s, i)
            if not m:
                raise ValueError(f"Invalid field mask {s!r} at position {i}")
            names.append(m.group(1))
            i = m.end()
            if i < len(s) and s[i] in "./":
                i += 1
                continue
            break
        sub: MaskTree | None = None
        if i < len(s) and s[i] == "(":
            sub, i = _parse_mask_list(s, i + 1)
            if i >= len(s) or s[i] != ")":
                raise ValueError(f"Invalid field mask {s!r}: unbalanced parentheses")
            i += 1
            while i < len(s) and s[i] == " ":
                i += 1
        path: MaskTree = {names[-1]: sub}
        for name in reversed(names[:-1]):
            path = {name: path}
        _merge_tree(tree, path)
        if i < len(s) and s[i] == ",":
            i += 1
            continue
        return tree, i


def parse_field_mask(text: str) -> MaskTree:
    """Parse 'a,b(c,d.e),f/g' into a nested dict; a leaf (None) selects the whole value."""
    text = text.strip()
    if not text:
        return {}
    tree, i = _parse_mask_list(text, 0)
    if i != len(text):
        raise ValueError(f"Invalid field mask {text!r} at position {i}")
    return tree


def filter_fields(obj: Any, tree: MaskTree | None) -> Any:
    """Keep only the parts of ``obj`` selected by the mask (applied element-wise to lists)."""
    if tree is None or "*" in tree:
        return obj
    if isinstance(obj, list):
        return [filter_fields(v, tree) for v in obj]
    if isinstance(obj, dict):
        return {k: filter_fields(v, tree[k]) for k, v in obj.items() if k in tree}
    return obj


def apply_mask(target: JSON, source: Mapping[str, Any], tree: MaskTree) -> None:
    """Update-semantics of a field mask: masked fields are copied from source or cleared."""
    if "*" in tree:
        target.clear()
        target.update(_jcopy(dict(source)))
        return
    for key, sub in tree.items():
        if sub is None:
            if key in source and source[key] is not None:
                target[key] = _jcopy(source[key])
            else:
                target.pop(key, None)
        else:
            node = target.get(key)
            if not isinstance(node, dict):
                node = {}
            src = source.get(key)
            apply_mask(node, src if isinstance(src, dict) else {}, sub)
            if node:
                target[key] = node
            else:
                target.pop(key, None)


def _mask_paths(tree: MaskTree, prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in tree.items():
        p = f"{prefix}.{k}" if prefix else k
        out.extend([p] if v is None else _mask_paths(v, p))
    return out


# ---------------------------------------------------------------------------
# values: formulas, rendering, parsing
# ---------------------------------------------------------------------------


class Formula(str):
    """Marks a Python value as a formula in ``add_spreadsheet``/``set_cell`` (plain strings stay strings)."""


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}
_ERROR_TEXT = {
    "DIVIDE_BY_ZERO": "#DIV/0!", "VALUE": "#VALUE!", "REF": "#REF!", "NAME": "#NAME?", "NUM": "#NUM!",
    "N_A": "#N/A", "NULL_VALUE": "#NULL!", "ERROR": "#ERROR!", "LOADING": "Loading...",
}


def _eval_node(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval_node(node.operand)
        if not isinstance(v, (int, float)):
            raise ValueError
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if not isinstance(left, (int, float)) or not isinstance(right, (int, float)):
            raise ValueError
        return _BINOPS[type(node.op)](left, right)
    raise ValueError("unsupported formula")


def evaluate_formula(formula: str) -> JSON:
    """Effective value of a formula: plain arithmetic / string literals are evaluated, anything else
    keeps the formula text as its (string) effective value."""
    expr = formula[1:].strip().replace("^", "**")
    try:
        value = _eval_node(ast.parse(expr, mode="eval"))
    except ZeroDivisionError:
        return {"errorValue": {"type": "DIVIDE_BY_ZERO", "message": "Function DIVIDE parameter 2 cannot be zero."}}
    except (ValueError, SyntaxError, TypeError, OverflowError, RecursionError):
        return {"stringValue": formula}
    if isinstance(value, str):
        return {"stringValue": value}
    return {"numberValue": _num(value)}


_COMMA_DECIMAL = {
    "fr", "de", "es", "it", "pt", "nl", "ru", "pl", "cs", "sv", "da", "nb", "no", "fi", "tr", "id", "vi",
    "uk", "ro", "hu", "el", "sk", "sl", "hr", "bg", "lt", "lv", "et", "ca",
}
_DOT_GROUP = {"de", "es", "it", "pt", "nl", "id", "tr", "ro", "el", "da", "hr", "sl", "ca", "vi"}


def _separators(locale: str) -> tuple[str, str]:
    lang = locale.split("_")[0].lower()
    if lang in _COMMA_DECIMAL:
        return ",", ("." if lang in _DOT_GROUP else "\u202f" if lang == "fr" else "\u00a0")
    return ".", ","


def _us_like(locale: str) -> bool:
    return locale in ("en_US", "en", "en_PH", "es_US", "") or locale.endswith("_US")


def _default_pattern(kind: str, locale: str) -> str:
    us = _us_like(locale)
    return {
        "DATE": "M/d/yyyy" if us else "dd/MM/yyyy",
        "TIME": "h:mm:ss am/pm" if us else "HH:mm:ss",
        "DATE_TIME": "M/d/yyyy H:mm:ss" if us else "dd/MM/yyyy HH:mm:ss",
        "NUMBER": "#,##0.00",
        "PERCENT": "0.00%",
        "CURRENCY": '"$"#,##0.00' if us else '#,##0.00 "€"',
        "SCIENTIFIC": "0.00E+00",
    }.get(kind, "")


def _general_number(x: int | float, locale: str) -> str:
    dec, _ = _separators(locale)
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e15):
        return str(int(x))
    s = format(float(x), ".10g")
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}E{exp[0]}{int(exp[1:]):02d}"
    return s.replace(".", dec)


def _split_sections(pattern: str) -> list[str]:
    sections, cur, quoted, i = [], "", False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "\\" and i + 1 < len(pattern):
            cur += pattern[i:i + 2]
            i += 2
            continue
        elif ch == ";" and not quoted:
            sections.append(cur)
            cur = ""
            i += 1
            continue
        cur += ch
        i += 1
    sections.append(cur)
    return sections


def _format_number_pattern(x: float, pattern: str, locale: str) -> str:
    sections = _split_sections(pattern)
    sign = ""
    section = sections[0]
    if x < 0 and len(sections) >= 2 and sections[1].strip():
        section, x = sections[1], -x
    elif x == 0 and len(sections) >= 3 and sections[2].strip():
        section = sections[2]
    elif x < 0:
        sign, x = "-", -x
    parts: list[tuple[str, str]] = []
    core = ""
    core_done = False
    percent = 0
    i = 0
    while i < len(section):
        ch = section[i]
        if ch == '"':
            j = section.find('"', i + 1)
            j = len(section) if j < 0 else j
            parts.append(("lit", section[i + 1:j]))
            i = j + 1
        elif ch == "\\" and i + 1 < len(section):
            parts.append(("lit", section[i + 1]))
            i += 2
        elif ch in "_*" and i + 1 < len(section):
            parts.append(("lit", " " if ch == "_" else ""))
            i += 2
        elif ch == "[":
            j = section.find("]", i)
            j = len(section) if j < 0 else j
            inner = section[i + 1:j]
            if inner.startswith("$"):
                parts.append(("lit", inner[1:].split("-")[0]))
            i = j + 1
        elif ch in "0#?,." and not core_done:
            if not core:
                parts.append(("core", ""))
            core += ch
            i += 1
        elif ch in "Ee" and core and i + 1 < len(section) and section[i + 1] in "+-":
            j = i + 2
            while j < len(section) and section[j] in "0#":
                j += 1
            core += section[i:j]
            i = j
        elif ch == "%":
            percent += 1
            parts.append(("lit", "%"))
            if core:
                core_done = True
            i += 1
        else:
            if core:
                core_done = True
            parts.append(("lit", ch))
            i += 1
    x = x * (100 ** percent)
    dec, grp = _separators(locale)
    body = _render_core(x, core, dec, grp) if core else ""
    out = "".join(body if kind == "core" else text for kind, text in parts)
    return sign + out


def _render_core(x: float, core: str, dec: str, grp: str) -> str:
    exp_part = ""
    m = re.search(r"[Ee][+-][0#]+", core)
    if m:
        exp_part = m.group()
        core = core[:m.start()]
    int_pat, _, frac_pat = core.partition(".")
    grouping = "," in int_pat.strip(",")
    scale = len(int_pat) - len(int_pat.rstrip(","))
    x = x / (1000 ** scale)
    min_int = int_pat.count("0")
    frac_max = sum(1 for c in frac_pat if c in "0#?")
    frac_min = frac_pat.count("0")
    exponent = 0
    if exp_part:
        if x != 0:
            exponent = math.floor(math.log10(abs(x)))
            x = x / (10 ** exponent)
            if round(x, frac_max) >= 10:
                x, exponent = x / 10, exponent + 1
    text = f"{x:.{frac_max}f}"
    ip, _, fp = text.partition(".")
    fp = fp.rstrip("0")
    if len(fp) < frac_min:
        fp = fp + "0" * (frac_min - len(fp))
    if ip == "0" and min_int == 0:
        ip = ""
    ip = ip.rjust(min_int, "0")
    if grouping and ip:
        groups = []
        while len(ip) > 3:
            groups.insert(0, ip[-3:])
            ip = ip[:-3]
        groups.insert(0, ip)
        ip = grp.join(groups)
    out = ip + (dec + fp if fp else "")
    if exp_part:
        digits = sum(1 for c in exp_part if c in "0#")
        sign = "-" if exponent < 0 else ("+" if exp_part[1] == "+" else "")
        out += f"E{sign}{abs(exponent):0{digits}d}"
    return out or "0"


_DATE_TOKEN = re.compile(
    r'"[^"]*"|\\.|am/pm|AM/PM|a/p|A/P|\[h+\]|\[m+\]|\[s+\]|y+|Y+|m+|M+|d+|D+|h+|H+|s+|S+|\.0+|.', re.S)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _format_date_pattern(serial: float, pattern: str) -> str:
    when = serial_to_datetime(serial)
    tokens = _DATE_TOKEN.findall(pattern)
    ampm = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    kinds: list[str] = []
    for t in tokens:
        c = t[0]
        if c in "yY":
            kinds.append("y")
        elif c == "M":
            kinds.append("M")
        elif c == "m":
            kinds.append("m?")
        elif c in "dD":
            kinds.append("d")
        elif c in "hH":
            kinds.append("h")
        elif c in "sS":
            kinds.append("s")
        else:
            kinds.append("lit")
    # an 'm' right after an hour or right before seconds means minutes
    for idx, k in enumerate(kinds):
        if k != "m?":
            continue
        prev = next((kinds[j] for j in range(idx - 1, -1, -1) if kinds[j] != "lit"), None)
        nxt = next((kinds[j] for j in range(idx + 1, len(kinds)) if kinds[j] != "lit"), None)
        kinds[idx] = "min" if prev == "h" or nxt == "s" else "M"
    out: list[str] = []
    for t, k in zip(tokens, kinds):
        n = len(t)
        if k == "y":
            out.append(f"{when.year:04d}" if n >= 3 else f"{when.year % 100:02d}")
        elif k == "M":
            if n >= 5:
                out.append(_MONTHS[when.month - 1][0])
            elif n == 4:
                out.append(_MONTHS[when.month - 1])
            elif n == 3:
                out.append(_MONTHS[when.month - 1][:3])
            else:
                out.append(f"{when.month:0{n}d}")
        elif k == "d":
            if n >= 4:
                out.append(_DAYS[when.weekday()])
            elif n == 3:
                out.append(_DAYS[when.weekday()][:3])
            else:
                out.append(f"{when.day:0{n}d}")
        elif k == "h":
            hour = when.hour
            if ampm and t[0] == "h":
                hour = hour % 12 or 12
            out.append(f"{hour:0{min(n, 2)}d}")
        elif k == "min":
            out.append(f"{when.minute:0{min(n, 2)}d}")
        elif k == "s":
            out.append(f"{when.second:0{min(n, 2)}d}")
        elif t.lower() in ("am/pm", "a/p"):
            txt = "AM" if when.hour < 12 else "PM"
            out.append(txt if t.lower() == "am/pm" else txt[0])
        elif t.startswith("[") and t.endswith("]"):
            total = (serial - math.floor(serial)) * 86400 + math.floor(serial) * 86400
            unit = {"h": 3600, "m": 60, "s": 1}[t[1].lower()]
            out.append(str(int(total // unit)))
        elif t.startswith(".0"):
            frac = when.microsecond / 1e6
            out.append("." + f"{frac:.{n - 1}f}"[2:])
        elif t.startswith('"'):
            out.append(t[1:-1])
        elif t.startswith("\\"):
            out.append(t[1:])
        else:
            out.append(t)
    return "".join(out)


def format_value(ev: Mapping[str, Any] | None, number_format: Mapping[str, Any] | None, locale: str) -> str:
    """The ``formattedValue`` of a cell."""
    if not ev:
        return ""
    if "stringValue" in ev:
        return str(ev["stringValue"])
    if "boolValue" in ev:
        return "TRUE" if ev["boolValue"] else "FALSE"
    if "errorValue" in ev:
        return _ERROR_TEXT.get(ev["errorValue"].get("type", "ERROR"), "#ERROR!")
    if "numberValue" not in ev:
        return ""
    x = ev["numberValue"]
    kind = (number_format or {}).get("type", "")
    pattern = (number_format or {}).get("pattern") or _default_pattern(kind, locale)
    if kind in ("DATE", "TIME", "DATE_TIME"):
        try:
            return _format_date_pattern(float(x), pattern)
        except (OverflowError, ValueError):
            return _general_number(x, locale)
    if kind in ("NUMBER", "PERCENT", "CURRENCY", "SCIENTIFIC") and pattern:
        return _format_number_pattern(float(x), pattern, locale)
    return _general_number(x, locale)


def _is_datetime_format(nf: Mapping[str, Any] | None) -> bool:
    return bool(nf) and nf.get("type") in ("DATE", "TIME", "DATE_TIME")  # type: ignore[union-attr]


_NUM_BODY = r"(?:\d{1,3}(?:{g}\d{{3}})+|\d+)(?:{d}\d*)?|{d}\d+"


def _parse_number_text(text: str, locale: str) -> tuple[float, bool] | None:
    dec, grp = _separators(locale)
    groups = [re.escape(grp)] + ([re.escape(" ")] if grp in ("\u202f", "\u00a0") else [])
    for g in groups:
        body = _NUM_BODY.format(g=g, d=re.escape(dec))
        if re.fullmatch(f"[+-]?(?:{body})", text):
            grouped = re.search(g, text) is not None
            clean = re.sub(g, "", text).replace(dec, ".")
            return float(clean), grouped
    return None


_TIME_RE = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*([AaPp][Mm])?"


def _build_time(h: str, m: str, s: str | None, frac: str | None, ampm: str | None) -> dt.time | None:
    hour, minute, sec = int(h), int(m), int(s or 0)
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    if hour > 23 or minute > 59 or sec > 59:
        return None
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return dt.time(hour, minute, sec, micro)


def _parse_date_text(text: str, locale: str) -> tuple[int | float, JSON] | None:
    us = _us_like(locale)
    date_part, time_part = text, None
    m = re.fullmatch(r"(\S+)\s+(" + _TIME_RE + r")", text)
    if m:
        date_part, time_part = m.group(1), m.group(2)
    y = mo = d = None
    pattern = ""
    if mm := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", date_part):
        y, mo, d = int(mm[1]), int(mm[2]), int(mm[3])
        pattern = "yyyy-mm-dd"
    elif mm := re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2})", date_part):
        y, mo, d = int(mm[1]), int(mm[2]), int(mm[3])
        pattern = "yyyy/mm/dd"
    elif mm := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})", date_part):
        a, b, y = int(mm[1]), int(mm[2]), int(mm[3])
        mo, d = (a, b) if us else (b, a)
        pattern = "M/d/yyyy" if us else "dd/MM/yyyy"
    elif mm := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", date_part):
        d, mo, y = int(mm[1]), int(mm[2]), int(mm[3])
        pattern = "dd.MM.yyyy"
    else:
        if time_part is None:
            tm = re.fullmatch(_TIME_RE, text)
            if tm:
                t = _build_time(tm[1], tm[2], tm[3], tm[4], tm[5])
                if t is not None:
                    return date_to_serial(t), {"type": "TIME", "pattern": "h:mm:ss am/pm" if us else "HH:mm:ss"}
        return None
    if y < 100:
        y += 2000 if y < 30 else 1900
    try:
        day = dt.date(y, mo, d)
    except ValueError:
        return None
    if time_part is None:
        return date_to_serial(day), {"type": "DATE", "pattern": pattern}
    tm = re.fullmatch(_TIME_RE, time_part)
    assert tm is not None
    t = _build_time(tm[1], tm[2], tm[3], tm[4], tm[5])
    if t is None:
        return None
    sep_pattern = pattern + (" hh:mm:ss" if pattern.startswith("yyyy") else " H:mm:ss")
    return date_to_serial(dt.datetime.combine(day, t)), {"type": "DATE_TIME", "pattern": sep_pattern}


def parse_user_entered(text: str, locale: str) -> tuple[JSON | None, JSON | None]:
    """USER_ENTERED semantics for a string: returns (userEnteredValue or None for empty, auto numberFormat)."""
    if text == "":
        return None, None
    if text.startswith("=") and len(text) > 1:
        return {"formulaValue": text}, None
    if text.startswith("'"):
        return ({"stringValue": text[1:]} if len(text) > 1 else None), None
    t = text.strip()
    if t.upper() in ("TRUE", "FALSE"):
        return {"boolValue": t.upper() == "TRUE"}, None
    dec, _ = _separators(locale)
    if t.endswith("%"):
        parsed = _parse_number_text(t[:-1].strip(), locale)
        if parsed:
            value = parsed[0] / 100
            pattern = "0.00%" if dec in t else "0%"
            return {"numberValue": _num(round(value, 15))}, {"type": "PERCENT", "pattern": pattern}
    cm = re.fullmatch(r"([+-]?)\s*([$€£¥])\s*(.+)", t) or re.fullmatch(r"([+-]?)(.+?)\s*([$€£¥])", t)
    if cm:
        sign = cm.group(1)
        symbol, body = (cm.group(2), cm.group(3)) if cm.group(2) in "$€£¥" else (cm.group(3), cm.group(2))
        parsed = _parse_number_text(body, locale)
        if parsed:
            value = -parsed[0] if sign == "-" else parsed[0]
            pattern = f'"{symbol}"#,##0.00' if t.lstrip("+-").lstrip().startswith(symbol) else f'#,##0.00 "{symbol}"'
            return {"numberValue": _num(value)}, {"type": "CURRENCY", "pattern": pattern}
    parsed = _parse_number_text(t, locale)
    if parsed:
        value, grouped = parsed
        nf = {"type": "NUMBER", "pattern": "#,##0.00" if dec in t else "#,##0"} if grouped else None
        return {"numberValue": _num(value)}, nf
    if re.fullmatch(r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+", t):
        return {"numberValue": _num(float(t))}, {"type": "SCIENTIFIC", "pattern": "0.00E+00"}
    date = _parse_date_text(t, locale)
    if date:
        return {"numberValue": date[0]}, date[1]
    return {"stringValue": text}, None


def python_to_value(value: Any) -> tuple[JSON | None, JSON | None]:
    """Typed Python value -> (userEnteredValue, numberFormat to apply).  Strings stay strings."""
    if value is None:
        return None, None
    if isinstance(value, Formula):
        return {"formulaValue": str(value)}, None
    if isinstance(value, bool):
        return {"boolValue": value}, None
    if isinstance(value, (int, float)):
        return {"numberValue": _num(value)}, None
    if isinstance(value, dt.datetime):
        return {"numberValue": date_to_serial(value)}, {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm:ss"}
    if isinstance(value, dt.date):
        return {"numberValue": date_to_serial(value)}, {"type": "DATE", "pattern": "yyyy-mm-dd"}
    if isinstance(value, dt.time):
        return {"numberValue": date_to_serial(value)}, {"type": "TIME", "pattern": "hh:mm:ss"}
    if isinstance(value, str):
        return ({"stringValue": value} if value != "" else None), None
    try:
        return {"numberValue": _num(float(value))}, None
    except (TypeError, ValueError):
        return {"stringValue": str(value)}, None


def _normalize_number_format(nf: str | Mapping[str, Any]) -> JSON:
    if isinstance(nf, str):
        kind = nf.upper()
        if kind in ("DATE", "TIME", "DATE_TIME", "NUMBER", "PERCENT", "CURRENCY", "SCIENTIFIC", "TEXT"):
            return {"type": kind}
        if "%" in nf:
            return {"type": "PERCENT", "pattern": nf}
        return {"type": "NUMBER", "pattern": nf}
    return dict(nf)


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------


class _Row:
    """A grid row; identity matters: row-anchored developer metadata points at the object."""

    __slots__ = ("cells", "props")

    def __init__(self, cells: list[JSON] | None = None, props: JSON | None = None) -> None:
        self.cells: list[JSON] = cells if cells is not None else []
        self.props: JSON = props if props is not None else {}

    def __deepcopy__(self, memo: dict[int, Any]) -> _Row:
        new = _Row([_jcopy(c) for c in self.cells], _jcopy(self.props))
        memo[id(self)] = new
        return new


class _Col:
    __slots__ = ("props",)

    def __init__(self, props: JSON | None = None) -> None:
        self.props: JSON = props if props is not None else {}

    def __deepcopy__(self, memo: dict[int, Any]) -> _Col:
        new = _Col(_jcopy(self.props))
        memo[id(self)] = new
        return new


class _Sheet:
    def __init__(self, props: JSON, rows: int = DEFAULT_ROWS, cols: int = DEFAULT_COLS) -> None:
        self.props: JSON = props
        self.rows: list[_Row] = [_Row() for _ in range(rows)]
        self.cols: list[_Col] = [_Col() for _ in range(cols)]
        self.conditional_formats: list[JSON] = []
        self.protected_ranges: list[JSON] = []
        self.charts: list[JSON] = []
        self.merges: list[JSON] = []
        self.banded_ranges: list[JSON] = []
        self.basic_filter: JSON | None = None

    @property
    def sheet_id(self) -> int:
        return int(self.props["sheetId"])

    @property
    def title(self) -> str:
        return str(self.props["title"])

    @property
    def nrows(self) -> int:
        return len(self.rows)

    @property
    def ncols(self) -> int:
        return len(self.cols)

    def get(self, r: int, c: int) -> JSON | None:
        cells = self.rows[r].cells
        return cells[c] if c < len(cells) else None

    def ensure(self, r: int, c: int) -> JSON:
        cells = self.rows[r].cells
        if c >= len(cells):
            cells.extend({} for _ in range(c + 1 - len(cells)))
        return cells[c]


@dataclass
class _Meta:
    id: int
    key: str
    value: str | None
    visibility: str
    kind: str  # SPREADSHEET | SHEET | ROW | COLUMN
    sheet: _Sheet | None = None
    dim: _Row | _Col | None = None


@dataclass
class _Box:
    sheet: _Sheet
    r0: int
    r1: int
    c0: int
    c1: int
    anchor: bool = False

    def a1(self) -> str:
        return a1(self.sheet.title, self.r0, self.r1, self.c0, self.c1)


def _now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{dt.datetime.now(dt.timezone.utc).microsecond // 1000:03d}Z"


_A1_REF = re.compile(r"\$?([A-Za-z]*)\$?([0-9]*)")


class _Spreadsheet:
    def __init__(self, spreadsheet_id: str, title: str, locale: str, time_zone: str) -> None:
        self.id = spreadsheet_id
        self.props: JSON = {"title": title, "locale": locale, "autoRecalc": "ON_CHANGE", "timeZone": time_zone}
        self.sheets: list[_Sheet] = []
        self.metas: list[_Meta] = []
        self.named_ranges: list[JSON] = []
        self.access = "writer"
        self.created = _now_rfc3339()
        self.modified = self.created

    @property
    def locale(self) -> str:
        return str(self.props.get("locale", "en_US"))

    # -- lookup -------------------------------------------------------------
    def sheet_by_id(self, sheet_id: int | None) -> _Sheet:
        sid = int(sheet_id or 0)
        for sh in self.sheets:
            if sh.sheet_id == sid:
                return sh
        raise _ReqError(f"No grid with id: {sid}")

    def find_sheet_id(self, sheet_id: int | None) -> _Sheet | None:
        try:
            return self.sheet_by_id(sheet_id)
        except _ReqError:
            return None

    def sheet_by_title(self, title: str) -> _Sheet | None:
        for sh in self.sheets:
            if sh.title == title:
                return sh
        low = title.lower()
        for sh in self.sheets:
            if sh.title.lower() == low:
                return sh
        return None

    def sheet_named(self, title: str) -> _Sheet:
        sh = self.sheet_by_title(title)
        if sh is None:
            raise KeyError(f"no sheet titled {title!r} in spreadsheet {self.id} (have {[s.title for s in self.sheets]})")
        return sh

    def reindex(self) -> None:
        for i, sh in enumerate(self.sheets):
            sh.props["index"] = i

    # -- ranges -------------------------------------------------------------
    def resolve_a1(self, text: str) -> _Box:
        """Parse an A1 range; unbounded sides are clipped to the grid (bounds are NOT checked here)."""
        original = text
        s = text.strip()
        cells: str | None = None
        sheet: _Sheet | None
        if s.startswith("'"):
            i, title = 1, ""
            while i < len(s):
                if s[i] == "'":
                    if i + 1 < len(s) and s[i + 1] == "'":
                        title += "'"
                        i += 2
                        continue
                    break
                title += s[i]
                i += 1
            else:
                raise _bad(f"Unable to parse range: {original}")
            rest = s[i + 1:]
            if rest.startswith("!"):
                cells = rest[1:]
            elif rest:
                raise _bad(f"Unable to parse range: {original}")
            sheet = self.sheet_by_title(title)
        elif "!" in s:
            title, cells = s.rsplit("!", 1)
            sheet = self.sheet_by_title(title)
        else:
            sheet = self.sheet_by_title(s)
            if sheet is None and self.sheets:
                sheet, cells = self.sheets[0], s
        if sheet is None:
            raise _bad(f"Unable to parse range: {original}")
        if not cells:
            return _Box(sheet, 0, sheet.nrows, 0, sheet.ncols)
        parts = cells.split(":")
        if len(parts) > 2:
            raise _bad(f"Unable to parse range: {original}")
        refs = []
        for p in parts:
            m = _A1_REF.fullmatch(p.strip())
            if not m or not (m.group(1) or m.group(2)) or m.group(2) in ("0",) or \
                    (m.group(2) and int(m.group(2)) == 0):
                raise _bad(f"Unable to parse range: {original}")
            refs.append((m.group(1), m.group(2)))
        if len(refs) == 1:
            letters, digits = refs[0]
            if not letters or not digits:
                raise _bad(f"Unable to parse range: {original}")
            r, c = int(digits) - 1, col_index(letters)
            return _Box(sheet, r, r + 1, c, c + 1, anchor=True)
        (la, ld), (ra, rd) = refs
        if bool(la) != bool(ra) and not (ld and rd):
            # e.g. "A1:5" is accepted by Google as A1:Z5; keep it simple
            pass
        c0 = col_index(la) if la else 0
        c1 = col_index(ra) + 1 if ra else sheet.ncols
        r0 = int(ld) - 1 if ld else 0
        r1 = int(rd) if rd else sheet.nrows
        if not la and not ra:
            c0, c1 = 0, sheet.ncols
        if not ld and not rd:
            r0, r1 = 0, sheet.nrows
        if c1 <= c0 and ra and la:
            c0, c1 = col_index(ra), col_index(la) + 1
        if r1 <= r0 and ld and rd:
            r0, r1 = int(rd) - 1, int(ld)
        return _Box(sheet, r0, max(r1, r0), c0, max(c1, c0))

    def check_grid(self, box: _Box, r1: int | None = None, c1: int | None = None) -> None:
        r1 = box.r1 if r1 is None else r1
        c1 = box.c1 if c1 is None else c1
        if r1 > box.sheet.nrows or c1 > box.sheet.ncols:
            shown = a1(box.sheet.title, box.r0, max(r1, box.r0 + 1), box.c0, max(c1, box.c0 + 1))
            raise _bad(f"Range ({shown}) exceeds grid limits. Max rows: {box.sheet.nrows}, "
                       f"max columns: {box.sheet.ncols}")

    def resolve_grid_range(self, gr: Mapping[str, Any]) -> _Box:
        if not isinstance(gr, Mapping):
            raise _ReqError("range must be a GridRange object")
        sheet = self.sheet_by_id(gr.get("sheetId", 0))
        r0 = int(gr.get("startRowIndex", 0) or 0)
        r1 = int(gr["endRowIndex"]) if gr.get("endRowIndex") is not None else sheet.nrows
        c0 = int(gr.get("startColumnIndex", 0) or 0)
        c1 = int(gr["endColumnIndex"]) if gr.get("endColumnIndex") is not None else sheet.ncols
        if r0 < 0 or c0 < 0 or r1 < r0 or c1 < c0:
            raise _ReqError("Invalid range: start index must be <= end index and non-negative")
        if r1 > sheet.nrows or c1 > sheet.ncols:
            shown = a1(sheet.title, r0, max(r1, r0 + 1), c0, max(c1, c0 + 1))
            raise _ReqError(f"Range ({shown}) exceeds grid limits. Max rows: {sheet.nrows}, "
                            f"max columns: {sheet.ncols}")
        return _Box(sheet, r0, r1, c0, c1)

    # -- cells ----------------------------------------------------------------
    def set_user_value(self, cell: JSON, uev: JSON | None) -> None:
        if uev is None or uev.get("stringValue") == "":
            cell.pop("userEnteredValue", None)
            cell.pop("effectiveValue", None)
            return
        cell["userEnteredValue"] = uev
        cell["effectiveValue"] = evaluate_formula(uev["formulaValue"]) if "formulaValue" in uev else dict(uev)

    def write_input(self, sheet: _Sheet, r: int, c: int, value: Any, option: str, where: str = "") -> bool:
        """values-API write of one JSON value; returns False when the value is null (skipped)."""
        if value is None:
            return False
        if isinstance(value, (dict, list)):
            raise _bad(f"Invalid values{where}: {type(value).__name__}_value {json.dumps(value)}")
        cell = sheet.ensure(r, c)
        auto_nf: JSON | None = None
        if isinstance(value, bool):
            uev: JSON | None = {"boolValue": value}
        elif isinstance(value, (int, float)):
            uev = {"numberValue": _num(value)}
        else:
            text = str(value)
            existing = cell.get("userEnteredFormat", {}).get("numberFormat")
            if option == "RAW" or (existing and existing.get("type") == "TEXT"):
                uev = {"stringValue": text} if text != "" else None
            else:
                uev, auto_nf = parse_user_entered(text, self.locale)
        self.set_user_value(cell, uev)
        if auto_nf:
            existing = cell.get("userEnteredFormat", {}).get("numberFormat")
            if not existing or _is_datetime_format(existing) != _is_datetime_format(auto_nf):
                cell.setdefault("userEnteredFormat", {})["numberFormat"] = auto_nf
        if not cell:
            pass
        return True

    def render(self, cell: JSON | None, value_render: str, dt_render: str) -> Any:
        """A cell as the values API renders it; None for an empty cell."""
        if not cell:
            return None
        ev = cell.get("effectiveValue")
        if not ev:
            return None
        nf = cell.get("userEnteredFormat", {}).get("numberFormat")
        if value_render == "FORMULA":
            uev = cell.get("userEnteredValue") or {}
            if "formulaValue" in uev:
                return uev["formulaValue"]
        if value_render == "FORMATTED_VALUE":
            return format_value(ev, nf, self.locale)
        if "numberValue" in ev:
            if _is_datetime_format(nf) and dt_render == "FORMATTED_STRING":
                return format_value(ev, nf, self.locale)
            return _num(ev["numberValue"])
        if "boolValue" in ev:
            return bool(ev["boolValue"])
        if "errorValue" in ev:
            return format_value(ev, nf, self.locale)
        return ev.get("stringValue", "")

    def values_matrix(self, box: _Box, value_render: str, dt_render: str, major: str) -> list[list[Any]]:
        grid: list[list[Any]] = []
        for r in range(box.r0, box.r1):
            grid.append([self.render(box.sheet.get(r, c), value_render, dt_render) for c in range(box.c0, box.c1)])
        if major == "COLUMNS":
            grid = [list(col) for col in zip(*grid)] if grid else []
        out: list[list[Any]] = []
        for row in grid:
            while row and row[-1] is None:
                row.pop()
            out.append(["" if v is None else v for v in row])
        while out and not out[-1]:
            out.pop()
        return out

    # -- output -------------------------------------------------------------
    def sheet_props_out(self, sheet: _Sheet) -> JSON:
        props = _jcopy(sheet.props)
        props.setdefault("sheetType", "GRID")
        gp = props.get("gridProperties", {})
        out_gp: JSON = {"rowCount": sheet.nrows, "columnCount": sheet.ncols}
        for k, v in gp.items():
            if k in ("rowCount", "columnCount") or v in (0, False, None):
                continue
            out_gp[k] = v
        props["gridProperties"] = out_gp
        if not props.get("hidden"):
            props.pop("hidden", None)
        order = ["sheetId", "title", "index", "sheetType", "gridProperties"]
        return {k: props[k] for k in order if k in props} | {k: v for k, v in props.items() if k not in order}

    @staticmethod
    def grid_range_out(gr: Mapping[str, Any]) -> JSON:
        out = {k: v for k, v in gr.items() if v is not None}
        if not out.get("sheetId"):
            out.pop("sheetId", None)
        return out

    def cell_out(self, cell: JSON | None) -> JSON:
        if not cell:
            return {}
        out: JSON = {}
        uev = cell.get("userEnteredValue")
        uef = cell.get("userEnteredFormat")
        if uev:
            out["userEnteredValue"] = _jcopy(uev)
            out["effectiveValue"] = _jcopy(cell.get("effectiveValue", {}))
            out["formattedValue"] = format_value(cell.get("effectiveValue"), (uef or {}).get("numberFormat"),
                                                 self.locale)
        if uef:
            out["userEnteredFormat"] = _jcopy(uef)
        if uev or uef:
            eff = _deep_merge(DEFAULT_FORMAT, uef or {})
            eff.pop("padding", None) if False else None
            eff.setdefault("hyperlinkDisplayType", "PLAIN_TEXT")
            out["effectiveFormat"] = eff
        for key in ("note", "dataValidation", "textFormatRuns", "pivotTable", "chipRuns"):
            if cell.get(key):
                out[key] = _jcopy(cell[key])
        return out

    def _dim_positions(self, sheet: _Sheet, cache: dict[Any, dict[int, int]], kind: str) -> dict[int, int]:
        key = (id(sheet), kind)
        if key not in cache:
            seq = sheet.rows if kind == "ROW" else sheet.cols
            cache[key] = {id(obj): i for i, obj in enumerate(seq)}
        return cache[key]

    def meta_location(self, meta: _Meta, cache: dict[Any, dict[int, int]] | None = None) -> JSON:
        cache = {} if cache is None else cache
        if meta.kind == "SPREADSHEET":
            return {"locationType": "SPREADSHEET", "spreadsheet": True}
        assert meta.sheet is not None
        if meta.kind == "SHEET":
            return {"locationType": "SHEET", "sheetId": meta.sheet.sheet_id}
        idx = self._dim_positions(meta.sheet, cache, meta.kind)[id(meta.dim)]
        rng: JSON = {"sheetId": meta.sheet.sheet_id, "dimension": "ROWS" if meta.kind == "ROW" else "COLUMNS",
                     "startIndex": idx, "endIndex": idx + 1}
        if not rng["sheetId"]:
            rng.pop("sheetId")
        return {"locationType": meta.kind, "dimensionRange": rng}

    def meta_out(self, meta: _Meta, cache: dict[Any, dict[int, int]] | None = None) -> JSON:
        out: JSON = {"metadataId": meta.id, "metadataKey": meta.key}
        if meta.value is not None:
            out["metadataValue"] = meta.value
        out["location"] = self.meta_location(meta, cache)
        out["visibility"] = meta.visibility
        return out

    def meta_region(self, meta: _Meta) -> tuple[_Sheet | None, int, int, int, int]:
        if meta.kind == "SPREADSHEET" or meta.sheet is None:
            return None, 0, 0, 0, 0
        sh = meta.sheet
        if meta.kind == "SHEET":
            return sh, 0, sh.nrows, 0, sh.ncols
        if meta.kind == "ROW":
            i = sh.rows.index(meta.dim)  # type: ignore[arg-type]
            return sh, i, i + 1, 0, sh.ncols
        j = sh.cols.index(meta.dim)  # type: ignore[arg-type]
        return sh, 0, sh.nrows, j, j + 1

    def grid_data(self, box: _Box, cell_mask: MaskTree | None) -> JSON:
        sheet = box.sheet
        out: JSON = {}
        if box.r0:
            out["startRow"] = box.r0
        if box.c0:
            out["startColumn"] = box.c0
        row_data: list[JSON] = []
        for r in range(box.r0, box.r1):
            cells = sheet.rows[r].cells
            vals = [filter_fields(self.cell_out(cells[c] if c < len(cells) else None), cell_mask)
                    for c in range(box.c0, min(box.c1, max(len(cells), box.c0)))]
            while vals and not vals[-1]:
                vals.pop()
            row_data.append({"values": vals} if vals else {})
        while row_data and not row_data[-1]:
            row_data.pop()
        if row_data:
            out["rowData"] = row_data
        cache: dict[Any, dict[int, int]] = {}
        row_meta: dict[int, list[JSON]] = {}
        col_meta: dict[int, list[JSON]] = {}
        for m in self.metas:
            if m.sheet is sheet and m.kind in ("ROW", "COLUMN"):
                pos = self._dim_positions(sheet, cache, m.kind)[id(m.dim)]
                (row_meta if m.kind == "ROW" else col_meta).setdefault(pos, []).append(self.meta_out(m, cache))
        out["rowMetadata"] = [
            {"pixelSize": ROW_PIXELS} | _jcopy(sheet.rows[r].props)
            | ({"developerMetadata": row_meta[r]} if r in row_meta else {})
            for r in range(box.r0, box.r1)
        ]
        out["columnMetadata"] = [
            {"pixelSize": COL_PIXELS} | _jcopy(sheet.cols[c].props)
            | ({"developerMetadata": col_meta[c]} if c in col_meta else {})
            for c in range(box.c0, box.c1)
        ]
        return out

    def resource(self, boxes: list[_Box] | None, include_grid: bool, mask: MaskTree | None) -> JSON:
        """The Spreadsheet resource as spreadsheets.get returns it."""
        cell_mask: MaskTree | None = None
        if mask is not None:
            node: Any = mask
            for key in ("sheets", "data", "rowData", "values"):
                if node is None or "*" in node:
                    node = None
                    break
                node = node.get(key, {})
            cell_mask = node
        out: JSON = {"spreadsheetId": self.id}
        props = _jcopy(self.props)
        props["defaultFormat"] = _jcopy(DEFAULT_FORMAT)
        props["spreadsheetTheme"] = _jcopy(SPREADSHEET_THEME)
        out["properties"] = props
        wanted: list[_Sheet]
        if boxes:
            ids = {id(b.sheet) for b in boxes}
            wanted = [sh for sh in self.sheets if id(sh) in ids]
        else:
            wanted = list(self.sheets)
        cache: dict[Any, dict[int, int]] = {}
        sheets_out = []
        for sh in wanted:
            so: JSON = {"properties": self.sheet_props_out(sh)}
            if include_grid:
                my_boxes = [b for b in boxes if b.sheet is sh] if boxes else [_Box(sh, 0, sh.nrows, 0, sh.ncols)]
                so["data"] = [self.grid_data(b, cell_mask) for b in my_boxes]
            if sh.merges:
                so["merges"] = [self.grid_range_out(m) for m in sh.merges]
            if sh.conditional_formats:
                so["conditionalFormats"] = [
                    _jcopy(rule) | {"ranges": [self.grid_range_out(g) for g in rule.get("ranges", [])]}
                    for rule in sh.conditional_formats
                ]
            if sh.protected_ranges:
                so["protectedRanges"] = [
                    _jcopy(pr) | ({"range": self.grid_range_out(pr["range"])} if "range" in pr else {})
                    for pr in sh.protected_ranges
                ]
            if sh.basic_filter:
                so["basicFilter"] = _jcopy(sh.basic_filter)
            if sh.charts:
                so["charts"] = _jcopy(sh.charts)
            if sh.banded_ranges:
                so["bandedRanges"] = _jcopy(sh.banded_ranges)
            sheet_meta = [self.meta_out(m, cache) for m in self.metas if m.kind == "SHEET" and m.sheet is sh]
            if sheet_meta:
                so["developerMetadata"] = sheet_meta
            sheets_out.append(so)
        out["sheets"] = sheets_out
        if self.named_ranges:
            out["namedRanges"] = [_jcopy(nr) | {"range": self.grid_range_out(nr["range"])}
                                  for nr in self.named_ranges]
        top_meta = [self.meta_out(m, cache) for m in self.metas if m.kind == "SPREADSHEET"]
        if top_meta:
            out["developerMetadata"] = top_meta
        out["spreadsheetUrl"] = f"https://docs.google.com/spreadsheets/d/{self.id}/edit"
        if mask is not None:
            out = filter_fields(out, mask)
        return out

"""A stateful fake of the Feishu / Lark open-platform endpoints the feishu backend uses, served
over HTTP on 127.0.0.1 by a threaded server (the backend's real ``requests`` transport talks to
it through ``feishu.domain: http://127.0.0.1:<port>``).

Endpoints (paths as on open.feishu.cn; ``:t`` is a spreadsheet token)::

    POST /open-apis/auth/v3/tenant_access_token/internal
    GET  /open-apis/sheets/v3/spreadsheets/:t/sheets/query
    POST /open-apis/sheets/v3/spreadsheets                      (create, in a folder)
    GET  /open-apis/sheets/v2/spreadsheets/:t/values_batch_get
    POST /open-apis/sheets/v2/spreadsheets/:t/values_batch_update
    PUT  /open-apis/sheets/v2/spreadsheets/:t/styles_batch_update
    POST /open-apis/sheets/v2/spreadsheets/:t/sheets_batch_update (addSheet, deleteSheet, updateSheet)
    POST /open-apis/sheets/v2/spreadsheets/:t/dimension_range
    POST /open-apis/drive/v1/medias/upload_all                  (multipart: a sheet image)
    POST /open-apis/sheets/v3/spreadsheets/:t/sheets/:sid/float_images
    DELETE /open-apis/sheets/v3/spreadsheets/:t/sheets/:sid/float_images/:id
    GET  /open-apis/sheets/v3/spreadsheets/:t/sheets/:sid/float_images/query

Fidelity — what each behaviour rests on. Documented = stated on an open-platform reference page
(named by its path under open.feishu.cn/document or open.larksuite.com/document); assumed = our
reading, not found on a page. Where an assumption decides safety, the tests exercise it.

Documented:

* D1 token (ukTMukTMukTM/ukDNz4SO0MjL5QzM/auth-v3/auth/tenant_access_token_internal): POST
  app_id + app_secret -> ``{code: 0, msg, tenant_access_token, expire}``, expire in seconds, at
  most 7,200; a call with under 30 minutes left returns a new token (both stay valid).
* D2 replies are ``{code, msg, data}``, code 0 = success (every page).
* D3 values_batch_get (ukTMukTMukTM/ukTMzUjL5EzM14SOxMTN): ``ranges=r1,r2`` (``sheetId!A1:B2``),
  valueRenderOption ToString | FormattedValue | Formula | UnformattedValue, dateTimeRenderOption
  FormattedString; reply ``{revision, spreadsheetToken, totalCells, valueRanges: [{majorDimension,
  range, revision, values}]}``; a reply is limited to 10 MB (enforced: ``max_reply_bytes``).
* D4 values_batch_update (ukTMukTMukTM/uEjMzUjLxIzM14SMyMTN): ``{valueRanges: [{range, values}]}``,
  the range at least as large as the values; at most 5,000 rows and 100 columns, and at most
  50,000 characters a cell (enforced); reply ``{responses: [{spreadsheetToken, updatedRange,
  updatedRows, updatedColumns, updatedCells}], revision, spreadsheetToken}``.
* D5 a formula is written only as the object ``{"type": "formula", "text": "=..."}`` (v2
  "supported data types", ugjN1UjL4YTN14CO2UTN); a plain string is text, even "=1+1".
* D6 styles_batch_update (ukTMukTMukTM/uAzMzUjLwMzM14CMzMTN): PUT ``{data: [{ranges, style}]}``,
  a range at most 5,000 rows x 100 columns (enforced); a cell in several ranges takes the last
  style; reply has ``revision``, "counted from 0, one more per update".
* D7 sheets/query (uUDN04SN0QjL1QDN/sheets-v3/spreadsheet-sheet/query): ``{sheets: [{sheet_id,
  title, index, hidden, grid_properties: {frozen_row_count, frozen_column_count, row_count,
  column_count}, resource_type, merges}]}``; rate limit 100 a minute (enforced).
* D8 sheets_batch_update (ukTMukTMukTM/uYTMzUjL2EzM14iNxMTN and ugjMzUjL4IzM14COyMTN): addSheet
  ``{properties: {title, index}}`` -> ``replies[].addSheet.properties {sheetId, title, index}``;
  deleteSheet; updateSheet ``{properties: {sheetId, title, index, hidden, frozenRowCount,
  frozenColCount}}``; 100 requests a second.
* D9 values and styles calls: 100 requests a second per app (enforced, pages above).
* D10 error codes (sheets-v3 tables): 1310213 Permission Fail (the app is not a collaborator),
  1310214 SpreadSheet Not Found, 1310215 Sheet Id Not Found, 1310217 Too Many Request, 1310251
  Invalid Parameters — all HTTP 400.
* D12 float images (uUDN04SN0QjL1QDN/sheets-v3/spreadsheet-sheet-float_image/create, as the
  SDKs' generated models and docs comments quote it): POST ``{float_image_token, range (one
  cell), width, height (>= 20 px), offset_x, offset_y}`` -> ``{float_image: {float_image_id,
  ...}}``; the token comes from uploading the image to the sheet (drive-v1 media upload_all,
  multipart ``file_name, parent_type=sheet_image, parent_node=<spreadsheet token>, size,
  file`` -> ``{file_token}``); at most 4,000 images in a spreadsheet; DELETE by id; GET
  ``float_images/query`` -> ``{items: [{float_image_id, float_image_token, range, ...}]}``.
* D11 frequency control (server-docs/api-call-guide/frequency-control, as quoted by the issue and
  public clients): over a limit, HTTP 429 with code 99991400 and headers
  ``x-ogw-ratelimit-limit`` / ``x-ogw-ratelimit-reset`` (seconds to wait).

Assumed:

* A1 a rejected token is HTTP 400 code 99991663 (expired / unknown) or 99991661 (none sent); a
  missing scope is HTTP 400 code 99991672; a wrong secret at the token endpoint is code 10014.
  (Codes from public clients' tables, not a reference page.)
* A2 a new tab is 200 rows x 20 columns (the sheets/query example); writes outside the grid are
  refused (1310251); ``dimension_range`` ``{dimension: {sheetId, majorDimension, length}}``
  appends rows or columns, at most 5,000 a call.
* A3 value ranges come back in the order asked (``reverse_ranges`` answers them reversed; the
  backend matches them by their ``range`` and is tested both ways); ``values`` covers the range
  clipped to the grid, empty cells as null.
* A4 cell storage: a number typed as "60%" is 0.6 shown as "60%" (format "0%"); UnformattedValue
  gives 0.6, FormattedValue "60%"; a date-formatted number comes back as its formatted text with
  dateTimeRenderOption=FormattedString; "" clears a cell.
* A5 the revision goes up by one per write request and per person's edit, spreadsheet-wide.
* A6 adding tabs is limited to 20 a minute (the issue's figure; page not read).
* A8 an upload of at most 20 MB; deleting an image id that is not there is 1310246 (code assumed).
* A7 a created spreadsheet holds one tab "Sheet1" and its creator app is a collaborator; creating
  in a folder the app cannot reach is 1310213.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_ROWS = 200
DEFAULT_COLS = 20
MAX_ROWS = 5000
MAX_COLS = 100
CELL_CHARS = 50_000
MAX_REPLY_BYTES = 10 * 1024 * 1024

_RANGE = re.compile(r"^([A-Za-z0-9]+)(?:!([A-Z]+)?(\d+)?(?::([A-Z]+)?(\d+)?)?)?$")


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = chr(65 + rem) + s
    return s


def serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


class Fail(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


def _bad(msg: str) -> Fail:
    return Fail(400, 1310251, f"Invalid Parameters: {msg}")


@dataclass
class Cell:
    v: Any = None
    fmt: str | None = None
    style: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sheet:
    sheet_id: str
    title: str
    rows: int = DEFAULT_ROWS
    cols: int = DEFAULT_COLS
    hidden: bool = False
    frozen_rows: int = 0
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Spreadsheet:
    token: str
    title: str
    sheets: list[Sheet]
    collaborators: set[str]
    revision: int = 0

    def by_id(self, sid: str) -> Sheet:
        for s in self.sheets:
            if s.sheet_id == sid:
                return s
        raise Fail(400, 1310215, "Sheet Id Not Found")

    def by_title(self, title: str) -> Sheet:
        return next(s for s in self.sheets if s.title == title)


@dataclass
class Request:
    kind: str
    method: str
    path: str
    params: dict[str, str]
    body: Any


@dataclass
class _Fault:
    kind: str | None
    status: int
    code: int
    times: int
    reset: float | None
    drop: bool
    apply: bool


@dataclass
class _Hook:
    n: int
    fn: Callable[[FeishuFake], Any]
    kind: str | None


class FeishuFake:
    """The fake; ``with FeishuFake() as fake:`` serves it on 127.0.0.1."""

    def __init__(self, *, token_lifetime: int = 7200, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.token_lifetime = token_lifetime
        self.apps: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.folders: dict[str, set[str]] = {}
        #: uploaded media: file_token -> (spreadsheet token, bytes)
        self.media: dict[str, tuple[str, bytes]] = {}
        self.requests: list[Request] = []
        self.faults: list[_Fault] = []
        self.hooks: list[_Hook] = []
        self.windows: dict[tuple[str, str], deque[float]] = {}
        #: limits: (requests, seconds) per app and API group (D7, D8, D9, A6)
        self.limits = {"query": (100, 60.0), "values": (100, 1.0), "add_sheet": (20, 60.0)}
        self.max_reply_bytes = MAX_REPLY_BYTES
        self._app = ""
        #: requests refused for a rate limit
        self.refused = 0
        #: A3 turned around: value ranges answered in reverse order (tests run both)
        self.reverse_ranges = False
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FeishuFake:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm and
                # the client's delayed ACK hold each reply back for tens of milliseconds
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, headers, body = fake.handle(
                    method, self.path, dict(self.headers.items()), raw
                )
                if status == -1:  # a dropped connection
                    self.close_connection = True
                    self.connection.close()
                    return
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # ------------------------------------------------------------------ setup

    def add_app(
        self,
        app_id: str = "cli_tracker",
        secret: str = "s3cret",
        scopes: tuple[str, ...] = ("sheets:spreadsheet",),
    ) -> str:
        self.apps[app_id] = {"secret": secret, "scopes": set(scopes)}
        return app_id

    def _new_id(self, n: int = 6) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def add_spreadsheet(
        self,
        title: str = "Launch",
        sheets: dict[str, list[list[Any]]] | None = None,
        *,
        collaborators: tuple[str, ...] = ("cli_tracker",),
        token: str | None = None,
    ) -> str:
        token = token or "shtcn" + self._new_id(16)
        ss = Spreadsheet(token, title, [], set(collaborators))
        for name, rows in (sheets or {"Sheet1": []}).items():
            sheet = Sheet(self._new_id(), name)
            sheet.rows = max(DEFAULT_ROWS, len(rows) + 10)
            sheet.cols = max(DEFAULT_COLS, max((len(r) for r in rows), default=0))
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v is not None and v != "":
                        sheet.cells[(r, c)] = Cell(v)
            ss.sheets.append(sheet)
        self.spreadsheets[token] = ss
        return token

    def add_folder(self, folder: str, app_ids: tuple[str, ...] = ("cli_tracker",)) -> str:
        self.folders[folder] = set(app_ids)
        return folder

    # ------------------------------------------------------------------ inspection / people

    def sheet(self, token: str, title: str) -> Sheet:
        return self.spreadsheets[token].by_title(title)

    def sheet_titles(self, token: str) -> list[str]:
        return [s.title for s in self.spreadsheets[token].sheets]

    def values(self, token: str, title: str) -> list[list[Any]]:
        """The tab's stored values, row by row, trailing empties trimmed."""
        with self.lock:
            s = self.sheet(token, title)
            height = max((r for r, _ in s.cells), default=-1) + 1
            out = []
            for r in range(height):
                row = [s.cells[(r, c)].v if (r, c) in s.cells else None for c in range(s.cols)]
                while row and row[-1] in (None, ""):
                    row.pop()
                out.append(row)
            while out and not out[-1]:
                out.pop()
            return out

    def style(self, token: str, title: str, r: int, c: int) -> dict[str, Any]:
        """The style of a cell (0-based)."""
        cell = self.sheet(token, title).cells.get((r, c))
        return dict(cell.style) if cell else {}

    def _touch(self, token: str) -> None:
        self.spreadsheets[token].revision += 1

    def set_cell(
        self, token: str, title: str, r: int, c: int, value: Any, fmt: str | None = None
    ) -> None:
        """A person types into a cell (1-based): "80%" becomes 0.8 shown as a percentage (A4)."""
        with self.lock:
            if (
                isinstance(value, str)
                and re.fullmatch(r"\d+(\.\d+)?%", value.strip())
                and fmt is None
            ):
                value, fmt = float(value.strip()[:-1]) / 100, "0%"
            s = self.sheet(token, title)
            if value in (None, ""):
                s.cells.pop((r - 1, c - 1), None)
            else:
                cell = s.cells.setdefault((r - 1, c - 1), Cell())
                cell.v, cell.fmt = value, fmt
            self._touch(token)

    def _shift(self, s: Sheet, dim: int, at: int, n: int) -> None:
        moved: dict[tuple[int, int], Cell] = {}
        for (r, c), cell in s.cells.items():
            k = (r, c)[dim]
            if n < 0 and at <= k < at - n:
                continue
            if k >= at:
                k += n
            moved[(k, c) if dim == 0 else (r, k)] = cell
        s.cells = moved
        if dim == 0:
            s.rows += n
        else:
            s.cols += n

    def insert_rows(self, token: str, title: str, at: int, rows: list[list[Any]]) -> None:
        """A person inserts rows before 1-based row ``at``."""
        with self.lock:
            s = self.sheet(token, title)
            self._shift(s, 0, at - 1, len(rows))
            for i, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v not in (None, ""):
                        s.cells[(at - 1 + i, c)] = Cell(v)
            self._touch(token)

    def delete_rows(self, token: str, title: str, at: int, n: int = 1) -> None:
        with self.lock:
            self._shift(self.sheet(token, title), 0, at - 1, -n)
            self._touch(token)

    def insert_columns(self, token: str, title: str, at: int, n: int = 1) -> None:
        """A person inserts columns before 1-based column ``at``."""
        with self.lock:
            self._shift(self.sheet(token, title), 1, at - 1, n)
            self._touch(token)

    def sort_rows(
        self, token: str, title: str, first: int, key: Callable[[list[Any]], Any]
    ) -> None:
        """A person sorts whole rows from 1-based row ``first`` down by ``key(row values)``."""
        with self.lock:
            s = self.sheet(token, title)
            height = max((r for r, _ in s.cells), default=-1) + 1
            body = list(range(first - 1, height))
            rows = {r: {c: cell for (rr, c), cell in s.cells.items() if rr == r} for r in body}
            order = sorted(
                body,
                key=lambda r: key([rows[r][c].v if c in rows[r] else None for c in range(s.cols)]),
            )
            for r in body:
                for c in list(rows[r]):
                    s.cells.pop((r, c), None)
            for new, old in zip(body, order, strict=True):
                for c, cell in rows[old].items():
                    s.cells[(new, c)] = cell
            self._touch(token)

    def expire_tokens(self) -> None:
        """Every issued token stops working (as after its 2 h)."""
        with self.lock:
            self.tokens = {t: (a, 0.0) for t, (a, _) in self.tokens.items()}

    def count(self, kind: str) -> int:
        return sum(1 for r in self.requests if r.kind == kind)

    # ------------------------------------------------------------------ faults and hooks

    def inject(
        self,
        status: int = 429,
        code: int = 99991400,
        *,
        kind: str | None = None,
        times: int = 1,
        reset: float | None = None,
        drop: bool = False,
        apply: bool = False,
    ) -> None:
        """The next ``times`` matching requests fail (``drop``: the connection closes without a
        reply; ``apply``: the request takes effect first)."""
        self.faults.append(_Fault(kind, status, code, times, reset, drop, apply))

    def on_request(
        self, n: int, fn: Callable[[FeishuFake], Any], *, kind: str | None = None
    ) -> None:
        """Run ``fn(fake)`` just before the ``n``-th next matching API request is served (a
        person acting between two of the job's requests)."""
        self.hooks.append(_Hook(n, fn, kind))

    # ------------------------------------------------------------------ HTTP

    def handle(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(path)
        params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route = self._route(method, parts.path)
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        try:
            if ctype.startswith("multipart/form-data"):
                body = _multipart(ctype, raw)
            else:
                body = json.loads(raw) if raw else None
        except ValueError:
            return 400, {}, {"code": 1310251, "msg": "Invalid Parameters: body is not JSON"}
        kind = route[0] if route else "unknown"
        with self.lock:
            self.requests.append(Request(kind, method, parts.path, params, body))
            if kind != "token":
                for hook in list(self.hooks):
                    if hook.kind in (None, kind):
                        hook.n -= 1
                        if hook.n == 0:
                            self.hooks.remove(hook)
                            hook.fn(self)
            fault = next(
                (f for f in self.faults if f.kind in (None, kind) and kind != "token"), None
            )
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
        try:
            if route is None:
                raise Fail(404, 404, f"no route {method} {parts.path}")
            if fault is not None and not fault.apply:
                raise Fail(fault.status, fault.code, "injected", self._reset_headers(fault.reset))
            result = self._dispatch(route, headers, params, body)
            if fault is not None:
                raise Fail(
                    fault.status,
                    fault.code,
                    "injected after applying",
                    self._reset_headers(fault.reset),
                )
        except Fail as f:
            if fault is not None and fault.drop:
                return -1, {}, None
            return f.status, f.headers, {"code": f.code, "msg": f.msg}
        if kind == "token":
            return 200, {}, result
        return 200, {}, {"code": 0, "msg": "success", "data": result}

    @staticmethod
    def _reset_headers(reset: float | None) -> dict[str, str]:
        return (
            {}
            if reset is None
            else {"x-ogw-ratelimit-limit": "100", "x-ogw-ratelimit-reset": f"{reset:g}"}
        )

    def _route(self, method: str, path: str) -> tuple[str, str | None] | None:
        if method == "POST" and path == "/open-apis/auth/v3/tenant_access_token/internal":
            return "token", None
        if method == "POST" and path == "/open-apis/sheets/v3/spreadsheets":
            return "create", None
        if method == "POST" and path == "/open-apis/drive/v1/medias/upload_all":
            return "upload", None
        m = re.fullmatch(
            r"/open-apis/sheets/v3/spreadsheets/([A-Za-z0-9]+)/sheets/([A-Za-z0-9]+)/float_images(?:/([A-Za-z0-9]+))?",
            path,
        )
        if m and method in ("POST", "DELETE", "GET"):
            token, sid, image = m.groups()
            if method == "GET" and image == "query":
                return "float_image_query", f"{token}/{sid}"
            if method == "POST" and image is None:
                return "float_image_create", f"{token}/{sid}"
            if method == "DELETE" and image is not None:
                return "float_image_delete", f"{token}/{sid}/{image}"
        m = re.fullmatch(r"/open-apis/sheets/(v2|v3)/spreadsheets/([A-Za-z0-9]+)/(.+)", path)
        if not m:
            return None
        version, token, rest = m.groups()
        table = {
            ("GET", "v3", "sheets/query"): "query",
            ("GET", "v2", "values_batch_get"): "values_batch_get",
            ("POST", "v2", "values_batch_update"): "values_batch_update",
            ("PUT", "v2", "styles_batch_update"): "styles_batch_update",
            ("POST", "v2", "sheets_batch_update"): "sheets_batch_update",
            ("POST", "v2", "dimension_range"): "dimension_range",
        }
        kind = table.get((method, version, rest))
        return (kind, token) if kind else None

    def _limit(self, app: str, group: str) -> None:
        count, window = self.limits[group]
        now = time.monotonic()
        q = self.windows.setdefault((app, group), deque())
        while q and now - q[0] >= window:
            q.popleft()
        if len(q) >= count:
            self.refused += 1
            wait = max(1, int(window - (now - q[0]) + 0.999))
            raise Fail(429, 99991400, "request trigger frequency limit", self._reset_headers(wait))
        q.append(now)

    def _dispatch(
        self,
        route: tuple[str, str | None],
        headers: dict[str, str],
        params: dict[str, str],
        body: Any,
    ) -> Any:
        kind, token = route
        if kind == "token":
            return self._token(body or {})
        app = self._auth(headers)
        if "sheets:spreadsheet" not in self.apps[app]["scopes"]:
            raise Fail(
                400,
                99991672,
                "Access denied. One of the following scopes is required: [sheets:spreadsheet]",
            )
        if kind == "create":
            return self._create(app, body or {})
        if kind == "upload":
            return self._upload(app, body or {})
        assert token is not None
        token, _, rest = token.partition("/")
        ss = self.spreadsheets.get(token)
        if ss is None:
            raise Fail(400, 1310214, "SpreadSheet Not Found")
        if app not in ss.collaborators:
            raise Fail(400, 1310213, "Permission Fail")
        self._limit(app, "query" if kind == "query" else "values")
        self._app = app
        if kind.startswith("float_image"):
            return getattr(self, "_" + kind)(ss, rest, body or {})
        handler = getattr(self, "_" + kind)
        return handler(ss, params, body or {}) if kind != "query" else handler(ss)

    # ------------------------------------------------------------------ auth

    def _token(self, body: dict[str, Any]) -> dict[str, Any]:
        app = self.apps.get(str(body.get("app_id")))
        if app is None:
            raise Fail(400, 10003, "invalid param: app_id")
        if body.get("app_secret") != app["secret"]:
            raise Fail(400, 10014, "app secret invalid")
        now = time.monotonic()
        for t, (a, exp) in self.tokens.items():  # D1: the same token while 30+ minutes are left
            if a == body["app_id"] and exp - now >= 1800:
                return {"code": 0, "msg": "ok", "tenant_access_token": t, "expire": int(exp - now)}
        t = "t-" + self._new_id(32)
        self.tokens[t] = (str(body["app_id"]), now + self.token_lifetime)
        return {"code": 0, "msg": "ok", "tenant_access_token": t, "expire": self.token_lifetime}

    def _auth(self, headers: dict[str, str]) -> str:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not value.startswith("Bearer "):
            raise Fail(400, 99991661, "Missing access token for authorization")
        got = self.tokens.get(value[7:])
        if got is None or got[1] <= time.monotonic():
            raise Fail(400, 99991663, "Invalid access token for authorization")
        return got[0]

    # ------------------------------------------------------------------ sheets

    def _query(self, ss: Spreadsheet) -> dict[str, Any]:
        return {
            "sheets": [
                {
                    "sheet_id": s.sheet_id,
                    "title": s.title,
                    "index": i,
                    "hidden": s.hidden,
                    "grid_properties": {
                        "frozen_row_count": s.frozen_rows,
                        "frozen_column_count": 0,
                        "row_count": s.rows,
                        "column_count": s.cols,
                    },
                    "resource_type": "sheet",
                    "merges": [],
                }
                for i, s in enumerate(ss.sheets)
            ]
        }

    def _create(self, app: str, body: dict[str, Any]) -> dict[str, Any]:
        folder = str(body.get("folder_token") or "")
        if folder and app not in self.folders.get(folder, set()):
            raise Fail(400, 1310213, "Permission Fail")
        token = self.add_spreadsheet(str(body.get("title") or "Untitled"), collaborators=(app,))
        return {
            "spreadsheet": {
                "title": body.get("title"),
                "folder_token": folder,
                "url": f"https://sample.feishu.cn/sheets/{token}",
                "spreadsheet_token": token,
            }
        }

    def _sheets_batch_update(
        self, ss: Spreadsheet, params: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            raise _bad("requests")
        app = self._app
        replies = []
        sheets = list(ss.sheets)
        for req in reqs:
            if "addSheet" in req:
                self._limit(app, "add_sheet")
                props = req["addSheet"].get("properties") or {}
                title = str(props.get("title") or "")
                if not title or title in [s.title for s in sheets]:
                    raise _bad(f"sheet title {title!r} exists or is empty")
                sheet = Sheet(self._new_id(), title)
                index = int(props.get("index", 0))
                sheets.insert(min(index, len(sheets)), sheet)
                replies.append(
                    {
                        "addSheet": {
                            "properties": {
                                "sheetId": sheet.sheet_id,
                                "title": title,
                                "index": index,
                            }
                        }
                    }
                )
            elif "deleteSheet" in req:
                sid = req["deleteSheet"]["sheetId"]
                ss.by_id(sid)
                sheets = [s for s in sheets if s.sheet_id != sid]
                replies.append({"deleteSheet": {"result": True, "sheetId": sid}})
            elif "updateSheet" in req:
                props = req["updateSheet"].get("properties") or {}
                sheet = ss.by_id(str(props.get("sheetId")))
                if "title" in props:
                    sheet.title = str(props["title"])
                if "hidden" in props:
                    sheet.hidden = bool(props["hidden"])
                if "frozenRowCount" in props:
                    sheet.frozen_rows = int(props["frozenRowCount"])
                replies.append(
                    {
                        "updateSheet": {
                            "properties": {
                                "sheetId": sheet.sheet_id,
                                "title": sheet.title,
                                "hidden": sheet.hidden,
                            }
                        }
                    }
                )
            else:
                raise _bad(f"unsupported request {sorted(req)}")
        ss.sheets = sheets
        ss.revision += 1
        return {"replies": replies}

    def _dimension_range(
        self, ss: Spreadsheet, params: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        dim = body.get("dimension") or {}
        sheet = ss.by_id(str(dim.get("sheetId")))
        n = int(dim.get("length", 0))
        if not 0 < n <= MAX_ROWS:
            raise _bad("length must be 1..5000")
        if dim.get("majorDimension") == "ROWS":
            sheet.rows += n
        elif dim.get("majorDimension") == "COLUMNS":
            sheet.cols += n
        else:
            raise _bad("majorDimension")
        ss.revision += 1
        return {"addCount": n, "majorDimension": dim.get("majorDimension")}

    # ------------------------------------------------------------------ images

    def _upload(self, app: str, form: dict[str, Any]) -> dict[str, Any]:
        data = form.get("file")
        if form.get("parent_type") != "sheet_image" or not isinstance(data, bytes):
            raise _bad("parent_type must be sheet_image with a file")
        if str(len(data)) != str(form.get("size")) or len(data) > 20 * 1024 * 1024:
            raise _bad("size")
        ss = self.spreadsheets.get(str(form.get("parent_node")))
        if ss is None:
            raise Fail(400, 1310214, "SpreadSheet Not Found")
        if app not in ss.collaborators:
            raise Fail(400, 1310213, "Permission Fail")
        token = "box" + self._new_id(20)
        self.media[token] = (ss.token, data)
        return {"file_token": token}

    def _float_image_create(
        self, ss: Spreadsheet, rest: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        sheet = ss.by_id(rest.split("/")[0])
        media = self.media.get(str(body.get("float_image_token")))
        if media is None or media[0] != ss.token:
            raise _bad("float_image_token")
        _, top, bottom, a, b = self._box(ss, str(body.get("range")))
        if top != bottom or a != b:
            raise _bad("range must be one cell")
        if min(int(body.get("width", 20)), int(body.get("height", 20))) < 20:
            raise _bad("width and height must be at least 20")
        if sum(len(s.images) for s in ss.sheets) >= 4000:
            raise _bad("at most 4000 images in a spreadsheet")
        image_id = self._new_id(10)
        sheet.images[image_id] = {"float_image_id": image_id, **body, "png": media[1]}
        ss.revision += 1
        return {"float_image": {k: v for k, v in sheet.images[image_id].items() if k != "png"}}

    def _float_image_query(
        self, ss: Spreadsheet, rest: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        sheet = ss.by_id(rest.split("/")[0])
        return {
            "items": [{k: v for k, v in i.items() if k != "png"} for i in sheet.images.values()]
        }

    def _float_image_delete(
        self, ss: Spreadsheet, rest: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        sid, image_id = rest.split("/")
        sheet = ss.by_id(sid)
        if image_id not in sheet.images:
            raise Fail(400, 1310246, "Float Image Not Found")
        del sheet.images[image_id]
        ss.revision += 1
        return {}

    # ------------------------------------------------------------------ values

    def _box(self, ss: Spreadsheet, text: str) -> tuple[Sheet, int, int, int, int]:
        m = _RANGE.match(text)
        if not m:
            raise _bad(f"range {text!r}")
        sid, c0, r0, c1, r1 = m.groups()
        sheet = ss.by_id(sid)
        a = col_index(c0) if c0 else 0
        b = col_index(c1) if c1 else (a if c0 and not (c1 or r1) and r0 else sheet.cols - 1)
        top = int(r0) - 1 if r0 else 0
        bottom = int(r1) - 1 if r1 else (top if r0 and not (c1 or r1) else sheet.rows - 1)
        if a > b or top > bottom:
            raise _bad(f"range {text!r}")
        return sheet, top, bottom, a, b

    def _render(self, cell: Cell | None, option: str, dates: bool) -> Any:
        if cell is None or cell.v in (None, ""):
            return None
        v = cell.v
        if isinstance(v, dict) and v.get("type") == "formula":
            return v.get("text") if option == "Formula" else None
        fmt = cell.fmt or ""
        if isinstance(v, int | float) and not isinstance(v, bool):
            if "y" in fmt.lower() and (dates or option == "FormattedValue"):
                day = dt.date(1899, 12, 30) + dt.timedelta(days=int(v))
                return day.strftime("%Y/%m/%d")
            if option in ("FormattedValue", "ToString"):
                if fmt.endswith("%"):
                    return f"{v * 100:g}%"
                return f"{v:g}" if isinstance(v, float) else str(v)
        return v

    def _values_batch_get(
        self, ss: Spreadsheet, params: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        ranges = [r for r in params.get("ranges", "").split(",") if r]
        if not ranges:
            raise _bad("ranges")
        option = params.get("valueRenderOption", "ToString")
        dates = params.get("dateTimeRenderOption") == "FormattedString"
        out, total = [], 0
        for text in ranges:
            sheet, top, bottom, a, b = self._box(ss, text)
            bottom, b = min(bottom, sheet.rows - 1), min(b, sheet.cols - 1)
            values = [
                [self._render(sheet.cells.get((r, c)), option, dates) for c in range(a, b + 1)]
                for r in range(top, bottom + 1)
            ]
            total += len(values) * (b - a + 1)
            out.append(
                {
                    "majorDimension": "ROWS",
                    "range": f"{sheet.sheet_id}!{col_letters(a)}{top + 1}:{col_letters(b)}{bottom + 1}",
                    "revision": ss.revision,
                    "values": values,
                }
            )
        if self.reverse_ranges:  # A3 the other way: the reply's order is not the order asked
            out.reverse()
        reply = {
            "revision": ss.revision,
            "spreadsheetToken": ss.token,
            "totalCells": total,
            "valueRanges": out,
        }
        if len(json.dumps(reply, ensure_ascii=False).encode()) > self.max_reply_bytes:
            raise _bad("the data requested exceeds the 10 MB limit of a reply")
        return reply

    def _values_batch_update(
        self, ss: Spreadsheet, params: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        ranges = body.get("valueRanges")
        if not isinstance(ranges, list) or not ranges:
            raise _bad("valueRanges")
        plans = []
        for vr in ranges:
            sheet, top, bottom, a, b = self._box(ss, str(vr.get("range")))
            values = vr.get("values")
            if not isinstance(values, list):
                raise _bad("values")
            width = max((len(r) for r in values), default=0)
            if len(values) > bottom - top + 1 or width > b - a + 1:
                raise _bad("the range is smaller than the values")
            if len(values) > MAX_ROWS or width > MAX_COLS:
                raise _bad("more than 5000 rows or 100 columns in one range")
            if top + len(values) > sheet.rows or a + width > sheet.cols:
                raise _bad(f"range {vr.get('range')} exceeds the sheet's grid")
            for row in values:
                for v in row:
                    if isinstance(v, str) and len(v) > CELL_CHARS:
                        raise _bad("a cell holds more than 50000 characters")
            plans.append((sheet, top, a, values))
        responses = []
        for sheet, top, a, values in plans:
            cells = 0
            for i, row in enumerate(values):
                for j, v in enumerate(row):
                    key = (top + i, a + j)
                    if v is None or v == "":
                        cell = sheet.cells.get(key)
                        if cell is not None:
                            cell.v = None
                            if not cell.style and not cell.fmt:
                                del sheet.cells[key]
                    else:
                        sheet.cells.setdefault(key, Cell()).v = v
                    cells += 1
            responses.append(
                {
                    "spreadsheetToken": ss.token,
                    "updatedRange": "",
                    "updatedRows": len(values),
                    "updatedColumns": len(values[0]) if values else 0,
                    "updatedCells": cells,
                }
            )
        ss.revision += 1
        return {"responses": responses, "revision": ss.revision, "spreadsheetToken": ss.token}

    def _styles_batch_update(
        self, ss: Spreadsheet, params: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, list) or not data:
            raise _bad("data")
        boxes = []
        for entry in data:
            style = entry.get("style")
            if not isinstance(style, dict):
                raise _bad("style")
            for text in entry.get("ranges") or []:
                sheet, top, bottom, a, b = self._box(ss, str(text))
                if bottom - top + 1 > MAX_ROWS or b - a + 1 > MAX_COLS:
                    raise _bad("more than 5000 rows or 100 columns in one range")
                if bottom >= sheet.rows or b >= sheet.cols:
                    raise _bad(f"range {text} exceeds the sheet's grid")
                boxes.append((sheet, top, bottom, a, b, style))
        total = 0
        for sheet, top, bottom, a, b, style in boxes:  # D6: later entries win
            for r in range(top, bottom + 1):
                for c in range(a, b + 1):
                    cell = sheet.cells.setdefault((r, c), Cell())
                    if "formatter" in style:
                        cell.fmt = style["formatter"] or None
                    cell.style.update({k: v for k, v in style.items() if k != "formatter"})
                    total += 1
        ss.revision += 1
        return {
            "revision": ss.revision,
            "spreadsheetToken": ss.token,
            "totalUpdatedCells": total,
            "responses": [],
        }


def _multipart(ctype: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body as {field: text, file: bytes}."""
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
    )
    out: dict[str, Any] = {}
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        out[str(name)] = payload if part.get_filename() else payload.decode()
    return out


def main() -> None:
    """Serve a fake holding one tracker, for trying the backend by hand."""
    import argparse

    from sync.demo import SEED_ROWS
    from sync.rules import TEMPLATE_COLUMNS, load_rules, shipped_rules_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    rules = load_rules([shipped_rules_dir()])
    header = [rules.columns[c].title("zh-CN") for c in TEMPLATE_COLUMNS]
    with FeishuFake() as fake:
        fake.add_app()
        token = fake.add_spreadsheet(sheets={"推广进度表": [header, *[list(r) for r in SEED_ROWS]]})
        print(f"domain: {fake.base_url}  app_id: cli_tracker  secret: s3cret  spreadsheet: {token}")
        threading.Event().wait()


if __name__ == "__main__":
    main()

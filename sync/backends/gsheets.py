"""The Google Sheets backend (gspread + google-auth): one read, one atomic write, anchored columns.

Request budget of a run:

- read: one ``spreadsheets.get`` with a field mask (properties, every tab's metadata, formats,
  protections, charts and effective cell values with their number-format type);
- write, steady state: one ``values:batchUpdateByDataFilter`` (RAW, so text never becomes a
  formula). Each generated column is addressed by the job's column-anchored developer metadata,
  so a value can only ever land in a column the job owns, even if people insert, delete or move
  columns meanwhile. Unchanged cells are sent as ``null`` (skipped).
- write, when structure changes (first run, a new generated column, changed highlight rules, a
  missing summary tab or chart): one ``spreadsheets:batchUpdate``, all-or-nothing on Google's
  side; new generated columns are *inserted*, so they can never hold a person's cell.

Rows are checked, not trusted: the values write returns the task-ID column as it stands after
the write; if people inserted, deleted or sorted rows between the read and the write, the rows
just written are cleared and the run starts over from a fresh read (within the retry budget).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gspread
import requests
from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession
from gspread.exceptions import APIError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from ..cells import col_letter
from ..config import GoogleConfig, RetryConfig
from ..errors import (
    AccessDenied,
    BackendUnavailable,
    ConfigError,
    RetryRun,
    TrackerError,
    TrackerNotFound,
)
from ..i18n import GENERATED_KEYS
from ..model import (
    META_TAB,
    ApplyResult,
    CFRule,
    ChartSpec,
    Grid,
    RequestCounter,
    Snapshot,
    SummaryTab,
    WritePlan,
    meta_from_rows,
)
from ..text import redact

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger(__name__)

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]
GOOGLE_SHEETS = "https://sheets.googleapis.com"
COLUMN_KEY = "tracker_sync.column"
META_KEY = "tracker_sync.meta"
#: The job's record of the highlight rules it made (which tab, each rule's range, formula, fill).
FORMATS_KEY = "tracker_sync.formats"
PROTECTION_DESCRIPTION = "tracker-sync: generated columns (computed; edits are overwritten)"
HEADER_FILL = {"red": 0.85, "green": 0.85, "blue": 0.85}
TEMPLATE_HEADER_FILL = {"red": 0.867, "green": 0.922, "blue": 0.969}

#: The read's field mask: only what the pipeline uses. Per cell, its value and -- present only on
#: cells a person or the job formatted -- the number-format type that tells a percentage
#: (``userEnteredFormat``: ``effectiveFormat`` is on every cell, an object even when empty).
READ_FIELDS = (
    "spreadsheetId,properties(title,locale,timeZone),"
    "developerMetadata(metadataId,metadataKey,metadataValue),"
    "sheets(properties(sheetId,title,index,hidden,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "conditionalFormats,protectedRanges(protectedRangeId,range,description,warningOnly),charts(chartId),"
    "data(startRow,startColumn,columnMetadata(developerMetadata(metadataId,metadataKey,metadataValue)),"
    "rowData(values(effectiveValue,userEnteredFormat(numberFormat(type))))))"
)

#: The reply parts a structural batch needs back: the header row, values only.
HEADER_REPLY_FIELDS = (
    "updatedSpreadsheet(sheets(properties(title),"
    "data(startRow,startColumn,rowData(values(effectiveValue)))))"
)
#: The reply parts a values write needs back: which filter matched, and the echoed cells.
VALUES_REPLY_FIELDS = "totalUpdatedCells,responses(dataFilter,updatedData(majorDimension,values))"
#: Google's answer to a request over 10 MB (400, reason badRequest): reported in public issue
#: threads (e.g. jlolling/talendcomp_tGoogleSheet#1, SCRT-HQ/PSGSuite#62), not on a reference page.
GOOGLE_MAX_REQUEST = 10_485_760
_PAYLOAD_TOO_LARGE = "Request payload size exceeds the limit"

_KEY_IN_URL = re.compile(r"/spreadsheets/d/([a-zA-Z0-9-_]+)")


def spreadsheet_key(value: str) -> str:
    """The key from a spreadsheet URL, or the value itself.

    >>> spreadsheet_key("https://docs.google.com/spreadsheets/d/1AbC-d_9/edit#gid=0")
    '1AbC-d_9'
    """
    m = _KEY_IN_URL.search(value)
    return m.group(1) if m else value.strip()


class EndpointSession(AuthorizedSession):
    """An ``AuthorizedSession`` that sends Sheets API calls to ``api_endpoint`` (like
    google-api-core's ``api_endpoint`` client option): Google's by default, any
    Sheets-compatible endpoint otherwise."""

    def __init__(self, credentials: Any, api_endpoint: str, timeout: float | None = None) -> None:
        # the token request gets the same time limit as every Sheets request
        super().__init__(credentials, refresh_timeout=timeout)  # type: ignore[no-untyped-call]
        self.api_endpoint = api_endpoint.rstrip("/")

        #: The try of the request being sent (1 = first), set by the backend for the log line.
        self.attempt = 1

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if url.startswith(GOOGLE_SHEETS):
            # replies without indentation (documented: Google APIs system parameters,
            # prettyPrint): a pretty-printed grid is about half whitespace
            kwargs["params"] = {**(kwargs.get("params") or {}), "prettyPrint": "false"}
            if self.api_endpoint != GOOGLE_SHEETS:
                url = self.api_endpoint + url[len(GOOGLE_SHEETS) :]
        t0 = time.perf_counter()
        status: Any = "failed"
        size_in = 0
        try:
            response = super().request(method, url, *args, **kwargs)  # type: ignore[no-untyped-call]
            status, size_in = response.status_code, len(response.content or b"")
            return response
        finally:
            body = kwargs.get("data") or kwargs.get("json")
            size_out = len(body) if isinstance(body, bytes | str) else len(json.dumps(body or ""))
            log.debug(
                "%s %s: %s, %d bytes out, %d bytes in, %.0f ms, try %d",
                method.upper(),
                url.split("?", 1)[0],
                status,
                size_out if body else 0,
                size_in,
                (time.perf_counter() - t0) * 1000,
                self.attempt,
            )


def load_credentials(path: Path | None) -> tuple[Any, str | None]:
    """Service-account key file, else $GOOGLE_APPLICATION_CREDENTIALS, else Application Default
    Credentials; always with the spreadsheets scope only. Returns (credentials, e-mail)."""
    from google.oauth2 import service_account

    source = "google.credentials"
    if path is None and os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        path, source = (
            Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]),
            "GOOGLE_APPLICATION_CREDENTIALS",
        )
    if path is not None:
        try:
            creds = service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)  # type: ignore[no-untyped-call]
        except FileNotFoundError:
            raise ConfigError(f"{source}: credentials file {path} not found") from None
        except (ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"{source}: {path} is not a service-account key file ({exc.__class__.__name__}); "
                "download a JSON key for the service account from the Google Cloud console"
            ) from None
        return creds, creds.service_account_email
    try:
        import google.auth

        creds, _ = google.auth.default(scopes=SCOPES)  # type: ignore[no-untyped-call]
    except DefaultCredentialsError:
        raise ConfigError(
            "google.credentials: no credentials found. Set google.credentials to a service-account "
            "key file (or GOOGLE_APPLICATION_CREDENTIALS), or run `gcloud auth application-default login`"
        ) from None
    return creds, getattr(creds, "service_account_email", None)


# ---------------------------------------------------------------------------- transport


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, APIError):
        return int(exc.response.status_code)
    return None


def _transient(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(
        exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError | TransportError
    )


def _ambiguous(exc: BaseException) -> bool:
    """A failed write that may have been applied anyway (timeout, dropped connection, 5xx)."""
    status = _status(exc)
    return (status is not None and status >= 500) or (status is None and _transient(exc))


def _retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, APIError):
        value = exc.response.headers.get("Retry-After")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


#: Google's Sheets quota is counted per minute; the first wait after a bare 429, doubling.
QUOTA_WINDOW = 60.0
QUOTA_BASE = 5.0


def _google_error(exc: BaseException) -> tuple[str, set[str]]:
    """Google's message and reasons (``accessNotConfigured``, ``SERVICE_DISABLED`` ...)."""
    if not isinstance(exc, APIError):
        return "", set()
    error = exc.error if isinstance(exc.error, dict) else {}
    reasons = {str(e.get("reason")) for e in error.get("errors", []) if isinstance(e, dict)}
    reasons |= {str(d.get("reason")) for d in error.get("details", []) if isinstance(d, dict)}
    return redact(str(error.get("message", ""))), reasons - {"None"}


_DISABLED = ("has not been used in project", "it is disabled")
_ENABLE_URL = re.compile(r"https://console\.(?:developers|cloud)\.google\.com/\S+")


@dataclass
class _Policy:
    attempts: int
    max_seconds: float
    base: float = 0.5
    cap: float = 16.0
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int, exc: BaseException | None) -> float:
        hinted = _retry_after(exc)
        if hinted is not None:
            return min(hinted, self.max_seconds)
        if exc is not None and _status(exc) == 429:
            # the quota refills per minute and Google's 429s carry no Retry-After: spread the
            # tries across the window (5, 10, 20, 40 s ... with jitter), not within seconds
            step = min(QUOTA_WINDOW, QUOTA_BASE * 2 ** (attempt - 1))
            return random.uniform(0.8 * step, step)
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))  # full jitter


@dataclass
class _ReadState:
    """What the last read learned that the write needs (never shown to the pipeline)."""

    token: str
    tracker_id: int
    tracker_title: str
    column_count: int
    row_count: int
    #: The tracker tab's conditional-format rules as read, and which of them are the job's.
    cf_rules: list[dict[str, Any]]
    own_cf_indexes: list[int]
    own_protections: list[dict[str, Any]]
    meta_id: int | None
    summary_id: int | None
    summary_rows: int
    summary_cols: int
    summary_height: int
    sheet_titles: list[str] = field(default_factory=list)
    #: Generated column key -> the metadataId of its anchor on the tracker tab: every values
    #: write addresses an anchor by its id, so it matches exactly that one column.
    anchor_ids: dict[str, int] = field(default_factory=dict)
    #: Keys anchored on more than one column of the tracker tab (the run stops before writing).
    doubled: list[str] = field(default_factory=list)
    #: The job's record of its rules (developer metadata ``tracker_sync.formats``): its id and
    #: value as read, and whether a rule of the job's was found moved by people's edits.
    formats_id: int | None = None
    formats_raw: str | None = None
    formats_moved: bool = False


def open_backend(config: Config) -> SheetsBackend:
    """The registered factory (entry point ``gsheets``): ``tracker.spreadsheet`` of the config."""
    assert config.tracker.spreadsheet is not None  # the config requires it for this backend
    creds = config.resolve(config.google.credentials) if config.google.credentials else None
    return SheetsBackend(
        config.tracker.spreadsheet,
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        google=config.google,
        credentials_path=creds,
    )


class SheetsBackend:
    """A Google Sheet. ``client`` may be injected (tests); otherwise built from ``google``.

    Capabilities (:mod:`sync.backends.base`): CountsRequests, Replans (rows moved under the
    write, or a write whose outcome is unknown), AddsTabs, CreatesTracker.
    """

    def __init__(
        self,
        spreadsheet: str,
        *,
        worksheet: str | None = None,
        summary_title: str = "Summary",
        google: GoogleConfig | None = None,
        credentials_path: Path | None = None,
        client: gspread.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.google = google or GoogleConfig()
        self.key = spreadsheet_key(spreadsheet)
        self.target = self.key
        self.worksheet = worksheet
        self.summary_title = summary_title
        self.credentials_path = credentials_path
        retry: RetryConfig = self.google.retry
        self.policy = _Policy(retry.attempts, retry.max_seconds, sleep=sleep)
        self._replans = retry.attempts
        self._requests = RequestCounter()
        self._client = client
        self._email: str | None = None
        self._state: _ReadState | None = None

    # ------------------------------------------------------------------ capabilities

    @property
    def max_replans(self) -> int:
        return self._replans

    def request_counts(self) -> dict[str, int]:
        return self._requests.as_dict()

    def reset_request_counts(self) -> None:
        self._requests = RequestCounter()

    # ------------------------------------------------------------------ transport

    @property
    def client(self) -> gspread.Client:
        if self._client is None:
            creds, self._email = load_credentials(self.credentials_path)
            session = EndpointSession(creds, self.google.api_endpoint, self.google.timeout)
            self._client = gspread.Client(auth=creds, session=session)
        self._client.http_client.set_timeout(self.google.timeout)
        return self._client

    def _url(self, suffix: str = "") -> str:
        return f"{GOOGLE_SHEETS}/v4/spreadsheets/{self.key}{suffix}"

    def _call(self, kind: str, fn: Callable[[], Any], *, in_place: bool = True) -> Any:
        """Send one request with retries. ``in_place=False`` (a non-idempotent write): a 429 is
        retried here, an ambiguous failure becomes RetryRun so the run re-reads first."""
        policy = self.policy

        attempt = 0

        def count() -> Any:
            nonlocal attempt
            attempt += 1
            session = self.client.http_client.session
            if isinstance(session, EndpointSession):
                session.attempt = attempt
            if kind == "read":
                self._requests.read += 1
            else:
                self._requests.write += 1
            return fn()

        def retryable(exc: BaseException) -> bool:
            return _transient(exc) and (in_place or not _ambiguous(exc))

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            seconds = policy.wait(state.attempt_number, exc)
            log.warning(
                "spreadsheet %s: %s (attempt %d); retrying in %.1f s",
                self.key,
                self._describe(exc) if exc else "failed",
                state.attempt_number,
                seconds,
            )
            return seconds

        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
            wait=wait,
            retry=retry_if_exception(retryable),
            sleep=policy.sleep,
            reraise=True,
        )
        try:
            return retrying(count)
        except BaseException as exc:
            if not in_place and _ambiguous(exc):
                policy.sleep(policy.wait(1, exc))
                raise RetryRun(f"the write's outcome is unknown ({self._describe(exc)})") from None
            raise self._map(exc) from None

    def _describe(self, exc: BaseException) -> str:
        status = _status(exc)
        if status is not None:
            message, _ = _google_error(exc)
            return f"HTTP {status}: {message}".strip()
        if isinstance(exc, requests.exceptions.Timeout):
            return f"no answer within {self.google.timeout:g} s"
        if isinstance(exc, requests.exceptions.ConnectionError | TransportError):
            return "the connection failed or was dropped"
        return exc.__class__.__name__

    def _map(self, exc: BaseException) -> BaseException:
        """Foreign errors -> the project's, each saying what to do next (no tokens, ever)."""
        if isinstance(exc, RetryRun | TrackerError | ConfigError):
            return exc
        status = _status(exc)
        message, reasons = _google_error(exc)
        who = self._email or "the service account's e-mail"
        if status == 403 and (
            reasons & {"accessNotConfigured", "SERVICE_DISABLED"}
            or any(d in message for d in _DISABLED)
        ):
            link = _ENABLE_URL.search(message)
            where = f" at {link.group(0).rstrip('.,')}" if link else " in the Google Cloud console"
            return AccessDenied(
                f"spreadsheet {self.key}: the Google Sheets API is not enabled for the credentials' "
                f"project. Enable it{where}, wait a few minutes, and run again. (Google: {message})"
            )
        if status == 403:
            said = f" (Google: {message})" if message else ""
            return AccessDenied(
                f"spreadsheet {self.key}: permission denied. Share the spreadsheet with {who} as Editor "
                f"(Share → add that e-mail → Editor).{said}"
            )
        if status == 401 or isinstance(exc, RefreshError):
            return AccessDenied(
                f"spreadsheet {self.key}: the credentials were rejected ({message or 'token refresh failed'}); "
                "check google.credentials and that the key is still valid"
            )
        if status == 404:
            return TrackerNotFound(
                f"spreadsheet {self.key} not found: check tracker.spreadsheet (the key is the part of the URL "
                "between /d/ and /edit)"
            )
        if status == 429:
            wait = _retry_after(exc)
            when = f"after {wait:g} s" if wait is not None else "in a minute"
            return BackendUnavailable(
                f"spreadsheet {self.key}: Google Sheets API quota exceeded ({message or 'requests per minute per user'}); "
                f"gave up after {self.policy.attempts} attempts. Retry {when}, or run less often "
                "(the quota is per minute and per user)."
            )
        if _transient(exc):
            return BackendUnavailable(
                f"spreadsheet {self.key}: Google Sheets kept failing ({self._describe(exc)}); gave up after "
                f"{self.policy.attempts} attempts or {self.policy.max_seconds:g} s. Every write is all-or-nothing, "
                "so the sheet is as it was or fully synced; the next run carries on from there."
            )
        if status == 400 and _PAYLOAD_TOO_LARGE in message:
            return TrackerError(
                f"spreadsheet {self.key}: Google refused a request as too large ({message}). "
                f"The job splits its writes at google.max_request_bytes "
                f"({self.google.max_request_bytes:,} bytes); Google refuses more than "
                f"{GOOGLE_MAX_REQUEST:,} and recommends at most 2,000,000. Lower "
                "google.max_request_bytes and run again; what was written is kept and the next "
                "run carries on from there."
            )
        if status == 400:
            return TrackerError(f"spreadsheet {self.key}: Google rejected the request: {message}")
        return TrackerError(f"spreadsheet {self.key}: {self._describe(exc)}")

    # ------------------------------------------------------------------ read

    def read(self) -> Snapshot:
        http = self.client.http_client
        data = self._call(
            "read", lambda: http.request("get", self._url(), params={"fields": READ_FIELDS}).json()
        )
        sheets = data.get("sheets", [])
        titles = [s["properties"]["title"] for s in sheets]
        tracker = self._pick_tracker(sheets, titles)
        props = tracker["properties"]
        grid_props = props.get("gridProperties", {})
        rows, percent, anchors = _grid(tracker)
        anchor_ids, doubled = _anchor_ids(tracker)
        summary_sheet = next(
            (
                s
                for s in sheets
                if s["properties"]["title"] == self.summary_title and s is not tracker
            ),
            None,
        )
        summary = None
        summary_rows = summary_cols = summary_height = 0
        if summary_sheet is not None:
            srows, _, _ = _grid(summary_sheet)
            summary = Grid(self.summary_title, srows)
            sgp = summary_sheet["properties"].get("gridProperties", {})
            summary_rows, summary_cols = int(sgp.get("rowCount", 0)), int(sgp.get("columnCount", 0))
            summary_height = len(srows)
        tabs = {
            s["properties"]["title"]: Grid(s["properties"]["title"], _grid(s)[0])
            for s in sheets
            if s is not tracker and s is not summary_sheet
        }
        protections = [
            p
            for p in tracker.get("protectedRanges", [])
            if p.get("description") == PROTECTION_DESCRIPTION
        ]
        meta_id, meta = None, {}
        for m in data.get("developerMetadata", []):
            if m.get("metadataKey") == META_KEY:
                meta_id = m.get("metadataId")
                try:
                    meta = json.loads(m.get("metadataValue") or "{}")
                except json.JSONDecodeError:
                    meta = {}
        if meta_id is None and META_TAB in tabs:
            # a tracker synced as .xlsx, then uploaded: the job's metadata came along in its tab
            meta = meta_from_rows(tabs[META_TAB].rows)
        meta = meta if isinstance(meta, dict) else {}
        tracker_id = int(props.get("sheetId", 0))
        row_count = int(grid_props.get("rowCount", 1000))
        cf_rules = list(tracker.get("conditionalFormats", []))
        recorded, formats_id, formats_raw = _formats_record(
            data.get("developerMetadata", []), tracker_id
        )
        own = _own_rules(
            tracker_id,
            cf_rules,
            recorded if recorded is not None else _legacy_record(meta),
            row_count,
        )
        token = f"{self.key}:{uuid.uuid4().hex}"  # this read of this backend, nobody else's
        self._state = _ReadState(
            token=token,
            tracker_id=tracker_id,
            tracker_title=props["title"],
            column_count=int(grid_props.get("columnCount", 26)),
            row_count=row_count,
            cf_rules=cf_rules,
            own_cf_indexes=list(own.indexes),
            own_protections=protections,
            meta_id=meta_id,
            summary_id=int(summary_sheet["properties"]["sheetId"]) if summary_sheet else None,
            summary_rows=summary_rows,
            summary_cols=summary_cols,
            summary_height=summary_height,
            sheet_titles=titles,
            anchor_ids=anchor_ids,
            doubled=doubled,
            formats_id=formats_id,
            formats_raw=formats_raw,
            formats_moved=own.moved,
        )
        return Snapshot(
            target=self.key,
            tracker=Grid(props["title"], rows, frozenset(percent)),
            sheet_titles=tuple(titles),
            summary=summary,
            time_zone=data.get("properties", {}).get("timeZone"),
            conditional_formats=own.rules,
            meta=meta,
            version=token,
            # the job's rules run to the end of the sheet, whatever its size (see _cf_json)
            row_capacity=None,
            owned_columns=anchors,
            summary_charts=len(summary_sheet.get("charts") or []) if summary_sheet else 0,
            tabs=tabs,
        )

    def _pick_tracker(self, sheets: list[dict[str, Any]], titles: list[str]) -> dict[str, Any]:
        if self.worksheet:
            for s in sheets:
                if s["properties"]["title"] == self.worksheet:
                    return s
            tabs = ", ".join(repr(t) for t in titles)
            raise TrackerNotFound(
                f"spreadsheet {self.key}: no tab named {self.worksheet!r}; the tabs are: {tabs} (set tracker.worksheet)"
            )
        for s in sheets:
            p = s["properties"]
            if not p.get("hidden") and p["title"] != self.summary_title:
                return s
        raise TrackerNotFound(f"spreadsheet {self.key}: no tracker tab (the tabs are: {titles})")

    # ------------------------------------------------------------------ restore

    def _refuse_existing(self, title: str, advice: str) -> None:
        """One small read of the tab titles; an existing tab of that name is an error."""
        http = self.client.http_client
        fields: dict[str, Any] = {"fields": "sheets(properties(title))"}
        data = self._call(
            "read", lambda: http.request("get", self._url(), params=dict(fields)).json()
        )
        if title in [s["properties"]["title"] for s in data.get("sheets", [])]:
            raise TrackerError(
                f"spreadsheet {self.key} already has a tab named {title!r}; {advice}"
            )

    def add_tab(self, title: str, rows: list[list[Any]]) -> None:
        """Write ``rows`` into a new tab (refusing an existing one) in one atomic batchUpdate.
        Dates are written as dates (serial numbers with a date format), text always as text."""
        self._refuse_existing(title, "choose another name")
        http = self.client.http_client
        sid = random.randint(10_000_000, 2_000_000_000)
        width = max((len(r) for r in rows), default=1)
        grid_rows = [{"values": [_typed_cell(v) for v in row]} for row in rows]
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
        self._call("write", lambda: http.batch_update(self.key, {"requests": reqs}), in_place=False)

    # ------------------------------------------------------------------ init

    def create_tracker_tab(
        self, title: str, columns: list[Any], statuses: list[str], rows: int = 1000
    ) -> None:
        """Add a tracker tab from the seed template: header row, frozen header, status dropdown,
        date formats and column widths, in one atomic batchUpdate. Refuses an existing tab."""
        self._refuse_existing(
            title, "init never overwrites a tab (choose another name with --worksheet)"
        )
        http = self.client.http_client
        sid = random.randint(10_000_000, 2_000_000_000)
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
                                _cell(col.title)
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
        self._call("write", lambda: http.batch_update(self.key, {"requests": reqs}), in_place=False)

    # ------------------------------------------------------------------ write

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        st = self._state
        if st is None or st.token != snapshot.version:
            raise TrackerError("apply() needs the snapshot read by this backend")
        if plan.is_empty:
            return ApplyResult(0, requests=0)
        if st.doubled:
            raise TrackerError(
                f"spreadsheet {self.key}: the job's anchor for {', '.join(st.doubled)} is on more "
                f"than one column of tab {st.tracker_title!r} (a copied column?); nothing was "
                "written. Delete the copied ⚙ column so each generated column exists once."
            )
        writes_before = self._requests.write
        fresh_cols = sorted(plan.columns[k] for k in plan.new_columns)
        structural: list[dict[str, Any]] = []
        restyle = plan.summary is not None and (
            st.summary_id is None
            or len(plan.summary.rows) > st.summary_rows
            or _width(plan.summary) > st.summary_cols
        )
        summary_id = (
            st.summary_id
            if st.summary_id is not None
            else random.randint(10_000_000, 2_000_000_000)
        )

        if fresh_cols:
            structural += _insert_columns(st.tracker_id, st.column_count, plan, fresh_cols)
        if fresh_cols or not st.own_protections:
            structural += self._protect(st, plan)
        cf_checks: list[tuple[int, dict[str, Any]]] = []
        if plan.conditional_formats is not None:
            reqs, checks = self._formats(st, plan.conditional_formats)
            cf_checks = [(len(structural) + i, rule) for i, rule in checks]
            structural += reqs
        elif st.formats_moved and (structural or plan.meta is not None):
            # people's edits moved the job's rules where they now stand for what it wants:
            # bring the record up to date while a structural write goes anyway
            value = _formats_value(st.tracker_id, snapshot.conditional_formats)
            structural.append(_formats_record_request(st, value))
        if plan.summary is not None and (restyle or plan.summary_charts):
            structural += self._summary_structure(
                st, plan.summary, summary_id, restyle=restyle, chart=plan.summary_charts
            )
        if plan.meta is not None:
            structural += _meta_request(st, plan.meta)

        # generated columns found by their header but not anchored yet (e.g. a tracker uploaded
        # from .xlsx): anchor them, and check in the same reply that they were still there
        adopt = [
            k for k in plan.columns if k not in snapshot.owned_columns and k not in plan.new_columns
        ]
        adopt_at = len(structural)
        structural += [_anchor_request(st.tracker_id, plan.columns[k], k) for k in adopt]

        if structural:
            self._write_structure(
                snapshot, plan, structural, adopt, adopt_at, fresh_cols, cf_checks
            )
        self._write_values(snapshot, plan)
        return ApplyResult(plan.cell_count, requests=self._requests.write - writes_before)

    def _send(
        self,
        suffix: str,
        body: dict[str, Any],
        *,
        params: dict[str, Any] | None = None,
        in_place: bool = True,
    ) -> Any:
        """POST one write, serialised compactly as UTF-8 (what the size budget counts)."""
        data = _dumps(body)
        http = self.client.http_client
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        return self._call(
            "write",
            lambda: http.request(
                "post", self._url(suffix), params=params, data=data, headers=headers
            ).json(),
            in_place=in_place,
        )

    # .................................................................. structure

    def _write_structure(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        structural: list[dict[str, Any]],
        adopt: list[str],
        adopt_at: int,
        fresh_cols: list[int],
        cf_checks: list[tuple[int, dict[str, Any]]],
    ) -> None:
        """The one all-or-nothing batchUpdate: no cell values, only structure. When it inserts or
        adopts columns, its reply carries the header row so a column a person inserted meanwhile
        is noticed before any value is written."""
        st = self._state
        assert st is not None
        body: dict[str, Any] = {"requests": structural}
        fields = "replies"
        if fresh_cols or adopt:
            hr = plan.header_row + 1
            body |= {
                "includeSpreadsheetInResponse": True,
                "responseIncludeGridData": True,
                "responseRanges": [f"{_quote(st.tracker_title)}!{hr}:{hr}"],
            }
            fields += "," + HEADER_REPLY_FIELDS
        try:
            reply = self._send(":batchUpdate", body, params={"fields": fields}, in_place=False)
        except RetryRun:
            raise
        except TrackerError as exc:
            # a rule deleted by index that is no longer there: the batch failed as a whole
            if cf_checks and "conditional format" in str(exc).lower():
                raise RetryRun(
                    "the highlight rules changed while the sync was replacing its own "
                    "(nothing was written)"
                ) from None
            raise
        st.anchor_ids |= _created_anchor_ids(structural, reply)
        if cf_checks:
            self._verify_formats(structural, reply, cf_checks)
        if adopt:
            self._verify_adopted(snapshot, plan, reply, adopt, adopt_at)
        if fresh_cols:
            self._verify_headers(snapshot, plan, reply, fresh_cols)

    def _protect(self, st: _ReadState, plan: WritePlan) -> list[dict[str, Any]]:
        """Warning-only protection over the generated columns (people may still edit after a warning)."""
        reqs: list[dict[str, Any]] = [
            {"deleteProtectedRange": {"protectedRangeId": p["protectedRangeId"]}}
            for p in st.own_protections
        ]
        for lo, hi in _runs(sorted(plan.columns.values())):
            reqs.append(
                {
                    "addProtectedRange": {
                        "protectedRange": {
                            "range": {
                                "sheetId": st.tracker_id,
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

    def _formats(
        self, st: _ReadState, rules: tuple[CFRule, ...]
    ) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
        """Replace the job's own rules (found by its record, never by colour) and record what it
        made; everyone else's rules stay where they are. Returns the requests and, for each
        delete by index, (its position among them, the rule the read found at that index): the
        reply must show that very rule deleted."""
        sid = st.tracker_id
        value = _formats_value(sid, rules)
        want = [_rule_sig(_cf_json(sid, r), st.row_count) for r in rules]
        have = [_rule_sig(st.cf_rules[j], st.row_count) for j in st.own_cf_indexes]
        if want == have:
            # the same rules in Sheets' terms (only a row count Sheets does not store moved)
            return ([] if value == st.formats_raw else [_formats_record_request(st, value)]), []
        reqs: list[dict[str, Any]] = []
        checks: list[tuple[int, dict[str, Any]]] = []
        for j in sorted(st.own_cf_indexes, reverse=True):
            checks.append((len(reqs), st.cf_rules[j]))
            reqs.append({"deleteConditionalFormatRule": {"sheetId": sid, "index": j}})
        start = len(st.cf_rules) - len(st.own_cf_indexes)  # after people's: theirs come first
        for i, rule in enumerate(rules):
            reqs.append(
                {"addConditionalFormatRule": {"rule": _cf_json(sid, rule), "index": start + i}}
            )
        reqs.append(_formats_record_request(st, value))
        return reqs, checks

    def _verify_formats(
        self,
        structural: list[dict[str, Any]],
        reply: dict[str, Any],
        checks: list[tuple[int, dict[str, Any]]],
    ) -> None:
        """Each rule deleted by index must be the job's (documented: a delete's reply holds the
        rule it deleted -- Sheets API reference, DeleteConditionalFormatRuleResponse). A person
        who added or removed a rule between the read and the write shifts the indexes; then the
        batch's rule changes are undone -- the job's new rules deleted, every deleted rule put
        back where it was, the record as it was -- and the run starts over."""
        st = self._state
        assert st is not None
        replies = reply.get("replies", []) if isinstance(reply, dict) else []
        deleted: list[tuple[int, dict[str, Any]]] = []
        wrong = False
        for pos, expected in checks:
            got = ((replies[pos] if pos < len(replies) else {}) or {}).get(
                "deleteConditionalFormatRule", {}
            ).get("rule") or {}
            index = structural[pos]["deleteConditionalFormatRule"]["index"]
            deleted.append((int(index), got))
            wrong = wrong or _sans_end(_rule_sig(got)) != _sans_end(_rule_sig(expected))
        if not wrong:
            return
        sid = st.tracker_id
        added = [
            (p, q["addConditionalFormatRule"])
            for p, q in enumerate(structural)
            if "addConditionalFormatRule" in q
        ]
        undo: list[dict[str, Any]] = [
            {"deleteConditionalFormatRule": {"sheetId": sid, "index": int(q["index"])}}
            for _, q in sorted(added, key=lambda a: -int(a[1]["index"]))
        ]
        for index, rule in reversed(deleted):
            back = copy.deepcopy(rule)
            for g in back.get("ranges") or []:
                g["sheetId"] = sid
            undo.append({"addConditionalFormatRule": {"rule": back, "index": index}})
        for p, q in enumerate(structural):
            made = q.get("createDeveloperMetadata", {}).get("developerMetadata", {})
            if made.get("metadataKey") == FORMATS_KEY:
                mid = (
                    (replies[p] or {})
                    .get("createDeveloperMetadata", {})
                    .get("developerMetadata", {})
                    .get("metadataId")
                )
                undo.append(
                    {
                        "deleteDeveloperMetadata": {
                            "dataFilter": {"developerMetadataLookup": {"metadataId": mid}}
                        }
                    }
                )
            elif "updateDeveloperMetadata" in q and q["updateDeveloperMetadata"]["dataFilters"] == [
                {"developerMetadataLookup": {"metadataId": st.formats_id}}
            ]:
                undo.append(_formats_record_request(st, st.formats_raw))
        back_reply = self._send(":batchUpdate", {"requests": undo}, params={"fields": "replies"})
        ours = {_sans_end(_rule_sig(q["rule"])) for _, q in added}
        for r in back_reply.get("replies", [])[: len(added)]:
            rule = (r or {}).get("deleteConditionalFormatRule", {}).get("rule") or {}
            if _sans_end(_rule_sig(rule)) not in ours:
                raise TrackerError(
                    f"spreadsheet {self.key}: the conditional-format rules of tab "
                    f"{st.tracker_title!r} kept changing while the sync was putting a person's "
                    "rule back; check them (Format → Conditional formatting) and run again"
                )
        raise RetryRun(
            "a highlight rule was added or removed while the sync was replacing its own; "
            "every rule was put back"
        )

    def _summary_structure(
        self, st: _ReadState, tab: SummaryTab, sid: int, *, restyle: bool, chart: bool
    ) -> list[dict[str, Any]]:
        """The summary tab's structure: the tab (or room for more rows / columns), column widths,
        bold rows, charts. Its values go with the values write."""
        reqs: list[dict[str, Any]] = []
        height = max(len(tab.rows) + 50, 200)
        width = max(_width(tab), 10)
        if st.summary_id is None:
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
                            },
                        }
                    }
                }
            )
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
                            "properties": {"pixelSize": int(w * 7)},
                            "fields": "pixelSize",
                        }
                    }
                )
        else:
            if height > st.summary_rows:
                reqs.append(
                    {
                        "appendDimension": {
                            "sheetId": sid,
                            "dimension": "ROWS",
                            "length": height - st.summary_rows,
                        }
                    }
                )
            if width > st.summary_cols:
                reqs.append(
                    {
                        "appendDimension": {
                            "sheetId": sid,
                            "dimension": "COLUMNS",
                            "length": width - st.summary_cols,
                        }
                    }
                )
        if restyle:
            rows = max(len(tab.rows), st.summary_height, 1)
            reqs.append(_bold(sid, 0, rows, 0, width, False))
            for r in sorted(tab.bold_rows):
                if r < len(tab.rows) and tab.rows[r]:
                    reqs.append(_bold(sid, r, r + 1, 0, _width(tab), True))
        if chart:
            reqs += [_chart_request(sid, spec) for spec in tab.charts]
        return reqs

    # .................................................................. values

    def _write_values(self, snapshot: Snapshot, plan: WritePlan) -> None:
        """Every value through the anchors, in requests of at most ``google.max_request_bytes``;
        each request carries a row guard and its reply is checked before the next is sent."""
        st = self._state
        assert st is not None
        budget = self.google.max_request_bytes
        guard = _RowGuard.for_plan(snapshot, plan, st, budget)
        entries = self._value_entries(snapshot, plan, budget - guard.reserve)
        if not entries:
            return
        for chunk in _pack(entries, budget - guard.reserve):
            extra = guard.entries(chunk)
            body: dict[str, Any] = {
                "valueInputOption": "RAW",
                "data": [e.body for e in chunk] + [e.body for e in extra],
            }
            if extra:
                body |= {
                    "includeValuesInResponse": True,
                    "responseValueRenderOption": "UNFORMATTED_VALUE",
                }
            reply = self._send(
                "/values:batchUpdateByDataFilter", body, params={"fields": VALUES_REPLY_FIELDS}
            )
            problem = guard.check(chunk, extra, reply)
            if problem:
                self._clear(chunk, budget)
                raise RetryRun(f"{problem}; the cells just written were cleared")

    def _value_entries(self, snapshot: Snapshot, plan: WritePlan, budget: int) -> list[_Entry]:
        """The values entries of a plan: the ID column first (later requests check rows by it),
        then the other generated columns, then the summary tab."""
        st = self._state
        assert st is not None
        out: list[_Entry] = []
        for key in sorted(plan.columns, key=lambda k: (k != "gen_id", plan.columns[k])):
            series = plan.cells.get(plan.columns[key])
            if series is None or not len(series):
                continue
            mid = st.anchor_ids.get(key)
            if mid is None:
                raise TrackerError(
                    f"spreadsheet {self.key}: the job's column {key} has no anchor on tab "
                    f"{st.tracker_title!r}; its values were not written. Run again."
                )
            cells = dict(zip(series.index.tolist(), series.tolist(), strict=True))
            out += _column_entries(key, mid, cells, budget)
        if plan.summary is not None:
            out += _summary_entries(snapshot.summary, plan, budget)
        return out

    def _clear(self, chunk: list[_Entry], budget: int) -> None:
        """'Or not at all': empty the tracker cells a chunk just wrote (they may sit beside the
        wrong task); the run then reads again and rewrites them."""
        entries: list[_Entry] = []
        for e in chunk:
            if e.key is not None and e.metadata_id is not None and e.cells:
                entries += _column_entries(e.key, e.metadata_id, dict.fromkeys(e.cells, ""), budget)
        for part in _pack(entries, budget):
            self._send(
                "/values:batchUpdateByDataFilter",
                {"valueInputOption": "RAW", "data": [e.body for e in part]},
                params={"fields": "totalUpdatedCells"},
            )

    # .................................................................. checks

    def _verify_headers(
        self, snapshot: Snapshot, plan: WritePlan, reply: dict[str, Any], fresh: list[int]
    ) -> None:
        """After inserting columns: every header the read saw must sit where the insert put it.
        A person who inserted or moved a column meanwhile shifts them; the new columns are
        anchored and still empty, so the run simply starts over from a fresh read."""
        after, _, _ = _grid(_reply_sheet(reply, snapshot.tracker.title))
        hr = plan.header_row
        head_after = after[hr] if hr < len(after) else []
        head_before = snapshot.tracker.rows[hr] if hr < len(snapshot.tracker.rows) else []
        for c, name in enumerate(head_before):
            if _norm(name) is None:
                continue
            shift = 0
            for f in fresh:
                if f <= c + shift:
                    shift += 1
            now = head_after[c + shift] if c + shift < len(head_after) else None
            if _norm(now) != _norm(name):
                raise RetryRun(
                    "columns moved while the sync was inserting its own (nothing written yet)"
                )

    def _verify_adopted(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        reply: dict[str, Any],
        keys: list[str],
        first: int,
    ) -> None:
        """The columns just anchored must still carry the job's headers; else undo the anchors."""
        from ..i18n import generated_key

        sheet = _reply_sheet(reply, snapshot.tracker.title)
        after, _, _ = _grid(sheet)
        head = after[plan.header_row] if plan.header_row < len(after) else []
        wrong = [
            i
            for i, k in enumerate(keys)
            if generated_key(head[plan.columns[k]] if plan.columns[k] < len(head) else None) != k
        ]
        if not wrong:
            return
        replies = reply.get("replies", [])
        ids = [
            replies[first + i]
            .get("createDeveloperMetadata", {})
            .get("developerMetadata", {})
            .get("metadataId")
            for i in wrong
        ]
        undo = [
            {
                "deleteDeveloperMetadata": {
                    "dataFilter": {"developerMetadataLookup": {"metadataId": m}}
                }
            }
            for m in ids
            if m
        ]
        http = self.client.http_client
        if undo:
            self._call(
                "write", lambda: http.batch_update(self.key, {"requests": undo}), in_place=False
            )
        raise RetryRun("columns moved while the sync was anchoring its own; anchors undone")


# ---------------------------------------------------------------------------- helpers


def _grid(
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


def _reply_sheet(reply: dict[str, Any], title: str) -> dict[str, Any] | None:
    sheets = reply.get("updatedSpreadsheet", {}).get("sheets", [])
    return next((s for s in sheets if s.get("properties", {}).get("title") == title), None)


def _insert_columns(
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
    for lo, hi in _runs(cols):
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
    reqs += [_anchor_request(sheet_id, c, by_col[c]) for c in cols]
    hr = plan.header_row
    for lo, hi in _runs(cols):
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
                            "textFormat": {"bold": True},
                            "backgroundColor": HEADER_FILL,
                        }
                    },
                    "fields": "userEnteredFormat(textFormat.bold,backgroundColor)",
                }
            }
        )
    return reqs


def _bold(sheet_id: int, r0: int, r1: int, c0: int, c1: int, on: bool) -> dict[str, Any]:
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


def _anchor_request(sheet_id: int, col: int, key: str) -> dict[str, Any]:
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


def _norm(v: Any) -> Any:
    if v is None or v == "":
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _cell(value: Any) -> dict[str, Any]:
    """CellData for a value: text is always a stringValue, never a formula."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, int | float):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _typed_cell(value: Any) -> dict[str, Any]:
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
    return _cell(value)


def _dumps(body: Any) -> bytes:
    """A request body as sent: compact JSON, UTF-8 (the bytes the size budget counts)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass
class _Entry:
    """One DataFilterValueRange of a values write, its size in bytes and what it writes."""

    body: dict[str, Any]
    size: int
    #: Generated column key and its anchor's metadataId (tracker columns only).
    key: str | None = None
    metadata_id: int | None = None
    #: Row -> value written (tracker columns only).
    cells: dict[int, Any] = field(default_factory=dict)
    #: First and last row of a row guard's A1 range.
    rows: tuple[int, int] | None = None


def _wire(value: Any) -> Any:
    """A cell value as sent: None clears the cell ("")."""
    return "" if value is None else value


def _column_entry(key: str, cells: dict[int, Any], metadata_id: int) -> dict[str, Any]:
    """A values entry for one anchored column: row r's value at index r, null where unchanged
    (``null`` is skipped, documented: Sheets API reference, ValueRange.values)."""
    height = max(cells, default=-1) + 1
    values: list[Any] = [None] * height
    for r, v in cells.items():
        values[r] = _wire(v)
    # a lookup selects the metadata matching all the fields given (documented, Sheets API
    # reference: DeveloperMetadataLookup); the id pins the one anchor the read found on the
    # tracker tab, never a copy on another tab
    lookup = {
        "metadataKey": COLUMN_KEY,
        "metadataValue": key,
        "locationType": "COLUMN",
        "metadataId": metadata_id,
    }
    return {
        "dataFilter": {"developerMetadataLookup": lookup},
        "majorDimension": "COLUMNS",
        "values": [values or [None]],
    }


def _column_entries(key: str, metadata_id: int, cells: dict[int, Any], budget: int) -> list[_Entry]:
    """One anchored column's values as entries of at most ``budget`` bytes each.

    An anchor addresses the whole column, so an entry starts at row 1: a piece holding rows
    from ``lo`` on sends ``null`` (5 bytes) for every row above ``lo``. A single row whose
    entry is larger than ``budget`` still goes, alone.

    >>> [(e.cells, e.size) for e in _column_entries("gen_id", 7, {1: "T-1", 2: "T-2", 3: "T-3"}, 208)]
    [({1: 'T-1', 2: 'T-2'}, 201), ({3: 'T-3'}, 205)]
    """
    rows = sorted(cells)
    base = len(_dumps(_column_entry(key, {}, metadata_id)))
    out: list[_Entry] = []
    i = 0
    while i < len(rows):
        size = base + 5 * rows[i]
        prev = rows[i] - 1
        j = i
        while j < len(rows):
            r = rows[j]
            add = 5 * (r - prev - 1) + len(_dumps(_wire(cells[r]))) + 1
            if j > i and size + add > budget:
                break
            size += add
            prev = r
            j += 1
        piece = {r: cells[r] for r in rows[i:j]}
        body = _column_entry(key, piece, metadata_id)
        out.append(_Entry(body, len(_dumps(body)), key, metadata_id, piece))
        i = j
    return out


#: Bytes of a values request around its entries.
ENVELOPE = 256


def _pack(entries: list[_Entry], budget: int) -> list[list[_Entry]]:
    """Entries in order, packed into requests of at most ``budget`` bytes (an entry larger than
    ``budget`` alone in its request).

    >>> [[e.size for e in c] for c in _pack([_Entry({}, s) for s in (900, 900, 100)], 2100)]
    [[900, 900], [100]]
    """
    chunks: list[list[_Entry]] = []
    current: list[_Entry] = []
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


def _merge_runs(rows: list[int], gap: int, most: int) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs, joining runs less than ``gap`` rows apart and then
    the closest ones until at most ``most`` remain.

    >>> _merge_runs([1, 2, 3, 10, 40, 41, 90], gap=5, most=2)
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


def _same_key(now: Any, before: Any) -> bool:
    """A key cell as the values reply shows it vs. as the read saw it (an error value is
    rendered differently by the two, so it is not compared)."""
    if isinstance(before, str) and before.startswith("#"):
        return True
    return bool(_norm(now) == _norm(before))


@dataclass
class _RowGuard:
    """What each values request carries to prove that its rows still hold the tasks they were
    computed for, checked in the request's own reply (so nothing can happen in between):

    - the task-identifying human cells of the rows it writes (phase, channel, task, description),
      as A1 ranges whose only value is ``null`` — nothing is written there, and the reply echoes
      the cells as they are (documented: Sheets API reference, batchUpdateByDataFilter,
      ``includeValuesInResponse``: "the response includes all values in the requested range");
      a sort of the human columns only, a row inserted, deleted or moved, or a column inserted
      among them all show;
    - the task-ID column through its anchor, which moves with whole rows.
    """

    snapshot: Snapshot
    title: str
    header_row: int
    key_cols: list[int]
    id_col: int | None
    id_mid: int | None
    id_fresh: bool
    most_runs: int
    reserve: int
    written_ids: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def for_plan(
        cls, snapshot: Snapshot, plan: WritePlan, st: _ReadState, budget: int
    ) -> _RowGuard:
        generated = set(plan.columns.values())
        key_cols = sorted(c for c in plan.key_columns if c not in generated)
        most = max(1, min(200, budget // 10_000))
        per_run = 110 + len(_quote(st.tracker_title).encode())
        return cls(
            snapshot=snapshot,
            title=st.tracker_title,
            header_row=plan.header_row,
            key_cols=key_cols,
            id_col=plan.columns.get("gen_id"),
            id_mid=st.anchor_ids.get("gen_id"),
            id_fresh="gen_id" in plan.new_columns,
            most_runs=most,
            reserve=400 + (most * per_run if key_cols else 0),
        )

    def rows(self, chunk: list[_Entry]) -> list[int]:
        return sorted({r for e in chunk if e.key for r in e.cells if r > self.header_row})

    def entries(self, chunk: list[_Entry]) -> list[_Entry]:
        rows = self.rows(chunk)
        if not rows:
            return []
        out: list[_Entry] = []
        if self.key_cols:
            k0, k1 = col_letter(self.key_cols[0]), col_letter(self.key_cols[-1])
            for lo, hi in _merge_runs(rows, 50, self.most_runs):
                body = {
                    "dataFilter": {"a1Range": f"{_quote(self.title)}!{k0}{lo + 1}:{k1}{hi + 1}"},
                    "majorDimension": "ROWS",
                    "values": [[None]],
                }
                out.append(_Entry(body, len(_dumps(body)), rows=(lo, hi)))
        if self.id_mid is not None and not any(e.key == "gen_id" for e in chunk):
            body = _column_entry("gen_id", {}, self.id_mid)
            out.append(_Entry(body, len(_dumps(body)), "gen_id", self.id_mid))
        return out

    def check(self, chunk: list[_Entry], extra: list[_Entry], reply: Any) -> str | None:
        """None when every row the chunk wrote still holds its task, else what went wrong."""
        responses = reply.get("responses", []) if isinstance(reply, dict) else []
        by_id: dict[int, list[dict[str, Any]]] = {}
        by_range: dict[str, dict[str, Any]] = {}
        for resp in responses:
            df = resp.get("dataFilter") or {}
            lookup = df.get("developerMetadataLookup") or {}
            if lookup.get("metadataId") is not None:
                by_id.setdefault(int(lookup["metadataId"]), []).append(resp)
            elif df.get("a1Range"):
                by_range[str(df["a1Range"])] = resp
        sent: dict[int, int] = {}
        for e in chunk + extra:
            if e.metadata_id is not None:
                sent[e.metadata_id] = sent.get(e.metadata_id, 0) + 1
        for e in chunk:
            if (
                e.metadata_id is not None
                and len(by_id.get(e.metadata_id, [])) != sent[e.metadata_id]
            ):
                return f"the job's column {e.key} was not found exactly once while writing"
        for e in chunk:
            if e.key == "gen_id":
                self.written_ids.update(e.cells)
        rows = self.rows(chunk)
        if not rows:
            return None
        for e in extra:
            if e.rows is None:
                continue
            resp = by_range.get(str(e.body["dataFilter"]["a1Range"]))
            if resp is None:
                return "the rows being written could not be checked"
            values = (resp.get("updatedData") or {}).get("values", [])
            k0 = self.key_cols[0]
            lo, hi = e.rows
            for i, r in enumerate(range(lo, hi + 1)):
                got = values[i] if i < len(values) else []
                for c in self.key_cols:
                    now = got[c - k0] if c - k0 < len(got) else None
                    if not _same_key(now, self.snapshot.tracker.value(r, c)):
                        return "rows moved while the sync was writing"
        if self.id_mid is not None and self.id_col is not None:
            found = by_id.get(self.id_mid)
            if not found:
                return "the task-ID column disappeared while the sync was writing"
            after = _column_values(found[0])
            for r in rows:
                if r in self.written_ids:
                    want = self.written_ids[r]
                elif self.id_fresh:
                    continue
                else:
                    want = self.snapshot.tracker.value(r, self.id_col)
                if not isinstance(want, str) or not want:
                    continue
                if (after[r] if r < len(after) else None) != want:
                    return "rows moved while the sync was writing"
        return None


def _anchor_ids(sheet: dict[str, Any]) -> tuple[dict[str, int], list[str]]:
    """The tracker tab's anchors by key -> metadataId, and the keys found on several columns."""
    ids: dict[str, int] = {}
    doubled: list[str] = []
    for block in sheet.get("data", []):
        for meta in block.get("columnMetadata", []) or []:
            for m in meta.get("developerMetadata", []) or []:
                key = m.get("metadataValue")
                if m.get("metadataKey") != COLUMN_KEY or key not in GENERATED_KEYS:
                    continue
                if key in ids and key not in doubled:
                    doubled.append(key)
                ids[key] = int(m.get("metadataId", 0))
    return ids, doubled


def _created_anchor_ids(requests: list[dict[str, Any]], reply: dict[str, Any]) -> dict[str, int]:
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


def _summary_entries(current: Grid | None, plan: WritePlan, budget: int) -> list[_Entry]:
    """The summary tab's changed cells as A1 ranges of whole rows, at most ``budget`` bytes
    each: "" to clear, null where unchanged."""
    assert plan.summary is not None
    have = current.rows if current is not None else []
    height = max(len(plan.summary.rows), len(have))
    width = max(_width(plan.summary), max((len(r) for r in have), default=0))
    rows: list[list[Any]] = [[None] * width for _ in range(height)]
    for (r, c), (_, new) in plan.summary_changes.items():
        rows[r][c] = _wire(new)
    title = _quote(plan.summary.title)
    last = col_letter(width - 1)

    def block(r0: int, r1: int) -> _Entry | None:
        part = rows[r0:r1]
        if all(v is None for row in part for v in row):
            return None
        body = {
            "dataFilter": {"a1Range": f"{title}!A{r0 + 1}:{last}{r1}"},
            "majorDimension": "ROWS",
            "values": part,
        }
        return _Entry(body, len(_dumps(body)))

    out: list[_Entry | None] = []
    base = 120 + len(title.encode())
    start, size = 0, 0
    for r, row in enumerate(rows):
        n = len(_dumps(row)) + 1
        if r > start and base + size + n > budget:
            out.append(block(start, r))
            start, size = r, 0
        size += n
    if height:
        out.append(block(start, height))
    return [e for e in out if e is not None]


def _column_values(response: dict[str, Any]) -> list[Any]:
    data = response.get("updatedData", {})
    values = data.get("values", [])
    if data.get("majorDimension") == "COLUMNS":
        return list(values[0]) if values else []
    return [row[0] if row else None for row in values]


def _quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _width(tab: SummaryTab) -> int:
    return max((len(r) for r in tab.rows), default=1)


def _runs(cols: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for c in cols:
        if runs and c == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], c)
        else:
            runs.append((c, c))
    return runs


def _rgb(hex_: str) -> dict[str, float]:
    return {
        "red": int(hex_[0:2], 16) / 255,
        "green": int(hex_[2:4], 16) / 255,
        "blue": int(hex_[4:6], 16) / 255,
    }


def _hex(color: dict[str, Any] | None) -> str | None:
    if not color:
        return None
    return "".join(f"{round(float(color.get(k, 0)) * 255):02X}" for k in ("red", "green", "blue"))


def _cf_json(sheet_id: int, rule: CFRule, *, bounded: bool = False) -> dict[str, Any]:
    """The Sheets rule for a CFRule. Its rows run to the end of the sheet (no ``endRowIndex``:
    "missing indexes indicate the range is unbounded", documented: Sheets API reference,
    GridRange), so rows people insert or delete never change it; ``bounded`` gives the form
    versions before 0.3 wrote (rows ending at ``last_row``)."""
    fmt: dict[str, Any] = {"backgroundColor": _rgb(rule.fill)}
    if rule.font:
        fmt["textFormat"] = {"foregroundColor": _rgb(rule.font)}
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


#: An A1 cell reference in a formula (``$O2``, ``AB$10``).
_A1_REF = re.compile(r"\$?[A-Z]{1,3}\$?[0-9]+")


def _mask_refs(formula: str) -> str:
    """A formula with its cell references blanked, string literals kept: two rules that differ
    only in where they point (Sheets moved them with an inserted column) look alike.

    >>> _mask_refs('ISNUMBER(FIND("[B2]",$U2))')
    'ISNUMBER(FIND("[B2]",§))'
    """
    parts = formula.split('"')
    return '"'.join(p if i % 2 else _A1_REF.sub("§", p) for i, p in enumerate(parts))


def _color(style: dict[str, Any], key: str) -> str | None:
    return _hex(style.get(key) or (style.get(key + "Style") or {}).get("rgbColor"))


def _rule_sig(rule: dict[str, Any], rows: int | None = None) -> tuple[Any, ...] | None:
    """What identifies a conditional-format rule: its ranges, condition and format, normalised
    (colours as RRGGBB; the sheet id, Google's mirrored ``*Style`` colours and a row end at or
    past the grid's ``rows`` left out). None for a gradient rule: the job makes none."""
    boolean = rule.get("booleanRule")
    if not isinstance(boolean, dict):
        return None
    ranges = []
    for g in rule.get("ranges") or []:
        end = g.get("endRowIndex")
        if end is not None and rows is not None and int(end) >= rows:
            end = None
        ranges.append(
            (
                int(g.get("startRowIndex", 0) or 0),
                None if end is None else int(end),
                int(g.get("startColumnIndex", 0) or 0),
                None if g.get("endColumnIndex") is None else int(g["endColumnIndex"]),
            )
        )
    condition = boolean.get("condition") or {}
    values = tuple(str(v.get("userEnteredValue", "")) for v in condition.get("values") or [])
    fmt = boolean.get("format") or {}
    text = fmt.get("textFormat") or {}
    flags = tuple(bool(text.get(k)) for k in ("bold", "italic", "strikethrough", "underline"))
    return (
        tuple(ranges),
        condition.get("type"),
        values,
        _color(fmt, "backgroundColor"),
        _color(text, "foregroundColor"),
        flags,
    )


def _shape(sig: tuple[Any, ...]) -> tuple[Any, ...]:
    """A rule's identity without where it sits: as many ranges, the same condition with its cell
    references blanked, the same format."""
    ranges, kind, values, fill, font, flags = sig
    return (len(ranges), kind, tuple(_mask_refs(v) for v in values), fill, font, flags)


def _sans_end(sig: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
    """A rule's identity with its ranges' row ends left out (Google may report an open-ended
    range clamped to the grid, which rows inserted meanwhile change)."""
    if sig is None:
        return None
    return (tuple((r0, c0, c1) for r0, _, c0, c1 in sig[0]), *sig[1:])


def _decode_rule(rule: dict[str, Any], recorded: CFRule) -> CFRule:
    """The CFRule a (moved) rule of the job's now stands for."""
    rng = (rule.get("ranges") or [{}])[0]
    condition = (rule.get("booleanRule") or {}).get("condition") or {}
    formula = str(((condition.get("values") or [{}])[0]).get("userEnteredValue", ""))
    end = rng.get("endRowIndex")
    return CFRule(
        int(rng.get("startRowIndex", 0) or 0),
        recorded.last_row if end is None else int(end) - 1,
        int(rng.get("startColumnIndex", 0) or 0),
        int(rng.get("endColumnIndex", 1) or 1) - 1,
        formula.removeprefix("="),
        recorded.fill,
        recorded.font,
    )


@dataclass(frozen=True)
class _OwnRules:
    """The job's rules among a tab's rules, found by what it recorded making them."""

    #: Indexes (in the tab's rule list) of the job's rules, in recorded order.
    indexes: tuple[int, ...] = ()
    #: What each stands for now, in the same order: the recorded CFRule where the rule is
    #: exactly as made, else what Sheets moved it to.
    rules: tuple[CFRule, ...] = ()
    #: Some rule was found moved (its record is out of date).
    moved: bool = False


def _own_rules(
    sheet_id: int, rules: list[dict[str, Any]], recorded: list[CFRule], rows: int
) -> _OwnRules:
    """Match the recorded rules to a tab's rules: each recorded rule takes the one rule that is
    exactly as the job made it, else one that differs only in where it sits (people inserted or
    deleted columns, and Sheets moved its ranges and cell references). Colour alone never
    decides: a person's rule with the job's fill is a person's rule. Each rule is matched once.
    """
    sigs = [_rule_sig(r, rows) for r in rules]
    taken: set[int] = set()
    found: list[tuple[int, int, bool]] = []  # (record, rule index, exact)
    wanted = [
        {_rule_sig(_cf_json(sheet_id, rec, bounded=b), rows) for b in (False, True)}
        for rec in recorded
    ]
    for i in range(len(recorded)):
        j = next((j for j, g in enumerate(sigs) if j not in taken and g in wanted[i]), None)
        if j is not None:
            taken.add(j)
            found.append((i, j, True))
    matched = {i for i, _, _ in found}
    for i, rec in enumerate(recorded):
        if i in matched:
            continue
        shape = _shape(_rule_sig(_cf_json(sheet_id, rec), rows) or ())
        j = next(
            (
                j
                for j, g in enumerate(sigs)
                if j not in taken and g is not None and _shape(g) == shape
            ),
            None,
        )
        if j is not None:
            taken.add(j)
            found.append((i, j, False))
    found.sort()
    return _OwnRules(
        indexes=tuple(j for _, j, _ in found),
        rules=tuple(
            recorded[i] if exact else _decode_rule(rules[j], recorded[i]) for i, j, exact in found
        ),
        moved=any(not exact for _, _, exact in found),
    )


def _formats_record(
    metadata: list[dict[str, Any]], sheet_id: int
) -> tuple[list[CFRule] | None, int | None, str | None]:
    """The job's record of the rules it made on tab ``sheet_id`` (developer metadata
    ``tracker_sync.formats``): (rules or None, its metadataId, its raw value)."""
    for m in metadata:
        if m.get("metadataKey") != FORMATS_KEY:
            continue
        raw = m.get("metadataValue")
        mid = m.get("metadataId")
        try:
            data = json.loads(raw or "{}")
            if int(data.get("sheetId", -1)) != sheet_id:
                return None, mid, raw
            return [CFRule.from_json(r) for r in data.get("rules", [])], mid, raw
        except (ValueError, TypeError, KeyError, AttributeError):
            return None, mid, raw
    return None, None, None


def _legacy_record(meta: dict[str, Any]) -> list[CFRule]:
    """Before the record existed, the job's metadata listed the rules it asked for."""
    try:
        return [CFRule.from_json(r) for r in meta.get("conditional_formats") or []]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def _formats_record_request(st: _ReadState, value: str | None) -> dict[str, Any]:
    """Create, update or (``value`` None) delete the job's record of its rules."""
    lookup = {"developerMetadataLookup": {"metadataId": st.formats_id}}
    if value is None:
        return {"deleteDeveloperMetadata": {"dataFilter": lookup}}
    if st.formats_id is None:
        return {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": FORMATS_KEY,
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


def _formats_value(sheet_id: int, rules: tuple[CFRule, ...]) -> str:
    return json.dumps(
        {"sheetId": sheet_id, "rules": [r.to_json() for r in rules]},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )


def _chart_request(sheet_id: int, spec: ChartSpec) -> dict[str, Any]:
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
    val_col, val_r0, val_r1 = spec.values
    return {
        "addChart": {
            "chart": {
                "spec": {
                    "title": spec.title,
                    "basicChart": {
                        "chartType": {"bar": "COLUMN", "line": "LINE"}.get(spec.kind, "PIE"),
                        "legendPosition": "NO_LEGEND",
                        "headerCount": 1,
                        "domains": [{"domain": source(cat_col, cat_r0 - 1, cat_r1)}],
                        "series": [
                            {"series": source(val_col, val_r0, val_r1), "targetAxis": "LEFT_AXIS"}
                        ],
                    },
                },
                "position": {
                    "overlayPosition": {
                        "anchorCell": {
                            "sheetId": sheet_id,
                            "rowIndex": spec.anchor[0],
                            "columnIndex": spec.anchor[1],
                        }
                    }
                },
            }
        }
    }


def _meta_request(st: _ReadState, meta: dict[str, Any]) -> list[dict[str, Any]]:
    value = json.dumps(meta, ensure_ascii=False, sort_keys=True)
    if st.meta_id is None:
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
                "dataFilters": [{"developerMetadataLookup": {"metadataId": st.meta_id}}],
                "developerMetadata": {"metadataValue": value},
                "fields": "metadataValue",
            }
        }
    ]

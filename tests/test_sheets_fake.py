"""Tests of the Google Sheets v4 fake, driven through real gspread + google-auth + requests.

Fidelity is checked by replaying the recorded gspread <-> Google cassettes in
``<shared>/reference/google-sheets-api/cassettes`` against the fake and comparing the answers
(modulo server-chosen ids), plus targeted tests of everything the cassettes do not cover.
``<shared>`` is ``$TRACKER_SYNC_SHARED`` when set, else the ``shared`` folder beside the
repository (``<repo>/../shared``); without the cassettes the replay tests skip and say why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gspread
import openpyxl
import pytest
import requests
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account

from tests.sheets_fake import (
    DEFAULT_CLIENT_EMAIL,
    SCOPE_SHEETS,
    ApiError,
    Formula,
    RebasingSession,
    SheetsFake,
    format_value,
    gspread_url_overrides,
    parse_field_mask,
    parse_user_entered,
    patched_gspread_urls,
)

REPO = Path(__file__).resolve().parents[1]
#: Reference material shared beside the repository; ``TRACKER_SYNC_SHARED`` overrides it.
SHARED = Path(os.environ.get("TRACKER_SYNC_SHARED") or REPO.parent / "shared").expanduser()
CASSETTES = SHARED / "reference" / "google-sheets-api" / "cassettes"


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    with SheetsFake() as f:
        yield f


@pytest.fixture
def cassettes() -> Path:
    """The recorded cassettes' folder; the test skips when it is absent (e.g. a bare clone)."""
    if not CASSETTES.is_dir():
        pytest.skip(
            f"no recorded Google Sheets cassettes at {CASSETTES} "
            "(set TRACKER_SYNC_SHARED to the folder holding reference/google-sheets-api)"
        )
    return CASSETTES


@pytest.fixture
def sa_path(fake: SheetsFake, tmp_path: Path) -> Path:
    return fake.write_service_account(tmp_path / "sa.json")


@pytest.fixture
def creds(sa_path: Path) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_file(
        str(sa_path), scopes=[SCOPE_SHEETS]
    )


@pytest.fixture
def gc(
    fake: SheetsFake, creds: service_account.Credentials, monkeypatch: pytest.MonkeyPatch
) -> gspread.Client:
    """A real gspread client pointed at the fake by patching gspread's URL constants."""
    for module, name, value in gspread_url_overrides(fake.api_endpoint):
        monkeypatch.setattr(module, name, value)
    return gspread.Client(auth=creds, session=AuthorizedSession(creds))


@pytest.fixture
def session(fake: SheetsFake, creds: service_account.Credentials) -> RebasingSession:
    """An authorised requests session for raw API calls (Google URLs are rebased onto the fake)."""
    return RebasingSession(creds, fake.api_endpoint)


def bearer(fake: SheetsFake) -> dict[str, str]:
    """Get a token from the fake's token endpoint with a real google-auth credential."""
    c = fake.credentials()
    c.refresh(Request())
    return {"Authorization": f"Bearer {c.token}"}


TRACKER = [
    ["ID", "Task", "Owner", "Due", "Progress"],
    [1, "Brief", "Ann", dt.date(2024, 3, 1), 0.5],
    [2, "Draft", "Bob", dt.date(2024, 3, 8), 0.25],
    [3, "Review", "Cid", dt.date(2024, 3, 15), 0],
]


def make_tracker(fake: SheetsFake, **kw: Any) -> str:
    return fake.add_spreadsheet(
        "Tracker", {"Tasks": TRACKER}, number_formats={"Tasks": {"E": "0%"}}, **kw
    )


def meta_search(
    session: requests.Session, fake: SheetsFake, sid: str, **lookup: Any
) -> list[dict[str, Any]]:
    r = session.post(
        f"{fake.sheets_base_url}/{sid}/developerMetadata:search",
        json={"dataFilters": [{"developerMetadataLookup": lookup}]},
    )
    r.raise_for_status()
    return [m["developerMetadata"] for m in r.json().get("matchedDeveloperMetadata", [])]


# ---------------------------------------------------------------------------
# cassette replay: the fake answers like Google did
# ---------------------------------------------------------------------------


def _ids(obj: Any, out: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("sheetId", "protectedRangeId") and isinstance(v, int):
                out.append((k, v))
            else:
                _ids(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _ids(v, out)
    return out


def _remap(obj: Any, mapping: dict[tuple[str, int], int]) -> Any:
    if isinstance(obj, dict):
        return {
            k: mapping.get((k, v), v) if isinstance(v, int) else _remap(v, mapping)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_remap(v, mapping) for v in obj]
    return obj


def _recorded_editor(interactions: list[dict[str, Any]]) -> str:
    for i in interactions:
        m = re.search(r'"users": \[\s*"([^"]+)"', i["response"]["body"]["string"] or "")
        if m:
            return m.group(1)
    return DEFAULT_CLIENT_EMAIL


REPLAYED = [
    "ClientTest.test_access_non_existing_spreadsheet.json",
    "ClientTest.test_access_private_spreadsheet.json",
    "ClientTest.test_open_by_key_has_metadata.json",
    "SpreadsheetTest.test_add_del_worksheet.json",
    "SpreadsheetTest.test_timezone_and_locale.json",
    "SpreadsheetTest.test_values_batch_get.json",
    "SpreadsheetTest.test_values_get.json",
    "WorksheetTest.test_add_protected_range_warning.json",
    "WorksheetTest.test_add_validation.json",
    "WorksheetTest.test_batch_update.json",
    "WorksheetTest.test_format.json",
    "WorksheetTest.test_freeze.json",
    "WorksheetTest.test_get_all_records_value_render_options.json",
    "WorksheetTest.test_get_all_values_date_time_render_options.json",
    "WorksheetTest.test_update_cells_unicode.json",
    "WorksheetTest.test_worksheet_notes.json",
]


@pytest.mark.parametrize("cassette", REPLAYED)
def test_replayed_cassette_matches_recorded_responses(
    cassettes: Path, fake: SheetsFake, cassette: str
) -> None:
    """Replay every Sheets request of a cassette (same method, path, query, body) against the fake and
    require the same status and, for JSON bodies, the same document (server-chosen sheetId /
    protectedRangeId values are mapped; error bodies compare code/status/message)."""
    recorded = json.loads((cassettes / cassette).read_text())["interactions"]
    sheets_calls = [i for i in recorded if "sheets.googleapis.com" in i["request"]["uri"]]
    assert sheets_calls
    # recreate each spreadsheet as it was when first fetched; a 403 one is made private
    created: set[str] = set()
    for i in sheets_calls:
        sid = re.search(r"/v4/spreadsheets/([^/:?]+)", i["request"]["uri"]).group(1)  # type: ignore[union-attr]
        if sid in created:
            continue
        status = i["response"]["status"]["code"]
        if (
            status == 200
            and i["request"]["method"] == "GET"
            and "includeGridData" in i["request"]["uri"]
        ):
            res = json.loads(i["response"]["body"]["string"])
            fake.add_spreadsheet_resource(
                {
                    "spreadsheetId": sid,
                    "properties": {
                        k: res["properties"][k] for k in ("title", "locale", "timeZone")
                    },
                    "sheets": [{"properties": s["properties"]} for s in res["sheets"]],
                }
            )
            created.add(sid)
        elif status == 403:
            fake.add_spreadsheet("someone else's", spreadsheet_id=sid, access="none")
            created.add(sid)
    creds = fake.credentials(client_email=_recorded_editor(recorded))
    sess = RebasingSession(creds, fake.api_endpoint)
    mapping: dict[tuple[str, int], int] = {}
    for n, i in enumerate(sheets_calls):
        req, resp = i["request"], i["response"]
        body = req.get("body")
        if isinstance(body, dict):
            body = body.get("string")
        if body:
            body = json.dumps(_remap(json.loads(body), mapping))
        r = sess.request(
            req["method"],
            req["uri"],
            data=body,
            headers={"Content-Type": "application/json"} if body else {},
        )
        where = f"interaction #{n}: {req['method']} {req['uri']}"
        assert r.status_code == resp["status"]["code"], where + "\n" + r.text
        expected = json.loads(resp["body"]["string"]) if resp["body"]["string"] else None
        got = r.json() if r.content else None
        if expected is None:
            continue
        assert got is not None, where
        if r.status_code >= 400:
            assert {k: got["error"][k] for k in ("code", "status", "message")} == {
                k: expected["error"][k] for k in ("code", "status", "message")
            }, where
            continue
        rec_ids, got_ids = _ids(expected, []), _ids(got, [])
        assert [k for k, _ in rec_ids] == [k for k, _ in got_ids], where
        for (key, a), (_, b) in zip(rec_ids, got_ids, strict=True):
            mapping.setdefault((key, a), b)
        assert _remap(expected, mapping) == got, where


def test_open_by_key_metadata_and_timezone(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake, time_zone="Europe/Paris", locale="fr_FR")
    sh = gc.open_by_key(sid)
    assert (sh.id, sh.title, sh.timezone, sh.locale) == (sid, "Tracker", "Europe/Paris", "fr_FR")
    ws = sh.worksheet("Tasks")
    assert (ws.id, ws.row_count, ws.col_count, ws.frozen_row_count) == (0, 1000, 26, 0)
    # drive metadata (gspread's creationTime) is emulated too
    assert sh.creationTime.endswith("Z")


def test_missing_and_private_spreadsheets(fake: SheetsFake, gc: gspread.Client) -> None:
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("does-not-exist")
    sid = make_tracker(fake, access="none")
    with pytest.raises(PermissionError):
        gc.open_by_key(sid)
    r = gc.http_client.session.get(f"{fake.sheets_base_url}/{sid}")
    assert r.status_code == 403
    assert r.json() == {
        "error": {
            "code": 403,
            "message": "The caller does not have permission",
            "status": "PERMISSION_DENIED",
        }
    }
    fake.set_access(sid, "reader")
    ws = gc.open_by_key(sid).worksheet("Tasks")
    assert ws.acell("B2").value == "Brief"
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update_acell("B2", "nope")
    assert exc.value.response.status_code == 403
    assert fake.values(sid, "Tasks")[1][1] == "Brief"


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


def test_values_trimming_and_empty_range(fake: SheetsFake, session: RebasingSession) -> None:
    sid = fake.add_spreadsheet(
        "T",
        {"S": [["a", None, "c", None], [None], [None, "x", None], [], [None]]},
        row_count=10,
        column_count=5,
    )
    base = f"{fake.sheets_base_url}/{sid}/values"
    body = session.get(f"{base}/S").json()
    assert body == {
        "range": "S!A1:E10",
        "majorDimension": "ROWS",
        "values": [["a", "", "c"], [], ["", "x"]],
    }
    cols = session.get(f"{base}/S!A1:C3", params={"majorDimension": "COLUMNS"}).json()
    assert cols["values"] == [["a"], ["", "", "x"], ["c"]]
    empty = session.get(f"{base}/S!D5:E9").json()
    assert empty == {"range": "S!D5:E9", "majorDimension": "ROWS"}
    whole_col = session.get(f"{base}/S!B:B").json()
    assert whole_col["range"] == "S!B1:B10" and whole_col["values"] == [[], [], ["x"]]
    too_big = session.get(f"{base}/S!A1:F2")
    assert too_big.status_code == 400
    assert (
        too_big.json()["error"]["message"]
        == "Range (S!A1:F2) exceeds grid limits. Max rows: 10, max columns: 5"
    )
    unknown = session.get(f"{base}/Nope!A1")
    assert (
        unknown.status_code == 400
        and unknown.json()["error"]["message"] == "Unable to parse range: Nope!A1"
    )


def test_serial_dates_and_percent_fractions(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    ws = gc.open_by_key(sid).worksheet("Tasks")
    raw = ws.get(
        "A2:E3", value_render_option="UNFORMATTED_VALUE", date_time_render_option="SERIAL_NUMBER"
    )
    assert raw == [[1, "Brief", "Ann", 45352, 0.5], [2, "Draft", "Bob", 45359, 0.25]]
    assert dt.date(1899, 12, 30) + dt.timedelta(days=45352) == dt.date(2024, 3, 1)
    shown = ws.get("A2:E3")
    assert shown == [
        ["1", "Brief", "Ann", "2024-03-01", "50%"],
        ["2", "Draft", "Bob", "2024-03-08", "25%"],
    ]
    as_strings = ws.get(
        "D2", value_render_option="UNFORMATTED_VALUE", date_time_render_option="FORMATTED_STRING"
    )
    assert as_strings == [["2024-03-01"]]
    assert fake.values(sid, "Tasks", python_dates=True)[1][3] == dt.date(2024, 3, 1)


def test_raw_string_starting_with_equals_stays_a_string(
    fake: SheetsFake, gc: gspread.Client
) -> None:
    sid = fake.add_spreadsheet("T", {"S": [["x"]]})
    ws = gc.open_by_key(sid).sheet1
    ws.update([["=1+1", "=1+1"]], "A1:B1", raw=True)
    ws.update([["=1+1"]], "C1", raw=False)
    assert ws.get("A1:C1", value_render_option="FORMULA") == [["=1+1", "=1+1", "=1+1"]]
    assert ws.get("A1:C1", value_render_option="UNFORMATTED_VALUE") == [["=1+1", "=1+1", 2]]
    assert fake.cell(sid, "S", "A1")["userEnteredValue"] == {"stringValue": "=1+1"}
    assert fake.cell(sid, "S", "C1")["userEnteredValue"] == {"formulaValue": "=1+1"}
    # updateCells with a stringValue "=..." is a string too
    gc.open_by_key(sid).batch_update(
        {
            "requests": [
                {
                    "updateCells": {
                        "start": {"sheetId": 0, "rowIndex": 1, "columnIndex": 0},
                        "fields": "userEnteredValue",
                        "rows": [
                            {"values": [{"userEnteredValue": {"stringValue": "=SUM(A1:A3)"}}]}
                        ],
                    }
                }
            ]
        }
    )
    assert fake.cell(sid, "S", "A2")["effectiveValue"] == {"stringValue": "=SUM(A1:A3)"}


def test_user_entered_parsing(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = fake.add_spreadsheet("T", {"S": []})
    ws = gc.open_by_key(sid).sheet1
    ws.update(
        [["2020-01-01", "12%", "$1,234.50", "TRUE", "=4/2", "'0012", "1/2/2020", "x"]],
        "A1",
        value_input_option="USER_ENTERED",
    )
    assert ws.get("A1:H1", value_render_option="UNFORMATTED_VALUE") == [
        [43831, 0.12, 1234.5, True, 2, "0012", 43832, "x"]
    ]
    assert ws.get("A1:H1") == [
        ["2020-01-01", "12%", "$1,234.50", "TRUE", "2", "0012", "1/2/2020", "x"]
    ]
    assert fake.cell(sid, "S", "A1")["userEnteredFormat"]["numberFormat"] == {
        "type": "DATE",
        "pattern": "yyyy-mm-dd",
    }
    # a RAW number written into a date-formatted cell renders as a date
    ws.update([[43832]], "A1")
    assert ws.acell("A1").value == "2020-01-02"


def test_values_update_errors(fake: SheetsFake, session: RebasingSession) -> None:
    sid = fake.add_spreadsheet("T", {"S": []}, row_count=5, column_count=3)
    url = f"{fake.sheets_base_url}/{sid}/values/S!A1:B2"
    r = session.put(url, params={"valueInputOption": "RAW"}, json={"values": [[1, 2, 3]]})
    assert r.status_code == 400
    assert "tried writing to column [C]" in r.json()["error"]["message"]
    r = session.put(
        f"{fake.sheets_base_url}/{sid}/values/S!A5",
        params={"valueInputOption": "RAW"},
        json={"values": [[1], [2]]},
    )
    assert (
        r.json()["error"]["message"]
        == "Range (S!A5:A6) exceeds grid limits. Max rows: 5, max columns: 3"
    )
    r = session.put(url, json={"values": [[1]]})
    assert r.json()["error"]["message"] == "'valueInputOption' is required but not specified"
    assert fake.values(sid, "S") == []


def test_values_append_and_clear(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = fake.add_spreadsheet("T", {"S": [["h1", "h2"], ["a", 1]]}, row_count=3, column_count=2)
    ws = gc.open_by_key(sid).sheet1
    res = ws.append_rows([["b", 2], ["c", 3]])
    assert res["tableRange"] == "S!A1:B2"
    assert res["updates"]["updatedRange"] == "S!A3:B4"
    assert (
        fake.sheet_properties(sid, "S")["gridProperties"]["rowCount"] == 4
    )  # append grows the grid
    assert fake.values(sid, "S") == [["h1", "h2"], ["a", 1], ["b", 2], ["c", 3]]
    ws.batch_clear(["A2:B2"])
    assert fake.values(sid, "S")[1] == []


# ---------------------------------------------------------------------------
# spreadsheets.get: field masks and grid data
# ---------------------------------------------------------------------------


def test_get_with_field_mask_and_grid_data(fake: SheetsFake, session: RebasingSession) -> None:
    sid = make_tracker(fake, time_zone="Asia/Shanghai", locale="zh_CN")
    fake.set_note(sid, "Tasks", "B2", "check with Ann")
    fake.add_developer_metadata(sid, "row_id", "r-2", tab="Tasks", row=3)
    fields = (
        "properties(title,timeZone,locale),sheets(properties,conditionalFormats,protectedRanges,"
        "developerMetadata,data(startRow,startColumn,rowMetadata(developerMetadata),"
        "rowData(values(effectiveValue,userEnteredValue,effectiveFormat(numberFormat),note))))"
    )
    r = session.get(
        f"{fake.sheets_base_url}/{sid}", params={"ranges": "Tasks!A1:E6", "fields": fields}
    )
    body = r.json()
    assert body["properties"] == {
        "title": "Tracker",
        "locale": "zh_CN",
        "timeZone": "Asia/Shanghai",
    }
    assert set(body) == {"properties", "sheets"}
    sheet = body["sheets"][0]
    assert set(sheet) == {"properties", "data"}
    grid = sheet["data"][0]
    assert "startRow" not in grid  # proto3: zero is omitted
    rows = grid["rowData"]
    # rows 5-6 hold no value but column E is %-formatted: a formatted cell is not empty
    assert len(rows) == 6
    percent = {"effectiveFormat": {"numberFormat": {"type": "PERCENT", "pattern": "0%"}}}
    assert rows[5] == {"values": [{}, {}, {}, {}, percent]}
    narrower = session.get(
        f"{fake.sheets_base_url}/{sid}", params={"ranges": "Tasks!A1:D6", "fields": fields}
    ).json()
    assert len(narrower["sheets"][0]["data"][0]["rowData"]) == 4  # trailing empty rows trimmed
    assert rows[1]["values"][1] == {
        "userEnteredValue": {"stringValue": "Brief"},
        "effectiveValue": {"stringValue": "Brief"},
        "effectiveFormat": {},  # selected sub-message present, its masked field unset
        "note": "check with Ann",
    }
    assert rows[1]["values"][3]["effectiveFormat"] == {
        "numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}
    }
    assert rows[1]["values"][4]["effectiveValue"] == {"numberValue": 0.5}
    assert grid["rowMetadata"][2]["developerMetadata"][0]["metadataValue"] == "r-2"
    assert grid["rowMetadata"][0] == {}
    # slash/dot separated masks work as well; an untouched cell in the middle is {}
    fake.set_cell(sid, "Tasks", 2, 3, None)
    r = session.get(
        f"{fake.sheets_base_url}/{sid}",
        params={"ranges": "Tasks!A2:D2", "fields": "sheets/data/rowData/values/effectiveValue"},
    )
    assert r.json() == {
        "sheets": [
            {
                "data": [
                    {
                        "rowData": [
                            {
                                "values": [
                                    {"effectiveValue": {"numberValue": 1}},
                                    {"effectiveValue": {"stringValue": "Brief"}},
                                    {},
                                    {"effectiveValue": {"numberValue": 45352}},
                                ]
                            }
                        ]
                    }
                ]
            }
        ]
    }


def test_include_grid_data_and_ranges_select_sheets(
    fake: SheetsFake, session: RebasingSession
) -> None:
    sid = fake.add_spreadsheet("T", {"A": [["a"]], "B": [["b"]]})
    r = session.get(
        f"{fake.sheets_base_url}/{sid}", params={"ranges": ["B!A1"], "includeGridData": "true"}
    )
    sheets = r.json()["sheets"]
    assert [s["properties"]["title"] for s in sheets] == ["B"]
    (row,) = sheets[0]["data"][0]["rowData"]
    (cell,) = row["values"]
    assert set(cell) == {"userEnteredValue", "effectiveValue", "formattedValue", "effectiveFormat"}
    assert (cell["effectiveValue"], cell["formattedValue"]) == ({"stringValue": "b"}, "b")
    assert cell["effectiveFormat"]["textFormat"]["fontFamily"] == "arial,sans,sans-serif"
    assert len(sheets[0]["data"][0]["rowMetadata"]) == 1
    plain = session.get(f"{fake.sheets_base_url}/{sid}").json()
    assert all("data" not in s for s in plain["sheets"])


def test_ranges_give_a_data_block_each_and_answer_only_the_tabs_they_touch(
    fake: SheetsFake, session: RebasingSession
) -> None:
    """What the Sheets backend's lean read relies on (spreadsheets.get, Sheet.data)."""
    sid = fake.add_spreadsheet(
        "T", {"A": [["h1", "h2", "h3"], [1, 0.5, 3]], "B": [["b"]], "C": [["c"]]}
    )
    fake.set_number_format(sid, "A", "B", "PERCENT")
    fields = (
        "developerMetadata,sheets(properties(title),"
        "data(startRow,startColumn,columnMetadata(pixelSize),rowData(values(userEnteredFormat(numberFormat(type))))))"
    )
    body = session.get(
        f"{fake.sheets_base_url}/{sid}",
        params={"ranges": ["'A'!1:1", "'A'!B:B", "'C'!A1"], "fields": fields},
    ).json()
    assert [s["properties"]["title"] for s in body["sheets"]] == ["A", "C"]  # B: no range
    first, column = body["sheets"][0]["data"]
    assert "startColumn" not in first and len(first["columnMetadata"]) == 26  # the whole row
    assert column["startColumn"] == 1 and len(column["columnMetadata"]) == 1
    pct = {"userEnteredFormat": {"numberFormat": {"type": "PERCENT"}}}
    # the whole column was formatted: every row of the block carries the format, empty or not
    assert column["rowData"] == [{"values": [pct]}] * 1000


@pytest.mark.parametrize("keeps", [True, False])
def test_a_ranged_get_keeps_the_spreadsheet_metadata_as_the_flag_says(
    fake: SheetsFake, session: RebasingSession, keeps: bool
) -> None:
    sid = fake.add_spreadsheet("T", {"A": [["a"]]})
    fake.apply_requests(
        sid,
        [
            {
                "createDeveloperMetadata": {
                    "developerMetadata": {
                        "metadataKey": "k",
                        "metadataValue": "v",
                        "location": {"spreadsheet": True},
                        "visibility": "DOCUMENT",
                    }
                }
            }
        ],
    )
    fake.ranged_get_keeps_spreadsheet_metadata = keeps
    url = f"{fake.sheets_base_url}/{sid}"
    ranged = session.get(url, params={"ranges": ["A!A1"], "fields": "developerMetadata"}).json()
    plain = session.get(url, params={"fields": "developerMetadata"}).json()
    assert ("developerMetadata" in ranged) is keeps and "developerMetadata" in plain


# ---------------------------------------------------------------------------
# batchUpdate
# ---------------------------------------------------------------------------


def test_batch_update_is_all_or_nothing(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    before = fake.snapshot(sid)
    requests_ = [
        {
            "updateCells": {
                "range": {
                    "sheetId": 0,
                    "startRowIndex": 1,
                    "endRowIndex": 2,
                    "startColumnIndex": 1,
                    "endColumnIndex": 2,
                },
                "rows": [{"values": [{"userEnteredValue": {"stringValue": "CHANGED"}}]}],
                "fields": "userEnteredValue",
            }
        },
        {"addSheet": {"properties": {"title": "Summary"}}},
        {"addSheet": {"properties": {"title": "Tasks"}}},
    ]
    with pytest.raises(gspread.exceptions.APIError) as exc:
        sh.batch_update({"requests": requests_})
    err = exc.value.response.json()["error"]
    assert err == {
        "code": 400,
        "status": "INVALID_ARGUMENT",
        "message": 'Invalid requests[2].addSheet: A sheet with the name "Tasks" already exists. '
        "Please enter another name.",
    }
    assert fake.snapshot(sid) == before
    assert fake.sheet_titles(sid) == ["Tasks"]
    # the same batch without the bad request applies and answers one reply per request
    res = sh.batch_update({"requests": requests_[:2]})
    assert res["replies"][0] == {}
    assert res["replies"][1]["addSheet"]["properties"]["title"] == "Summary"
    assert fake.sheet_titles(sid) == ["Tasks", "Summary"]
    assert fake.values(sid, "Tasks")[1][1] == "CHANGED"


def test_add_worksheet_duplicate_title(fake: SheetsFake, gc: gspread.Client) -> None:
    sh = gc.open_by_key(make_tracker(fake))
    with pytest.raises(gspread.exceptions.APIError) as exc:
        sh.add_worksheet("tasks", 10, 5)  # titles are case-insensitively unique
    assert exc.value.response.status_code == 400
    assert (
        'A sheet with the name "tasks" already exists'
        in exc.value.response.json()["error"]["message"]
    )


def test_unknown_and_unimplemented_request_kinds(
    fake: SheetsFake, session: RebasingSession
) -> None:
    sid = make_tracker(fake)
    url = f"{fake.sheets_base_url}/{sid}:batchUpdate"
    r = session.post(url, json={"requests": [{"frobnicate": {}}]})
    assert (
        r.json()["error"]["message"]
        == "Invalid JSON payload received. Unknown name \"frobnicate\" at 'requests[0]': Cannot find field."
    )
    r = session.post(
        url, json={"requests": [{"updateBorders": {"range": {"sheetId": 0}}}, {"findReplace": {}}]}
    )
    assert r.status_code == 400 and r.json()["error"]["message"].startswith(
        "Invalid requests[1].findReplace"
    )
    r = session.post(url, json={"requests": [{"deleteSheet": {"sheetId": 0}}]})
    assert (
        r.json()["error"]["message"]
        == "Invalid requests[0].deleteSheet: You can't remove all the sheets in a document."
    )
    r = session.post(
        url,
        json={
            "requests": [{"updateCells": {"start": {"sheetId": 7}, "rows": [], "fields": "note"}}]
        },
    )
    assert r.json()["error"]["message"] == "Invalid requests[0].updateCells: No grid with id: 7"


def test_sheet_properties_conditional_formats_and_protection(
    fake: SheetsFake, gc: gspread.Client
) -> None:
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    rule = {
        "ranges": [
            {
                "sheetId": 0,
                "startRowIndex": 1,
                "endRowIndex": 10,
                "startColumnIndex": 4,
                "endColumnIndex": 5,
            }
        ],
        "booleanRule": {
            "condition": {"type": "NUMBER_LESS", "values": [{"userEnteredValue": "0.3"}]},
            "format": {"backgroundColor": {"red": 1}},
        },
    }
    res = sh.batch_update(
        {
            "requests": [
                {
                    "updateSheetProperties": {
                        "properties": {
                            "sheetId": 0,
                            "title": "Plan",
                            "gridProperties": {"frozenRowCount": 1},
                        },
                        "fields": "title,gridProperties.frozenRowCount",
                    }
                },
                {"addConditionalFormatRule": {"rule": rule, "index": 0}},
                {
                    "addProtectedRange": {
                        "protectedRange": {
                            "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
                            "description": "header",
                            "warningOnly": True,
                        }
                    }
                },
            ]
        }
    )
    protected = res["replies"][2]["addProtectedRange"]["protectedRange"]
    assert protected["range"] == {
        "startRowIndex": 0,
        "endRowIndex": 1,
    }  # sheetId 0 omitted, like Google
    props = fake.sheet_properties(sid, "Plan")
    assert props["gridProperties"] == {"rowCount": 1000, "columnCount": 26, "frozenRowCount": 1}
    assert fake.conditional_formats(sid, "Plan")[0]["ranges"] == [
        {"startRowIndex": 1, "endRowIndex": 10, "startColumnIndex": 4, "endColumnIndex": 5}
    ]
    # a human inserts two rows above row 3: the rule's range grows, the header protection stays
    fake.insert_rows(sid, "Plan", 3, count=2)
    assert fake.conditional_formats(sid, "Plan")[0]["ranges"][0]["endRowIndex"] == 12
    assert fake.protected_ranges(sid, "Plan")[0]["range"]["endRowIndex"] == 1
    fake.delete_rows(sid, "Plan", 1)
    assert fake.conditional_formats(sid, "Plan")[0]["ranges"][0]["startRowIndex"] == 0
    assert fake.protected_ranges(sid, "Plan") == []  # its only row was deleted
    deleted = sh.batch_update(
        {"requests": [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 0}}]}
    )
    assert (
        deleted["replies"][0]["deleteConditionalFormatRule"]["rule"]["booleanRule"]
        == rule["booleanRule"]
    )
    assert fake.conditional_formats(sid, "Plan") == []
    bad = {
        "requests": [
            {
                "updateSheetProperties": {
                    "properties": {"sheetId": 0, "gridProperties": {"frozenRowCount": 5000}},
                    "fields": "gridProperties.frozenRowCount",
                }
            }
        ]
    }
    with pytest.raises(gspread.exceptions.APIError, match="freeze all visible rows"):
        sh.batch_update(bad)


def test_charts_validation_dimensions(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    res = sh.batch_update(
        {
            "requests": [
                {
                    "addChart": {
                        "chart": {
                            "spec": {"title": "Progress"},
                            "position": {"overlayPosition": {"anchorCell": {"sheetId": 0}}},
                        }
                    }
                },
                {
                    "setDataValidation": {
                        "range": {
                            "sheetId": 0,
                            "startRowIndex": 1,
                            "endRowIndex": 4,
                            "startColumnIndex": 2,
                            "endColumnIndex": 3,
                        },
                        "rule": {
                            "condition": {
                                "type": "ONE_OF_LIST",
                                "values": [{"userEnteredValue": "Ann"}],
                            }
                        },
                    }
                },
                {
                    "updateDimensionProperties": {
                        "range": {
                            "sheetId": 0,
                            "dimension": "COLUMNS",
                            "startIndex": 1,
                            "endIndex": 2,
                        },
                        "properties": {"pixelSize": 250},
                        "fields": "pixelSize",
                    }
                },
                {"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 5}},
                {
                    "mergeCells": {
                        "range": {
                            "sheetId": 0,
                            "startRowIndex": 5,
                            "endRowIndex": 6,
                            "startColumnIndex": 0,
                            "endColumnIndex": 2,
                        },
                        "mergeType": "MERGE_ALL",
                    }
                },
                {
                    "updateBorders": {
                        "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
                        "top": {"style": "SOLID"},
                    }
                },
            ]
        }
    )
    chart_id = res["replies"][0]["addChart"]["chart"]["chartId"]
    assert fake.charts(sid, "Tasks")[0]["chartId"] == chart_id
    assert fake.cell(sid, "Tasks", "C2")["dataValidation"]["condition"]["type"] == "ONE_OF_LIST"
    assert fake.sheet_properties(sid, "Tasks")["gridProperties"]["rowCount"] == 1005
    got = gc.http_client.session.get(
        f"{fake.sheets_base_url}/{sid}",
        params={"ranges": "Tasks!A1:C1", "fields": "sheets(merges,data.columnMetadata)"},
    )
    sheet = got.json()["sheets"][0]
    assert [c["pixelSize"] for c in sheet["data"][0]["columnMetadata"]] == [100, 250, 100]
    assert sheet["merges"] == [
        {"startRowIndex": 5, "endRowIndex": 6, "startColumnIndex": 0, "endColumnIndex": 2}
    ]
    sh.batch_update({"requests": [{"deleteEmbeddedObject": {"objectId": chart_id}}]})
    assert fake.charts(sid, "Tasks") == []
    with pytest.raises(
        gspread.exceptions.APIError, match=r"Invalid requests\[0\].deleteEmbeddedObject"
    ):
        sh.batch_update({"requests": [{"deleteEmbeddedObject": {"objectId": chart_id}}]})


def test_more_request_kinds_and_spreadsheet_in_response(
    fake: SheetsFake, gc: gspread.Client, session: RebasingSession
) -> None:
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    rule = {
        "ranges": [{"sheetId": 0, "startRowIndex": 1, "endRowIndex": 4}],
        "booleanRule": {
            "condition": {"type": "NOT_BLANK"},
            "format": {"textFormat": {"bold": True}},
        },
    }
    res = sh.batch_update(
        {
            "requests": [
                {"addConditionalFormatRule": {"rule": rule}},
                {
                    "addConditionalFormatRule": {
                        "rule": rule | {"ranges": [{"sheetId": 0}]},
                        "index": 1,
                    }
                },
                {"updateConditionalFormatRule": {"sheetId": 0, "index": 1, "newIndex": 0}},
                {
                    "addNamedRange": {
                        "namedRange": {
                            "name": "Owners",
                            "range": {
                                "sheetId": 0,
                                "startRowIndex": 1,
                                "endRowIndex": 4,
                                "startColumnIndex": 2,
                                "endColumnIndex": 3,
                            },
                        }
                    }
                },
                {
                    "insertDimension": {
                        "range": {
                            "sheetId": 0,
                            "dimension": "ROWS",
                            "startIndex": 1,
                            "endIndex": 2,
                        },
                        "inheritFromBefore": True,
                    }
                },
                {"duplicateSheet": {"sourceSheetId": 0, "newSheetName": "Copy"}},
                {
                    "deleteDimension": {
                        "range": {
                            "sheetId": 0,
                            "dimension": "COLUMNS",
                            "startIndex": 0,
                            "endIndex": 1,
                        }
                    }
                },
            ],
            "includeSpreadsheetInResponse": True,
            "responseRanges": ["Tasks!A1:B2"],
            "responseIncludeGridData": True,
        }
    )
    moved = res["replies"][2]["updateConditionalFormatRule"]
    assert (moved["oldIndex"], moved["newIndex"]) == (1, 0)
    assert res["replies"][5]["duplicateSheet"]["properties"]["title"] == "Copy"
    updated = res["updatedSpreadsheet"]
    assert [s["properties"]["title"] for s in updated["sheets"]] == ["Tasks"]
    assert updated["sheets"][0]["data"][0]["rowData"][0]["values"][0]["formattedValue"] == "Task"
    # the inserted row pushed the named range down; column A is gone
    assert session.get(f"{fake.sheets_base_url}/{sid}/values/Owners").json()["values"] == [
        ["Ann"],
        ["Bob"],
        ["Cid"],
    ]
    assert fake.values(sid, "Copy")[2][0] == 1  # the copy kept column A
    assert [len(r["ranges"]) for r in fake.conditional_formats(sid, "Tasks")] == [1, 1]
    created = session.post(
        fake.sheets_base_url,
        json={"properties": {"title": "Brand new"}, "sheets": [{"properties": {"title": "Only"}}]},
    ).json()
    assert created["properties"]["title"] == "Brand new"
    assert fake.sheet_titles(created["spreadsheetId"]) == ["Only"]
    got = session.post(
        f"{fake.sheets_base_url}/{sid}:getByDataFilter",
        json={"dataFilters": [{"a1Range": "Tasks!A1:A2"}], "includeGridData": True},
    ).json()
    assert got["sheets"][0]["data"][0]["rowData"][0]["values"][0]["effectiveValue"] == {
        "stringValue": "Task"
    }
    cleared = session.post(
        f"{fake.sheets_base_url}/{sid}/values:batchClearByDataFilter",
        json={"dataFilters": [{"gridRange": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1}}]},
    ).json()
    assert cleared["clearedRanges"] == ["Tasks!A1:Y1"]
    assert fake.values(sid, "Tasks")[0] == []


# ---------------------------------------------------------------------------
# developer metadata and data filters
# ---------------------------------------------------------------------------


def _create_row_meta(sh: gspread.Spreadsheet, row_index: int, value: str) -> int:
    res = sh.batch_update(
        {
            "requests": [
                {
                    "createDeveloperMetadata": {
                        "developerMetadata": {
                            "metadataKey": "tracker_row",
                            "metadataValue": value,
                            "visibility": "DOCUMENT",
                            "location": {
                                "dimensionRange": {
                                    "sheetId": 0,
                                    "dimension": "ROWS",
                                    "startIndex": row_index,
                                    "endIndex": row_index + 1,
                                }
                            },
                        }
                    }
                }
            ]
        }
    )
    dm = res["replies"][0]["createDeveloperMetadata"]["developerMetadata"]
    assert dm["location"] == {
        "locationType": "ROW",
        "dimensionRange": {"dimension": "ROWS", "startIndex": row_index, "endIndex": row_index + 1},
    }
    return int(dm["metadataId"])


def test_row_metadata_moves_with_insert_delete_sort(
    fake: SheetsFake, gc: gspread.Client, session: RebasingSession
) -> None:
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    mid = _create_row_meta(sh, 2, "task-2")  # row 3 = ID 2 "Draft"
    assert fake.metadata_row(sid, mid) == 3
    fake.insert_rows(sid, "Tasks", 2, [[9, "Urgent", "Zed"]])  # human inserts above row 2
    (found,) = meta_search(session, fake, sid, metadataKey="tracker_row", metadataValue="task-2")
    assert found["location"]["dimensionRange"]["startIndex"] == 3
    assert fake.values(sid, "Tasks")[3][1] == "Draft"
    fake.sort_rows(sid, "Tasks", 2, 5, "A", descending=True)  # IDs 9,3,2,1
    assert [r[0] for r in fake.values(sid, "Tasks")[1:]] == [9, 3, 2, 1]
    assert fake.metadata_row(sid, mid) == 4
    # sortRange through the API moves it as well
    sh.batch_update(
        {
            "requests": [
                {
                    "sortRange": {
                        "range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 5},
                        "sortSpecs": [{"dimensionIndex": 0, "sortOrder": "ASCENDING"}],
                    }
                }
            ]
        }
    )
    assert fake.metadata_row(sid, mid) == 3
    assert fake.values(sid, "Tasks")[2][1] == "Draft"
    fake.delete_rows(sid, "Tasks", 2)  # delete the row above: it moves up
    assert fake.metadata_row(sid, mid) == 2
    fake.delete_rows(sid, "Tasks", 2)  # delete its own row: the metadata goes with it
    assert fake.metadata_row(sid, mid) is None
    assert meta_search(session, fake, sid, metadataKey="tracker_row") == []
    r = session.get(f"{fake.sheets_base_url}/{sid}/developerMetadata/{mid}")
    assert r.status_code == 404


def test_metadata_crud_and_lookup_matching(
    fake: SheetsFake, gc: gspread.Client, session: RebasingSession
) -> None:
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    mid = _create_row_meta(sh, 1, "task-1")
    col = fake.add_developer_metadata(sid, "column", "progress", tab="Tasks", column="E")
    top = fake.add_developer_metadata(sid, "schema", "v1", visibility="PROJECT")
    got = session.get(f"{fake.sheets_base_url}/{sid}/developerMetadata/{top}").json()
    assert got == {
        "metadataId": top,
        "metadataKey": "schema",
        "metadataValue": "v1",
        "location": {"locationType": "SPREADSHEET", "spreadsheet": True},
        "visibility": "PROJECT",
    }
    row_loc = {
        "dimensionRange": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 2}
    }
    inter = meta_search(session, fake, sid, metadataLocation=row_loc)
    assert {m["metadataId"] for m in inter} == {mid, col}  # column E intersects row 2
    exact = meta_search(
        session, fake, sid, metadataLocation=row_loc, locationMatchingStrategy="EXACT_LOCATION"
    )
    assert [m["metadataId"] for m in exact] == [mid]
    assert [m["metadataId"] for m in meta_search(session, fake, sid, locationType="COLUMN")] == [
        col
    ]
    by_range = session.post(
        f"{fake.sheets_base_url}/{sid}/developerMetadata:search",
        json={"dataFilters": [{"a1Range": "Tasks!B2"}]},
    ).json()
    assert {m["developerMetadata"]["metadataId"] for m in by_range["matchedDeveloperMetadata"]} == {
        mid
    }
    res = sh.batch_update(
        {
            "requests": [
                {
                    "updateDeveloperMetadata": {
                        "dataFilters": [{"developerMetadataLookup": {"metadataId": mid}}],
                        "developerMetadata": {"metadataValue": "task-1b"},
                        "fields": "metadataValue",
                    }
                },
                {
                    "deleteDeveloperMetadata": {
                        "dataFilter": {"developerMetadataLookup": {"metadataKey": "column"}}
                    }
                },
            ]
        }
    )
    assert (
        res["replies"][0]["updateDeveloperMetadata"]["developerMetadata"][0]["metadataValue"]
        == "task-1b"
    )
    assert (
        res["replies"][1]["deleteDeveloperMetadata"]["deletedDeveloperMetadata"][0]["metadataId"]
        == col
    )
    assert {m["metadataKey"] for m in fake.developer_metadata(sid)} == {"tracker_row", "schema"}
    bad = {
        "requests": [
            {
                "createDeveloperMetadata": {
                    "developerMetadata": {
                        "metadataKey": "k",
                        "visibility": "DOCUMENT",
                        "location": {
                            "dimensionRange": {
                                "sheetId": 0,
                                "dimension": "ROWS",
                                "startIndex": 1,
                                "endIndex": 3,
                            }
                        },
                    }
                }
            }
        ]
    }
    with pytest.raises(gspread.exceptions.APIError, match="single row or column"):
        sh.batch_update(bad)


def test_batch_update_by_data_filter_follows_the_row_after_a_human_insert(
    fake: SheetsFake, gc: gspread.Client
) -> None:
    """The product's write path: anchor a row with metadata, a human inserts a row above between the
    product's read and its write, the write-by-metadata still lands on the right row."""
    sid = make_tracker(fake)
    sh = gc.open_by_key(sid)
    mid = _create_row_meta(sh, 2, "task-2")
    ws = sh.worksheet("Tasks")
    snapshot = ws.get_all_values()  # the product reads...
    assert snapshot[2][1] == "Draft"
    fake.on_request(1, lambda f: f.insert_rows(sid, "Tasks", 2, [[7, "Inserted by a human"]]))
    body = {
        "valueInputOption": "USER_ENTERED",
        "data": [
            {
                "dataFilter": {"developerMetadataLookup": {"metadataId": mid}},
                "values": [[None, None, None, None, "80%"]],
            },
            {"dataFilter": {"a1Range": "Tasks!G1"}, "values": [["checked"]]},
            {
                "dataFilter": {
                    "gridRange": {
                        "sheetId": 0,
                        "startRowIndex": 0,
                        "endRowIndex": 1,
                        "startColumnIndex": 7,
                        "endColumnIndex": 8,
                    }
                },
                "values": [["ok"]],
            },
        ],
    }
    r = gc.http_client.request(
        "post", f"{fake.sheets_base_url}/{sid}/values:batchUpdateByDataFilter", json=body
    )
    out = r.json()
    assert out["responses"][0]["updatedRange"] == "Tasks!A4:E4"
    assert out["responses"][0]["dataFilter"] == body["data"][0]["dataFilter"]
    assert out["totalUpdatedCells"] == 3
    values = fake.values(sid, "Tasks")
    assert values[1][:2] == [7, "Inserted by a human"]
    assert values[3][:5] == [2, "Draft", "Bob", 45359, 0.8]
    assert values[0][6:8] == ["checked", "ok"]
    assert fake.request_count("values.batchUpdateByDataFilter") == 1
    got = gc.http_client.request(
        "post",
        f"{fake.sheets_base_url}/{sid}/values:batchGetByDataFilter",
        json={
            "dataFilters": [{"developerMetadataLookup": {"metadataKey": "tracker_row"}}],
            "valueRenderOption": "UNFORMATTED_VALUE",
        },
    ).json()
    assert got["valueRanges"][0]["valueRange"]["range"] == "Tasks!A4:Z4"
    assert got["valueRanges"][0]["valueRange"]["values"] == [[2, "Draft", "Bob", 45359, 0.8]]
    too_wide = {
        "valueInputOption": "RAW",
        "data": [
            {
                "dataFilter": {"developerMetadataLookup": {"metadataId": mid}},
                "values": [list(range(27))],
            }
        ],
    }
    with pytest.raises(gspread.exceptions.APIError, match="tried writing to column"):
        gc.http_client.request(
            "post", f"{fake.sheets_base_url}/{sid}/values:batchUpdateByDataFilter", json=too_wide
        )


# ---------------------------------------------------------------------------
# hooks, faults, auth, counting
# ---------------------------------------------------------------------------


def test_on_request_hook_runs_before_the_nth_request(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    ws = gc.open_by_key(sid).worksheet("Tasks")
    fake.on_request(
        2, lambda f: f.rename_header(sid, "Tasks", "Owner", "Assignee"), kind="values.get"
    )
    assert ws.row_values(1)[2] == "Owner"
    assert ws.row_values(1)[2] == "Assignee"
    fake.on_request(1, lambda f: f.set_cell(sid, "Tasks", 2, "B", "12%", user_entered=True))
    assert ws.acell("B2", value_render_option="UNFORMATTED_VALUE").value == 0.12


def test_fault_429_with_retry_after_then_recovers(fake: SheetsFake) -> None:
    sid = make_tracker(fake)
    headers = bearer(fake)
    url = f"{fake.sheets_base_url}/{sid}/values/Tasks!A1"
    fake.inject_fault(at=2, status=429, retry_after=7)
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    r = requests.get(url, headers=headers, timeout=5)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    assert [rec.status for rec in fake.requests if rec.kind == "values.get"] == [200, 429, 200]
    assert fake.requests[-2].fault == "429"


def test_fault_500_503_times_and_persistent(fake: SheetsFake) -> None:
    sid = make_tracker(fake)
    headers = bearer(fake)
    url = f"{fake.sheets_base_url}/{sid}"
    fake.inject_fault(status=500, times=2)
    codes = [requests.get(url, headers=headers, timeout=5).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    fake.inject_fault(at=2, status=503, persistent=True, kind="batchUpdate")
    body = {"requests": [{"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 1}}]}
    codes = [
        requests.post(url + ":batchUpdate", json=body, headers=headers, timeout=5).status_code
        for _ in range(3)
    ]
    assert codes == [200, 503, 503]
    assert (
        requests.get(url, headers=headers, timeout=5).status_code == 200
    )  # other kinds unaffected
    assert fake.sheet_properties(sid, "Tasks")["gridProperties"]["rowCount"] == 1001
    assert requests.post(url + ":batchUpdate", json=body, headers=headers, timeout=5).json()[
        "error"
    ] == {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}
    fake.clear_faults()
    assert (
        requests.post(url + ":batchUpdate", json=body, headers=headers, timeout=5).status_code
        == 200
    )


def test_fault_delay_client_times_out_but_the_write_lands(fake: SheetsFake) -> None:
    sid = make_tracker(fake)
    headers = bearer(fake)
    url = f"{fake.sheets_base_url}/{sid}/values/Tasks!B2"
    fake.inject_fault(delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.put(
            url,
            params={"valueInputOption": "RAW"},
            json={"values": [["late"]]},
            headers=headers,
            timeout=0.2,
        )
    deadline = time.time() + 5
    while fake.values(sid, "Tasks")[1][1] != "late" and time.time() < deadline:
        time.sleep(0.05)
    assert fake.values(sid, "Tasks")[1][1] == "late"


def test_fault_drop_closes_the_connection(fake: SheetsFake) -> None:
    sid = make_tracker(fake)
    headers = bearer(fake)
    url = f"{fake.sheets_base_url}/{sid}/values/Tasks!B2"
    fake.inject_fault(drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.put(
            url,
            params={"valueInputOption": "RAW"},
            json={"values": [["lost"]]},
            headers=headers,
            timeout=5,
        )
    assert fake.values(sid, "Tasks")[1][1] == "Brief"  # dropped before processing
    fake.inject_fault(drop=True, apply=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.put(
            url,
            params={"valueInputOption": "RAW"},
            json={"values": [["applied"]]},
            headers=headers,
            timeout=5,
        )
    assert fake.values(sid, "Tasks")[1][1] == "applied"  # processed, then the answer was lost
    assert [rec.status for rec in fake.requests if rec.kind == "values.update"] == [0, 0]


def test_faults_and_counts_ignore_token_requests(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    fake.inject_fault(at=2, status=500)
    sh = gc.open_by_key(sid)  # token + 1st Sheets request
    assert fake.request_count("token") == 1
    with pytest.raises(gspread.exceptions.APIError):
        sh.worksheet("Tasks").get_all_values()  # worksheet() is #2 (spreadsheets.get)
    ws = sh.worksheet("Tasks")
    assert ws.get_all_values()[1][1] == "Brief"
    ws.update_acell("B2", "x")
    assert fake.request_count() == 5
    assert fake.request_count("get") == 3
    assert fake.request_count("values.get") == 1
    assert fake.request_count("values") == 2
    assert fake.request_count("read") == 4
    assert fake.request_count("write") == 1
    assert fake.request_count("token") == 1
    assert fake.request_count("all") == 6
    fake.reset_log()
    assert fake.request_count("all") == 0


def test_rate_limit_answers_429(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    ws = gc.open_by_key(sid).worksheet("Tasks")
    fake.set_rate_limit(3, per_seconds=60, kind="write")
    for i in range(3):
        ws.update_cell(2, 2, f"v{i}")
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update_cell(2, 2, "one too many")
    assert exc.value.response.status_code == 429
    assert fake.values(sid, "Tasks")[1][1] == "v2"


def test_auth_401_and_token_refresh(fake: SheetsFake, gc: gspread.Client) -> None:
    sid = make_tracker(fake)
    url = f"{fake.sheets_base_url}/{sid}"
    r = requests.get(url, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    r = requests.get(url, headers={"Authorization": "Bearer ya29.made-up"}, timeout=5)
    assert (
        r.status_code == 401
        and "invalid authentication credentials" in r.json()["error"]["message"]
    )
    sh = gc.open_by_key(sid)
    fake.expire_tokens()
    assert (
        sh.worksheet("Tasks").acell("A1").value == "ID"
    )  # google-auth refreshed on the 401 and retried
    assert fake.request_count("token") == 2
    assert [rec.status for rec in fake.requests if rec.kind == "get"][-2:] == [401, 200]
    bad = requests.post(
        fake.token_uri,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": "not-a-jwt",
        },
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def test_readonly_scope_cannot_write(fake: SheetsFake, sa_path: Path) -> None:
    sid = make_tracker(fake)
    ro = service_account.Credentials.from_service_account_file(
        str(sa_path), scopes=[SCOPE_SHEETS + ".readonly"]
    )
    client = gspread.Client(auth=ro, session=RebasingSession(ro, fake.api_endpoint))
    ws = client.open_by_key(sid).worksheet("Tasks")
    assert ws.acell("B2").value == "Brief"
    with pytest.raises(gspread.exceptions.APIError) as exc:
        ws.update_acell("B2", "x")
    assert exc.value.response.status_code == 403
    assert (
        exc.value.response.json()["error"]["message"]
        == "Request had insufficient authentication scopes."
    )


# ---------------------------------------------------------------------------
# pointing gspread at the fake, loading, helpers
# ---------------------------------------------------------------------------


def test_rebasing_session_and_url_patch_are_equivalent(
    fake: SheetsFake, creds: service_account.Credentials
) -> None:
    import gspread.http_client
    import gspread.urls

    sid = make_tracker(fake)
    original = gspread.http_client.SPREADSHEET_URL
    client = fake.gspread_client()
    assert client.open_by_key(sid).sheet1.acell("B2").value == "Brief"
    with patched_gspread_urls(fake.api_endpoint):
        assert fake.sheets_base_url + "/%s" == gspread.http_client.SPREADSHEET_URL
        assert fake.sheets_base_url == gspread.urls.SPREADSHEETS_API_V4_BASE_URL
        assert gspread.authorize(creds).open_by_key(sid).sheet1.acell("C2").value == "Ann"
    assert original == gspread.http_client.SPREADSHEET_URL


def test_load_xlsx(fake: SheetsFake, tmp_path: Path, gc: gspread.Client) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "进度表"
    ws.append(["ID", "Due", "Done", "Note", "Total"])
    ws.append([1, dt.date(2020, 1, 1), 0.12, "x", "=1+2"])
    ws["B2"].number_format = "yyyy-mm-dd"
    ws["C2"].number_format = "0%"
    ws["D2"].comment = openpyxl.comments.Comment("a note", "me")
    ws.freeze_panes = "A2"
    path = tmp_path / "tracker.xlsx"
    wb.save(path)
    sid = fake.load(path, time_zone="Asia/Shanghai")
    assert fake.sheet_titles(sid) == ["进度表"]
    assert fake.sheet_properties(sid, "进度表")["gridProperties"]["frozenRowCount"] == 1
    assert fake.values(sid, "进度表") == [
        ["ID", "Due", "Done", "Note", "Total"],
        [1, 43831, 0.12, "x", 3],
    ]
    sheet = gc.open_by_key(sid).worksheet("进度表")
    assert sheet.row_values(2) == ["1", "2020-01-01", "12%", "x", "3"]
    assert sheet.get_note("D2") == "a note"
    assert fake.cell(sid, "进度表", "E2")["userEnteredValue"] == {"formulaValue": "=1+2"}


def test_load_json_and_snapshot_round_trip(fake: SheetsFake, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "title": "From JSON",
                "timeZone": "Europe/Paris",
                "locale": "fr_FR",
                "sheets": {
                    "Tasks": [
                        ["ID", "Due", "Pct"],
                        [1, {"date": "2024-02-29"}, 0.5],
                        [2, None, {"formula": "=2*3"}],
                    ]
                },
                "numberFormats": {"Tasks": {"C": "PERCENT"}},
            }
        )
    )
    sid = fake.load(path)
    assert fake.values(sid, "Tasks") == [["ID", "Due", "Pct"], [1, 45351, 0.5], [2, "", 6]]
    assert fake.values(sid, "Tasks", value_render="FORMATTED_VALUE")[1] == [
        "1",
        "2024-02-29",
        "50,00%",
    ]
    fake.add_developer_metadata(sid, "row", "r1", tab="Tasks", row=2)
    fake.apply_requests(
        sid,
        [
            {
                "addConditionalFormatRule": {
                    "rule": {
                        "ranges": [
                            {
                                "sheetId": 0,
                                "startRowIndex": 1,
                                "startColumnIndex": 2,
                                "endColumnIndex": 3,
                            }
                        ],
                        "booleanRule": {
                            "condition": {
                                "type": "NUMBER_GREATER",
                                "values": [{"userEnteredValue": "0.9"}],
                            },
                            "format": {"textFormat": {"bold": True}},
                        },
                    }
                }
            }
        ],
    )
    snap = fake.snapshot(sid)
    dump = tmp_path / "snap.json"
    dump.write_text(json.dumps(snap))
    copy_id = fake.load(dump, spreadsheet_id="copy")
    again = fake.snapshot(copy_id)
    assert again["spreadsheetId"] == "copy"
    for key in ("spreadsheetId", "spreadsheetUrl"):
        snap.pop(key)
        again.pop(key)
    assert again == snap


def test_human_edit_helpers(fake: SheetsFake) -> None:
    sid = make_tracker(fake)
    fake.rename_header(sid, "Tasks", "Owner", "Assignee")
    fake.set_cell(sid, "Tasks", 4, "D", "2024-04-01", user_entered=True)
    fake.set_cell(sid, "Tasks", 4, 5, Formula("=1/0"))
    fake.insert_columns(sid, "Tasks", "B")
    fake.rename_sheet(sid, "Tasks", "Plan")
    fake.add_sheet(sid, "Summary", [["total", 3]])
    vals = fake.values(sid, "Plan")
    assert vals[0] == ["ID", "", "Task", "Assignee", "Due", "Progress"]
    assert vals[3][4:] == [45383, "#DIV/0!"]
    assert (
        fake.cell(sid, "Plan", 4, "F")["effectiveValue"]["errorValue"]["type"] == "DIVIDE_BY_ZERO"
    )
    fake.delete_columns(sid, "Plan", "B")
    fake.delete_sheet(sid, "Summary")
    assert fake.sheet_titles(sid) == ["Plan"]
    assert fake.values(sid, "Plan")[0][:3] == ["ID", "Task", "Assignee"]
    with pytest.raises(ApiError, match="already exists"):
        fake.apply_requests(sid, [{"addSheet": {"properties": {"title": "plan"}}}])
    with pytest.raises(KeyError):
        fake.rename_header(sid, "Plan", "Nope", "x")


def test_formatting_and_parsing_units() -> None:
    assert (
        format_value({"numberValue": 1234.5}, {"type": "NUMBER", "pattern": "#,##0.00"}, "en_US")
        == "1,234.50"
    )
    assert (
        format_value({"numberValue": 1234.5}, {"type": "NUMBER", "pattern": "#,##0.00"}, "de_DE")
        == "1.234,50"
    )
    assert (
        format_value({"numberValue": -0.125}, {"type": "PERCENT", "pattern": "0.0%"}, "en_US")
        == "-12.5%"
    )
    assert (
        format_value({"numberValue": 45352}, {"type": "DATE", "pattern": "dd/MM/yyyy"}, "en_US")
        == "01/03/2024"
    )
    assert (
        format_value(
            {"numberValue": 45352.5}, {"type": "DATE_TIME", "pattern": "yyyy-mm-dd hh:mm"}, "en_US"
        )
        == "2024-03-01 12:00"
    )
    assert (
        format_value({"numberValue": 45352}, {"type": "DATE", "pattern": "mmm d, yyyy"}, "en_US")
        == "Mar 1, 2024"
    )
    assert format_value({"numberValue": 45352}, {"type": "DATE"}, "en_US") == "3/1/2024"
    assert format_value({"numberValue": 1 / 3}, None, "en_US") == "0.3333333333"
    assert format_value({"boolValue": False}, None, "en_US") == "FALSE"
    assert parse_user_entered("1,5", "fr_FR") == ({"numberValue": 1.5}, None)
    assert parse_user_entered("01/02/2024", "fr_FR")[0] == {"numberValue": 45323}
    assert parse_user_entered("'=x", "en_US") == ({"stringValue": "=x"}, None)
    assert parse_field_mask("a,b(c,d/e),f.g") == {
        "a": None,
        "b": {"c": None, "d": {"e": None}},
        "f": {"g": None},
    }


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def test_cli_help_explains_configuration() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tests.sheets_fake", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    for needle in (
        "--port",
        "--load",
        "--service-account",
        "--spreadsheet-id",
        "backend: gsheets",
        "tracker.backend=gsheets",
        "google.api_endpoint=http://127.0.0.1:8765",
        "google:",
        "api_endpoint: http://127.0.0.1:8765",
        "credentials: out.json",
    ):
        assert needle in out


def test_cli_serves_an_xlsx(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Tasks"
    wb.active.append(["ID", "Task"])
    wb.active.append([1, "Brief"])
    xlsx = tmp_path / "tracker.xlsx"
    wb.save(xlsx)
    sa = tmp_path / "out.json"
    dump = tmp_path / "dump.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.sheets_fake",
            "--port",
            "0",
            "--load",
            str(xlsx),
            "--spreadsheet-id",
            "cli-sheet",
            "--service-account",
            str(sa),
            "--dump-on-exit",
            str(dump),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("serving"):
                break
            key, _, value = line.strip().partition("=")
            info[key] = value
        assert info["spreadsheet_id"] == "cli-sheet"
        assert Path(info["service_account"]) == sa.resolve()
        endpoint = info["api_endpoint"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint)
        assert json.loads(sa.read_text())["token_uri"] == endpoint + "/token"
        creds = service_account.Credentials.from_service_account_file(
            str(sa), scopes=[SCOPE_SHEETS]
        )
        client = gspread.Client(auth=creds, session=RebasingSession(creds, endpoint))
        ws = client.open_by_key("cli-sheet").worksheet("Tasks")
        assert ws.get_all_values() == [["ID", "Task"], ["1", "Brief"]]
        ws.update_acell("B2", "Final")
        log = requests.get(endpoint + "/_fake/requests", timeout=5).json()["requests"]
        assert [r["kind"] for r in log] == ["token", "get", "get", "values.get", "values.update"]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    saved = json.loads(dump.read_text())
    row = saved["cli-sheet"]["sheets"][0]["data"][0]["rowData"][1]["values"]
    assert row[1]["effectiveValue"] == {"stringValue": "Final"}


# ---------------------------------------------------------------------------
# Google's limits and reply sizes
# ---------------------------------------------------------------------------


def test_a_request_over_10_mb_answers_googles_payload_400_and_changes_nothing(
    fake: SheetsFake, session: RebasingSession
) -> None:
    sid = fake.add_spreadsheet(sheets={"T": [["a"]]})
    big = "x" * 1000
    body = {"valueInputOption": "RAW", "data": [{"range": "T!A1", "values": [[big]] * 10_500}]}
    r = session.post(f"{fake.sheets_base_url}/{sid}/values:batchUpdate", json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["message"] == "Request payload size exceeds the limit: 10485760 bytes."
    assert error["status"] == "INVALID_ARGUMENT" and error["errors"][0]["reason"] == "badRequest"
    assert fake.values(sid, "T") == [["a"]]
    # just under the limit is served
    body["data"][0]["values"] = [[big]] * 10_000
    r = session.post(f"{fake.sheets_base_url}/{sid}/values:batchUpdate", json=body)
    assert r.status_code == 400 and "exceeds grid limits" in r.json()["error"]["message"]


def test_a_data_filter_write_echoes_the_whole_requested_range(
    fake: SheetsFake, session: RebasingSession
) -> None:
    """Documented: with includeValuesInResponse, "the response includes all values in the
    requested range (excluding trailing empty rows and columns)" -- for a column anchor that is
    the whole column, however little was written; a write of only nulls writes nothing."""
    sid = fake.add_spreadsheet(sheets={"T": [["h", "k"], ["a", "1"], ["b", "2"], ["c", "3"]]})
    fake.add_developer_metadata(sid, "col", "k", tab="T", column="B")
    body = {
        "valueInputOption": "RAW",
        "includeValuesInResponse": True,
        "data": [
            {
                "dataFilter": {"developerMetadataLookup": {"metadataKey": "col"}},
                "majorDimension": "COLUMNS",
                "values": [[None, "one"]],
            },
            {"dataFilter": {"a1Range": "T!A2:A4"}, "values": [[None]]},
        ],
    }
    r = session.post(f"{fake.sheets_base_url}/{sid}/values:batchUpdateByDataFilter", json=body)
    assert r.status_code == 200, r.text
    first, second = r.json()["responses"]
    assert first["updatedData"]["values"] == [["k"], ["one"], ["2"], ["3"]]
    assert second["updatedData"]["values"] == [["a"], ["b"], ["c"]]
    assert fake.values(sid, "T") == [["h", "k"], ["a", "one"], ["b", "2"], ["c", "3"]]


# ---------------------------------------------------------------------------
# the adversarial fake: people's structural edits, duplicates, the write hook
# ---------------------------------------------------------------------------


def _rule(formula: str, c0: int, c1: int, r0: int = 1) -> dict[str, Any]:
    return {
        "ranges": [
            {"sheetId": 0, "startRowIndex": r0, "startColumnIndex": c0, "endColumnIndex": c1}
        ],
        "booleanRule": {
            "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": formula}]},
            "format": {"backgroundColor": {"red": 1}},
        },
    }


def _rules(fake: SheetsFake, sid: str) -> list[tuple[Any, ...]]:
    return [
        (
            r["ranges"][0].get("startRowIndex"),
            r["ranges"][0].get("endRowIndex"),
            r["ranges"][0].get("startColumnIndex"),
            r["ranges"][0].get("endColumnIndex"),
            r["booleanRule"]["condition"]["values"][0]["userEnteredValue"],
        )
        for r in fake.conditional_formats(sid, "T")
    ]


def test_move_dimension_follows_googles_worked_example(fake: SheetsFake) -> None:
    sid = fake.add_spreadsheet(sheets={"T": [[0], [1], [2], [3], [4]]})
    fake.apply_requests(
        sid,
        [
            {
                "moveDimension": {
                    "source": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 3},
                    "destinationIndex": 4,
                }
            }
        ],
    )
    assert [r[0] for r in fake.values(sid, "T")] == [0, 3, 1, 2, 4]


def test_moved_columns_take_their_metadata_rules_and_references_along(fake: SheetsFake) -> None:
    sid = fake.add_spreadsheet(sheets={"T": [["a", "b", "c", "d"], [1, 2, 3, 4]]})
    fake.add_developer_metadata(sid, "anchor", "d", tab="T", column="D")
    fake.apply_requests(
        sid, [{"addConditionalFormatRule": {"rule": _rule('=$D2="x"', 3, 4), "index": 0}}]
    )
    fake.move_columns(sid, "T", "D", "D", "B")  # drag D to before B
    assert fake.values(sid, "T")[0] == ["a", "d", "b", "c"]
    meta = fake.developer_metadata(sid, "T", key="anchor")[0]
    assert meta["location"]["dimensionRange"]["startIndex"] == 1
    assert _rules(fake, sid) == [(1, None, 1, 2, '=$B2="x"')]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # a column inserted at B: ranges and references right of it move one column right
        (lambda f, s: f.insert_columns(s, "T", "B", 1), [(1, None, 0, 5, '=$E2="x"')]),
        # a row inserted above the rule: its first row and its references move down
        (lambda f, s: f.insert_rows(s, "T", 2, [["new"]]), [(2, None, 0, 4, '=$D3="x"')]),
        # a row inserted inside it: an unbounded rule does not change at all
        (lambda f, s: f.insert_rows(s, "T", 3, [["new"]]), [(1, None, 0, 4, '=$D2="x"')]),
        # the column a reference points at deleted: #REF!, like a cell formula
        (lambda f, s: f.delete_columns(s, "T", "D"), [(1, None, 0, 3, '=#REF!="x"')]),
    ],
    ids=["insert-column", "insert-row-above", "insert-row-inside", "delete-referenced-column"],
)
def test_rule_ranges_and_formulas_follow_inserted_and_deleted_rows_and_columns(
    fake: SheetsFake, edit: Any, expected: list[tuple[Any, ...]]
) -> None:
    sid = fake.add_spreadsheet(sheets={"T": [["a", "b", "c", "d"], [1, 2, 3, "x"], [5, 6, 7, 8]]})
    fake.apply_requests(
        sid, [{"addConditionalFormatRule": {"rule": _rule('=$D2="x"', 0, 4), "index": 0}}]
    )
    edit(fake, sid)
    assert _rules(fake, sid) == expected


@pytest.mark.parametrize("copies", [False, True])
def test_duplicate_sheet_copies_developer_metadata_only_when_told(copies: bool) -> None:
    with SheetsFake(duplicate_copies_metadata=copies) as fake:
        sid = fake.add_spreadsheet(sheets={"T": [["a", "b"]]})
        original = fake.add_developer_metadata(sid, "anchor", "b", tab="T", column="B")
        fake.duplicate_sheet(sid, "T", "Copy")
        copied = fake.developer_metadata(sid, "Copy", key="anchor")
        assert fake.developer_metadata(sid, "T", key="anchor")[0]["metadataId"] == original
        if copies:
            assert len(copied) == 1 and copied[0]["metadataId"] != original
            assert copied[0]["location"]["dimensionRange"]["startIndex"] == 1
        else:
            assert copied == []


def test_a_sort_of_some_columns_moves_only_their_cells(fake: SheetsFake) -> None:
    sid = fake.add_spreadsheet(sheets={"T": [["k", "v", "id"], ["b", 2, "B"], ["a", 1, "A"]]})
    row_meta = fake.add_developer_metadata(sid, "row", "B", tab="T", row=2)
    fake.sort_rows(sid, "T", 2, 3, "A", columns=("A", "B"))
    # the id column C stayed where it was: each id now sits beside another row's cells
    assert fake.values(sid, "T") == [["k", "v", "id"], ["a", 1, "B"], ["b", 2, "A"]]
    assert fake.metadata_row(sid, row_meta) == 2, "row metadata stays: the row did not move"


def test_before_write_runs_just_before_the_next_write_not_a_read(
    fake: SheetsFake, session: RebasingSession
) -> None:
    sid = fake.add_spreadsheet(sheets={"T": [["a"]]})
    seen: list[str] = []
    fake.before_write(lambda f: seen.append(f.values(sid, "T")[0][0]))
    session.get(f"{fake.sheets_base_url}/{sid}")
    assert seen == []
    session.post(
        f"{fake.sheets_base_url}/{sid}/values:batchUpdate",
        json={"valueInputOption": "RAW", "data": [{"range": "T!A1", "values": [["b"]]}]},
    )
    assert seen == ["a"] and fake.values(sid, "T") == [["b"]]


def test_pretty_print_false_answers_compact_json(
    fake: SheetsFake, session: RebasingSession
) -> None:
    """Documented (Google APIs system parameters): replies are pretty-printed unless
    ``prettyPrint=false``."""
    sid = fake.add_spreadsheet(sheets={"T": [["a", 1]]})
    pretty = session.get(f"{fake.sheets_base_url}/{sid}/values/T!A1:B1")
    compact = session.get(
        f"{fake.sheets_base_url}/{sid}/values/T!A1:B1", params={"prettyPrint": "false"}
    )
    assert pretty.json() == compact.json()
    assert b"\n" in pretty.content and b"\n" not in compact.content
    assert len(compact.content) < len(pretty.content)


# ---------------------------------------------------------------------------- copy, cut, views


def test_copy_paste_repeats_over_a_multiple_and_pastes_once_otherwise(fake: SheetsFake) -> None:
    """Documented (CopyPasteRequest.destination): a destination a multiple of the source's size
    is filled with repeats; a smaller one still receives the whole source."""
    sid = fake.add_spreadsheet(sheets={"T": [["a", "b"], [1, 2]]})
    fake.copy_paste(sid, "T", "A1:A2", "D1:D4")  # 4 rows = 2 x the source's 2
    fake.copy_paste(sid, "T", "A1:B2", "F1")  # one cell: the whole 2 x 2 source
    assert fake.values(sid, "T") == [
        ["a", "b", "", "a", "", "a", "b"],
        [1, 2, "", 1, "", 1, 2],
        ["", "", "", "a"],
        ["", "", "", 1],
    ]


def test_paste_values_drops_formats_and_formulas(fake: SheetsFake) -> None:
    """Documented (PasteType.PASTE_VALUES): "the values ONLY without formats, formulas"."""
    sid = fake.add_spreadsheet(sheets={"T": [["", "x"]]})
    fake.set_cell(sid, "T", 1, 1, "=1+1", user_entered=True)
    fake.set_number_format(sid, "T", "A1", "PERCENT")
    source = {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0}
    fake.apply_requests(
        sid,
        [
            {
                "copyPaste": {
                    "source": source | {"endColumnIndex": 1},
                    "destination": source | {"startColumnIndex": 2, "endColumnIndex": 3},
                    "pasteType": "PASTE_VALUES",
                }
            }
        ],
    )
    pasted = fake.cell(sid, "T", "C1")
    assert pasted["userEnteredValue"] == {"numberValue": 2}, "the value, not the formula"
    assert "numberFormat" not in pasted.get("userEnteredFormat", {}), "no percent format"
    assert "formulaValue" in fake.cell(sid, "T", "A1")["userEnteredValue"]


def test_cut_paste_moves_cells_not_rows(fake: SheetsFake) -> None:
    """The source is left empty and the cells land at the destination; the rows stay, so row
    metadata and a rule's range stay where they were (assumed)."""
    sid = fake.add_spreadsheet(sheets={"T": [["h1", "h2"], ["a", 1], ["b", 2], ["c", 3]]})
    fake.add_developer_metadata(sid, "row", "b", tab="T", row=3)
    fake.apply_requests(
        sid, [{"addConditionalFormatRule": {"rule": _rule('=$A2="b"', 0, 2), "index": 0}}]
    )
    fake.cut_paste(sid, "T", "A2:B3", "A6")
    assert fake.values(sid, "T") == [["h1", "h2"], [], [], ["c", 3], [], ["a", 1], ["b", 2]]
    assert (
        fake.metadata_row(sid, fake.developer_metadata(sid, "T", key="row")[0]["metadataId"]) == 3
    )
    assert _rules(fake, sid) == [(1, None, 0, 2, '=$A2="b"')]


def test_filter_views_are_added_updated_duplicated_and_deleted(
    fake: SheetsFake, session: RebasingSession
) -> None:
    """Documented (AddFilterViewRequest/Response, UpdateFilterViewRequest, DuplicateFilterView-
    Request/Response, DeleteFilterViewRequest): the cells never move; the view's range follows
    inserted rows (assumed, like every range)."""
    sid = fake.add_spreadsheet(sheets={"T": [["h"], ["b"], ["a"]]})
    url = f"{fake.sheets_base_url}/{sid}:batchUpdate"
    view = {"title": "mine", "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 3,
                                       "startColumnIndex": 0, "endColumnIndex": 1},
            "sortSpecs": [{"dimensionIndex": 0, "sortOrder": "ASCENDING"}]}  # fmt: skip
    reply = session.post(url, json={"requests": [{"addFilterView": {"filter": view}}]}).json()
    fid = reply["replies"][0]["addFilterView"]["filter"]["filterViewId"]
    assert fake.values(sid, "T") == [["h"], ["b"], ["a"]], "a view sorts what one person sees"
    fake.insert_rows(sid, "T", 1, [["new"]])
    requests = [
        {"updateFilterView": {"filter": {"filterViewId": fid, "title": "ours"}, "fields": "title"}},
        {"duplicateFilterView": {"filterId": fid}},
    ]
    reply = session.post(url, json={"requests": requests}).json()
    copy_id = reply["replies"][1]["duplicateFilterView"]["filter"]["filterViewId"]
    views = session.get(f"{fake.sheets_base_url}/{sid}").json()["sheets"][0]["filterViews"]
    assert [
        (v["title"], v["range"]["startRowIndex"], v["range"]["endRowIndex"]) for v in views
    ] == [
        ("ours", 1, 4),
        ("Copy of ours", 1, 4),
    ]
    assert copy_id != fid
    session.post(url, json={"requests": [{"deleteFilterView": {"filterId": fid}}]})
    views = session.get(f"{fake.sheets_base_url}/{sid}").json()["sheets"][0]["filterViews"]
    assert [v["filterViewId"] for v in views] == [copy_id]
    bad = session.post(url, json={"requests": [{"deleteFilterView": {"filterId": fid}}]})
    assert bad.status_code == 400

"""The Sheets backend's pure parts, without HTTP: request builders, their size arithmetic, rule
identity and grid decoding."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from sync.backends.gsheets.build import (
    ENVELOPE,
    Entry,
    cf_json,
    column_entries,
    dumps,
    formats_record_request,
    insert_columns,
    merge_runs,
    pack,
    summary_entries,
)
from sync.backends.gsheets.formats import own_rules
from sync.backends.gsheets.grid import decode_grid, find_anchor_ids
from sync.model import CFRule, SummaryTab, WritePlan

RULE = CFRule(1, 499, 0, 21, '$O2="延期"', "F8D7DA")


# ---------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("budget", [300, 1_000, 10_000])
def test_column_entries_stay_within_the_budget_and_cover_every_cell(budget: int) -> None:
    cells = {r: f"任务-{r:05d}" for r in range(1, 400, 3)}
    entries = column_entries("gen_id", 42, cells, budget)
    assert {r: v for e in entries for r, v in e.cells.items()} == cells
    assert all(e.size == len(dumps(e.body)) for e in entries)
    assert all(e.size <= budget for e in entries if len(e.cells) > 1)
    last = entries[-1].body
    lookup = last["dataFilter"]["developerMetadataLookup"]
    assert lookup["metadataId"] == 42 and lookup["metadataValue"] == "gen_id"
    lo = min(entries[-1].cells)
    assert written(last)[:lo] == [SKIP] * lo, "rows above a piece are skipped, not cleared"


#: How a values entry says "leave this cell": null column-major, an empty row row-major.
SKIP = object()


def written(body: dict[str, Any]) -> list[Any]:
    """An anchored column entry's cells top to bottom, SKIP where it writes nothing."""
    if body["majorDimension"] == "COLUMNS":
        return [SKIP if v is None else v for v in body["values"][0]]
    return [row[0] if row else SKIP for row in body["values"]]


def test_a_cleared_cell_is_an_empty_string_and_an_unchanged_one_skipped() -> None:
    (entry,) = column_entries("gen_status", 1, {2: None, 4: "延期"}, 10_000)
    assert written(entry.body) == [SKIP, SKIP, "", SKIP, "延期"]


@pytest.mark.parametrize(
    ("cells", "major"),
    [
        ({r: "T" for r in range(1, 40)}, "COLUMNS"),  # dense: a null per skipped row is cheaper
        ({5_000: "T", 9_000: "延期"}, "ROWS"),  # sparse, far down: [] (3 bytes) beats null (5)
    ],
)
def test_a_piece_takes_the_smaller_form(cells: dict[int, Any], major: str) -> None:
    (entry,) = column_entries("gen_status", 1, cells, 2_000_000)
    assert entry.body["majorDimension"] == major
    assert entry.size == len(dumps(entry.body))
    assert {r: v for r, v in enumerate(written(entry.body)) if v is not SKIP} == cells
    other = "ROWS" if major == "COLUMNS" else "COLUMNS"
    from sync.backends.gsheets.build import column_entry

    assert len(dumps(column_entry("gen_status", cells, 1, by_rows=other == "ROWS"))) > entry.size


def test_pack_keeps_order_and_the_budget() -> None:
    entries = [Entry({}, size) for size in (400, 300, 500, 200, 900)]
    chunks = pack(entries, 1_200)
    assert [e.size for c in chunks for e in c] == [400, 300, 500, 200, 900]
    assert all(ENVELOPE + sum(e.size + 1 for e in c) <= 1_200 for c in chunks)


@pytest.mark.parametrize(
    ("rows", "gap", "most", "expected"),
    [
        ([5], 50, 10, [(5, 5)]),
        ([1, 2, 3, 60, 61], 50, 10, [(1, 3), (60, 61)]),
        ([1, 2, 3, 60, 61], 100, 10, [(1, 61)]),  # close enough: one range
        ([1, 100, 110, 400], 5, 2, [(1, 110), (400, 400)]),  # the two closest joined first
    ],
)
def test_merge_runs(rows: list[int], gap: int, most: int, expected: list[tuple[int, int]]) -> None:
    assert merge_runs(rows, gap, most) == expected


def test_summary_entries_split_by_rows_within_the_budget() -> None:
    rows: list[list[Any]] = [[f"指标{i}", i, i * 1.5] for i in range(300)]
    tab = SummaryTab("推广概览", rows)
    changes = {(r, c): (None, v) for r, row in enumerate(rows) for c, v in enumerate(row)}
    plan = WritePlan("进度表", summary=tab, summary_changes=changes, summary_exists=False)
    entries = summary_entries(None, plan, 2_000)
    assert len(entries) > 1 and all(e.size <= 2_000 for e in entries)
    ranges = [e.body["dataFilter"]["a1Range"] for e in entries]
    assert ranges[0].startswith("'推广概览'!A1:C") and ranges[-1].endswith(":C300")


# ---------------------------------------------------------------------------- structure


def test_new_columns_are_inserted_anchored_and_styled_without_any_value() -> None:
    plan = WritePlan(
        "进度表",
        cells={14: pd.Series(["⚙ 计算状态", "延期"], index=[0, 1], dtype=object)},
        columns={"gen_status": 14, "gen_id": 15},
        new_columns=("gen_status", "gen_id"),
    )
    reqs = insert_columns(7, 14, plan, [14, 15])
    kinds = [next(iter(r)) for r in reqs]
    assert kinds == [
        "insertDimension",
        "createDeveloperMetadata",
        "createDeveloperMetadata",
        "repeatCell",  # the headers' look, in a CJK-capable font
        "updateDimensionProperties",  # each new column's width
        "updateDimensionProperties",
    ]
    assert reqs[3]["repeatCell"]["cell"]["userEnteredFormat"]["textFormat"]["fontFamily"] == (
        "Noto Sans SC"
    )
    assert reqs[4]["updateDimensionProperties"]["properties"]["pixelSize"] == 14 * 7
    assert reqs[0]["insertDimension"]["range"] == {
        "sheetId": 7,
        "dimension": "COLUMNS",
        "startIndex": 14,
        "endIndex": 16,
    }
    assert "userEnteredValue" not in json.dumps(reqs), "values go through the anchors"


def test_rules_run_to_the_end_of_the_sheet_unless_asked_for_the_old_bounded_form() -> None:
    assert "endRowIndex" not in cf_json(0, RULE)["ranges"][0]
    assert cf_json(0, RULE, bounded=True)["ranges"][0]["endRowIndex"] == 500


@pytest.mark.parametrize(
    ("record_id", "value", "kind"),
    [
        (None, "{}", "createDeveloperMetadata"),
        (9, "{}", "updateDeveloperMetadata"),
        (9, None, "deleteDeveloperMetadata"),
    ],
)
def test_the_rules_record_is_created_updated_or_deleted(
    record_id: int | None, value: str | None, kind: str
) -> None:
    assert next(iter(formats_record_request(record_id, value))) == kind


# ---------------------------------------------------------------------------- rule identity


def _person(formula: str, fill: dict[str, float]) -> dict[str, Any]:
    return {
        "ranges": [
            {"startRowIndex": 1, "endRowIndex": 99, "startColumnIndex": 0, "endColumnIndex": 14}
        ],
        "booleanRule": {
            "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": formula}]},
            "format": {"backgroundColor": fill},
        },
    }


def test_the_jobs_rule_is_found_by_its_record_and_a_persons_rule_in_its_colour_is_not() -> None:
    same_fill = cf_json(0, RULE)["booleanRule"]["format"]["backgroundColor"]
    rules = [_person('=$K2="进行中"', same_fill), cf_json(0, RULE)]
    found = own_rules(0, rules, [RULE], rows=1000)
    assert found.indexes == (1,) and found.rules == (RULE,) and not found.moved


def test_a_rule_moved_by_an_inserted_column_is_still_the_jobs() -> None:
    moved = cf_json(0, CFRule(1, 499, 0, 22, '$P2="延期"', "F8D7DA"))
    found = own_rules(0, [moved], [RULE], rows=1000)
    assert found.indexes == (0,) and found.moved
    assert found.rules[0].formula == '$P2="延期"' and found.rules[0].last_col == 22


def test_a_range_google_reports_clamped_to_the_grid_is_the_unbounded_rule() -> None:
    clamped = cf_json(0, RULE)
    clamped["ranges"][0]["endRowIndex"] = 1000  # the grid's rowCount
    assert own_rules(0, [clamped], [RULE], rows=1000).rules == (RULE,)


# ---------------------------------------------------------------------------- decoding


def test_grid_decoding_reads_values_percent_cells_and_anchors() -> None:
    sheet = {
        "data": [
            {
                "columnMetadata": [
                    {},
                    {
                        "developerMetadata": [
                            {
                                "metadataId": 5,
                                "metadataKey": "tracker_sync.column",
                                "metadataValue": "gen_id",
                            }
                        ]
                    },
                ],
                "rowData": [
                    {"values": [{"effectiveValue": {"stringValue": "a"}}]},
                    {
                        "values": [
                            {
                                "effectiveValue": {"numberValue": 0.6},
                                "userEnteredFormat": {"numberFormat": {"type": "PERCENT"}},
                            },
                            {"effectiveValue": {"errorValue": {"type": "REF"}}},
                        ]
                    },
                ],
            }
        ]
    }
    rows, percent, anchors = decode_grid(sheet)
    assert rows == [["a"], [0.6, "#REF"]] and percent == {(1, 0)} and anchors == {"gen_id": 1}
    assert find_anchor_ids(sheet) == ({"gen_id": 5}, [])


# ---------------------------------------------------------------------------- lean reads, guard


def test_values_read_decodes_like_the_grid_read() -> None:
    from sync.backends.gsheets.grid import a1_extent, decode_percent, decode_values

    reply = {"range": "'进度表'!A1:Z1000", "values": [["任务", "", 0.6], [], ["b", 3, "", ""], []]}
    rows = decode_values(reply)
    assert rows == [["任务", None, 0.6], [], ["b", 3]], "'' is an empty cell; no trailing empties"
    assert a1_extent(reply["range"]) == (1000, 26)
    formats = {
        "data": [
            {
                "rowData": [
                    {
                        "values": [
                            {},
                            {},
                            {"userEnteredFormat": {"numberFormat": {"type": "PERCENT"}}},
                        ]
                    },
                    {},
                    {
                        "values": [
                            {},
                            {},
                            {"userEnteredFormat": {"numberFormat": {"type": "PERCENT"}}},
                        ]
                    },
                ]
            }
        ]
    }
    # a percent format on an empty cell says nothing about a value
    assert decode_percent({"data": formats["data"]}, rows) == {(0, 2)}


def _guard_plan() -> tuple[Any, Any]:
    from sync.model import Grid, Snapshot

    rows: list[list[Any]] = [["阶段", "渠道", "任务", "描述", "⚙ 任务ID"]]
    rows += [[f"P{r}", "C", f"T{r}", "D", f"ID{r}"] for r in range(1, 2_000)]
    snap = Snapshot(target="k", tracker=Grid("进度表", rows), sheet_titles=("进度表",))
    plan = WritePlan("进度表", columns={"gen_id": 4}, key_columns=(0, 1, 2, 3))
    return snap, plan


@pytest.mark.parametrize("room", [100_000, 400])
def test_the_row_guard_covers_the_rows_written_within_the_room_it_has(room: int) -> None:
    from sync.backends.gsheets.guard import RowGuard

    snap, plan = _guard_plan()
    guard = RowGuard.for_plan(snap, plan, "进度表", 2_000_000)
    written = [5, 6, 8, 400, 1_500]  # 5, 6 and 8 are at most two apart: one run
    chunk = column_entries("gen_status", 1, dict.fromkeys(written, "延期"), 2_000_000)
    extra = guard.entries(chunk, room)
    assert sum(e.size + 1 for e in extra) <= room
    spans = sorted({e.rows for e in extra if e.rows})
    covered = {r for lo, hi in spans for r in range(lo, hi + 1)}
    assert set(written) <= covered
    if room == 100_000:
        assert spans == [(5, 8), (400, 400), (1_500, 1_500)], "no row but those near the written"
    else:
        assert len(spans) < 3, "little room: runs joined, more rows checked, fewer ranges"
    ranges = [e.body["dataFilter"]["a1Range"] for e in extra]
    assert "'进度表'!A6:D9" in ranges or room != 100_000
    assert all(e.body["values"] == [[None]] for e in extra), "nothing is written there"
    assert {e.ids for e in extra} == {True, False}, "key cells and ID cells"


def test_the_row_guard_sees_a_moved_row_in_the_reply() -> None:
    from sync.backends.gsheets.guard import RowGuard

    snap, plan = _guard_plan()
    guard = RowGuard.for_plan(snap, plan, "进度表", 2_000_000)
    chunk = column_entries("gen_status", 7, {10: "延期"}, 2_000_000)
    extra = guard.entries(chunk, 100_000)

    def reply(key_row: list[Any], ident: str) -> dict[str, Any]:
        responses: list[dict[str, Any]] = [{"dataFilter": chunk[0].body["dataFilter"]}]
        for e in extra:
            values = [[ident]] if e.ids else [key_row]
            responses.append(
                {"dataFilter": e.body["dataFilter"], "updatedData": {"values": values}}
            )
        return {"responses": responses}

    assert guard.check(chunk, extra, reply(["P10", "C", "T10", "D"], "ID10")) is None
    assert guard.check(chunk, extra, reply(["P11", "C", "T11", "D"], "ID10")) is not None
    assert guard.check(chunk, extra, reply(["P10", "C", "T10", "D"], "ID11")) is not None


@pytest.mark.parametrize("every", [97, 7, 1])
def test_every_values_request_stays_within_the_budget_with_its_guard(
    every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sparse and dense changes down a long column: each request -- values, key and ID ranges,
    envelope -- is at most google.max_request_bytes as sent (a guard sized too small once let
    a 100k-row 1 % edit reach 2,013,184 bytes)."""
    from sync.backends.gsheets import SheetsBackend
    from sync.backends.gsheets.backend import ReadState
    from sync.backends.gsheets.guard import RowGuard
    from sync.config import GoogleConfig
    from sync.model import Grid, Snapshot

    n, budget = 20_000, 200_000
    rows: list[list[Any]] = [["阶段", "渠道", "任务", "描述", "⚙ 计算状态", "⚙ 任务ID"]]
    rows += [
        [f"预热期{r}", "抖音", f"任务{r}", "投放短视频广告", "", f"T-{r:06d}"] for r in range(1, n)
    ]
    snap = Snapshot(target="k", tracker=Grid("推广进度表", rows), sheet_titles=("推广进度表",))
    changed = pd.Series({r: "延期" for r in range(1, n, every)})
    plan = WritePlan(
        "推广进度表",
        cells={4: changed},
        columns={"gen_status": 4, "gen_id": 5},
        key_columns=(0, 1, 2, 3),
    )
    backend = SheetsBackend("k", google=GoogleConfig(max_request_bytes=budget))
    backend._state = ReadState(
        token="t", tracker_id=0, tracker_title="推广进度表", column_count=6, row_count=n,
        cf_rules=[], own_cf_indexes=[], own_protections=[], meta_id=None, summary_id=None,
        summary_rows=0, summary_cols=0, summary_height=0, anchor_ids={"gen_status": 11, "gen_id": 12},
    )  # fmt: skip
    sent: list[int] = []

    def post(suffix: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        sent.append(len(dumps(body)))
        return {}

    monkeypatch.setattr(backend, "_post", post)
    monkeypatch.setattr(RowGuard, "check", lambda self, chunk, extra, reply: None)
    backend._write_values(snap, plan)
    assert sent and max(sent) <= budget, (len(sent), max(sent))

"""The Sheets backend's kept structure (issue 9): a run on the same day whose values show no
structural change reuses the structure the day's last structure read found
(:mod:`sync.backends.gsheets.structure`), so a changed run is one read and one write.

First :func:`~sync.backends.gsheets.structure.keep` / :func:`~sync.backends.gsheets.structure.recall`
on hand-made replies, then end to end: real gspread against the local Sheets fake, every run a
fresh backend sharing one run store (as cron runs do), each checking the requests it sent, that
every human cell is where the person left it and that every ⚙ value sits on its own task (a
fresh full read plans nothing: :func:`tests.test_gsheets_races.settled`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sync.backends.gsheets.structure import VERSION, depends_on_format, keep, recall
from sync.config import Config
from sync.history import History
from sync.pipeline import RunResult
from sync.rules import RuleSet
from sync.unchanged import Unchanged

from .conftest import SEED_AS_OF, task
from .sheets_fake import SheetsFake
from .test_gsheets import TAB, _humans, big_tracker, make_config
from .test_gsheets_races import settled, task_ids
from .test_gsheets_reads import PROGRESS, go, kinds, quiet

# ---------------------------------------------------------------------------- keep / recall

T = "Tracker"
S = "Summary"
P = 2  # the percent column of the hand-made tracker (0-based)
ID = 3  # its ID column, anchored as gen_id
HEAD = ["Task", "Owner", "Progress", "⚙ ID"]


def reply(columns: int = 4, rows: int = 20) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A structure reply as the backend reads it (first row's anchors, the percent column's
    formats, a summary tab with a chart): ``data`` and its ``sheets``."""
    tracker = {
        "properties": {
            "sheetId": 0,
            "title": T,
            "gridProperties": {"rowCount": rows, "columnCount": columns},
        },
        "data": [
            {
                "startRow": 0,
                "rowData": [{"values": [{"formattedValue": h} for h in HEAD]}],
                "columnMetadata": [
                    {},
                    {},
                    {},
                    {"developerMetadata": [{"metadataKey": "tracker_sync.col", "v": "gen_id"}]},
                ],
            },
            {
                "startColumn": P,
                "rowData": [
                    {"values": [{"userEnteredFormat": {"numberFormat": {"type": "PERCENT"}}}]}
                ],
            },
        ],
        "conditionalFormats": [{"ranges": [{"sheetId": 0}], "booleanRule": {}}],
    }
    summary = {
        "properties": {"sheetId": 7, "title": S, "gridProperties": {"rowCount": 50}},
        "data": [{"rowData": [{"values": [{"formattedValue": "x"}]}]}],
        "charts": [{"chartId": 1}],
    }
    sheets = [tracker, summary]
    return {"properties": {"title": "Launch"}, "sheets": sheets}, sheets


def tracker(*body: list[Any]) -> list[list[Any]]:
    return [list(HEAD), *[list(r) for r in body]]


def kept(
    rows: list[list[Any]],
    percent: set[tuple[int, int]],
    *,
    columns: int = 4,
    percent_cols: list[int] | None = None,
    key_cols: list[int] | None = None,
) -> dict[str, Any]:
    """What a structure read leaves, through JSON (as the run store keeps it); tasks known by
    their ID unless ``key_cols`` name key columns."""
    data, sheets = reply(columns)
    out = keep(
        data,
        sheets,
        T,
        rows,
        {"gen_id": ID},
        [P] if percent_cols is None else percent_cols,
        percent,
        key_cols=key_cols or [],
    )
    assert out is not None
    loaded: dict[str, Any] = json.loads(json.dumps(out))
    return loaded


def extents(rows: int = 20, columns: int = 4) -> dict[str, tuple[int, int] | None]:
    return {T: (rows, columns), S: (50, 26)}


def percent_now(
    k: dict[str, Any] | None, rows: list[list[Any]], **kw: Any
) -> set[tuple[int, int]] | None:
    got = recall(
        k,
        T,
        {T: rows, S: []},
        kw.get("ext") or extents(),
        kw.get("cols", [P]),
        key_cols=kw.get("key_cols", []),
    )
    return None if got is None else got[1]


@pytest.mark.parametrize(
    ("value", "depends"),
    [
        (0, False),
        (0.6, False),  # 60 % either way
        (1, True),  # 1 % plain, 100 % formatted
        (60, True),
        (-5, True),
        (-0.5, True),
        (True, False),  # a checkbox
        ("60%", False),
        (None, False),
        (float("nan"), False),
    ],
)
def test_depends_on_format(value: Any, depends: bool) -> None:
    assert depends_on_format(value) is depends


def test_an_every_percent_column_reads_a_changed_number_as_a_percentage() -> None:
    rows = tracker(["a", "x", 0.5, "T1"], ["b", "y", 1, "T2"], ["c", "z", 0.2, "T3"])
    k = kept(rows, {(1, P), (2, P), (3, P)})
    # a person types 1 (100 %) on T1 and 60 on T3 (6000 %): typed into formatted cells
    now = tracker(["a", "x", 1, "T1"], ["b", "y", 1, "T2"], ["c", "z", 60, "T3"])
    assert percent_now(k, now) == {(1, P), (2, P), (3, P)}
    # a row inserted with a number takes its neighbours' format (the documented assumption)
    now.insert(2, ["n", "w", 1, None])
    assert percent_now(k, now) == {(1, P), (2, P), (3, P), (4, P)}


def test_a_plain_column_reads_above_one_as_typed_and_needs_the_structure_for_1_or_less() -> None:
    rows = tracker(["a", "x", 30, "T1"], ["b", "y", 0.5, "T2"])
    k = kept(rows, set())
    assert percent_now(k, tracker(["a", "x", 60, "T1"], ["b", "y", 0.5, "T2"])) == set()
    # 1 may be 1 % typed or 100 % in a formatted cell; -5 may be either too
    assert percent_now(k, tracker(["a", "x", 1, "T1"], ["b", "y", 0.5, "T2"])) is None
    assert percent_now(k, tracker(["a", "x", -5, "T1"], ["b", "y", 0.5, "T2"])) is None
    # a fraction or text reads the same either way
    assert percent_now(k, tracker(["a", "x", 0.7, "T1"], ["b", "y", "70%", "T2"])) == set()


def test_a_remembered_task_and_number_keeps_its_format() -> None:
    rows = tracker(["a", "x", 1, "T1"], ["b", "y", -5, "T2"], ["c", "z", 40, "T3"])
    k = kept(rows, set())
    # the rows sorted and another changed: T1's 1 and T2's -5 are still plain
    now = tracker(["c", "z", 45, "T3"], ["b", "y", -5, "T2"], ["a", "x", 1, "T1"])
    assert percent_now(k, now) == set()
    # the same number on another task is not known
    assert percent_now(k, tracker(["c", "z", 1, "T3"])) is None
    # nor another number on the same task
    assert percent_now(k, tracker(["a", "x", 2, "T1"], ["b", "y", -4, "T2"])) is None


def test_a_row_without_an_id_is_remembered_by_its_cells() -> None:
    rows = tracker(["a", "x", 1, None], ["b", "y", 1, ""])
    k = kept(rows, {(2, P)})  # b's 1 is 100 %
    assert percent_now(k, [rows[0], rows[2], rows[1]]) == {(1, P)}
    # a cell of the row changed: not the row it saw
    assert percent_now(k, tracker(["a", "x2", 1, None])) is None


def test_a_task_is_known_by_its_human_cells_not_its_id() -> None:
    """The ⚙ ID stays put when a person sorts the human columns alone; the row's human cells
    move with its progress cell."""
    rows = tracker(["a", "x", 40, "T1"], ["b", "y", 60, "T2"])  # b's 60 is 6000 %
    # A:C sorted alone (descending): b and its 60 sit beside T1 now, a beside T2
    now = tracker(["b", "y", 60, "T1"], ["a", "x", 40, "T2"])
    for key_cols in ([], [0]):
        k = kept(rows, {(2, P)}, key_cols=key_cols)
        assert percent_now(k, now, key_cols=key_cols) == {(1, P)}
    # a plain 1 too: known by the row's human cells
    ones = tracker(["a", "x", 1, "T1"], ["b", "y", 1, "T2"])  # b's 1 is 100 %
    k = kept(ones, {(2, P)})
    assert percent_now(k, ones) == {(2, P)}
    assert percent_now(k, tracker(["b", "y", 1, "T1"], ["a", "x", 1, "T2"])) == {(1, P)}


def test_with_key_columns_an_edited_task_keeps_its_format() -> None:
    rows = tracker(["a", "x", 60, "T1"], ["b", "y", 40, "T2"])  # a's 60 is 6000 %
    # a's owner and number changed: its human cells are new, its key cell (Task) is not
    now = tracker(["a", "z", 75, "T1"], ["b", "y", 40, "T2"])
    assert percent_now(kept(rows, {(1, P)}, key_cols=[0]), now, key_cols=[0]) == {(1, P)}
    # without key columns the row is new to it: above 1, as typed (rule 3)
    assert percent_now(kept(rows, {(1, P)}), now) == set()


def test_rows_sharing_their_key_cells_are_told_apart_by_their_other_cells() -> None:
    twins = tracker(["a", "x", 1, "T1"], ["a", "y", 1, "T2"])  # T2's 1 is 100 %
    k = kept(twins, {(2, P)}, key_cols=[0])
    assert percent_now(k, twins, key_cols=[0]) == {(2, P)}
    assert percent_now(k, [twins[0], twins[2], twins[1]], key_cols=[0]) == {(1, P)}
    # A:C sorted alone by Owner, descending: the formatted 1 beside T1, the plain one beside T2
    now = tracker(["a", "y", 1, "T1"], ["a", "x", 1, "T2"])
    assert percent_now(k, now, key_cols=[0]) == {(1, P)}


def test_a_mixed_column_keeps_each_tasks_format() -> None:
    # T1's 60 % typed as 0.6 and T2's 60 in formatted cells (T2: 6000 %), T3's 60 plain
    rows = tracker(["a", "x", 0.6, "T1"], ["b", "y", 60, "T2"], ["c", "z", 60, "T3"])
    k = kept(rows, {(1, P), (2, P)})
    # sorted; T1 now 75 and T3 now 1.5, both typed over their cells: each keeps its format
    now = tracker(["c", "z", 1.5, "T3"], ["b", "y", 60, "T2"], ["a", "x", 75, "T1"])
    assert percent_now(k, now) == {(2, P), (3, P)}
    assert percent_now(k, tracker(["a", "x", 1, "T1"])) == {(1, P)}
    # a 1 on a task that was plain, or a new one: 1 % or 100 %, the values cannot tell
    assert percent_now(k, tracker(["c", "z", 1, "T3"])) is None
    assert percent_now(k, tracker(["d", "w", 1, "T4"])) is None
    # a new task's number above 1 reads as typed (in a mixed column)
    assert percent_now(k, tracker(["d", "w", 30, "T4"])) == set()


def test_the_same_task_and_number_seen_both_ways_needs_the_structure() -> None:
    # two rows carry T1 (a copied row) and the number 1, one of them formatted
    rows = tracker(["a", "x", 1, "T1"], ["a", "x", 1, "T1"])
    k = kept(rows, {(1, P)})
    assert percent_now(k, rows) is None
    assert percent_now(k, tracker(["a", "x", 0.5, "T1"])) == set()  # no such number now


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"cols": [P, 1]}, "another percent column"),
        ({"cols": []}, "no percent column"),
        ({"cols": None}, "every column may be a percent column"),
        ({"ext": {T: (20, 5), S: (50, 26)}}, "a column inserted"),
        ({"ext": {T: (20, 3), S: (50, 26)}}, "a column deleted"),
        ({"ext": {T: None, S: (50, 26)}}, "the tracker's extent unknown"),
        ({"ext": {T: (20, 4)}}, "the summary tab's extent unknown"),
        ({"key_cols": [0]}, "other key columns"),
    ],
)
def test_the_values_show_a_structural_change(change: dict[str, Any], why: str) -> None:
    rows = tracker(["a", "x", 0.5, "T1"])
    k = kept(rows, {(1, P)})
    assert percent_now(k, rows) == set()
    assert percent_now(k, rows, **change) is None, why


@pytest.mark.parametrize(
    "now",
    [
        [["Owner", "Task", "Progress", "⚙ ID"]],  # human columns swapped: the anchor stays
        [[None, "Task", "Progress", "⚙ ID"], ["", "", "", ""]],  # a header cell emptied
    ],
)
def test_a_changed_header_row_needs_the_structure(now: list[list[Any]]) -> None:
    """The job's rules on a person's column move with it: a header row that is not as it was
    (a column moved, a header renamed or emptied) reads the structure."""
    k = kept(tracker(["a", "x", 0.5, "T1"]), set())
    assert percent_now(k, [*now, ["x", "a", 0.5, "T1"]]) is None


@pytest.mark.parametrize(
    "head",
    [
        ["Task", "Owner", "Progress", "ID"],  # the anchored header renamed
        ["Task", "Owner", "Progress", None],  # ... or gone
        ["Task", "⚙ ID", "Progress", "Owner"],  # a column moved across it
    ],
)
def test_an_anchored_header_moved_needs_the_structure(head: list[Any]) -> None:
    k = kept(tracker(["a", "x", 0.5, "T1"]), set())
    assert percent_now(k, [head, ["a", "x", 0.5, "T1"]]) is None


def test_an_anchored_header_found_lower_down_needs_the_structure() -> None:
    k = kept(tracker(["a", "x", 0.5, "T1"]), set())
    # a title row inserted above the header: the ⚙ header is one row lower
    assert percent_now(k, [[], *tracker(["a", "x", 0.5, "T1"])]) is None


def test_grid_sizes_come_from_the_values_extents() -> None:
    rows = tracker(["a", "x", 0.5, "T1"])
    k = kept(rows, set())
    got = recall(k, T, {T: rows, S: []}, {T: (23, 4), S: (60, 9)}, [P], key_cols=[])
    assert got is not None
    data, _ = got
    sizes = {s["properties"]["title"]: s["properties"]["gridProperties"] for s in data["sheets"]}
    assert sizes == {
        T: {"rowCount": 23, "columnCount": 4},
        S: {"rowCount": 60, "columnCount": 9},
    }
    # the rest of the reply as it was read: rules, charts, anchors, spreadsheet properties
    assert data["properties"] == {"title": "Launch"}
    assert data["sheets"][0]["conditionalFormats"] == reply()[1][0]["conditionalFormats"]
    assert data["sheets"][1]["charts"] == [{"chartId": 1}]
    (block,) = data["sheets"][0]["data"]
    assert block["columnMetadata"][ID]["developerMetadata"][0]["v"] == "gen_id"
    # a recall does not change what was kept (the next run recalls it again)
    again = recall(k, T, {T: rows, S: []}, extents(), [P], key_cols=[])
    assert again is not None
    assert again[0]["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 20


def test_keep_drops_every_cell() -> None:
    data, sheets = reply()
    before = copy.deepcopy(data)
    k = keep(
        data, sheets, T, tracker(["a", "x", 0.5, "T1"]), {"gen_id": ID}, [P], set(), key_cols=[]
    )
    assert k is not None
    assert "rowData" not in json.dumps(k)
    assert "formattedValue" not in json.dumps(k)
    assert data == before, "the reply itself is left as read"
    tab, summary = k["data"]["sheets"]
    assert [set(b) for b in tab["data"]] == [{"startRow", "columnMetadata"}]
    assert "data" not in summary and summary["charts"] == [{"chartId": 1}]
    assert k["v"] == VERSION


def test_unknown_percent_columns_keep_nothing() -> None:
    data, sheets = reply()
    assert keep(data, sheets, T, tracker(), {"gen_id": ID}, None, set(), key_cols=[]) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda k: {**k, "v": VERSION + 1},
        lambda k: {key: v for key, v in k.items() if key != "v"},
        lambda k: {**k, "formats": "x"},
        lambda k: {**k, "formats": [{"col": P}]},
        lambda k: {**k, "headers": [["gen_id", "three"]]},
        lambda k: {**k, "headers": 5},
        lambda k: {**k, "data": {"sheets": [{}]}},
        lambda k: {**k, "columns": None},
        lambda k: None,
        lambda k: "structure",
        lambda k: [k],
    ],
)
def test_a_kept_structure_of_another_shape_is_not_used(damage: Any) -> None:
    rows = tracker(["a", "x", 1, "T1"])
    k = kept(rows, set())
    assert percent_now(k, rows) == set()
    assert percent_now(damage(copy.deepcopy(k)), rows) is None


# ---------------------------------------------------------------------------- end to end

SUMMARY = "推广概览"
PROGRESS_HEADER = "当前进度(%)"
WRITE = "values.batchUpdateByDataFilter"


def day(fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path) -> tuple[Config, History]:
    """A config and run store after the day's first run and a run that changed nothing (the
    structure read by the latter is the day's kept structure)."""
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    return config, store


def gear(fake: SheetsFake, sheet: str) -> dict[str, list[Any]]:
    """Each ⚙ column's cells by header, wherever it stands."""
    values = fake.values(sheet, TAB)
    head = values[0]
    return {
        h: [row[c] if c < len(row) else "" for row in values[1:]]
        for c, h in enumerate(head)
        if str(h).startswith("⚙")
    }


def right(
    fake: SheetsFake,
    sheet: str,
    config: Config,
    sa: Path,
    ruleset: RuleSet,
    humans: list[list[Any]],
) -> None:
    """Every human cell as the person left it, every ⚙ value on its own task (a fresh full
    read plans nothing), one summary tab."""
    assert _humans(fake, sheet) == humans
    settled(fake, sheet, config, sa, ruleset)
    assert fake.sheet_titles(sheet) == [TAB, SUMMARY]


def changed_run(config: Config, sa: Path, store: History, minutes: int) -> RunResult:
    result = go(config, sa, store, minutes)
    assert isinstance(result, RunResult) and result.applied is not None
    return result


def new_task(i: int, **fields: Any) -> list[Any]:
    return task(
        phase=f"阶段{i}",
        task=f"新任务{i}",
        planned_start="2024-03-01",
        planned_finish="2024-03-05",
        progress=0.2,
        status="进行中",
        **fields,
    )


ROWS = 40  # more tasks than the summary's Gantt shows: a task more or less moves no chart


def sort_and_insert(f: SheetsFake, s: str) -> None:
    f.sort_rows(s, TAB, 2, ROWS + 1, "D", descending=True)
    f.insert_rows(s, TAB, 9, [task(task="新任务", progress=0.2)])
    f.delete_rows(s, TAB, 20)


EDITS: dict[str, Callable[[SheetsFake, str], object]] = {
    "insert": lambda f, s: f.insert_rows(s, TAB, 5, [task(task="新任务", progress=0.2)]),
    "insert-bottom": lambda f, s: f.insert_rows(
        s, TAB, ROWS + 2, [task(task="新任务", progress=0.2), task(task="新任务2")]
    ),
    "insert-blank": lambda f, s: f.insert_rows(s, TAB, 5, count=3),
    "delete": lambda f, s: f.delete_rows(s, TAB, 5, 6),
    "sort": lambda f, s: f.sort_rows(s, TAB, 2, ROWS + 1, "C", descending=True),
    "sort-and-insert": lambda f, s: sort_and_insert(f, s),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_rows_inserted_deleted_or_sorted_cost_one_read_and_one_write(
    fake: SheetsFake, sa: Path, tmp_path: Path, ruleset: RuleSet, edit: str
) -> None:
    sheet = big_tracker(fake, ruleset, ROWS)
    config, store = day(fake, sheet, sa, tmp_path)
    ids = task_ids(fake, sheet)
    fake.set_cell(sheet, TAB, 2, PROGRESS, 0.9)  # 任务0000: due 3-01, 90 % done
    EDITS[edit](fake, sheet)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    assert result.requests == {"read": 1, "write": 1}
    assert kinds(fake) == ["values.batchGet", WRITE]
    # the old tasks keep their IDs, wherever their rows went
    now = task_ids(fake, sheet)
    assert {t: now[t] for t in ids if t in now} == {t: i for t, i in ids.items() if t in now}
    first = next(r for r in fake.values(sheet, TAB) if r[2] == "任务0000")
    assert first[16] == pytest.approx(90 - 100)  # its own deviation: planned 100 %
    right(fake, sheet, config, sa, ruleset, humans)
    fake.reset_log()
    # the next run sees the job's own values: one read, nothing written
    again = go(config, sa, store, 3)
    assert isinstance(again, RunResult) and again.applied is None
    assert kinds(fake) == ["values.batchGet"]


#: the requests of a run after a person dragged human columns (and edited a value): every
#: template column carries one of the job's rules (a cell ⚙ 问题 names is highlighted), so the
#: rules follow the columns and the plan rewrites them -- a structural write. The header row is
#: not as it was, so the run reads the structure at once (the kept one is not used).
MOVED = ["values.batchGet", "get", "batchUpdate", WRITE]


@pytest.mark.parametrize(
    ("first", "last", "to", "requests"),
    [
        ("E", "E", "B", MOVED),  # 负责人 dragged to B: the key columns move
        ("A", "B", "E", MOVED),  # the key columns trade places, still A:D
        ("K", "K", "N", MOVED),  # 风险描述 dragged right of 应对措施
    ],
)
def test_a_human_column_moved_among_human_columns(
    fake: SheetsFake,
    sheet: str,
    sa: Path,
    tmp_path: Path,
    ruleset: RuleSet,
    first: str,
    last: str,
    to: str,
    requests: list[str],
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    before = gear(fake, sheet)
    fake.move_columns(sheet, TAB, first, last, to)
    assert fake.values(sheet, TAB)[0][PROGRESS - 1] == PROGRESS_HEADER, "it stays put"
    fake.set_cell(sheet, TAB, 4, PROGRESS, 0.8)  # 广告投放: 54.5 % planned, 80 % done
    humans = _humans(fake, sheet)
    changed_run(config, sa, store, 2)
    assert kinds(fake) == requests
    after = gear(fake, sheet)
    assert list(after) == list(before), "the ⚙ columns where they were"
    assert after["⚙ 进度偏差(百分点)"][2] == pytest.approx(80 - 54.5)
    assert after["⚙ 任务ID"] == before["⚙ 任务ID"]
    right(fake, sheet, config, sa, ruleset, humans)
    fake.reset_log()
    assert isinstance(go(config, sa, store, 3), RunResult)
    fake.reset_log()
    assert isinstance(go(config, sa, store, 4), Unchanged)


def test_a_moved_percent_column_reads_the_structure(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    fake.move_columns(sheet, TAB, "J", "J", "C")  # 当前进度 dragged to C
    fake.set_cell(sheet, TAB, 4, "C", 0.8)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    assert kinds(fake)[:2] == ["values.batchGet", "get"]
    assert result.requests["read"] == 2
    get = next(r for r in fake.requests if r.kind == "get")
    assert "'进度表'!C:C" in get.query["ranges"], "the percent column where it is now"
    assert gear(fake, sheet)["⚙ 进度偏差(百分点)"][2] == pytest.approx(80 - 54.5)
    right(fake, sheet, config, sa, ruleset, humans)


@pytest.mark.parametrize(
    ("first", "to"),
    [
        ("P", "W"),  # ⚙ 计划进度% dragged to the end
        ("O", "A"),  # ⚙ 计算状态 dragged before the human columns
        ("D", "T"),  # a human column dragged among the ⚙ columns
    ],
)
def test_a_column_moved_across_a_gear_column_reads_the_structure(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet, first: str, to: str
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    fake.move_columns(sheet, TAB, first, first, to)
    row = next(i for i, r in enumerate(fake.values(sheet, TAB)) if "广告投放" in r)
    progress = fake.values(sheet, TAB)[0].index(PROGRESS_HEADER) + 1
    fake.set_cell(sheet, TAB, row + 1, progress, 0.8)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    assert kinds(fake)[:2] == ["values.batchGet", "get"]
    assert result.requests["read"] == 2
    assert gear(fake, sheet)["⚙ 进度偏差(百分点)"][row - 1] == pytest.approx(80 - 54.5)
    right(fake, sheet, config, sa, ruleset, humans)


def job_rules(fake: SheetsFake, sheet: str) -> list[str]:
    return [
        r["booleanRule"]["condition"]["values"][0]["userEnteredValue"]
        for r in fake.conditional_formats(sheet, TAB)
    ]


def test_a_deleted_highlight_rule_is_back_with_the_next_days_first_run(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    """Documented (structure.py): a structure-only edit is not seen by a recalled run."""
    config, store = day(fake, sheet, sa, tmp_path)
    wanted = job_rules(fake, sheet)
    fake.apply_requests(sheet, [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 0}}])
    fake.set_cell(sheet, TAB, 4, PROGRESS, 0.8)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    assert result.requests == {"read": 1, "write": 1}
    assert job_rules(fake, sheet) == wanted[1:], "not back the same day"
    fake.reset_log()
    next_day = go(config, sa, store, 0, day=SEED_AS_OF + dt.timedelta(days=1))
    assert isinstance(next_day, RunResult) and next_day.applied is not None
    assert kinds(fake)[:2] == ["get", "values.batchGet"]
    assert sorted(job_rules(fake, sheet)) == sorted(wanted)
    assert _humans(fake, sheet) == humans
    assert fake.sheet_titles(sheet) == [TAB, SUMMARY]


def test_deleted_summary_charts_are_back_with_the_next_days_first_run(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    charts = fake.charts(sheet, SUMMARY)
    assert charts
    fake.apply_requests(
        sheet, [{"deleteEmbeddedObject": {"objectId": c["chartId"]}} for c in charts]
    )
    fake.set_cell(sheet, TAB, 4, PROGRESS, 0.8)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    assert result.requests == {"read": 1, "write": 1}
    assert fake.charts(sheet, SUMMARY) == [], "not back the same day"
    fake.reset_log()
    next_day = go(config, sa, store, 0, day=SEED_AS_OF + dt.timedelta(days=1))
    assert isinstance(next_day, RunResult) and next_day.applied is not None
    # drawn again (the next day's layout may add one: the trend has two days now)
    titles = {c["spec"]["title"] for c in fake.charts(sheet, SUMMARY)}
    assert titles >= {c["spec"]["title"] for c in charts}
    assert _humans(fake, sheet) == humans
    assert fake.sheet_titles(sheet) == [TAB, SUMMARY]


def test_the_kept_structure_holds_no_persons_cell(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    _, store = day(fake, sheet, sa, tmp_path)
    hint = store.read_hint()
    assert hint is not None
    kept_json = json.dumps(json.loads(json.loads(hint)["read"])["structure"], ensure_ascii=False)
    for row in fake.values(sheet, TAB)[1:]:
        for cell in row[2:5]:  # task, description, owner
            assert cell not in kept_json
    assert "rowData" not in kept_json


def outgrow(fake: SheetsFake, sheet: str) -> None:
    """Twelve new tasks in new phases: the summary's tables outgrow their reserved rows, so
    its layout moves (a structural write: the charts are drawn again)."""
    fake.insert_rows(sheet, TAB, 6, [new_task(i) for i in range(12)])


def test_a_structural_write_on_a_recalled_structure_reads_it_first(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    outgrow(fake, sheet)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    # values, the structure read again (the same as kept), the structural batch, the values
    assert kinds(fake) == ["values.batchGet", "get", "batchUpdate", WRITE]
    assert result.requests == {"read": 2, "write": 2}
    assert len(fake.charts(sheet, SUMMARY)) >= 1
    right(fake, sheet, config, sa, ruleset, humans)
    fake.reset_log()
    # the structure changed: the next run reads it, then the one after is one request
    again = go(config, sa, store, 3)
    assert isinstance(again, RunResult) and again.applied is None
    assert kinds(fake) == ["values.batchGet", "get"]
    fake.reset_log()
    assert isinstance(go(config, sa, store, 4), Unchanged)
    assert kinds(fake) == ["values.batchGet"]


def test_a_structural_write_on_a_structure_changed_since_starts_over(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    wanted = job_rules(fake, sheet)
    # a person deletes one of the job's rules (the values cannot show it), then adds tasks
    fake.apply_requests(sheet, [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 2}}])
    outgrow(fake, sheet)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    # the refresh finds another structure: nothing written, the run reads it all again
    assert kinds(fake) == ["values.batchGet", "get", "values.batchGet", "get", "batchUpdate", WRITE]
    assert result.requests == {"read": 4, "write": 2}
    assert sorted(job_rules(fake, sheet)) == sorted(wanted), "the rule is back"
    right(fake, sheet, config, sa, ruleset, humans)
    assert len(fake.charts(sheet, SUMMARY)) >= 1


def test_a_structural_write_on_recalled_percent_formatted_progress_reads_twice(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    for i, typed in enumerate(["60%", "100%", "30%", "0%"]):
        fake.set_cell(sheet, TAB, 2 + i, PROGRESS, typed, user_entered=True)
    config, store = day(fake, sheet, sa, tmp_path)
    outgrow(fake, sheet)
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    # the refresh sees what was recalled (the percent cells whose reading depends on the
    # format: none here, every number is a fraction), so the structural write goes ahead
    assert kinds(fake) == ["values.batchGet", "get", "batchUpdate", WRITE]
    assert result.requests == {"read": 2, "write": 2}
    right(fake, sheet, config, sa, ruleset, humans)


def test_a_row_inserted_right_under_the_header_keeps_the_rules_over_every_task(
    fake: SheetsFake, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    """The job's rules begin on the first task row; a row inserted there moves their start (a
    structural change): the values show a row without an ID where a task was, so the
    structure is read and the rules put back over every task."""
    sheet = big_tracker(fake, ruleset, ROWS)
    config, store = day(fake, sheet, sa, tmp_path)
    starts = {r["ranges"][0].get("startRowIndex") for r in fake.conditional_formats(sheet, TAB)}
    assert starts == {1}
    fake.insert_rows(sheet, TAB, 2, [task(task="新任务", progress=0.2)])
    humans = _humans(fake, sheet)
    changed_run(config, sa, store, 2)
    assert kinds(fake) == ["values.batchGet", "get", "batchUpdate", WRITE]
    assert task_ids(fake, sheet)["新任务"], "the new task has its values"
    starts = {r["ranges"][0].get("startRowIndex") for r in fake.conditional_formats(sheet, TAB)}
    assert starts == {1}
    right(fake, sheet, config, sa, ruleset, humans)


def test_a_copied_task_row_inserted_right_under_the_header_keeps_the_rules_over_every_task(
    fake: SheetsFake, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    sheet = big_tracker(fake, ruleset, ROWS)
    config, store = day(fake, sheet, sa, tmp_path)
    # a person copies the first task row, ⚙ cells and all, into a row inserted above it
    copied = list(fake.values(sheet, TAB)[1])
    copied[2] = "复制的任务"
    fake.insert_rows(sheet, TAB, 2, [copied])
    changed_run(config, sa, store, 2)
    starts = {r["ranges"][0].get("startRowIndex") for r in fake.conditional_formats(sheet, TAB)}
    assert starts == {1}, "the job's rules cover the copied row too"


def test_rows_sorted_between_a_recalled_read_and_its_write(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = day(fake, sheet, sa, tmp_path)
    ids = task_ids(fake, sheet)
    fake.set_cell(sheet, TAB, 2, PROGRESS, 0.9)  # KOL种草笔记发布, sorted last below
    humans: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        f.sort_rows(sheet, TAB, 2, 5, "C", descending=True)
        humans.extend(_humans(f, sheet))

    fake.before_write(person)
    changed_run(config, sa, store, 2)
    # the write's own reply shows the rows moved: cleared, and read again -- structure too
    assert kinds(fake) == ["values.batchGet", WRITE, WRITE, "values.batchGet", "get", WRITE]
    assert task_ids(fake, sheet) == ids
    kol = next(r for r in fake.values(sheet, TAB) if r[2] == "KOL种草笔记发布")
    assert kol[16] == pytest.approx(90 - 100)
    right(fake, sheet, config, sa, ruleset, humans)


def test_an_anchored_column_deleted_and_its_header_typed_again(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    """A person deletes ⚙ 计算状态 (its anchor goes with it) and types its header into a new
    column at the same place: the values look as before, but the kept anchor is gone. The
    write finds the column missing, clears what it wrote and reads the structure again; only
    then does the job take the column for its own, by its header (as any full read does)."""
    config, store = day(fake, sheet, sa, tmp_path)
    fake.delete_columns(sheet, TAB, "O")
    fake.insert_columns(sheet, TAB, "O")
    fake.set_cell(sheet, TAB, 1, "O", "⚙ 计算状态")
    fake.set_cell(sheet, TAB, 4, PROGRESS, 0.8)
    humans = _humans(fake, sheet)
    written: list[list[Any]] = []
    seen: list[list[Any]] = []
    # what column O holds right after the recalled write, and when the run reads again
    fake.before_write(lambda f: written.extend(r[14:15] for r in f.values(sheet, TAB)), n=2)
    fake.on_request(1, lambda f: seen.extend(r[14:15] for r in f.values(sheet, TAB)), kind="get")
    changed_run(config, sa, store, 2)
    assert kinds(fake) == [
        "values.batchGet",
        WRITE,
        WRITE,
        "values.batchGet",
        "get",
        "batchUpdate",
        WRITE,
    ]
    for column in (written, seen):
        assert column[0] == ["⚙ 计算状态"] and all(r in ([], [""], [None]) for r in column[1:])
    right(fake, sheet, config, sa, ruleset, humans)
    # the job's column is O again, anchored once
    assert gear(fake, sheet)["⚙ 计算状态"] == ["延期", "已完成", "进行中", "未开始"]


def test_a_progress_column_formatted_as_percent_reads_100_percent_in_one_read(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    for i, typed in enumerate(["60%", "100%", "30%", "0%"]):
        fake.set_cell(sheet, TAB, 2 + i, PROGRESS, typed, user_entered=True)
    fake.set_number_format(sheet, TAB, "J", "PERCENT")
    config, store = day(fake, sheet, sa, tmp_path)
    fake.set_cell(sheet, TAB, 4, PROGRESS, "100%", user_entered=True)  # 广告投放 done
    assert fake.values(sheet, TAB)[3][PROGRESS - 1] == 1
    humans = _humans(fake, sheet)
    result = changed_run(config, sa, store, 2)
    assert result.requests == {"read": 1, "write": 1}
    assert result.table.data.at[3, "progress"] == pytest.approx(100.0)
    right(fake, sheet, config, sa, ruleset, humans)

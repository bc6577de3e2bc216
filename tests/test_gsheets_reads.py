"""Sheets reads (issues 9 + 16): a no-change run is one request, a changed run one read when its
values show no structural change (the day's structure is kept, :mod:`sync.backends.gsheets.structure`)
and two otherwise, and number formats are read only for the percent columns.

Every run here opens a fresh backend (as a cron run does) and shares one run store, which keeps
the hint of the tabs the last read found (``read.hint``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from sync.backends import ReadHints
from sync.config import Config
from sync.history import History
from sync.parse import parse_percent_value
from sync.pipeline import RunResult
from sync.rules import RuleSet
from sync.run import key_header, percent_header, sync_or_skip
from sync.unchanged import Unchanged

from .conftest import SEED_AS_OF
from .sheets_fake import SheetsFake
from .test_gsheets import HUMAN, NOW, TAB, backend, make_config

PROGRESS = 10  # 1-based column J: 当前进度


def go(
    config: Config, sa: Path, store: History, minutes: int, *, day: dt.date = SEED_AS_OF
) -> RunResult | Unchanged:
    at = NOW + dt.timedelta(days=(day - SEED_AS_OF).days, minutes=minutes)
    return sync_or_skip(
        config, as_of=day, now=at, backend=backend(config, sa), history=store, notify=False
    )


def kinds(fake: SheetsFake) -> list[str]:
    return [r.kind for r in fake.requests if r.kind != "token"]


def quiet(config: Config, sa: Path, store: History, fake: SheetsFake) -> None:
    """First run, then a run that changes nothing (it leaves the fingerprint to skip on)."""
    first = go(config, sa, store, 0)
    assert isinstance(first, RunResult) and first.applied is not None
    second = go(config, sa, store, 1)
    assert isinstance(second, RunResult) and second.applied is None
    # the hint of the first run's read: values first, then the hinted tabs' structure
    assert second.requests == {"read": 2, "write": 0}
    fake.reset_log()


def test_no_change_run_is_one_request(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    third = go(config, sa, store, 2)
    assert isinstance(third, Unchanged) and third.requests == {"read": 1, "write": 0}
    assert kinds(fake) == ["values.batchGet"]
    (req,) = [r for r in fake.requests if r.kind == "values.batchGet"]
    assert sorted(req.query["ranges"]) == sorted(["'进度表'", "'推广概览'"])
    assert third.worksheet == TAB


def test_a_value_edit_costs_one_read_and_one_write(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.set_cell(sheet, TAB, 4, PROGRESS, 0.8)  # row 4: 54.5 % planned, now 80 % done
    edited = go(config, sa, store, 2)
    assert isinstance(edited, RunResult) and edited.applied is not None
    # the values show no structural change: the structure the last read found is used again
    assert edited.requests == {"read": 1, "write": 1}
    assert kinds(fake) == ["values.batchGet", "values.batchUpdateByDataFilter"]
    assert fake.values(sheet, TAB)[3][16] == pytest.approx(80 - 54.5)
    fake.reset_log()
    # the run after the write sees its own values: nothing to do, one read
    again = go(config, sa, store, 3)
    assert isinstance(again, RunResult) and again.applied is None
    assert again.requests == {"read": 1, "write": 0}
    fake.reset_log()
    assert isinstance(go(config, sa, store, 4), Unchanged)
    assert kinds(fake) == ["values.batchGet"]


def test_a_number_whose_format_decides_reads_the_structure(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    """``100%`` typed into the plain progress column is a 1 in a percent-formatted cell: the
    values alone cannot tell it from 1 %, so the structure is read (its percent column only)."""
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.set_cell(sheet, TAB, 4, PROGRESS, "100%", user_entered=True)
    edited = go(config, sa, store, 2)
    assert isinstance(edited, RunResult) and edited.applied is not None
    assert edited.requests == {"read": 2, "write": 1}
    assert kinds(fake)[:2] == ["values.batchGet", "get"]
    # the structure request asked for the tracker's first row and its percent column only
    get = next(r for r in fake.requests if r.kind == "get")
    assert get.query["ranges"] == ["'进度表'!1:1", "'进度表'!J:J", "'推广概览'!A1"]
    assert edited.table.data.at[3, "progress"] == pytest.approx(100.0)


def test_a_deleted_tab_is_read_in_full_never_skipped(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    fake.add_sheet(sheet, "名单", [["姓名"], ["张三"]])
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.delete_sheet(sheet, "名单")
    after = go(config, sa, store, 2)
    # the probe names a tab that is gone: the read starts over as on a first run
    assert isinstance(after, RunResult)
    assert kinds(fake)[:3] == ["values.batchGet", "get", "values.batchGet"]
    assert after.snapshot.sheet_titles == (TAB, "推广概览")
    assert "名单" not in after.snapshot.tabs
    fake.reset_log()
    # that run changed nothing and left a hint without the tab: the next one is one request
    assert isinstance(go(config, sa, store, 3), Unchanged)
    assert kinds(fake) == ["values.batchGet"]


def test_a_renamed_tracker_tab_is_read_in_full(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    config = make_config(fake, sheet, sa)
    config = config.model_copy(
        update={"tracker": config.tracker.model_copy(update={"worksheet": None})}
    )
    store = History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.rename_sheet(sheet, TAB, "进度表2")
    after = go(config, sa, store, 2)
    assert isinstance(after, RunResult) and after.snapshot.tracker.title == "进度表2"
    assert kinds(fake)[:3] == ["values.batchGet", "get", "values.batchGet"]
    assert after.snapshot.sheet_titles == ("进度表2", "推广概览")


def test_an_inserted_column_is_never_a_wrong_skip(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path, ruleset: RuleSet
) -> None:
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    before = [r[:HUMAN] for r in fake.values(sheet, TAB)]
    fake.insert_columns(sheet, TAB, "C")
    fake.set_cell(sheet, TAB, 1, "C", "备注2")
    after = go(config, sa, store, 2)
    assert isinstance(after, RunResult)
    assert after.requests["read"] == 2
    values = fake.values(sheet, TAB)
    # every human cell where the person left it, the job's columns one to the right
    assert [r[:2] + r[3 : HUMAN + 1] for r in values] == before
    assert values[0][15] == "⚙ 计算状态"
    fake.reset_log()
    assert isinstance(go(config, sa, store, 3), RunResult)
    fake.reset_log()
    assert isinstance(go(config, sa, store, 4), Unchanged)


def test_a_tab_changed_between_the_probe_and_the_structure_is_read_again(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.set_cell(sheet, TAB, 4, PROGRESS, "80%", user_entered=True)
    fake.set_cell(sheet, TAB, 5, PROGRESS, "100%", user_entered=True)  # the structure is read
    # a person inserts rows right after the probe: the grid sizes differ, the read goes again
    fake.on_request(1, lambda f: f.insert_rows(sheet, TAB, 3, count=2), kind="get")
    after = go(config, sa, store, 2)
    assert isinstance(after, RunResult) and after.applied is not None
    assert kinds(fake)[:4] == ["values.batchGet", "get", "values.batchGet", "get"]
    values = fake.values(sheet, TAB)
    assert values[2] == [] or all(v in (None, "") for v in values[2])
    assert values[5][16] == pytest.approx(80 - 54.5)  # row 4 moved down to row 6


def test_a_new_day_reads_every_tab_afresh(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.add_sheet(sheet, "KPI", [["指标", "目标", "实际"], ["报名", 100, 40]])
    next_day = go(config, sa, store, 0, day=SEED_AS_OF + dt.timedelta(days=1))
    assert isinstance(next_day, RunResult) and "KPI" in next_day.snapshot.tabs
    assert kinds(fake)[:2] == ["get", "values.batchGet"]
    assert "ranges" not in fake.requests[1 if fake.requests[0].kind == "token" else 0].query


@pytest.mark.parametrize(
    ("typed", "fmt", "reads_as", "structure"),
    [
        ("100%", None, 100.0, True),  # typed as a percentage: 1 in a percent cell
        (1, None, 1.0, True),  # a plain 1 is 1 %
        # a fraction formatted as a percentage afterwards: 50 % either way, no structure read
        (0.5, "PERCENT", 50.0, False),
    ],
)
def test_a_percent_cell_reads_as_a_percentage_after_the_lean_read(
    fake: SheetsFake,
    sheet: str,
    sa: Path,
    tmp_path: Path,
    ruleset: RuleSet,
    typed: Any,
    fmt: str | None,
    reads_as: float,
    structure: bool,
) -> None:
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.set_cell(sheet, TAB, 4, PROGRESS, typed, user_entered=isinstance(typed, str))
    if fmt:
        fake.set_number_format(sheet, TAB, "J4", fmt)
    hint = store.read_hint()
    assert hint is not None
    b = backend(config, sa)
    b.prepare_read(
        ReadHints(json.loads(hint)["read"], percent_header(ruleset), key_header(ruleset))
    )
    fake.reset_log()
    snap = b.read()
    cell = snap.tracker.rows[3][PROGRESS - 1]
    # as the parser reads it: a number in a percent cell is a fraction; a bare fraction too
    scaled = (
        cell * 100
        if (3, PROGRESS - 1) in snap.tracker.percent_cells
        else parse_percent_value(cell)[0]
    )
    assert scaled == pytest.approx(reads_as)
    if not structure:
        assert kinds(fake) == ["values.batchGet"]
        return
    assert kinds(fake) == ["values.batchGet", "get"]
    # only the percent column's cells carried a number format in the reply
    get = next(r for r in fake.requests if r.kind == "get")
    assert get.query["ranges"][1:2] == ["'进度表'!J:J"]


def test_without_a_percent_hint_every_cell_format_is_read(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    """A backend told nothing about percent columns reads the whole tracker's formats."""
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.set_number_format(sheet, TAB, "J4", "PERCENT")
    hint = store.read_hint()
    assert hint is not None
    b = backend(config, sa)
    b.prepare_read(ReadHints(json.loads(hint)["read"], None))
    snap = b.read()
    assert (3, PROGRESS - 1) in snap.tracker.percent_cells
    get = next(r for r in fake.requests if r.kind == "get")
    assert get.query["ranges"][0] == "'进度表'"


def test_a_ranged_read_without_the_spreadsheet_metadata_reads_again_in_full(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    """Whether Google answers the spreadsheet's own developer metadata to a ranged read is not
    documented: if it does not, the job's ownership is not guessed, the read starts over."""
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.ranged_get_keeps_spreadsheet_metadata = False
    fake.set_cell(sheet, TAB, 4, PROGRESS, 0.8)
    fake.set_cell(sheet, TAB, 5, PROGRESS, "100%", user_entered=True)  # the structure is read
    edited = go(config, sa, store, 2)
    assert isinstance(edited, RunResult) and edited.applied is not None
    assert kinds(fake)[:4] == ["values.batchGet", "get", "get", "values.batchGet"]
    assert edited.requests == {"read": 4, "write": 1}
    assert fake.values(sheet, TAB)[3][16] == pytest.approx(80 - 54.5)
    assert fake.sheet_titles(sheet) == [TAB, "推广概览"]  # no second summary tab


def test_a_sort_of_the_human_columns_never_lends_a_task_another_ones_format(
    fake: SheetsFake, sheet: str, sa: Path, tmp_path: Path
) -> None:
    """The kept formats are remembered by the tasks' key cells: a sort of the human columns
    alone leaves each ID beside another task (whose progress cell, format and all, moved), so
    by ID the new task would take the old one's percent format (30 read as 3000 %)."""
    fake.set_cell(sheet, TAB, 3, PROGRESS, 1.2)  # 预热: 120 %, formatted as a percentage
    fake.set_number_format(sheet, TAB, "J3", "PERCENT")
    fake.set_cell(sheet, TAB, 4, PROGRESS, 30)  # 广告投放: a plain 30 (30 %)
    config, store = make_config(fake, sheet, sa), History(tmp_path / "h.sqlite")
    quiet(config, sa, store, fake)
    fake.sort_rows(sheet, TAB, 3, 4, "C", columns=("A", "N"))  # 广告投放 now above 预热
    assert [r[2] for r in fake.values(sheet, TAB)[2:4]] == ["广告投放", "预热"]
    after = go(config, sa, store, 2)
    assert isinstance(after, RunResult)
    progress = dict(zip(after.table.data["task"], after.table.data["progress"], strict=True))
    assert progress["广告投放"] == pytest.approx(30.0)
    assert progress["预热"] == pytest.approx(120.0)
    assert after.requests["read"] == 1  # each task's format is known: no structure read

"""A person edits the sheet between the job's read and its write (the fake's ``before_write``
hook): every human cell and every person's rule survives, and every value lands on its own
task -- or the run stops before writing, saying why, with nothing written.

Real gspread + google-auth against the local Sheets fake.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sync.config import Config
from sync.rules import RuleSet

from .conftest import header
from .sheets_fake import SheetsFake
from .test_gsheets import TAB, _humans, big_tracker, in_sync, make_config, run


def ids(fake: SheetsFake, sheet: str) -> list[Any]:
    """The ⚙ 任务ID column's task-row values."""
    values = fake.values(sheet, TAB)
    col = values[0].index("⚙ 任务ID")
    return [row[col] if col < len(row) else "" for row in values[1:] if any(row[:4])]


def first_14(fake: SheetsFake, sheet: str) -> list[list[Any]]:
    """The human columns A:N of a tracker whose columns did not move."""
    return [row[:14] for row in fake.values(sheet, TAB)]


def settled(fake: SheetsFake, sheet: str, config: Config, sa: Path, ruleset: RuleSet) -> None:
    """Every value sits on its own task: a fresh plan has nothing to change (each ⚙ value is what
    the row's own human cells give), and every task row carries one unique ID."""
    assert in_sync(config, sa, ruleset)
    found = ids(fake, sheet)
    assert all(found) and not [k for k, n in Counter(found).items() if n > 1]


def test_a_column_inserted_at_c_on_a_first_run_of_an_exactly_wide_grid_is_never_written(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    """Issue 9 (2): the grid is exactly as wide as the human columns and a person inserts a
    column at C between the read and the write; the job used to append columns, then fill by
    position -- into 备注."""
    from sync.demo import SEED_ROWS

    sheet = fake.add_spreadsheet(
        title="L", sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]]}, column_count=14
    )
    config = make_config(fake, sheet, sa)
    expected: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        f.insert_columns(sheet, TAB, "C", 1)
        f.set_cell(sheet, TAB, 1, 3, "预算")
        expected.extend(_humans(f, sheet))

    fake.before_write(person)
    result = run(config, sa)
    assert result.requests["read"] == 4, "the run noticed the moved columns and read again"
    assert _humans(fake, sheet) == expected, "备注 and every other human cell as the person left it"
    head = fake.values(sheet, TAB)[0]
    for meta in fake.developer_metadata(sheet, TAB, key="tracker_sync.column"):
        col = meta["location"]["dimensionRange"]["startIndex"]
        assert str(head[col]).startswith("⚙"), (meta["metadataValue"], head[col])
    settled(fake, sheet, config, sa, ruleset)


def test_rows_sorted_between_two_values_requests_are_noticed_and_rewritten(
    fake: SheetsFake, ruleset: RuleSet, sa: Path
) -> None:
    """A first run split into several values requests; a person sorts the rows (whole rows)
    after the first one: the next request's reply shows the IDs moved, its cells are cleared
    and the run starts over."""
    sheet = big_tracker(fake, ruleset, 300)
    config = make_config(fake, sheet, sa, max_request_bytes=20_000)
    expected: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        f.sort_rows(sheet, TAB, 2, 301, "C", descending=True)
        expected.extend(first_14(f, sheet))

    fake.before_write(person, n=3)  # structure, values 1, (person), values 2
    result = run(config, sa)
    assert result.requests["read"] == 4
    assert first_14(fake, sheet) == expected
    settled(fake, sheet, config, sa, ruleset)


def test_a_rule_added_while_the_job_replaces_its_rules_is_put_back(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet
) -> None:
    """The job deletes its rules by index; a person adds a rule at the top between the read and
    the write, so every index is one off and the job deletes a person's rule. The deleted rules
    come back in the reply: the job sees one is not its own, puts everything back, reads again."""
    from .test_gsheets import job_rule_count, person_rule, persons_rules

    config = make_config(fake, sheet, sa)
    run(config, sa)
    wanted = job_rule_count(fake, sheet)
    other = person_rule() | {
        "booleanRule": person_rule()["booleanRule"]
        | {"condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": '=$E2="王丽"'}]}}
    }
    fake.apply_requests(sheet, [{"addConditionalFormatRule": {"rule": other, "index": 0}}])
    fake.apply_requests(sheet, [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 1}}])

    def person(f: SheetsFake) -> None:
        f.apply_requests(sheet, [{"addConditionalFormatRule": {"rule": person_rule(), "index": 0}}])

    fake.before_write(person)
    result = run(config, sa)
    assert result.requests["read"] == 4, "the run started over"
    formulas = [
        r["booleanRule"]["condition"]["values"][0]["userEnteredValue"]
        for r in fake.conditional_formats(sheet, TAB)
    ]
    assert formulas.count('=$E2="王丽"') == 1, "the rule the job deleted by mistake is back"
    assert len(persons_rules(fake, sheet)) == 1
    assert job_rule_count(fake, sheet) == wanted + 1  # + the 王丽 rule, a person's
    settled(fake, sheet, config, sa, ruleset)


# ---------------------------------------------------------------------------- steady state


def with_history(config: Config, tmp_path: Path) -> Config:
    """The run store on: IDs follow their tasks by what it remembers."""
    history = Config.model_validate(
        {"tracker": {"path": "x"}, "history": {"path": str(tmp_path / "h.sqlite")}}
    ).history
    return config.model_copy(update={"history": history})


def task_ids(fake: SheetsFake, sheet: str, tab: str = TAB) -> dict[str, Any]:
    """Task name (核心任务) -> its ⚙ 任务ID."""
    values = fake.values(sheet, tab)
    head = values[0]
    t, i = head.index("核心任务"), head.index("⚙ 任务ID")
    return {row[t]: row[i] for row in values[1:] if len(row) > i and row[t]}


def test_the_human_columns_sorted_alone_between_read_and_write(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet, tmp_path: Path
) -> None:
    """A person selects A:N and sorts it (the ⚙ columns stay put) right before the write: the
    values request's own reply shows the rows' key cells changed, so the cells it wrote are
    cleared and the run starts over; IDs then follow their tasks by content."""
    config = with_history(make_config(fake, sheet, sa), tmp_path)
    run(config, sa)
    before = task_ids(fake, sheet)
    fake.set_cell(sheet, TAB, 2, 10, "70%")
    expected: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        f.sort_rows(sheet, TAB, 2, 5, "C", descending=True, columns=("A", "N"))
        expected.extend(first_14(f, sheet))

    fake.before_write(person)
    result = run(config, sa)
    assert result.requests["read"] == 4, "the run noticed and read again"
    assert first_14(fake, sheet) == expected
    assert task_ids(fake, sheet) == before, "every ID back on its own task"
    settled(fake, sheet, config, sa, ruleset)


def test_a_column_inserted_at_c_between_read_and_write_in_steady_state(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet
) -> None:
    config = make_config(fake, sheet, sa)
    run(config, sa)
    fake.set_cell(sheet, TAB, 3, 10, "90%")
    expected: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        f.insert_columns(sheet, TAB, "C", 1)
        f.set_cell(sheet, TAB, 1, 3, "预算")
        f.set_cell(sheet, TAB, 3, 3, 5000)
        expected.extend(_humans(f, sheet))

    fake.before_write(person)
    run(config, sa)
    assert _humans(fake, sheet) == expected
    settled(fake, sheet, config, sa, ruleset)


@pytest.mark.parametrize("scenario", ["first-run", "steady"])
def test_a_rule_added_between_read_and_write_survives(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet, scenario: str
) -> None:
    from .test_gsheets import person_rule, persons_rules

    config = make_config(fake, sheet, sa)
    if scenario == "steady":
        run(config, sa)
        fake.set_cell(sheet, TAB, 2, 10, "70%")
    fake.before_write(
        lambda f: f.apply_requests(
            sheet, [{"addConditionalFormatRule": {"rule": person_rule(), "index": 0}}]
        )
    )
    run(config, sa)
    assert len(persons_rules(fake, sheet)) == 1
    settled(fake, sheet, config, sa, ruleset)


@pytest.mark.parametrize("copies_metadata", [False, True], ids=["plain-copy", "copy-with-metadata"])
def test_the_tab_duplicated_between_read_and_write(
    ruleset: RuleSet, tmp_path: Path, copies_metadata: bool
) -> None:
    """Whether Google copies a tab's developer metadata on duplicate is not documented: with
    either, the writes reach the tracker tab only, and later runs keep ignoring the copy."""
    from sync.demo import SEED_ROWS

    with SheetsFake(duplicate_copies_metadata=copies_metadata) as fake:
        sheet = fake.add_spreadsheet(
            title="L", sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]]}
        )
        sa = fake.write_service_account(tmp_path / "sa.json")
        config = make_config(fake, sheet, sa)
        run(config, sa)
        fake.set_cell(sheet, TAB, 4, 10, "20%")
        copy: list[list[Any]] = []

        def person(f: SheetsFake) -> None:
            f.duplicate_sheet(sheet, TAB, "副本")
            copy.extend(f.values(sheet, "副本"))

        fake.before_write(person)
        run(config, sa)
        assert fake.values(sheet, "副本") == copy, "the copy got nothing"
        assert len(fake.developer_metadata(sheet, "副本", key="tracker_sync.column")) == (
            8 if copies_metadata else 0
        )
        fake.set_cell(sheet, TAB, 5, 10, "30%")
        run(config, sa)
        assert fake.values(sheet, "副本") == copy, "nor on the next run"
        settled(fake, sheet, config, sa, ruleset)


@pytest.mark.parametrize("width", ["human-columns", "whole-rows"])
def test_task_rows_cut_and_pasted_below_between_read_and_write(
    fake: SheetsFake, sheet: str, sa: Path, ruleset: RuleSet, tmp_path: Path, width: str
) -> None:
    """A person cuts two task rows -- the human columns A:N only, or whole rows A:V -- and
    pastes them below the last task right before the write. A cut moves cells, not rows (row
    metadata stays, the source is left empty), so the values request's reply shows the key
    cells of the rows it wrote gone: the cells it wrote are cleared, the run reads again, and
    every value, ID included, ends on its own task; no human cell is lost."""
    config = with_history(make_config(fake, sheet, sa), tmp_path)
    run(config, sa)
    before = task_ids(fake, sheet)
    fake.set_cell(sheet, TAB, 2, 10, "70%")  # progress moves on: something to write
    height = len(fake.values(sheet, TAB))
    expected: list[list[Any]] = []

    def person(f: SheetsFake) -> None:
        last = "N" if width == "human-columns" else "V"
        f.cut_paste(sheet, TAB, f"A2:{last}3", f"A{height + 1}")
        expected.extend(first_14(f, sheet))

    fake.before_write(person)
    result = run(config, sa)
    assert result.requests["read"] == 4, "the run noticed and read again"
    assert trimmed(first_14(fake, sheet)) == trimmed(expected), "every human cell where it was put"
    assert task_ids(fake, sheet) == before, "every ID on its own task"
    settled(fake, sheet, config, sa, ruleset)


def trimmed(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows without their trailing empty cells, and without trailing empty rows."""
    out = [list(r) for r in rows]
    for r in out:
        while r and r[-1] in ("", None):
            r.pop()
    while out and not out[-1]:
        out.pop()
    return out

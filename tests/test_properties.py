"""Property tests: whatever people type into a tracker, the run completes and says what it read.

Any cell (text with emoji and control characters, formulas, numbers of any size, NaN and
infinities, booleans, dates and datetimes, None) in any column of a 1–5 row tracker:

- ``parse`` reads every non-empty cell of a date / percent / status column as a value or marks
  it unreadable (the profile's whole budget: 1,000 examples in CI, 10,000 with
  ``make test-deep``; parse is the stage that reads cells, and it is cheap);
- the whole pure pipeline ``plan_run`` completes, every unreadable cell gets a finding on
  exactly that cell, the plan never writes into a person's column and ``--json`` serializes
  (a 25th of the examples: one run costs ~0.1 s, ten times one parse).

Warnings are errors (pyproject's ``filterwarnings``), so a pandas warning on some input fails.
Inputs that once crashed the run (absurd dates and numbers, 2/29 without a year, checkboxes
beside numbers) have dedicated tests at the end of this file and in tests/corpus/cells.yaml.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import plan_run, report  # the public API, wherever the modules keep them
from sync.i18n import GENERATED_KEYS, LOCALES, text
from sync.model import Grid, Snapshot
from sync.parse import (
    Table,
    parse,
    parse_date_value,
    parse_percent_value,
    parse_status_value,
)
from sync.rules import TEMPLATE_COLUMNS, load_rules, shipped_rules_dir
from sync.ruletools import BASE_EXAMPLE

from .hypothesis_profiles import PROFILE
from .test_corpus import HEADER_VARIANTS, load_corpus

SHIPPED = load_rules([shipped_rules_dir()])
WORDS = SHIPPED.status_words()
TYPED = [f for f in TEMPLATE_COLUMNS if SHIPPED.columns[f].type in ("date", "percent", "status")]
#: The rules that turn an unreadable cell of each typed column into a finding (a day that
#: reads two ways gets ``ambiguous`` instead of ``type``).
TYPE_RULES = {
    f: {r.id for r in SHIPPED.active if r.check in ("type", "ambiguous") and f in r.columns}
    for f in TYPED
}
PROGRESS_COL = list(TEMPLATE_COLUMNS).index("progress")
HEADERS = [
    [SHIPPED.columns[f].title("zh-CN") for f in TEMPLATE_COLUMNS],
    [SHIPPED.columns[f].title("en") for f in TEMPLATE_COLUMNS],
    *HEADER_VARIANTS.values(),
]
BASE_ROW = [BASE_EXAMPLE[f] for f in TEMPLATE_COLUMNS]
#: The job's own columns from an earlier run: none, only the task IDs, or all (either locale).
GENERATED_HEADERS = [
    [],
    [text("zh-CN", "gen_id")],
    *([text(locale, k) for k in GENERATED_KEYS] for locale in LOCALES),
]
#: Full runs get a 25th of the profile's examples (40 in CI, 400 deep, at least 20).
FULL_RUN_EXAMPLES = max(20, settings().max_examples // 25)


SEEDS = [e["raw"] for e in load_corpus()]
FRAGMENTS = [
    *(s for s in SEEDS if isinstance(s, str)),
    *"%％()（）年月日号/.-~—、,:： \n\t\r",
    "2024",
    "3",
    "12",
    "0.5",
    "=",
    "✅",
    "⚠",
    "\u200b",
    "\ufeff",
    "\u202e",
    "\x00",
    "👨‍👩‍👧",
    "🇨🇳",
]

cell_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(SEEDS),
    st.text(max_size=24),  # any code point but surrogates: control characters, emoji, RTL marks
    st.lists(st.sampled_from(FRAGMENTS), max_size=5).map("".join),
    st.text(max_size=16).map(lambda s: "=" + s),  # a formula-looking string stays text
    st.integers(min_value=-1_000, max_value=140_000),  # percents and serial days
    st.integers(min_value=19_000_101, max_value=21_001_231),  # yyyymmdd typed as a number
    st.integers(min_value=-(10**300), max_value=10**300),  # huge, but still a float
    st.floats(min_value=-1e300, max_value=1e300),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1e300]),
    st.floats(min_value=-2, max_value=200),
    st.dates(),
    st.datetimes(),
)
#: Per column of the template: its passing example's cell, or anything.
COLUMN_VALUES = [
    st.one_of(
        st.just(cell),
        cell_values,
    )
    for c, cell in enumerate(BASE_ROW)
]


@st.composite
def trackers(draw: st.DrawFn) -> Grid:
    """A tracker tab: maybe a title row, a header, 1–5 rows of anything (ragged, overhanging).

    Each cell is either the passing example's or anything at all, so rows range from
    near-valid tasks to noise; the ``⚙ 任务ID`` column (the job's own) may hold anything too.
    """
    head: list[Any] = list(draw(st.sampled_from(HEADERS)))
    head += draw(st.sampled_from(GENERATED_HEADERS))
    top: list[list[Any]] = [["2024 新品上市推广进度表"]] if draw(st.booleans()) else []
    rows = []
    for _ in range(draw(st.integers(1, 5))):
        width = draw(st.integers(0, len(head) + 2))
        rows.append(
            [
                draw(COLUMN_VALUES[c] if c < len(COLUMN_VALUES) else cell_values)
                for c in range(width)
            ]
        )
    first = len(top) + 1
    percent = draw(st.sets(st.integers(first, first + len(rows) - 1)))
    return Grid(
        "进度表",
        [*top, head, *rows],
        frozenset((r, PROGRESS_COL) for r in percent),
    )


as_of_days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


def raw_cell(grid: Grid, table: Table, row: int, field: str) -> Any:
    return grid.value(row - 1, table.positions[field])


def merged_by_factorize(value: Any, column: list[Any]) -> bool:
    """Another cell of the column equals this one but has another type (True == 1): see
    test_a_checkbox_and_a_number_in_one_column_are_read_apart."""
    return any(
        type(o) is not type(value) and isinstance(o == value, bool) and o == value for o in column
    )


def expected_scalar(grid: Grid, table: Table, row: int, field: str, as_of: dt.date) -> Any:
    raw = raw_cell(grid, table, row, field)
    kind = SHIPPED.columns[field].type
    if kind == "date":
        # year-less days are read in a leap year (2/29 survives) and get the row's year later;
        # numeric days in the order the column's cells settle (26/9/25: day first)
        return parse_date_value(raw, 2000, table.date_orders.get(field))
    if kind == "percent":
        value = parse_percent_value(raw)[0]
        numeric = isinstance(raw, int | float) and not isinstance(raw, bool)
        if value is not None and numeric and (row - 1, PROGRESS_COL) in grid.percent_cells:
            value = float(raw) * 100
        return value
    return parse_status_value(raw, WORDS)


def assert_cells_read_or_flagged(grid: Grid, table: Table, as_of: dt.date) -> None:
    """Every filled typed cell has a value or is marked invalid; values match the scalar parser."""
    for field in TYPED:
        present, value, invalid = table.present[field], table.data[field], table.invalid[field]
        assert not (present & value.isna() & ~invalid).any(), (field, table.cells[field])
        assert not (invalid & ~(present & value.isna())).any(), field
        assert value[~present].isna().all(), field
        column = [raw_cell(grid, table, r, field) for r in table.rows]
        for row in table.rows[present & ~invalid]:
            raw = raw_cell(grid, table, row, field)
            if merged_by_factorize(raw, column):
                continue
            got, want = value[row], expected_scalar(grid, table, row, field, as_of)
            if SHIPPED.columns[field].type == "date":
                day, yearless = want
                assert day is not None, (field, raw)
                assert (got.month, got.day) == (day.month, day.day), (field, raw, got)
                assert yearless or got.year == day.year, (field, raw, got)
            elif SHIPPED.columns[field].type == "percent":
                assert want is not None and (
                    got == pytest.approx(round(want, 6), nan_ok=True) or math.isinf(want)
                ), (field, raw, got)
            else:
                assert got == want, (field, raw, got)


# ---------------------------------------------------------------------------- the properties


@given(grid=trackers(), as_of=as_of_days)
def test_parse_reads_every_typed_cell_or_marks_it_unreadable(grid: Grid, as_of: dt.date) -> None:
    table = parse(grid, SHIPPED, as_of)
    assert len(table) <= len(grid.rows) - table.header_row - 1
    assert_cells_read_or_flagged(grid, table, as_of)


@settings(max_examples=FULL_RUN_EXAMPLES)
@given(grid=trackers(), as_of=as_of_days, locale=st.sampled_from(LOCALES))
def test_plan_run_completes_and_flags_every_unreadable_cell(
    grid: Grid, as_of: dt.date, locale: str
) -> None:
    now = dt.datetime.combine(as_of, dt.time(9, 30), tzinfo=dt.UTC)
    snapshot = Snapshot(target="memory", tracker=grid, sheet_titles=(grid.title,))
    result = plan_run(snapshot, SHIPPED, as_of=as_of, now=now, locale=locale)
    table, findings = result.table, result.findings
    assert_cells_read_or_flagged(grid, table, as_of)
    flagged = set(zip(findings["row"], findings["column"], findings["rule"], strict=True))
    for field in TYPED:
        header = table.headers[field]
        for row in table.rows[table.invalid[field]]:
            assert any((row, header, rule) in flagged for rule in TYPE_RULES[field]), (
                row,
                field,
                raw_cell(grid, table, row, field),
            )
    # the job writes only its own columns, never a person's
    assert not set(result.plan.cells) & set(table.human_cols)
    assert all(
        c > table.last_used_col for c in result.plan.cells if c not in table.generated_cols.values()
    )
    json.dumps(report(result), ensure_ascii=False)  # --json: no numpy or pandas scalars left


def test_every_typed_column_has_a_type_rule() -> None:
    """What the properties rely on: an unreadable typed cell always becomes a finding."""
    assert all(TYPE_RULES[f] for f in TYPED), TYPE_RULES
    assert set(TYPED) == {
        "planned_start",
        "planned_finish",
        "actual_start",
        "actual_finish",
        "progress",
        "status",
    }


def test_profiles() -> None:
    from .hypothesis_profiles import CI_EXAMPLES, DEEP_EXAMPLES, profile_name

    # CI checks every push with 1,000 examples a property; `make test-deep` hunts with 10,000
    assert settings.get_profile("ci").max_examples == CI_EXAMPLES == 1_000
    assert settings.get_profile("deep").max_examples == DEEP_EXAMPLES >= 10_000
    for name in ("default", "ci", "deep"):
        assert settings.get_profile(name).deadline is None
    assert settings.get_profile("deep").print_blob
    assert profile_name({"CI": "true"}) == "ci"
    assert profile_name({"CI": "false"}) == "default"
    assert profile_name({"CI": "true", "HYPOTHESIS_PROFILE": "default"}) == "default"
    assert profile_name({"CI": "true", "HYPOTHESIS_PROFILE": "deep"}) == "deep"
    assert profile_name({}) == "default"
    assert settings().max_examples == settings.get_profile(PROFILE).max_examples


# ---------------------------------------------------------------------------- known bugs


def _run_cells(**cells: Any) -> Any:
    rows = [{**BASE_EXAMPLE, **cells}]
    grid = Grid("进度表", [list(HEADERS[0]), *[[r[f] for f in TEMPLATE_COLUMNS] for r in rows]])
    snapshot = Snapshot(target="memory", tracker=grid, sheet_titles=(grid.title,))
    as_of = dt.date(2024, 3, 20)
    return plan_run(snapshot, SHIPPED, as_of=as_of, now=dt.datetime(2024, 3, 20, 9, tzinfo=dt.UTC))


@pytest.mark.parametrize("field", ["progress", "planned_start"])
def test_an_int_beyond_float_range_is_a_finding_not_a_crash(field: str) -> None:
    result = _run_cells(**{field: 10**400})
    assert (result.findings["column"] == result.table.headers[field]).any()


@pytest.mark.parametrize("cell", [1e303, 1.5e308, -1e305, math.inf, -math.inf])
def test_a_huge_progress_number_is_flagged_without_a_warning(cell: float) -> None:
    result = _run_cells(progress=cell)
    hits = result.findings[result.findings["column"] == result.table.headers["progress"]]
    assert "progress-range" in set(hits["rule"])


def test_json_report_is_strict_json_for_an_infinite_progress() -> None:
    result = _run_cells(progress=math.inf)
    assert "progress-range" in set(result.findings["rule"])
    json.loads(json.dumps(report(result)), parse_constant=_reject)


def _reject(token: str) -> Any:
    raise ValueError(f"not JSON: {token}")


@pytest.mark.parametrize(
    "cell",
    ["3024-03-25", "1600-01-01", 2958465, dt.date(9999, 12, 31), dt.datetime(1, 1, 1)],
    ids=str,
)
def test_a_day_outside_the_pandas_range_is_a_finding_not_a_crash(cell: Any) -> None:
    result = _run_cells(actual_finish=cell)
    hits = result.findings[result.findings["column"] == result.table.headers["actual_finish"]]
    assert "valid-date" in set(hits["rule"])


@pytest.mark.parametrize("first_true", [True, False], ids=["true-first", "one-first"])
def test_a_checkbox_and_a_number_in_one_column_are_read_apart(first_true: bool) -> None:
    cells = [True, 1] if first_true else [1, True]
    rows = [[*BASE_ROW[:PROGRESS_COL], cell, *BASE_ROW[PROGRESS_COL + 1 :]] for cell in cells]
    rows[1][3] = "完成5篇素人笔记发布"  # not a duplicate task
    grid = Grid("进度表", [list(HEADERS[0]), *rows])
    table = parse(grid, SHIPPED, dt.date(2024, 3, 20))
    # (not a dict keyed by cell: True == 1 would make one key of the two)
    one, true = (table.rows[1], table.rows[0]) if first_true else (table.rows[0], table.rows[1])
    assert table.data.loc[one, "progress"] == 1 and not table.invalid.loc[one, "progress"]
    assert table.invalid.loc[true, "progress"]


def test_the_grid_helpers_see_what_the_table_saw() -> None:
    """raw_cell (used by every property above) finds the cell the table parsed."""
    grid = Grid(
        "进度表",
        [["title"], list(HEADERS[1]), [*BASE_ROW[:PROGRESS_COL], 0.6, *BASE_ROW[10:]]],
        frozenset({(2, PROGRESS_COL)}),
    )
    table = parse(grid, SHIPPED, dt.date(2024, 3, 20))
    assert list(table.rows) == [3]
    assert raw_cell(grid, table, 3, "progress") == 0.6
    assert expected_scalar(grid, table, 3, "progress", dt.date(2024, 3, 20)) == 60
    assert table.data.loc[3, "progress"] == 60
    # a table that lost the mark on an unreadable cell does not pass the check
    bad = dataclasses.replace(grid, rows=[*grid.rows[:2], [*grid.rows[2][:9], "半", "进行中"]])
    table = parse(bad, SHIPPED, dt.date(2024, 3, 20))
    assert table.data["progress"].isna()[3] and table.invalid.loc[3, "progress"]
    assert_cells_read_or_flagged(bad, table, dt.date(2024, 3, 20))
    lost = dataclasses.replace(table, invalid=table.invalid.assign(progress=False))
    with pytest.raises(AssertionError):
        assert_cells_read_or_flagged(bad, lost, dt.date(2024, 3, 20))

"""Compute: planned %, deviation, status, days late and health, with the seed's exact numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from sync.compute import compute
from sync.model import Grid
from sync.parse import parse

from .conftest import SEED_AS_OF, grid, task


def derived_for(
    rows: list[list[Any]], ruleset: Any, as_of: dt.date, amber: float = 10.0
) -> pd.DataFrame:
    return compute(parse(grid(rows, ruleset), ruleset, as_of), as_of, amber)


def test_seed_rows_exact_values(seed_grid: Grid, ruleset: Any) -> None:
    d = compute(parse(seed_grid, ruleset, SEED_AS_OF), SEED_AS_OF)
    # row 2: planned 3/1–3/10, 60 %, as of 3/20 → plan 100 %, deviation −40, 10 days late, red
    # row 3: finished 3/11 ≤ planned 3/12 → completed on time
    # row 4: planned 3/15–3/25, 30 %, as of 3/20 → 6/11 = 54.5 %, deviation −24.5 → amber
    # row 5: planned 3/28–4/5, not started → 0 %, on plan
    expected = pd.DataFrame(
        {
            "status": ["delayed", "completed", "in_progress", "not_started"],
            "planned_progress": [100.0, 100.0, 54.5, 0.0],
            "deviation": [-40.0, 0.0, -24.5, 0.0],
            "days_late": pd.array([10, 0, 0, 0], dtype="Int64"),
            "health": ["red", "green", "amber", "green"],
        },
        index=pd.RangeIndex(2, 6),
    )
    pd.testing.assert_frame_equal(d, expected, check_dtype=False)


@pytest.mark.parametrize(
    ("as_of", "planned"),
    [
        (dt.date(2024, 3, 14), 0.0),  # before the start
        (dt.date(2024, 3, 15), 9.1),  # the first day counts as worked: 1/11
        (dt.date(2024, 3, 20), 54.5),  # the example: 6/11
        (dt.date(2024, 3, 25), 100.0),  # the last day
        (dt.date(2024, 4, 30), 100.0),  # clamped
    ],
)
def test_planned_progress(ruleset: Any, as_of: dt.date, planned: float) -> None:
    d = derived_for(
        [
            task(
                planned_start="2024-03-15",
                planned_finish="2024-03-25",
                progress="50%",
                actual_start="2024-03-15",
                status="进行中",
            )
        ],
        ruleset,
        as_of,
    )
    assert d.loc[2, "planned_progress"] == planned


@pytest.mark.parametrize(
    ("fields", "status", "days_late"),
    [
        ({"progress": "100%"}, "completed", 0),  # 100 % is complete even without an actual finish
        (
            {"actual_finish": "2024-03-08", "actual_start": "2024-03-01", "progress": "90%"},
            "completed",
            0,
        ),
        (
            {"actual_finish": "2024-03-14", "actual_start": "2024-03-01", "progress": "100%"},
            "completed",
            4,
        ),  # finished 4 days late
        (
            {"progress": "50%", "actual_start": "2024-03-01"},
            "delayed",
            10,
        ),  # past the planned finish
        (
            {"planned_start": "2024-03-15", "planned_finish": "2024-03-30"},
            "delayed",
            0,
        ),  # past start, nothing begun
        (
            {
                "planned_start": "2024-03-15",
                "planned_finish": "2024-03-30",
                "actual_start": "2024-03-16",
            },
            "in_progress",
            0,
        ),
        ({"planned_start": "2024-03-25", "planned_finish": "2024-03-30"}, "not_started", 0),
        (
            {"planned_start": "2024-03-25", "planned_finish": "2024-03-30", "progress": "10%"},
            "in_progress",
            0,
        ),  # started early
        (
            {"planned_finish": "3月上旬"},
            "delayed",
            None,
        ),  # no finish date: past the start with nothing done
    ],
)
def test_computed_status_and_days_late(
    ruleset: Any, fields: dict[str, Any], status: str, days_late: int | None
) -> None:
    d = derived_for([task(**fields)], ruleset, SEED_AS_OF)
    assert d.loc[2, "status"] == status
    if days_late is None:
        assert pd.isna(d.loc[2, "days_late"])
    else:
        assert d.loc[2, "days_late"] == days_late


def test_health_threshold_is_configurable(ruleset: Any) -> None:
    row = task(
        planned_start="2024-03-11",
        planned_finish="2024-03-30",
        actual_start="2024-03-11",
        progress="40%",
        status="进行中",
    )
    # plan 10/20 = 50 %, actual 40 % → 10 points behind: not *more* than 10
    assert derived_for([row], ruleset, SEED_AS_OF).loc[2, "health"] == "green"
    assert derived_for([row], ruleset, SEED_AS_OF, amber=5).loc[2, "health"] == "amber"


def test_empty_progress_counts_as_zero_for_deviation(ruleset: Any) -> None:
    d = derived_for(
        [
            task(
                planned_start="2024-03-01",
                planned_finish="2024-03-30",
                progress="",
                actual_start="2024-03-01",
            )
        ],
        ruleset,
        SEED_AS_OF,
    )
    assert d.loc[2, "deviation"] == -66.7


def test_health_is_empty_without_a_planned_finish(ruleset: Any) -> None:
    d = derived_for([task(planned_start="2024-03-25", planned_finish="")], ruleset, SEED_AS_OF)
    assert d.loc[2, "health"] is None and pd.isna(d.loc[2, "planned_progress"])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # paused 10 days after its planned finish: not late, not behind plan, health not judged
        (
            {"status": "暂停", "progress": "30%", "actual_start": "2024-03-01"},
            ("on_hold", 100.0, None, 0, None),
        ),
        # paused before it started: still on hold, not "delayed for not starting"
        ({"status": "On hold"}, ("on_hold", 100.0, None, 0, None)),
        # done outranks on hold: 100 % is completed whatever the status says
        (
            {"status": "暂停", "progress": "100%", "actual_finish": "2024-03-09"},
            ("completed", 100.0, 0.0, 0, "green"),
        ),
    ],
)
def test_a_task_on_hold_is_neither_late_nor_behind_plan(
    ruleset: Any, fields: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    d = derived_for([task(**fields)], ruleset, SEED_AS_OF)
    row = d.iloc[0]
    got = tuple(None if v is None or pd.isna(v) else v for v in row)
    assert got == expected

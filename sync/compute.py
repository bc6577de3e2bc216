"""Compute: planned progress, deviation, status, days late and health, as of a given day."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .parse import Table
from .workdays import WorkCalendar

DERIVED_COLUMNS = ["status", "planned_progress", "deviation", "days_late", "health"]


def compute(
    table: Table,
    as_of: dt.date,
    amber_deviation: float = 10.0,
    calendar: WorkCalendar | None = None,
) -> pd.DataFrame:
    """One row per task (same index as the table) with the derived columns.

    Days are working days of ``calendar`` (:mod:`sync.workdays`); without one (``calendar.country:
    none``) every calendar day counts.

    - planned_progress = working days from the planned start to the as-of day (both included)
      / working days from the planned start to the planned finish (both included) × 100,
      clamped to 0–100 (the as-of day counts as worked); a plan with no working day in it is
      0 until its finish and 100 from then; empty without both planned dates;
    - deviation = progress − planned_progress, in percentage points (empty progress counts as 0);
      0 once the task is completed (its lateness is days_late: finished late, not behind plan);
    - status: completed (progress 100 or an actual finish), else on_hold (the sheet's status
      says so: paused work), else delayed (past the planned finish, or past the planned start
      with no progress and no actual start), else in_progress (progress > 0 or an actual
      start), else not_started;
    - days_late: working days past the planned finish while not completed, or the working days
      an actual finish came after it; 0 while on hold (paused work is not late);
      ``days_late_calendar`` (only with a calendar) is the same in calendar days;
    - health: red when delayed, amber when behind plan by more than ``amber_deviation`` points,
      else green; empty when there is no planned finish to judge by, and while on hold (its
      deviation is empty too: paused work is not behind plan).

    A sheet without a progress column has no deviation, and is judged by what its status
    column says where the columns that would tell are missing too: completed without an actual
    finish column, started (in progress, delayed, completed) without an actual start column;
    with none of progress, actual start and status nothing says a task is idle, so only the
    planned finish makes it delayed.

    >>> # planned 3/15–3/25, as of 3/20: 6 of 11 days → 54.5 %
    """
    d = table.data
    today = np.datetime64(as_of, "D")
    ps = d["planned_start"].to_numpy("datetime64[D]")
    pf = d["planned_finish"].to_numpy("datetime64[D]")
    af = d["actual_finish"].to_numpy("datetime64[D]")
    has_as = d["actual_start"].notna().to_numpy()
    has_af = ~np.isnat(af)
    progress = d["progress"].to_numpy(dtype=float)
    prog0 = np.where(np.isnan(progress), 0.0, progress)  # ±inf stays ±inf: range rules flag it

    with np.errstate(invalid="ignore", divide="ignore"):
        span = (pf - ps).astype("timedelta64[D]").astype(float) + 1
        done = (today - ps).astype("timedelta64[D]").astype(float) + 1
        planned = np.clip(done / span * 100.0, 0.0, 100.0)
        if calendar is not None:
            one = np.timedelta64(1, "D")
            today_v = np.full(len(ps), today)
            span_w = calendar.count(ps, pf + one)
            done_w = calendar.count(ps, today_v + one)
            planned = np.where(
                span_w > 0,
                np.clip(done_w / span_w * 100.0, 0.0, 100.0),
                np.where(today >= pf, 100.0, 0.0),
            )
    planned[np.isnat(ps) | np.isnat(pf) | ~(span > 0)] = np.nan
    deviation = prog0 - planned

    said = d["status"].to_numpy(dtype=object)
    no_progress = "progress" not in table.positions
    if no_progress:
        deviation[:] = np.nan
    completed = (prog0 >= 100) | has_af
    started = (prog0 > 0) | has_as
    if no_progress and "actual_finish" not in table.positions:
        completed |= said == "completed"
    if no_progress and "actual_start" not in table.positions:
        started |= np.isin(said, ["in_progress", "delayed", "completed"])
    on_hold = ~completed & (said == "on_hold")
    past_finish = ~np.isnat(pf) & (today > pf)
    knows_idle = any(c in table.positions for c in ("progress", "actual_start", "status"))
    past_start_idle = ~np.isnat(ps) & (today > ps) & ~started & knows_idle
    delayed = ~completed & ~on_hold & (past_finish | past_start_idle)
    status = np.select(
        [completed, on_hold, delayed, started],
        ["completed", "on_hold", "delayed", "in_progress"],
        default="not_started",
    ).astype(object)

    late_open = (today - pf).astype("timedelta64[D]").astype(float)
    late_done = (af - pf).astype("timedelta64[D]").astype(float)
    days_late_cal = _late(completed, has_af, late_done, late_open, on_hold, pf)
    if calendar is None:
        days_late = days_late_cal
    else:
        one = np.timedelta64(1, "D")
        late_open = calendar.count(pf + one, np.full(len(pf), today) + one)
        late_done = calendar.count(pf + one, af + one)
        days_late = _late(completed, has_af, late_done, late_open, on_hold, pf)
    deviation[on_hold] = np.nan
    # complete: on plan by definition (its lateness is in days late / finished late), so
    # averages reflect open work
    deviation[completed & ~np.isnan(deviation)] = 0.0

    behind = ~np.isnan(deviation) & (deviation < -amber_deviation) & ~completed
    health = np.select([status == "delayed", behind], ["red", "amber"], default="green").astype(
        object
    )
    health[(np.isnat(pf) & (status != "delayed")) | on_hold] = None

    with np.errstate(
        over="ignore", invalid="ignore"
    ):  # ±inf or absurd progress: flagged by the rules
        planned_r, deviation_r = np.round(planned, 1), np.round(deviation, 1)
    out = pd.DataFrame(
        {
            "status": status,
            "planned_progress": planned_r,
            "deviation": deviation_r,
            "days_late": pd.array(days_late, dtype="Float64").astype("Int64"),
            "health": health,
        },
        index=d.index,
    )
    if calendar is not None:  # without a calendar, days_late is in calendar days already
        out["days_late_calendar"] = pd.array(days_late_cal, dtype="Float64").astype("Int64")
    return out


def _late(
    completed: np.ndarray,
    has_af: np.ndarray,
    late_done: np.ndarray,
    late_open: np.ndarray,
    on_hold: np.ndarray,
    pf: np.ndarray,
) -> np.ndarray:
    """Days late from the two counts: after the finish for completed tasks, else so far."""
    days = np.where(completed, np.where(has_af, late_done, 0.0), late_open)
    days = np.where(np.isnan(days), np.nan, np.maximum(days, 0.0))
    days[on_hold] = 0.0
    days[np.isnat(pf)] = np.nan
    return days

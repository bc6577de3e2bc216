"""The weekly report's content as plain data: one pure function of a run and its history.

:func:`build` takes a run's result (table, computed columns, summary, as of one day), what
the run store remembers (:class:`ReportHistory`) and the period the report covers; it reads no
file and no clock. Rendering (Markdown, HTML, PDF, charts) is :mod:`sync.weekly.render`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..defaults import AMBER_DEVIATION
from ..errors import ConfigError
from ..history import Change
from ..i18n import text
from ..pipeline import RunResult
from ..timeline import TaskState, TrendPoint
from .words import word

#: RAG red: at least this share of the tasks (%) is delayed ...
RED_DELAYED_SHARE = 10.0
#: ... or a milestone is forecast at least this many days late ...
RED_SLIP_DAYS = 7
#: ... or the schedule performance index (budgets) is below this; amber below AMBER_SPI.
RED_SPI = 0.8
AMBER_SPI = 0.95
#: At most this many tasks in a list (the rest counted) and bars in the Gantt chart.
LIST_LIMIT = 25
GANTT_LIMIT = 60


@dataclass(frozen=True)
class Period:
    """The days the report covers, both included; ``label`` names it (``2024-W12``)."""

    since: dt.date
    until: dt.date
    label: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.since <= day <= self.until

    def next(self) -> Period:
        """The period of the same length right after this one."""
        span = self.until - self.since + dt.timedelta(days=1)
        since, until = self.since + span, self.until + span
        if _is_iso_week(self):
            year, week, _ = since.isocalendar()
            return Period(since, until, f"{year}-W{week:02d}")
        return Period(since, until, f"{since.isoformat()}..{until.isoformat()}")


_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


def week(text_: str) -> Period:
    """The ISO week ``YYYY-Www``, Monday to Sunday.

    >>> week("2024-W12")
    Period(since=datetime.date(2024, 3, 18), until=datetime.date(2024, 3, 24), label='2024-W12')
    """
    m = _WEEK.match(text_.strip())
    if m is None:
        raise ConfigError(f"--week {text_!r}: write an ISO week as YYYY-Www, e.g. 2024-W12")
    year, number = int(m.group(1)), int(m.group(2))
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ConfigError(f"--week {text_!r}: {year} has no week {number}") from None
    return Period(monday, monday + dt.timedelta(days=6), f"{year}-W{number:02d}")


def week_of(day: dt.date) -> Period:
    """The ISO week holding ``day``.

    >>> week_of(dt.date(2024, 3, 20)).label
    '2024-W12'
    """
    year, number, _ = day.isocalendar()
    return week(f"{year}-W{number:02d}")


def between(since: dt.date, until: dt.date) -> Period:
    """The days from ``since`` to ``until``, both included."""
    if until < since:
        raise ConfigError(
            f"--since {since.isoformat()} is after --until {until.isoformat()}; swap them"
        )
    return Period(since, until, f"{since.isoformat()}..{until.isoformat()}")


def _is_iso_week(p: Period) -> bool:
    return p.since.isoweekday() == 1 and (p.until - p.since).days == 6


@dataclass(frozen=True)
class ReportHistory:
    """What the run store remembers, read once by the caller: every task's state, the daily
    trend, and the cell changes recorded from the period's first day on."""

    states: Mapping[str, TaskState] = field(default_factory=dict)
    trend: tuple[TrendPoint, ...] = ()
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class TaskLine:
    """One task in a list of the report."""

    id: str
    row: int
    phase: str
    channel: str
    task: str
    owner: str
    planned_start: dt.date | None
    planned_finish: dt.date | None
    actual_finish: dt.date | None
    progress: float | None
    status: str  # the status id (completed, delayed, ...)
    status_text: str  # the status in the report's locale
    days_late: int | None


@dataclass(frozen=True)
class Milestone:
    """A phase's planned finish (the last planned finish of its tasks) and its forecast."""

    name: str
    tasks: int
    completed: int
    planned: dt.date | None
    forecast: dt.date | None
    variance: int | None  # forecast − planned, days
    cause: str  # empty when on plan


@dataclass(frozen=True)
class RiskLine:
    """A risk of one task, with its countermeasure and since when it is known."""

    id: str
    row: int | None
    task: str
    owner: str
    risk: str
    countermeasure: str
    since: dt.date | None
    how: str = ""  # closed risks: removed, or the task completed


@dataclass(frozen=True)
class Budget:
    """Budget use and earned value (PMBOK; ``rows``: the overall row first, then phases)."""

    budget: float
    spent: float | None
    use_rate: float | None  # spent / budget × 100
    rows: tuple[dict[str, Any], ...]  # key, PV, EV, AC, SV, CV, SPI, CPI
    spi: float | None
    cpi: float | None


@dataclass(frozen=True)
class Rate:
    """``n`` of ``of`` as a percentage (None when ``of`` is 0)."""

    n: int
    of: int

    @property
    def pct(self) -> float | None:
        return round(self.n / self.of * 100, 1) if self.of else None


@dataclass(frozen=True)
class GanttBar:
    label: str
    planned_start: dt.date | None
    planned_finish: dt.date | None
    actual_start: dt.date | None
    actual_end: dt.date | None  # the actual finish, or the as-of day while running
    late: bool
    done: bool


@dataclass(frozen=True)
class WeeklyReport:
    """Everything the weekly report and the 复盘 show (numbers as the summary computes them)."""

    locale: str
    tracker: str  # the tracker tab's name (never a path)
    as_of: dt.date
    period: Period
    next_period: Period
    rag: str  # green | amber | red
    rag_reason: str
    total: int
    completed: int
    completion_rate: float
    delayed: int
    finished_late: int
    avg_progress: float | None
    avg_deviation: float | None
    open_risk_count: int
    changes: int  # cells changed within the period
    done_this_week: tuple[TaskLine, ...]
    planned_next_week: tuple[TaskLine, ...]
    late_now: tuple[TaskLine, ...]
    milestones: tuple[Milestone, ...]
    risks_new: tuple[RiskLine, ...]
    risks_closed: tuple[RiskLine, ...]
    risks_open: tuple[RiskLine, ...]
    budget: Budget | None
    kpis: tuple[dict[str, Any], ...] | None  # metric, target, actual, rate
    delays_by: dict[str, tuple[dict[str, Any], ...]]  # dimension -> key, count, share
    lessons: tuple[str, ...]
    risk_in_advance: Rate
    countermeasure_success: Rate
    gantt: tuple[GanttBar, ...]
    gantt_hidden: int
    trend: tuple[tuple[dt.date, float, int], ...]  # day, completion rate, delayed
    burnup: tuple[tuple[dt.date, int, int, int | None], ...]  # day, scope, planned, done


def build(
    result: RunResult,
    history: ReportHistory,
    period: Period,
    *,
    locale: str,
    amber_deviation: float = AMBER_DEVIATION,
) -> WeeklyReport:
    """The report of ``period`` from a run as of its last day (or earlier) and its history.

    >>> # see tests/test_weekly.py for hand-derived examples of every part
    """
    table, derived, summary = result.table, result.derived, result.summary
    as_of = result.as_of
    d = table.data
    rows = table.rows
    ids = _ids(table)
    status = derived["status"]
    finish = _finish_days(result, history.states, ids)
    forecast = _forecast(d, status, finish, as_of)
    col = _columns(table, derived, finish)

    def line(r: int) -> TaskLine:
        s = str(col["status"][r])
        late: Any = col["days_late"][r]
        return TaskLine(
            id=ids[r],
            row=int(r),
            phase=_text(col["phase"][r]),
            channel=_text(col["channel"][r]),
            task=_text(col["task"][r]),
            owner=_text(col["owner"][r]),
            planned_start=_day(col["planned_start"][r]),
            planned_finish=_day(col["planned_finish"][r]),
            actual_finish=_day(col["finish"][r]) if s == "completed" else None,
            progress=_num(col["progress"][r]),
            status=s,
            status_text=text(locale, f"status.{s}"),
            days_late=None if pd.isna(late) else int(late),
        )

    done_rows = _rows_where((status == "completed") & _within(finish, period))
    nxt = period.next()
    planned_next = _rows_where(
        (status != "completed")
        & (_within(d["planned_finish"], nxt) | _within(d["planned_start"], nxt))
    )
    planned_next.sort(key=lambda r: (_sort_day(col["planned_finish"][r]), r))
    late_rows = [int(r) for r in summary.delayed["row"].tolist()]

    milestones = _milestones(d, status, forecast, derived, locale)
    risks_open = tuple(
        RiskLine(
            id=ids[int(x["row"])],
            row=int(x["row"]),
            task=_text(x["task"]),
            owner=_text(x["owner"]),
            risk=_text(x["risk"]),
            countermeasure=_text(x["countermeasure"]),
            since=_state_day(history.states.get(ids[int(x["row"])]), "risk_first_seen"),
        )
        for x in _records(summary.open_risks)
    )
    risks_new, risks_closed = _risk_changes(table, col, ids, history, period, done_rows, locale)
    budget = _budget(table, result)
    spi = budget.spi if budget else None
    rag, reason = _rag(summary.total, summary.status_counts["delayed"], summary.avg_deviation,
                       milestones, spi, amber_deviation, locale)  # fmt: skip
    ex = summary.extras
    retro = ex.retrospective if ex is not None else None
    delays_by: dict[str, tuple[dict[str, Any], ...]] = {}
    if retro is not None:
        for dim in ("cause", "phase", "channel", "owner"):
            if dim in retro.delays_by:
                frame = retro.delays_by[dim]
                delays_by[dim] = tuple(
                    {"key": str(k) or text(locale, "unnamed"), "count": int(n), "share": float(s)}
                    for k, n, s in zip(frame["key"], frame["delayed"], frame["share"], strict=True)
                )
    lessons = tuple(
        text(locale, "s.retro_top").format(
            share=f"{share:g}", dim=text(locale, f"dim.{dim}"), key=key or text(locale, "unnamed")
        )
        for dim, key, share in (retro.top if retro is not None else [])
    )
    kpis = None
    if ex is not None and ex.kpis is not None:
        kpis = _records(ex.kpis)
    trend: tuple[tuple[dt.date, float, int], ...] = ()
    if ex is not None:
        trend = tuple(
            (day, float(rate), int(n))
            for day, rate, n in zip(
                ex.trend["day"], ex.trend["completion_rate"], ex.trend["delayed"], strict=True
            )
        )
    bars, hidden = _gantt(col, rows, as_of)
    changes = sum(1 for c in history.changes if _iso(c.as_of) in period and c.field != "task")
    return WeeklyReport(
        locale=locale,
        tracker=result.snapshot.tracker.title,
        as_of=as_of,
        period=period,
        next_period=nxt,
        rag=rag,
        rag_reason=reason,
        total=summary.total,
        completed=summary.status_counts["completed"],
        completion_rate=summary.completion_rate,
        delayed=summary.status_counts["delayed"],
        finished_late=summary.finished_late,
        avg_progress=summary.avg_progress,
        avg_deviation=summary.avg_deviation,
        open_risk_count=len(summary.open_risks),
        changes=changes,
        done_this_week=tuple(line(r) for r in done_rows),
        planned_next_week=tuple(line(r) for r in planned_next),
        late_now=tuple(line(r) for r in late_rows),
        milestones=milestones,
        risks_new=risks_new,
        risks_closed=risks_closed,
        risks_open=risks_open,
        budget=budget,
        kpis=kpis,
        delays_by=delays_by,
        lessons=lessons,
        risk_in_advance=Rate(*retro.risk_in_advance) if retro else Rate(0, 0),
        countermeasure_success=Rate(*retro.countermeasure_success) if retro else Rate(0, 0),
        gantt=bars,
        gantt_hidden=hidden,
        trend=trend,
        burnup=_burnup(d, status, finish, as_of, period),
    )


# ---------------------------------------------------------------------------- parts


def _ids(table: Any) -> dict[int, str]:
    """The task ID of every sheet row (``R<row>`` where the run gave none)."""
    ids = table.ids.reindex(table.rows) if len(table.ids) else pd.Series(None, index=table.rows)
    return {
        int(r): (str(v) if isinstance(v, str) and v else f"R{r}")
        for r, v in zip(table.rows, ids.tolist(), strict=True)
    }


def _finish_days(
    result: RunResult, states: Mapping[str, TaskState], ids: dict[int, str]
) -> pd.Series:
    """When each task was finished: its actual finish, else the day history first saw it done
    (a completed task without an actual finish date), else NaT."""
    af = result.table.data["actual_finish"]
    done_day = pd.Series(
        [_state_day(states.get(ids[int(r)]), "done_day") for r in af.index],
        index=af.index,
        dtype=object,
    )
    return af.where(af.notna(), pd.to_datetime(done_day, errors="coerce"))


def _forecast(d: pd.DataFrame, status: pd.Series, finish: pd.Series, as_of: dt.date) -> pd.Series:
    """Each task's forecast finish (calendar days): a completed task's finish (else its planned
    finish); an open one's remaining progress at its planned pace from ``as_of`` — planned days
    × (100 − progress) / 100, rounded up — never before its planned finish; NaT without a
    planned finish."""
    ps, pf = d["planned_start"], d["planned_finish"]
    today = pd.Timestamp(as_of)
    span = (pf - ps).dt.days + 1
    progress = d["progress"].clip(0, 100).fillna(0.0)
    remaining = (span * (100 - progress) / 100).apply(
        lambda v: math.ceil(v - 1e-9) if pd.notna(v) else 0
    )
    open_end = today + pd.to_timedelta((remaining - 1).clip(lower=0), unit="D")
    open_forecast = pd.concat([pf, open_end.where(span.notna(), today)], axis=1).max(axis=1)
    done = status == "completed"
    out = open_forecast.where(~done, finish.where(finish.notna(), pf))
    result: pd.Series = out.where(pf.notna())
    return result


def _milestones(
    d: pd.DataFrame,
    status: pd.Series,
    forecast: pd.Series,
    derived: pd.DataFrame,
    locale: str,
) -> tuple[Milestone, ...]:
    out = []
    phase = d["phase"].fillna("").astype(str)
    for name, idx in phase.groupby(phase, sort=False).groups.items():
        planned = d.loc[idx, "planned_finish"].max()
        fc = forecast.loc[idx]
        predicted = fc.max()
        variance = (
            int((predicted - planned).days) if pd.notna(planned) and pd.notna(predicted) else None
        )
        cause = ""
        if variance is not None and variance > 0:
            # the task the forecast waits for: the latest forecast finish
            slip = fc - d.loc[idx, "planned_finish"]
            r: Any = fc.idxmax()
            given = _text(d.loc[r, "cause"]) if "cause" in d.columns else ""
            risk = _text(d.loc[r, "risk"])
            late = int(slip.loc[r].days) if pd.notna(slip.loc[r]) else variance
            cause = word(locale, "cause.task", task=_text(d.loc[r, "task"]), row=r, days=late)
            extra = given or risk
            if extra:
                cause += f": {extra}"
        out.append(
            Milestone(
                name=str(name) or text(locale, "unnamed"),
                tasks=len(idx),
                completed=int((status.loc[idx] == "completed").sum()),
                planned=_day(planned),
                forecast=_day(predicted),
                variance=variance,
                cause=cause,
            )
        )
    out.sort(key=lambda m: (m.planned or dt.date.max, m.name))
    return tuple(out)


def _risk_changes(
    table: Any,
    col: dict[str, dict[int, Any]],
    ids: dict[int, str],
    history: ReportHistory,
    period: Period,
    done_rows: Sequence[int],
    locale: str,
) -> tuple[tuple[RiskLine, ...], tuple[RiskLine, ...]]:
    """Risks first recorded within the period (new), and risks closed within it: the risk cell
    emptied, or the task holding it completed."""
    by_id = {v: r for r, v in ids.items()}
    new = []
    for r in _rows_where(table.present["risk"]):
        seen = _state_day(history.states.get(ids[r]), "risk_first_seen")
        if seen in period:
            new.append(
                RiskLine(
                    id=ids[r],
                    row=r,
                    task=_text(col["task"][r]),
                    owner=_text(col["owner"][r]),
                    risk=_text(col["risk"][r]),
                    countermeasure=_text(col["countermeasure"][r]),
                    since=seen,
                )
            )
    closed: dict[str, RiskLine] = {}
    for c in history.changes:
        if c.field != "risk" or _iso(c.as_of) not in period or not c.old or c.new:
            continue
        state = history.states.get(c.task_id)
        values = state.values if state else {}
        closed[c.task_id] = RiskLine(
            id=c.task_id,
            row=by_id.get(c.task_id),
            task=values.get("task", ""),
            owner=values.get("owner", ""),
            risk=c.old,
            countermeasure=values.get("countermeasure", ""),
            since=_state_day(state, "risk_first_seen"),
            how=word(locale, "r.cleared"),
        )
    for r in done_rows:
        if col["risk_present"][r] and ids[r] not in closed:
            closed[ids[r]] = RiskLine(
                id=ids[r],
                row=int(r),
                task=_text(col["task"][r]),
                owner=_text(col["owner"][r]),
                risk=_text(col["risk"][r]),
                countermeasure=_text(col["countermeasure"][r]),
                since=_state_day(history.states.get(ids[r]), "risk_first_seen"),
                how=word(locale, "r.done"),
            )
    return tuple(new), tuple(closed.values())


def _budget(table: Any, result: RunResult) -> Budget | None:
    ex = result.summary.extras
    ev = ex.earned_value if ex is not None else None
    if ev is None:
        return None
    d = table.data
    budget = float(d["budget"].fillna(0.0).sum())
    spent = float(d["spent"].fillna(0.0).sum()) if "spent" in d.columns else None
    has_spent = "spent" in d.columns and bool(table.present["spent"].any())
    rows = _records(ev)
    overall = rows[0]
    return Budget(
        budget=budget,
        spent=spent if has_spent else None,
        use_rate=round(spent / budget * 100, 1)
        if has_spent and spent is not None and budget
        else None,
        rows=rows,
        spi=overall.get("SPI"),
        cpi=overall.get("CPI"),
    )


def _rag(
    total: int,
    delayed: int,
    avg_deviation: float | None,
    milestones: Sequence[Milestone],
    spi: float | None,
    amber_deviation: float,
    locale: str,
) -> tuple[str, str]:
    """Red, amber or green with its reasons (the red ones when red):

    - red: delayed tasks ≥ RED_DELAYED_SHARE % of all, a milestone forecast ≥ RED_SLIP_DAYS
      days late, or SPI < RED_SPI;
    - amber: any task delayed, the average deviation more than ``amber_deviation`` points
      behind plan, a milestone forecast late, or SPI < AMBER_SPI;
    - green otherwise.
    """
    share = round(delayed / total * 100, 1) if total else 0.0
    slips = sorted(
        (m for m in milestones if m.variance is not None and m.variance > 0),
        key=lambda m: -(m.variance or 0),
    )
    red = []
    if total and share >= RED_DELAYED_SHARE:
        red.append(
            word(
                locale,
                "why.delayed_share",
                n=delayed,
                share=f"{share:g}",
                limit=f"{RED_DELAYED_SHARE:g}",
            )
        )
    red += [
        word(locale, "why.slip_red", milestone=m.name, days=m.variance, limit=RED_SLIP_DAYS)
        for m in slips
        if (m.variance or 0) >= RED_SLIP_DAYS
    ][:2]
    if spi is not None and spi < RED_SPI:
        red.append(word(locale, "why.spi_red", spi=f"{spi:.2f}", limit=RED_SPI))
    if red:
        return "red", _join(red, locale)
    amber = []
    if delayed:
        amber.append(word(locale, "why.delayed", n=delayed))
    if avg_deviation is not None and avg_deviation < -amber_deviation:
        amber.append(
            word(locale, "why.deviation", dev=f"{avg_deviation:g}", limit=f"{amber_deviation:g}")
        )
    amber += [word(locale, "why.slip", milestone=m.name, days=m.variance) for m in slips][:2]
    if spi is not None and spi < AMBER_SPI:
        amber.append(word(locale, "why.spi", spi=f"{spi:.2f}", limit=AMBER_SPI))
    if amber:
        return "amber", _join(amber, locale)
    return "green", word(locale, "why.green")


def _join(parts: list[str], locale: str) -> str:
    return ("；" if locale == "zh-CN" else "; ").join(parts)


def _gantt(
    col: dict[str, dict[int, Any]], rows: pd.Index, as_of: dt.date
) -> tuple[tuple[GanttBar, ...], int]:
    """One bar per task with planned dates, by planned start (then row): the first
    GANTT_LIMIT, and how many more there are."""
    ps, pf = col["planned_start"], col["planned_finish"]
    dated = [int(r) for r in rows if _day(ps[r]) is not None or _day(pf[r]) is not None]
    order = sorted(dated, key=lambda r: (_sort_day(ps[r]), r))
    bars = []
    for r in order[:GANTT_LIMIT]:
        status = col["status"][r]
        done = status == "completed"
        a_start = _day(col["actual_start"][r])
        a_end = _day(col["finish"][r]) if done else (as_of if a_start is not None else None)
        late_days = col["days_late"][r]
        late = status == "delayed" or (pd.notna(late_days) and late_days > 0)
        label = f"{r} {_text(col['task'][r])}"
        bars.append(
            GanttBar(
                label=label if len(label) <= 22 else label[:21] + "…",
                planned_start=_day(ps[r]) or _day(pf[r]),
                planned_finish=_day(pf[r]) or _day(ps[r]),
                actual_start=a_start,
                actual_end=a_end,
                late=bool(late),
                done=bool(done),
            )
        )
    return tuple(bars), max(len(order) - GANTT_LIMIT, 0)


def _burnup(
    d: pd.DataFrame, status: pd.Series, finish: pd.Series, as_of: dt.date, period: Period
) -> tuple[tuple[dt.date, int, int, int | None], ...]:
    """Day by day from the first planned start to the last planned finish (or the period's
    end): scope (tasks), tasks planned to be finished, tasks finished (up to ``as_of``)."""
    starts = d["planned_start"].dropna()
    ends = d["planned_finish"].dropna()
    if not len(starts) and not len(ends):
        return ()
    first = min([x.date() for x in (starts.min(), ends.min()) if pd.notna(x)])
    last = max(
        [x.date() for x in (ends.max(), starts.max()) if pd.notna(x)] + [period.until, as_of]
    )
    days = pd.date_range(first, last, freq="D")
    pf = ends.to_numpy("datetime64[D]")
    done = (
        finish[status == "completed"].fillna(d["planned_finish"]).dropna().to_numpy("datetime64[D]")
    )
    grid = days.to_numpy("datetime64[D]")
    planned = np.searchsorted(np.sort(pf), grid, side="right")
    finished = np.searchsorted(np.sort(done), grid, side="right")
    total = len(d)
    return tuple(
        (day.date(), total, int(p), int(f) if day.date() <= as_of else None)
        for day, p, f in zip(days, planned, finished, strict=True)
    )


# ---------------------------------------------------------------------------- helpers


def _columns(table: Any, derived: pd.DataFrame, finish: pd.Series) -> dict[str, dict[int, Any]]:
    """The columns the report's lists read, as row -> value dicts (one lookup per cell
    instead of a pandas ``.loc`` each)."""
    d = table.data
    series = {
        name: d[name]
        for name in ("phase", "channel", "task", "owner", "planned_start", "planned_finish",
                     "actual_start", "progress", "risk", "countermeasure")
    }  # fmt: skip
    series |= {
        "status": derived["status"],
        "days_late": derived["days_late"],
        "finish": finish,
        "risk_present": table.present["risk"],
    }
    keys = [int(r) for r in table.rows]
    return {name: dict(zip(keys, s.tolist(), strict=True)) for name, s in series.items()}


def _rows_where(mask: pd.Series) -> list[int]:
    """The sheet rows where ``mask`` holds, in order."""
    return [int(r) for r in mask.index[mask.fillna(False).to_numpy(dtype=bool)]]


def _within(days: pd.Series, period: Period) -> pd.Series:
    """Where a date column falls in ``period`` (False where empty)."""
    since, until = pd.Timestamp(period.since), pd.Timestamp(period.until)
    return (days >= since) & (days <= until)


def _records(frame: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    """A frame's rows as plain dicts (NaN as None)."""
    return tuple(
        {str(k): (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        for rec in frame.to_dict("records")
    )


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    return str(v)


def _num(v: Any) -> float | None:
    if v is None or v is pd.NA:
        return None
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def _day(v: Any) -> dt.date | None:
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.date()
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return None


def _sort_day(v: Any) -> dt.date:
    return _day(v) or dt.date.max


def _iso(text_: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text_[:10]) if text_ else None
    except ValueError:
        return None


def _state_day(state: TaskState | None, name: str) -> dt.date | None:
    return _iso(getattr(state, name, None)) if state is not None else None

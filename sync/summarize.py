"""Summarize: the KPIs, breakdowns and lists the whole team reads (a plain data object)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .collector import paused
from .parse import Table, parse_number_value
from .rules import SEVERITIES, STATUS_IDS, InactiveRule
from .text import fold


@dataclass(frozen=True)
class Summary:
    """Everything the summary tab and ``--json`` report, computed from one run."""

    as_of: dt.date
    total: int
    status_counts: dict[str, int]
    completion_rate: float
    avg_progress: float | None
    avg_deviation: float | None
    by_phase: pd.DataFrame
    by_channel: pd.DataFrame
    by_owner: pd.DataFrame
    delayed: pd.DataFrame
    open_risks: pd.DataFrame
    risks_without_countermeasure: pd.DataFrame
    findings_by_rule: pd.DataFrame
    findings_by_severity: dict[str, int]
    extras: Extras | None = None
    #: rules that did not run, with the columns they need that the sheet lacks
    inactive_rules: tuple[InactiveRule, ...] = ()
    #: sheet rows that repeat the header (skipped, not counted as tasks)
    repeated_header_rows: tuple[int, ...] = ()
    #: 逾期完成: completed tasks whose actual finish came after the planned finish (延期, late
    #: now, is ``status_counts["delayed"]``)
    finished_late: int = 0


#: The KPIs (summary tab and ``--json``), each with its formula; README's KPI table lists the
#: same names (tests/test_docs.py checks).
KPIS: dict[str, str] = {
    "total": "tasks (rows with a task; repeated header rows are not tasks)",
    "completion_rate": "completed / total × 100",
    "avg_progress": "mean of progress (clamped to 0–100, empty = 0)",
    "avg_deviation": "mean of deviation (clamped to ±100; completed = 0, on hold excluded)",
    "delayed": "status delayed: past the planned finish, or past the planned start with nothing started, and not complete (延期, late now)",
    "finished_late": "completed with the actual finish after the planned finish (逾期完成)",
    "late_or_finished_late": "delayed + finished_late (what the retrospective counts)",
}


BREAKDOWN_COLUMNS = [
    "key",
    "tasks",
    "completed",
    "delayed",
    "avg_progress",
    "weighted_progress",
    "budget_weighted_progress",
    "avg_deviation",
]


@paused
def summarize(
    table: Table,
    derived: pd.DataFrame,
    findings: pd.DataFrame,
    as_of: dt.date,
    *,
    inactive_rules: Sequence[InactiveRule] = (),
    weights: pd.Series | None = None,
) -> Summary:
    """Roll the table up. Status counts use the computed status (what the calendar says);
    ``inactive_rules`` (:meth:`RuleSet.for_sheet`) are listed as they are.

    Breakdowns give the plain average progress and ``weighted_progress``: progress weighted by
    each task's planned working days (``weights``, by the table's index; without them the
    planned calendar days), so a 30-day task weighs 30 times a 1-day one; tasks without both
    planned dates weigh nothing (empty when none in a group has a weight). With a budget
    column, ``budget_weighted_progress`` weighs each task by its budget (empty where a group has
    no budget, and everywhere without the column)."""
    total = len(table)
    # the status column is compared often: as plain objects, once (a string column compares
    # each cell as a Python call, with a missing-value pass every time)
    status = derived["status"].to_numpy(dtype=object)
    codes, seen = pd.factorize(status)
    counts = dict(zip(seen, np.bincount(codes[codes >= 0], minlength=len(seen)), strict=True))
    status_counts = {s: int(counts.get(s, 0)) for s in STATUS_IDS}
    is_completed, is_delayed = status == "completed", status == "delayed"
    completion = round(status_counts["completed"] / total * 100, 1) if total else 0.0
    # for averages a progress beyond 0–100 (a typo the range rule reports) counts as its bound
    progress = table.data["progress"].clip(0.0, 100.0).fillna(0.0)
    frame = pd.DataFrame(
        {
            "completed": is_completed,
            "delayed": is_delayed,
            "progress": progress,
            "deviation": derived["deviation"].clip(-100.0, 100.0),
        },
        index=table.rows,
    )
    if weights is None:
        span = table.data["planned_finish"] - table.data["planned_start"]
        weights = span.dt.days + 1
    w = pd.Series(weights, index=table.rows, dtype=float).fillna(0.0).clip(lower=0.0)
    frame["w"] = w
    frame["wp"] = w * progress
    has_budget = "budget" in table.data.columns and bool(table.present["budget"].any())
    budget = (
        table.data["budget"].astype(float).fillna(0.0).clip(lower=0.0)
        if has_budget
        else pd.Series(0.0, index=table.rows)
    )
    frame["b"] = budget.to_numpy()
    frame["bp"] = budget.to_numpy() * progress.to_numpy()

    def breakdown(col: str) -> pd.DataFrame:
        key = table.data[col].fillna("").astype(str)
        g = frame.groupby(key.to_numpy(), sort=False)
        out = pd.DataFrame(
            {
                "tasks": g.size(),
                "completed": g["completed"].sum(),
                "delayed": g["delayed"].sum(),
                "avg_progress": g["progress"].mean().round(1),
                "weighted_progress": (g["wp"].sum() / g["w"].sum().where(lambda v: v > 0)).round(1),
                "budget_weighted_progress": (
                    g["bp"].sum() / g["b"].sum().where(lambda v: v > 0)
                ).round(1),
                "avg_deviation": g["deviation"].mean().round(1),
            }
        )
        out.index.name = "key"
        out = out.reset_index()
        return out[BREAKDOWN_COLUMNS].astype({"tasks": int, "completed": int, "delayed": int})

    d = table.data
    delayed_mask = pd.Series(is_delayed, index=derived.index)
    delayed = pd.DataFrame(
        {
            "row": table.rows[delayed_mask.to_numpy()],
            "phase": d.loc[delayed_mask, "phase"].to_numpy(),
            "channel": d.loc[delayed_mask, "channel"].to_numpy(),
            "task": d.loc[delayed_mask, "task"].to_numpy(),
            "owner": d.loc[delayed_mask, "owner"].to_numpy(),
            "planned_finish": d.loc[delayed_mask, "planned_finish"].dt.date.to_numpy(),
            "days_late": derived.loc[delayed_mask, "days_late"].to_numpy(),
            "days_late_calendar": derived.loc[
                delayed_mask,
                "days_late_calendar" if "days_late_calendar" in derived else "days_late",
            ].to_numpy(),
            "progress": progress[delayed_mask].to_numpy(),
        }
    ).sort_values(["days_late", "row"], ascending=[False, True], kind="stable", na_position="last")

    has_risk = table.present["risk"]
    open_mask = has_risk & ~is_completed
    risks = pd.DataFrame(
        {
            "row": table.rows[open_mask.to_numpy()],
            "task": d.loc[open_mask, "task"].to_numpy(),
            "owner": d.loc[open_mask, "owner"].to_numpy(),
            "risk": d.loc[open_mask, "risk"].to_numpy(),
            "countermeasure": d.loc[open_mask, "countermeasure"].to_numpy(),
        }
    )
    no_cm = risks[risks["countermeasure"].isna()].reset_index(drop=True)

    by_rule = _by_rule(findings)
    severity, n = by_rule["severity"].to_numpy(dtype=object), by_rule["count"].to_numpy()

    return Summary(
        as_of=as_of,
        total=total,
        status_counts=status_counts,
        completion_rate=completion,
        avg_progress=_mean(progress),
        avg_deviation=_mean(derived["deviation"].clip(-100.0, 100.0)),
        by_phase=breakdown("phase"),
        by_channel=breakdown("channel"),
        by_owner=breakdown("owner"),
        delayed=delayed.reset_index(drop=True),
        open_risks=risks,
        risks_without_countermeasure=no_cm,
        findings_by_rule=by_rule,
        findings_by_severity={s: int(n[severity == s].sum()) for s in SEVERITIES},
        inactive_rules=tuple(inactive_rules),
        repeated_header_rows=table.repeated_header_rows,
        finished_late=int((is_completed & (derived["days_late"].fillna(0) > 0).to_numpy()).sum()),
    )


def _by_rule(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings by (rule, severity): count and the first message, errors first, then by count.

    A rule reports at one severity, so the groups are found from the rule alone (250k findings
    at 100k rows: a two-key groupby was a third of the stage); the pairs only when a rule did
    not."""
    if not len(findings):
        return pd.DataFrame({"rule": [], "severity": [], "count": [], "example": []})
    severity = findings["severity"].to_numpy(dtype=object)
    codes, _ = pd.factorize(findings["rule"].to_numpy(dtype=object))
    first = _firsts(codes)
    if not (severity == severity[first][codes]).all():
        sev_codes, sevs = pd.factorize(severity)
        codes, _ = pd.factorize(codes * len(sevs) + sev_codes)
        first = _firsts(codes)
    by_rule = pd.DataFrame(
        {
            "rule": findings["rule"].take(first).reset_index(drop=True),
            "severity": findings["severity"].take(first).reset_index(drop=True),
            "count": np.bincount(codes),
            "example": findings["message"].take(first).reset_index(drop=True),
        }
    )
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return by_rule.sort_values(
        ["severity", "count"], key=lambda s: s.map(order) if s.name == "severity" else -s
    ).reset_index(drop=True)


def _firsts(codes: np.ndarray) -> np.ndarray:
    """Where each code first occurs, for codes numbered in order of appearance (factorize)."""
    return np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])


def _mean(s: pd.Series) -> float | None:
    v = s.dropna()
    return round(float(np.mean(v)), 1) if len(v) else None


# ---------------------------------------------------------------------------- with history


@dataclass(frozen=True)
class Retrospective:
    """The seed's step 6: where delays come from and how well risks were handled."""

    delays_by: dict[str, pd.DataFrame]  # dimension -> key, delayed, share (%)
    top: list[
        tuple[str, str, float]
    ]  # (dimension, key, share %) of the largest group per dimension
    risk_in_advance: tuple[
        int, int
    ]  # delayed tasks whose risk was recorded before their planned finish, delayed tasks
    countermeasure_success: tuple[
        int, int
    ]  # finished by the planned finish, tasks with risk + countermeasure decided


@dataclass(frozen=True)
class Extras:
    """Summary parts that need history, budgets or a KPI tab (each may be empty)."""

    trend: pd.DataFrame  # day, completion_rate, delayed, avg_deviation
    earned_value: pd.DataFrame | None  # key ("" = overall), PV, EV, AC, SV, CV, SPI, CPI
    retrospective: Retrospective
    kpis: pd.DataFrame | None  # metric, target, actual, rate


def extras(
    table: Table,
    derived: pd.DataFrame,
    summary: Summary,
    trend: tuple[Any, ...] = (),
    tabs: dict[str, Any] | None = None,
) -> Extras:
    """Trend (history + today), earned value (when budgets exist), retrospective, KPI tab."""
    points = [
        (p.day, p.completion_rate, p.delayed, p.avg_deviation)
        for p in trend
        if p.day < summary.as_of
    ]
    points.append(
        (
            summary.as_of,
            summary.completion_rate,
            summary.status_counts["delayed"],
            summary.avg_deviation,
        )
    )
    trend_frame = pd.DataFrame(
        points, columns=["day", "completion_rate", "delayed", "avg_deviation"]
    ).tail(30)
    return Extras(
        trend=trend_frame.reset_index(drop=True),
        earned_value=earned_value(table, derived),
        retrospective=retrospective(table, derived),
        kpis=kpi_table(tabs or {}),
    )


def earned_value(table: Table, derived: pd.DataFrame) -> pd.DataFrame | None:
    """PMBOK earned value: PV = budget × planned %, EV = budget × actual %, AC = spent;
    SV = EV − PV, CV = EV − AC, SPI = EV / PV, CPI = EV / AC — overall and by phase."""
    d = table.data
    if "budget" not in d.columns or not table.present["budget"].any():
        return None
    budget = d["budget"].fillna(0.0)
    frame = pd.DataFrame(
        {
            "phase": d["phase"].fillna(""),
            "PV": budget * derived["planned_progress"].fillna(0.0) / 100,
            "EV": budget * d["progress"].fillna(0.0).clip(0, 100) / 100,
            "AC": d["spent"].fillna(0.0) if "spent" in d.columns else 0.0,
        }
    )
    by_phase = frame.groupby("phase", sort=False)[["PV", "EV", "AC"]].sum()
    total = frame[["PV", "EV", "AC"]].sum().to_frame().T
    total.index = pd.Index([""])
    out = pd.concat([total, by_phase])
    out["SV"] = out["EV"] - out["PV"]
    out["CV"] = out["EV"] - out["AC"]
    out["SPI"] = (out["EV"] / out["PV"]).where(out["PV"] > 0)
    out["CPI"] = (out["EV"] / out["AC"]).where(out["AC"] > 0)
    out.index.name = "key"
    return out.reset_index().round(
        {"PV": 0, "EV": 0, "AC": 0, "SV": 0, "CV": 0, "SPI": 2, "CPI": 2}
    )


RETRO_DIMENSIONS = ("phase", "channel", "owner", "cause")


def retrospective(table: Table, derived: pd.DataFrame) -> Retrospective:
    d = table.data
    delayed = (derived["status"] == "delayed") | (derived["days_late"].fillna(0) > 0)
    n_delayed = int(delayed.sum())
    by: dict[str, pd.DataFrame] = {}
    top: list[tuple[str, str, float]] = []
    for dim in RETRO_DIMENSIONS:
        if dim not in d.columns or not table.present[dim][delayed].any():
            continue
        counts = d.loc[delayed, dim].fillna("").astype(str).value_counts()
        frame = pd.DataFrame({"key": counts.index, "delayed": counts.to_numpy()})
        frame["share"] = (frame["delayed"] / max(n_delayed, 1) * 100).round(1)
        by[dim] = frame
        if len(frame):
            top.append((dim, str(frame.iloc[0]["key"]), float(frame.iloc[0]["share"])))
    risk_seen = (
        d["risk_first_seen"] if "risk_first_seen" in d.columns else pd.Series(pd.NaT, index=d.index)
    )
    in_advance = delayed & risk_seen.notna() & (risk_seen <= d["planned_finish"])
    has_both = table.present["risk"] & table.present["countermeasure"]
    finish = d["actual_finish"]
    done_on_time = (derived["status"] == "completed") & (
        finish.isna() | (finish <= d["planned_finish"])
    )
    decided = has_both & ((derived["status"] == "completed") | (derived["days_late"].fillna(0) > 0))
    return Retrospective(
        delays_by=by,
        top=top,
        risk_in_advance=(int(in_advance.sum()), n_delayed),
        countermeasure_success=(int((decided & done_on_time).sum()), int(decided.sum())),
    )


_KPI_HEADERS = {
    "metric": ("指标", "kpi", "metric", "指标名称", "目标项"),
    "target": ("目标", "目标值", "target"),
    "actual": ("实际", "实际值", "达成", "actual"),
}


def kpi_table(tabs: dict[str, Any]) -> pd.DataFrame | None:
    """Target vs actual from a tab with metric / target / actual columns (e.g. a KPI tab)."""
    for grid in tabs.values():
        for r, row in enumerate(grid.rows[:10]):
            found = {}
            for c, v in enumerate(row):
                key = fold(v, spaces=False) if v is not None else ""
                for name, words in _KPI_HEADERS.items():
                    if key in words and name not in found:
                        found[name] = c
            if len(found) == 3:
                out = []
                for body in grid.rows[r + 1 :]:
                    cells = {n: (body[c] if c < len(body) else None) for n, c in found.items()}
                    metric = cells["metric"]
                    if metric in (None, ""):
                        continue
                    target, actual = (
                        parse_number_value(cells["target"]),
                        parse_number_value(cells["actual"]),
                    )
                    rate = (
                        round(actual / target * 100, 1) if target and actual is not None else None
                    )
                    out.append((str(metric), target, actual, rate))
                return pd.DataFrame(out, columns=["metric", "target", "actual", "rate"])
    return None

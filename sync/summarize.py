"""Summarize: the KPIs, breakdowns and lists the whole team reads (a plain data object)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .parse import Table
from .rules import SEVERITIES, STATUS_IDS


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


BREAKDOWN_COLUMNS = ["key", "tasks", "completed", "delayed", "avg_progress", "avg_deviation"]


def summarize(
    table: Table, derived: pd.DataFrame, findings: pd.DataFrame, as_of: dt.date
) -> Summary:
    """Roll the table up. Status counts use the computed status (what the calendar says)."""
    total = len(table)
    counts = derived["status"].value_counts()
    status_counts = {s: int(counts.get(s, 0)) for s in STATUS_IDS}
    completion = round(status_counts["completed"] / total * 100, 1) if total else 0.0
    progress = table.data["progress"].fillna(0.0)
    frame = pd.DataFrame(
        {
            "completed": derived["status"] == "completed",
            "delayed": derived["status"] == "delayed",
            "progress": progress,
            "deviation": derived["deviation"],
        },
        index=table.rows,
    )

    def breakdown(col: str) -> pd.DataFrame:
        key = table.data[col].fillna("").astype(str)
        g = frame.groupby(key.to_numpy(), sort=False)
        out = pd.DataFrame(
            {
                "tasks": g.size(),
                "completed": g["completed"].sum(),
                "delayed": g["delayed"].sum(),
                "avg_progress": g["progress"].mean().round(1),
                "avg_deviation": g["deviation"].mean().round(1),
            }
        )
        out.index.name = "key"
        out = out.reset_index()
        return out[BREAKDOWN_COLUMNS].astype({"tasks": int, "completed": int, "delayed": int})

    d = table.data
    delayed_mask = derived["status"] == "delayed"
    delayed = pd.DataFrame(
        {
            "row": table.rows[delayed_mask.to_numpy()],
            "phase": d.loc[delayed_mask, "phase"].to_numpy(),
            "channel": d.loc[delayed_mask, "channel"].to_numpy(),
            "task": d.loc[delayed_mask, "task"].to_numpy(),
            "owner": d.loc[delayed_mask, "owner"].to_numpy(),
            "planned_finish": d.loc[delayed_mask, "planned_finish"].dt.date.to_numpy(),
            "days_late": derived.loc[delayed_mask, "days_late"].to_numpy(),
            "progress": progress[delayed_mask].to_numpy(),
        }
    ).sort_values(["days_late", "row"], ascending=[False, True], kind="stable", na_position="last")

    has_risk = table.present["risk"]
    open_mask = has_risk & (derived["status"] != "completed")
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

    if len(findings):
        g = findings.groupby(["rule", "severity"], sort=False)
        by_rule = g.agg(count=("row", "size"), example=("message", "first")).reset_index()
        sev_order = {s: i for i, s in enumerate(SEVERITIES)}
        by_rule = by_rule.sort_values(
            ["severity", "count"], key=lambda s: s.map(sev_order) if s.name == "severity" else -s
        ).reset_index(drop=True)
    else:
        by_rule = pd.DataFrame({"rule": [], "severity": [], "count": [], "example": []})
    sev_counts = findings["severity"].value_counts()

    return Summary(
        as_of=as_of,
        total=total,
        status_counts=status_counts,
        completion_rate=completion,
        avg_progress=_mean(progress),
        avg_deviation=_mean(derived["deviation"]),
        by_phase=breakdown("phase"),
        by_channel=breakdown("channel"),
        by_owner=breakdown("owner"),
        delayed=delayed.reset_index(drop=True),
        open_risks=risks,
        risks_without_countermeasure=no_cm,
        findings_by_rule=by_rule,
        findings_by_severity={s: int(sev_counts.get(s, 0)) for s in SEVERITIES},
    )


def _mean(s: pd.Series) -> float | None:
    v = s.dropna()
    return round(float(np.mean(v)), 1) if len(v) else None

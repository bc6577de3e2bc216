"""Render: the cells, conditional formats and summary tab the job wants to exist."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .cells import RawValue, col_letter
from .i18n import GENERATED_KEYS, text
from .model import CFRule, ChartSpec, SummaryTab, nones
from .parse import Table
from .rules import STATUS_IDS
from .style import FILL_AMBER, FILL_DELAYED, FILL_FINDING, FILL_ON_HOLD, FONT_FINDING
from .summarize import Summary

META_VERSION = 1
#: The fields that identify a task, used to check that a row still holds the same task.
KEY_FIELDS = ("phase", "channel", "task", "description")
#: Conditional formats cover rows in blocks of this size, so a growing sheet keeps its rules.
CF_ROW_BLOCK = 500
LIST_LIMIT = 500


@dataclass(frozen=True)
class Desired:
    """The full content of everything the job owns, before diffing."""

    tracker_title: str
    columns: dict[int, pd.Series]  # 0-based col -> values by 0-based row (header row included)
    header_cells: tuple[tuple[int, int], ...]
    #: generated column key -> 0-based column; ``new_columns`` lists those that do not exist yet
    positions: dict[str, int]
    new_columns: tuple[str, ...]
    key_columns: tuple[int, ...]
    conditional_formats: tuple[CFRule, ...]
    summary: SummaryTab
    meta: dict[str, Any]


def generated_positions(table: Table) -> tuple[dict[str, int], tuple[str, ...]]:
    """Where each generated column is: existing ones stay put (people may have added columns
    beside them); missing ones go right of every human header, used cell and generated column."""
    existing = table.generated_cols
    start = max([*table.human_cols, table.last_used_col, *existing.values()]) + 1
    positions: dict[str, int] = {}
    new: list[str] = []
    for key in GENERATED_KEYS:
        if key in existing:
            positions[key] = existing[key]
        else:
            positions[key] = start
            start += 1
            new.append(key)
    return positions, tuple(new)


def issues_text(table: Table, findings: pd.DataFrame, locale: str) -> pd.Series:
    """Per task row: ``[header] message`` for each finding, joined by line breaks.

    Warnings and infos are prefixed with their severity; errors are not.
    """
    if not len(findings):
        return pd.Series(dtype=object)
    prefix = {
        sev: ("" if sev == "error" else f"({text(locale, 'severity.' + sev)}) ")
        for sev in ("error", "warning", "info")
    }
    labels = (
        findings["severity"].map(prefix)
        + "["
        + findings["column"].astype(str)
        + "] "
        + findings["message"].astype(str)
    )
    joined: dict[int, str] = {}
    for row, label in zip(findings["row"].tolist(), labels.tolist(), strict=True):
        joined[row] = f"{joined[row]}\n{label}" if row in joined else label
    return pd.Series(joined, dtype=object)


def render(
    table: Table,
    derived: pd.DataFrame,
    findings: pd.DataFrame,
    summary: Summary,
    *,
    tracker_title: str,
    summary_title: str,
    target: str,
    locale: str,
    now: dt.datetime,
    row_capacity: int | None = None,
    reasons: pd.Series | None = None,
) -> Desired:
    """Everything the job owns, in full. ``row_capacity`` caps formats at the grid's size;
    ``reasons`` (by sheet row, :func:`sync.explain.reasons`) lead the ⚙ 问题 cell of each red
    or amber row, above its findings."""
    pos, new = generated_positions(table)
    hr = table.header_row
    last_row = max(table.n_grid_rows - 1, int(table.rows.max()) - 1 if len(table) else hr)
    rows0 = pd.RangeIndex(hr + 1, last_row + 1)
    task_rows0 = table.rows - 1

    def column(values: pd.Series) -> pd.Series:
        out = nones(rows0)
        v = values.astype(object).where(values.notna(), None)
        out.loc[task_rows0] = v.to_numpy()
        return out

    status_label = derived["status"].map({s: text(locale, f"status.{s}") for s in STATUS_IDS})
    health_label = derived["health"].map(
        {h: text(locale, f"health.{h}") for h in ("green", "amber", "red")}
    )
    days = derived["days_late"].astype(object).where(derived["days_late"].notna(), None)
    issues = issues_text(table, findings, locale).reindex(table.rows)
    if reasons is not None and len(reasons):
        why = reasons.reindex(table.rows)
        issues = why.where(issues.isna(), why + "\n" + issues).where(why.notna(), issues)
    values = {
        "gen_status": status_label,
        "gen_planned": _floats(derived["planned_progress"]),
        "gen_deviation": _floats(derived["deviation"]),
        "gen_days_late": days,
        "gen_health": health_label,
        "gen_issues": issues,
        "gen_baseline": _baseline_variance(table),
        "gen_id": table.ids.reindex(table.rows),
    }
    columns: dict[int, pd.Series] = {}
    headers: list[tuple[int, int]] = []
    for key, c in pos.items():
        col = column(values[key])
        header = pd.Series([text(locale, key)], index=pd.RangeIndex(hr, hr + 1), dtype=object)
        columns[c] = pd.concat([header, col])
        headers.append((hr, c))
    cf = conditional_formats(table, pos, locale, last_row, row_capacity)
    tab = summary_tab(summary, table, summary_title, target, tracker_title, locale, now)
    meta = {
        "version": META_VERSION,
        "tracker": tracker_title,
        "summary": summary_title,
        "conditional_formats": [r.to_json() for r in cf],
    }
    keys = tuple(table.positions[k] for k in KEY_FIELDS if k in table.positions)
    return Desired(tracker_title, columns, tuple(headers), pos, new, keys, cf, tab, meta)


def _baseline_variance(table: Table) -> pd.Series:
    """Days the planned finish moved since the baseline (+ later, − earlier)."""
    d = table.data
    if "baseline_finish" not in d.columns:
        return nones(table.rows)
    days = (d["planned_finish"] - d["baseline_finish"]).dt.days
    return (
        days.astype(object)
        .where(days.notna(), None)
        .map(lambda v: int(v) if v is not None else None)
    )


def _floats(s: pd.Series) -> pd.Series:
    """Numbers for cells: None for missing and for ±inf (no sheet stores infinity)."""
    values = s.to_numpy(dtype=float)
    return pd.Series(values.astype(object), index=s.index).where(np.isfinite(values), None)


def conditional_formats(
    table: Table, pos: dict[str, int], locale: str, last_row: int, row_capacity: int | None = None
) -> tuple[CFRule, ...]:
    """Cell rules for every human column (lit when the issues column names it), then row rules."""
    first = table.header_row + 1
    last = max(((last_row // CF_ROW_BLOCK) + 1) * CF_ROW_BLOCK - 1, first)
    if row_capacity is not None:
        last = max(min(last, row_capacity - 1), first)
    r1 = first + 1  # A1 row number of the range's first row
    issues = col_letter(pos["gen_issues"])
    status = col_letter(pos["gen_status"])
    health = col_letter(pos["gen_health"])
    rules: list[CFRule] = []
    for c in table.human_cols:
        name = str(_header_at(table, c)).strip().replace('"', '""')
        formula = f'ISNUMBER(FIND("[{name}]",${issues}{r1}))'
        rules.append(CFRule(first, last, c, c, formula, FILL_FINDING, FONT_FINDING))
    right = max(pos.values())
    delayed = text(locale, "status.delayed").replace('"', '""')
    amber = text(locale, "health.amber").replace('"', '""')
    on_hold = text(locale, "status.on_hold").replace('"', '""')
    rules.append(CFRule(first, last, 0, right, f'${status}{r1}="{delayed}"', FILL_DELAYED))
    rules.append(CFRule(first, last, 0, right, f'${health}{r1}="{amber}"', FILL_AMBER))
    rules.append(CFRule(first, last, 0, right, f'${status}{r1}="{on_hold}"', FILL_ON_HOLD))
    return tuple(rules)


def _header_at(table: Table, col: int) -> str:
    for name, c in table.positions.items():
        if c == col:
            return table.headers[name]
    for name, c in table.extra_columns.items():
        if c == col:
            return name
    return col_letter(col)


# ---------------------------------------------------------------------------- summary tab


def summary_tab(
    s: Summary,
    table: Table,
    title: str,
    target: str,
    tracker_title: str,
    locale: str,
    now: dt.datetime,
) -> SummaryTab:
    """The summary tab: KPIs, status table (+ chart), breakdowns, lists."""

    def t(key: str) -> str:
        return text(locale, key)

    rows: list[list[RawValue]] = []
    bold: set[int] = set()

    def add(*cells: RawValue, strong: bool = False) -> int:
        rows.append([_cell(v) for v in cells])
        if strong:
            bold.add(len(rows) - 1)
        return len(rows) - 1

    add(t("s.title"), strong=True)
    add(t("s.as_of"), s.as_of.isoformat())
    updated = add(t("s.updated"), now.strftime("%Y-%m-%d %H:%M:%S %Z").strip())
    add(t("s.tracker"), f"{target} / {tracker_title}")
    add()
    add(t("s.kpis"), strong=True)
    add(t("s.total"), s.total)
    add(t("s.completion_rate"), s.completion_rate)
    add(t("s.avg_progress"), s.avg_progress)
    add(t("s.avg_deviation"), s.avg_deviation)
    add(t("s.kpi_delayed"), s.status_counts.get("delayed", 0))
    add(t("s.kpi_finished_late"), s.finished_late)
    for sev in ("error", "warning", "info"):
        add(t(f"severity.{sev}"), s.findings_by_severity.get(sev, 0))
    add()
    status_header = add(t("s.by_status"), t("s.count"), strong=True)
    for sid, n in s.status_counts.items():
        add(t(f"status.{sid}"), n)
    status_last = len(rows) - 1
    chart = ChartSpec(
        kind="bar",
        title=t("s.chart_title"),
        categories=(0, status_header + 1, status_last),
        values=(1, status_header, status_last),
        anchor=(5, 4),
    )

    breakdown_header = [
        t("s.tasks"),
        t("s.completed"),
        t("s.delayed"),
        t("s.avg_progress_short"),
        t("s.weighted_progress_short"),
        t("s.avg_deviation_short"),
    ]
    for key, frame in (
        ("s.by_phase", s.by_phase),
        ("s.by_channel", s.by_channel),
        ("s.by_owner", s.by_owner),
    ):
        add()
        add(t(key), *breakdown_header, strong=True)
        for rec in frame.itertuples(index=False):
            add(
                rec.key or t("unnamed"),
                rec.tasks,
                rec.completed,
                rec.delayed,
                rec.avg_progress,
                rec.weighted_progress,
                rec.avg_deviation,
            )

    add()
    add(t("s.delayed_tasks"), strong=True)
    add(
        t("s.row"),
        t("s.phase"),
        t("s.channel"),
        t("s.task"),
        t("s.owner"),
        t("s.planned_finish"),
        t("s.days_late"),
        t("s.progress"),
        strong=True,
    )
    _list(
        add,
        t,
        s.delayed,
        ["row", "phase", "channel", "task", "owner", "planned_finish", "days_late", "progress"],
    )

    add()
    add(t("s.open_risks"), strong=True)
    add(t("s.row"), t("s.task"), t("s.owner"), t("s.risk"), t("s.countermeasure"), strong=True)
    _list(add, t, s.open_risks, ["row", "task", "owner", "risk", "countermeasure"])

    add()
    add(t("s.no_countermeasure"), strong=True)
    add(t("s.row"), t("s.task"), t("s.owner"), t("s.risk"), strong=True)
    _list(add, t, s.risks_without_countermeasure, ["row", "task", "owner", "risk"])

    add()
    add(t("s.findings_by_rule"), strong=True)
    add(t("s.rule"), t("s.severity"), t("s.count"), t("s.example"), strong=True)
    for rule, severity, count, example in s.findings_by_rule[
        ["rule", "severity", "count", "example"]
    ].itertuples(index=False):
        add(rule, t(f"severity.{severity}"), int(count), example)

    if s.inactive_rules:
        add()
        add(t("s.inactive_rules"), strong=True)
        add(t("s.rule"), t("s.missing_columns"), strong=True)
        for rule in s.inactive_rules:
            add(rule.id, "; ".join(f"{table.headers[c]} ({c})" for c in rule.missing))

    if s.repeated_header_rows:
        add()
        add(t("s.repeated_headers"), ", ".join(map(str, s.repeated_header_rows)), strong=True)

    charts = [chart]
    if s.extras is not None:
        charts += _extras(add, t, s.extras, locale)
    width = max(len(r) for r in rows)
    rows = [r + [None] * (width - len(r)) for r in rows]
    widths = {0: 30.0, 1: 16.0, 2: 16.0, 3: 24.0, 4: 16.0, 5: 14.0, 6: 12.0, 7: 12.0}
    return SummaryTab(title, rows, widths, frozenset(bold), tuple(charts), volatile=(updated, 1))


def _extras(add: Any, t: Any, x: Any, locale: str) -> list[ChartSpec]:
    """Trend (+ chart), earned value, retrospective and KPI blocks."""
    charts = []
    add()
    head = add(
        t("s.trend"),
        t("s.trend_rate"),
        t("s.trend_delayed"),
        t("s.avg_deviation_short"),
        strong=True,
    )
    for rec in x.trend.itertuples(index=False):
        last = add(rec.day.isoformat(), rec.completion_rate, int(rec.delayed), rec.avg_deviation)
    charts.append(
        ChartSpec("line", t("s.trend_chart"), (0, head + 1, last), (1, head, last), (head, 5))
    )
    if x.earned_value is not None:
        add()
        add(t("s.ev"), "PV", "EV", "AC", "SV", "CV", "SPI", "CPI", strong=True)
        for rec in x.earned_value.itertuples(index=False):
            add(
                rec.key or t("s.ev_total"), rec.PV, rec.EV, rec.AC, rec.SV, rec.CV, rec.SPI, rec.CPI
            )
    r = x.retrospective
    add()
    add(t("s.retro"), strong=True)
    for dim, key, share in r.top:
        add(
            t("s.retro_top")
            .replace("{share}", f"{share:.0f}")
            .replace("{dim}", t(f"dim.{dim}"))
            .replace("{key}", key or t("unnamed"))
        )
    for label, (num, den) in (
        ("s.risk_in_advance", r.risk_in_advance),
        ("s.cm_success", r.countermeasure_success),
    ):
        add(t(label), f"{num}/{den}", f"{num / den * 100:.1f}%" if den else "-")
    for dim, frame in r.delays_by.items():
        add(
            t("s.retro_by").replace("{dim}", t(f"dim.{dim}")),
            t("s.delayed"),
            t("s.share"),
            strong=True,
        )
        for rec in frame.head(10).itertuples(index=False):
            add(rec.key or t("unnamed"), int(rec.delayed), float(rec.share))
    if x.kpis is not None:
        add()
        add(t("s.kpi"), t("s.kpi_target"), t("s.kpi_actual"), t("s.kpi_rate"), strong=True)
        for rec in x.kpis.itertuples(index=False):
            add(rec.metric, rec.target, rec.actual, rec.rate)
    return charts


def _list(add: Any, t: Any, frame: pd.DataFrame, cols: list[str]) -> None:
    if not len(frame):
        add(t("s.none"))
        return
    for rec in frame.head(LIST_LIMIT)[cols].itertuples(index=False):
        add(*rec)
    if len(frame) > LIST_LIMIT:
        add(t("s.truncated").replace("{n}", str(len(frame) - LIST_LIMIT)))


def _cell(v: RawValue) -> RawValue:
    """Normalise a value for the summary grid: NaN/NA -> None, numpy -> Python, dates -> ISO."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v

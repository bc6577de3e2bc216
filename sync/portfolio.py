"""The portfolio roll-up: one tab, one row per tracker of a fleet, written through the same
summary-tab machinery (and ownership rules) as a tracker's own summary.

The roll-up lives in a spreadsheet or workbook of its own (``portfolio:`` in the manifest). Its
first visible tab is left alone; the roll-up tab is the job's summary tab there: created by the
job, recorded in the job's metadata, rebuilt only when the metadata names it (a person's tab
that happens to carry the name is refused), only the cells that differ are written, and the
run-time stamp alone never makes a write. Rows come from each tracker's fleet state file
(:mod:`sync.fleet`), so a skipped tracker shows its last run and a shard sees every tracker.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from .cells import RawValue
from .errors import ConfigError
from .i18n import text
from .model import ChartSpec, SummaryTab, WritePlan

if TYPE_CHECKING:
    from .config import Config

#: One roll-up row's inputs: the tracker's name, its link, its fleet state (sync.fleet).
Row = tuple[str, str, dict[str, Any]]

#: Column headers by locale (English is the fallback).
HEADERS = {
    "zh-CN": [
        "项目",
        "任务数",
        "计划进度%",
        "实际进度%",
        "偏差(百分点)",
        "完成率%",
        "延期任务",
        "未关闭风险",
        "最近运行",
        "结果",
        "健康度",
        "链接",
    ],
    "en": [
        "Tracker",
        "Tasks",
        "Planned %",
        "Actual %",
        "Deviation (points)",
        "Completion rate %",
        "Late tasks",
        "Open risks",
        "Last run",
        "Outcome",
        "Health",
        "Link",
    ],
}

LABELS = {
    "zh-CN": {"title": "项目组合总览", "updated": "更新于", "chart": "各项目计划进度与实际进度%"},
    "en": {"title": "Portfolio", "updated": "Updated", "chart": "Planned vs actual % by tracker"},
}

#: A tracker's last outcome as the roll-up says it (English: the outcome itself).
OUTCOMES = {
    "zh-CN": {"written": "已更新", "unchanged": "无变化", "failed": "失败", "never run": "未运行"},
}

#: The data starts below the title, the stamp and a blank row.
HEADER_ROW = 3
PLANNED_COL, ACTUAL_COL = 2, 3


def rollup_tab(trackers: list[Row], title: str, locale: str, now: dt.datetime) -> SummaryTab:
    """The roll-up tab for (name, link, state) rows; pure.

    >>> tab = rollup_tab([("a", "a.xlsx", {})], "总览", "en", dt.datetime(2024, 3, 20))
    >>> tab.rows[HEADER_ROW][:2], tab.rows[HEADER_ROW + 1][0], tab.rows[HEADER_ROW + 1][9]
    (['Tracker', 'Tasks'], 'a', 'never run')
    """
    labels = LABELS.get(locale, LABELS["en"])
    headers = HEADERS.get(locale, HEADERS["en"])
    rows: list[list[RawValue]] = [
        [labels["title"]],
        [labels["updated"], now.strftime("%Y-%m-%d %H:%M:%S %Z").strip()],
        [],
        list(headers),
    ]
    for name, link, state in trackers:
        k = state.get("kpis") or {}
        health = k.get("health")
        outcome = str(state.get("outcome") or "never run")
        rows.append(
            [
                name,
                k.get("total"),
                k.get("planned"),
                k.get("actual"),
                k.get("deviation"),
                k.get("completion_rate"),
                k.get("late"),
                k.get("open_risks"),
                state.get("last_run_at"),
                OUTCOMES.get(locale, {}).get(outcome, outcome),
                text(locale, f"health.{health}") if health else None,
                link,
            ]
        )
    width = len(headers)
    rows = [r + [None] * (width - len(r)) for r in rows]
    last = len(rows) - 1
    charts: tuple[ChartSpec, ...] = ()
    if last > HEADER_ROW:
        charts = (
            ChartSpec(
                kind="bar",
                title=labels["chart"],
                categories=(0, HEADER_ROW + 1, last),
                values=(PLANNED_COL, HEADER_ROW, last),
                anchor=(last + 2, 0),
                series=(ACTUAL_COL,),
                colors=("B0BEC5", "1E88E5"),
                axis=(0.0, 100.0),
            ),
        )
    widths = {0: 24.0, 8: 22.0, 9: 12.0, 11: 40.0} | {c: 12.0 for c in range(1, 8)}
    return SummaryTab(title, rows, widths, frozenset({0, HEADER_ROW}), charts, volatile=(1, 1))


def write_portfolio(
    config: Config, rows: list[Row], now: dt.datetime | None = None
) -> tuple[bool, int, dict[str, int]]:
    """Write (only what differs of) the roll-up tab of ``config``'s spreadsheet or workbook:
    (written, cells changed, requests by kind). Raises the project's errors."""
    from .backends import CountsRequests, open_backend
    from .plan import summary_changes
    from .run import zone

    path = config.resolve(config.tracker.path) if config.tracker.path is not None else None
    if config.tracker.backend == "xlsx" and path is not None and not path.exists():
        _new_workbook(path, config.locale)
    backend = open_backend(config)
    if isinstance(backend, CountsRequests):
        backend.reset_request_counts()
    snapshot = backend.read()
    title = config.summary_title()
    if snapshot.summary is not None and snapshot.meta.get("summary") != title:
        raise ConfigError(
            f"{snapshot.target}: the tab {title!r} was not made by tracker-sync (its metadata "
            "does not name it), so the roll-up will not overwrite it; set portfolio.worksheet "
            "to a new tab name"
        )
    at = now or dt.datetime.now(zone(config, snapshot))
    tab = rollup_tab(rows, title, config.locale, at)
    changes = summary_changes(snapshot.summary, tab)
    charts = bool(tab.charts) and (snapshot.summary is None or snapshot.summary_charts == 0)
    meta = {
        "version": 1,
        "tracker": snapshot.tracker.title,
        "summary": title,
        "conditional_formats": [],
        "portfolio": True,
    }
    redo = bool(changes) or charts
    plan = WritePlan(
        tracker_title=snapshot.tracker.title,
        summary=tab if redo else None,
        summary_exists=snapshot.summary is not None,
        summary_changes=changes if redo else {},
        summary_charts=charts,
        meta=None if snapshot.meta == meta else meta,
    )
    if plan.is_empty:
        counts = backend.request_counts() if isinstance(backend, CountsRequests) else {}
        return False, 0, counts
    backend.apply(snapshot, plan)
    counts = backend.request_counts() if isinstance(backend, CountsRequests) else {}
    return True, len(changes), counts


def _new_workbook(path: Any, locale: str) -> None:
    """A new portfolio workbook: one tab saying what the file is (the roll-up tab is added)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "README"
    ws["A1"] = (
        "tracker-sync 项目组合:总览页由 tracker-sync fleet 生成"
        if locale == "zh-CN"
        else "tracker-sync portfolio: the roll-up tab is written by tracker-sync fleet"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)

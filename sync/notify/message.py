"""Messages as data, in the configured locale (pure): what an alert batch or a digest says.

A :class:`Message` is platform-neutral — a title, sections of lines, each line naming one task
by phase / channel / task with its owner and a link to its row when there is one. The channels
(:mod:`sync.notify.channels`) turn it into each platform's payload.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pandas as pd

from ..config import Config
from ..pipeline import RunResult
from .decide import ALERT_KINDS, Notice

_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "alert_title": "推广进度提醒 · {as_of}",
        "new.delayed": "新增延期",
        "new.risk": "风险超过24小时仍无应对措施",
        "new.stale_key": "关键任务超过1天未更新",
        "new.fake_done": "标为已完成,但不符合真实性规则",
        "reminders": "仍未解决(提醒)",
        "why.delayed": "已延期{days}天",
        "why.delayed_start": "已过计划开始仍未开始",
        "why.risk": "风险“{risk}”已{hours}小时无应对措施",
        "why.stale_key": "已{days}天未更新",
        "why.fake_done": "标为已完成:进度{progress},{finish}",
        "no_finish": "无实际完成时间",
        "has_finish": "实际完成 {finish}",
        "reminder": "第{n}次提醒,自{since}起",
        "owner": "负责人",
        "row": "第{row}行",
        "more": "…另有{n}项",
        "digest_daily": "推广进度日报 · {as_of}",
        "digest_weekly": "推广进度周报 · {week}",
        "headline": "关键指标",
        "kpi": (
            "任务{total}项:已完成{completed},进行中{in_progress},延期{delayed},未开始"
            "{not_started};进度完成率{rate}%;计划进度{planned}% / 实际进度{actual}%,偏差"
            "{deviation}个百分点"
        ),
        "late_by_owner": "延期任务(按负责人)",
        "late_owner_line": "{owner}:{n}项 — {tasks}",
        "late_task": "{task}(延期{days}天)",
        "no_cm": "无应对措施的风险",
        "no_cm_line": "{name}:{risk}",
        "due_soon": "未来3天到期",
        "due_line": "{name} — {finish} 到期,进度{progress}",
        "none": "无",
        "sheet": "打开进度表",
        "summary": "查看概览",
        "test_title": "tracker-sync 测试消息",
        "test_body": "这条消息来自 tracker-sync notify test:渠道“{channel}”配置正确。",
        "unassigned": "(未填写负责人)",
    },
    "en": {
        "alert_title": "Tracker alerts · {as_of}",
        "new.delayed": "Newly delayed",
        "new.risk": "Risk without a countermeasure for over 24 hours",
        "new.stale_key": "Key task not updated for over a day",
        "new.fake_done": "Marked completed but fails the truthfulness rules",
        "reminders": "Still open (reminder)",
        "why.delayed": "{days} days late",
        "why.delayed_start": "past its planned start and not started",
        "why.risk": "risk “{risk}” has had no countermeasure for {hours} h",
        "why.stale_key": "not updated for {days} days",
        "why.fake_done": "marked completed: progress {progress}, {finish}",
        "no_finish": "no actual finish",
        "has_finish": "finished {finish}",
        "reminder": "reminder {n}, open since {since}",
        "owner": "owner",
        "row": "row {row}",
        "more": "…and {n} more",
        "digest_daily": "Tracker daily digest · {as_of}",
        "digest_weekly": "Tracker weekly digest · {week}",
        "headline": "Headline",
        "kpi": (
            "{total} tasks: {completed} completed, {in_progress} in progress, {delayed} delayed, "
            "{not_started} not started; completion rate {rate}%; planned {planned}% vs actual "
            "{actual}%, deviation {deviation} pp"
        ),
        "late_by_owner": "Late tasks by owner",
        "late_owner_line": "{owner}: {n} — {tasks}",
        "late_task": "{task} ({days} days late)",
        "no_cm": "Risks without a countermeasure",
        "no_cm_line": "{name}: {risk}",
        "due_soon": "Due in the next 3 days",
        "due_line": "{name} — due {finish}, progress {progress}",
        "none": "none",
        "sheet": "Open the tracker",
        "summary": "Summary tab",
        "test_title": "tracker-sync test message",
        "test_body": "This message comes from tracker-sync notify test: channel “{channel}” works.",
        "unassigned": "(no owner)",
    },
}

#: tasks due within this many days count as "due soon" in a digest
DUE_SOON_DAYS = 3


def t(locale: str, key: str, **values: Any) -> str:
    """The text for ``key`` in ``locale`` (English when missing), filled in.

    >>> t("en", "more", n=3)
    '…and 3 more'
    """
    template = _TEXT.get(locale, _TEXT["en"]).get(key) or _TEXT["en"][key]
    return template.format(**values) if values else template


@dataclass(frozen=True)
class Line:
    """One line of a message: text, the row link, the owner cell it names (for @mentions)."""

    text: str
    link: str | None = None
    link_text: str | None = None
    owner: str | None = None
    row: int | None = None


@dataclass(frozen=True)
class Section:
    heading: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Message:
    """A platform-neutral message. ``kind``: alert, digest or test."""

    kind: str
    title: str
    sections: tuple[Section, ...]
    locale: str = "zh-CN"
    links: tuple[tuple[str, str], ...] = ()  # (text, url) at the end
    task_rows: tuple[int, ...] = field(default=())

    @property
    def owners(self) -> list[str]:
        """Every owner cell a line names, once, in order."""
        seen: list[str] = []
        for s in self.sections:
            for line in s.lines:
                if line.owner and line.owner not in seen:
                    seen.append(line.owner)
        return seen

    def to_text(self) -> str:
        """Plain text (``--dry-run``, e-mail bodies, tests).

        >>> print(Message("test", "T", (Section("H", (Line("a", row=2),)),)).to_text())
        T
        <BLANKLINE>
        H
        - a
        """
        out = [self.title]
        for s in self.sections:
            out += ["", s.heading]
            for line in s.lines:
                link = f" {line.link}" if line.link else ""
                out.append(f"- {line.text}{link}")
        if self.links:
            out.append("")
            out += [f"{text}: {url}" for text, url in self.links]
        return "\n".join(out)


# ---------------------------------------------------------------------------- links


def sheet_link(config: Config) -> str | None:
    """The tracker's address for people: ``notify.link``, else the Google Sheet's."""
    if config.notify.link:
        return config.notify.link
    spreadsheet = config.tracker.spreadsheet
    if not spreadsheet:
        return None
    if spreadsheet.startswith(("https://", "http://")):
        return spreadsheet
    return f"https://docs.google.com/spreadsheets/d/{quote(spreadsheet)}/edit"


def row_link(link: str | None, row: int) -> str | None:
    """A link to a sheet row, when the sheet link names its tab (Sheets: ``#gid=N``).

    >>> row_link("https://docs.google.com/spreadsheets/d/K/edit#gid=7", 12)
    'https://docs.google.com/spreadsheets/d/K/edit#gid=7&range=A12'
    >>> row_link("https://example.com/tracker.xlsx", 12) is None
    True
    """
    if link and "#gid=" in link:
        return f"{link.split('&range=')[0]}&range=A{row}"
    return None


# ---------------------------------------------------------------------------- tasks


class _Tasks:
    """Read task facts by sheet row off a run's result."""

    def __init__(self, result: RunResult, locale: str, link: str | None) -> None:
        self.result = result
        self.locale = locale
        self.link = link
        self.data = result.table.data
        self.derived = result.derived
        self.risk_hours = (
            self.data["risk_hours_open"] if "risk_hours_open" in self.data.columns else None
        )

    def cell(self, row: int, col: str) -> Any:
        if col not in self.data.columns or row not in self.data.index:
            return None
        v = self.data.at[row, col]
        if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
            return None
        return v

    def name(self, row: int) -> str:
        """phase / channel / task (the parts the row has)."""
        parts = [self.cell(row, c) for c in ("phase", "channel", "task")]
        text = " / ".join(str(p) for p in parts if p not in (None, ""))
        return text or t(self.locale, "row", row=row)

    def owner(self, row: int) -> str | None:
        v = self.cell(row, "owner")
        return str(v) if v not in (None, "") else None

    def line(self, row: int, detail: str) -> Line:
        owner = self.owner(row)
        text = f"{self.name(row)} — {detail}"
        if owner:
            text += f" — {t(self.locale, 'owner')} {owner}"
        return Line(
            text,
            link=row_link(self.link, row),
            link_text=t(self.locale, "row", row=row),
            owner=owner,
            row=row,
        )

    def progress(self, row: int) -> str:
        p = self.cell(row, "progress")
        return "-" if p is None else f"{float(p):g}%"

    def days_late(self, row: int) -> int:
        v: Any = self.derived.at[row, "days_late"] if row in self.derived.index else None
        return 0 if v is None or pd.isna(v) else int(v)

    def why(self, kind: str, row: int) -> str:
        loc = self.locale
        if kind == "delayed":
            days = self.days_late(row)
            return t(loc, "why.delayed", days=days) if days > 0 else t(loc, "why.delayed_start")
        if kind == "risk":
            hours = self.risk_hours.get(row) if self.risk_hours is not None else None
            shown = "24+" if hours is None or hours != hours else f"{float(hours):.0f}"
            return t(loc, "why.risk", risk=self.cell(row, "risk") or "", hours=shown)
        if kind == "stale_key":
            days = self.cell(row, "days_unchanged")
            return t(loc, "why.stale_key", days="?" if days is None else f"{float(days):g}")
        finish = self.cell(row, "actual_finish")
        done = (
            t(loc, "has_finish", finish=_day(finish)) if finish is not None else t(loc, "no_finish")
        )
        return t(loc, "why.fake_done", progress=self.progress(row), finish=done)


def _day(value: Any) -> str:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _links(config: Config, link: str | None) -> tuple[tuple[str, str], ...]:
    out = []
    if link:
        out.append((t(config.locale, "sheet"), link))
    if config.notify.summary_link:
        out.append((t(config.locale, "summary"), config.notify.summary_link))
    return tuple(out)


# ---------------------------------------------------------------------------- builders


def alert_message(config: Config, result: RunResult, notices: Sequence[Notice]) -> Message:
    """One message for every alert and reminder of a run: new alerts by kind, then reminders."""
    loc = config.locale
    link = sheet_link(config)
    tasks = _Tasks(result, loc, link)
    sections = []
    for kind in ALERT_KINDS:
        lines = tuple(
            tasks.line(n.row, tasks.why(kind, n.row))
            for n in notices
            if n.kind == kind and n.notice == 1
        )
        if lines:
            sections.append(Section(t(loc, f"new.{kind}"), lines))
    reminders = []
    for n in notices:
        if n.notice > 1:
            since = n.since[:10] if n.since else "?"
            detail = (
                f"{tasks.why(n.kind, n.row)}({t(loc, 'reminder', n=n.notice - 1, since=since)})"
            )
            reminders.append(tasks.line(n.row, detail))
    if reminders:
        sections.append(Section(t(loc, "reminders"), tuple(reminders)))
    return Message(
        "alert",
        t(loc, "alert_title", as_of=result.as_of.isoformat()),
        tuple(sections),
        locale=loc,
        links=_links(config, link),
        task_rows=tuple(sorted({n.row for n in notices})),
    )


def digest_message(config: Config, result: RunResult, schedule: str) -> Message:
    """The headline numbers, late tasks by owner, risks without countermeasure, tasks due in
    the next 3 days, and links to the sheet and its summary tab."""
    loc = config.locale
    link = sheet_link(config)
    tasks = _Tasks(result, loc, link)
    s, derived, data = result.summary, result.derived, result.table.data
    planned = derived["planned_progress"].astype(float).mean()
    counts = s.status_counts
    kpi = t(
        loc,
        "kpi",
        total=s.total,
        completed=counts.get("completed", 0),
        in_progress=counts.get("in_progress", 0),
        delayed=counts.get("delayed", 0),
        not_started=counts.get("not_started", 0),
        rate=f"{s.completion_rate:g}",
        planned=_pct(planned),
        actual=_pct(s.avg_progress),
        deviation=_signed(s.avg_deviation),
    )
    sections = [Section(t(loc, "headline"), (Line(kpi),))]
    late_lines = []
    if len(s.delayed):
        by_owner: dict[str, list[int]] = {}
        for row, owner in zip(s.delayed["row"], s.delayed["owner"], strict=True):
            key = str(owner) if isinstance(owner, str) and owner else t(loc, "unassigned")
            by_owner.setdefault(key, []).append(int(row))
        for owner, rows in by_owner.items():
            names = "、".join(
                t(loc, "late_task", task=tasks.name(r), days=tasks.days_late(r)) for r in rows
            )
            late_lines.append(
                Line(
                    t(loc, "late_owner_line", owner=owner, n=len(rows), tasks=names),
                    owner=owner if owner != t(loc, "unassigned") else None,
                    row=rows[0],
                )
            )
    sections.append(Section(t(loc, "late_by_owner"), tuple(late_lines) or (Line(t(loc, "none")),)))
    risk_lines = tuple(
        Line(
            t(loc, "no_cm_line", name=tasks.name(int(r)), risk=risk),
            link=row_link(link, int(r)),
            link_text=t(loc, "row", row=int(r)),
            owner=tasks.owner(int(r)),
            row=int(r),
        )
        for r, risk in zip(
            s.risks_without_countermeasure["row"],
            s.risks_without_countermeasure["risk"],
            strict=True,
        )
    )
    sections.append(Section(t(loc, "no_cm"), risk_lines or (Line(t(loc, "none")),)))
    finish = pd.to_datetime(data["planned_finish"], errors="coerce")
    as_of = pd.Timestamp(result.as_of)
    soon = (
        (finish >= as_of)
        & (finish <= as_of + pd.Timedelta(days=DUE_SOON_DAYS))
        & ~derived["status"].isin(["completed", "on_hold"]).to_numpy()
    )
    due_lines = tuple(
        Line(
            t(
                loc,
                "due_line",
                name=tasks.name(int(r)),
                finish=_day(finish.at[r]),
                progress=tasks.progress(int(r)),
            ),
            link=row_link(link, int(r)),
            link_text=t(loc, "row", row=int(r)),
            owner=tasks.owner(int(r)),
            row=int(r),
        )
        for r in data.index[soon.fillna(False).to_numpy(dtype=bool)]
    )
    sections.append(Section(t(loc, "due_soon"), due_lines or (Line(t(loc, "none")),)))
    if schedule == "weekly":
        year, week, _ = result.as_of.isocalendar()
        title = t(loc, "digest_weekly", week=f"{year}-W{week:02d}")
    else:
        title = t(loc, "digest_daily", as_of=result.as_of.isoformat())
    rows = sorted(
        {line.row for sec in sections for line in sec.lines if line.row is not None}
        | {int(r) for r in s.delayed["row"]}
    )
    return Message(
        "digest",
        title,
        tuple(sections),
        locale=loc,
        links=_links(config, link),
        task_rows=tuple(rows),
    )


def test_message(config: Config, channel: str) -> Message:
    """The sample ``tracker-sync notify test`` sends."""
    loc = config.locale
    return Message(
        "test",
        t(loc, "test_title"),
        (Section(t(loc, "headline"), (Line(t(loc, "test_body", channel=channel)),)),),
        locale=loc,
        links=_links(config, sheet_link(config)),
    )


def _pct(v: Any) -> str:
    if v is None or v != v:
        return "-"
    return f"{float(v):.0f}"


def _signed(v: Any) -> str:
    if v is None or v != v:
        return "-"
    return f"{float(v):+.0f}"


def to_json(message: Message) -> dict[str, Any]:
    """A message as JSON (``--dry-run --json``)."""
    return {
        "kind": message.kind,
        "title": message.title,
        "text": message.to_text(),
        "task_rows": list(message.task_rows),
    }

"""Why a row is red or amber, in words: one line per coloured row for the ⚙ 问题 column.

Every path of :func:`sync.compute.compute` that colours a row has its sentence:

- red, past the planned finish and not complete: "计划 3月10日 完成,已过 8 个工作日,进度 60%";
- red, past the planned start with no progress and no actual start:
  "计划 6月3日 开始,已过 4 个工作日,进度仍为 0";
- amber, behind plan by more than ``thresholds.amber_deviation`` points:
  "进度 30%,按计划应为 57.1%,落后 27.1 个百分点(超过 10 即为黄)".

Counts are working days of the run's calendar (:mod:`sync.workdays`), calendar days with
``calendar.country: none``. The line starts with the colour's label, e.g. ``(红)``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .i18n import text
from .parse import Table
from .workdays import WorkCalendar

_WORDS = {
    "zh-CN": {
        "late_finish": "计划 {date} 完成,已过 {n},{progress}",
        "idle_start": "计划 {date} 开始,已过 {n},进度仍为 0",
        "behind": "进度 {p}%,按计划应为 {planned}%,落后 {gap} 个百分点(超过 {amber} 即为黄)",
        "progress": "进度 {p}%",
        "workdays": "{n} 个工作日",
        "days": "{n} 天",
    },
    "en": {
        "late_finish": "planned to finish {date}: {n} past it, {progress}",
        "idle_start": "planned to start {date}: {n} past it, progress still 0",
        "behind": "progress {p}%, the plan says {planned}%: {gap} points behind "
        "(amber beyond {amber})",
        "progress": "progress {p}%",
        "workdays": "{n} working days",
        "days": "{n} days",
    },
}


def _dates(days: np.ndarray, locale: str) -> list[str]:
    """Short dates, vectorised: 3月10日 / Mar 10 (empty for NaT)."""
    idx = pd.DatetimeIndex(days)
    month, day = idx.month.astype("Int64").astype(str), idx.day.astype("Int64").astype(str)
    if locale == "zh-CN":
        out = pd.Series(month + "月" + day + "日")
    else:
        out = pd.Series(idx.strftime("%b")) + " " + pd.Series(day)
    return out.where(~np.isnat(days), "").tolist()


def _num(v: float) -> str:
    return f"{v:g}" if np.isfinite(v) else str(v)


def reasons(
    table: Table,
    derived: pd.DataFrame,
    as_of: dt.date,
    calendar: WorkCalendar | None,
    locale: str,
    amber_deviation: float,
) -> pd.Series:
    """Per red or amber task (by the table's index): the line saying why. Other rows absent."""
    words = _WORDS.get(locale, _WORDS["en"])
    d = table.data
    health = derived["health"].to_numpy(dtype=object)
    coloured = np.flatnonzero((health == "red") | (health == "amber"))
    if not len(coloured):
        return pd.Series(dtype=object)
    today = np.datetime64(as_of, "D")
    one = np.timedelta64(1, "D")
    ps = d["planned_start"].to_numpy("datetime64[D]")[coloured]
    pf = d["planned_finish"].to_numpy("datetime64[D]")[coloured]
    progress = d["progress"].to_numpy(dtype=float)[coloured]
    progress = np.where(np.isnan(progress), 0.0, progress)
    planned = derived["planned_progress"].to_numpy(dtype=float)[coloured]
    deviation = derived["deviation"].to_numpy(dtype=float)[coloured]
    now = np.full(len(coloured), today)
    if calendar is None:
        since_start = (today - ps).astype("timedelta64[D]").astype(float)
        since_finish = (today - pf).astype("timedelta64[D]").astype(float)
    else:
        since_start = calendar.count(ps + one, now + one)
        since_finish = calendar.count(pf + one, now + one)
    unit = words["days" if calendar is None else "workdays"]
    label = {h: f"({text(locale, 'health.' + h)}) " for h in ("red", "amber")}
    ps_text, pf_text = _dates(ps, locale), _dates(pf, locale)
    out: list[str] = []
    for i, h in enumerate(health[coloured]):
        if h == "red" and not np.isnat(pf[i]) and today > pf[i]:
            line = words["late_finish"].format(
                date=pf_text[i],
                n=unit.format(n=int(since_finish[i])),
                progress=words["progress"].format(p=_num(progress[i])),
            )
        elif h == "red":
            line = words["idle_start"].format(date=ps_text[i], n=unit.format(n=int(since_start[i])))
        else:
            line = words["behind"].format(
                p=_num(progress[i]),
                planned=_num(planned[i]),
                gap=_num(round(-deviation[i], 1)),
                amber=_num(amber_deviation),
            )
        out.append(label[h] + line)
    return pd.Series(out, index=d.index[coloured], dtype=object)

"""Synthetic trackers: N task rows with messy cells in realistic proportions."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sync.model import Grid

HEADER = [
    "推广阶段",
    "推广渠道",
    "核心任务",
    "任务描述(具体可执行)",
    "负责人 ",
    "计划开始时间",
    "计划完成时间",
    "实际开始时间",
    "实际完成时间",
    "当前进度（％）",
    "完成状态(未开始/进行中/已完成/延期)",
    "风险描述",
    "应对措施",
    "备注",
]
PHASES = ["筹备期(第1-2周)", "预热期(第3-4周)", "爆发期(第5-6周)", "复盘期(第7周)"]
CHANNELS = ["小红书", "抖音信息流", "微信公众号", "微博", "B站", "线下门店", "电商站内", "社群"]
TASKS = [
    "KOL种草笔记发布",
    "广告投放",
    "新品推文",
    "话题运营",
    "UP主测评",
    "店员培训",
    "详情页优化",
]
OWNERS = [
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄敏",
    "周杰",
    "吴婷",
    "市场部",
    "TBD",
    "",
]
STATUSES = ["未开始", "进行中", "已完成", "延期", "done", "in progress", "✅", "搁置"]
STATUS_P = [0.25, 0.3, 0.3, 0.08, 0.02, 0.02, 0.02, 0.01]


def synthetic_grid(n: int, today: dt.date = dt.date(2026, 6, 15), seed: int = 1) -> Grid:
    """A tracker tab of ``n`` task rows (plus a title row and a header row).

    About 80 % of cells are clean; the rest use the forms people type: real date cells and
    strings, year-less and dotted dates, serial numbers, full-width digits, progress with notes,
    fractions, English and emoji statuses, ``-`` / ``N/A`` empties, and a few unreadable cells.
    """
    rng = np.random.default_rng(seed)
    base = np.datetime64(today) - 60
    ps = base + rng.integers(0, 120, n)
    pf = ps + rng.integers(2, 20, n)
    started = rng.random(n) < 0.7
    as_ = ps + rng.integers(0, 3, n)
    finished = started & (rng.random(n) < 0.45)
    af = as_ + rng.integers(1, 20, n)
    progress = np.where(finished, 100, np.where(started, rng.integers(0, 20, n) * 5, 0))
    status = rng.choice(STATUSES, n, p=STATUS_P)
    date_form = rng.choice(6, (n, 4), p=[0.45, 0.3, 0.1, 0.07, 0.05, 0.03])
    prog_form = rng.choice(6, n, p=[0.5, 0.2, 0.1, 0.1, 0.07, 0.03])
    phase = rng.integers(0, len(PHASES), n)
    channel = rng.integers(0, len(CHANNELS), n)
    task = rng.integers(0, len(TASKS), n)
    owner = rng.integers(0, len(OWNERS), n)
    has_risk = rng.random(n) < 0.15
    has_cm = rng.random(n) < 0.7
    qty = rng.integers(1, 50, n)

    def date_cell(d: np.datetime64, form: int) -> object:
        day = d.astype(dt.date)
        if form == 0:
            return dt.datetime(day.year, day.month, day.day)
        if form == 1:
            return day.isoformat()
        if form == 2:
            return f"{day.month}/{day.day}"
        if form == 3:
            return f"{day.year}.{day.month}.{day.day}"
        if form == 4:
            return float((day - dt.date(1899, 12, 30)).days)
        return "3月上旬"

    rows: list[list[object]] = [["2026 年中大促推广进度表"], list(HEADER)]
    percent: set[tuple[int, int]] = set()
    for i in range(n):
        p = int(progress[i])
        pf_ = prog_form[i]
        if pf_ == 0:
            pcell: object = f"{p}%"
        elif pf_ == 1:
            pcell = p
        elif pf_ == 2:
            pcell = f"{p}%(已完成{qty[i]}篇)"
        elif pf_ == 3:
            pcell = p / 100
            percent.add((i + 2, 9))
        elif pf_ == 4:
            pcell = f"{p}％".translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        else:
            pcell = "N/A"
        st = status[i]
        rows.append(
            [
                PHASES[phase[i]],
                CHANNELS[channel[i]],
                TASKS[task[i]],
                f"完成{qty[i]}篇{CHANNELS[channel[i]]}内容发布",
                OWNERS[owner[i]],
                date_cell(ps[i], date_form[i, 0]),
                date_cell(pf[i], date_form[i, 1]),
                date_cell(as_[i], date_form[i, 2]) if started[i] else "-",
                date_cell(af[i], date_form[i, 3]) if finished[i] else "-",
                pcell,
                st,
                "KOL档期冲突" if has_risk[i] else "-",
                "2日内联系备选KOL" if has_risk[i] and has_cm[i] else "-",
                None,
            ]
        )
    return Grid("推广进度表", rows, frozenset(percent))


def best_of(
    fn: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> tuple[float, Any]:
    """The least of ``repeat`` timings of ``fn`` (by ``clock``: wall time, or
    ``time.process_time`` for CPU seconds) and ``fn``'s last result."""
    out, times = None, []
    for _ in range(repeat):
        t0 = clock()
        out = fn()
        times.append(clock() - t0)
    return min(times), out

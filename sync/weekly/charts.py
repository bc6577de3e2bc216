"""The report's charts as PNG (matplotlib, Agg): the Gantt, the trend and the burn-up.

Chinese labels need a CJK font: the first of :data:`CJK_FONTS` that matplotlib knows is used;
when it knows none (its font cache predates the font's install), the files fontconfig lists for
``:lang=zh`` are added to it. Without any CJK font the labels show as boxes (and the report
says so once in the log).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import shutil
import subprocess
import warnings
from typing import Any

from .data import WeeklyReport
from .words import word

log = logging.getLogger(__name__)

#: Fonts with Chinese glyphs, tried in order (those of sync.backends.feishu_chart, plus the
#: Debian packages' names: fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei).
CJK_FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "PingFang SC",
    "Microsoft YaHei",
]
DPI = 110
BLUE, GREY, RED, GREEN = "#4472C4", "#BFBFBF", "#C0392B", "#2E8B57"


@functools.cache
def cjk_fonts() -> tuple[str, ...]:
    """The CJK font families matplotlib can use here (empty when none is installed)."""
    from matplotlib import font_manager

    def known() -> tuple[str, ...]:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return tuple(f for f in CJK_FONTS if f in installed)

    found = known()
    if found:
        return found
    for path in system_cjk_files():
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # a file FreeType cannot open
            continue
    found = known()
    if not found:
        log.warning(
            "no CJK font found: Chinese text in the report's charts shows as boxes; install "
            "one (Debian: apt-get install fonts-noto-cjk) — see the README's Weekly report section"
        )
    return found


@functools.cache
def system_cjk_files() -> tuple[str, ...]:
    """Font files fontconfig lists for Chinese (empty without fontconfig's fc-list)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return ()
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    files = {line.split(":")[0].strip() for line in out.splitlines() if line.strip()}
    # the sans families first (Noto Sans CJK before Noto Serif CJK)
    return tuple(sorted(files, key=lambda p: ("Serif" in p, "Bold" in p, p)))


def charts(report: WeeklyReport) -> dict[str, bytes]:
    """Every chart of the report as PNG bytes, by name (gantt, trend, burnup); a chart with no
    data is left out."""
    matplotlib = _module("matplotlib")
    matplotlib.use("Agg", force=True)
    out: dict[str, bytes] = {}
    fonts = cjk_fonts()
    rc = {"font.family": [*fonts, "DejaVu Sans"], "axes.unicode_minus": False}
    with warnings.catch_warnings():
        # without a CJK font matplotlib warns once per missing glyph; cjk_fonts() said it once
        warnings.simplefilter("ignore")
        with matplotlib.rc_context(rc):
            if report.gantt:
                out["gantt"] = _gantt(report)
            if len(report.trend) >= 2:
                out["trend"] = _trend(report)
            if report.burnup:
                out["burnup"] = _burnup(report)
    return out


def _module(name: str) -> Any:
    """A matplotlib module, untyped here (its stubs are stricter than the calls need)."""
    import importlib

    return importlib.import_module(name)


def _png(fig: Any) -> bytes:
    plt = _module("matplotlib.pyplot")

    try:
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _dates_axis(ax: Any) -> None:
    mdates = _module("matplotlib.dates")
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))


def _gantt(report: WeeklyReport) -> bytes:
    """Planned bars (grey) and actual bars (blue, red when late) per task; the as-of line."""
    mdates = _module("matplotlib.dates")
    plt = _module("matplotlib.pyplot")

    bars = report.gantt
    loc = report.locale
    height = max(2.5, 0.17 * len(bars) + 1.2)
    fig, ax = plt.subplots(figsize=(9, height))
    one = dt.timedelta(days=1)
    for i, b in enumerate(bars):
        if b.planned_start and b.planned_finish:
            start = mdates.date2num(b.planned_start)
            ax.barh(i, mdates.date2num(b.planned_finish + one) - start, left=start, height=0.7,
                    color=GREY, label=word(loc, "chart.planned") if i == 0 else None)  # fmt: skip
        if b.actual_start and b.actual_end and b.actual_end >= b.actual_start:
            start = mdates.date2num(b.actual_start)
            ax.barh(i, mdates.date2num(b.actual_end + one) - start, left=start, height=0.35,
                    color=RED if b.late else BLUE)  # fmt: skip
    ax.set_yticks(range(len(bars)), [b.label for b in bars], fontsize=6.5)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.axvline(mdates.date2num(report.as_of), color=RED, linestyle="--", linewidth=1)
    ax.xaxis_date()
    _dates_axis(ax)
    patch = _module("matplotlib.patches").Patch
    ax.legend(
        handles=[
            patch(color=GREY, label=word(loc, "chart.planned")),
            patch(color=BLUE, label=word(loc, "chart.actual")),
            patch(color=RED, label=word(loc, "chart.late")),
        ],
        loc="upper right",
        fontsize=7,
    )
    title = word(loc, "chart.gantt")
    if report.gantt_hidden:
        title += " " + word(loc, "more", n=report.gantt_hidden)
    ax.set_title(title)
    ax.grid(axis="x", color="#EEEEEE")
    return _png(fig)


def _trend(report: WeeklyReport) -> bytes:
    """Completion rate (line, left axis) and delayed tasks (bars, right axis) per day."""
    plt = _module("matplotlib.pyplot")

    loc = report.locale
    days = [p[0] for p in report.trend]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax2 = ax.twinx()
    ax2.bar(days, [p[2] for p in report.trend], color=RED, alpha=0.3, width=0.8,
            label=word(loc, "chart.delayed"))  # fmt: skip
    ax.plot(days, [p[1] for p in report.trend], color=BLUE, marker="o", markersize=3,
            label=word(loc, "chart.rate"))  # fmt: skip
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_ylim(0, 100)
    ax.set_ylabel(word(loc, "chart.rate"))
    ax2.set_ylabel(word(loc, "chart.delayed"))
    ax2.yaxis.get_major_locator().set_params(integer=True)
    _dates_axis(ax)
    ax.set_title(word(loc, "chart.trend"))
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="upper left", fontsize=7)
    ax.grid(axis="y", color="#EEEEEE")
    return _png(fig)


def _burnup(report: WeeklyReport) -> bytes:
    """Scope, tasks planned to be done and tasks done, cumulative by day."""
    plt = _module("matplotlib.pyplot")

    loc = report.locale
    days = [p[0] for p in report.burnup]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(days, [p[1] for p in report.burnup], color="#7F7F7F", linestyle=":",
            label=word(loc, "chart.scope"))  # fmt: skip
    ax.plot(days, [p[2] for p in report.burnup], color=GREY, linewidth=2,
            label=word(loc, "chart.planned_done"))  # fmt: skip
    done = [(p[0], p[3]) for p in report.burnup if p[3] is not None]
    if done:
        ax.plot([d for d, _ in done], [n for _, n in done], color=GREEN, linewidth=2,
                label=word(loc, "chart.done"))  # fmt: skip
    ax.axvline(report.as_of, color=RED, linestyle="--", linewidth=1, label=word(loc, "chart.today"))
    ax.set_ylim(0, max(p[1] for p in report.burnup) * 1.08 + 1)
    _dates_axis(ax)
    ax.set_title(word(loc, "chart.burnup"))
    ax.legend(loc="upper left", fontsize=7)
    ax.grid(axis="y", color="#EEEEEE")
    return _png(fig)

"""The summary chart as a PNG, for Feishu / Lark (its API has no chart endpoint, so the chart
goes on the summary tab as a float image). matplotlib is an optional extra (``pip install
'tracker-sync[feishu]'``), imported only when a chart is drawn; without it there is no chart."""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

from ..model import ChartSpec, SummaryTab

log = logging.getLogger(__name__)

#: Fonts with Chinese glyphs, tried in order (the first one installed is used).
CJK_FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "SimHei",
    "PingFang SC",
    "Microsoft YaHei",
]
WIDTH_PX, HEIGHT_PX, DPI = 480, 300, 100


def chart_data(tab: SummaryTab, spec: ChartSpec) -> tuple[str, list[str], list[float]]:
    """(series name, category labels, values) of a chart, read from the tab's cells.

    >>> t = SummaryTab("S", [["状态", "数"], ["延期", 2], ["完成", 5]])
    >>> chart_data(t, ChartSpec("bar", "按状态", (0, 1, 2), (1, 0, 2), (0, 3)))
    ('数', ['延期', '完成'], [2.0, 5.0])
    """

    def cell(r: int, c: int) -> Any:
        row = tab.rows[r] if 0 <= r < len(tab.rows) else []
        return row[c] if 0 <= c < len(row) else None

    col, r0, r1 = spec.categories
    vcol, header, v1 = spec.values
    labels = [str(cell(r, col) or "") for r in range(r0, r1 + 1)]
    values = []
    for r in range(header + 1, v1 + 1):
        v = cell(r, vcol)
        values.append(float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0)
    return str(cell(header, vcol) or ""), labels, values


def chart_png(tab: SummaryTab, spec: ChartSpec) -> bytes | None:
    """The chart as PNG bytes, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib import font_manager
        from matplotlib import pyplot as plt
    except ImportError:
        log.info(
            "the summary chart is not drawn: matplotlib is not installed (tracker-sync[feishu])"
        )
        return None
    _, labels, _ = chart_data(tab, spec)
    series = [chart_data(tab, _one(spec, col)) for col in spec.value_columns]
    installed = {f.name for f in font_manager.fontManager.ttflist}
    fonts = [f for f in CJK_FONTS if f in installed]
    with warnings.catch_warnings():
        # without a CJK font Chinese labels show as boxes; matplotlib warns once per glyph
        warnings.simplefilter("ignore")
        with matplotlib.rc_context({"font.family": [*fonts, "DejaVu Sans"]} if fonts else {}):
            fig, ax = plt.subplots(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
            try:
                _draw(ax, spec, labels, series)
                ax.set_title(spec.title)
                fig.tight_layout()
                buf = io.BytesIO()
                fig.savefig(buf, format="png")
            finally:
                plt.close(fig)
    return buf.getvalue()


def _one(spec: ChartSpec, col: int) -> ChartSpec:
    return ChartSpec(spec.kind, spec.title, spec.categories, (col, *spec.values[1:]), spec.anchor)


def _draw(
    ax: Any, spec: ChartSpec, labels: list[str], series: list[tuple[str, list[str], list[float]]]
) -> None:
    """Columns ("bar", side by side per series), stacked horizontal bars ("stacked"; "gantt"
    with its first series, each bar's start, left blank and a red line at ``spec.marker``), a
    line ("line")."""
    colors = [("#" + c) if c else None for c in spec.colors] + [None] * len(series)
    pos = list(range(len(labels)))
    if spec.kind in ("stacked", "gantt"):
        left = [0.0] * len(labels)
        for i, (name, _, values) in enumerate(series):
            if not (spec.kind == "gantt" and i == 0):
                ax.barh(pos, values, left=left, color=colors[i], label=name)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
        if spec.kind == "gantt" and spec.marker is not None:
            ax.axvline(spec.marker, color="#FF0000", linestyle="--")
        if spec.axis is not None:
            ax.set_xlim(*spec.axis)
    elif spec.kind == "line":
        for i, (name, _, values) in enumerate(series):
            ax.plot(pos, values, color=colors[i] or "#4472C4", marker="o", label=name)
        ax.set_xticks(pos, labels)
    else:
        n = max(len(series), 1)
        for i, (name, _, values) in enumerate(series):
            shifted = [p + (i - (n - 1) / 2) * 0.8 / n for p in pos]
            ax.bar(shifted, values, width=0.8 / n, color=colors[i] or "#4472C4", label=name)
        ax.set_xticks(pos, labels)
    if len(series) > 1:
        ax.legend(fontsize="small")

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
    name, labels, values = chart_data(tab, spec)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    fonts = [f for f in CJK_FONTS if f in installed]
    with warnings.catch_warnings():
        # without a CJK font Chinese labels show as boxes; matplotlib warns once per glyph
        warnings.simplefilter("ignore")
        with matplotlib.rc_context({"font.family": [*fonts, "DejaVu Sans"]} if fonts else {}):
            fig, ax = plt.subplots(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
            try:
                ax.bar(range(len(values)), values, color="#4472C4")
                ax.set_xticks(range(len(labels)), labels)
                ax.set_title(spec.title)
                ax.set_ylabel(name)
                fig.tight_layout()
                buf = io.BytesIO()
                fig.savefig(buf, format="png")
            finally:
                plt.close(fig)
    return buf.getvalue()

"""What ``tracker-sync report`` costs: building the report (a dry run + the pure
:func:`sync.weekly.data.build`), the three charts (matplotlib), Markdown, HTML and PDF
(WeasyPrint), on a synthetic tracker with a week of daily history.

Usage::

    python benchmarks/bench_report.py                  # 1,000 rows, best of 3
    python benchmarks/bench_report.py --rows 5000 --repeat 1

Prints a Markdown table of wall seconds per step (best of ``--repeat``) and the PDF's size and
pages. The Gantt chart shows the first 60 tasks however large the tracker is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> None:
    from synth import best_of as timed

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--days", type=int, default=7, help="days of history before the report")
    args = ap.parse_args()

    from synth import synthetic_grid

    from sync.config import Config
    from sync.history import History
    from sync.run import sync
    from sync.weekly.charts import charts
    from sync.weekly.data import week_of
    from sync.weekly.make import collect
    from sync.weekly.render import data_uri, pdf_bytes, render_text
    from tests.fakes import MemoryBackend

    today = dt.date(2026, 6, 15)
    backend = MemoryBackend(synthetic_grid(args.rows, today))
    with tempfile.TemporaryDirectory() as tmp:
        config = Config.model_validate(
            {
                "tracker": {"backend": "xlsx", "path": "unused.xlsx"},
                "history": {"path": str(Path(tmp) / "h.sqlite")},
                "locale": "zh-CN",
            }
        )
        store = History(Path(tmp) / "h.sqlite")
        try:
            for i in range(args.days, 0, -1):
                day = today - dt.timedelta(days=i)
                sync(config, as_of=day, backend=backend, history=store, notify=False)  # type: ignore[arg-type]
        finally:
            store.close()
        period = week_of(today)
        rows: list[tuple[str, float]] = []
        t, report = timed(
            lambda: collect(config, period=period, as_of=today, backend=backend), args.repeat
        )
        rows.append(("read + build the report", t))
        t, pngs = timed(lambda: charts(report), args.repeat)
        rows.append(("charts (Gantt, trend, burn-up)", t))
        uris = {k: data_uri(v) for k, v in pngs.items()}
        t, _ = timed(lambda: render_text(report, "md", dict.fromkeys(pngs, "x.png")), args.repeat)
        rows.append(("Markdown", t))
        t, html = timed(lambda: render_text(report, "html", uris), args.repeat)
        rows.append(("HTML", t))
        t, pdf = timed(lambda: pdf_bytes(html), args.repeat)
        rows.append(("PDF (WeasyPrint)", t))
    try:
        import io

        from pypdf import PdfReader

        pages: Any = len(PdfReader(io.BytesIO(pdf)).pages)
    except ImportError:  # pypdf is in the test extra
        pages = "?"
    print(f"| rows | step | seconds (best of {args.repeat}) |")
    print("|---:|---|---:|")
    for name, seconds in rows:
        print(f"| {args.rows:,} | {name} | {seconds:.2f} |")
    print(f"\nPDF: {len(pdf) / 1024:.0f} KB, {pages} pages; {len(report.gantt)} Gantt bars")


if __name__ == "__main__":
    main()

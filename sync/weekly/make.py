"""``tracker-sync report`` with its seams: read the tracker (a run that writes nothing), read
the run store, build the report (:func:`sync.weekly.data.build`), render it, write the file."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from ..config import Config
from ..history import History
from ..rules import load_rules
from ..run import open_store, run_clock, run_locale, sync, zone
from .data import Period, ReportHistory, WeeklyReport, build, week_of
from .render import FORMATS, Format, data_uri, need, pdf_bytes, render_text, weasyprint_module

log = logging.getLogger(__name__)


def default_output(period: Period, fmt: Format) -> Path:
    """``report-2024-W12.md`` (a range: ``report-2024-03-01_2024-03-07.md``), in the cwd."""
    return Path(f"report-{period.label.replace('..', '_')}.{fmt}")


def collect(
    config: Config,
    *,
    period: Period | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    backend: Any = None,
) -> WeeklyReport:
    """The report's data: the tracker read as of ``as_of`` (default: the period's last day, or
    today when that is later) without writing anything, and the run store read-only."""
    tz = zone(config)
    if as_of is None and now is None:
        today = run_clock(tz)[0]
        as_of = min(period.until, today) if period is not None else today
    day, _ = run_clock(tz, as_of=as_of, now=now)
    period = period or week_of(day)
    result = sync(config, as_of=as_of, now=now, write=False, notify=False, backend=backend)
    history = ReportHistory()
    store = _open(config)
    if store is not None:
        try:
            changes = tuple(
                c for c in store.changes(period.since) if c.as_of <= period.until.isoformat()
            )
            states = result.history.states if result.history is not None else store.view().states
            history = ReportHistory(states=states, changes=changes)
        finally:
            store.close()
    elif result.history is not None:
        history = ReportHistory(states=result.history.states)
    return build(
        result,
        history,
        period,
        locale=run_locale(config, result.snapshot, load_rules(config.rule_dirs())),
        amber_deviation=config.thresholds.amber_deviation,
    )


def _open(config: Config) -> History | None:
    path = config.history_path()
    if path is None or not path.exists():
        return None
    store = open_store(config, readonly=True)
    if store is not None:
        store.claim(config.tracker.identity(), write=False)
    return store


def write(
    report: WeeklyReport,
    fmt: Format,
    output: Path,
    *,
    template_dir: Path | None = None,
) -> list[Path]:
    """Render ``report`` into ``output``; Markdown's charts go beside it in
    ``<stem>-charts/``. Returns the files written (the report first)."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    need("jinja2")
    if fmt == "pdf":
        weasyprint_module()
    need("matplotlib")
    from .charts import charts

    pngs = charts(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    written = [output]
    if fmt == "md":
        folder = output.with_name(f"{output.stem}-charts")
        sources = {}
        if pngs:
            folder.mkdir(exist_ok=True)
        for name, png in pngs.items():
            path = folder / f"{name}.png"
            path.write_bytes(png)
            written.append(path)
            sources[name] = f"{folder.name}/{name}.png"
        output.write_text(render_text(report, "md", sources, template_dir), encoding="utf-8")
        return written
    html = render_text(report, "html", {k: data_uri(v) for k, v in pngs.items()}, template_dir)
    if fmt == "html":
        output.write_text(html, encoding="utf-8")
    else:
        if report.locale == "zh-CN":
            from .charts import system_cjk_files

            if not system_cjk_files():
                log.warning(
                    "no CJK font is installed: the PDF's Chinese text will be missing glyphs; "
                    "install one (Debian: apt-get install fonts-noto-cjk)"
                )
        output.write_bytes(pdf_bytes(html, output.parent))
    return written


def make_report(
    config: Config,
    *,
    fmt: Format = "md",
    output: Path | None = None,
    period: Period | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    template_dir: Path | None = None,
    backend: Any = None,
) -> list[Path]:
    """The weekly report and 复盘 of ``period`` (default: this week) as a file; returns the
    files written. ``template_dir`` (default ``report.template_dir``) replaces shipped
    templates of the same name."""
    report = collect(config, period=period, as_of=as_of, now=now, backend=backend)
    folder = template_dir
    if folder is None and config.report.template_dir is not None:
        folder = config.resolve(config.report.template_dir)
    target = output or default_output(report.period, fmt)
    return write(report, fmt, target, template_dir=folder)

"""The report as Markdown, HTML or PDF: Jinja2 templates (shipped in ``templates/``, replaced
file by file from a user's folder), charts from :mod:`sync.weekly.charts`, PDF by WeasyPrint.

Jinja2, WeasyPrint and matplotlib are the optional extra ``report``, imported here only.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import warnings
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError
from ..i18n import text
from .data import LIST_LIMIT, WeeklyReport
from .words import words

log = logging.getLogger(__name__)

Format = Literal["md", "html", "pdf"]
FORMATS: tuple[Format, ...] = ("md", "html", "pdf")
TEMPLATES = Path(__file__).resolve().parent / "templates"

#: The CSS font stack (templates/report.css): CJK fonts of the usual Linux packages first.
FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", '
    '"WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei", "DejaVu Sans", sans-serif'
)


def need(module: str) -> Any:
    """Import a module of the ``report`` extra, or say which extra to install.

    >>> need("no_such_module_xyz")
    Traceback (most recent call last):
    ...
    sync.errors.ConfigError: tracker-sync report needs the optional extra "report" (no_such_module_xyz is missing): pip install 'tracker-sync[report]'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f'tracker-sync report needs the optional extra "report" ({module} is missing): '
            "pip install 'tracker-sync[report]'"
        ) from None
    except OSError as exc:  # installed, but a system library it loads is not (WeasyPrint: Pango)
        raise ConfigError(
            f"{module} is installed but cannot load a system library it needs ({exc}); for "
            "PDF reports install Pango (Debian/Ubuntu: apt install libpango-1.0-0 "
            "libpangoft2-1.0-0), or write --format html"
        ) from None


def environment(template_dir: Path | None = None, *, html: bool) -> Any:
    """A Jinja2 environment over ``template_dir`` (if given) then the shipped templates."""
    jinja2 = need("jinja2")
    folders = [str(TEMPLATES)]
    if template_dir is not None:
        if not template_dir.is_dir():
            raise ConfigError(
                f"{template_dir}: the report's template folder does not exist "
                "(report.template_dir / --template-dir)"
            )
        folders.insert(0, str(template_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        day=_day, num=_num, pct=_pct, signed=_signed, md=_md, money=_money, rate=_rate
    )
    return env


def context(report: WeeklyReport, charts: dict[str, str]) -> dict[str, Any]:
    """What every template sees: ``r`` the report, ``w`` the words, ``charts`` name -> image
    source, ``dims`` dimension -> its name, ``limit`` the longest list shown."""
    loc = report.locale
    return {
        "r": report,
        "w": words(loc),
        "charts": charts,
        "dims": {d: text(loc, f"dim.{d}") for d in ("cause", "phase", "channel", "owner")},
        "limit": LIST_LIMIT,
        "font_stack": FONT_STACK,
        "lang": "zh-CN" if loc == "zh-CN" else "en",
    }


def render_text(
    report: WeeklyReport,
    fmt: Literal["md", "html"],
    charts: dict[str, str],
    template_dir: Path | None = None,
) -> str:
    """The report as Markdown or HTML (``charts``: name -> a path or a data URI)."""
    env = environment(template_dir, html=fmt == "html")
    name = f"report.{fmt}.j2"
    jinja2 = need("jinja2")
    try:
        template = env.get_template(name)
        out: str = template.render(**context(report, charts))
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"{name}: the template uses something the report lacks: {exc}") from None
    return out


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def weasyprint_module() -> Any:
    """WeasyPrint, imported (or the error naming the extra)."""
    with warnings.catch_warnings():
        # WeasyPrint warns on import where libharfbuzz-subset is missing (a future requirement;
        # fonts are then embedded whole): not the reader's concern
        warnings.simplefilter("ignore", DeprecationWarning)
        return need("weasyprint")


def pdf_bytes(html: str, base_url: Path | None = None) -> bytes:
    """The HTML report as PDF (WeasyPrint; fonts through fontconfig)."""
    weasyprint = weasyprint_module()
    pdf: bytes = weasyprint.HTML(
        string=html, base_url=str(base_url) if base_url else None
    ).write_pdf()
    return pdf


# ---------------------------------------------------------------------------- filters


def _day(v: dt.date | None) -> str:
    return v.isoformat() if v is not None else "–"


def _num(v: float | int | None, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, int) or float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def _money(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:g}%"


def _signed(v: float | int | None) -> str:
    if v is None:
        return "–"
    return f"{v:+g}" if v else "0"


def _rate(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _md(v: object) -> str:
    """A cell for a Markdown table: no line breaks, pipes escaped, markup characters too."""
    s = "" if v is None else str(v)
    s = " ".join(s.split())
    for ch in ("\\", "|", "*", "_", "`", "[", "]", "<", ">"):
        s = s.replace(ch, "\\" + ch)
    return s

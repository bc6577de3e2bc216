"""Working days: a country's official calendar (China's 调休 make-up workdays included), the
company's own days off and workdays, and a work week; counted vectorised with numpy.

``calendar.country: none`` means calendar days (every day counts), the behaviour before
calendars existed. Counting uses :func:`numpy.busday_count` with the work week as its weekmask
and the days off that fall in it as holidays, plus the explicit workdays outside the work week
(a Saturday like 2026-02-14 in China), found by binary search: no Python loop per task.

What the ``holidays`` package says for a country and years is memoised (:func:`official`):
loading it costs ~0.1 s (it imports every country's module), more than a whole run of a small
tracker. The command line keeps that memo between runs in a small cache file
(:func:`calendar_cache`), keyed by the package's version, so a run whose years were seen
before never imports the package.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})\s*$")
#: years of holidays generated when task dates span more than this (absurd dates: typos)
_MAX_YEARS = 60
#: Where the command line keeps the holidays package's answers between runs (empty: nowhere);
#: by default ``$XDG_CACHE_HOME/tracker-sync`` (``~/.cache/tracker-sync``).
CACHE_DIR_ENV = "TRACKER_SYNC_CACHE_DIR"
#: Calendars the cache file keeps (the most recently computed first).
_CACHE_ENTRIES = 16

log = logging.getLogger(__name__)


def _dates(value: object) -> list[dt.date]:
    """One config entry: a date or ``FROM..TO`` (both included) → the dates it names."""
    if isinstance(value, dt.datetime):
        return [value.date()]
    if isinstance(value, dt.date):
        return [value]
    m = _RANGE.match(str(value))
    if m:
        lo, hi = dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])
        if hi < lo:
            raise ValueError(f"{value!r}: the range ends before it starts")
        if (hi - lo).days > 3660:
            raise ValueError(f"{value!r}: a range of more than ten years")
        return [lo + dt.timedelta(days=i) for i in range((hi - lo).days + 1)]
    try:
        return [dt.date.fromisoformat(str(value).strip())]
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD)"
        ) from None


class CalendarConfig(BaseModel):
    """Which days are working days (planned %, days late and the lead-time rules count them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``CN`` (China's official calendar, 调休 included), any country code the ``holidays``
    #: package knows (``US``, ``DE``, ``JP``…), or ``none``: calendar days, every day counts.
    country: str = "CN"
    #: Company days off: dates (``2026-06-01``) or ranges (``2026-08-03..2026-08-07``).
    extra_holidays: list[str | dt.date] = Field(default_factory=list)
    #: Company workdays (a Saturday launch): dates or ranges; they win over days off.
    extra_workdays: list[str | dt.date] = Field(default_factory=list)
    #: The usual working days of the week.
    workweek: list[str] = Field(default_factory=lambda: list(DAYS[:5]))

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        if value.lower() == "none":
            return "none"
        from holidays import registry  # the codes, without loading every country's module

        code = value.upper()
        codes = {c for names in registry.COUNTRIES.values() for c in names[1:] if c.isupper()}
        if code not in codes:
            raise ValueError(
                f"unknown country {value!r}: use none or a code the holidays package knows "
                "(CN, US, DE, JP, …)"
            )
        return code

    @field_validator("extra_holidays", "extra_workdays")
    @classmethod
    def _valid_dates(cls, value: list[str | dt.date]) -> list[str | dt.date]:
        for v in value:
            _dates(v)
        return value

    @field_validator("workweek")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        out = [v.strip().lower()[:3] for v in value]
        bad = [v for v, o in zip(value, out, strict=True) if o not in DAYS]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a day of the week (mon, tue, … sun)")
        if not out:
            raise ValueError("the work week needs at least one day")
        return out


@dataclass(frozen=True)
class WorkCalendar:
    """Working days for the years a run looks at. ``off``: days off inside the work week;
    ``extra``: workdays outside it (sorted ``datetime64[D]``)."""

    country: str
    weekmask: tuple[bool, ...]
    off: np.ndarray
    extra: np.ndarray
    warning: str | None = None
    years: frozenset[int] = field(default_factory=frozenset)
    #: the working-day index over ``years`` (see __post_init__); None without years
    _lo: np.datetime64 | None = field(default=None, init=False, repr=False, compare=False)
    _cum: np.ndarray = field(
        default_factory=lambda: np.zeros(1, dtype=np.int64), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # a working-day index over the covered years: cum[i] = working days in [lo, lo + i),
        # so a count is two lookups (busday_count with a holiday list is ~10× slower)
        if not self.years:
            return
        lo = np.datetime64(f"{min(self.years):04d}-01-01", "D")
        hi = np.datetime64(f"{max(self.years) + 1:04d}-01-01", "D")
        days = np.arange(lo, hi)
        work = np.asarray(self.weekmask)[(days.astype("int64") + 3) % 7]  # 1970-01-01: Thu
        work &= ~np.isin(days, self.off)
        work |= np.isin(days, self.extra)
        cum = np.concatenate([[0], np.cumsum(work)])
        object.__setattr__(self, "_lo", lo)
        object.__setattr__(self, "_cum", cum)

    def count(self, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working days in [begin, end) per element, negative when end < begin, as float;
        NaN where either is NaT."""
        nat = np.isnat(begin) | np.isnat(end)
        b = np.where(nat, np.datetime64("2000-01-01", "D"), begin).astype("datetime64[D]")
        e = np.where(nat, np.datetime64("2000-01-01", "D"), end).astype("datetime64[D]")
        lo, cum = self._lo, self._cum
        if lo is not None:
            bi = (b - lo).astype("int64")
            ei = (e - lo).astype("int64")
            inside = (bi >= 0) & (bi < len(cum)) & (ei >= 0) & (ei < len(cum))
            if inside.all():
                out: np.ndarray = (cum[ei] - cum[bi]).astype(float)
                out[nat] = np.nan
                return out
        n = np.busday_count(b, e, weekmask=list(self.weekmask), holidays=self.off).astype(float)
        if len(self.extra):
            lo_, hi_ = np.minimum(b, e), np.maximum(b, e)
            extra = np.searchsorted(self.extra, hi_) - np.searchsorted(self.extra, lo_)
            n += np.where(e >= b, extra, -extra)
        n[nat] = np.nan
        return n

    def is_workday(self, days: np.ndarray) -> np.ndarray:
        """True where a day is a working day (False for NaT)."""
        out: np.ndarray = self.count(days, days + np.timedelta64(1, "D")) == 1
        return out


def official_until(country: str) -> int | None:
    """The last year whose official calendar the ``holidays`` package has, for countries that
    move weekends around holidays (their later years are a rule-based guess); None otherwise.

    >>> official_until("CN") >= 2026
    True
    >>> official_until("US") is None
    True
    """
    import holidays

    h = holidays.country_holidays(country, years=[])
    if not getattr(h, "has_substituted_holidays", False):
        return None
    years = [y for y in getattr(h, "special_public_holidays", {}) if isinstance(y, int)]
    return max(years) if years else None


@dataclass(frozen=True)
class Official:
    """What the ``holidays`` package says for a country over some years: its public days off,
    its make-up workdays on weekends (调休) in those years, the last year of its official
    schedule (:func:`official_until`)."""

    off: tuple[dt.date, ...]
    work: tuple[dt.date, ...]
    until: int | None


#: (country, years) -> what the package said: filled as runs ask, and from the cache file
_OFFICIAL: dict[tuple[str, tuple[int, ...]], Official] = {}


def official(country: str, years: list[int]) -> Official:
    """The ``holidays`` package's calendar of ``country`` over ``years``, asked once per
    process (and, with :func:`calendar_cache`, once per package version and years).

    >>> official("CN", [2026]).work[:2]
    (datetime.date(2026, 1, 4), datetime.date(2026, 2, 14))
    """
    key = (country, tuple(years))
    known = _OFFICIAL.get(key)
    if known is None:
        import holidays

        h = holidays.country_holidays(country, years=years, categories=("public",))
        work = {d for d in getattr(h, "weekend_workdays", set()) if d.year in years}
        known = Official(tuple(sorted(h.keys())), tuple(sorted(work)), official_until(country))
        _OFFICIAL[key] = known
    return known


def cache_dir() -> Path | None:
    """The directory of the calendar cache (``TRACKER_SYNC_CACHE_DIR``; empty: no cache)."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env is not None:
        return Path(env) if env.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tracker-sync"


@contextmanager
def calendar_cache(directory: Path | None = None) -> Iterator[None]:
    """Around a run: the holidays package's answers from the cache file first, and the ones
    the run had to ask the package for saved afterwards. A cache that cannot be read (missing,
    damaged, of another version of the package) or written is passed over: the package is
    asked as if there were none. The file holds public holiday dates only."""
    folder = directory if directory is not None else cache_dir()
    if folder is None:
        yield
        return
    path = folder / "calendars.json"
    version = _holidays_version()
    loaded = _load_cache(path, version)
    for key, known in loaded.items():
        _OFFICIAL.setdefault(key, known)
    try:
        yield
    finally:
        new = {k: v for k, v in _OFFICIAL.items() if k not in loaded}
        if new and version is not None:
            _save_cache(path, version, [*new.items(), *loaded.items()][:_CACHE_ENTRIES])


def _holidays_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("holidays")
    except metadata.PackageNotFoundError:
        return None


def _load_cache(path: Path, version: str | None) -> dict[tuple[str, tuple[int, ...]], Official]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if version is None or data.get("holidays") != version:
            return {}
        day = dt.date.fromisoformat
        return {
            (str(c["country"]), tuple(int(y) for y in c["years"])): Official(
                tuple(map(day, c["off"])),
                tuple(map(day, c["work"])),
                None if c["until"] is None else int(c["until"]),
            )
            for c in data["calendars"]
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.debug("calendar cache %s passed over: %s", path, exc)
        return {}


def _save_cache(
    path: Path, version: str, entries: list[tuple[tuple[str, tuple[int, ...]], Official]]
) -> None:
    data = {
        "holidays": version,
        "calendars": [
            {
                "country": country,
                "years": list(years),
                "off": [d.isoformat() for d in known.off],
                "work": [d.isoformat() for d in known.work],
                "until": known.until,
            }
            for (country, years), known in entries
        ],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)  # whole or not at all: another run may read it meanwhile
    except OSError as exc:
        log.debug("calendar cache %s not written: %s", path, exc)
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def build(cfg: CalendarConfig, days: list[dt.date]) -> WorkCalendar | None:
    """The working-day calendar covering ``days`` (the as-of day and every task date); None
    for ``country: none`` (calendar days)."""
    if cfg.country == "none":
        return None
    seen = sorted({d.year for d in days})
    if seen and seen[-1] - seen[0] <= _MAX_YEARS:
        years = list(range(seen[0], seen[-1] + 1))
    else:
        years = seen
    years = [y for y in years if 1900 <= y <= 2200]
    known = official(cfg.country, years)
    mask = tuple(d in cfg.workweek for d in DAYS)
    work: set[dt.date] = set(known.work)
    for v in cfg.extra_workdays:
        work.update(_dates(v))
    off: set[dt.date] = set(known.off)
    for v in cfg.extra_holidays:
        off.update(_dates(v))
    off -= work
    off_in_week = sorted(d for d in off if mask[d.weekday()])
    extra = sorted(d for d in work if not mask[d.weekday()])
    warning = None
    until = known.until
    later = [y for y in years if until is not None and y > until]
    if later:
        shown = ", ".join(map(str, later))
        warning = (
            f"calendar {cfg.country}: the official holidays and make-up workdays for {shown} "
            f"are not published in the holidays package (it has them up to {until}); "
            "working days in those years are a rule-based guess"
        )
    return WorkCalendar(
        cfg.country,
        mask,
        np.array(off_in_week, dtype="datetime64[D]"),
        np.array(extra, dtype="datetime64[D]"),
        warning,
        frozenset(years),
    )


def calendar_days(data: pd.DataFrame, as_of: dt.date) -> list[dt.date]:
    """The as-of day and the first and last day of each task date column of a task table's
    data (the years a calendar must cover)."""
    out = [as_of]
    for c in ("planned_start", "planned_finish", "actual_start", "actual_finish"):
        if c in data.columns:
            s = data[c].dropna()
            if len(s):
                out += [s.min().date(), s.max().date()]
    return out

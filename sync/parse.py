"""Parse: find the header row, map columns by alias, turn raw cells into a typed task table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .cells import is_number
from .defaults import DEFAULT_LOCALE, LOCALES
from .errors import MissingColumns
from .i18n import generated_key, is_generated_header
from .model import Grid, nones
from .rules import RuleSet, header_keys
from .text import fold, visible

#: Whole-cell contents that mean "nothing here" (compared folded: NFKC, trimmed, case-folded).
EMPTY_TOKENS = frozenset(
    {"", "-", "--", "—", "——", "/", "na", "n/a", "n.a.", "无", "暂无", "無", "暫無", "null", "none"}
)

_HEADER_SCAN_ROWS = 30
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_FULL = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_YEARLESS = re.compile(r"^(?P<m>\d{1,2})\s*[/.月]\s*(?P<d>\d{1,2})\s*日?$")
#: 26/9/25, 9/26/2025, 26.09.2025, 26-9-25, and year-less 26/9: day or month first (the
#: column decides, see ``date_order``); a dash only with a year (3-5 is a range)
_DATE_NUMERIC = re.compile(
    r"^(?P<a>\d{1,2})\s*(?P<sep>[/.-])\s*(?P<b>\d{1,2})(?:\s*(?P=sep)\s*(?P<y>\d{4}|\d{2}))?$"
)
_MONTHS = {
    **dict.fromkeys(("jan", "january"), 1),
    **dict.fromkeys(("feb", "february"), 2),
    **dict.fromkeys(("mar", "march"), 3),
    **dict.fromkeys(("apr", "april"), 4),
    "may": 5,
    **dict.fromkeys(("jun", "june"), 6),
    **dict.fromkeys(("jul", "july"), 7),
    **dict.fromkeys(("aug", "august"), 8),
    **dict.fromkeys(("sep", "sept", "september"), 9),
    **dict.fromkeys(("oct", "october"), 10),
    **dict.fromkeys(("nov", "november"), 11),
    **dict.fromkeys(("dec", "december"), 12),
}
_ORDINAL = r"(?:st|nd|rd|th)?"
#: 24th Sept, 1 April, 3 Sept 2025, 1st of May, 24-Sep-25 (day, month name, optional year)
_DATE_NAMED_DAY_FIRST = re.compile(
    rf"^(?P<d>\d{{1,2}}){_ORDINAL}(?:\s+of)?[\s/.-]*(?P<mon>[a-z]+)\.?"
    r"(?:[\s,/.-]+(?P<y>\d{4}|\d{2}))?$"
)
#: Sept 24, April 1st 2025, Sep 3, 2025 (month name, day, optional four-digit year)
_DATE_NAMED_MONTH_FIRST = re.compile(
    rf"^(?P<mon>[a-z]+)\.?[\s/.-]*(?P<d>\d{{1,2}}){_ORDINAL}(?:[\s,/.-]+(?P<y>\d{{4}}))?$"
)
_DATE_DIGITS = re.compile(r"^(?P<n>\d{5,8})$")
#: a number, an optional %, then an optional note that must not start like a range or a
#: ratio ("50-60%", "3 / 5", "50~60%", "50到60%" are not one progress figure)
_PROGRESS = re.compile(
    r"^(?P<n>[+-]?\d+(?:\.\d+)?)\s*(?P<pct>%)?\s*(?P<note>(?:[^\s\d\-~/.～至到].*)?)$", re.S
)
_LEADING_SYMBOLS = re.compile(r"^[^\w]+")
_TRAILING_HINT = re.compile(r"\([^()]*\)$")


@dataclass
class Table:
    """The tracker as typed columns, one row per task, indexed by the sheet's 1-based row number.

    ``data`` holds the typed value of every canonical column (NaT / NaN / None when empty or
    unreadable), ``cells`` the raw values, ``present`` whether a cell holds anything other than
    an empty token, and ``invalid`` whether it holds something that is not of the column's type.
    """

    data: pd.DataFrame
    cells: pd.DataFrame
    present: pd.DataFrame
    invalid: pd.DataFrame
    kinds: dict[str, str]
    headers: dict[str, str]
    positions: dict[str, int]
    header_row: int
    human_cols: list[int]
    generated_cols: dict[str, int]
    n_grid_rows: int
    last_used_col: int = -1
    extra_columns: dict[str, int] = field(default_factory=dict)
    #: The job's task ID already in each row (None where there is none yet).
    ids: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    #: (sheet row, column) of formula cells without a calculated result (see Grid).
    uncalculated: frozenset[tuple[int, str]] = frozenset()
    #: canonical column -> (0-based column, header text) of every header cell naming it, when
    #: more than one does (the first is the one read; the others stay the team's own columns)
    duplicate_headers: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    #: date column -> (day first, month first) of each cell that reads two ways (else None);
    #: only columns that have such a cell
    ambiguous: dict[str, pd.Series] = field(default_factory=dict)
    #: date column -> how it writes numeric days ("dmy" / "mdy"), where its cells settle it
    date_orders: dict[str, str] = field(default_factory=dict)
    #: sheet rows that repeat the header further down (a copied block): skipped, not tasks
    repeated_header_rows: tuple[int, ...] = ()
    #: canonical column -> its cells factorized (parse's, shared with the texts validate
    #: reads); not copied by ``dataclasses.replace``, which may change the cells
    _factors: dict[str, _Factored] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __len__(self) -> int:
        return len(self.data)

    def with_history(self, ids: pd.Series, columns: pd.DataFrame) -> Table:
        """The table with its final task IDs and the history columns filled in."""
        # shallow copies: pandas copies on write, so setting a column leaves self's as it was
        data = self.data.copy(deep=False)
        cells = self.cells.copy(deep=False)
        present = self.present.copy(deep=False)
        for name in columns.columns:
            if name in data.columns:
                data[name] = columns[name]
                cells[name] = _as_cells(columns[name])
                present[name] = columns[name].notna()
        t = replace(self, data=data, cells=cells, present=present, ids=ids.astype(object))
        t.__dict__.pop("_texts", None)
        t.__dict__.pop("_shown", None)
        t._factors.update((k, f) for k, f in self._factors.items() if k not in columns.columns)
        return t

    @property
    def rows(self) -> pd.Index:
        return self.data.index

    def display(self, col: str, index: pd.Index | None = None) -> pd.Series:
        """The cells of ``col`` as a person sees them (for messages); a readable progress cell
        as its percentage (a 0.5 in a percent-formatted cell shows as 50%)."""
        if index is None:
            return pd.Series(
                self.display_at(col, np.arange(len(self))), index=self.rows, name=col, dtype=object
            )
        at = pd.Series(np.arange(len(self)), index=self.rows).loc[index].to_numpy()
        return pd.Series(self.display_at(col, at), index=index, name=col, dtype=object)

    def display_at(self, col: str, positions: np.ndarray) -> np.ndarray:
        """:meth:`display` of the rows at 0-based ``positions`` (an object array)."""
        codes, texts = self._shown[col]
        shown: np.ndarray = texts[positions] if codes is None else texts[codes[positions]]
        if self.kinds.get(col) == "percent" and col in self.data.columns:
            cells = self.cells[col].to_numpy(dtype=object)[positions]
            numeric = np.fromiter(map(_is_int_or_float, cells), dtype=bool, count=len(cells))
            value = np.asarray(self.data[col], dtype=float)[positions]
            rows = numeric & ~np.isnan(value)
            if rows.any():
                # each distinct number formatted once; by bit pattern, so -0.0 stays "-0%"
                codes, uniques = pd.factorize(value[rows].view(np.int64))
                pct = np.array([f"{v:g}%" for v in uniques.view(float).tolist()], dtype=object)
                shown[rows] = pct[codes]
        return shown

    def factored(self, col: str) -> _Factored:
        """The cells of ``col`` as codes into their distinct values (made once per column)."""
        f = self._factors.get(col)
        if f is None:
            f = self._factors[col] = _Factored.of(self.cells[col])
        return f

    def text(self, col: str) -> pd.Series:
        """Normalised text of ``col`` ('' when empty)."""
        return self._texts[col]

    def text_codes(self, col: str) -> tuple[np.ndarray, list[str]]:
        """:meth:`text` as codes into per-code texts (-1: ''); two codes may share a text."""
        return self._texts.codes(col)

    def text_map(self, col: str, fn: Callable[[str], Any], dtype: Any = object) -> np.ndarray:
        """``fn`` of each row's :meth:`text`, called once per distinct cell.

        >>> from sync.rules import load_rules, shipped_rules_dir
        >>> g = Grid("T", [["推广阶段", "推广渠道", "核心任务", "任务描述", "负责人", "计划开始时间", "计划完成时间"],
        ...                 ["筹备期", "小红书", "笔记", "发3篇", " Ａ ", "3/1", "3/10"],
        ...                 ["预热期", "微博", "笔记", "发3篇", "-", "3/1", "3/10"]])
        >>> parse(g, load_rules([shipped_rules_dir()]), dt.date(2024, 3, 5)).text_map("owner", len)
        array([1, 0], dtype=object)
        """
        codes, texts = self.text_codes(col)
        per = np.empty(len(texts) + 1, dtype=dtype)
        per[:-1] = [fn(t) for t in texts]
        per[-1] = fn("")
        out: np.ndarray = per[codes]
        return out

    @cached_property
    def _texts(self) -> _TextCache:
        return _TextCache(self)

    @cached_property
    def _shown(self) -> _ShownCache:
        return _ShownCache(self)


class _TextCache(dict[str, pd.Series]):
    def __init__(self, table: Table) -> None:
        super().__init__()
        self._table = table
        self._codes: dict[str, tuple[np.ndarray, list[str]]] = {}

    def codes(self, col: str) -> tuple[np.ndarray, list[str]]:
        if col not in self._codes:
            f = self._table.factored(col)
            present = self._table.present[col].to_numpy(dtype=bool)
            self._codes[col] = (
                np.where(present, f.codes, -1),
                [norm(u) or "" for u in f.uniques],
            )
        return self._codes[col]

    def __missing__(self, col: str) -> pd.Series:
        codes, texts = self.codes(col)
        t = pd.Series(np.array([*texts, ""], dtype=object)[codes], index=self._table.rows)
        t = t.where(self._table.present[col], "")
        self[col] = t
        return t


class _ShownCache(dict[str, tuple[np.ndarray | None, np.ndarray]]):
    """Column -> (codes, text of each code) of its cells as people see them (the last text is
    a blank cell's); (None, text of each row) for a column whose cells are mapped one by one
    (booleans: factorize would merge True with 1; blanks other than None / NaN; unhashable)."""

    def __init__(self, table: Table) -> None:
        super().__init__()
        self._table = table

    def __missing__(self, col: str) -> tuple[np.ndarray | None, np.ndarray]:
        f = self._table.factored(col)
        values = self._table.cells[col].to_numpy(dtype=object)
        blanks = values[f.codes == -1]
        entry: tuple[np.ndarray | None, np.ndarray]
        if f.exact and all(v is None or (isinstance(v, float) and v != v) for v in blanks):
            entry = (f.codes, np.array([*map(cell_text, f.uniques), ""], dtype=object))
        else:
            entry = (None, np.array([cell_text(v) for v in values], dtype=object))
        self[col] = entry
        return entry


def _is_int_or_float(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _as_cells(s: pd.Series) -> pd.Series:
    """A typed history column as raw cells (objects, None where empty).

    Dates repeat (a first run's first_seen is one day for every task), so each distinct one
    is boxed as a Timestamp once and shared: boxing 100k datetimes one by one costs ~0.1 s a
    column. Other dtypes go through ``astype(object)``.
    """
    if not pd.api.types.is_datetime64_any_dtype(s):
        return s.astype(object).where(s.notna(), None)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    boxed = np.empty(len(uniques) + 1, dtype=object)  # the last slot (code -1) stays None
    boxed[: len(uniques)] = list(pd.Index(uniques).astype(object))
    return pd.Series(boxed[codes], index=s.index, name=s.name, dtype=object)


def cell_text(value: Any) -> str:
    """A raw cell as text: dates as YYYY-MM-DD, whole floats without '.0', None as ''."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return visible(str(value))


# ---------------------------------------------------------------------------- header


def header_column(value: object, index: Mapping[str, str]) -> str | None:
    """The canonical column a header cell names (``index``: :meth:`RuleSet.alias_index`);
    None for an empty cell, a generated column's header or a header no column knows."""
    if value is None or is_generated_header(value):
        return None
    return next((index[k] for k in header_keys(value) if k in index), None)


def find_header(grid: Grid, ruleset: RuleSet) -> tuple[int, dict[str, int]]:
    """The 0-based header row and canonical column -> 0-based column index."""
    index = ruleset.alias_index()
    best_row = -1
    best_map: dict[str, int] = {}
    for r, row in enumerate(grid.rows[:_HEADER_SCAN_ROWS]):
        mapping: dict[str, int] = {}
        for c, value in enumerate(row):
            name = header_column(value, index)
            if name is not None:
                mapping.setdefault(name, c)
        if len(mapping) > len(best_map):
            best_row, best_map = r, mapping
    required = [n for n, spec in ruleset.columns.items() if spec.required]
    missing = [n for n in required if n not in best_map]
    if best_row < 0 or len(best_map) < 3 or missing:
        raise MissingColumns(_missing_message(grid, ruleset, best_row, missing or required))
    return best_row, best_map


def duplicate_headers(
    header: list[Any], positions: dict[str, int], ruleset: RuleSet
) -> dict[str, tuple[tuple[int, str], ...]]:
    """Canonical columns that more than one header cell names -> (column, header text) of each,
    the one read (the first) first.

    >>> from sync.rules import load_rules, shipped_rules_dir
    >>> rs = load_rules([shipped_rules_dir()])
    >>> duplicate_headers(["核心任务", "负责人", "计划开始时间", " Owner"], {"task": 0, "owner": 1}, rs)
    {'owner': ((1, '负责人'), (3, 'Owner'))}
    """
    index = ruleset.alias_index()
    found: dict[str, list[tuple[int, str]]] = {}
    for c, value in enumerate(header):
        name = header_column(value, index)
        if name is not None and name in positions:
            found.setdefault(name, []).append((c, cell_text(value).strip()))
    return {name: tuple(cols) for name, cols in found.items() if len(cols) > 1}


def _missing_message(grid: Grid, ruleset: RuleSet, row: int, missing: list[str]) -> str:
    expected = "; ".join(
        " / ".join(ruleset.columns[n].title(locale) for locale in LOCALES) + f" ({n})"
        for n in missing
    )
    if row < 0:
        row = next(
            (
                i
                for i, r in enumerate(grid.rows[:_HEADER_SCAN_ROWS])
                if any(v not in (None, "") for v in r)
            ),
            -1,
        )
    holds = [cell_text(v) for v in grid.rows[row]] if row >= 0 else []
    holds_text = ", ".join(repr(h) for h in holds if h) or "nothing"
    where = f"row {row + 1}" if row >= 0 else "the first rows"
    return (
        f"tab {grid.title!r}: missing required column(s): {expected}.\n"
        f"The header row ({where}) holds: {holds_text}.\n"
        "Rename the header to one of the names above (or add an alias in your rule folder's columns.yaml)."
    )


# ---------------------------------------------------------------------------- cells
#
# Cell values repeat a lot (phases, owners, statuses, dates), so each column is factorized and
# the scalar parsers below run once per distinct value; results are spread back by code.


def _cell_str(value: Any) -> str | None:
    """A cell as the text it shows; None for a blank cell (None or NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return visible(value) if isinstance(value, str) else cell_text(value)


def norm(value: Any) -> str | None:
    """Folded text of a cell (:func:`sync.text.fold` of what it shows); None for a blank cell.

    >>> norm(" Ｎ/Ａ "), norm(3.0), norm(None)
    ('n/a', '3', None)
    """
    s = _cell_str(value)
    return None if s is None else fold(s)


def is_present(value: Any) -> bool:
    """A cell holds something other than blank or an empty token (-, /, NA, N/A, 无, ...)."""
    t = norm(value)
    return t is not None and t not in EMPTY_TOKENS


#: The days a tracker can hold; anything else is a typo (and beyond what pandas can store).
DATE_MIN, DATE_MAX = dt.date(1970, 1, 1), dt.date(2200, 12, 31)
#: Year-less days are read in a leap year (so 2/29 survives) and get their year later.
_LEAP_YEAR = 2000


#: How a column writes numeric days: "dmy" (26/9/25), "mdy" (9/26/25), or None (unknown).
DateOrder = str | None


def parse_date_value(value: Any, year: int, order: DateOrder = None) -> tuple[dt.date | None, bool]:
    """One cell -> (date, year_less). Year-less forms (3/1, 3月1日, 6.29, 24th Sept) get
    ``year``. A numeric day that reads two ways (3/2/25) follows ``order``, the column's
    (:func:`date_order`); without one a year-less day is month first (3/1 = 3月1日) and a day
    with a year is unreadable (:func:`date_readings` gives both readings). Days outside
    1970–2200 are not dates a tracker holds: None.

    >>> parse_date_value("2024年3月1日", 2000), parse_date_value("3/1", 2024)
    ((datetime.date(2024, 3, 1), False), (datetime.date(2024, 3, 1), True))
    >>> parse_date_value("26/9/25", 2000), parse_date_value("3/2/25", 2000, "dmy")
    ((datetime.date(2025, 9, 26), False), (datetime.date(2025, 2, 3), False))
    >>> parse_date_value("24th Sept", 2000), parse_date_value("3/2/25", 2000)
    ((datetime.date(2000, 9, 24), True), (None, False))
    """
    day, yearless = _parse_date(value, year, order)
    if day is not None and not DATE_MIN <= day <= DATE_MAX:
        return None, False
    return day, yearless


def date_order(values: Iterable[Any]) -> DateOrder:
    """How a column writes numeric days: "dmy" when some day in it can only be read day first
    (26/9/25: there is no month 26), "mdy" when some can only be read month first (9/26/25);
    None when nothing settles it, or both occur.

    >>> date_order(["26/9/25", "3/10/25"]), date_order(["3/10/25", "9/26"]), date_order(["3/1"])
    ('dmy', 'mdy', None)
    """
    seen: set[str] = set()
    for value in values:
        numeric = _numeric_day(value)
        if numeric is not None:
            a, b, y = numeric
            day_first, month_first = (
                _safe_date(y or _LEAP_YEAR, b, a),
                _safe_date(y or _LEAP_YEAR, a, b),
            )
            if day_first is None and month_first is not None:
                seen.add("mdy")
            elif month_first is None and day_first is not None:
                seen.add("dmy")
    return next(iter(seen)) if len(seen) == 1 else None


def date_readings(value: Any) -> tuple[dt.date, dt.date] | None:
    """(day first, month first) for a day with a year that reads two ways (3/2/25); None for
    anything else.

    >>> date_readings("3/2/25")
    (datetime.date(2025, 2, 3), datetime.date(2025, 3, 2))
    """
    numeric = _numeric_day(value)
    if numeric is None:
        return None
    a, b, y = numeric
    if y is None:
        return None
    day_first, month_first = _safe_date(y, b, a), _safe_date(y, a, b)
    if day_first is None or month_first is None or day_first == month_first:
        return None
    if not all(DATE_MIN <= d <= DATE_MAX for d in (day_first, month_first)):
        return None
    return day_first, month_first


def _numeric_day(value: Any) -> tuple[int, int, int | None] | None:
    """(first number, second number, year or None) of a text day like 26/9/25 or 26/9."""
    if not isinstance(value, str):
        return None
    m = _DATE_NUMERIC.match(norm(value) or "")
    if m is None or (m["sep"] == "-" and m["y"] is None):
        return None
    return int(m["a"]), int(m["b"]), None if m["y"] is None else _full_year(m["y"])


def _full_year(text: str) -> int:
    """A year as typed: 25 is 2025, 99 is 1999 (two digits: 1970–2069)."""
    y = int(text)
    if len(text) > 2:
        return y
    return 2000 + y if y < 70 else 1900 + y


def _parse_date(value: Any, year: int, order: DateOrder = None) -> tuple[dt.date | None, bool]:
    if isinstance(value, dt.datetime):
        return value.date(), False
    if isinstance(value, dt.date):
        return value, False
    if isinstance(value, float) and value == value and not value.is_integer() and 1 <= value < 13:
        # 6.29 typed into a cell becomes the number 6.29: month.day, as the text "6.29" reads
        return _parse_date(repr(value), year, order)
    if is_number(value):
        try:
            return _date_from_number(float(value)), False
        except OverflowError:
            return None, False
    t = norm(value)
    if t is None or t in EMPTY_TOKENS:
        return None, False
    m = _DATE_FULL.match(t)
    if m:
        return _safe_date(int(m["y"]), int(m["m"]), int(m["d"])), False
    numeric = _numeric_day(t)
    if numeric is not None:
        a, b, y = numeric
        yearless = y is None
        full = year if y is None else y
        day = _one_reading(_safe_date(full, b, a), _safe_date(full, a, b), order, yearless)
        return day, day is not None and yearless
    m = _DATE_YEARLESS.match(t)
    if m:
        d = _safe_date(year, int(m["m"]), int(m["d"]))
        return d, d is not None
    m = _DATE_NAMED_DAY_FIRST.match(t) or _DATE_NAMED_MONTH_FIRST.match(t)
    if m and m["mon"] in _MONTHS:
        yearless = m["y"] is None
        d = _safe_date(year if yearless else _full_year(m["y"]), _MONTHS[m["mon"]], int(m["d"]))
        return d, d is not None and yearless
    m = _DATE_DIGITS.match(t)
    if m:
        return _date_from_number(float(m["n"])), False
    return None, False


def _one_reading(
    day_first: dt.date | None, month_first: dt.date | None, order: DateOrder, yearless: bool
) -> dt.date | None:
    """The day a numeric date means: the only valid reading, else the column's order; with
    neither, a year-less day is month first (3/1 = 3月1日) and one with a year is unreadable."""
    if day_first is None or month_first is None or day_first == month_first:
        return day_first or month_first
    if order == "dmy":
        return day_first
    if order == "mdy" or yearless:
        return month_first
    return None


def _date_from_number(n: float) -> dt.date | None:
    """An Excel / Sheets serial day number, or yyyymmdd written as a number."""
    if 19000101 <= n <= 21001231 and n == int(n):
        v = int(n)
        return _safe_date(v // 10000, v // 100 % 100, v % 100)
    if 1 <= n < 2958466:
        return _EXCEL_EPOCH + dt.timedelta(days=int(n))
    return None


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def parse_percent_value(value: Any) -> tuple[float | None, str | None]:
    """One cell -> (percent, note). ``60%(2篇已发布)`` -> (60.0, '(2篇已发布)').

    A bare number strictly between 0 and 1 is read as a fraction (0.5 -> 50): nobody reports
    half a percent of progress. Cells formatted as percentages are scaled by the caller.
    """
    if is_number(value):
        try:
            v = float(value)
        except OverflowError:  # an integer beyond float range: not a percentage
            return None, None
        return (v * 100 if 0 < v < 1 else v), None
    if not isinstance(value, str):
        return None, None
    m = _PROGRESS.match(fold(value, keep_case=True))  # the note keeps its case
    if not m:
        return None, None
    v = float(m["n"])
    if m["pct"] is None and 0 < v < 1:
        v *= 100
    note = m["note"].strip() or None
    return v, note


def parse_status_value(value: Any, words: Mapping[str, str]) -> str | None:
    """One cell -> canonical status id: 进行中 / in progress / ✅ / 已完成(延期2天) ...

    ``words`` maps folded status words to ids (:meth:`sync.rules.RuleSet.status_words`).

    >>> words = {"进行中": "in_progress", "inprogress": "in_progress", "✅": "completed"}
    >>> [parse_status_value(v, words) for v in ("In Progress", "✅️", "进行中(80%)", "?")]
    ['in_progress', 'completed', 'in_progress', None]
    """
    s = _cell_str(value)
    if s is None:
        return None
    key = fold(s, spaces=False)
    hit = words.get(key)
    if hit is None:
        stripped = _LEADING_SYMBOLS.sub("", _TRAILING_HINT.sub("", key))
        stripped = re.sub(r"[^\w]+$", "", stripped)
        hit = words.get(stripped) or words.get(re.sub(r"\w+", "", key))
    return hit


_TRUE = {"是", "y", "yes", "true", "1", "✓", "✔", "√", "☑", "关键", "重点", "key", "x"}
_FALSE = {"否", "n", "no", "false", "0", "✗", "×", "非关键", "一般"}


def parse_bool_value(value: Any) -> bool | None:
    """One cell -> True / False (是/否, Y/N, ✓, 关键 ...); None when it is neither."""
    if isinstance(value, bool):
        return value
    t = norm(value)
    if t is None:
        return None
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    return None


def parse_number_value(value: Any) -> float | None:
    """One cell -> number. Accepts 1,200 / ¥5000 / 5万 / 1.5k."""
    if is_number(value):
        return float(value)
    t = norm(value)
    if t is None:
        return None
    m = _NUMBER.match(re.sub(r"[,\s¥$€£元]", "", t))
    if not m:
        return None
    return float(m["n"]) * _UNITS.get(m["unit"] or "", 1.0)


_NUMBER = re.compile(r"^(?P<n>[+-]?\d+(?:\.\d+)?)(?P<unit>万|w|千|k|亿)?$")
_UNITS = {"万": 1e4, "w": 1e4, "千": 1e3, "k": 1e3, "亿": 1e8}


@dataclass(frozen=True)
class _Factored:
    """A column as codes into its distinct values (-1 for blank: None, NaN, NaT).

    ``exact`` is False when the uniques are not the cells themselves: a column holding
    booleans reads each as its text (factorize would merge True with 1), one holding
    unhashable oddities reads every cell as text.
    """

    codes: np.ndarray
    uniques: list[Any]
    index: pd.Index
    exact: bool = True

    @classmethod
    def of(cls, s: pd.Series) -> _Factored:
        return cls.of_values(s.to_numpy(dtype=object), s.index)

    @classmethod
    def of_values(cls, values: np.ndarray, index: pd.Index) -> _Factored:
        try:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
        except TypeError:  # unhashable oddities: fall back to text
            return cls._of_texts(values, index)
        if _has_bools(values, codes, uniques):
            # factorize would merge True with 1 and False with 0: read a checkbox as its text
            values = np.array(
                [("TRUE" if v else "FALSE") if isinstance(v, bool) else v for v in values],
                dtype=object,
            )
            try:
                codes, uniques = pd.factorize(values, use_na_sentinel=True)
            except TypeError:
                return cls._of_texts(values, index)
            return cls(_small(codes), list(uniques), index, exact=False)
        return cls(_small(codes), list(uniques), index)

    @classmethod
    def _of_texts(cls, values: np.ndarray, index: pd.Index) -> _Factored:
        texts = np.array([cell_text(v) if v is not None else None for v in values], dtype=object)
        codes, uniques = pd.factorize(texts, use_na_sentinel=True)
        return cls(_small(codes), list(uniques), index, exact=False)

    def take(self, keep: np.ndarray) -> _Factored:
        """The rows where ``keep`` holds, with only the distinct values they use."""
        codes = self.codes[keep]
        used = np.zeros(len(self.uniques) + 1, dtype=bool)
        used[codes] = True  # code -1 marks the last slot
        used = used[:-1]
        if used.all():
            return _Factored(codes, self.uniques, self.index[keep], self.exact)
        remap = np.full(len(self.uniques) + 1, -1, dtype=codes.dtype)
        remap[:-1][used] = np.arange(int(used.sum()), dtype=codes.dtype)
        uniques = [u for u, k in zip(self.uniques, used.tolist(), strict=True) if k]
        return _Factored(remap[codes], uniques, self.index[keep], self.exact)

    def spread(self, per_unique: list[Any], blank: Any, dtype: Any = object) -> pd.Series:
        return pd.Series(self.spread_array(per_unique, blank, dtype), index=self.index)

    def spread_array(self, per_unique: list[Any], blank: Any, dtype: Any = object) -> np.ndarray:
        arr = np.empty(len(per_unique) + 1, dtype=dtype)
        arr[: len(per_unique)] = per_unique
        arr[-1] = blank
        out: np.ndarray = arr[self.codes]
        return out


def _small(codes: np.ndarray) -> np.ndarray:
    """Codes as 32-bit integers (half the memory of factorize's: a table keeps one array of
    them per column)."""
    return codes.astype(np.int32)


def _has_bools(values: np.ndarray, codes: np.ndarray, uniques: np.ndarray) -> bool:
    """Whether any cell is a bool. Factorizing merges True with 1 and False with 0, so only
    cells whose distinct value is a bool or a 0 / 1 number need looking at."""
    suspect = [
        i
        for i, u in enumerate(uniques)
        if isinstance(u, bool | int | float | np.number) and (u == 0 or u == 1)
    ]
    if not suspect:
        return False
    rows = values[np.isin(codes, suspect)]
    return bool in set(map(type, rows))


def present_mask(s: pd.Series) -> pd.Series:
    """True where a raw cell holds something other than blank or an empty token."""
    f = _Factored.of(s)
    return f.spread([is_present(u) for u in f.uniques], False, bool)


# ---------------------------------------------------------------------------- column parsers
#
# A column type is read by one registered, vectorised function (the way sync.checks registers
# check kinds): it gets the column's raw cells and returns the typed values plus the parse
# findings, i.e. which filled cells do not read as the type (the ``type`` rule reports them).


@dataclass(frozen=True)
class ColumnContext:
    """What a column parser may know besides its cells."""

    #: True where the cell holds something other than blank or an empty token
    present: pd.Series
    #: folded status word -> status id (``RuleSet.status_words``)
    words: Mapping[str, str] = field(default_factory=dict)
    grid: Grid | None = None
    #: the column's 0-based position in the sheet (None when the sheet lacks it)
    position: int | None = None
    #: the cells already factorized (parse shares the codes it made for the present masks)
    factored: _Factored | None = None

    def factor(self, cells: pd.Series) -> _Factored:
        """``cells`` as codes into their distinct values (the shared ones when given)."""
        return self.factored if self.factored is not None else _Factored.of(cells)

    def percent_rows(self) -> list[int]:
        """The sheet rows (1-based) where this column's cell is formatted as a percentage."""
        if self.position is None or self.grid is None or not self.grid.percent_cells:
            return []
        return [r + 1 for (r, c) in self.grid.percent_cells if c == self.position]


@dataclass(frozen=True)
class Parsed:
    """A column read as its type.

    ``values``: the typed value per row (NaT / NaN / None where the cell is empty or unreadable);
    ``invalid``: a filled cell that does not read as the type; ``extra``: further columns, named
    ``<column>_<key>`` in the table (the progress note); ``yearless``: days typed without a year
    (they take their year from the row, see ``_fill_years``); ``ambiguous`` and ``order``: see
    :func:`parse_dates`.
    """

    values: pd.Series
    invalid: pd.Series
    extra: dict[str, pd.Series] = field(default_factory=dict)
    yearless: pd.Series | None = None
    #: (dates) both readings of a day that reads two ways (3/2/25), else None; such a cell is
    #: invalid too
    ambiguous: pd.Series | None = None
    #: (dates) how the column writes numeric days ("dmy" / "mdy"), when its cells settle it
    order: DateOrder = None


ParserFn = Callable[[pd.Series, ColumnContext], Parsed]

#: column type -> the function that reads a column of that type
PARSERS: dict[str, ParserFn] = {}


def parser(kind: str) -> Callable[[ParserFn], ParserFn]:
    """Register the function that reads columns of type ``kind`` (``ColumnSpec.type``)."""

    def deco(fn: ParserFn) -> ParserFn:
        PARSERS[kind] = fn
        return fn

    return deco


def _typed(values: pd.Series, ctx: ColumnContext, empty: Any = np.nan, **more: Any) -> Parsed:
    """Blank the empty cells' values; a filled cell without a value is unreadable."""
    values = values.where(ctx.present, empty)
    return Parsed(values, ctx.present & values.isna(), **more)


@parser("date")
def parse_dates(cells: pd.Series, ctx: ColumnContext) -> Parsed:
    """Days in any form people type (see ``parse_date_value``); 3/1 is marked year-less.

    Numeric days are read in the order the column settles (:func:`date_order`: 26/9/25 makes
    it day first, so 3/10/25 is 3 October); a day with a year that still reads two ways is
    unreadable, and ``ambiguous`` holds its two readings (the rule ``ambiguous-date``)."""
    f = ctx.factor(cells)
    order = date_order(f.uniques)
    parsed = [parse_date_value(u, _LEAP_YEAR, order) for u in f.uniques]
    days = f.spread(
        [np.datetime64(d, "D") if d else np.datetime64("NaT") for d, _ in parsed],
        np.datetime64("NaT"),
        "datetime64[D]",
    )
    yearless = f.spread([y for _, y in parsed], False, bool)
    readings = [
        None if d else date_readings(u) for u, (d, _) in zip(f.uniques, parsed, strict=True)
    ]
    ambiguous = f.spread(readings, None).where(ctx.present, None) if any(readings) else None
    return _typed(
        days.astype("datetime64[ns]"), ctx, yearless=yearless, ambiguous=ambiguous, order=order
    )


@parser("percent")
def parse_percents(cells: pd.Series, ctx: ColumnContext) -> Parsed:
    """Percentages (60%, 0.6, 60%(note)); the text after the figure becomes ``<column>_note``."""
    f = ctx.factor(cells)
    parsed = [parse_percent_value(u) for u in f.uniques]
    value = f.spread([np.nan if v is None else v for v, _ in parsed], np.nan, float)
    sheet_rows = ctx.percent_rows()
    if sheet_rows:
        # a number in a percent-formatted cell is a fraction: 0.6 shows as 60 %
        numeric = f.spread([is_number(u) for u in f.uniques], False, bool)
        scaled = cells.index.isin(sheet_rows) & numeric.to_numpy()
        value[scaled] = cells[scaled].astype(float) * 100
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = value.round(6)
    value = rounded.where(np.isfinite(rounded), value)  # absurd numbers stay as typed
    note = f.spread([n for _, n in parsed], None)
    return _typed(value, ctx, extra={"note": note})


@parser("status")
def parse_statuses(cells: pd.Series, ctx: ColumnContext) -> Parsed:
    """Status words of the rule pack's ``status`` column, as status ids."""
    f = ctx.factor(cells)
    return _typed(f.spread([parse_status_value(u, ctx.words) for u in f.uniques], None), ctx, None)


@parser("number")
def parse_numbers(cells: pd.Series, ctx: ColumnContext) -> Parsed:
    """Numbers with separators, currency and units (1,200 / ¥5000 / 5万)."""
    f = ctx.factor(cells)
    return _typed(f.spread([parse_number_value(u) for u in f.uniques], np.nan, float), ctx)


@parser("bool")
def parse_bools(cells: pd.Series, ctx: ColumnContext) -> Parsed:
    """Checkboxes and yes/no words (是/否, Y/N, ✓)."""
    f = ctx.factor(cells)
    return _typed(f.spread([parse_bool_value(u) for u in f.uniques], None), ctx, None)


@parser("text")
def parse_texts(cells: pd.Series, ctx: ColumnContext) -> Parsed:
    """Text as typed, trimmed; any filled cell reads as text."""
    f = ctx.factor(cells)
    values = f.spread([u.strip() if isinstance(u, str) else cell_text(u) for u in f.uniques], None)
    return Parsed(values.where(ctx.present, None), pd.Series(False, index=cells.index))


def _unfilled(kind: str, index: pd.Index) -> Parsed:
    """A column the run store fills in later (``source: history``, see sync.timeline)."""
    values = pd.Series(np.nan, index=index, dtype="datetime64[ns]" if kind == "date" else object)
    return Parsed(values, pd.Series(False, index=index))


# ---------------------------------------------------------------------------- table


def parse(
    grid: Grid, ruleset: RuleSet, as_of: dt.date, anchors: dict[str, int] | None = None
) -> Table:
    """Build the task table from a tab.

    >>> from sync.rules import load_rules, shipped_rules_dir
    >>> g = Grid("T", [["推广阶段", "推广渠道", "核心任务", "任务描述", "负责人", "计划开始时间",
    ...                  "计划完成时间", "当前进度", "完成状态"],
    ...                 ["筹备期", "小红书", "笔记", "发3篇", "王丽", "2024-03-01", "3/10", "60%", "进行中"]])
    >>> t = parse(g, load_rules([shipped_rules_dir()]), dt.date(2024, 3, 5))
    >>> t.data.loc[2, "planned_finish"].date(), t.data.loc[2, "progress"], t.data.loc[2, "status"]
    (datetime.date(2024, 3, 10), np.float64(60.0), 'in_progress')
    """
    header_row, positions = find_header(grid, ruleset)
    header = grid.rows[header_row]
    layout = _layout(header, positions, anchors or {})
    frame = _body(grid, header_row, width=max(layout.human, default=0) + 1)
    last_used = _last_used_col(frame, header, layout)
    # each human column factorized once: the present masks, the repeated-header test, the
    # column parsers and validate's texts all work on its distinct values
    factors = {c: _Factored.of(frame[c]) for c in layout.human}
    keep, present_by_col = _task_rows(factors, frame.index)
    repeated = keep & _repeated_header(frame, factors, header, layout.human)
    keep &= ~repeated
    repeated_rows = tuple(int(r) for r in frame.index[repeated.to_numpy()])
    kept = keep.to_numpy()
    frame = frame[kept]
    cells, present, factored = _canonical_cells(
        frame, kept, present_by_col, factors, ruleset, positions
    )
    uncalculated = _uncalculated(grid, positions, frame.index)
    for row, key in uncalculated:  # it holds a formula: not empty, just not readable
        if key in present.columns:
            present.loc[row, key] = True
    typed = _typed_columns(cells, present, factored, ruleset, grid, positions, as_of)
    table = Table(
        data=pd.DataFrame(typed.data, index=frame.index, copy=False),
        cells=cells,
        present=present,
        invalid=pd.DataFrame(typed.invalid, index=frame.index, copy=False),
        kinds=typed.kinds,
        headers=_headers(header, positions, ruleset),
        positions=positions,
        header_row=header_row,
        human_cols=layout.human,
        generated_cols=layout.generated,
        n_grid_rows=len(grid.rows),
        last_used_col=last_used,
        extra_columns=layout.extra,
        ids=_task_ids(frame, layout.generated).astype(object),
        uncalculated=uncalculated,
        duplicate_headers=duplicate_headers(header, positions, ruleset),
        ambiguous=typed.ambiguous,
        date_orders=typed.orders,
        repeated_header_rows=repeated_rows,
    )
    table._factors.update(factored)
    return table


def _uncalculated(
    grid: Grid, positions: dict[str, int], rows: pd.Index
) -> frozenset[tuple[int, str]]:
    by_col = {c: key for key, c in positions.items()}
    return frozenset(
        (r + 1, by_col[c]) for r, c in grid.uncalculated if c in by_col and r + 1 in rows
    )


@dataclass(frozen=True)
class _Layout:
    """Which header columns are the team's and which the job's."""

    human: list[int]
    #: generated column key -> 0-based column (the backend's anchors win over header text)
    generated: dict[str, int]
    #: columns the backend anchors as the job's, whatever their header says now
    owned: set[int]
    #: header text -> column of human columns no canonical column maps to
    extra: dict[str, int]


def _layout(header: list[Any], positions: dict[str, int], anchors: dict[str, int]) -> _Layout:
    human: list[int] = []
    generated: dict[str, int] = {}
    owned = set(anchors.values())
    for c, value in enumerate(header):
        key = generated_key(value)
        if key is not None:
            generated.setdefault(key, c)
        elif is_generated_header(value) or c in owned:
            continue  # the job's, from another version or with a renamed header
        elif value is not None and str(value).strip():
            human.append(c)
    # the backend's anchors (Sheets developer metadata) win over header text
    generated.update(anchors)
    human = [c for c in human if c not in set(generated.values())]
    mapped = set(positions.values())
    extra = {str(header[c]).strip(): c for c in human if c not in mapped}
    return _Layout(human, generated, owned, extra)


def _body(grid: Grid, header_row: int, width: int) -> pd.DataFrame:
    """The rows below the header, indexed by their 1-based sheet row, at least ``width`` wide."""
    frame = grid.frame.iloc[header_row + 1 :]
    if frame.shape[1] < width:
        frame = frame.reindex(columns=range(width))
    return frame.set_axis(pd.RangeIndex(header_row + 2, header_row + 2 + len(frame)), axis=0)


def _last_used_col(frame: pd.DataFrame, header: list[Any], layout: _Layout) -> int:
    """The rightmost column a person uses: a column without a header that holds anything is
    still a person's, and the job never writes there."""
    last_used = max(layout.human, default=-1)
    jobs = (
        set(layout.generated.values())
        | layout.owned
        | {c for c, v in enumerate(header) if is_generated_header(v)}
    )
    for col in map(int, frame.columns):
        if col > last_used and col not in jobs:
            values = frame[col]
            if (values.notna() & (values.astype(object) != "")).any():
                last_used = col
    return last_used


def _task_rows(
    factors: dict[int, _Factored], index: pd.Index
) -> tuple[pd.Series, dict[int, pd.Series]]:
    """Which rows are tasks, and each human column's present mask (over all rows).

    Rows with at most one filled human cell are blank rows or section labels."""
    filled = np.zeros(len(index), dtype=np.int64)
    present: dict[int, pd.Series] = {}
    for c, f in factors.items():
        p = f.spread_array([is_present(u) for u in f.uniques], False, bool)
        present[c] = pd.Series(p, index=index)
        filled += p
    return pd.Series(filled >= 2, index=index), present


def _repeated_header(
    frame: pd.DataFrame, factors: dict[int, _Factored], header: list[Any], human: list[int]
) -> pd.Series:
    """Rows that repeat the header row (a copied block, a print layout): not tasks. A row is
    one when at least half of the human columns, and at least two, hold their header's text."""
    hits = np.zeros(len(frame.index), dtype=np.int64)
    for c in human:
        title = header[c] if c < len(header) else None
        if isinstance(title, str) and title.strip():
            stripped = title.strip()
            f = factors[c]
            if f.exact:  # compare each distinct cell once
                hits += f.spread_array(
                    [isinstance(u, str) and u in (title, stripped) for u in f.uniques],
                    False,
                    bool,
                )
            else:
                column = frame[c].astype(object)
                hits += ((column == title) | (column == stripped)).to_numpy(dtype=bool)
    return pd.Series(hits >= max(2, (len(human) + 1) // 2), index=frame.index)


def _canonical_cells(
    frame: pd.DataFrame,
    keep: np.ndarray,
    present_by_col: dict[int, pd.Series],
    factors: dict[int, _Factored],
    ruleset: RuleSet,
    positions: dict[str, int],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, _Factored]]:
    """The task rows' raw cells, present masks and factorized cells per canonical column
    (None / False for a column the sheet lacks)."""
    cells: dict[str, pd.Series] = {}
    present: dict[str, pd.Series] = {}
    factored: dict[str, _Factored] = {}
    blank = np.full(len(frame.index), -1, dtype=np.int32)
    # one array of None for every column the sheet lacks (the frame keeps the arrays it is
    # given, and nothing writes into the raw cells)
    missing = nones(frame.index)
    for name in ruleset.columns:
        if name in positions:
            col = positions[name]
            cells[name] = frame[col]
            present[name] = present_by_col[col][keep]
            f = factors.get(col)
            factored[name] = f.take(keep) if f is not None else _Factored.of(frame[col])
        else:
            cells[name] = missing
            present[name] = pd.Series(False, index=frame.index)
            factored[name] = _Factored(blank, [], frame.index)
    return (
        pd.DataFrame(cells, index=frame.index, copy=False),
        pd.DataFrame(present, index=frame.index, copy=False),
        factored,
    )


@dataclass
class _Typed:
    """Every canonical column read by its type's parser (see :class:`Parsed`)."""

    data: dict[str, pd.Series] = field(default_factory=dict)
    invalid: dict[str, pd.Series] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, pd.Series] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)


def _typed_columns(
    cells: pd.DataFrame,
    present: pd.DataFrame,
    factored: Mapping[str, _Factored],
    ruleset: RuleSet,
    grid: Grid,
    positions: dict[str, int],
    as_of: dt.date,
) -> _Typed:
    """Each canonical column read by its type's parser: typed data, invalid masks, types."""
    out = _Typed()
    yearless: dict[str, pd.Series] = {}
    words = ruleset.status_words()
    unfilled: dict[str, Parsed] = {}
    for name, spec in ruleset.columns.items():
        out.kinds[name] = spec.type
        if spec.source == "history":
            # one array per kind, shared: the history stage replaces these columns
            kind = "date" if spec.type == "date" else "other"
            col = unfilled[kind] if kind in unfilled else _unfilled(spec.type, cells.index)
            unfilled[kind] = col
        else:
            ctx = ColumnContext(present[name], words, grid, positions.get(name), factored.get(name))
            col = PARSERS[spec.type](cells[name], ctx)
        out.data[name] = col.values
        out.data.update({f"{name}_{key}": s for key, s in col.extra.items()})
        out.invalid[name] = col.invalid
        if col.yearless is not None:
            yearless[name] = col.yearless
        if col.ambiguous is not None:
            out.ambiguous[name] = col.ambiguous
        if col.order is not None:
            out.orders[name] = col.order
    _fill_years(out.data, out.invalid, yearless, list(yearless), as_of)
    return out


def _task_ids(frame: pd.DataFrame, generated: dict[str, int]) -> pd.Series:
    """The job's task ID already in each row (None where there is none yet)."""
    id_col = generated.get("gen_id")
    if id_col in frame.columns:
        return frame[id_col].where(frame[id_col].map(lambda v: isinstance(v, str)), None)
    return nones(frame.index)


def _headers(header: list[Any], positions: dict[str, int], ruleset: RuleSet) -> dict[str, str]:
    """Each canonical column's header as the sheet writes it (else its default title)."""
    return {
        name: (
            str(header[positions[name]]).strip()
            if name in positions
            else spec.title(DEFAULT_LOCALE)
        )
        for name, spec in ruleset.columns.items()
    }


def _fill_years(
    data: dict[str, pd.Series],
    invalid: dict[str, pd.Series],
    yearless: dict[str, pd.Series],
    date_cols: list[str],
    as_of: dt.date,
) -> None:
    """A year-less day takes the year of the row's first full date, else the as-of year; a day
    that year does not have (2/29) becomes an unreadable cell."""
    if not any(m.any() for m in yearless.values()):
        return
    year: pd.Series | None = None
    for name in date_cols:
        full_year = data[name].dt.year.where(~yearless[name])
        year = full_year if year is None else year.fillna(full_year)
    assert year is not None
    year = year.fillna(as_of.year)
    for name in date_cols:
        m = yearless[name]
        if m.any():
            d = data[name][m]
            moved = _with_year(year[m].to_numpy(), d.dt.month.to_numpy(), d.dt.day.to_numpy())
            data[name] = data[name].copy()
            data[name][m] = moved
            invalid[name] = invalid[name] | (m & data[name].isna())


def _with_year(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The days (datetime64[ns]) of these years, months and days; NaT where the year has no
    such day (2/29 outside a leap year) or a part is missing."""
    bad = np.isnan(year) | np.isnan(month) | np.isnan(day)
    y, mo, da = (np.where(bad, 1, a).astype(np.int64) for a in (year, month, day))
    months = ((y - 1970) * 12 + mo - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (da - 1)
    bad |= days.astype("datetime64[M]") != months
    return np.where(bad, np.datetime64("NaT"), days).astype("datetime64[ns]")


def header_locale(grid: Grid, ruleset: RuleSet) -> str | None:
    """The language of the tracker's header row: zh-CN when a header naming a known column holds
    Chinese characters, else en; None without a recognisable header row.

    >>> from sync.rules import load_rules, shipped_rules_dir
    >>> rs = load_rules([shipped_rules_dir()])
    >>> heads = ["Phase", "Channel", "Core task", "Description", "Owner", "Planned start", "Planned finish"]
    >>> header_locale(Grid("T", [heads]), rs), header_locale(Grid("T", [["推广阶段", *heads[1:]]]), rs)
    ('en', 'zh-CN')
    """
    try:
        row, mapping = find_header(grid, ruleset)
    except MissingColumns:
        return None
    cells = grid.rows[row]
    texts = [str(cells[c]) for c in mapping.values() if c < len(cells) and cells[c] is not None]
    return "zh-CN" if any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t) else "en"

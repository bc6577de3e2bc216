"""Parse: find the header row, map columns by alias, turn raw cells into a typed task table."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .errors import MissingColumns
from .i18n import is_generated_header
from .model import Grid
from .rules import RuleSet, header_keys, normalize_header

#: Whole-cell contents that mean "nothing here" (compared after NFKC, trim and lower case).
EMPTY_TOKENS = frozenset({"", "-", "--", "—", "——", "/", "na", "n/a", "n.a.", "无", "暂无", "無", "暫無", "null", "none"})

_HEADER_SCAN_ROWS = 30
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_DATE_FULL = re.compile(
    r"^(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_DATE_YEARLESS = re.compile(r"^(?P<m>\d{1,2})\s*[/.月]\s*(?P<d>\d{1,2})\s*日?$")
_DATE_DIGITS = re.compile(r"^(?P<n>\d{5,8})$")
_PROGRESS = re.compile(r"^(?P<n>[+-]?\d+(?:\.\d+)?)\s*(?P<pct>%)?\s*(?P<note>(?:[^\d\-~/.].*)?)$", re.S)
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

    def __len__(self) -> int:
        return len(self.data)

    @property
    def rows(self) -> pd.Index:
        return self.data.index

    def display(self, col: str, index: pd.Index | None = None) -> pd.Series:
        """The cells of ``col`` as a person sees them (for messages)."""
        s = self.cells[col] if index is None else self.cells.loc[index, col]
        return s.map(cell_text).astype(object)

    def text(self, col: str) -> pd.Series:
        """Normalised text of ``col`` ('' when empty)."""
        return self._texts[col]

    @cached_property
    def _texts(self) -> _TextCache:
        return _TextCache(self)


class _TextCache(dict[str, pd.Series]):
    def __init__(self, table: Table) -> None:
        super().__init__()
        self._table = table

    def __missing__(self, col: str) -> pd.Series:
        t = _norm_text(self._table.cells[col]).fillna("")
        t = t.where(self._table.present[col], "")
        self[col] = t
        return t


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
    return str(value)


# ---------------------------------------------------------------------------- header


def find_header(grid: Grid, ruleset: RuleSet) -> tuple[int, dict[str, int]]:
    """The 0-based header row and canonical column -> 0-based column index."""
    index = ruleset.alias_index()
    best_row, best_map = -1, {}
    for r, row in enumerate(grid.rows[:_HEADER_SCAN_ROWS]):
        mapping: dict[str, int] = {}
        for c, value in enumerate(row):
            if value is None or is_generated_header(value):
                continue
            for key in header_keys(value):
                name = index.get(key)
                if name is not None:
                    mapping.setdefault(name, c)
                    break
        if len(mapping) > len(best_map):
            best_row, best_map = r, mapping
    required = [n for n, spec in ruleset.columns.items() if spec.required]
    missing = [n for n in required if n not in best_map]
    if best_row < 0 or len(best_map) < 3 or missing:
        raise MissingColumns(_missing_message(grid, ruleset, best_row, missing or required))
    return best_row, best_map


def _missing_message(grid: Grid, ruleset: RuleSet, row: int, missing: list[str]) -> str:
    expected = "; ".join(
        f"{ruleset.columns[n].title('zh-CN')} / {ruleset.columns[n].title('en')} ({n})" for n in missing
    )
    if row < 0:
        row = next((i for i, r in enumerate(grid.rows[:_HEADER_SCAN_ROWS]) if any(v not in (None, "") for v in r)), -1)
    holds = [cell_text(v) for v in grid.rows[row]] if row >= 0 else []
    holds_text = ", ".join(repr(h) for h in holds if h) or "nothing"
    where = f"row {row + 1}" if row >= 0 else "the first rows"
    return (
        f"tab {grid.title!r}: missing required column(s): {expected}.\n"
        f"The header row ({where}) holds: {holds_text}.\n"
        "Rename the header to one of the names above (or add an alias in your rule folder's columns.yaml)."
    )


# ---------------------------------------------------------------------------- cells


def _types(s: pd.Series) -> pd.Series:
    return s.map(type)


def _norm_text(s: pd.Series) -> pd.Series:
    """NFKC-normalised, trimmed, lower-cased text of the string cells (NaN elsewhere)."""
    types = _types(s)
    is_str = types == str
    out = pd.Series(np.nan, index=s.index, dtype=object)
    if is_str.any():
        t = s[is_str].astype(object).str.normalize("NFKC").str.strip().str.lower()
        out[is_str] = t
    other = ~is_str & s.notna()
    if other.any():
        out[other] = s[other].map(cell_text).str.lower()
    return out


def present_mask(s: pd.Series) -> pd.Series:
    """True where a raw cell holds something other than blank or an empty token."""
    t = _norm_text(s)
    return t.notna() & ~t.isin(EMPTY_TOKENS)


def parse_dates(s: pd.Series, as_of: dt.date) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Raw cells -> (datetime64 days, invalid mask, year-less mask). Year-less dates get ``as_of``'s year."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    yearless = pd.Series(False, index=s.index)
    types = _types(s)
    is_dt = types.isin([dt.datetime, dt.date, pd.Timestamp])
    if is_dt.any():
        out[is_dt] = pd.to_datetime(s[is_dt].map(lambda v: dt.datetime(v.year, v.month, v.day)))
    is_num = types.isin([int, float, np.float64, np.int64]) & s.notna()
    if is_num.any():
        out[is_num] = _from_number(s[is_num].astype(float))
    t = _norm_text(s.where(~(is_dt | is_num)))
    present = t.notna() & ~t.isin(EMPTY_TOKENS)
    if present.any():
        tp = t[present].astype(str)
        full = tp.str.extract(_DATE_FULL)
        ok = full["y"].notna()
        if ok.any():
            out[ok[ok].index] = _ymd(full.loc[ok, "y"], full.loc[ok, "m"], full.loc[ok, "d"])
        rest = tp[~ok]
        if len(rest):
            yl = rest.str.extract(_DATE_YEARLESS)
            okyl = yl["m"].notna()
            if okyl.any():
                idx = okyl[okyl].index
                years = pd.Series(as_of.year, index=idx).astype(str)
                out[idx] = _ymd(years, yl.loc[idx, "m"], yl.loc[idx, "d"])
                yearless[idx] = out[idx].notna()
            rest2 = rest[~okyl]
            if len(rest2):
                dg = rest2.str.extract(_DATE_DIGITS)["n"].dropna()
                if len(dg):
                    out[dg.index] = _from_number(dg.astype(float))
    invalid = (present | is_num | is_dt) & out.isna()
    return out, invalid, yearless


def _from_number(n: pd.Series) -> pd.Series:
    """Excel / Sheets serial day numbers, and yyyymmdd written as a number."""
    out = pd.Series(pd.NaT, index=n.index, dtype="datetime64[ns]")
    serial = (n >= 1) & (n < 2958466)
    ymd = (n >= 19000101) & (n <= 21001231) & (n == n.round())
    if serial.any():
        out[serial] = _EXCEL_EPOCH + pd.to_timedelta(np.floor(n[serial]), unit="D")
    if ymd.any():
        v = n[ymd].astype("int64")
        out[ymd] = _ymd((v // 10000).astype(str), (v // 100 % 100).astype(str), (v % 100).astype(str))
    return out


def _ymd(y: pd.Series, m: pd.Series, d: pd.Series) -> pd.Series:
    frame = pd.DataFrame({"year": y.astype(int), "month": m.astype(int), "day": d.astype(int)})
    return pd.to_datetime(frame, errors="coerce")


def parse_percent(s: pd.Series, percent_rows: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Raw cells -> (progress in percent, the note after the number, invalid mask).

    ``percent_rows`` marks cells formatted as a percentage (their 0.6 means 60). A bare number
    strictly between 0 and 1 elsewhere is read as a fraction too: nobody reports 0.5 % progress.
    """
    value = pd.Series(np.nan, index=s.index, dtype=float)
    note = pd.Series(None, index=s.index, dtype=object)
    types = _types(s)
    is_num = types.isin([int, float, np.float64, np.int64]) & s.notna()
    if is_num.any():
        v = s[is_num].astype(float)
        scale = percent_rows[is_num] | ((v > 0) & (v < 1))
        value[is_num] = np.where(scale, v * 100, v)
    t = _norm_text(s.where(~is_num))
    present = t.notna() & ~t.isin(EMPTY_TOKENS)
    if present.any():
        m = t[present].astype(str).str.extract(_PROGRESS)
        ok = m["n"].notna()
        if ok.any():
            idx = ok[ok].index
            v = m.loc[idx, "n"].astype(float)
            fraction = m.loc[idx, "pct"].isna() & (v > 0) & (v < 1)
            value[idx] = np.where(fraction, v * 100, v)
            notes = m.loc[idx, "note"].str.strip()
            note[idx] = notes.where(notes != "", None)
    invalid = (present | is_num) & value.isna()
    return value.round(6), note, invalid


def parse_status(s: pd.Series, words: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Raw cells -> (canonical status id or None, invalid mask)."""
    t = _norm_text(s)
    present = t.notna() & ~t.isin(EMPTY_TOKENS)
    out = pd.Series(None, index=s.index, dtype=object)
    if present.any():
        key = t[present].astype(str).str.replace(r"\s+", "", regex=True)
        hit = key.map(words)
        miss = hit.isna()
        if miss.any():
            # "进行中(80%)", "✅ 已完成", "已完成 ✅": drop a trailing hint or symbols and retry
            k2 = key[miss].str.replace(_TRAILING_HINT, "", regex=True)
            k2 = k2.str.replace(_LEADING_SYMBOLS, "", regex=True).str.replace(r"[^\w]+$", "", regex=True)
            hit2 = k2.map(words)
            # an emoji alone is its own word (✅), so try the raw key's symbols too
            hit[miss] = hit2.where(hit2.notna(), key[miss].str.replace(r"[\w]+", "", regex=True).map(words))
        out[present] = hit
    invalid = present & out.isna()
    return out, invalid


def parse_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Raw cells -> (float, invalid mask). Accepts 1,200 / ¥5000 / 5万 / 1.5k."""
    value = pd.Series(np.nan, index=s.index, dtype=float)
    types = _types(s)
    is_num = types.isin([int, float, np.float64, np.int64]) & s.notna()
    if is_num.any():
        value[is_num] = s[is_num].astype(float)
    t = _norm_text(s.where(~is_num))
    present = t.notna() & ~t.isin(EMPTY_TOKENS)
    if present.any():
        tp = t[present].astype(str).str.replace(r"[,\s¥$€£元]", "", regex=True)
        m = tp.str.extract(r"^(?P<n>[+-]?\d+(?:\.\d+)?)(?P<unit>万|w|千|k|亿)?$")
        ok = m["n"].notna()
        mult = m["unit"].map({"万": 1e4, "w": 1e4, "千": 1e3, "k": 1e3, "亿": 1e8}).fillna(1.0)
        value[ok[ok].index] = m.loc[ok, "n"].astype(float) * mult[ok]
    invalid = (present | is_num) & value.isna()
    return value, invalid


# ---------------------------------------------------------------------------- table


def parse(grid: Grid, ruleset: RuleSet, as_of: dt.date) -> Table:
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
    human_cols: list[int] = []
    generated: dict[str, int] = {}
    for c, value in enumerate(header):
        if is_generated_header(value):
            generated[str(value).strip()] = c
        elif value is not None and str(value).strip():
            human_cols.append(c)
    mapped = set(positions.values())
    extra = {str(header[c]).strip(): c for c in human_cols if c not in mapped}

    body = grid.rows[header_row + 1 :]
    width = max(human_cols, default=0) + 1
    frame = pd.DataFrame(body, dtype=object) if body else pd.DataFrame(dtype=object)
    if frame.shape[1] < width:
        for c in range(frame.shape[1], width):
            frame[c] = None
    frame.index = pd.RangeIndex(header_row + 2, header_row + 2 + len(frame))

    # a column without a header that holds anything is still a person's: never write there
    last_used = max(human_cols, default=-1)
    gen_set = set(generated.values())
    for c in frame.columns:
        if c > last_used and c not in gen_set:
            s = frame[c]
            if (s.notna() & (s.astype(object) != "")).any():
                last_used = c

    # rows with at most one filled human cell are blank rows or section labels
    filled = pd.Series(0, index=frame.index)
    present_by_col: dict[int, pd.Series] = {}
    for c in human_cols:
        p = present_mask(frame[c])
        present_by_col[c] = p
        filled += p.astype(int)
    keep = filled >= 2
    frame = frame[keep]

    cells: dict[str, pd.Series] = {}
    present: dict[str, pd.Series] = {}
    for name in ruleset.columns:
        if name in positions:
            cells[name] = frame[positions[name]]
            present[name] = present_by_col[positions[name]][keep]
        else:
            cells[name] = pd.Series(None, index=frame.index, dtype=object)
            present[name] = pd.Series(False, index=frame.index)
    cells_df = pd.DataFrame(cells, index=frame.index)
    present_df = pd.DataFrame(present, index=frame.index)

    data: dict[str, pd.Series] = {}
    invalid: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    yearless: dict[str, pd.Series] = {}
    words = ruleset.status_words()
    for name, spec in ruleset.columns.items():
        s = cells_df[name]
        kinds[name] = spec.type
        if spec.type == "date":
            data[name], invalid[name], yearless[name] = parse_dates(s, as_of)
        elif spec.type == "percent":
            pcol = positions.get(name)
            pct = pd.Series(False, index=s.index)
            if pcol is not None and grid.percent_cells:
                sheet_rows = [r + 1 for (r, c) in grid.percent_cells if c == pcol]
                pct = pd.Series(s.index.isin(sheet_rows), index=s.index, dtype=bool)
            data[name], data[f"{name}_note"], invalid[name] = parse_percent(s, pct)
        elif spec.type == "status":
            data[name], invalid[name] = parse_status(s, words)
        elif spec.type == "number":
            data[name], invalid[name] = parse_number(s)
        else:
            t = s.where(present_df[name])
            is_str = _types(t) == str
            text = t.astype(object)
            if is_str.any():
                text[is_str] = t[is_str].astype(object).str.strip()
            other = ~is_str & t.notna()
            if other.any():
                text[other] = t[other].map(cell_text)
            data[name] = text.where(present_df[name], None)
            invalid[name] = pd.Series(False, index=s.index)
    _fill_years(data, yearless, [n for n, k in kinds.items() if k == "date"])

    headers = {
        name: (str(header[positions[name]]).strip() if name in positions else spec.title("zh-CN"))
        for name, spec in ruleset.columns.items()
    }
    return Table(
        data=pd.DataFrame(data, index=frame.index),
        cells=cells_df,
        present=present_df,
        invalid=pd.DataFrame(invalid, index=frame.index),
        kinds=kinds,
        headers=headers,
        positions=positions,
        header_row=header_row,
        human_cols=human_cols,
        generated_cols=generated,
        n_grid_rows=len(grid.rows),
        last_used_col=last_used,
        extra_columns=extra,
    )


def _fill_years(data: dict[str, pd.Series], yearless: dict[str, pd.Series], date_cols: list[str]) -> None:
    """A year-less date takes the year of the row's first full date (else it keeps the as-of year)."""
    if not any(m.any() for m in yearless.values()):
        return
    year = None
    for name in date_cols:
        full_year = data[name].dt.year.where(~yearless[name])
        year = full_year if year is None else year.fillna(full_year)
    assert year is not None
    for name in date_cols:
        m = yearless[name] & year.notna()
        if m.any():
            d = data[name][m]
            data[name][m] = _ymd(year[m].astype(int).astype(str), d.dt.month.astype(str), d.dt.day.astype(str))

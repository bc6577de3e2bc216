"""Check kinds: a registry of vectorized functions, each with a pydantic model of its parameters.

A check gets the task table and returns, for each column it lights up, a boolean Series that
is True on the failing rows. Adding a kind is adding one decorated function here (and a
section in the README: a test fails when a registered kind is undocumented).

This module sits below the rule pack: ``sync.rules`` reads :data:`REGISTRY` to validate a
rule's parameters when it loads, so the built-in kinds are registered whenever rules exist.
Checks see the task table and a rule only as types.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, field_validator

from .conditions import evaluate, parse_condition, prune
from .defaults import DEFAULT_LOCALE, REGEX_TEXT_LIMIT
from .errors import TrackerError
from .i18n import text
from .model import Grid
from .text import fold
from .workdays import WorkCalendar

if TYPE_CHECKING:
    from .parse import Table
    from .rules import RuleSpec


@dataclass(frozen=True)
class Context:
    """What a check may know besides the table: the as-of date, the locale, the other tabs."""

    as_of: dt.date
    locale: str = DEFAULT_LOCALE
    tabs: Mapping[str, Grid] = field(default_factory=dict)
    #: the run's working days (``calendar.country: none``: None, every day counts)
    calendar: WorkCalendar | None = None


@dataclass(frozen=True)
class CheckResult:
    """Failing rows per lit column, plus per-row placeholder values for the message
    (``column_values``: those that differ by lit column, over ``values``)."""

    masks: dict[str, pd.Series]
    values: dict[str, pd.Series] | None = None
    other: str | None = None
    column_values: dict[str, dict[str, pd.Series]] | None = None


CheckFn = Callable[["Table", "RuleSpec", Any, Context], CheckResult]


class Params(BaseModel):
    """Base of every check kind's parameters: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def columns(self) -> list[str]:
        """Columns the parameters name (for the load-time reference check)."""
        return []

    def resolved(self, folder: Path) -> Params:
        """The parameters with anything they name beside the rule file read in (load time)."""
        return self

    def for_columns(self, available: Collection[str]) -> Params | None:
        """The parameters as they can run on a sheet with only these columns (None: they
        cannot). By default every column they name must be there."""
        return self if all(c in available for c in self.columns()) else None


@dataclass(frozen=True)
class CheckKind:
    name: str
    fn: CheckFn
    params: type[Params]
    summary: str
    #: each of the rule's ``columns`` is checked on its own, so the rule still runs on those
    #: the sheet has when some are missing (else it needs every column it names)
    per_column: bool = False


REGISTRY: dict[str, CheckKind] = {}


def register(
    name: str, params: type[Params] = Params, *, per_column: bool = False
) -> Callable[[CheckFn], CheckFn]:
    """Register a check kind under ``name`` (its docstring's first line is its summary).
    ``per_column``: each of a rule's ``columns`` is judged on its own (see :class:`CheckKind`)."""

    def deco(fn: CheckFn) -> CheckFn:
        doc = (fn.__doc__ or name).strip().split("\n\n")[0]
        summary = " ".join(line.strip() for line in doc.splitlines())
        REGISTRY[name] = CheckKind(name, fn, params, summary, per_column)
        return fn

    return deco


def build_params(check: str, raw: dict[str, Any]) -> Params:
    """Validate a rule's check-specific keys. KeyError for an unknown kind.

    >>> build_params("range", {"min": 0, "max": 100})
    RangeParams(min=0.0, max=100.0)
    """
    kind = REGISTRY.get(check)
    if kind is None:
        raise KeyError(f"unknown check kind {check!r}; registered kinds: {sorted(REGISTRY)}")
    return kind.params.model_validate(raw)


def run_check(table: Table, rule: RuleSpec, ctx: Context) -> CheckResult:
    """Run one rule over the rows its ``when`` selects."""
    result = REGISTRY[rule.check].fn(table, rule, rule.params, ctx)
    if rule.when is not None:
        applies = evaluate(rule.when, table, ctx.as_of)
        result = replace(result, masks={c: m & applies for c, m in result.masks.items()})
    return result


# ---------------------------------------------------------------------------- kinds


@register("flag")
def check_flag(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """Fires on every row where the rule's ``when`` holds: the condition is the whole check."""
    return CheckResult({c: pd.Series(True, index=table.rows) for c in rule.columns})


@register("required", per_column=True)
def check_required(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """The cell must not be empty (blank, -, /, NA, N/A, 无 count as empty)."""
    return CheckResult({c: ~table.present[c] for c in rule.columns})


@register("type", per_column=True)
def check_type(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """A filled cell must read as the column's type (date, percent, status, number); a day
    that reads two ways is left to ``ambiguous``."""
    masks = {}
    for c in rule.columns:
        two_ways = table.ambiguous.get(c)
        masks[c] = table.invalid[c] if two_ways is None else table.invalid[c] & two_ways.isna()
    return CheckResult(masks)


@register("ambiguous", per_column=True)
def check_ambiguous(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """A day that reads two ways (3/2/25: 3 February or March 2) in a column whose other days
    do not settle whether the day or the month comes first; ``{readings}`` names both."""
    masks: dict[str, pd.Series] = {}
    readings: dict[str, dict[str, pd.Series]] = {}
    words = text(ctx.locale, "date.readings")
    for c in rule.columns:
        pairs = table.ambiguous.get(c, pd.Series(None, index=table.rows, dtype=object))
        masks[c] = pairs.notna()
        shown = np.full(len(pairs), "", dtype=object)
        at = np.flatnonzero(masks[c].to_numpy(dtype=bool))  # the few cells that read two ways
        shown[at] = [
            words.replace("{day_first}", p[0].isoformat()).replace(
                "{month_first}", p[1].isoformat()
            )
            if isinstance(p, tuple)
            else ""
            for p in pairs.to_numpy(dtype=object)[at]
        ]
        readings[c] = {"readings": pd.Series(shown, index=pairs.index)}
    return CheckResult(masks, column_values=readings)


@register("calculated", per_column=True)
def check_calculated(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """A formula cell must hold the result a spreadsheet program calculated (a file written by
    a script and never opened in Excel or LibreOffice has none, and reads as empty)."""
    masks = {}
    for c in rule.columns:
        rows = [r for r, key in table.uncalculated if key == c]
        if rows:
            masks[c] = pd.Series(table.rows.isin(rows), index=table.rows)
    return CheckResult(masks)


@register("workday", per_column=True)
def check_workday(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """A date must fall on a working day of the run's calendar (``calendar.*``: the country's
    official holidays and make-up workdays, the company's own days, the work week). Without a
    calendar (``calendar.country: none``) every day is a working day. Adds ``{weekday}``."""
    masks: dict[str, pd.Series] = {}
    per_column: dict[str, dict[str, pd.Series]] = {}
    # code -1 (no day) takes the last slot: ""
    names = np.array([*(_WEEKDAYS_ZH if ctx.locale == "zh-CN" else _WEEKDAYS_EN), ""], dtype=object)
    for c in rule.columns:
        days = table.data[c].to_numpy("datetime64[D]")
        off = np.zeros(len(days), dtype=bool)
        if ctx.calendar is not None:
            off = ~ctx.calendar.is_workday(days) & ~np.isnat(days)
        masks[c] = pd.Series(off, index=table.rows)
        weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
        per_column[c] = {
            "weekday": pd.Series(names[np.where(np.isnat(days), -1, weekday)], index=table.rows)
        }
    return CheckResult(masks, column_values=per_column)


_WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class RangeParams(Params):
    min: float | None = None
    max: float | None = None


@register("range", RangeParams, per_column=True)
def check_range(table: Table, rule: RuleSpec, params: RangeParams, ctx: Context) -> CheckResult:
    """A number must lie within [min, max]."""
    masks = {}
    for c in rule.columns:
        v = table.data[c]
        bad = pd.Series(False, index=v.index)
        if params.min is not None:
            bad |= v < params.min
        if params.max is not None:
            bad |= v > params.max
        masks[c] = bad.fillna(False).astype(bool)
    return CheckResult(masks)


class CompareParams(Params):
    column: str | None = None
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    other: str
    offset_days: int = 0

    def columns(self) -> list[str]:
        return ([self.column] if self.column else []) + (
            [] if self.other == "today" else [self.other]
        )


_CMP = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


@register("compare", CompareParams, per_column=True)
def check_compare(table: Table, rule: RuleSpec, params: CompareParams, ctx: Context) -> CheckResult:
    """``column op other (+ offset_days)`` must hold where both are filled; ``other`` may be
    ``today``. Without ``column`` each of ``columns`` is compared."""
    if params.column is None:
        parts = [
            check_compare(table, rule, params.model_copy(update={"column": c}), ctx)
            for c in rule.columns
        ]
        return CheckResult(
            {c: p.masks[c] for c, p in zip(rule.columns, parts, strict=True)},
            other=parts[0].other if parts else None,
        )
    left = table.data[params.column]
    if params.other == "today":
        right: Any = pd.Series(pd.Timestamp(ctx.as_of), index=left.index)
        other_name = "今天" if ctx.locale == "zh-CN" else "today"
    else:
        right = table.data[params.other]
        other_name = table.headers[params.other]
    if params.offset_days:
        right = right + pd.Timedelta(days=params.offset_days)
    both = left.notna() & right.notna()
    bad = pd.Series(False, index=left.index)
    if both.any():
        bad[both] = ~_CMP[params.op](left[both], right[both]).astype(bool)
    lit = [params.column] if params.column in rule.columns or not rule.columns else rule.columns
    return CheckResult({c: bad for c in lit}, other=other_name)


class ImpliesParams(Params):
    then: dict[str, Any]

    @field_validator("then")
    @classmethod
    def _shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        parse_condition(value)
        return value

    def columns(self) -> list[str]:
        return parse_condition(self.then)

    def for_columns(self, available: Collection[str]) -> ImpliesParams | None:
        then = prune(self.then, available)
        return None if then is None else self.model_copy(update={"then": then})


@register("implies", ImpliesParams)
def check_implies(table: Table, rule: RuleSpec, params: ImpliesParams, ctx: Context) -> CheckResult:
    """Where ``when`` holds, ``then`` must hold too (the rule's ``when`` is the premise)."""
    bad = ~evaluate(params.then, table, ctx.as_of)
    lit = rule.columns or parse_condition(params.then)
    return CheckResult({c: bad for c in lit})


class OneOfParams(Params):
    values: list[str]


@register("one_of", OneOfParams, per_column=True)
def check_one_of(table: Table, rule: RuleSpec, params: OneOfParams, ctx: Context) -> CheckResult:
    """A filled cell must be one of ``values`` (compared trimmed, case- and width-insensitive)."""
    allowed = {fold(v) for v in params.values}
    return CheckResult(
        {
            c: table.present[c]
            & ~pd.Series(table.text_map(c, allowed.__contains__, bool), index=table.rows)
            for c in rule.columns
        }
    )


def _compiles(value: str) -> str:
    """A rule's regular expression must compile (checked when the rules load)."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return value


#: A regular expression in a rule file (it must compile when the rules load).
Regex = Annotated[str, AfterValidator(_compiles)]


class PatternParams(Params):
    regex: Regex
    ignore_case: bool = True

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.regex, re.IGNORECASE if self.ignore_case else 0)


def _matches(table: Table, col: str, params: PatternParams) -> pd.Series:
    """Whether each cell contains a match; the regex runs once per distinct text (cells repeat)
    and sees the first ``REGEX_TEXT_LIMIT`` characters of it."""
    pattern = params.compiled()
    if params.ignore_case:
        hits = table.text_map(col, lambda u: bool(pattern.search(u[:REGEX_TEXT_LIMIT])), bool)
        return pd.Series(hits, index=table.rows)
    text = table.display(col).map(lambda v: fold(v, keep_case=True))
    codes, uniques = pd.factorize(text.to_numpy(dtype=object), use_na_sentinel=True)
    hits = np.array(
        [
            bool(pattern.search(u[:REGEX_TEXT_LIMIT])) if isinstance(u, str) else False
            for u in uniques
        ]
        + [False]
    )
    return pd.Series(hits[codes], index=text.index)


@register("pattern", PatternParams, per_column=True)
def check_pattern(table: Table, rule: RuleSpec, params: PatternParams, ctx: Context) -> CheckResult:
    """A filled cell must contain a match of ``regex`` (text NFKC-folded: full-width → half-width)."""
    return CheckResult({c: table.present[c] & ~_matches(table, c, params) for c in rule.columns})


@register("not_pattern", PatternParams, per_column=True)
def check_not_pattern(
    table: Table, rule: RuleSpec, params: PatternParams, ctx: Context
) -> CheckResult:
    """A filled cell must not contain a match of ``regex``."""
    return CheckResult({c: table.present[c] & _matches(table, c, params) for c in rule.columns})


_SPACES = re.compile(r"\s+")


class LengthParams(Params):
    min: int | None = None
    max: int | None = None


@register("length", LengthParams, per_column=True)
def check_length(table: Table, rule: RuleSpec, params: LengthParams, ctx: Context) -> CheckResult:
    """A filled cell's text must have between ``min`` and ``max`` characters (spaces not counted)."""
    masks = {}
    for c in rule.columns:
        n = table.text_map(c, lambda t: len(_SPACES.sub("", t)), np.int64)
        bad = np.zeros(len(n), dtype=bool)
        if params.min is not None:
            bad |= n < params.min
        if params.max is not None:
            bad |= n > params.max
        masks[c] = table.present[c] & pd.Series(bad, index=table.rows)
    return CheckResult(masks)


@register("unique")
def check_unique(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """No two rows may hold the same values in all of ``columns``; the later rows are flagged
    and ``{first}`` names the first one."""
    key = np.zeros(len(table), dtype=np.int64)
    filled = np.ones(len(table), dtype=bool)
    for c in rule.columns:  # the row's texts as one number: equal texts, equal numbers
        codes, texts = table.text_codes(c)
        same, distinct = pd.factorize(np.array([*texts, ""], dtype=object))
        key, _ = pd.factorize(key * len(distinct) + same[codes])
        filled &= table.present[c].to_numpy(dtype=bool)
    dup = pd.Series(key, index=table.rows).duplicated(keep="first").to_numpy() & filled
    first = pd.Series(table.rows, index=table.rows)
    if dup.any():
        # the first filled row holding each key
        rows = np.asarray(table.rows)
        keys, at = np.unique(key[filled], return_index=True)
        firsts = pd.Series(rows[filled][at], index=keys)
        first = pd.Series(firsts.reindex(key).to_numpy(), index=table.rows).where(filled)
    lit = rule.columns[-1:]
    dups = pd.Series(dup, index=table.rows)
    return CheckResult({c: dups for c in lit}, values={"first": first.astype("Int64").astype(str)})


class LookupSource(Params):
    file: str | None = None
    tab: str | None = None
    column: str | None = None


class LookupParams(Params):
    values_from: LookupSource
    #: split a cell into several names first (e.g. "主责:张三 / 协办:李四")
    split: Regex | None = None
    #: removed from every part before the lookup (e.g. "^(主责|协办)[:：]")
    strip: Regex | None = None
    #: the list from ``values_from.file``, read when the rules load (checks do no I/O)
    file_values: tuple[str, ...] | None = None

    def resolved(self, folder: Path) -> LookupParams:
        if not self.values_from.file:
            return self
        path = folder / self.values_from.file
        # the list lives beside the rule file: a path that leaves the folder (../, an absolute
        # path, a link pointing elsewhere) could read any file the job can read
        inside = folder.resolve()
        if not path.resolve().is_relative_to(inside):
            raise ValueError(
                f"values_from.file {self.values_from.file!r} is outside the rule folder "
                f"{folder}; put the list in that folder"
            )
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read the list {path}: {exc.strerror}") from None
        values = tuple(fold(x) for x in lines if x.strip() and not x.lstrip().startswith("#"))
        return self.model_copy(update={"file_values": values})


@register("lookup", LookupParams, per_column=True)
def check_lookup(table: Table, rule: RuleSpec, params: LookupParams, ctx: Context) -> CheckResult:
    """Every filled cell (or each part of it, with ``split``) must appear in a list: a text file
    beside the rule file (one value per line) or a column of another tab."""
    allowed = _lookup_values(rule, params, ctx)
    masks = {}
    for c in rule.columns:
        parts = table.text(c).str.slice(0, REGEX_TEXT_LIMIT)
        if params.split:
            parts = parts.str.split(params.split, regex=True).explode()
        parts = parts.str.strip()
        if params.strip:
            parts = parts.str.replace(params.strip, "", regex=True).str.strip()
        missing = (parts != "") & ~parts.isin(allowed)
        per_row = missing.groupby(level=0).any().reindex(table.rows, fill_value=False)
        masks[c] = table.present[c] & per_row.astype(bool)
    return CheckResult(masks)


def _lookup_values(rule: RuleSpec, params: LookupParams, ctx: Context) -> set[str]:
    if params.file_values is not None:
        return set(params.file_values)
    source = params.values_from
    tab = ctx.tabs.get(source.tab or "")
    if tab is None:
        raise TrackerError(
            f"rule {rule.id!r} looks values up in tab {source.tab!r}, which does not exist; "
            f"the other tabs are: {', '.join(repr(t) for t in ctx.tabs) or 'none'}"
        )
    want = fold(source.column or "")
    for r, row in enumerate(tab.rows[:30]):
        for c, v in enumerate(row):
            if v is not None and fold(v) == want:
                below = tab.rows[r + 1 :]
                return {fold(x[c]) for x in below if c < len(x) and x[c] not in (None, "")}
    raise TrackerError(
        f"rule {rule.id!r}: tab {source.tab!r} has no column headed {source.column!r}"
    )


class DependencyParams(Params):
    column: str
    lead_days: int = 3

    def columns(self) -> list[str]:
        return [self.column]


@register("dependency", DependencyParams)
def check_dependency(
    table: Table, rule: RuleSpec, params: DependencyParams, ctx: Context
) -> CheckResult:
    """A task naming predecessors in ``column`` (task ID, row number, or core task /
    description text; several separated by 、,;/) must start at least ``lead_days`` after each
    one's planned finish, counted in working days of the run's calendar (the days after the
    finish up to the start). Adds ``{pred_task}``, ``{pred_row}``, ``{days}``, ``{lead_days}``
    and ``{unit}`` (working days, or days without a calendar)."""
    lit = rule.columns or ["planned_start"]
    if not table.present[params.column].any():  # no predecessor named anywhere (or no such column)
        return CheckResult({c: pd.Series(False, index=table.rows) for c in lit})
    refs = table.text(params.column)[table.present[params.column]]
    refs = refs.str.split(r"[、,;/\s]+", regex=True).explode().str.strip()
    refs = refs[refs.notna() & (refs != "")]

    def index_of(keys: pd.Series) -> dict[Any, int]:
        frame = pd.Series(table.rows, index=keys.to_numpy())
        return frame[~frame.index.duplicated()].to_dict()

    number = pd.to_numeric(refs.str.extract(r"^(?:第|#|row)?(\d+)行?$")[0], errors="coerce")
    target = refs.map(index_of(table.ids.astype(str).str.lower()))
    target = target.fillna(number.where(number.isin(table.rows)))
    target = target.fillna(refs.map(index_of(table.text("task"))))
    target = target.fillna(refs.map(index_of(table.text("description"))))
    pairs = target.dropna().astype(int)
    pairs = pairs[pairs.to_numpy() != pairs.index.to_numpy()]
    start = table.data["planned_start"].to_numpy("datetime64[D]")
    finish = table.data["planned_finish"].to_numpy("datetime64[D]")
    pos = pd.Series(np.arange(len(table)), index=table.rows)
    s_pair = start[pos[pairs.index].to_numpy()]
    f_pair = finish[pos[pairs.to_numpy()].to_numpy()]
    if ctx.calendar is None:
        gap = (s_pair - f_pair).astype(float)
    else:
        one = np.timedelta64(1, "D")
        gap = ctx.calendar.count(f_pair + one, s_pair + one)
    frame = pd.DataFrame({"row": pairs.index, "pred": pairs.to_numpy(), "gap": gap})
    frame = frame[frame["gap"] < params.lead_days]  # missing dates (NaN) never fail
    worst = frame.sort_values("gap", kind="stable").drop_duplicates("row")
    bad = pd.Series(table.rows.isin(worst["row"]), index=table.rows)
    pred = pd.Series(worst["pred"].to_numpy(), index=worst["row"].to_numpy()).reindex(table.rows)
    days = pd.Series(worst["gap"].to_numpy(), index=worst["row"].to_numpy()).reindex(table.rows)
    task_names = table.display("task")
    values = {
        "pred_row": pred.astype("Int64").astype(str),
        "pred_task": pred.map(lambda r: task_names.get(r, "") if pd.notna(r) else ""),
        "days": days.map(lambda d: "" if pd.isna(d) else str(int(d))),
        "lead_days": pd.Series(str(params.lead_days), index=table.rows),
        "unit": pd.Series(_unit(ctx), index=table.rows),
    }
    return CheckResult({c: bad for c in lit}, values=values)


def _unit(ctx: Context) -> str:
    """The day unit of day counts in messages: working days with a calendar."""
    zh = ctx.locale == "zh-CN"
    if ctx.calendar is None:
        return "天" if zh else "days"
    return "个工作日" if zh else "working days"


class GroupSumParams(Params):
    group_by: str
    sum: str
    limit: str
    limit_agg: Literal["sum", "max", "first"] = "sum"

    def columns(self) -> list[str]:
        return [self.group_by, self.sum, self.limit]


@register("group_sum", GroupSumParams)
def check_group_sum(
    table: Table, rule: RuleSpec, params: GroupSumParams, ctx: Context
) -> CheckResult:
    """Per group (e.g. channel), the sum of ``sum`` must not exceed ``limit`` aggregated with
    ``limit_agg``; every row of a group over its limit is flagged. Adds ``{total}``, ``{limit}``."""
    lit = rule.columns or [params.sum]
    if not (table.present[params.sum].any() and table.present[params.limit].any()):
        return CheckResult({c: pd.Series(False, index=table.rows) for c in lit})
    frame = pd.DataFrame(
        {
            "k": table.text(params.group_by),
            "spent": table.data[params.sum],
            "cap": table.data[params.limit],
        }
    )
    g = frame.groupby("k", sort=False)
    total = g["spent"].transform("sum")
    agg = "first" if params.limit_agg == "first" else params.limit_agg
    limit = g["cap"].transform(agg)
    has_cap = g["cap"].transform("count") > 0
    bad = (table.present[params.group_by] & has_cap & (total > limit + 1e-9)).fillna(False)
    values = {"total": total.map(_fmt_num), "limit": limit.map(_fmt_num)}
    return CheckResult({c: bad.astype(bool) for c in lit}, values=values)


def _fmt_num(v: Any) -> str:
    if v is None or pd.isna(v):
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


__all__ = [
    "REGISTRY",
    "CheckResult",
    "Context",
    "Params",
    "ValidationError",
    "register",
    "run_check",
]

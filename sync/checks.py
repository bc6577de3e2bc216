"""Check kinds: a registry of vectorized functions, each with a pydantic model of its parameters.

A check gets the task table and returns, for each column it lights up, a boolean Series that
is True on the failing rows. Adding a kind is adding one decorated function here (and a
section in the README: a test fails when a registered kind is undocumented).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .conditions import evaluate, parse_condition

if TYPE_CHECKING:
    from .parse import Table
    from .rules import RuleSpec


@dataclass(frozen=True)
class Context:
    """What a check may know besides the table: the as-of date and the locale."""

    as_of: dt.date
    locale: str = "zh-CN"


@dataclass(frozen=True)
class CheckResult:
    """Failing rows per lit column, plus per-row placeholder values for the message."""

    masks: dict[str, pd.Series]
    values: dict[str, pd.Series] | None = None
    other: str | None = None


CheckFn = Callable[["Table", "RuleSpec", Any, Context], CheckResult]


class Params(BaseModel):
    """Base of every check kind's parameters: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def columns(self) -> list[str]:
        """Columns the parameters name (for the load-time reference check)."""
        return []


@dataclass(frozen=True)
class CheckKind:
    name: str
    fn: CheckFn
    params: type[Params]
    summary: str


REGISTRY: dict[str, CheckKind] = {}


def register(name: str, params: type[Params] = Params) -> Callable[[CheckFn], CheckFn]:
    """Register a check kind under ``name`` (its docstring's first line is its summary)."""

    def deco(fn: CheckFn) -> CheckFn:
        summary = (fn.__doc__ or name).strip().splitlines()[0]
        REGISTRY[name] = CheckKind(name, fn, params, summary)
        return fn

    return deco


def build_params(check: str, raw: dict[str, Any]) -> Params:
    """Validate a rule's check-specific keys. KeyError for an unknown kind."""
    kind = REGISTRY.get(check)
    if kind is None:
        raise KeyError(f"unknown check kind {check!r}; registered kinds: {sorted(REGISTRY)}")
    return kind.params.model_validate(raw)


def referenced_columns(rule: RuleSpec) -> list[str]:
    cols = list(rule.columns)
    if rule.when is not None:
        cols += parse_condition(rule.when)
    if rule.value_column:
        cols.append(rule.value_column)
    if isinstance(rule.params, Params):
        cols += rule.params.columns()
    return cols


def run_check(table: Table, rule: RuleSpec, ctx: Context) -> CheckResult:
    """Run one rule over the rows its ``when`` selects."""
    result = REGISTRY[rule.check].fn(table, rule, rule.params, ctx)
    if rule.when is not None:
        applies = evaluate(rule.when, table, ctx.as_of)
        result = CheckResult(
            {c: m & applies for c, m in result.masks.items()}, result.values, result.other
        )
    return result


# ---------------------------------------------------------------------------- kinds


@register("required")
def check_required(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """The cell must not be empty (blank, -, /, NA, N/A, 无 count as empty)."""
    return CheckResult({c: ~table.present[c] for c in rule.columns})


@register("type")
def check_type(table: Table, rule: RuleSpec, params: Params, ctx: Context) -> CheckResult:
    """A filled cell must read as the column's type (date, percent, status, number)."""
    return CheckResult({c: table.invalid[c] for c in rule.columns})


class RangeParams(Params):
    min: float | None = None
    max: float | None = None


@register("range", RangeParams)
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
    column: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    other: str
    offset_days: int = 0

    def columns(self) -> list[str]:
        return [self.column] + ([] if self.other == "today" else [self.other])


_CMP = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


@register("compare", CompareParams)
def check_compare(table: Table, rule: RuleSpec, params: CompareParams, ctx: Context) -> CheckResult:
    """``column op other (+ offset_days)`` must hold where both are filled; ``other`` may be ``today``."""
    left = table.data[params.column]
    if params.other == "today":
        right: Any = pd.Series(pd.Timestamp(ctx.as_of), index=left.index)
        other_name = "today"
    else:
        right = table.data[params.other]
        other_name = table.headers[params.other]
    if params.offset_days:
        right = right + pd.Timedelta(days=params.offset_days)
    both = left.notna() & right.notna()
    bad = pd.Series(False, index=left.index)
    if both.any():
        bad[both] = ~_CMP[params.op](left[both], right[both]).astype(bool)
    lit = rule.columns or [params.column]
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


@register("implies", ImpliesParams)
def check_implies(table: Table, rule: RuleSpec, params: ImpliesParams, ctx: Context) -> CheckResult:
    """Where ``when`` holds, ``then`` must hold too (the rule's ``when`` is the premise)."""
    bad = ~evaluate(params.then, table, ctx.as_of)
    lit = rule.columns or parse_condition(params.then)
    return CheckResult({c: bad for c in lit})


__all__ = [
    "REGISTRY",
    "CheckResult",
    "Context",
    "Params",
    "ValidationError",
    "register",
    "run_check",
]

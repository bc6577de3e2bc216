"""Row conditions (``when:`` / ``then:``): structured data evaluated vectorized, never ``eval``.

A condition is one of::

    {column: status, eq: completed}          eq ne lt le gt ge in not_in matches present
    {column: description, same_as: channel}  the two cells hold the same text
    {all: [cond, ...]}  {any: [cond, ...]}  {not: cond}

Values compare against the typed cell: status ids for status columns, numbers for percent
and number columns, ISO dates or ``today`` / ``today+3`` / ``today-3`` for date columns,
true/false for bool columns, text otherwise.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .defaults import REGEX_TEXT_LIMIT

if TYPE_CHECKING:
    from .parse import Table

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "matches", "present", "same_as")
_COMBINATORS = ("all", "any", "not")


def parse_condition(cond: Any) -> list[str]:
    """Check a condition's shape; returns the columns it names. Raises ValueError."""
    if not isinstance(cond, dict):
        raise ValueError(f"a condition is a mapping, got {type(cond).__name__}")
    keys = set(cond)
    combos = keys & set(_COMBINATORS)
    if combos:
        if len(keys) != 1:
            raise ValueError(
                f"{sorted(combos)[0]!r} must stand alone in its mapping, found {sorted(keys)}"
            )
        key = next(iter(keys))
        if key == "not":
            return parse_condition(cond["not"])
        items = cond[key]
        if not isinstance(items, list) or not items:
            raise ValueError(f"{key!r} takes a non-empty list of conditions")
        return [c for item in items for c in parse_condition(item)]
    if "column" not in keys:
        raise ValueError(
            f"a condition needs 'column' and one of {list(OPS)} (or all/any/not); found {sorted(keys)}"
        )
    ops = keys - {"column"}
    unknown = ops - set(OPS)
    if unknown:
        raise ValueError(f"unknown operator {sorted(unknown)}; expected one of {list(OPS)}")
    if len(ops) != 1:
        raise ValueError(f"a condition takes exactly one operator, found {sorted(ops) or 'none'}")
    op = next(iter(ops))
    value = cond[op]
    if op in ("in", "not_in") and not isinstance(value, list):
        raise ValueError(f"{op!r} takes a list")
    if op == "present" and not isinstance(value, bool):
        raise ValueError("'present' takes true or false")
    if op == "matches":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    if op == "same_as":
        if not isinstance(value, str):
            raise ValueError("'same_as' takes a column name")
        return [str(cond["column"]), value]
    return [str(cond["column"])]


def prune(cond: dict[str, Any], available: Collection[str]) -> dict[str, Any] | None:
    """The condition as it can be judged on a sheet holding only the ``available`` columns;
    None when it cannot be judged. A branch of ``any`` about a missing column is dropped (it
    cannot hold: there is no such cell); anything else about one makes the whole condition
    unjudgeable, so a missing column never produces a finding.

    >>> c = {"any": [{"column": "progress", "ge": 100}, {"column": "actual_finish", "present": True}]}
    >>> prune(c, {"progress"})
    {'any': [{'column': 'progress', 'ge': 100}]}
    >>> prune({"not": c}, {"status"}) is None
    True
    """
    if "all" in cond:
        parts = [prune(c, available) for c in cond["all"]]
        return None if any(p is None for p in parts) else {"all": parts}
    if "any" in cond:
        kept = [p for p in (prune(c, available) for c in cond["any"]) if p is not None]
        return {"any": kept} if kept else None
    if "not" in cond:
        inner = prune(cond["not"], available)
        return None if inner is None else {"not": inner}
    return cond if all(c in available for c in parse_condition(cond)) else None


def evaluate(cond: dict[str, Any], table: Table, as_of: dt.date) -> pd.Series:
    """Boolean Series over the table's rows; an empty cell fails every comparison but ``present: false``."""
    if "all" in cond:
        out = pd.Series(True, index=table.data.index)
        for c in cond["all"]:
            out &= evaluate(c, table, as_of)
        return out
    if "any" in cond:
        out = pd.Series(False, index=table.data.index)
        for c in cond["any"]:
            out |= evaluate(c, table, as_of)
        return out
    if "not" in cond:
        return ~evaluate(cond["not"], table, as_of)
    col = str(cond["column"])
    op = next(k for k in cond if k != "column")
    value = cond[op]
    present = table.present[col]
    if op == "present":
        return present if value else ~present
    if op == "same_as":
        return (
            present
            & table.present[str(value)]
            & pd.Series(_same_text(table, col, str(value)), index=present.index)
        )
    if op == "matches":
        pattern = re.compile(str(value))
        # once per distinct cell, a bounded scan (see defaults)
        hits = table.text_map(col, lambda t: pattern.search(t[:REGEX_TEXT_LIMIT]) is not None, bool)
        return pd.Series(hits, index=present.index) & present
    series = table.data[col]
    kind = table.kinds.get(col, "text")
    if op in ("in", "not_in"):
        values = [_coerce(v, kind, as_of) for v in value]
        hit = series.isin(values) & present
        return hit if op == "in" else present & ~hit
    rhs = _coerce(value, kind, as_of)
    ops = {
        "eq": np.equal,
        "ne": np.not_equal,
        "lt": np.less,
        "le": np.less_equal,
        "gt": np.greater,
        "ge": np.greater_equal,
    }
    valid = series.notna().to_numpy(dtype=bool)
    result = np.zeros(len(series), dtype=bool)
    if valid.any():
        left = series.to_numpy()[valid]
        right = rhs.to_datetime64() if isinstance(rhs, pd.Timestamp) else rhs
        result[valid] = np.asarray(ops[op](left, right), dtype=bool)
    return pd.Series(result, index=series.index)


def _same_text(table: Table, a: str, b: str) -> np.ndarray:
    """Whether each row's texts of columns ``a`` and ``b`` are equal (compared as codes: each
    distinct text gets one number across both columns)."""
    a_codes, a_texts = table.text_codes(a)
    b_codes, b_texts = table.text_codes(b)
    # code -1 ('') picks the last slot of each column's numbers
    same, _ = pd.factorize(np.array([*a_texts, "", *b_texts, ""], dtype=object))
    a_same, b_same = same[: len(a_texts) + 1], same[len(a_texts) + 1 :]
    result: np.ndarray = a_same[a_codes] == b_same[b_codes]
    return result


def _coerce(value: Any, kind: str, as_of: dt.date) -> Any:
    if kind == "date":
        if isinstance(value, str):
            m = re.fullmatch(r"\s*today\s*(?:([+-])\s*(\d+))?\s*", value.lower())
            if m:
                days = int(m.group(2) or 0) * (-1 if m.group(1) == "-" else 1)
                return pd.Timestamp(as_of) + pd.Timedelta(days=days)
        return pd.Timestamp(value)
    if kind in ("percent", "number"):
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)

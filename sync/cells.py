"""Cells below every stage and backend: A1 notation and "does this cell already show that"."""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable
from typing import Any

#: A raw cell value as a backend hands it over: str, int, float, bool, datetime/date or None.
RawValue = Any


def is_number(value: Any) -> bool:
    """A number cell: an int or float (NumPy's too), not a checkbox (bool), not NaN.

    >>> [is_number(v) for v in (3, 0.5, True, float("nan"), "3", None)]
    [True, True, False, False, False, False]
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def col_letter(col: int) -> str:
    """0-based column index -> A1 letters.

    >>> col_letter(0), col_letter(25), col_letter(26), col_letter(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    s = ""
    n = col + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def a1(row: int, col: int) -> str:
    """0-based (row, col) -> an A1 cell name.

    >>> a1(0, 0), a1(9, 27)
    ('A1', 'AB10')
    """
    return f"{col_letter(col)}{row + 1}"


def a1_range(first_row: int, last_row: int, first_col: int, last_col: int) -> str:
    """An inclusive 0-based block -> ``A1:B2``.

    >>> a1_range(1, 499, 0, 13)
    'A2:N500'
    """
    return f"{a1(first_row, first_col)}:{a1(last_row, last_col)}"


def runs(indexes: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted row or column indexes as (first, last) runs of consecutive ones.

    >>> runs([0, 1, 2, 5, 7, 8])
    [(0, 2), (5, 5), (7, 8)]
    """
    out: list[tuple[int, int]] = []
    for i in indexes:
        if out and i == out[-1][1] + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def is_empty(v: Any) -> bool:
    """None, NaN and "" are all an empty cell."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and v == "")


def same_value(a: RawValue, b: RawValue) -> bool:
    """True when a cell holding ``a`` already shows ``b`` (numbers compare by value).

    >>> same_value(54.5, 54.50000000001), same_value(None, ""), same_value(True, 1)
    (True, True, False)
    """
    if is_empty(a) and is_empty(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


def json_value(v: Any) -> Any:
    """A cell value for JSON: dates as ISO text, NaN and ±inf as None.

    >>> json_value(dt.date(2024, 3, 20)), json_value(float("nan")), json_value("x")
    ('2024-03-20', None, 'x')
    """
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, bool | int | str):
        return v
    try:  # numpy / pandas scalars
        if v != v:
            return None
        item = v.item()
    except (AttributeError, TypeError, ValueError):
        return str(v)
    return json_value(item)

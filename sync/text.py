"""Text folding: the one way the job compares what people typed."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_SPACES = re.compile(r"[\s\ufe0e\ufe0f]+")


def fold(value: Any, *, spaces: bool = True, keep_case: bool = False) -> str:
    """NFKC (full-width to half-width), trimmed, case-folded; ``spaces=False`` also drops every
    inner space and emoji variation selector (for headers: ``当前进度 (%)`` = ``当前进度(%)``);
    ``keep_case=True`` skips the case folding (for case-sensitive patterns and notes).

    >>> fold("  Ｑ１ Launch ")
    'q1 launch'
    >>> fold(" 当前进度（％） ", spaces=False)
    '当前进度(%)'
    >>> fold(" Ｑ１ Launch ", keep_case=True)
    'Q1 Launch'
    """
    s = unicodedata.normalize("NFKC", str(value)).strip()
    if not keep_case:
        s = s.casefold()
    return s if spaces else _SPACES.sub("", s)

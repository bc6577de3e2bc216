"""Text folding: the one way the job compares what people typed."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_SPACES = re.compile(r"[\s\ufe0e\ufe0f]+")
#: Characters that show nothing but break matching: zero-width space / joiners, word joiner,
#: BOM (chat apps and web pages paste them in front of text).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def visible(text: str) -> str:
    """``text`` without zero-width characters and byte-order marks.

    >>> visible("\u200b王丽\ufeff")
    '王丽'
    """
    return text.translate(_INVISIBLE)


def fold(value: Any, *, spaces: bool = True, keep_case: bool = False) -> str:
    """NFKC (full-width to half-width), trimmed, case-folded; ``spaces=False`` also drops every
    inner space and emoji variation selector (for headers: ``当前进度 (%)`` = ``当前进度(%)``);
    ``keep_case=True`` skips the case folding (for case-sensitive patterns and notes).
    Zero-width characters and BOMs are dropped (:func:`visible`).

    >>> fold("  Ｑ１ Launch ")
    'q1 launch'
    >>> fold(" 当前进度（％） ", spaces=False)
    '当前进度(%)'
    >>> fold(" Ｑ１ Launch ", keep_case=True)
    'Q1 Launch'
    """
    s = unicodedata.normalize("NFKC", visible(str(value))).strip()
    if not keep_case:
        s = s.casefold()
    return s if spaces else _SPACES.sub("", s)


#: Secrets that must never reach a message, a log line or the run store.
_SECRETS = (
    (re.compile(r"(?i)\bBearer\s+[A-Za-z0-9._~+/-]+=*"), "Bearer [redacted]"),
    (re.compile(r"\bya29\.[A-Za-z0-9._-]+"), "[redacted access token]"),
    (re.compile(r"\b1//[A-Za-z0-9._-]{20,}"), "[redacted refresh token]"),
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        "[redacted private key]",
    ),
    (
        re.compile(
            r"""(?i)(["']?(?:access_token|refresh_token|id_token|private_key|client_secret|assertion)["']?\s*[:=]\s*["']?)(?!\[redacted)[^"'\s,&}]+"""
        ),
        r"\1[redacted]",
    ),
)


def redact(text: str) -> str:
    """``text`` with bearer tokens, OAuth access/refresh tokens and private keys removed.

    >>> redact("401: Authorization: Bearer ya29.a0AfH6SMB-x_y, refresh_token=1//0gAbc")
    '401: Authorization: Bearer [redacted], refresh_token=[redacted]'
    """
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text

"""Defaults shared by every layer (locale, file names, limits): one place to change them."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from .errors import RuleError

#: The languages the job writes (headers, labels, messages).
Locale = Literal["zh-CN", "en"]
LOCALES: Final = ("zh-CN", "en")
#: The language when a config or a command names none: the seed's own.
DEFAULT_LOCALE: Final = "zh-CN"

#: The config file a command reads when -c and $TRACKER_SYNC_CONFIG are not given.
DEFAULT_CONFIG: Final = "config.yaml"
#: Folder (beside the config file) that holds one run store per tracker.
HISTORY_DIR: Final = ".tracker-sync"

#: Deviation (percentage points behind plan) from which a task turns amber.
AMBER_DEVIATION: Final = 10.0

#: A rule's regular expression sees at most this many characters of a cell (its beginning):
#: rule files are user input, and some patterns take time quadratic in the text they scan.
REGEX_TEXT_LIMIT: Final = 2_000


def shipped_rules_dir() -> Path:
    """The rule pack that ships with the package (works from a wheel and from a checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise RuleError(f"the shipped rule pack is missing (looked in {here / '_rules'})")

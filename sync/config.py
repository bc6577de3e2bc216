"""Config models (pydantic) and loading of config.yaml; errors name the file, line and key."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import yamlio
from .errors import ConfigError

BUILTIN_RULES = "builtin"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrackerConfig(_Strict):
    """Where the tracker lives."""

    backend: Literal["xlsx", "gsheets"] = "xlsx"
    path: Path | None = None
    spreadsheet: str | None = None
    worksheet: str | None = None
    summary_worksheet: str | None = None
    output: Path | None = None

    @model_validator(mode="after")
    def _target_given(self) -> TrackerConfig:
        if self.backend == "xlsx" and self.path is None:
            raise ValueError("tracker.path is required when tracker.backend is xlsx")
        if self.backend == "gsheets" and not self.spreadsheet:
            raise ValueError("tracker.spreadsheet is required when tracker.backend is gsheets")
        return self


class Thresholds(_Strict):
    """Limits that turn numbers into health colours."""

    amber_deviation: float = Field(default=10.0, ge=0, le=100)


class RetryConfig(_Strict):
    """How long to keep trying when Google answers 429 / 5xx, times out or drops the connection."""

    attempts: int = Field(default=5, ge=1, le=20)
    max_seconds: float = Field(default=60.0, gt=0, le=600)


class GoogleConfig(_Strict):
    """Google Sheets access (only for ``tracker.backend: gsheets``)."""

    credentials: Path | None = None
    api_endpoint: str = "https://sheets.googleapis.com"
    timeout: float = Field(default=30.0, gt=0, le=300)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @field_validator("api_endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "api_endpoint must be an http(s) URL, e.g. https://sheets.googleapis.com"
            )
        return value.rstrip("/")


class HistoryConfig(_Strict):
    """The run store (SQLite)."""

    enabled: bool = True
    path: Path | None = None


class Config(_Strict):
    """The whole configuration. Build with :func:`load_config` or directly in code."""

    tracker: TrackerConfig
    rules: list[str] = Field(default_factory=lambda: [BUILTIN_RULES])
    locale: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    google: GoogleConfig = Field(default_factory=GoogleConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)"
                ) from None
        return value

    def resolve(self, path: Path | str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def rule_dirs(self) -> list[Path]:
        """The rule folders in override order, ``builtin`` being the shipped pack."""
        from .rules import shipped_rules_dir

        return [shipped_rules_dir() if r == BUILTIN_RULES else self.resolve(r) for r in self.rules]

    def history_path(self) -> Path | None:
        """Where the run store lives: history.path, else beside the config file (None: no store)."""
        if not self.history.enabled:
            return None
        if self.history.path is not None:
            return self.resolve(self.history.path)
        if self.source is None:
            return None  # a config built in code, with no file to sit beside
        return self.base_dir / "tracker-sync-history.sqlite"

    def summary_title(self) -> str:
        from .i18n import text

        return self.tracker.summary_worksheet or text(self.locale, "summary_title")


def load_config(path: Path | str) -> Config:
    """Load and validate a config file.

    >>> load_config("config.example.yaml").tracker.backend  # doctest: +SKIP
    'xlsx'
    """
    path = Path(path)
    doc = yamlio.load(path)
    data: Any = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{doc.where([])}: the config must be a mapping of keys (tracker:, rules:, ...)"
        )
    try:
        if "base_dir" in data or "source" in data:
            key = "base_dir" if "base_dir" in data else "source"
            raise ConfigError(f"{doc.where([key])}: {key}: unknown key")
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            "invalid config:\n" + yamlio.format_pydantic_errors(doc, exc.errors())
        ) from None
    return config.model_copy(update={"base_dir": path.resolve().parent, "source": path})

"""Config models (pydantic) and loading of config.yaml; errors name the file, line and key."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import yamlio
from .defaults import AMBER_DEVIATION, DEFAULT_LOCALE, HISTORY_DIR, Locale, shipped_rules_dir
from .errors import ConfigError
from .notify.config import NotifyConfig
from .registry import registered
from .workdays import CalendarConfig

BUILTIN_RULES = "builtin"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrackerConfig(_Strict):
    """Where the tracker lives."""

    #: A registered backend: ``xlsx``, ``gsheets``, or one an installed package adds.
    backend: str = "xlsx"
    path: Path | None = None
    spreadsheet: str | None = None
    worksheet: str | None = None
    summary_worksheet: str | None = None
    output: Path | None = None
    #: xlsx: write even while an Excel / LibreOffice lock file says someone has it open.
    ignore_lock: bool = False
    #: Settings for a backend installed as a package (the built-ins take none).
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("backend")
    @classmethod
    def _registered(cls, value: str) -> str:
        names = registered()
        if value not in names:
            raise ValueError(
                f"no backend named {value!r} is installed (installed: {', '.join(sorted(names))})"
            )
        return value

    @model_validator(mode="after")
    def _target_given(self) -> TrackerConfig:
        if self.backend == "xlsx" and self.path is None:
            raise ValueError("tracker.path is required when tracker.backend is xlsx")
        if self.backend in ("gsheets", "feishu") and not self.spreadsheet:
            raise ValueError(
                f"tracker.spreadsheet is required when tracker.backend is {self.backend}"
            )
        if self.path is None and not self.spreadsheet:
            raise ValueError("tracker.path or tracker.spreadsheet is required")
        if self.summary_worksheet is not None and self.summary_worksheet == self.worksheet:
            raise ValueError(
                f"tracker.summary_worksheet is the tracker tab itself ({self.worksheet!r}); the job "
                "rebuilds the summary tab, so it must be a tab of its own"
            )
        return self

    def identity(self) -> str:
        """Which tracker this is, as the config names it: backend, file or spreadsheet, tab.

        >>> TrackerConfig(path=Path("plan.xlsx"), worksheet="进度").identity()
        'xlsx:plan.xlsx#进度'
        """
        where = self.path.as_posix() if self.path is not None else str(self.spreadsheet)
        return f"{self.backend}:{where}#{self.worksheet or ''}"


class Thresholds(_Strict):
    """Limits that turn numbers into health colours."""

    amber_deviation: float = Field(default=AMBER_DEVIATION, ge=0, le=100)


class RetryConfig(_Strict):
    """How long to keep trying when Google answers 429 / 5xx, times out or drops the connection."""

    attempts: int = Field(default=5, ge=1, le=20)
    #: ≥ 70 s by default: Google's quota refills per minute, so 429s are waited out across it
    max_seconds: float = Field(default=90.0, gt=0, le=600)


class GoogleConfig(_Strict):
    """Google Sheets access (only for ``tracker.backend: gsheets``)."""

    credentials: Path | None = None
    api_endpoint: str = "https://sheets.googleapis.com"
    timeout: float = Field(default=30.0, gt=0, le=300)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    #: Largest request body the job sends, in bytes: values are written in chunks of at most
    #: this size. Google recommends ≤ 2 MB and refuses more than 10 MB (10,485,760 bytes).
    max_request_bytes: int = Field(default=2_000_000, ge=10_000, le=10_485_760)

    @field_validator("api_endpoint")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                "api_endpoint must be an http(s) URL, e.g. https://sheets.googleapis.com"
            )
        return value.rstrip("/")


class FeishuConfig(_Strict):
    """Feishu / Lark Sheets access (only for ``tracker.backend: feishu``): a custom app's
    credentials. The secret is never in the config itself: an environment variable or a file."""

    app_id: str | None = None
    #: Name of the environment variable holding the app secret.
    app_secret_env: str = "FEISHU_APP_SECRET"
    #: A file holding the app secret (wins over ``app_secret_env``).
    app_secret_file: Path | None = None
    #: ``feishu`` (open.feishu.cn), ``lark`` (open.larksuite.com) or any base URL (tests).
    domain: str = "feishu"
    timeout: float = Field(default=30.0, gt=0, le=300)
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if value not in ("feishu", "lark") and not value.startswith(("https://", "http://")):
            raise ValueError("domain must be feishu, lark or an http(s) base URL")
        return value.rstrip("/")


class HistoryConfig(_Strict):
    """The run store (SQLite)."""

    enabled: bool = True
    path: Path | None = None


class ReportConfig(_Strict):
    """``tracker-sync report`` (the weekly report and 复盘)."""

    #: A folder whose templates (report.md.j2, report.html.j2, report.css) replace the shipped
    #: ones of the same name; relative to the config file.
    template_dir: Path | None = None


class Config(_Strict):
    """The whole configuration. Build with :func:`load_config` or directly in code."""

    tracker: TrackerConfig
    rules: list[str] = Field(default_factory=lambda: [BUILTIN_RULES])
    locale: Locale = DEFAULT_LOCALE
    timezone: str | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    google: GoogleConfig = Field(default_factory=GoogleConfig)
    feishu: FeishuConfig = Field(default_factory=FeishuConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
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

    @model_validator(mode="after")
    def _summary_is_not_the_tracker(self) -> Config:
        if self.tracker.worksheet is not None and self.summary_title() == self.tracker.worksheet:
            raise ValueError(
                f"the summary tab's default name is the tracker tab's ({self.tracker.worksheet!r}); "
                "set tracker.summary_worksheet to another name"
            )
        return self

    def resolve(self, path: Path | str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def rule_dirs(self) -> list[Path]:
        """The rule folders in override order, ``builtin`` being the shipped pack."""
        return [shipped_rules_dir() if r == BUILTIN_RULES else self.resolve(r) for r in self.rules]

    def history_path(self) -> Path | None:
        """Where the run store lives (None: no store): ``history.path``, else one file per
        tracker in ``.tracker-sync/`` beside the config file, named after the tracker.

        A store from before per-tracker stores (``tracker-sync-history.sqlite`` beside the
        config) is kept in use while no per-tracker store exists; the store itself refuses
        runs of another tracker (:class:`sync.history.History`).
        """
        if not self.history.enabled:
            return None
        if self.history.path is not None:
            return self.resolve(self.history.path)
        if self.source is None:
            return None  # a config built in code, with no file to sit beside
        own = self.base_dir / HISTORY_DIR / f"{_slug(self.tracker.identity())}.sqlite"
        legacy = self.base_dir / LEGACY_HISTORY
        return legacy if legacy.exists() and not own.exists() else own

    def summary_title(self) -> str:
        from .i18n import text

        return self.tracker.summary_worksheet or text(self.locale, "summary_title")

    @property
    def locale_given(self) -> bool:
        """True when the config file (or code) set ``locale``; else a run takes the tracker's
        header language (:func:`sync.run.run_locale`)."""
        return "locale" in self.model_fields_set


#: The single store beside the config file that versions before 0.2 used for every tracker.
LEGACY_HISTORY = "tracker-sync-history.sqlite"


def _slug(identity: str) -> str:
    """A file name for a tracker identity: readable part + short hash (unique per identity).

    >>> _slug("xlsx:plans/Q3 launch.xlsx#进度")  # doctest: +ELLIPSIS
    'Q3-launch-进度-...'
    """
    import hashlib
    import re

    _, _, rest = identity.partition(":")
    where, _, tab = rest.rpartition("#")
    stem = Path(where).stem if "/" in where or "." in where else where
    readable = re.sub(r"[^\w.-]+", "-", f"{stem}-{tab}" if tab else stem).strip("-.")[:40]
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{readable or 'tracker'}-{digest}"


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

"""The ``notify:`` section of config.yaml (pydantic models; loaded with the rest of the config).

Secrets are never values in the file: a channel names the environment variable (``secret_env``,
``url_env``, ``user_env``, ``password_env``) or the file (``secret_file``, ``password_file``)
that holds them, read only when a message is sent.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChannelType = Literal["feishu", "lark", "wecom", "dingtalk", "slack", "email"]
WEBHOOK_TYPES: tuple[str, ...] = ("feishu", "lark", "wecom", "dingtalk", "slack")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(
            f"{value!r} is not an environment variable name; name the variable that holds the "
            "secret (e.g. FEISHU_BOT_SECRET), never the secret itself"
        )
    return value


class SmtpConfig(_Strict):
    """An SMTP server: implicit TLS (``ssl: true``, port 465) or STARTTLS (port 587)."""

    host: str
    port: int = Field(default=465, ge=1, le=65535)
    #: true: TLS from the first byte (SMTPS, port 465); false: plain, upgraded by STARTTLS
    ssl: bool = True
    #: with ssl false: upgrade with STARTTLS (refusing a server that does not offer it)
    starttls: bool = True
    user_env: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0, le=300)

    @field_validator("user_env", "password_env")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _env_name(value)


class ChannelConfig(_Strict):
    """One place messages go: a chat group's bot webhook, or e-mail."""

    type: ChannelType
    #: the channel's name in history, --json and logs (default: its type, numbered if repeated)
    name: str | None = Field(default=None, min_length=1, max_length=40)
    #: the webhook URL (its token is a secret too: prefer url_env)
    url: str | None = None
    url_env: str | None = None
    #: the signing secret (Feishu/Lark, DingTalk)
    secret_env: str | None = None
    secret_file: Path | None = None
    smtp: SmtpConfig | None = None
    from_: str | None = Field(default=None, alias="from")
    #: e-mail: who gets the digests (alerts go to the owners' e-mail addresses, else here)
    to: list[str] = Field(default_factory=list)
    #: seconds before one request times out
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url_env", "secret_env")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("url must be the bot's http(s) webhook address")
        return value

    @model_validator(mode="after")
    def _complete(self) -> ChannelConfig:
        if self.type == "email":
            if self.smtp is None or not self.from_ or not self.to:
                raise ValueError(
                    "an email channel needs smtp: {host: ...}, from: and to: [...] (digests go "
                    "to `to`; alerts to the owners' addresses, else to `to`)"
                )
            if self.url or self.url_env or self.secret_env or self.secret_file:
                raise ValueError("an email channel takes smtp:, from: and to:, not url or secret")
        else:
            if (self.url is None) == (self.url_env is None):
                raise ValueError(f"a {self.type} channel needs exactly one of url or url_env")
            if self.smtp is not None or self.from_ or self.to:
                raise ValueError(f"smtp, from and to are for email channels, not {self.type}")
            if self.type in ("wecom", "slack") and (self.secret_env or self.secret_file):
                raise ValueError(
                    f"{self.type} webhooks are not signed (the URL's token is the secret); "
                    "drop secret_env / secret_file"
                )
        if self.secret_env and self.secret_file:
            raise ValueError("give secret_env or secret_file, not both")
        return self


class DigestConfig(_Strict):
    """When the digests go out, in the run's time zone (null: no such digest)."""

    daily_at: str | None = "09:30"
    weekly_on: str | None = "fri 17:00"

    @field_validator("daily_at")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time(value)
        return value

    @field_validator("weekly_on")
    @classmethod
    def _weekly(cls, value: str | None) -> str | None:
        if value is not None:
            parse_weekly(value)
        return value


class RemindersConfig(_Strict):
    """Days between reminders of an alert that stays true: working days of ``calendar.*``
    (calendar days with ``calendar.country: none``)."""

    key_tasks: int = Field(default=1, ge=1, le=60)
    other_tasks: int = Field(default=3, ge=1, le=60)


class NotifyConfig(_Strict):
    """Who hears about what: channels, alerts, digests, the owner directory."""

    channels: list[ChannelConfig] = Field(default_factory=list)
    alerts: bool = True
    digest: DigestConfig = Field(default_factory=DigestConfig)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    #: YAML or CSV: 负责人 name -> mobile / email / feishu_open_id / slack_id
    owners: Path | None = None
    #: the tracker's address for people (default: the Google Sheet's, from tracker.spreadsheet)
    link: str | None = None
    summary_link: str | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> NotifyConfig:
        names = channel_names(self.channels)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"two notify channels are named {name!r}; give each its own name")
            seen.add(name)
        return self


def channel_names(channels: list[ChannelConfig]) -> list[str]:
    """Each channel's name: its own, else its type (``feishu``, ``feishu-2`` when repeated).

    >>> channel_names([ChannelConfig(type="slack", url="https://h/1"),
    ...                ChannelConfig(type="slack", url="https://h/2")])
    ['slack', 'slack-2']
    """
    counts: dict[str, int] = {}
    out = []
    for c in channels:
        if c.name:
            out.append(c.name)
            continue
        counts[c.type] = counts.get(c.type, 0) + 1
        out.append(c.type if counts[c.type] == 1 else f"{c.type}-{counts[c.type]}")
    return out


def parse_time(value: str) -> dt.time:
    """``"09:30"`` -> 09:30.

    >>> parse_time("9:05")
    datetime.time(9, 5)
    """
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{value!r} is not a time of day like 09:30")
    return dt.time(int(m.group(1)), int(m.group(2)))


def parse_weekly(value: str) -> tuple[int, dt.time]:
    """``"fri 17:00"`` -> (4, 17:00): the weekday (Monday 0) and the time.

    >>> parse_weekly("Fri 17:00")
    (4, datetime.time(17, 0))
    """
    day, _, at = value.strip().partition(" ")
    key = day.strip().lower()[:3]
    if key not in WEEKDAYS:
        raise ValueError(f"{value!r}: start with a weekday (mon … sun), e.g. 'fri 17:00'")
    return WEEKDAYS.index(key), parse_time(at or "00:00")

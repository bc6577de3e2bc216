"""One class per platform: render a :class:`~sync.notify.message.Message` into that platform's
payloads within its size limits, and send one payload (signing it, reading the platform's own
error codes).

Each platform's format, limits and errors, as its documentation states them:

- Feishu / Lark custom bot — https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
  (Lark: https://open.larksuite.com/document/client-docs/bot-v3/add-custom-bot). ``msg_type``
  ``post`` (rich text: ``text``, ``a``, ``at`` with ``user_id`` = open_id); signing: the string
  ``timestamp + "\\n" + secret`` is the HMAC-SHA256 *key* over an empty message, base64, sent
  as ``timestamp`` (seconds) and ``sign`` in the body, within an hour of the server's clock; a
  request body of at most 20 KB; 100 requests a minute and 5 a second per bot; error 11232
  (rate limited, common at the top or half of the hour) — retry later; success is
  ``{"code": 0}`` (older bots: ``{"StatusCode": 0}``).
- WeCom group robot — https://developer.work.weixin.qq.com/document/path/91770. ``msgtype``
  ``markdown`` with ``content`` of at most 4096 bytes (UTF-8); markdown cannot @ by mobile, so
  owners are @-ed by a following ``text`` message with ``mentioned_mobile_list`` (text content
  at most 2048 bytes); 20 messages a minute per robot; success ``{"errcode": 0}``, 45009 =
  frequency limit. Not signed: the ``key`` in the URL is the secret.
- DingTalk custom robot — https://open.dingtalk.com/document/robots/custom-robot-access and
  https://open.dingtalk.com/document/robots/customize-robot-security-settings. ``msgtype``
  ``markdown`` (``title``, ``text``) with ``at.atMobiles`` (the mobiles must also appear as
  ``@mobile`` in the text); signing: HMAC-SHA256 keyed by the secret over ``timestamp + "\\n"
  + secret`` (timestamp in milliseconds), base64 then URL-encoded, as ``&timestamp=…&sign=…`` in
  the URL; 20 messages a minute per robot (over it: throttled for 10 minutes); success
  ``{"errcode": 0}``. The size of a markdown message is not documented: 20,000 bytes is
  assumed.
- Slack incoming webhook — https://api.slack.com/messaging/webhooks with Block Kit
  (https://api.slack.com/reference/block-kit/blocks): a ``header`` block (plain text, at most
  150 characters), ``section`` blocks (mrkdwn, at most 3000 characters each), at most 50 blocks,
  ``text`` as the notification fallback; mentions ``<@U…>``, links ``<url|text>``; about one
  message a second (https://api.slack.com/docs/rate-limits); replies: 200 ``ok``; 400
  ``invalid_payload``, 403, 404 ``no_service`` / ``channel_not_found``, 410, 429 with
  ``Retry-After``, 500 (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
- E-mail over SMTP — implicit TLS (SMTPS, ``ssl: true``) or STARTTLS; one e-mail per owner for
  alerts (lines whose owner has no address go to ``to``), digests to ``to``.

``requests`` and ``smtplib`` are imported when a message is sent, never by ``--help``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from .config import ChannelConfig
from .message import Line, Message, Section, t
from .owners import Directory, Owner


class DeliveryError(Exception):
    """Sending failed and trying again at once will not help (a bad signature, a revoked URL)."""


class TransientError(DeliveryError):
    """Sending failed in a way that may pass (a time-out, a 5xx, a rate limit): retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: A message is split into at most this many parts before the rest is cut to "…and N more".
MAX_PARTS = 5


@dataclass
class Secrets:
    """What a channel reads from the environment or files, only when it sends."""

    url: str | None = None
    secret: str | None = None
    user: str | None = None
    password: str | None = None

    def scrub(self, text: str) -> str:
        """``text`` with every secret (and the URL's path and query) replaced."""
        for value in (self.url, self.secret, self.password, self.user):
            if value:
                text = text.replace(value, "[redacted]")
        if self.url:
            parts = urllib.parse.urlsplit(self.url)
            for piece in (parts.path, parts.query):
                if len(piece) > 4:
                    text = text.replace(piece, "[redacted]")
        return text


def _env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise DeliveryError(f"the environment variable {name} ({what}) is not set")
    return value


def _file(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DeliveryError(f"cannot read {what} from {path}: {exc.strerror}") from None


class Channel:
    """A platform: ``render`` a message into payloads, ``send`` one payload."""

    type: ClassVar[str]
    #: (calls, seconds) windows the platform allows
    rate: ClassVar[tuple[tuple[int, float], ...]] = ()

    def __init__(
        self, name: str, config: ChannelConfig, directory: Directory, base_dir: Path
    ) -> None:
        self.name = name
        self.config = config
        self.directory = directory
        self.base_dir = base_dir
        self._secrets: Secrets | None = None

    # secrets ---------------------------------------------------------------------------

    def secrets(self) -> Secrets:
        """Read the channel's secrets (DeliveryError naming what is missing)."""
        if self._secrets is None:
            c = self.config
            s = Secrets()
            s.url = c.url or (_env(c.url_env, "the webhook URL") if c.url_env else None)
            if c.secret_env:
                s.secret = _env(c.secret_env, "the signing secret")
            elif c.secret_file:
                s.secret = _file(self._path(c.secret_file), "the signing secret")
            if c.smtp is not None:
                if c.smtp.user_env:
                    s.user = _env(c.smtp.user_env, "the SMTP user")
                if c.smtp.password_env:
                    s.password = _env(c.smtp.password_env, "the SMTP password")
                elif c.smtp.password_file:
                    s.password = _file(self._path(c.smtp.password_file), "the SMTP password")
            self._secrets = s
        return self._secrets

    def scrub(self, text: str) -> str:
        try:
            return self.secrets().scrub(text)
        except DeliveryError:
            return text

    def _path(self, p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else self.base_dir / p

    # rendering -------------------------------------------------------------------------

    def render(self, message: Message) -> list[Any]:
        """The payloads that carry ``message`` (split or cut to the platform's limits)."""
        return [self.payload(part) for part in fit(message, lambda m: self.fits(self.payload(m)))]

    def payload(self, message: Message) -> Any:
        raise NotImplementedError

    def fits(self, payload: Any) -> bool:
        return True

    def owners_of(self, line: Line) -> list[Owner]:
        return self.directory.find(line.owner)[0] if line.owner else []

    # sending ---------------------------------------------------------------------------

    def send(self, payload: Any) -> None:
        raise NotImplementedError

    def _post(self, url: str, body: dict[str, Any]) -> Any:
        """POST JSON; 429 / 5xx / network errors are transient, other 4xx are not."""
        import requests

        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            reply = requests.post(
                url,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.config.timeout,
            )
        except requests.RequestException as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        if reply.status_code == 429 or reply.status_code >= 500:
            raise TransientError(
                f"HTTP {reply.status_code}: {reply.text[:200]}", _retry_after(reply.headers)
            )
        if reply.status_code >= 400:
            raise DeliveryError(f"HTTP {reply.status_code}: {reply.text[:200]}")
        return reply


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _json(reply: Any) -> dict[str, Any]:
    try:
        body = reply.json()
    except ValueError:
        raise DeliveryError(f"the reply is not JSON: {reply.text[:200]}") from None
    return body if isinstance(body, dict) else {}


# ---------------------------------------------------------------------------- fitting


def fit(message: Message, fits: Callable[[Message], bool]) -> list[Message]:
    """``message`` as parts that each ``fits``: lines are packed greedily (a section's heading
    repeats in the next part), at most :data:`MAX_PARTS` parts, the rest cut to "…and N more";
    a line too long on its own is shortened. Parts are titled "(1/3)" and so on.

    >>> lines = tuple(Line(f"task {i}") for i in range(80))
    >>> m = Message("alert", "T", (Section("H", lines),), locale="en")
    >>> parts = fit(m, lambda p: len(p.to_text()) < 120)
    >>> len(parts), parts[0].title, parts[-1].sections[-1].lines[-1].text
    (5, 'T (1/5)', '…and 30 more')
    """
    if fits(message):
        return [message]
    mark = " (9/9)"
    items = [(i, line) for i, s in enumerate(message.sections) for line in s.lines]
    parts: list[list[tuple[int, Line]]] = []
    current: list[tuple[int, Line]] = []

    def build(chunk: list[tuple[int, Line]], title: str, more: int = 0) -> Message:
        sections: list[Section] = []
        for i, line in chunk:
            heading = message.sections[i].heading
            if sections and sections[-1].heading == heading:
                sections[-1] = replace(sections[-1], lines=(*sections[-1].lines, line))
            else:
                sections.append(Section(heading, (line,)))
        if more:
            last = sections[-1] if sections else Section("", ())
            tail = Line(t(message.locale, "more", n=more))
            sections[-1:] = [replace(last, lines=(*last.lines, tail))]
        return replace(message, title=title, sections=tuple(sections))

    k = 0
    while k < len(items):
        item = items[k]
        trial = [*current, item]
        if fits(build(trial, message.title + mark)):
            current = trial
            k += 1
            continue
        if not current:  # one line alone is too long: shorten it
            i, line = item
            text = line.text
            while len(text) > 8 and not fits(build([(i, replace(line, text=text))], message.title)):
                text = text[: int(len(text) * 0.8)] + "…"
            current = [(i, replace(line, text=text))]
            k += 1
            continue
        parts.append(current)
        current = []
        if len(parts) == MAX_PARTS:
            break
    if current and len(parts) < MAX_PARTS:
        parts.append(current)
    rest = len(items) - sum(len(p) for p in parts)
    n = len(parts)
    out = []
    for j, chunk in enumerate(parts, start=1):
        title = f"{message.title} ({j}/{n})" if n > 1 else message.title
        if j == n and rest:
            chunk = list(chunk)
            while chunk and not fits(build(chunk, title, rest)):
                chunk.pop()
                rest += 1
            out.append(build(chunk, title, rest))
        else:
            out.append(build(chunk, title))
    return out


def _bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


# ---------------------------------------------------------------------------- registry

CHANNELS: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    CHANNELS[cls.type] = cls
    return cls


def open_channel(name: str, config: ChannelConfig, directory: Directory, base_dir: Path) -> Channel:
    return CHANNELS[config.type](name, config, directory, base_dir)


# ---------------------------------------------------------------------------- Feishu / Lark


@register
class Feishu(Channel):
    type = "feishu"
    rate = ((5, 1.0), (100, 60.0))
    MAX_BODY = 20 * 1024
    #: 11232: rate limited (typically at the top or half of the hour); 11233-ish codes differ
    RETRY_CODES = frozenset({11232, 9499})

    def payload(self, message: Message) -> dict[str, Any]:
        rows: list[list[dict[str, Any]]] = []
        for s in message.sections:
            rows.append([{"tag": "text", "text": f"【{s.heading}】"}])
            for line in s.lines:
                row: list[dict[str, Any]] = [{"tag": "text", "text": f"• {line.text}"}]
                if line.link:
                    row.append({"tag": "a", "text": f" {line.link_text or '→'}", "href": line.link})
                for owner in self.owners_of(line):
                    if owner.feishu_open_id:
                        row.append({"tag": "at", "user_id": owner.feishu_open_id})
                rows.append(row)
        for text, url in message.links:
            rows.append([{"tag": "a", "text": text, "href": url}])
        lang = "zh_cn" if message.locale == "zh-CN" else "en_us"
        return {
            "msg_type": "post",
            "content": {"post": {lang: {"title": message.title, "content": rows}}},
        }

    def fits(self, payload: Any) -> bool:
        # the signature adds about 80 bytes
        return _bytes(payload) + 100 <= self.MAX_BODY

    def send(self, payload: Any) -> None:
        s = self.secrets()
        assert s.url is not None
        body = dict(payload)
        if s.secret:
            body.update(feishu_sign(s.secret, int(time.time())))
        reply = _json(self._post(s.url, body))
        code = reply.get("code", reply.get("StatusCode", 0))
        if code in (0, None):
            return
        msg = reply.get("msg") or reply.get("StatusMessage") or ""
        if code in self.RETRY_CODES:
            raise TransientError(f"{self.type} error {code}: {msg}", 5.0)
        raise DeliveryError(f"{self.type} error {code}: {msg}")


@register
class Lark(Feishu):
    type = "lark"


def feishu_sign(secret: str, timestamp: int) -> dict[str, str]:
    """The body fields of a signed Feishu/Lark request.

    >>> feishu_sign("secret", 1599360473)["sign"]
    'q4jswNiMy51J5JuQV566yJat0/lQ/c+22kINzUgKsGU='
    """
    key = f"{timestamp}\n{secret}".encode()
    digest = hmac.new(key, b"", hashlib.sha256).digest()
    return {"timestamp": str(timestamp), "sign": base64.b64encode(digest).decode()}


# ---------------------------------------------------------------------------- WeCom


@register
class WeCom(Channel):
    type = "wecom"
    rate = ((20, 60.0),)
    MAX_MARKDOWN = 4096
    MAX_TEXT = 2048
    RETRY_CODES = frozenset({45009, -1})

    def render(self, message: Message) -> list[Any]:
        payloads = super().render(message)
        mobiles, names = [], []
        for owner_cell in message.owners:
            for owner in self.directory.find(owner_cell)[0]:
                if owner.mobile and owner.mobile not in mobiles:
                    mobiles.append(owner.mobile)
                    names.append(owner.name)
        if mobiles:
            text = t(message.locale, "owner") + ": " + "、".join(names)
            while len(text.encode()) > self.MAX_TEXT:
                text = text[: len(text) // 2] + "…"
            payloads.append(
                {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": mobiles}}
            )
        return payloads

    def payload(self, message: Message) -> dict[str, Any]:
        out = [f"### {message.title}"]
        for s in message.sections:
            out.append(f"**{s.heading}**")
            for line in s.lines:
                link = f" [{line.link_text or '→'}]({line.link})" if line.link else ""
                out.append(f"> {line.text}{link}")
        out += [f"[{text}]({url})" for text, url in message.links]
        return {"msgtype": "markdown", "markdown": {"content": "\n".join(out)}}

    def fits(self, payload: Any) -> bool:
        return len(payload["markdown"]["content"].encode()) <= self.MAX_MARKDOWN

    def send(self, payload: Any) -> None:
        url = self.secrets().url
        assert url is not None
        reply = _json(self._post(url, payload))
        code = reply.get("errcode", 0)
        if code == 0:
            return
        msg = reply.get("errmsg", "")
        if code in self.RETRY_CODES:
            raise TransientError(f"wecom error {code}: {msg}", 10.0)
        raise DeliveryError(f"wecom error {code}: {msg}")


# ---------------------------------------------------------------------------- DingTalk


@register
class DingTalk(Channel):
    type = "dingtalk"
    rate = ((20, 60.0),)
    MAX_BODY = 20_000  # assumed: not documented
    RETRY_CODES = frozenset({130101, 410100, -1})

    def payload(self, message: Message) -> dict[str, Any]:
        out = [f"### {message.title}"]
        mobiles: list[str] = []
        for s in message.sections:
            out.append(f"**{s.heading}**")
            for line in s.lines:
                link = f" [{line.link_text or '→'}]({line.link})" if line.link else ""
                ats = ""
                for owner in self.owners_of(line):
                    if owner.mobile:
                        ats += f" @{owner.mobile}"
                        if owner.mobile not in mobiles:
                            mobiles.append(owner.mobile)
                out.append(f"- {line.text}{link}{ats}")
        out += [f"[{text}]({url})" for text, url in message.links]
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": "\n\n".join(out)},
            "at": {"atMobiles": mobiles, "isAtAll": False},
        }

    def fits(self, payload: Any) -> bool:
        return _bytes(payload) <= self.MAX_BODY

    def send(self, payload: Any) -> None:
        s = self.secrets()
        assert s.url is not None
        url = s.url
        if s.secret:
            sep = "&" if "?" in url else "?"
            q = dingtalk_sign(s.secret, int(time.time() * 1000))
            url = f"{url}{sep}timestamp={q['timestamp']}&sign={q['sign']}"
        reply = _json(self._post(url, payload))
        code = reply.get("errcode", 0)
        if code == 0:
            return
        msg = reply.get("errmsg", "")
        if code in self.RETRY_CODES:
            raise TransientError(f"dingtalk error {code}: {msg}", 10.0)
        raise DeliveryError(f"dingtalk error {code}: {msg}")


def dingtalk_sign(secret: str, timestamp_ms: int) -> dict[str, str]:
    """The URL parameters of a signed DingTalk request (``sign`` already URL-encoded).

    >>> dingtalk_sign("SECabc", 1577262236757)["sign"]
    'I5TKCOTTj6fad4sJ4q9RsIffw0PAChVQZQGTdtRbNEQ%3D'
    """
    key = secret.encode()
    digest = hmac.new(key, f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    return {"timestamp": str(timestamp_ms), "sign": sign}


# ---------------------------------------------------------------------------- Slack


@register
class Slack(Channel):
    type = "slack"
    rate = ((1, 1.0),)
    MAX_BLOCKS = 50
    MAX_SECTION = 3000
    MAX_HEADER = 150

    def payload(self, message: Message) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, 150)}}
        ]
        for s in message.sections:
            text = f"*{_mrkdwn(s.heading)}*"
            for line in s.lines:
                piece = f"• {_mrkdwn(line.text)}"
                if line.link:
                    piece += f" <{line.link}|{_mrkdwn(line.link_text or 'link')}>"
                for owner in self.owners_of(line):
                    if owner.slack_id:
                        piece += f" <@{owner.slack_id}>"
                if len(text) + 1 + len(piece) > self.MAX_SECTION:
                    blocks.append(_section(text))
                    text = _cut(piece, self.MAX_SECTION)
                else:
                    text += "\n" + piece
            blocks.append(_section(text))
        if message.links:
            links = " · ".join(f"<{url}|{_mrkdwn(text)}>" for text, url in message.links)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
        return {"text": _cut(message.title, 3000), "blocks": blocks}

    def fits(self, payload: Any) -> bool:
        return len(payload["blocks"]) <= self.MAX_BLOCKS and _bytes(payload) <= 40_000

    def send(self, payload: Any) -> None:
        url = self.secrets().url
        assert url is not None
        reply = self._post(url, payload)
        if reply.text.strip() != "ok":
            raise DeliveryError(f"slack replied {reply.text[:200]!r}")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _mrkdwn(text: str) -> str:
    """Slack's three control characters escaped (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- e-mail


@dataclass(frozen=True)
class Email:
    """One e-mail: recipients and the message it carries."""

    to: tuple[str, ...]
    message: Message


@register
class EmailChannel(Channel):
    type = "email"

    def render(self, message: Message) -> list[Any]:
        """Alerts: one e-mail per owner with an address (their lines), the other lines to
        ``to``; digests and tests: one e-mail to ``to``."""
        to = tuple(self.config.to)
        if message.kind != "alert":
            return [Email(to, message)] if to else []
        by_address: dict[tuple[str, ...], list[tuple[int, Line]]] = {}
        for i, s in enumerate(message.sections):
            for line in s.lines:
                emails = tuple(o.email for o in self.owners_of(line) if o.email)
                by_address.setdefault(emails or to, []).append((i, line))
        out = []
        for rcpt, lines in by_address.items():
            if not rcpt:
                continue
            sections: list[Section] = []
            for i, line in lines:
                heading = message.sections[i].heading
                if sections and sections[-1].heading == heading:
                    sections[-1] = replace(sections[-1], lines=(*sections[-1].lines, line))
                else:
                    sections.append(Section(heading, (line,)))
            out.append(Email(rcpt, replace(message, sections=tuple(sections))))
        return out

    def send(self, payload: Any) -> None:
        import smtplib
        import ssl
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        assert isinstance(payload, Email) and self.config.smtp is not None
        smtp, s = self.config.smtp, self.secrets()
        mail = EmailMessage()
        mail["Subject"] = payload.message.title
        mail["From"] = self.config.from_ or ""
        mail["To"] = ", ".join(payload.to)
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(
            domain=(self.config.from_ or "x@tracker-sync").split("@")[-1]
        )
        mail.set_content(payload.message.to_text())
        context = ssl.create_default_context()
        try:
            server: smtplib.SMTP
            if smtp.ssl:
                server = smtplib.SMTP_SSL(
                    smtp.host, smtp.port, timeout=smtp.timeout, context=context
                )
            else:
                server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
            with server:
                if not smtp.ssl and smtp.starttls:
                    server.ehlo()
                    if not server.has_extn("starttls"):
                        raise DeliveryError(
                            f"{smtp.host}:{smtp.port} does not offer STARTTLS; set smtp.ssl: true "
                            "(port 465) or, only on a trusted network, smtp.starttls: false"
                        )
                    server.starttls(context=context)
                if s.user or s.password:
                    server.login(s.user or "", s.password or "")
                server.send_message(mail, self.config.from_, list(payload.to))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            cls = TransientError if 400 <= exc.smtp_code < 500 else DeliveryError
            raise cls(f"SMTP {exc.smtp_code}: {text}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"SMTP refused the recipients: {', '.join(exc.recipients)}"
            ) from None
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None

"""Local stand-ins for the chat platforms' webhooks and for an SMTP server, for the notify tests.

:class:`Receiver` is one threaded ``http.server`` on 127.0.0.1 that answers as the Feishu/Lark
custom bot, the WeCom group robot, the DingTalk custom robot and a Slack incoming webhook. Each
request is checked the way the platform documents it — the signature, the message schema, the
size limit, the rate limit — and answered with the platform's own success or error reply;
what arrived and every rule a request broke are recorded (``received``, ``problems``).

Documented (the pages cited in ``sync/notify/channels.py``):

- Feishu/Lark: sign = base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = empty)),
  timestamp in seconds within an hour; ``post`` content ``{locale: {title, content: [[elements]]}}``
  with ``text`` (text), ``a`` (text, href), ``at`` (user_id); body ≤ 20 KB; 5/s and 100/min;
  success ``{"code": 0, "msg": "success", "data": {}}``; sign failure code 19021; rate 11232.
- WeCom: ``key`` in the query; markdown content ≤ 4096 bytes; text content ≤ 2048 bytes with
  ``mentioned_mobile_list``; 20/min; ``{"errcode": 0, "errmsg": "ok"}``; 45009 over the limit;
  93000 an unknown key.
- DingTalk: ``access_token``, ``timestamp`` (ms, within an hour) and ``sign`` =
  base64(HMAC-SHA256(key = secret, message = timestamp + "\\n" + secret)) in the query; markdown
  ``title`` and ``text``; each ``at.atMobiles`` entry also written as ``@mobile`` in the text;
  20/min; ``{"errcode": 0, "errmsg": "ok"}``; 310000 for a bad signature; 130101 too fast.
- Slack: the path is the secret; ``blocks`` ≤ 50; a header's plain text ≤ 150 characters, a
  section's text ≤ 3000; 200 ``ok``; 400 ``invalid_payload``; 404 ``no_service``; 429.

Assumed: the error code for a Feishu post that breaks the schema (9499 "Bad Request" here) and
WeCom's for an over-long content (40058 here); the tests only need "not 0".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SECRETS = {"feishu": "feishu-sec-123", "lark": "lark-sec-456", "dingtalk": "SECding789"}
TOKENS = {
    "feishu": "f3e1-hook",
    "lark": "l4rk-hook",
    "wecom": "693a91f6-wecom-key",
    "dingtalk": "ding-access-token",
    "slack": "T000/B000/XXXXslack",
}
RATES = {
    "feishu": ((5, 1.0), (100, 60.0)),
    "lark": ((5, 1.0), (100, 60.0)),
    "wecom": ((20, 60.0),),
    "dingtalk": ((20, 60.0),),
    "slack": ((3, 1.0),),  # "short bursts above 1 per second are allowed"
}


@dataclass
class Received:
    platform: str
    body: dict[str, Any]
    query: dict[str, str]
    at: float


@dataclass
class Receiver:
    """The four platforms' webhooks on one local port. Use as a context manager."""

    received: list[Received] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: platforms that answer 503 to everything (a channel that is down)
    down: set[str] = field(default_factory=set)
    #: platform -> replies to give to the next requests instead of checking them
    script: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    enforce_rates: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._times: dict[str, list[float]] = {}

    # lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, reply = receiver.handle(self.path, raw, self.headers)
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                ctype = "text/plain" if isinstance(reply, bytes) else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, platform: str) -> str:
        base = f"http://127.0.0.1:{self.port}"
        token = TOKENS[platform]
        return {
            "feishu": f"{base}/open-apis/bot/v2/hook/{token}",
            "lark": f"{base}/lark/open-apis/bot/v2/hook/{token}",
            "wecom": f"{base}/cgi-bin/webhook/send?key={token}",
            "dingtalk": f"{base}/robot/send?access_token={token}",
            "slack": f"{base}/services/{token}",
        }[platform]

    def of(self, platform: str) -> list[dict[str, Any]]:
        """The bodies ``platform`` accepted, in order."""
        return [r.body for r in self.received if r.platform == platform]

    def reset_rates(self) -> None:
        """Forget past request times (between simulated runs, minutes apart in reality)."""
        with self._lock:
            self._times.clear()

    # handling -------------------------------------------------------------------------

    def handle(self, path: str, raw: bytes, headers: Any) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        platform = self._platform(parts.path)
        if platform is None:
            return 404, b"no_service"
        if platform in self.down:
            return 503, b"service unavailable"
        with self._lock:
            scripted = self.script.get(platform)
            if scripted:
                return scripted.pop(0)
        try:
            body = json.loads(raw)
        except ValueError:
            return self._bad(platform, "body is not JSON")
        if not isinstance(body, dict):
            return self._bad(platform, "body is not a JSON object")
        if headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self._bad(platform, "Content-Type is not application/json")
        check = getattr(self, f"_{'feishu' if platform == 'lark' else platform}")
        status, reply, problem = check(platform, parts.path, query, body, raw)
        if problem:
            self.problems.append(f"{platform}: {problem}")
            return status, reply
        limited = self._rate(platform)
        if limited is not None:
            self.problems.append(f"{platform}: over the rate limit")
            return limited
        self.received.append(Received(platform, body, query, time.time()))
        return status, reply

    def _platform(self, path: str) -> str | None:
        if path == f"/open-apis/bot/v2/hook/{TOKENS['feishu']}":
            return "feishu"
        if path == f"/lark/open-apis/bot/v2/hook/{TOKENS['lark']}":
            return "lark"
        if path == "/cgi-bin/webhook/send":
            return "wecom"
        if path == "/robot/send":
            return "dingtalk"
        if path == f"/services/{TOKENS['slack']}":
            return "slack"
        return None

    def _bad(self, platform: str, problem: str) -> tuple[int, Any]:
        self.problems.append(f"{platform}: {problem}")
        if platform == "slack":
            return 400, b"invalid_payload"
        if platform in ("feishu", "lark"):
            return 400, {"code": 9499, "msg": "Bad Request", "data": {}}
        return 200, {"errcode": 40058, "errmsg": problem}

    def _rate(self, platform: str) -> tuple[int, Any] | None:
        if not self.enforce_rates:
            return None
        now = time.monotonic()
        with self._lock:
            times = self._times.setdefault(platform, [])
            for calls, seconds in RATES[platform]:
                if len([t for t in times if t > now - seconds]) >= calls:
                    return {
                        "feishu": (200, {"code": 11232, "msg": "frequency limited", "data": {}}),
                        "lark": (200, {"code": 11232, "msg": "frequency limited", "data": {}}),
                        "wecom": (200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
                        "dingtalk": (200, {"errcode": 130101, "errmsg": "send too fast"}),
                        "slack": (429, b"rate_limited"),
                    }[platform]
            times.append(now)
        return None

    # the platforms --------------------------------------------------------------------

    def _feishu(
        self, platform: str, path: str, query: dict[str, str], body: dict[str, Any], raw: bytes
    ) -> tuple[int, Any, str | None]:
        ok = (200, {"code": 0, "msg": "success", "data": {}}, None)
        bad = (200, {"code": 9499, "msg": "Bad Request", "data": {}})
        if len(raw) > 20 * 1024:
            return (*bad, f"body of {len(raw)} bytes is over 20 KB")
        secret = SECRETS[platform]
        ts, sign = body.get("timestamp"), body.get("sign")
        if not isinstance(ts, str) or not ts.isdigit() or not isinstance(sign, str):
            return (200, {"code": 19021, "msg": "sign match fail"}, "timestamp/sign missing")
        if abs(time.time() - int(ts)) > 3600:
            return (200, {"code": 19021, "msg": "timestamp is not within one hour"}, "stale ts")
        want = base64.b64encode(
            hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
        ).decode()
        if sign != want:
            return (200, {"code": 19021, "msg": "sign match fail"}, "signature mismatch")
        extra = set(body) - {"timestamp", "sign", "msg_type", "content"}
        if extra:
            return (*bad, f"unknown keys {sorted(extra)}")
        if body.get("msg_type") != "post":
            return (*bad, f"msg_type {body.get('msg_type')!r} (expected post)")
        post = body.get("content", {}).get("post")
        if not isinstance(post, dict) or not post or set(post) - {"zh_cn", "en_us", "ja_jp"}:
            return (*bad, "content.post must map zh_cn / en_us / ja_jp to a post")
        for lang in post.values():
            if set(lang) - {"title", "content"} or not isinstance(lang.get("title"), str):
                return (*bad, "a post has title and content")
            rows = lang.get("content")
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                return (*bad, "content is a list of lines, each a list of elements")
            for row in rows:
                for el in row:
                    tag = el.get("tag")
                    need = {"text": {"text"}, "a": {"text", "href"}, "at": {"user_id"}}.get(tag)
                    if need is None:
                        return (*bad, f"unknown tag {tag!r}")
                    if not need <= set(el) or set(el) - need - {"tag", "user_name", "un_escape"}:
                        return (*bad, f"element {el} lacks {sorted(need)} or has unknown keys")
                    if tag == "a" and not str(el["href"]).startswith(("http://", "https://")):
                        return (*bad, f"href {el['href']!r} is not a URL")
        return ok

    def _wecom(
        self, platform: str, path: str, query: dict[str, str], body: dict[str, Any], raw: bytes
    ) -> tuple[int, Any, str | None]:
        if query.get("key") != TOKENS["wecom"]:
            return (200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "wrong key")
        kind = body.get("msgtype")
        bad = (200, {"errcode": 40058, "errmsg": "invalid content"})
        if set(body) != {"msgtype", kind}:
            return (*bad, f"keys {sorted(body)} (msgtype and {kind!r} only)")
        if kind == "markdown":
            md = body["markdown"]
            if set(md) != {"content"} or not isinstance(md["content"], str):
                return (*bad, "markdown takes content only")
            if len(md["content"].encode()) > 4096:
                return (*bad, f"markdown of {len(md['content'].encode())} bytes is over 4096")
        elif kind == "text":
            text = body["text"]
            if set(text) - {"content", "mentioned_list", "mentioned_mobile_list"}:
                return (*bad, "unknown text keys")
            if len(str(text.get("content", "")).encode()) > 2048:
                return (*bad, "text over 2048 bytes")
            mobiles = text.get("mentioned_mobile_list", [])
            if not isinstance(mobiles, list) or not all(isinstance(m, str) for m in mobiles):
                return (*bad, "mentioned_mobile_list is a list of strings")
        else:
            return (*bad, f"msgtype {kind!r}")
        return 200, {"errcode": 0, "errmsg": "ok"}, None

    def _dingtalk(
        self, platform: str, path: str, query: dict[str, str], body: dict[str, Any], raw: bytes
    ) -> tuple[int, Any, str | None]:
        if query.get("access_token") != TOKENS["dingtalk"]:
            return (200, {"errcode": 300001, "errmsg": "token is not exist"}, "wrong token")
        secret = SECRETS["dingtalk"]
        ts, sign = query.get("timestamp", ""), query.get("sign", "")
        if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 3600 * 1000:
            return (200, {"errcode": 310000, "errmsg": "sign not match"}, "timestamp")
        want = base64.b64encode(
            hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        if sign != want:
            return (200, {"errcode": 310000, "errmsg": "sign not match"}, "signature mismatch")
        bad = (200, {"errcode": 40035, "errmsg": "invalid parameter"})
        if body.get("msgtype") != "markdown" or set(body) - {"msgtype", "markdown", "at"}:
            return (*bad, f"keys {sorted(body)} / msgtype {body.get('msgtype')!r}")
        md = body["markdown"]
        if set(md) != {"title", "text"} or not all(isinstance(v, str) for v in md.values()):
            return (*bad, "markdown takes title and text")
        at = body.get("at", {})
        if set(at) - {"atMobiles", "atUserIds", "isAtAll"}:
            return (*bad, "unknown at keys")
        for mobile in at.get("atMobiles", []):
            if f"@{mobile}" not in md["text"]:
                return (*bad, f"@{mobile} is in atMobiles but not in the text")
        return 200, {"errcode": 0, "errmsg": "ok"}, None

    def _slack(
        self, platform: str, path: str, query: dict[str, str], body: dict[str, Any], raw: bytes
    ) -> tuple[int, Any, str | None]:
        bad = (400, b"invalid_payload")
        blocks = body.get("blocks")
        if not isinstance(body.get("text"), str) or not isinstance(blocks, list):
            return (*bad, "text and blocks are required")
        if len(blocks) > 50:
            return (*bad, f"{len(blocks)} blocks (at most 50)")
        for b in blocks:
            kind = b.get("type")
            if kind == "header":
                text = b.get("text", {})
                if text.get("type") != "plain_text" or len(text.get("text", "")) > 150:
                    return (*bad, "header: plain_text of at most 150 characters")
            elif kind == "section":
                text = b.get("text", {})
                if text.get("type") not in ("mrkdwn", "plain_text") or not text.get("text"):
                    return (*bad, "section: a text object")
                if len(text["text"]) > 3000:
                    return (*bad, f"section text of {len(text['text'])} characters (max 3000)")
            elif kind == "context":
                if not b.get("elements") or len(b["elements"]) > 10:
                    return (*bad, "context: 1 to 10 elements")
            else:
                return (*bad, f"block type {kind!r}")
        return 200, b"ok", None


# ---------------------------------------------------------------------------- SMTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What a real SMTP server (aiosmtpd) received: one entry per envelope."""

    envelopes: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.envelopes.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": str(msg["Subject"]),
                "body": msg.get_body(("plain",)).get_content(),  # type: ignore[union-attr]
                "login": getattr(session, "auth_data", None),
            }
        )
        return "250 Message accepted for delivery"


class Authenticator:
    """Accepts one user and password (AUTH PLAIN / LOGIN)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == self.user
            and data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=self.user if ok else None)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost / 127.0.0.1 and its key (openssl), to test TLS for real."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx

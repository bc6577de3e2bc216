"""The Feishu / Lark open-platform transport: the app's tenant_access_token, one request with
bounded retries, and Feishu's error codes mapped to :mod:`sync.errors` (each saying what to do).

Plain ``requests`` through this one class, not the official SDK ``lark-oapi``: the SDK's
token cache is a process-wide singleton that is never invalidated when Feishu rejects a token,
it has no retry or rate-limit handling, and its v2 values/styles calls are raw requests anyway;
this class is the seam the tests point at the local fake (``feishu.domain``).

Behaviours relied on (documented = on an open-platform reference page):

- documented (auth-v3 tenant_access_token_internal): ``POST /open-apis/auth/v3/tenant_access_token/internal``
  with app_id and app_secret returns ``tenant_access_token`` and ``expire`` (seconds, at most
  2 h); asked again with less than 30 min left it returns a new token. The token is refreshed
  5 minutes before it expires, and once when Feishu answers that it is invalid.
- documented (every API page): a reply is ``{"code", "msg", "data"}``; ``code`` 0 is success,
  whatever the HTTP status says, so the body's code is always checked.
- documented (frequency control, quoted by the issue and public clients): over the limit Feishu
  answers 429 (some older APIs 400) with code 99991400 and the seconds to wait in
  ``x-ogw-ratelimit-reset``; that wait is honoured within ``feishu.retry``.
- documented (sheets error-code tables, e.g. sheets-v3 filter/delete, spreadsheet-sheet/query):
  1310213 Permission Fail (the app is not a collaborator of the document), 1310214 spreadsheet
  not found, 1310249 spreadsheet deleted, 1310215 sheet id not found, 1310217 too many
  requests, 1310218 locked cell, 1315201/1315203 server error.
- assumed (third-party clients, not a reference page we read): 99991663 / 99991668 an invalid
  or expired token, 99991661 a missing token, 99991672 / 99991679 a scope the app lacks.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from ..errors import (
    AccessDenied,
    BackendUnavailable,
    ConfigError,
    RetryRun,
    TrackerError,
    TrackerNotFound,
)
from ..text import redact

log = logging.getLogger(__name__)

DOMAINS = {"feishu": "https://open.feishu.cn", "lark": "https://open.larksuite.com"}
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
#: Refresh the token this many seconds before Feishu says it expires.
TOKEN_MARGIN = 300.0
#: The app's own pace, below Feishu's limits (documented: 100 values / styles / tab requests a
#: second, 100 sheet queries a minute): (requests, seconds).
PACE = {"values": (90, 1.0), "query": (90, 60.0)}
#: When each app last sent requests, by (base URL, app id, group): shared by every transport of
#: the process, as Feishu counts per app.
_SENT: dict[tuple[str, str, str], deque[float]] = {}

RATE_LIMITED = {99991400, 1310217}
BAD_TOKEN = {99991663, 99991668, 99991661}
NO_SCOPE = {99991672, 99991679}
NOT_COLLABORATOR = 1310213
NOT_FOUND = {1310214, 1310249}
SHEET_GONE = {1310215, 1310211}
LOCKED = 1310218
SERVER = {1315201, 1315203, 1315210, 1310235, 1310242}


def base_url(domain: str) -> str:
    """``feishu`` / ``lark`` / a base URL -> the open platform's base URL.

    >>> base_url("lark"), base_url("http://127.0.0.1:9/")
    ('https://open.larksuite.com', 'http://127.0.0.1:9')
    """
    return DOMAINS.get(domain, domain).rstrip("/")


def app_secret(env: str, path: Path | None) -> str:
    """The app secret from ``feishu.app_secret_file``, else the environment variable named by
    ``feishu.app_secret_env``; a ConfigError saying which when neither holds one."""
    if path is not None:
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"feishu.app_secret_file: cannot read {path} ({exc.strerror})"
            ) from None
        if not secret:
            raise ConfigError(f"feishu.app_secret_file: {path} is empty")
        return secret
    secret = os.environ.get(env, "").strip()
    if not secret:
        raise ConfigError(
            f"feishu.app_secret_env: the environment variable {env} holds no app secret. Set it "
            "to the App Secret from the developer console (your app → Credentials & Basic Info), "
            "or point feishu.app_secret_file at a file holding it"
        )
    return secret


class FeishuAPIError(Exception):
    """A reply whose code is not 0 (or an HTTP failure without a body)."""

    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str]) -> None:
        super().__init__(f"HTTP {status}, code {code}: {msg}")
        self.status, self.code, self.msg, self.headers = status, code, msg, headers

    @property
    def reset(self) -> float | None:
        """Seconds Feishu asks to wait (``x-ogw-ratelimit-reset``)."""
        value = self.headers.get("x-ogw-ratelimit-reset")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None

    @property
    def rate_limited(self) -> bool:
        return self.code in RATE_LIMITED or self.status == 429

    @property
    def server_side(self) -> bool:
        return self.status >= 500 or self.code in SERVER


@dataclass
class Counter:
    """Requests sent by kind; ``auth`` (token fetches) is reported apart from reads and writes."""

    read: int = 0
    write: int = 0
    auth: int = 0
    by_path: dict[str, int] = field(default_factory=dict)


class Transport:
    """One app's requests to one open-platform domain."""

    def __init__(
        self,
        domain: str,
        app_id: str,
        secret: Callable[[], str],
        *,
        target: str,
        timeout: float = 30.0,
        attempts: int = 5,
        max_seconds: float = 90.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base_url(domain)
        self.app_id = app_id
        self._secret = secret
        self.target = target
        self.timeout = timeout
        self.attempts = attempts
        self.max_seconds = max_seconds
        self.sleep = sleep
        self.clock = clock
        self.session = requests.Session()
        self.counts = Counter()
        self._token: str | None = None
        self._expires = 0.0

    # ------------------------------------------------------------------ token

    def token(self, *, fresh: bool = False) -> str:
        if not fresh and self._token and self.clock() < self._expires - TOKEN_MARGIN:
            return self._token
        self.counts.auth += 1
        body = {"app_id": self.app_id, "app_secret": self._secret()}
        try:
            r = self.session.post(self.base + TOKEN_PATH, json=body, timeout=self.timeout)
            data = r.json()
        except requests.RequestException as exc:
            raise BackendUnavailable(self._unreachable(exc)) from None
        except ValueError:
            raise BackendUnavailable(
                f"{self.base}{TOKEN_PATH} answered HTTP {r.status_code} without JSON; check "
                "feishu.domain (feishu, lark or the base URL of the open platform)"
            ) from None
        if (
            not isinstance(data, dict)
            or data.get("code") != 0
            or not data.get("tenant_access_token")
        ):
            code = data.get("code") if isinstance(data, dict) else None
            msg = redact(str(data.get("msg", ""))) if isinstance(data, dict) else ""
            raise AccessDenied(
                f"Feishu refused the app's credentials (code {code}: {msg}). Check feishu.app_id "
                f"({self.app_id}) and the App Secret (developer console → your app → Credentials "
                "& Basic Info), and that feishu.domain is the platform the app was made on "
                "(feishu for open.feishu.cn, lark for open.larksuite.com)"
            )
        self._token = str(data["tenant_access_token"])
        self._expires = self.clock() + float(data.get("expire", 7200))
        return self._token

    def _unreachable(self, exc: BaseException) -> str:
        return (
            f"cannot reach the Feishu open platform at {self.base} ({exc.__class__.__name__}); "
            "check feishu.domain and that this machine can reach it"
        )

    # ------------------------------------------------------------------ requests

    def call(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        in_place: bool = True,
        upload: tuple[dict[str, str], tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return its ``data``. Retries 429 / 99991400 (waiting
        ``x-ogw-ratelimit-reset``), 5xx, time-outs and dropped connections within the budget;
        a rejected token is fetched again once. ``in_place=False`` (a write that must not be
        repeated blindly, like adding a tab): a failure whose outcome is unknown raises
        RetryRun so the run reads again first. ``upload`` = (form fields, (file name, bytes,
        type)) sends multipart/form-data instead of JSON."""
        start = self.clock()
        attempt = 0
        refreshed = False
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        while True:
            attempt += 1
            if kind == "read":
                self.counts.read += 1
            else:
                self.counts.write += 1
            key = f"{method} {path.rsplit('/', 1)[-1]}"
            self.counts.by_path[key] = self.counts.by_path.get(key, 0) + 1
            exc: BaseException
            try:
                return self._once(method, path, params, data, attempt, upload)
            except FeishuAPIError as err:
                if err.code in BAD_TOKEN and not refreshed:
                    refreshed = True
                    self.token(fresh=True)
                    continue
                exc = err
                retry = err.rate_limited or err.server_side
                ambiguous = err.server_side
            except (requests.Timeout, requests.ConnectionError) as err:
                exc = err
                retry = True
                ambiguous = True
            if ambiguous and not in_place:
                raise RetryRun(
                    f"a write's outcome is unknown ({self._describe(exc)}); reading again"
                ) from None
            spent = self.clock() - start
            if not retry or attempt >= self.attempts or spent >= self.max_seconds:
                raise self._map(exc, attempt) from None
            wait = self._wait(attempt, exc)
            wait = min(wait, max(0.0, self.max_seconds - spent))
            log.warning(
                "spreadsheet %s: %s (attempt %d); retrying in %.1f s",
                self.target,
                self._describe(exc),
                attempt,
                wait,
            )
            self.sleep(wait)

    def _pace(self, path: str) -> None:
        """Wait, if need be, so the app stays under Feishu's per-app limits (a 429 is then the
        exception, handled by the retries)."""
        if not path.startswith("/open-apis/sheets/"):
            return
        group = "query" if path.endswith("/sheets/query") else "values"
        most, window = PACE[group]
        sent = _SENT.setdefault((self.base, self.app_id, group), deque())
        now = self.clock()
        while sent and now - sent[0] >= window:
            sent.popleft()
        if len(sent) >= most:
            wait = window - (now - sent[0])
            log.info("pacing %s requests: waiting %.2f s", group, wait)
            self.sleep(wait)
            sent.popleft()
        sent.append(self.clock())

    def _once(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        data: bytes | None,
        attempt: int,
        upload: tuple[dict[str, str], tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token()}"}
        self._pace(path)
        t0 = time.perf_counter()
        if upload is not None:
            fields, file = upload
            r = self.session.request(
                method,
                self.base + path,
                data=fields,
                files={"file": file},
                headers=headers,
                timeout=self.timeout,
            )
        else:
            headers["Content-Type"] = "application/json; charset=utf-8"
            r = self.session.request(
                method,
                self.base + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        log.debug(
            "%s %s: %s, %d bytes out, %d bytes in, %.0f ms, try %d",
            method,
            path,
            r.status_code,
            len(data or b""),
            len(r.content or b""),
            (time.perf_counter() - t0) * 1000,
            attempt,
        )
        lower = {k.lower(): v for k, v in r.headers.items()}
        try:
            reply = r.json()
        except ValueError:
            raise FeishuAPIError(r.status_code, -1, f"HTTP {r.status_code}", lower) from None
        if not isinstance(reply, dict):
            raise FeishuAPIError(r.status_code, -1, "a reply that is not an object", lower)
        code = int(reply.get("code", -1))
        if code != 0:
            raise FeishuAPIError(r.status_code, code, redact(str(reply.get("msg", ""))), lower)
        data_out = reply.get("data")
        return data_out if isinstance(data_out, dict) else {}

    def _wait(self, attempt: int, exc: BaseException) -> float:
        if isinstance(exc, FeishuAPIError) and exc.rate_limited:
            hinted = exc.reset
            if hinted is not None:
                return hinted + random.uniform(0, 0.25)
            return random.uniform(0.8, 1.0) * min(30.0, 2.0 * 2.0 ** (attempt - 1))
        return random.uniform(0, min(16.0, 0.5 * 2.0 ** (attempt - 1)))  # full jitter

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, FeishuAPIError):
            return f"HTTP {exc.status}, code {exc.code}: {exc.msg}"
        if isinstance(exc, requests.Timeout):
            return f"no answer within {self.timeout:g} s"
        return "the connection failed or was dropped"

    def _map(self, exc: BaseException, attempts: int) -> BaseException:
        """Feishu's codes -> the project's errors, each saying what to do next."""
        where = f"spreadsheet {self.target}"
        if not isinstance(exc, FeishuAPIError):
            return BackendUnavailable(
                f"{where}: {self._unreachable(exc)}; gave up after {attempts} attempts. "
                "What was written stays; the next run carries on from there."
            )
        said = f"(Feishu: code {exc.code}, {exc.msg})"
        if exc.code == NOT_COLLABORATOR:
            return AccessDenied(
                f"{where}: the app ({self.app_id}) is not a collaborator of this spreadsheet "
                f"{said}. Open the sheet, click ··· (top right) → More → Add Document App "
                "(添加文档应用), find the app and give it edit access, then run again."
            )
        if exc.code in NO_SCOPE:
            return AccessDenied(
                f"{where}: the app ({self.app_id}) lacks the permission sheets:spreadsheet "
                f"{said}. In the developer console open the app → Permissions & Scopes, add "
                "sheets:spreadsheet (查看、评论、编辑和管理电子表格), then create and publish a new "
                "app version (版本管理与发布) so it takes effect, and run again."
            )
        if exc.code in BAD_TOKEN:
            return AccessDenied(
                f"{where}: Feishu rejected the app's access token twice {said}; check "
                "feishu.app_id, the app secret and feishu.domain"
            )
        if exc.code in NOT_FOUND:
            return TrackerNotFound(
                f"{where} not found or deleted {said}: check tracker.spreadsheet (the token is "
                "the part of the sheet's URL after /sheets/); a deleted sheet can be restored "
                "from the trash (回收站)"
            )
        if exc.code in SHEET_GONE:
            return RetryRun(f"a tab disappeared while the sync was writing {said}")
        if exc.code == LOCKED:
            return TrackerError(
                f"{where}: a protected range covers cells the job writes {said}; remove the "
                "protection from the ⚙ columns and the summary tab, or add the app as an editor "
                "of it, then run again"
            )
        if exc.rate_limited:
            wait = exc.reset
            when = f"after {wait:g} s" if wait is not None else "in a minute"
            return BackendUnavailable(
                f"{where}: Feishu's rate limit for the app was hit {said}; gave up after "
                f"{attempts} attempts. Retry {when}, or run less often (the limits are per app: "
                "100 values requests a second, 100 sheet queries a minute)."
            )
        if exc.server_side:
            return BackendUnavailable(
                f"{where}: Feishu kept failing {said}; gave up after {attempts} attempts or "
                f"{self.max_seconds:g} s. What was written stays; the next run carries on."
            )
        return TrackerError(f"{where}: Feishu rejected the request {said}")

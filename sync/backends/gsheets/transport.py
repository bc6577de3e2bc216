"""Transport: credentials, the endpoint, retries across Google's quota minute, Google's errors
mapped to the project's (each saying what to do next), secrets kept out, one log line a request."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gspread
import requests
from google.auth.exceptions import DefaultCredentialsError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession
from gspread.exceptions import APIError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)

from ... import quota
from ...config import GoogleConfig
from ...errors import (
    AccessDenied,
    BackendUnavailable,
    ConfigError,
    RetryRun,
    TrackerError,
    TrackerNotFound,
)
from ...model import RequestCounter
from ...text import redact

log = logging.getLogger(__name__)


SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]

GOOGLE_SHEETS = "https://sheets.googleapis.com"

#: Google's answer to a request over 10 MB (400, reason badRequest): reported in public issue
#: threads (e.g. jlolling/talendcomp_tGoogleSheet#1, SCRT-HQ/PSGSuite#62), not on a reference page.
GOOGLE_MAX_REQUEST = 10_485_760

_PAYLOAD_TOO_LARGE = "Request payload size exceeds the limit"

_KEY_IN_URL = re.compile(r"/spreadsheets/d/([a-zA-Z0-9-_]+)")


def spreadsheet_key(value: str) -> str:
    """The key from a spreadsheet URL, or the value itself.

    >>> spreadsheet_key("https://docs.google.com/spreadsheets/d/1AbC-d_9/edit#gid=0")
    '1AbC-d_9'
    """
    m = _KEY_IN_URL.search(value)
    return m.group(1) if m else value.strip()


class EndpointSession(AuthorizedSession):
    """An ``AuthorizedSession`` that sends Sheets API calls to ``api_endpoint`` (like
    google-api-core's ``api_endpoint`` client option): Google's by default, any
    Sheets-compatible endpoint otherwise."""

    def __init__(self, credentials: Any, api_endpoint: str, timeout: float | None = None) -> None:
        # the token request gets the same time limit as every Sheets request
        super().__init__(credentials, refresh_timeout=timeout)  # type: ignore[no-untyped-call]
        self.api_endpoint = api_endpoint.rstrip("/")

        #: The try of the request being sent (1 = first), set by the backend for the log line.
        self.attempt = 1

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if url.startswith(GOOGLE_SHEETS):
            # replies without indentation (documented: Google APIs system parameters,
            # prettyPrint): a pretty-printed grid is about half whitespace
            kwargs["params"] = {**(kwargs.get("params") or {}), "prettyPrint": "false"}
            if self.api_endpoint != GOOGLE_SHEETS:
                url = self.api_endpoint + url[len(GOOGLE_SHEETS) :]
        t0 = time.perf_counter()
        status: Any = "failed"
        size_in = 0
        try:
            response = super().request(method, url, *args, **kwargs)  # type: ignore[no-untyped-call]
            status, size_in = response.status_code, len(response.content or b"")
            return response
        finally:
            body = kwargs.get("data") or kwargs.get("json")
            size_out = len(body) if isinstance(body, bytes | str) else len(json.dumps(body or ""))
            log.debug(
                "%s %s: %s, %d bytes out, %d bytes in, %.0f ms, try %d",
                method.upper(),
                url.split("?", 1)[0],
                status,
                size_out if body else 0,
                size_in,
                (time.perf_counter() - t0) * 1000,
                self.attempt,
            )


def load_credentials(path: Path | None) -> tuple[Any, str | None]:
    """Service-account key file, else $GOOGLE_APPLICATION_CREDENTIALS, else Application Default
    Credentials; always with the spreadsheets scope only. Returns (credentials, e-mail)."""
    from google.oauth2 import service_account

    source = "google.credentials"
    if path is None and os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        path, source = (
            Path(os.environ["GOOGLE_APPLICATION_CREDENTIALS"]),
            "GOOGLE_APPLICATION_CREDENTIALS",
        )
    if path is not None:
        try:
            creds = service_account.Credentials.from_service_account_file(str(path), scopes=SCOPES)  # type: ignore[no-untyped-call]
        except FileNotFoundError:
            raise ConfigError(f"{source}: credentials file {path} not found") from None
        except (ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"{source}: {path} is not a service-account key file ({exc.__class__.__name__}); "
                "download a JSON key for the service account from the Google Cloud console"
            ) from None
        return creds, creds.service_account_email
    try:
        import google.auth

        creds, _ = google.auth.default(scopes=SCOPES)  # type: ignore[no-untyped-call]
    except DefaultCredentialsError:
        raise ConfigError(
            "google.credentials: no credentials found. Set google.credentials to a service-account "
            "key file (or GOOGLE_APPLICATION_CREDENTIALS), or run `gcloud auth application-default login`"
        ) from None
    return creds, getattr(creds, "service_account_email", None)


def status_of(exc: BaseException) -> int | None:
    if isinstance(exc, APIError):
        return int(exc.response.status_code)
    return None


def transient(exc: BaseException) -> bool:
    status = status_of(exc)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(
        exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError | TransportError
    )


def ambiguous(exc: BaseException) -> bool:
    """A failed write that may have been applied anyway (timeout, dropped connection, 5xx)."""
    status = status_of(exc)
    return (status is not None and status >= 500) or (status is None and transient(exc))


def retry_after(exc: BaseException | None) -> float | None:
    if isinstance(exc, APIError):
        value = exc.response.headers.get("Retry-After")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


#: Google's Sheets quota is counted per minute; the first wait after a bare 429, doubling.
QUOTA_WINDOW = 60.0

QUOTA_BASE = 5.0


def google_error(exc: BaseException) -> tuple[str, set[str]]:
    """Google's message and reasons (``accessNotConfigured``, ``SERVICE_DISABLED`` ...)."""
    if not isinstance(exc, APIError):
        return "", set()
    error = exc.error if isinstance(exc.error, dict) else {}
    reasons = {str(e.get("reason")) for e in error.get("errors", []) if isinstance(e, dict)}
    reasons |= {str(d.get("reason")) for d in error.get("details", []) if isinstance(d, dict)}
    return redact(str(error.get("message", ""))), reasons - {"None"}


_DISABLED = ("has not been used in project", "it is disabled")

_ENABLE_URL = re.compile(r"https://console\.(?:developers|cloud)\.google\.com/\S+")


@dataclass
class Policy:
    attempts: int
    max_seconds: float
    base: float = 0.5
    cap: float = 16.0
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int, exc: BaseException | None) -> float:
        hinted = retry_after(exc)
        if hinted is not None:
            return min(hinted, self.max_seconds)
        if exc is not None and status_of(exc) == 429:
            # the quota refills per minute and Google's 429s carry no Retry-After: spread the
            # tries across the window (5, 10, 20, 40 s ... with jitter), not within seconds
            step = min(QUOTA_WINDOW, QUOTA_BASE * 2 ** (attempt - 1))
            return random.uniform(0.8 * step, step)
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))  # full jitter


class Transport:
    """One spreadsheet's HTTP: credentials, retries with backoff, Google's errors mapped to the
    project's (each saying what to do next, never a token), one log line per request, and the
    requests counted by kind."""

    def __init__(
        self,
        key: str,
        google: GoogleConfig,
        credentials_path: Path | None = None,
        client: gspread.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.google = google
        self.credentials_path = credentials_path
        self.policy = Policy(google.retry.attempts, google.retry.max_seconds, sleep=sleep)
        self.counter = RequestCounter()
        self._client = client
        self.email: str | None = None

    @property
    def client(self) -> gspread.Client:
        if self._client is None:
            creds, self.email = load_credentials(self.credentials_path)
            session = EndpointSession(creds, self.google.api_endpoint, self.google.timeout)
            self._client = gspread.Client(auth=creds, session=session)
        self._client.http_client.set_timeout(self.google.timeout)
        return self._client

    def url(self, suffix: str = "") -> str:
        return f"{GOOGLE_SHEETS}/v4/spreadsheets/{self.key}{suffix}"

    def get(self, params: dict[str, Any], suffix: str = "") -> Any:
        """One read: ``spreadsheets.get``, or the GET at ``suffix`` (``/values:batchGet``)."""
        http = self.client.http_client
        return self.call(
            "read", lambda: http.request("get", self.url(suffix), params=params).json()
        )

    def call(self, kind: str, fn: Callable[[], Any], *, in_place: bool = True) -> Any:
        """Send one request with retries. ``in_place=False`` (a non-idempotent write): a 429 is
        retried here, an ambiguous failure becomes RetryRun so the run re-reads first."""
        policy = self.policy

        attempt = 0

        def count() -> Any:
            nonlocal attempt
            attempt += 1
            session = self.client.http_client.session
            if isinstance(session, EndpointSession):
                session.attempt = attempt
            if kind == "read":
                self.counter.read += 1
            else:
                self.counter.write += 1
            # a fleet shares one quota per credential (sync.quota; no-op for a single run)
            quota.acquire(str(self.credentials_path or "default"), kind)
            return fn()

        def retryable(exc: BaseException) -> bool:
            return transient(exc) and (in_place or not ambiguous(exc))

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            seconds = policy.wait(state.attempt_number, exc)
            log.warning(
                "spreadsheet %s: %s (attempt %d); retrying in %.1f s",
                self.key,
                self.describe(exc) if exc else "failed",
                state.attempt_number,
                seconds,
            )
            return seconds

        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_seconds),
            wait=wait,
            retry=retry_if_exception(retryable),
            sleep=policy.sleep,
            reraise=True,
        )
        try:
            return retrying(count)
        except BaseException as exc:
            if not in_place and ambiguous(exc):
                policy.sleep(policy.wait(1, exc))
                raise RetryRun(f"the write's outcome is unknown ({self.describe(exc)})") from None
            raise self.map(exc) from None

    def describe(self, exc: BaseException) -> str:
        status = status_of(exc)
        if status is not None:
            message, _ = google_error(exc)
            return f"HTTP {status}: {message}".strip()
        if isinstance(exc, requests.exceptions.Timeout):
            return f"no answer within {self.google.timeout:g} s"
        if isinstance(exc, requests.exceptions.ConnectionError | TransportError):
            return "the connection failed or was dropped"
        return exc.__class__.__name__

    def map(self, exc: BaseException) -> BaseException:
        """Foreign errors -> the project's, each saying what to do next (no tokens, ever)."""
        if isinstance(exc, RetryRun | TrackerError | ConfigError):
            return exc
        status = status_of(exc)
        message, reasons = google_error(exc)
        who = self.email or "the service account's e-mail"
        if status == 403 and (
            reasons & {"accessNotConfigured", "SERVICE_DISABLED"}
            or any(d in message for d in _DISABLED)
        ):
            link = _ENABLE_URL.search(message)
            where = f" at {link.group(0).rstrip('.,')}" if link else " in the Google Cloud console"
            return AccessDenied(
                f"spreadsheet {self.key}: the Google Sheets API is not enabled for the credentials' "
                f"project. Enable it{where}, wait a few minutes, and run again. (Google: {message})"
            )
        if status == 403:
            said = f" (Google: {message})" if message else ""
            return AccessDenied(
                f"spreadsheet {self.key}: permission denied. Share the spreadsheet with {who} as Editor "
                f"(Share → add that e-mail → Editor).{said}"
            )
        if status == 401 or isinstance(exc, RefreshError):
            return AccessDenied(
                f"spreadsheet {self.key}: the credentials were rejected ({message or 'token refresh failed'}); "
                "check google.credentials and that the key is still valid"
            )
        if status == 404:
            return TrackerNotFound(
                f"spreadsheet {self.key} not found: check tracker.spreadsheet (the key is the part of the URL "
                "between /d/ and /edit)"
            )
        if status == 429:
            wait = retry_after(exc)
            when = f"after {wait:g} s" if wait is not None else "in a minute"
            return BackendUnavailable(
                f"spreadsheet {self.key}: Google Sheets API quota exceeded ({message or 'requests per minute per user'}); "
                f"gave up after {self.policy.attempts} attempts. Retry {when}, or run less often "
                "(the quota is per minute and per user)."
            )
        if transient(exc):
            return BackendUnavailable(
                f"spreadsheet {self.key}: Google Sheets kept failing ({self.describe(exc)}); gave up after "
                f"{self.policy.attempts} attempts or {self.policy.max_seconds:g} s. Every request is all-or-nothing "
                "and no human cell was touched; what was written stays, and the next run carries on from there."
            )
        if status == 400 and _PAYLOAD_TOO_LARGE in message:
            return TrackerError(
                f"spreadsheet {self.key}: Google refused a request as too large ({message}). "
                f"The job splits its writes at google.max_request_bytes "
                f"({self.google.max_request_bytes:,} bytes); Google refuses more than "
                f"{GOOGLE_MAX_REQUEST:,} and recommends at most 2,000,000. Lower "
                "google.max_request_bytes and run again; what was written is kept and the next "
                "run carries on from there."
            )
        if status == 400:
            return TrackerError(f"spreadsheet {self.key}: Google rejected the request: {message}")
        return TrackerError(f"spreadsheet {self.key}: {self.describe(exc)}")

    def post(
        self,
        suffix: str,
        data: bytes,
        *,
        params: dict[str, Any] | None = None,
        in_place: bool = True,
    ) -> Any:
        """POST one write whose body is already serialised (its size is what the budget counts)."""
        http = self.client.http_client
        headers = {"Content-Type": "application/json; charset=UTF-8"}
        return self.call(
            "write",
            lambda: http.request(
                "post", self.url(suffix), params=params, data=data, headers=headers
            ).json(),
            in_place=in_place,
        )

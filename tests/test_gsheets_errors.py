"""Google's errors passed through and explained, 429s waited out across the quota minute,
secrets never shown, one log line per request (real gspread against the local fake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.backends.gsheets import QUOTA_BASE, SheetsBackend
from sync.cli import cli
from sync.config import Config
from sync.errors import AccessDenied
from sync.history import History
from sync.run import sync
from sync.text import redact

from .conftest import SEED_AS_OF
from .sheets_fake import SheetsFake

TAB = "进度表"
TOKEN = "ya29.a0AfB_byC-SECRET-token_value"
DISABLED = (
    "Google Sheets API has not been used in project 123456 before or it is disabled. Enable it "
    "by visiting https://console.developers.google.com/apis/api/sheets.googleapis.com/overview"
    "?project=123456 then retry. If you enabled this API recently, wait a few minutes for the "
    "action to propagate to our systems and retry."
)


def config_file(fake: SheetsFake, sheet: str, tmp_path: Path) -> Path:
    sa = fake.write_service_account(tmp_path / "sa.json")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        f"tracker:\n  backend: gsheets\n  spreadsheet: {sheet}\n  worksheet: {TAB}\n"
        f"google:\n  credentials: {sa}\n  api_endpoint: {fake.api_endpoint}\n  timeout: 5\n"
        "  retry:\n    attempts: 2\n    max_seconds: 5\n",
        encoding="utf-8",
    )
    return cfg


def backend(fake: SheetsFake, sheet: str, tmp_path: Path, waits: list[float]) -> SheetsBackend:
    sa = fake.write_service_account(tmp_path / "sa.json")
    google = Config.model_validate(
        {"tracker": {"path": "x.xlsx"}, "google": {"api_endpoint": fake.api_endpoint}}
    ).google
    return SheetsBackend(
        sheet, worksheet=TAB, google=google, credentials_path=sa, sleep=waits.append
    )


def test_a_disabled_api_says_to_enable_it_with_googles_link(
    fake: SheetsFake, sheet: str, tmp_path: Path
) -> None:
    fake.inject_fault(at=1, status=403, persistent=True, message=DISABLED)
    with pytest.raises(AccessDenied) as exc:
        backend(fake, sheet, tmp_path, []).read()
    text = str(exc.value)
    assert "the Google Sheets API is not enabled" in text
    assert (
        "https://console.developers.google.com/apis/api/sheets.googleapis.com/overview?project=123456"
        in text
    )
    assert "Share the spreadsheet" not in text


def test_permission_denied_keeps_googles_words(
    fake: SheetsFake, sheet: str, tmp_path: Path
) -> None:
    fake.inject_fault(
        at=1, status=403, persistent=True, message="The caller does not have permission"
    )
    with pytest.raises(AccessDenied) as exc:
        backend(fake, sheet, tmp_path, []).read()
    assert "Share the spreadsheet with" in str(exc.value)
    assert "(Google: The caller does not have permission)" in str(exc.value)


def test_429s_without_retry_after_are_waited_out_across_the_minute(
    fake: SheetsFake, sheet: str, tmp_path: Path
) -> None:
    waits: list[float] = []
    b = backend(fake, sheet, tmp_path, waits)
    fake.inject_fault(at=1, status=429, times=3)  # Google's real 429s carry no Retry-After
    b.read()
    assert len(waits) == 3
    for i, w in enumerate(waits):
        step = QUOTA_BASE * 2**i  # 5, 10, 20 s (jittered down by at most 20 %)
        assert 0.8 * step <= w <= step
    assert sum(waits) >= 28, "the tries spread over half a minute, not 7 seconds"
    assert Config.model_validate({"tracker": {"path": "x"}}).google.retry.max_seconds >= 70


def test_secrets_never_reach_stderr_logs_or_the_run_store(
    fake: SheetsFake, sheet: str, tmp_path: Path
) -> None:
    # an error body that echoes the request's headers, as some proxies and errors do
    echo = f"Bad request. Headers: Authorization: Bearer {TOKEN}; refresh_token=1//0gSECRETrefreshTOKENvalue12345"
    fake.inject_fault(at=2, status=400, message=echo)  # the read passes, the write fails
    cfg = config_file(fake, sheet, tmp_path)
    r = CliRunner().invoke(
        cli, ["-vv", "--log-format", "json", "run", "-c", str(cfg), "--today", "2024-03-20"]
    )
    assert r.exit_code == 3, r.output
    assert "Google rejected the request" in r.stderr
    assert "SECRET" not in r.stderr and "SECRET" not in r.stdout
    assert "Bearer [redacted]" in r.stderr
    lines = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    requests = [line["message"] for line in lines if "bytes out" in line["message"]]
    assert requests and all(" ms, try " in m for m in requests), "one line per request"
    assert any(m.startswith("GET ") and ": 200," in m for m in requests)
    assert any(": 400," in m for m in requests)
    store = History(
        tmp_path
        / ".tracker-sync"
        / next(p.name for p in (tmp_path / ".tracker-sync").glob("*.sqlite")),
        readonly=True,
    )
    (failed,) = store.runs()
    store.close()
    assert failed.outcome == "failed" and failed.message and "SECRET" not in failed.message
    shown = CliRunner().invoke(cli, ["history", "-c", str(cfg)])
    assert "SECRET" not in shown.output


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        (f"Authorization: Bearer {TOKEN}", "SECRET"),
        ('{"access_token": "ya29.c.b0AXv0zTN-SECRET", "expires_in": 3599}', "SECRET"),
        ('{"refresh_token": "1//0gSECRETSECRETSECRETSECRET"}', "SECRET"),
        (
            '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvSECRET\\n-----END PRIVATE KEY-----\\n"',
            "MIIEv",
        ),
        ("assertion=eyJhbGciOiJSUzI1NiJ9.SECRET.sig&grant_type=jwt", "SECRET"),
    ],
)
def test_redact_removes_every_kind_of_secret(text: str, hidden: str) -> None:
    assert hidden not in redact(text)


def test_redact_leaves_ordinary_messages_alone() -> None:
    msg = "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user'"
    assert redact(msg) == msg


def test_the_library_run_is_unchanged_by_logging(
    fake: SheetsFake, sheet: str, tmp_path: Path
) -> None:
    cfg = config_file(fake, sheet, tmp_path)
    from sync.config import load_config

    result = sync(load_config(cfg), as_of=SEED_AS_OF)
    assert result.applied is not None and result.requests["read"] == 2  # structure, values

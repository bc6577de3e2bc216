"""Notify through the run: config errors, --dry-run, --no-notify, --json, a failing channel,
the owner directory, the store's schema migration."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sync.cli import cli
from sync.config import load_config
from sync.errors import ConfigError
from sync.history import SCHEMA_VERSION, History
from sync.notify import deliver
from sync.notify.deliver import RetryPolicy
from sync.notify.owners import load_owners

from .notify_receiver import Receiver

# the seed's rows as of 2024-03-20: row 2 (小红书 KOL notes) is delayed
AT = "2024-03-20 09:40"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        deliver, "RETRY", RetryPolicy(attempts=2, first_wait=0.01, max_wait=0.05, max_seconds=2)
    )
    monkeypatch.setattr(deliver, "_LIMITERS", {})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def cfg(tracker_file: Path, receiver: Receiver) -> str:
    path = tracker_file.parent / "config.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + f"notify:\n  channels:\n    - {{type: slack, url: '{receiver.url('slack')}'}}\n",
        encoding="utf-8",
    )
    return str(path)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_sends_and_reports_notifications(cfg: str, receiver: Receiver) -> None:
    r = run("run", "-c", cfg, "--at", AT, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)["notifications"]
    assert [(n["channel"], n["kind"], n["delivered"]) for n in out] == [
        ("slack", "alert", True),
        ("slack", "digest", True),
    ]
    assert 2 in out[0]["task_rows"]
    assert len(receiver.of("slack")) == 2 and receiver.problems == []
    # the same moment again: nothing new to say, the digest already went
    r = run("run", "-c", cfg, "--at", "2024-03-20 09:50", "--json")
    assert json.loads(r.stdout)["notifications"] == []
    assert len(receiver.of("slack")) == 2


def test_dry_run_shows_the_messages_and_sends_nothing(cfg: str, receiver: Receiver) -> None:
    r = run("run", "-c", cfg, "--at", AT, "--dry-run")
    assert r.exit_code == 0
    assert "would notify slack: alert" in r.output
    assert "| 推广进度提醒 · 2024-03-20" in r.output
    assert "would notify slack: digest" in r.output
    assert receiver.received == []
    r = run("run", "-c", cfg, "--at", AT, "--dry-run", "--json")
    notes = json.loads(r.stdout)["notifications"]
    assert notes and all(not n["delivered"] and n["text"] for n in notes)
    # nothing was recorded: a real run then sends it all
    assert len(json.loads(run("run", "-c", cfg, "--at", AT, "--json").stdout)["notifications"]) == 2


def test_no_notify_and_check_send_nothing(cfg: str, receiver: Receiver) -> None:
    assert run("check", "-c", cfg, "--at", AT).exit_code == 0
    r = run("run", "-c", cfg, "--at", AT, "--no-notify", "--json")
    assert json.loads(r.stdout)["notifications"] == []
    assert receiver.received == []
    # the next run says what is due then (the alert was never announced)
    r = run("run", "-c", cfg, "--at", "2024-03-20 10:00", "--json")
    assert [n["kind"] for n in json.loads(r.stdout)["notifications"]] == ["alert", "digest"]


def test_a_failing_channel_never_fails_the_sync(cfg: str, receiver: Receiver) -> None:
    receiver.down.add("slack")
    r = run("run", "-c", cfg, "--at", AT)
    assert r.exit_code == 0
    assert "not delivered to slack: alert" in r.output and "the next run retries" in r.output
    assert "wrote" in r.output
    receiver.down.clear()
    r = run("run", "-c", cfg, "--at", "2024-03-20 09:50", "--json")
    out = json.loads(r.stdout)["notifications"]
    assert [(n["kind"], n["delivered"]) for n in out] == [("alert", True), ("digest", True)]
    r = run("history", "-c", cfg)
    assert "slack" in r.output and "delivered" in r.output


def test_history_off_sends_nothing(tracker_file: Path, receiver: Receiver) -> None:
    path = tracker_file.parent / "config.yaml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + "history: {enabled: false}\n"
        + f"notify:\n  channels:\n    - {{type: slack, url: '{receiver.url('slack')}'}}\n",
        encoding="utf-8",
    )
    r = run("run", "-c", str(path), "--at", AT)
    assert r.exit_code == 0 and "history is off, so nothing is sent" in r.stderr
    assert receiver.received == []


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        # the secret itself where its variable's name belongs
        ("{type: feishu, url: 'https://x/y', secret_env: 'abc 123=='}", "not an environment"),
        ("{type: slack}", "exactly one of url or url_env"),
        ("{type: wecom, url: 'https://x/y', secret_env: S}", "not signed"),
        ("{type: email, smtp: {host: h}, from: a@b.c}", "needs smtp"),
        ("{type: teams, url: 'https://x/y'}", "notify.channels.0.type"),
        ("{type: slack, url: 'https://x/y', token: abc}", "unknown key"),
    ],
)
def test_config_errors_name_the_file_and_line(tmp_path: Path, channel: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"tracker: {{path: t.xlsx}}\nnotify:\n  channels:\n    - {channel}\n", "utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert f"{path}:4" in str(err.value)


def test_digest_times_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("tracker: {path: t.xlsx}\nnotify:\n  digest: {weekly_on: 'friday 25:00'}\n")
    with pytest.raises(ConfigError, match="is not a time of day"):
        load_config(path)


def test_owner_directory_errors(tmp_path: Path) -> None:
    y = tmp_path / "owners.yaml"
    y.write_text("王丽: {mobile: '1', wechat: abc}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"owners.yaml:1: 王丽.wechat: unknown key"):
        load_owners(y)
    c = tmp_path / "owners.csv"
    c.write_text("负责人,phone\n王丽,1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"owners.csv:1: unknown column 'phone'"):
        load_owners(c)


def test_an_older_store_is_migrated_and_read_before(tracker_file: Path, cfg: str) -> None:
    store = tracker_file.parent / "old.sqlite"
    db = sqlite3.connect(store)
    db.executescript("PRAGMA user_version=2; CREATE TABLE runs(id INTEGER PRIMARY KEY);")
    db.close()
    old = History(store, readonly=True)
    assert old.open_alerts() == [] and old.deliveries() == [] and old.digest_slots("x") == {}
    old.close()
    fresh = History(tracker_file.parent / "new.sqlite")
    # the notify tables came with schema 3; later versions keep them (4: run fingerprints)
    assert fresh.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
    assert fresh.open_alerts() == [] and fresh.deliveries() == []
    fresh.close()


def test_reminders_count_working_days_of_the_calendar() -> None:
    """An alert last announced on 2026-09-30 (a Wednesday; then 国庆 10-01..10-07 off,
    10-10 a make-up Saturday): with reminders every working day it is not repeated during the
    holiday, and is on 10-08; with ``country: none`` every calendar day counts."""
    import datetime as dt

    from sync.history import AlertRecord
    from sync.notify.config import RemindersConfig
    from sync.notify.decide import Condition, days_between, decide_alerts
    from sync.workdays import CalendarConfig, build

    cn = build(CalendarConfig(), [dt.date(2026, 9, 30)])
    alert = AlertRecord(1, "T0001", "delayed", "2026-09-30T09:00:00+08:00", "2026-09-30", 1)
    true = [Condition("T0001", "delayed", 5, key=True)]  # key task: every 1 day
    every_day = RemindersConfig(key_tasks=1)

    def reminded(day: dt.date, cal: Any) -> bool:
        return bool(decide_alerts(true, [alert], day, every_day, cal).reminded)

    holiday = [dt.date(2026, 10, d) for d in range(1, 8)]
    assert not any(reminded(d, cn) for d in holiday)
    assert reminded(dt.date(2026, 10, 8), cn)
    assert all(reminded(d, None) for d in holiday)
    # hand-counted: 10-08 and 10-09 (Thu, Fri) and 10-10 (the make-up Saturday) are 3 days
    assert days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 10), cn) == 3
    assert days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 11), cn) == 3  # a Sunday
    assert days_between(dt.date(2026, 9, 30), dt.date(2026, 10, 11), None) == 11

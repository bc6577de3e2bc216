"""Each platform for real: messages sent over HTTP to a local receiver that checks signatures,
schemas, sizes and rates as the platforms document them, and e-mail to a real SMTP server."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.config import Config
from sync.notify import deliver
from sync.notify.channels import MAX_PARTS, Channel, open_channel
from sync.notify.config import ChannelConfig
from sync.notify.deliver import RetryPolicy, send, send_test
from sync.notify.message import Line, Message, Section
from sync.notify.owners import Directory, Owner, load_owners

from .notify_receiver import (
    SECRETS,
    Authenticator,
    Mailbox,
    Receiver,
    free_port,
    self_signed,
    server_context,
)

OWNERS = Directory(
    {
        "王丽": Owner(
            name="王丽",
            mobile="13800001111",
            email="wangli@example.com",
            feishu_open_id="ou_wangli",
            slack_id="U0WANGLI",
        ),
        "张伟": Owner(name="张伟", mobile="13900002222"),
    }
)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        deliver, "RETRY", RetryPolicy(attempts=3, first_wait=0.05, max_wait=0.3, max_seconds=10)
    )
    monkeypatch.setattr(deliver, "_LIMITERS", {})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEISHU_SECRET", SECRETS["feishu"])
    monkeypatch.setenv("LARK_SECRET", SECRETS["lark"])
    monkeypatch.setenv("DING_SECRET", SECRETS["dingtalk"])


def channel(kind: str, receiver: Receiver, **extra: Any) -> Channel:
    fields: dict[str, Any] = {"type": kind, "url": receiver.url(kind)}
    if kind in ("feishu", "lark", "dingtalk"):
        fields["secret_env"] = {"feishu": "FEISHU_SECRET", "lark": "LARK_SECRET"}.get(
            kind, "DING_SECRET"
        )
    fields |= extra
    return open_channel(kind, ChannelConfig.model_validate(fields), OWNERS, Path("."))


def alert(n: int = 2, locale: str = "zh-CN") -> Message:
    lines = tuple(
        Line(
            f"预热期 / 小红书 / KOL笔记{i} — 已延期{i}天 — 负责人 {'王丽' if i % 2 else '张伟'}",
            link=f"https://docs.google.com/spreadsheets/d/K/edit#gid=0&range=A{i + 2}",
            link_text=f"第{i + 2}行",
            owner="王丽" if i % 2 else "张伟",
            row=i + 2,
        )
        for i in range(n)
    )
    return Message(
        "alert",
        "推广进度提醒 · 2024-03-20",
        (Section("新增延期", lines),),
        locale=locale,
        links=(("打开进度表", "https://docs.google.com/spreadsheets/d/K/edit"),),
        task_rows=tuple(line.row for line in lines if line.row),
    )


PLATFORMS = ["feishu", "lark", "wecom", "dingtalk", "slack"]


@pytest.mark.parametrize("kind", PLATFORMS)
def test_each_platform_accepts_a_signed_alert(
    kind: str, receiver: Receiver, secrets_env: None
) -> None:
    assert send(channel(kind, receiver), alert()) is None
    assert receiver.problems == []
    bodies = receiver.of(kind)
    assert bodies, "nothing arrived"
    text = json.dumps(bodies, ensure_ascii=False)
    assert "KOL笔记1" in text and "第3行" in text


def test_feishu_post_ats_owners_by_open_id(receiver: Receiver, secrets_env: None) -> None:
    send(channel("feishu", receiver), alert())
    (body,) = receiver.of("feishu")
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "推广进度提醒 · 2024-03-20"
    elements = [el for row in post["content"] for el in row]
    assert {"tag": "at", "user_id": "ou_wangli"} in elements
    links = [el for el in elements if el["tag"] == "a"]
    assert links[0]["href"].endswith("range=A2")


def test_lark_in_english_uses_the_en_us_post(receiver: Receiver, secrets_env: None) -> None:
    send(channel("lark", receiver), alert(locale="en"))
    (body,) = receiver.of("lark")
    assert list(body["content"]["post"]) == ["en_us"]


def test_wecom_markdown_then_mentions_by_mobile(receiver: Receiver) -> None:
    send(channel("wecom", receiver), alert())
    markdown, text = receiver.of("wecom")
    assert markdown["msgtype"] == "markdown" and "**新增延期**" in markdown["markdown"]["content"]
    assert text["msgtype"] == "text"
    assert text["text"]["mentioned_mobile_list"] == ["13900002222", "13800001111"]


def test_dingtalk_ats_by_mobile_in_text_and_at(receiver: Receiver, secrets_env: None) -> None:
    send(channel("dingtalk", receiver), alert())
    (body,) = receiver.of("dingtalk")
    assert sorted(body["at"]["atMobiles"]) == ["13800001111", "13900002222"]
    assert body["at"]["isAtAll"] is False
    assert "@13800001111" in body["markdown"]["text"]


def test_slack_block_kit_with_mentions_and_links(receiver: Receiver) -> None:
    send(channel("slack", receiver), alert())
    (body,) = receiver.of("slack")
    assert body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "推广进度提醒 · 2024-03-20"},
    }
    section = body["blocks"][1]["text"]["text"]
    assert "<@U0WANGLI>" in section and "|第3行>" in section
    assert body["blocks"][-1]["type"] == "context"


@pytest.mark.parametrize("kind", ["feishu", "dingtalk"])
def test_a_wrong_secret_is_refused_and_reported_without_the_secret(
    kind: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEISHU_SECRET", "not-the-secret")
    monkeypatch.setenv("DING_SECRET", "not-the-secret")
    error = send(channel(kind, receiver), alert())
    assert error is not None and ("19021" in error or "310000" in error)
    assert "not-the-secret" not in error
    assert receiver.of(kind) == []


def test_a_missing_secret_names_the_variable(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEISHU_SECRET", raising=False)
    error = send(channel("feishu", receiver), alert())
    assert error == "the environment variable FEISHU_SECRET (the signing secret) is not set"


def test_the_webhook_url_never_appears_in_an_error(receiver: Receiver) -> None:
    c = channel("slack", receiver, url=receiver.url("slack") + "-revoked")
    error = send(c, alert())
    assert error is not None and "no_service" in error
    assert "XXXXslack" not in error and "/services/" not in error


def test_feishu_11232_is_retried_then_delivered(receiver: Receiver, secrets_env: None) -> None:
    receiver.script["feishu"] = [(200, {"code": 11232, "msg": "frequency limited", "data": {}})]
    assert send(channel("feishu", receiver), alert()) is None
    assert len(receiver.of("feishu")) == 1


def test_a_channel_that_stays_down_fails_after_bounded_tries(receiver: Receiver) -> None:
    receiver.down.add("slack")
    t0 = time.monotonic()
    error = send(channel("slack", receiver), alert())
    assert error is not None and "503" in error
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("kind", PLATFORMS)
def test_a_long_message_is_split_within_the_limits(
    kind: str, receiver: Receiver, secrets_env: None
) -> None:
    receiver.enforce_rates = False
    big = alert(120)
    assert send(channel(kind, receiver), big) is None
    assert receiver.problems == []
    text = json.dumps(receiver.of(kind), ensure_ascii=False)
    # every line arrives, or the last part says how many did not
    shown = sum(f"KOL笔记{i} " in text for i in range(120))
    assert shown == 120 or f"另有{120 - shown}项" in text
    # parts are numbered (Slack carries it in one message of several section blocks)
    assert kind == "slack" or "(1/" in text


def test_past_the_most_parts_the_rest_is_counted(receiver: Receiver) -> None:
    receiver.enforce_rates = False
    send(channel("wecom", receiver), alert(600))
    markdowns = [b for b in receiver.of("wecom") if b["msgtype"] == "markdown"]
    assert len(markdowns) == MAX_PARTS
    assert "…另有" in markdowns[-1]["markdown"]["content"]
    assert receiver.problems == []


def test_rate_limits_are_respected(receiver: Receiver, secrets_env: None) -> None:
    feishu, slack = channel("feishu", receiver), channel("slack", receiver)
    t0 = time.monotonic()
    for _ in range(7):
        assert send(feishu, alert(1)) is None
    for _ in range(3):
        assert send(slack, alert(1)) is None
    assert receiver.problems == []  # the receiver enforces 5/s (Feishu) and bursts (Slack)
    assert len(receiver.of("feishu")) == 7 and len(receiver.of("slack")) == 3
    assert time.monotonic() - t0 >= 2.0  # Slack: about one a second


# ---------------------------------------------------------------------------- e-mail


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    ctl = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=Authenticator("tracker", "s3cret"),
        auth_require_tls=False,
    )
    ctl.start()
    try:
        yield box, port
    finally:
        ctl.stop()


def email_channel(port: int, **smtp: Any) -> Channel:
    c = ChannelConfig.model_validate(
        {
            "type": "email",
            "smtp": {"host": "127.0.0.1", "port": port, "ssl": False, "starttls": False} | smtp,
            "from": "tracker@example.com",
            "to": ["pm@example.com"],
        }
    )
    return open_channel("email", c, OWNERS, Path("."))


def test_email_alerts_go_to_owners_and_the_rest_to_the_list(
    smtp_server: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = smtp_server
    monkeypatch.setenv("SMTP_USER", "tracker")
    monkeypatch.setenv("SMTP_PASS", "s3cret")
    c = email_channel(port, user_env="SMTP_USER", password_env="SMTP_PASS")
    assert send(c, alert(4)) is None
    by_rcpt = {tuple(e["to"]): e for e in box.envelopes}
    assert set(by_rcpt) == {("wangli@example.com",), ("pm@example.com",)}
    wang = by_rcpt[("wangli@example.com",)]
    assert wang["subject"] == "推广进度提醒 · 2024-03-20" and wang["login"] == "tracker"
    assert "KOL笔记1" in wang["body"] and "KOL笔记0" not in wang["body"]
    assert "KOL笔记0" in by_rcpt[("pm@example.com",)]["body"]  # 张伟 has no e-mail


def test_email_wrong_password_is_a_failure_not_a_crash(
    smtp_server: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = smtp_server
    monkeypatch.setenv("SMTP_USER", "tracker")
    monkeypatch.setenv("SMTP_PASS", "wrong-pass")
    error = send(email_channel(port, user_env="SMTP_USER", password_env="SMTP_PASS"), alert())
    assert error is not None and "login refused" in error and "wrong-pass" not in error
    assert box.envelopes == []


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_email_over_tls(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test's own certificate
    box = Mailbox()
    port = free_port()
    if mode == "ssl":
        ctl = Controller(
            box, hostname="127.0.0.1", port=port, ssl_context=server_context(cert, key)
        )
    else:
        ctl = Controller(
            box,
            hostname="127.0.0.1",
            port=port,
            tls_context=server_context(cert, key),
            require_starttls=True,
        )
    ctl.start()
    try:
        c = email_channel(port, host="localhost", ssl=mode == "ssl", starttls=mode == "starttls")
        assert send(c, alert()) is None
    finally:
        ctl.stop()
    assert len(box.envelopes) == 2


def test_starttls_is_required_when_asked(smtp_server: tuple[Mailbox, int]) -> None:
    _, port = smtp_server
    error = send(email_channel(port, starttls=True), alert())
    assert error is not None and "does not offer STARTTLS" in error


# ---------------------------------------------------------------------------- notify test


def test_notify_test_reaches_every_channel(
    receiver: Receiver, secrets_env: None, smtp_server: tuple[Mailbox, int], tmp_path: Path
) -> None:
    box, port = smtp_server
    owners = tmp_path / "owners.csv"
    owners.write_text("负责人,mobile,email\n王丽,13800001111,wangli@example.com\n", "utf-8")
    config = Config.model_validate(
        {
            "tracker": {"path": "t.xlsx"},
            "notify": {
                "owners": str(owners),
                "channels": [
                    {
                        "type": "feishu",
                        "url": receiver.url("feishu"),
                        "secret_env": "FEISHU_SECRET",
                    },
                    {"type": "wecom", "url_env": "WECOM_URL"},
                    {"type": "slack", "url": receiver.url("slack"), "name": "team-slack"},
                    {
                        "type": "email",
                        "smtp": {
                            "host": "127.0.0.1",
                            "port": port,
                            "ssl": False,
                            "starttls": False,
                        },
                        "from": "tracker@example.com",
                        "to": ["pm@example.com"],
                    },
                ],
            },
        }
    )
    results = dict(send_test(config))
    assert results["feishu"] is None and results["team-slack"] is None
    assert results["email"] is None and len(box.envelopes) == 1
    assert results["wecom"] == "the environment variable WECOM_URL (the webhook URL) is not set"
    assert receiver.problems == []


def test_owner_directory_yaml_and_csv_agree(tmp_path: Path) -> None:
    y = tmp_path / "owners.yaml"
    y.write_text('王丽: {mobile: "13800001111", email: wangli@example.com}\n张伟: {}\n', "utf-8")
    c = tmp_path / "owners.csv"
    c.write_text("负责人,mobile,email\n王丽,13800001111,wangli@example.com\n张伟,,\n", "utf-8")
    assert load_owners(y) == load_owners(c)

"""Two weeks, day by day, through the command line: an .xlsx tracker edited the way a team would,
`tracker-sync run --at …` twice a day (09:40 and 17:10), Feishu (signed) and Slack webhooks on a
local receiver, Slack down for a whole day.

The tracker (planned dates; every task started):

- 任务A  02-20..03-05, 60 %: delayed from 03-06, a key task (within 3 days of its finish) until
  03-08 so reminded daily, then every 3 days; stale (unchanged 2 days near its finish) 03-06..03-08;
  done properly on 03-12.
- 任务B  02-15..03-31: a risk without countermeasure appears 03-05 09:40, overdue after 24 h (the
  17:10 run of 03-06), reminded every 3 days, countermeasure on 03-13.
- 任务C  02-10..02-25, 20 %: delayed from the first run; marked 已完成 at 20 % on 03-08 (fails
  completed-truthful); really done (100 %, actual finish) on 03-11.
- 任务D  a quiet task. 任务E  ..03-13, owner 赵强 is not in the owner directory: due soon, stale
  (key) from 03-10, delayed from 03-14.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sync.backends.xlsx import set_text_safe
from sync.cli import cli
from sync.demo import new_workbook
from sync.notify import deliver
from sync.notify.deliver import RetryPolicy
from sync.rules import RuleSet

from .notify_receiver import SECRETS, Receiver

DAYS = [dt.date(2024, 3, 4) + dt.timedelta(days=i) for i in range(14)]
TIMES = ["09:40", "17:10"]
SLACK_DOWN = dt.date(2024, 3, 8)

ROWS = {
    "任务A": ["预热期", "小红书", "任务A", "完成3篇KOL笔记发布", "王丽", "2024-02-20", "2024-03-05",
            "2024-02-20", "-", "60%", "进行中", "-", "-", "-"],
    "任务B": ["预热期", "抖音", "任务B", "投放5条信息流广告", "张伟", "2024-02-15", "2024-03-31",
            "2024-02-15", "-", "30%", "进行中", "-", "-", "-"],
    "任务C": ["预热期", "官方推文", "任务C", "发布2篇官方推文", "李娜", "2024-02-10", "2024-02-25",
            "2024-02-10", "-", "20%", "进行中", "-", "-", "-"],
    "任务D": ["爆发期", "线下门店", "任务D", "完成10家门店物料布置", "王丽", "2024-03-01",
            "2024-03-29", "2024-03-01", "-", "10%", "进行中", "-", "-", "-"],
    "任务E": ["爆发期", "小红书", "任务E", "完成5篇素人笔记发布", "赵强", "2024-03-01", "2024-03-13",
            "2024-03-01", "-", "40%", "进行中", "-", "-", "-"],
}  # fmt: skip
ROW_OF = {name: i for i, name in enumerate(ROWS, start=2)}

#: before the 09:40 run of a day: (task, column letter, new cell)
EDITS: dict[dt.date, list[tuple[str, str, str]]] = {
    dt.date(2024, 3, 5): [("任务B", "L", "头部KOL档期可能冲突")],
    dt.date(2024, 3, 8): [("任务C", "K", "已完成")],
    dt.date(2024, 3, 11): [("任务C", "J", "100%"), ("任务C", "I", "2024-03-11")],
    dt.date(2024, 3, 12): [("任务A", "J", "100%"), ("任务A", "I", "2024-03-12"), ("任务A", "K", "已完成")],
    dt.date(2024, 3, 13): [("任务B", "M", "3月15日前联系2位备选KOL")],
}  # fmt: skip

# (day, task, kind, notice): 1 = the alert, 2+ = reminders; all at 09:40 but B's first alert
D = dt.date
EXPECTED_ALERTS = {
    (D(2024, 3, 4), "任务C", "delayed", 1),
    (D(2024, 3, 6), "任务A", "delayed", 1),
    (D(2024, 3, 6), "任务A", "stale_key", 1),
    (D(2024, 3, 6), "任务B", "risk", 1),  # 17:10: 31.5 h after the risk appeared
    (D(2024, 3, 7), "任务A", "delayed", 2),  # a key task: daily
    (D(2024, 3, 7), "任务A", "stale_key", 2),
    (D(2024, 3, 7), "任务C", "delayed", 2),  # not key: every 3 days
    (D(2024, 3, 8), "任务A", "delayed", 3),
    (D(2024, 3, 8), "任务A", "stale_key", 3),
    (D(2024, 3, 8), "任务C", "fake_done", 1),
    (D(2024, 3, 9), "任务B", "risk", 2),
    (D(2024, 3, 10), "任务C", "delayed", 3),
    (D(2024, 3, 10), "任务E", "stale_key", 1),
    (D(2024, 3, 11), "任务A", "delayed", 4),  # no longer key: 3 days after 03-08
    (D(2024, 3, 11), "任务E", "stale_key", 2),
    (D(2024, 3, 12), "任务B", "risk", 3),
    (D(2024, 3, 12), "任务E", "stale_key", 3),
    (D(2024, 3, 13), "任务E", "stale_key", 4),
    (D(2024, 3, 14), "任务E", "delayed", 1),
    (D(2024, 3, 14), "任务E", "stale_key", 5),
    (D(2024, 3, 15), "任务E", "delayed", 2),
    (D(2024, 3, 15), "任务E", "stale_key", 6),
    (D(2024, 3, 16), "任务E", "delayed", 3),
    (D(2024, 3, 16), "任务E", "stale_key", 7),
}
RESOLVED = {"任务A": D(2024, 3, 12), "任务C": D(2024, 3, 11)}

KIND_OF = [
    ("delayed", re.compile(r"已延期\d+天|已过计划开始")),
    ("risk", re.compile(r"小时无应对措施")),
    ("stale_key", re.compile(r"天未更新")),
    ("fake_done", re.compile(r"标为已完成:")),
]


def make_tracker(folder: Path, ruleset: RuleSet) -> Path:
    wb = new_workbook(ruleset)
    ws = wb.active
    for r, row in enumerate(ROWS.values(), start=2):
        for c, value in enumerate(row, start=1):
            set_text_safe(ws.cell(row=r, column=c), value)
    wb.save(folder / "tracker.xlsx")
    (folder / "owners.yaml").write_text(
        "王丽: {mobile: '13800001111', feishu_open_id: ou_wangli, slack_id: U0WANGLI}\n"
        "张伟: {mobile: '13900002222', slack_id: U0ZHANGWEI}\n"
        "李娜: {feishu_open_id: ou_lina}\n",
        encoding="utf-8",
    )
    return folder / "tracker.xlsx"


def edit(path: Path, changes: list[tuple[str, str, str]]) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    for task, col, value in changes:
        set_text_safe(ws[f"{col}{ROW_OF[task]}"], value)
    wb.save(path)


def alert_lines(body: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(task, kind, notice) of every line of a Feishu alert post."""
    post = next(iter(body["content"]["post"].values()))
    out = []
    for row in post["content"]:
        text = row[0].get("text", "")
        if not text.startswith("• "):
            continue
        task = re.search(r"任务[A-E]", text)
        assert task is not None, text
        kind = next(k for k, pattern in KIND_OF if pattern.search(text))
        m = re.search(r"第(\d+)次提醒", text)
        out.append((task.group(0), kind, int(m.group(1)) + 1 if m else 1))
    return out


def title(body: dict[str, Any]) -> str:
    if "content" in body:
        return str(next(iter(body["content"]["post"].values()))["title"])
    return str(body["blocks"][0]["text"]["text"])


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        deliver, "RETRY", RetryPolicy(attempts=2, first_wait=0.01, max_wait=0.05, max_seconds=2)
    )


def test_two_weeks_of_alerts_reminders_and_digests(
    tmp_path: Path, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = make_tracker(tmp_path, ruleset)
    monkeypatch.setenv("FEISHU_SECRET", SECRETS["feishu"])
    runner = CliRunner()
    with Receiver() as rx:
        (tmp_path / "config.yaml").write_text(
            "tracker: {backend: xlsx, path: tracker.xlsx}\n"
            "locale: zh-CN\ntimezone: Asia/Shanghai\n"
            # every day counts: the expected reminders below are hand-counted in calendar days
            # (test_notify.py covers reminders in working days)
            "calendar: {country: none}\n"
            "notify:\n  owners: owners.yaml\n  channels:\n"
            f"    - {{type: feishu, url: '{rx.url('feishu')}', secret_env: FEISHU_SECRET}}\n"
            f"    - {{type: slack, url: '{rx.url('slack')}'}}\n",
            encoding="utf-8",
        )
        cfg = str(tmp_path / "config.yaml")
        arrived: dict[tuple[dt.date, str], dict[str, list[dict[str, Any]]]] = {}
        reports: dict[tuple[dt.date, str], dict[str, Any]] = {}
        stderr = ""
        for day in DAYS:
            if day in EDITS:
                edit(tracker, EDITS[day])
            for at in TIMES:
                rx.reset_rates()  # runs are minutes apart in reality
                monkeypatch.setattr(deliver, "_LIMITERS", {})
                if day == SLACK_DOWN:
                    rx.down.add("slack")
                else:
                    rx.down.discard("slack")
                before = len(rx.received)
                r = runner.invoke(cli, ["run", "-c", cfg, "--at", f"{day} {at}", "--json"])
                assert r.exit_code == 0, r.output
                stderr += r.stderr
                reports[(day, at)] = json.loads(r.stdout)
                new = rx.received[before:]
                arrived[(day, at)] = {
                    p: [x.body for x in new if x.platform == p] for p in ("feishu", "slack")
                }
        assert rx.problems == [], "every request matched the documented formats and limits"

    # ---- alerts: each once, reminders on their days, nothing after resolution (Feishu)
    sent = set()
    for (day, _at), got in arrived.items():
        for body in got["feishu"]:
            if title(body).startswith("推广进度提醒"):
                for task, kind, notice in alert_lines(body):
                    assert (day, task, kind, notice) not in sent, "sent twice"
                    sent.add((day, task, kind, notice))
    assert sent == EXPECTED_ALERTS
    for task, resolved in RESOLVED.items():
        assert all(day < resolved for day, t, _k, _n in sent if t == task)

    # ---- digests: daily at the first run after 09:30, weekly after Friday 17:00 (Feishu)
    daily = Counter(
        (day, at)
        for (day, at), got in arrived.items()
        for b in got["feishu"]
        if title(b).startswith("推广进度日报")
    )
    assert daily == Counter({(day, "09:40"): 1 for day in DAYS})
    weekly = [
        (day, at)
        for (day, at), got in arrived.items()
        for b in got["feishu"]
        if title(b).startswith("推广进度周报")
    ]
    assert weekly == [(D(2024, 3, 8), "17:10"), (D(2024, 3, 15), "17:10")]
    digest = next(b for b in arrived[(D(2024, 3, 11), "09:40")]["feishu"] if "日报" in title(b))
    text = json.dumps(digest, ensure_ascii=False)
    assert "未来3天到期" in text and "任务E" in text  # due 03-13
    assert "延期任务(按负责人)" in text and "王丽:1项" in text  # 任务A, 7 days late

    # ---- Slack was down on 03-08: nothing arrived, the failures were reported, not raised
    assert arrived[(SLACK_DOWN, "09:40")]["slack"] == []
    down = [n for n in reports[(SLACK_DOWN, "09:40")]["notifications"] if n["channel"] == "slack"]
    assert down and not any(n["delivered"] for n in down)
    # ... and the next morning it got what was still true, once, and the missed weekly digest
    catch_up = arrived[(D(2024, 3, 9), "09:40")]["slack"]
    titles = [title(b) for b in catch_up]
    assert titles == [
        "推广进度提醒 · 2024-03-09",
        "推广进度日报 · 2024-03-09",  # replaces the undelivered one of 03-08
        "推广进度周报 · 2024-W10",
    ]
    alert_text = json.dumps(catch_up[0], ensure_ascii=False)
    for task in ("任务A", "任务B", "任务C"):
        assert task in alert_text
    assert "<@U0WANGLI>" in alert_text
    slack_bodies = [
        json.dumps(b, ensure_ascii=False) for got in arrived.values() for b in got["slack"]
    ]
    assert len(slack_bodies) == len(set(slack_bodies)), "nothing sent twice to Slack"
    slack_titles = [title(b) for got in arrived.values() for b in got["slack"]]
    assert sum(t.startswith("推广进度周报") for t in slack_titles) == 2

    # ---- the owner missing from the directory was said once, not an error
    assert stderr.count("'赵强' is not in the owner directory") == 1

    # ---- history shows the deliveries
    r = runner.invoke(cli, ["history", "-c", cfg, "--limit", "200"])
    assert r.exit_code == 0
    assert "deliveries (newest first)" in r.output
    assert re.search(r"slack\s+digest\s+superseded", r.output)
    r = runner.invoke(cli, ["history", "-c", cfg, "--limit", "200", "--json"])
    runs = json.loads(r.output)
    statuses = Counter(d["status"] for run in runs for d in run["deliveries"])
    assert statuses["delivered"] > 40 and statuses["failed"] == 0

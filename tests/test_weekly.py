"""tracker-sync report: the report's data (a pure function, hand-derived numbers), its rendering
(Markdown, HTML, PDF; templates replaced by a user's), and three simulated weeks of the demo
through the command line, checked against the summary's own numbers."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sync.backends.xlsx import set_text_safe
from sync.cli import cli
from sync.config import Config
from sync.errors import ConfigError
from sync.history import Change
from sync.pipeline import RunResult
from sync.rules import RuleSet
from sync.run import sync
from sync.timeline import TaskState
from sync.weekly.charts import system_cjk_files
from sync.weekly.data import (
    Period,
    Rate,
    ReportHistory,
    WeeklyReport,
    between,
    build,
    week,
    week_of,
)
from sync.weekly.make import write

from .conftest import grid, header, task
from .fakes import MemoryBackend

D = dt.date
AS_OF = D(2024, 3, 20)  # a Wednesday of ISO week 2024-W12 (03-18 .. 03-24)
W12 = week("2024-W12")


def run_of(rows: list[list[Any]], ruleset: RuleSet, *, extra: list[str] | None = None,
           tabs: dict[str, list[list[Any]]] | None = None, as_of: dt.date = AS_OF) -> RunResult:  # fmt: skip
    """A dry run of ``rows`` (history off) as of ``as_of``."""
    g = grid(rows, ruleset)
    if extra:
        g.rows[0] = [*header(ruleset), *extra]
    backend = MemoryBackend(g)
    backend.tabs = dict(tabs or {})
    config = Config.model_validate(
        {
            "tracker": {"backend": "xlsx", "path": "unused.xlsx"},
            "history": {"enabled": False},
            "calendar": {"country": "none"},
        }
    )
    return sync(config, as_of=as_of, backend=backend, write=False, notify=False)  # type: ignore[arg-type]


def report_of(result: RunResult, history: ReportHistory | None = None,
              period: Period = W12, locale: str = "zh-CN") -> WeeklyReport:  # fmt: skip
    return build(result, history or ReportHistory(), period, locale=locale)


# ---------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("text", "since", "until"),
    [
        ("2024-W12", D(2024, 3, 18), D(2024, 3, 24)),
        ("2024W01", D(2024, 1, 1), D(2024, 1, 7)),
        ("2020-w53", D(2020, 12, 28), D(2021, 1, 3)),  # a year with 53 ISO weeks
    ],
)
def test_week_is_monday_to_sunday(text: str, since: dt.date, until: dt.date) -> None:
    p = week(text)
    assert (p.since, p.until) == (since, until)
    assert week_of(since) == week_of(until) == p


@pytest.mark.parametrize("text", ["2024-12", "W12", "2024-W54", "2023-W53"])
def test_week_fails_when_not_an_iso_week(text: str) -> None:
    with pytest.raises(ConfigError, match="--week"):
        week(text)


def test_between_fails_when_since_is_after_until() -> None:
    with pytest.raises(ConfigError, match="swap"):
        between(D(2024, 3, 9), D(2024, 3, 1))


def test_next_period_follows() -> None:
    assert W12.next() == week("2024-W13")
    assert between(D(2024, 3, 1), D(2024, 3, 10)).next() == between(D(2024, 3, 11), D(2024, 3, 20))


# ---------------------------------------------------------------------------- data


def test_this_week_next_week_and_the_summary_numbers(ruleset: RuleSet) -> None:
    rows = [
        # done this week (actual finish 03-19) and last week (03-15)
        task(task="本周完成", planned_start="2024-03-10", planned_finish="2024-03-19",
             actual_start="2024-03-10", actual_finish="2024-03-19", progress="100%", status="已完成"),
        task(task="上周完成", planned_start="2024-03-05", planned_finish="2024-03-15",
             actual_start="2024-03-05", actual_finish="2024-03-15", progress="100%", status="已完成"),
        # due next week (03-25 .. 03-31), starting next week, and one due the week after
        task(task="下周到期", planned_start="2024-03-18", planned_finish="2024-03-27",
             actual_start="2024-03-18", progress="30%", status="进行中"),
        task(task="下周开始", planned_start="2024-03-31", planned_finish="2024-04-09"),
        task(task="更晚", planned_start="2024-04-02", planned_finish="2024-04-09"),
    ]  # fmt: skip
    result = run_of(rows, ruleset)
    r = report_of(result)
    s = result.summary
    assert [t.task for t in r.done_this_week] == ["本周完成"]
    assert [t.task for t in r.planned_next_week] == ["下周到期", "下周开始"]
    assert r.next_period == week("2024-W13")
    # the figures are the summary's
    assert (r.total, r.completed, r.completion_rate) == (5, 2, 40.0) == (
        s.total, s.status_counts["completed"], s.completion_rate)  # fmt: skip
    assert (r.delayed, r.finished_late, r.avg_deviation) == (
        s.status_counts["delayed"], s.finished_late, s.avg_deviation)  # fmt: skip
    assert r.tracker == "进度表"


def test_milestone_forecast_and_variance_by_hand(ruleset: RuleSet) -> None:
    rows = [
        # 03-01..03-10 is 10 days; 50 % left = 5 days from 03-20: 03-20..03-24 → +14 days
        task(phase="预热期", task="笔记", planned_start="2024-03-01", planned_finish="2024-03-10",
             actual_start="2024-03-01", progress="50%", status="进行中", risk="KOL档期冲突"),
        # done on 03-08, two days early: not the phase's last forecast
        task(phase="预热期", task="推文", planned_start="2024-03-01", planned_finish="2024-03-10",
             actual_start="2024-03-01", actual_finish="2024-03-08", progress="100%", status="已完成"),
        # 03-25..04-03, 0 %: on plan (forecast = planned finish)
        task(phase="爆发期", task="直播", planned_start="2024-03-25", planned_finish="2024-04-03"),
    ]  # fmt: skip
    r = report_of(run_of(rows, ruleset))
    m = {x.name: x for x in r.milestones}
    assert (m["预热期"].planned, m["预热期"].forecast, m["预热期"].variance) == (
        D(2024, 3, 10), D(2024, 3, 24), 14)  # fmt: skip
    assert (m["预热期"].tasks, m["预热期"].completed) == (2, 1)
    assert "笔记" in m["预热期"].cause and "KOL档期冲突" in m["预热期"].cause
    assert (m["爆发期"].forecast, m["爆发期"].variance, m["爆发期"].cause) == (D(2024, 4, 3), 0, "")
    assert [x.name for x in r.milestones] == ["预热期", "爆发期"]  # by planned finish
    # one of three delayed (33 % ≥ 10 %) and a 14-day slip: red, both named
    assert r.rag == "red"
    assert "1 个任务延期" in r.rag_reason and "预热期预计晚 14 天" in r.rag_reason


@pytest.mark.parametrize(
    ("rows", "rag", "reason"),
    [
        # on plan: green
        ([dict(planned_start="2024-03-18", planned_finish="2024-03-27", actual_start="2024-03-18",
               progress="30%", status="进行中")], "green", "no task delayed"),
        # 1 of 20 delayed (5 % < 10 %), finishing 2 days late (< 7): amber
        ([dict(task="late", planned_start="2024-03-10", planned_finish="2024-03-19",
               actual_start="2024-03-10", progress="90%", status="进行中")]
         + [dict(planned_start="2024-03-25", planned_finish="2024-04-30")] * 19,
         "amber", "tasks delayed: 1"),
        # 2 of 10 delayed: red
        ([dict(planned_start="2024-03-10", planned_finish="2024-03-19", actual_start="2024-03-10",
               progress="90%", status="进行中")] * 2
         + [dict(planned_start="2024-03-25", planned_finish="2024-04-30")] * 8,
         "red", "tasks delayed: 2 (20% of all"),
    ],
)  # fmt: skip
def test_rag(ruleset: RuleSet, rows: list[dict[str, str]], rag: str, reason: str) -> None:
    made = [task(**r, description=f"完成第{i}篇笔记发布") for i, r in enumerate(rows)]
    r = report_of(run_of(made, ruleset), locale="en")
    assert r.rag == rag
    assert reason in r.rag_reason


def test_risks_new_closed_and_open(ruleset: RuleSet) -> None:
    rows = [
        task(task="新风险", risk="物料延期", countermeasure="外包,3天内交付",
             planned_start="2024-03-18", planned_finish="2024-03-29"),
        task(task="旧风险", risk="审核未通过", planned_start="2024-03-18", planned_finish="2024-03-29"),
        task(task="风险已删", planned_start="2024-03-18", planned_finish="2024-03-29"),
        task(task="完成了", risk="库存不足", countermeasure="补货,周五前", planned_start="2024-03-10",
             planned_finish="2024-03-19", actual_start="2024-03-10", actual_finish="2024-03-19",
             progress="100%", status="已完成"),
    ]  # fmt: skip
    result = run_of(rows, ruleset)
    ids = {
        result.table.data.loc[r, "task"]: str(result.table.ids.loc[r]) for r in result.table.rows
    }

    def state(name: str, **kw: Any) -> TaskState:
        return TaskState(ids[name], "", "2024-03-01", "2024-03-01T09:00", **kw)

    history = ReportHistory(
        states={
            ids["新风险"]: state("新风险", risk_first_seen="2024-03-19"),
            ids["旧风险"]: state("旧风险", risk_first_seen="2024-03-04"),
            ids["风险已删"]: state(
                "风险已删",
                values={"task": "风险已删", "owner": "王丽"},
                risk_first_seen="2024-03-05",
            ),
            ids["完成了"]: state("完成了", risk_first_seen="2024-03-12"),
        },
        changes=(
            Change(7, "2024-03-19T09:00", "2024-03-19", ids["风险已删"], "risk", "达人失联", None),
            # a risk cleared last week is not this week's
            Change(5, "2024-03-12T09:00", "2024-03-12", ids["旧风险"], "risk", "早前风险", None),
        ),
    )
    r = report_of(result, history)
    assert [(x.task, x.since) for x in r.risks_new] == [("新风险", D(2024, 3, 19))]
    assert {(x.task, x.risk, x.how) for x in r.risks_closed} == {
        ("风险已删", "达人失联", "风险已删除"),
        ("完成了", "库存不足", "任务已完成"),
    }
    assert (
        [x.task for x in r.risks_open]
        == ["新风险", "旧风险"]
        == [result.table.data.loc[row, "task"] for row in result.summary.open_risks["row"]]
    )
    assert r.changes == 1  # the cell changes within the period


def test_budget_kpis_delays_and_rates(ruleset: RuleSet) -> None:
    rows = [
        # 03-11..03-20 all planned by 03-20 (PV = budget), half done: EV 5,000, AC 6,000
        [*task(phase="预热期", planned_start="2024-03-11", planned_finish="2024-03-20",
               actual_start="2024-03-11", progress="50%", status="进行中"), 10000, 6000, "物料"],
        # finished late, with a risk and a countermeasure: a countermeasure that failed
        [*task(phase="预热期", planned_start="2024-03-01", planned_finish="2024-03-05",
               actual_start="2024-03-01", actual_finish="2024-03-08", progress="100%",
               status="已完成", risk="素材返工", countermeasure="加急,3天内"), 2000, 2000, "物料"],
    ]  # fmt: skip
    kpi_tab = [["指标", "目标", "实际"], ["曝光量", 500000, 450000]]
    result = run_of(rows, ruleset, extra=["预算", "已消耗", "原因分类"], tabs={"KPI": kpi_tab})
    tid = str(result.table.ids.iloc[1])
    history = ReportHistory(
        states={
            tid: TaskState(tid, "", "2024-03-01", "2024-03-01T09", risk_first_seen="2024-03-02")
        }
    )
    r = report_of(result, history)
    assert r.budget is not None
    assert (r.budget.budget, r.budget.spent, r.budget.use_rate) == (12000, 8000, 66.7)
    overall = r.budget.rows[0]
    assert (overall["key"], overall["PV"], overall["EV"], overall["AC"]) == ("", 12000, 7000, 8000)
    assert r.kpis == ({"metric": "曝光量", "target": 500000, "actual": 450000, "rate": 90.0},)
    # the second task finished late (the first is due today, not late), caused by 物料
    assert r.delays_by["cause"] == ({"key": "物料", "count": 1, "share": 100.0},)
    retro = result.summary.extras.retrospective  # type: ignore[union-attr]
    assert r.risk_in_advance == Rate(*retro.risk_in_advance)
    assert r.countermeasure_success == Rate(*retro.countermeasure_success) == Rate(0, 1)
    assert any("物料" in x for x in r.lessons)


def test_gantt_and_burnup(ruleset: RuleSet) -> None:
    rows = [
        task(task="A", planned_start="2024-03-18", planned_finish="2024-03-19",
             actual_start="2024-03-18", actual_finish="2024-03-19", progress="100%", status="已完成"),
        task(task="B", planned_start="2024-03-15", planned_finish="2024-03-22"),
    ]  # fmt: skip
    r = report_of(run_of(rows, ruleset))
    assert [b.label.split(" ", 1)[1] for b in r.gantt] == ["B", "A"]  # by planned start
    b, a = r.gantt
    assert (a.actual_start, a.actual_end, a.done, a.late) == (
        D(2024, 3, 18),
        D(2024, 3, 19),
        True,
        False,
    )
    assert (b.actual_start, b.late) == (None, True)  # nothing started 5 days after its start
    by_day = {p[0]: p for p in r.burnup}
    assert by_day[D(2024, 3, 15)] == (D(2024, 3, 15), 2, 0, 0)
    assert by_day[D(2024, 3, 19)] == (D(2024, 3, 19), 2, 1, 1)
    assert by_day[D(2024, 3, 22)] == (D(2024, 3, 22), 2, 2, None)  # after the as-of day
    assert max(by_day) == D(2024, 3, 24)  # the period's end


# ---------------------------------------------------------------------------- rendering


def _sample(ruleset: RuleSet, locale: str = "zh-CN") -> WeeklyReport:
    rows = [
        task(task="<b>粗体</b> | 管道", planned_start="2024-03-10", planned_finish="2024-03-19",
             actual_start="2024-03-10", progress="90%", status="进行中", risk="物料*延期*"),
        task(task="推文", planned_start="2024-03-18", planned_finish="2024-03-27",
             actual_start="2024-03-18", progress="30%", status="进行中"),
    ]  # fmt: skip
    return report_of(run_of(rows, ruleset), locale=locale)


def test_markdown_escapes_cells_and_links_its_charts(ruleset: RuleSet, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    written = write(_sample(ruleset), "md", out)
    md = out.read_text(encoding="utf-8")
    assert written[0] == out and {p.name for p in written[1:]} == {"gantt.png", "burnup.png"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written[1:])
    assert "![甘特图(计划与实际)](r-charts/gantt.png)" in md
    assert "\\<b\\>粗体\\</b\\> \\| 管道" in md and "物料\\*延期\\*" in md
    assert "**总体状态: 红**" in md
    assert "只有一天的记录" in md  # one trend point: no trend chart yet


def test_html_escapes_user_text_and_embeds_charts(ruleset: RuleSet, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    write(_sample(ruleset, "en"), "html", out)
    html = out.read_text(encoding="utf-8")
    assert "&lt;b&gt;粗体&lt;/b&gt; | 管道" in html and "<b>粗体" not in html
    assert html.count('src="data:image/png;base64,') == 2
    assert "Weekly status report and retrospective" in html and "Overall status: Red" in html
    assert '"Noto Sans CJK SC"' in html  # the font stack reaches the CSS unescaped


def test_user_template_replaces_the_shipped_one(ruleset: RuleSet, tmp_path: Path) -> None:
    mine = tmp_path / "tpl"
    mine.mkdir()
    (mine / "report.md.j2").write_text("RAG={{ r.rag }} done={{ r.done_this_week|length }}\n")
    out = tmp_path / "r.md"
    write(_sample(ruleset), "md", out, template_dir=mine)
    assert out.read_text(encoding="utf-8") == "RAG=red done=0\n"
    (mine / "report.md.j2").write_text("{{ r.no_such_field }}")
    with pytest.raises(ConfigError, match=r"report\.md\.j2"):
        write(_sample(ruleset), "md", out, template_dir=mine)
    (mine / "report.md.j2").write_text("{% if %}")
    with pytest.raises(ConfigError, match=r"report.md.j2:1: template error"):
        write(_sample(ruleset), "md", out, template_dir=mine)
    with pytest.raises(ConfigError, match="does not exist"):
        write(_sample(ruleset), "md", out, template_dir=tmp_path / "missing")


def test_report_fails_with_the_extra_named_when_a_library_is_missing(
    ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def no_weasyprint(name: str, *args: Any) -> Any:
        if name == "weasyprint":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_weasyprint)
    with pytest.raises(ConfigError, match=r"tracker-sync\[report\]"):
        write(_sample(ruleset), "pdf", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_a_missing_system_library_is_named_not_a_traceback(
    ruleset: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeasyPrint installed without Pango raises OSError on import (cffi's dlopen)."""
    import importlib

    real = importlib.import_module

    def no_pango(name: str, *args: Any) -> Any:
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_pango)
    with pytest.raises(ConfigError, match=r"install Pango.*--format html"):
        write(_sample(ruleset), "pdf", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def pdf_text(path: Path) -> str:
    """The PDF's text: poppler's pdftotext, else pypdf."""
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                             text=True, check=True, timeout=120)  # fmt: skip
        return out.stdout
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


needs_cjk_font = pytest.mark.skipif(
    not system_cjk_files(),
    reason="no CJK font installed (fc-list :lang=zh is empty); `make test-visual` installs one",
)


@needs_cjk_font
def test_pdf_holds_the_chinese_text(ruleset: RuleSet, tmp_path: Path) -> None:
    out = tmp_path / "r.pdf"
    write(_sample(ruleset), "pdf", out)
    assert out.read_bytes().startswith(b"%PDF")
    text = pdf_text(out)
    for words in ("推广周报与复盘", "总体状态", "本周完成", "里程碑", "复盘", "风险提前识别率"):
        assert words in text, words
    # CJK glyphs from a CJK font, not boxes: the PDF embeds one
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=False)
    if fonts.returncode == 0:
        assert re.search(r"CJK|WenQuanYi|Hei|Han", fonts.stdout), fonts.stdout


# ---------------------------------------------------------------------------- three weeks


def _cols(ws: Any) -> tuple[int, dict[str, int]]:
    """The header row and the column of each field the test edits."""
    names = {"完成状态": "status", "当前进度": "progress", "实际完成时间": "actual_finish",
             "实际开始时间": "actual_start", "风险描述": "risk", "应对措施": "countermeasure",
             "核心任务": "task"}  # fmt: skip
    for row in ws.iter_rows(min_row=1, max_row=10):
        found = {
            field: c.column
            for c in row
            for prefix, field in names.items()
            if isinstance(c.value, str) and c.value.strip().startswith(prefix)
        }
        if len(found) == len(names):
            return row[0].row, found
    raise AssertionError("no header row")


def _edit(path: Path, edits: list[tuple[int, str, Any]]) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    _, col = _cols(ws)
    for r, field, value in edits:
        set_text_safe(ws.cell(row=r, column=col[field]), value)
    wb.save(path)


def test_three_weeks_of_the_demo_then_the_report(tmp_path: Path) -> None:
    """The demo written on Monday 03-04, synced Mon / Wed / Fri for three weeks while the team
    finishes tasks, adds and clears risks; then the report of week 3 (2024-W12) in all three
    formats, its numbers checked against `check --json` as of the same day."""
    runner = CliRunner()
    start = D(2024, 3, 4)
    r = runner.invoke(cli, ["demo", str(tmp_path / "d"), "--today", start.isoformat()])
    assert r.exit_code == 0, r.output
    cfg = str(tmp_path / "d" / "config.yaml")
    tracker = tmp_path / "d" / "tracker.xlsx"
    ws = openpyxl.load_workbook(tracker).worksheets[0]
    head, col = _cols(ws)
    open_rows = [
        c.row for c in ws.iter_cols(min_col=col["status"], max_col=col["status"], min_row=head + 1).__next__()
        if c.value in ("进行中", "延期")
    ]  # fmt: skip
    no_risk = [
        r_ for r_ in range(head + 1, ws.max_row + 1)
        if ws.cell(r_, col["task"]).value and ws.cell(r_, col["risk"]).value in (None, "-", "")
        and r_ not in open_rows[:4]
    ]  # fmt: skip
    with_risk = [
        r_ for r_ in range(head + 1, ws.max_row + 1)
        if ws.cell(r_, col["risk"]).value not in (None, "-", "") and r_ not in open_rows[:4]
    ]  # fmt: skip
    assert len(open_rows) >= 4 and no_risk and with_risk
    done_w11, done_w12 = open_rows[:2], open_rows[2:4]
    names = {r_: ws.cell(r_, col["task"]).value for r_ in [*done_w12, no_risk[0], with_risk[0]]}

    def finish(rows: list[int], day: dt.date) -> list[tuple[int, str, Any]]:
        return [e for r_ in rows for e in ((r_, "progress", "100%"), (r_, "status", "已完成"),
                                            (r_, "actual_finish", day.isoformat()))]  # fmt: skip

    edits = {
        D(2024, 3, 13): finish(done_w11, D(2024, 3, 13)),
        D(2024, 3, 18): [(no_risk[0], "risk", "达人临时取消合作")],
        D(2024, 3, 20): [*finish(done_w12, D(2024, 3, 19)), (with_risk[0], "risk", "-")],
    }
    days = [
        start + dt.timedelta(days=i)
        for i in range(17)
        if (start + dt.timedelta(days=i)).weekday() in (0, 2, 4)
    ]
    for day in days[1:]:
        if day in edits:
            _edit(tracker, edits[day])
        r = runner.invoke(cli, ["run", "-c", cfg, "--today", day.isoformat()])
        assert r.exit_code == 0, r.output
    as_of = D(2024, 3, 20)
    check = runner.invoke(cli, ["check", "-c", cfg, "--today", as_of.isoformat(), "--json"])
    summary = json.loads(check.stdout)

    outputs = {}
    for fmt in ("md", "html", "pdf"):
        out = tmp_path / f"week.{fmt}"
        r = runner.invoke(cli, ["report", "-c", cfg, "--week", "2024-W12", "--today",
                                as_of.isoformat(), "--format", fmt, "--output", str(out)])  # fmt: skip
        assert r.exit_code == 0, r.output
        assert r.output.startswith(f"wrote {out}")
        outputs[fmt] = out
    md = outputs["md"].read_text(encoding="utf-8")

    # the key figures row is the summary's
    counts = summary["status_counts"]
    total = sum(counts.values())
    figures = re.search(
        r"^\| (\d+) \| (\d+) \| ([\d.]+)% \| (\d+) \| (\d+) \| [-\d.–]+ \| (\d+) \| (\d+) \|$",
        md,
        re.M,
    )
    assert figures is not None, md
    assert [int(figures[1]), int(figures[2]), float(figures[3]), int(figures[4]), int(figures[5])] == [
        total, counts["completed"], summary["completion_rate"], counts["delayed"], summary["finished_late"]]  # fmt: skip
    assert int(figures[7]) > 0  # cells changed this week
    # this week's completions, the new risk and the cleared one, each in its own section
    sections = dict(re.findall(r"^#{3,4} (.+?)\n(.*?)(?=^#{2,4} )", md, re.M | re.S))
    done = sections["本周完成"]
    assert all(names[r_] in done for r_ in done_w12)
    assert len(re.findall(r"^\| T\d{4} ", done, re.M)) == 2  # not last week's two
    assert (
        names[no_risk[0]] in sections["本周新增风险"]
        and "达人临时取消合作" in sections["本周新增风险"]
    )
    assert (
        names[with_risk[0]] in sections["本周关闭的风险"]
        and "风险已删除" in sections["本周关闭的风险"]
    )
    # three weeks of history: the trend is drawn
    assert (tmp_path / "week-charts" / "trend.png").exists()
    assert "week-charts/trend.png" in md and "week-charts/gantt.png" in md

    html = outputs["html"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 3
    assert f">{summary['completion_rate']:g}%<" in html
    assert outputs["pdf"].read_bytes().startswith(b"%PDF")
    if shutil.which("fc-list") and system_cjk_files():
        text = pdf_text(outputs["pdf"])
        assert "推广周报与复盘" in text and "本周完成" in text and names[done_w12[0]] in text
        assert f"{summary['completion_rate']:g}%" in text


def test_report_fails_when_week_and_since_are_both_given(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["report", "--week", "2024-W12", "--since", "2024-03-01",
                                 "--until", "2024-03-07"])  # fmt: skip
    assert r.exit_code == 2 and "not both" in r.output
    r = CliRunner().invoke(cli, ["report", "--since", "2024-03-01"])
    assert r.exit_code == 2 and "go together" in r.output


def test_report_without_history_still_lists_the_week(tmp_path: Path, ruleset: RuleSet) -> None:
    """history.enabled false: no run store, so no changes, trend or new risks — the rest is
    there (completed this week from the actual finish dates)."""
    from sync.demo import new_workbook

    wb = new_workbook(ruleset)
    ws = wb.active
    rows = [
        task(task="本周完成", planned_start="2024-03-10", planned_finish="2024-03-19",
             actual_start="2024-03-10", actual_finish="2024-03-19", progress="100%", status="已完成"),
        task(task="进行中", planned_start="2024-03-18", planned_finish="2024-03-27",
             actual_start="2024-03-18", progress="30%", status="进行中"),
    ]  # fmt: skip
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            set_text_safe(ws.cell(row=r, column=c), value)
    wb.save(tmp_path / "t.xlsx")
    (tmp_path / "c.yaml").write_text(
        "tracker: {backend: xlsx, path: t.xlsx}\nhistory: {enabled: false}\n", encoding="utf-8"
    )
    out = tmp_path / "r.md"
    r = CliRunner().invoke(cli, ["report", "-c", str(tmp_path / "c.yaml"), "--since",
                                 "2024-03-18", "--until", "2024-03-24", "--today", "2024-03-20",
                                 "--output", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    md = out.read_text(encoding="utf-8")
    done = md.split("### 本周完成")[1].split("###")[0]
    assert "本周完成" in done and "进行中" not in done
    assert "2024-03-25 至 2024-03-31" in md  # the next period of the same length
    assert "只有一天的记录" in md
    assert not (tmp_path / ".tracker-sync").exists()  # nothing written beside the config
    # report.template_dir (relative to the config) replaces the shipped Markdown template
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "report.md.j2").write_text("{{ r.period.label }}: {{ r.total }}\n")
    (tmp_path / "c.yaml").write_text(
        "tracker: {backend: xlsx, path: t.xlsx}\nhistory: {enabled: false}\n"
        "report: {template_dir: tpl}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["report", "-c", str(tmp_path / "c.yaml"), "--week", "2024-W12",
                                 "--today", "2024-03-20", "--output", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == "2024-W12: 2\n"

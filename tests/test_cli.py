"""The command line end to end: run, check, init, demo, exit codes and --json."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sync.cli import cli


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_run_then_rerun_writes_nothing(tracker_file: Path) -> None:
    cfg = str(tracker_file.parent / "config.yaml")
    r = invoke("run", "-c", cfg, "--today", "2024-03-20")
    assert r.exit_code == 0, r.output
    assert (
        "4 tasks: 1 not started, 1 in progress, 1 completed, 1 delayed; completion rate 25.0%"
        in r.output
    )
    assert "wrote " in r.output and "summary tab" in r.output
    r = invoke("run", "-c", cfg, "--today", "2024-03-20")
    assert r.exit_code == 0
    assert "nothing to write: the tracker is up to date" in r.output


def test_run_json_is_the_only_stdout(tracker_file: Path) -> None:
    r = CliRunner().invoke(
        cli,
        ["run", "-c", str(tracker_file.parent / "config.yaml"), "--today", "2024-03-20", "--json"],
    )
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["as_of"] == "2024-03-20" and data["rows"] == 4 and data["worksheet"] == "推广进度表"
    assert data["status_counts"] == {
        "not_started": 1,
        "in_progress": 1,
        "completed": 1,
        "delayed": 1,
        "on_hold": 0,
    }
    assert data["completion_rate"] == 25.0
    assert data["tasks"][2] == {
        "row": 4,
        "status": "in_progress",
        "progress": 30.0,
        "planned_progress": 54.5,
        "deviation": -24.5,
        "days_late": 0,
        "health": "amber",
        "days_late_calendar": 0,
    }
    assert data["calendar_warning"] is None
    assert data["requests"] == {"read": 1, "write": 1} and data["cells_written"] > 0
    again = json.loads(
        CliRunner()
        .invoke(
            cli,
            [
                "run",
                "-c",
                str(tracker_file.parent / "config.yaml"),
                "--today",
                "2024-03-20",
                "--json",
            ],
        )
        .stdout
    )
    assert again["requests"] == {"read": 1, "write": 0} and again["cells_written"] == 0


def test_dry_run_writes_nothing(tracker_file: Path) -> None:
    before = tracker_file.read_bytes()
    r = invoke(
        "run", "-c", str(tracker_file.parent / "config.yaml"), "--today", "2024-03-20", "--dry-run"
    )
    assert r.exit_code == 0 and "dry run: would write" in r.output
    assert tracker_file.read_bytes() == before


def test_check_exit_codes(tracker_file: Path) -> None:
    cfg = str(tracker_file.parent / "config.yaml")
    before = tracker_file.read_bytes()
    assert invoke("check", "-c", cfg, "--today", "2024-03-20").exit_code == 0
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["E2"] = "-"  # no owner
    wb.save(tracker_file)
    before = tracker_file.read_bytes()
    r = invoke("check", "-c", cfg, "--today", "2024-03-20")
    assert r.exit_code == 1
    assert "row 2     error   required-fields      “负责人”未填写" in r.output
    assert tracker_file.read_bytes() == before


def test_missing_column_exits_3_and_writes_nothing(tracker_file: Path) -> None:
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["E1"] = "谁来做"
    wb.save(tracker_file)
    before = tracker_file.read_bytes()
    r = CliRunner().invoke(cli, ["run", "-c", str(tracker_file.parent / "config.yaml")])
    assert r.exit_code == 3
    assert "missing required column(s): 负责人 / Owner (owner)" in r.stderr
    assert "'谁来做'" in r.stderr
    assert tracker_file.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tracker:\n  backend: excel\n  path: t.xlsx\n",
            "config.yaml:2: tracker.backend: no backend named 'excel' is installed (installed: feishu, gsheets, xlsx)",
        ),
        ("tracker:\n  backend: xlsx\n  pth: t.xlsx\n", "config.yaml:3: tracker.pth: unknown key"),
        ("tracker:\n  backend: xlsx\n", "tracker.path is required when tracker.backend is xlsx"),
        (
            "tracker:\n  path: t.xlsx\nlocale: fr\n",
            "config.yaml:3: locale: Input should be 'zh-CN' or 'en'",
        ),
        ("tracker:\n  path: t.xlsx\ntimezone: Mars/Base\n", "unknown time zone 'Mars/Base'"),
        ("tracker: [\n", "invalid YAML"),
        ("tracker:\n  path: t.xlsx\nrules: [nowhere]\n", "nowhere: rule folder not found"),
    ],
)
def test_invalid_config_exits_2_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)])
    assert r.exit_code == 2, r.output
    assert expected in r.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["run", "-c", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and "nope.yaml: file not found" in r.stderr


def test_bad_today_is_a_usage_error(tracker_file: Path) -> None:
    r = CliRunner().invoke(
        cli, ["run", "-c", str(tracker_file.parent / "config.yaml"), "--today", "20/3/2024"]
    )
    assert r.exit_code == 2


def test_init_creates_the_template(tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    r = invoke("init", str(path))
    assert r.exit_code == 0 and path.exists()
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert [c.value for c in ws[1]][:3] == ["推广阶段", "推广渠道", "核心任务"]
    assert ws.freeze_panes == "A2"
    dv = ws.data_validations.dataValidation[0]
    assert dv.formula1 == '"未开始,进行中,已完成,延期"' and "K2" in str(dv.sqref)
    assert ws["F2"].number_format == "yyyy-mm-dd"
    assert ws.column_dimensions["D"].width == 40
    again = CliRunner().invoke(cli, ["init", str(path)])
    assert again.exit_code == 3 and "already exists" in again.stderr


def test_init_english(tmp_path: Path) -> None:
    path = tmp_path / "en.xlsx"
    assert invoke("init", str(path), "--locale", "en").exit_code == 0
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws["A1"].value == "Phase" and ws.title == "Tracker"


def test_demo_writes_and_syncs(tmp_path: Path) -> None:
    r = invoke("demo", str(tmp_path / "d"), "--today", "2026-11-26")
    assert r.exit_code == 0, r.output
    assert "44 tasks" in r.output and "wrote " in r.output
    wb = openpyxl.load_workbook(tmp_path / "d" / "tracker.xlsx")
    ws = wb.worksheets[0]
    assert ws["A1"].value == "新品上市推广进度监控表"
    assert ws["O2"].value == "⚙ 计算状态" and ws["O3"].value == "延期"
    assert "推广概览" in wb.sheetnames
    r = invoke("run", "-c", str(tmp_path / "d" / "config.yaml"), "--today", "2026-11-26")
    assert "nothing to write" in r.output


@pytest.mark.parametrize("command", ["run", "check", "init", "demo"])
def test_every_command_help_has_an_example(command: str) -> None:
    r = invoke(command, "--help")
    assert r.exit_code == 0
    assert "Example" in r.output


def test_help_and_version_load_no_heavy_library() -> None:
    """`tracker-sync --help` stays instant: the command line imports the library (pandas, the
    config models, backends) only when a command runs."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from sync.cli import cli\n"
        "for args in (['--help'], ['--version'], ['run', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'pydantic', 'openpyxl', 'gspread', 'lxml')"
        " if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""The benchmark scripts still run against the current code (tiny sizes; timings not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    "args",
    [
        ["bench.py", "--sizes", "300", "--repeat", "1"],
        ["bench_sheets.py", "--rows", "200"],
        ["bench_rules.py", "--rows", "300", "--repeat", "1"],
        ["bench_workdays.py", "--rows", "300", "--repeat", "1"],
        ["bench_sheets_read.py", "--rows", "300", "--repeat", "1"],
        ["bench_report.py", "--rows", "60", "--repeat", "1", "--days", "2"],
    ],
)
def test_benchmark_script_runs(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "|" in done.stdout, "it printed its table"


def test_xlsx_benchmark_runs() -> None:
    """bench_xlsx at 200 rows: every read and write is measured, calamine or not installed."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_xlsx.py"), "--rows", "200"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for operation in (
        "read: openpyxl full load",
        "read: XlsxBackend.read()",
        "read: openpyxl read-only values",
        "read: python-calamine values",
        "write: surgical XlsxBackend.apply",
        "write: apply_plan (in memory)",
        "write: openpyxl set cells + save",
    ):
        assert f"| 200 | {operation} |" in done.stdout, operation
    assert "formula cached results 50/50" in done.stdout


def test_e2e_benchmark_runs() -> None:
    """bench_e2e at 30 rows: tracker-sync's three runs and both hand-written scripts, timed."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_e2e.py"), "--rows", "30", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for label in (
        "tracker-sync run: first run",
        "tracker-sync run: no change",
        "tracker-sync run: no change again (stops after the read)",
        "tracker-sync run: 1 % edits",
        "pandas + python-calamine script",
        "pandas + openpyxl script",
    ):
        assert f"| 30 | {label} |" in done.stdout, label

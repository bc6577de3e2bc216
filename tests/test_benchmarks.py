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
        ["bench_sheets.py", "--sizes", "200"],
        ["bench_rules.py", "--rows", "300", "--repeat", "1"],
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

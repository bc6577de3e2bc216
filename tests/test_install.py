"""A non-editable install carries the rule pack and runs from another directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    return next(out.glob("tracker_sync-*.whl"))


def test_wheel_ships_the_rule_pack(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "sync/_rules/columns.yaml" in names and "sync/_rules/checks.yaml" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    # tracker-sync report's templates are package data
    for name in ("report.md.j2", "report.html.j2", "report.css"):
        assert f"sync/weekly/templates/{name}" in names


def test_installed_copy_runs_demo_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import sync, sys; from sync.cli import main; print(sync.__file__, file=sys.stderr); main()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "demo", "d", "--today", "2026-11-26"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert str(target) in r.stderr  # the installed copy ran, not the checkout
    assert "44 tasks" in r.stdout
    assert (work / "d" / "tracker.xlsx").exists()

"""A real spreadsheet program opens what the surgical writer wrote (LibreOffice, when installed).

LibreOffice is not a dependency (CI has none, so these skip there, saying so); on a machine
with ``soffice`` on PATH they convert each synced workbook with LibreOffice and compare what it
reads with what the job wrote: values of the tracker tab, the summary's charts, the job's
highlight rules and column anchors.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from .test_xlsx_corpus import make_case, run_json
from .xlsx_corpus import TAB

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)


@pytest.mark.parametrize("name", ["plain", "chart_on_tracker", "macro", "libreoffice_saved"])
def test_libreoffice_reads_what_the_job_wrote(tmp_path: Path, name: str) -> None:
    tracker, config = make_case(name, tmp_path)
    assert run_json(config).exit_code == 0
    out = tmp_path / "lo"
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--convert-to", "xlsx", "--outdir", str(out), str(tracker)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    seen = openpyxl.load_workbook(out / f"{tracker.stem}.xlsx", data_only=True)
    ours = openpyxl.load_workbook(tracker, data_only=True)
    assert seen.sheetnames[: len(ours.sheetnames)] == ours.sheetnames
    mine, theirs = ours[TAB], seen[TAB]
    for row in mine.iter_rows():
        for cell in row:
            got = theirs[cell.coordinate].value
            if isinstance(cell.value, float):
                assert got == pytest.approx(cell.value), cell.coordinate
            else:
                assert got == cell.value, cell.coordinate
    # every chart of the summary (status by phase, planned vs actual, the Gantt ...) survives
    charts = len(openpyxl.load_workbook(tracker)["推广概览"]._charts)
    assert charts >= 3
    assert len(openpyxl.load_workbook(out / f"{tracker.stem}.xlsx")["推广概览"]._charts) == charts
    assert len(theirs.conditional_formatting) == len(mine.conditional_formatting)
    assert [n for n in seen.defined_names if n.startswith("_tracker_sync_")]

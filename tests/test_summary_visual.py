"""The summary tab as people see it: LibreOffice prints it to PDF and the PDF is checked.

For the demo tracker and for a 1,000-row one: every KPI tile has its definition on the page,
no two words on a printed line overlap (a header clipped at its column's computed width runs
into its neighbour: pdftotext reports clipped text whole), numbers sit right-aligned under
right-aligned headers, no chart covers a non-empty cell (where we anchor it and where
LibreOffice reads the anchor), and the hidden metadata tab is not printed. Needs LibreOffice
(``soffice``) and poppler (``pdftotext``); ``make test-visual`` installs both with a CJK font on
Debian. Without them these tests skip, saying so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sync.config import load_config
from sync.demo import demo_rows, write_demo
from sync.model import META_TAB
from sync.rules import load_rules, shipped_rules_dir
from sync.run import sync
from sync.summary_layout import TILES, word

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (soffice) and poppler (pdftotext) are needed: make test-visual",
)

DAY = dt.date(2026, 3, 20)
SUMMARY = "推广概览"


def make_tracker(tmp: Path, rows: int | None) -> Path:
    """The demo (``rows`` None) or a demo-shaped tracker with ``rows`` tasks, synced once."""
    tracker, config = write_demo(tmp / "t", load_rules([shipped_rules_dir()]), DAY)
    if rows is not None:
        wb = openpyxl.load_workbook(tracker)
        ws = wb.active
        for r, row in enumerate(demo_rows(DAY, n=rows - 4, seed=11), start=3):
            for c, value in enumerate(row, start=1):
                ws.cell(row=r, column=c, value=value if value != "" else None)
        wb.save(tracker)
    now = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
    result = sync(load_config(config), as_of=DAY, now=now, notify=False)
    assert result.plan is not None and result.plan.summary is not None
    return tracker


def soffice(tmp: Path, src: Path, fmt: str) -> Path:
    out = tmp / f"lo-{fmt}"
    subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp}/profile",
         "--convert-to", fmt, "--outdir", str(out), str(src)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return out / f"{src.stem}.{fmt}"


def summary_only(tracker: Path, dest: Path) -> Path:
    """A copy whose only visible tab is the summary (the 1,000-row tracker tab would print
    hundreds of pages that are not under test)."""
    with zipfile.ZipFile(tracker) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = re.sub(
                    rb'<sheet\b(?![^>]*name="' + SUMMARY.encode() + rb'")[^>]*?/>',
                    lambda m: re.sub(rb'\sstate="[^"]*"', b"", m.group(0)).replace(
                        b"<sheet ", b'<sheet state="hidden" '
                    ),
                    data,
                )
                # the tab open on loading is shown (so printed) even when hidden
                titles = re.findall(rb'<sheet\b[^>]*?\bname="([^"]*)"', data)
                active = b' activeTab="%d"' % titles.index(SUMMARY.encode())
                data = re.sub(rb'\sactiveTab="\d+"', b"", data)
                data = data.replace(b"<workbookView ", b"<workbookView" + active + b" ", 1)
            out.writestr(item, data)
    return dest


def words(pdf: Path) -> list[tuple[int, float, float, float, str]]:
    """(page, xMin, xMax, yMin, text) of every word pdftotext finds."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    out = []
    for page, body in enumerate(html.split("<page ")[1:], 1):
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>',
            body,
        ):
            out.append((page, float(m.group(1)), float(m.group(3)), float(m.group(2)), m.group(4)))
    return out


def overlaps(ws: list[tuple[int, float, float, float, str]]) -> list[tuple[str, str]]:
    """Pairs of words on one printed line (same page, same top) whose boxes overlap."""
    lines: dict[tuple[int, float], list[tuple[float, float, str]]] = {}
    for page, x0, x1, y0, text in ws:
        lines.setdefault((page, round(y0, 1)), []).append((x0, x1, text))
    bad = []
    for line in lines.values():
        line.sort()
        for (_, a1, a), (b0, _, b) in itertools.pairwise(line):
            if a1 > b0 + 0.5:
                bad.append((a, b))
    return bad


def chart_cells(xlsx: Path) -> list[tuple[int, int, int, int]]:
    """(first row, first col, last row, last col), 0-based, of each chart on the summary tab:
    a corner at a cell's top-left edge (offset 0) ends the chart in the cell before."""
    ws = openpyxl.load_workbook(xlsx)[SUMMARY]
    out = []
    for chart in ws._charts:
        a = chart.anchor
        last_row = a.to.row - (1 if a.to.rowOff == 0 else 0)
        last_col = a.to.col - (1 if a.to.colOff == 0 else 0)
        out.append((a._from.row, a._from.col, last_row, last_col))
    return out


def filled_cells(xlsx: Path) -> set[tuple[int, int]]:
    ws = openpyxl.load_workbook(xlsx)[SUMMARY]
    return {
        (c.row - 1, c.column - 1)
        for row in ws.iter_rows()
        for c in row
        if c.value not in (None, "")
    }


def check_summary(tmp: Path, tracker: Path) -> dict[str, Any]:
    # charts cover no filled cell, as written and as LibreOffice reads the anchors
    filled = filled_cells(tracker)
    ours = chart_cells(tracker)
    assert len(ours) >= 3, "status by phase, planned vs actual and the Gantt"
    for r0, c0, r1, c1 in ours:
        covered = {(r, c) for (r, c) in filled if r0 <= r <= r1 and c0 <= c <= c1}
        assert not covered, f"a chart at rows {r0}-{r1} covers {sorted(covered)[:5]}"
    lo = soffice(tmp, summary_only(tracker, tmp / "summary.xlsx"), "xlsx")
    assert chart_cells(lo) == ours
    # printed: every KPI and its definition, no clipped or overlapping text
    pdf = soffice(tmp, summary_only(tracker, tmp / "summary.xlsx"), "pdf")
    found = words(pdf)
    flat = re.sub(r"\s+", "", "".join(w[4] for w in found))
    for label, definition in TILES:
        assert word("zh-CN", label) in flat, label
        assert re.sub(r"\s+", "", word("zh-CN", definition)).replace("&", "&amp;") in flat, (
            definition
        )
    assert not overlaps(found), overlaps(found)[:5]
    assert not [w for w in found if "###" in w[4]], "a number too wide for its column"
    # the status table: counts right-aligned under their right-aligned header
    by_text: dict[str, list[tuple[int, float, float, float, str]]] = {}
    for w in found:
        by_text.setdefault(w[4], []).append(w)
    header = next(w for w in by_text["任务数"])
    below = [w for w in found if w[0] == header[0] and w[3] > header[3] and w[4].isdigit()]
    column = [w for w in below if abs(w[2] - header[2]) < 2.0]
    assert len(column) >= 5, "the status counts line up with their header's right edge"
    return {"pdf": pdf, "words": found}


def test_the_demo_summary_prints_readably(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path, None)
    check_summary(tmp_path, tracker)
    # the whole workbook printed: the hidden metadata tab is not a page, no machine path
    pdf = soffice(tmp_path, tracker, "pdf")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert '"conditional_formats"' not in text and META_TAB not in text
    assert str(tmp_path) not in text and "tracker.xlsx" in text


def test_a_thousand_row_summary_prints_readably(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path, 1000)
    got = check_summary(tmp_path, tracker)
    flat = "".join(w[4] for w in got["words"])
    flat = flat.replace(" ", "")
    assert "显示其中25个任务" in flat, "the Gantt says it shows a part of the tasks"
    assert re.search(r"共\d+个任务有计划日期", flat), "and, in a cell, of how many"

"""Read and write an .xlsx tracker: openpyxl vs python-calamine, the surgical writer vs openpyxl.

Usage::

    python benchmarks/bench_xlsx.py                       # 10k and 100k task rows
    python benchmarks/bench_xlsx.py --rows 10000 --repeat 3 --json

For each size N, one synthetic tracker (``benchmarks/synth.py``: a title row, the header, N
messy task rows; percent cells formatted ``0%``, date cells ``yyyy-mm-dd``) is written with
XlsxWriter, plus a few formula cells every N/50 rows (``=LEN(D5)``, ``=B5&" / "&C5`` in the
notes column, ``=45/100`` as a progress) that carry a cached result, as Excel saves them.
A first run's write plan (every task new: IDs, generated columns, highlight rules, summary and
metadata tabs) is made from ``XlsxBackend(path).read()`` with ``sync.pipeline.plan_run``.
Then every operation below runs on that SAME file, each in a fresh process (its own clock and
its own peak RSS, ``ru_maxrss`` as in bench.py):

read
  * ``openpyxl full``: ``openpyxl.load_workbook(path, rich_text=False)``;
  * ``XlsxBackend.read()``: the backend's whole read, with whatever reader it uses now
    (python-calamine for values, the package's XML for formats; the openpyxl reader before it
    loaded the workbook twice when the tracker held formulas, the second time ``data_only``);
  * ``openpyxl read-only``: ``load_workbook(read_only=True, data_only=True)`` and
    ``iter_rows(values_only=True)`` over the tracker tab into a list;
  * ``calamine``: ``CalamineWorkbook.from_path(path).get_sheet_by_name(tab).to_python()``
    (skipped, "not installed", when python-calamine is missing).

  The backend and both value readers are checked to return the formula cells' cached results;
  calamine's grid is compared cell by cell with openpyxl read-only's (untimed).

write
  * ``surgical apply``: ``XlsxBackend.apply`` on a fresh copy (``apply_plan`` on the bytes
    read, the on-disk version check, a temp file + fsync + rename). The process restores what
    ``read()`` leaves behind (the file's bytes and version) without repeating the read,
    so the peak RSS belongs to the write;
  * ``apply_plan (in memory)``: the surgical writer alone, no file I/O;
  * ``openpyxl save``: the old writer. The workbook is loaded (untimed: the old read had it
    loaded already), then the clock covers setting the plan's tracker cells (header cells bold
    and filled), writing the summary tab (values, bold rows, widths, charts) and the metadata
    tab, and ``wb.save`` to a file + fsync. Highlight rules are not rewritten.

"seconds" is the median of ``--repeat`` runs; "peak RSS" is the process's high-water mark
(interpreter and imports included), "+RSS" how far the operation raised it above where it was
when the clock started. Prints a Markdown table (``--json``: the results as JSON).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

AS_OF = dt.date(2026, 6, 15)  # synth.synthetic_grid's default "today"
NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
NOTES = 13  # the synthetic tracker's empty notes column (0-based)
PROGRESS = 9

#: (operation, label) in the order they run and print.
OPERATIONS = [
    ("openpyxl_full", "read: openpyxl full load"),
    ("backend_read", "read: XlsxBackend.read()"),
    ("openpyxl_read_only", "read: openpyxl read-only values"),
    ("calamine", "read: python-calamine values"),
    ("surgical_apply", "write: surgical XlsxBackend.apply"),
    ("apply_plan", "write: apply_plan (in memory)"),
    ("openpyxl_save", "write: openpyxl set cells + save"),
]


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


#: The process's high-water mark when an operation's clock started.
_BASELINE: list[float] = []


def _start() -> float:
    """Start an operation's clock (imports and setup done): note the RSS high-water mark."""
    _BASELINE[:] = [_maxrss_mib()]
    return time.perf_counter()


# ---------------------------------------------------------------------- the file


def build(path: Path, n: int) -> dict[str, Any]:
    """Write the synthetic tracker to ``path``; returns its tab title and the formula cells'
    cached results ("row,col" 0-based -> value)."""
    import xlsxwriter  # type: ignore[import-untyped]
    from synth import synthetic_grid

    grid = synthetic_grid(n, today=AS_OF)
    wb = xlsxwriter.Workbook(
        str(path), {"default_date_format": "yyyy-mm-dd", "strings_to_urls": False}
    )
    ws = wb.add_worksheet(grid.title)
    pct = wb.add_format({"num_format": "0%"})
    for r, row in enumerate(grid.rows):
        for c, value in enumerate(row):
            if value is not None:
                ws.write(r, c, value, pct if (r, c) in grid.percent_cells else None)
    expected: dict[str, Any] = {}
    for k, i in enumerate(range(0, n, max(1, n // 50))):
        r = i + 2  # below the title and header rows
        a1 = r + 1
        cell: tuple[int, str, Any, Any]
        if k % 3 == 0:
            cell = (NOTES, f"=LEN(D{a1})", len(str(grid.rows[r][3])), None)
        elif k % 3 == 1:
            text = f"{grid.rows[r][1]} / {grid.rows[r][2]}"
            cell = (NOTES, f'=B{a1}&" / "&C{a1}', text, None)
        else:
            cell = (PROGRESS, "=45/100", 0.45, pct)
        col, formula, value, fmt = cell
        ws.write_formula(r, col, formula, fmt, value)
        expected[f"{r},{col}"] = value
    wb.close()
    return {"title": grid.title, "formulas": expected}


def _cached_ok(rows: list[Any], expected: dict[str, Any], offset: tuple[int, int] = (0, 0)) -> str:
    """How many formula cells hold their cached result in ``rows`` (a value grid)."""
    good = 0
    for key, want in expected.items():
        r, c = (int(x) for x in key.split(","))
        r, c = r - offset[0], c - offset[1]
        got = rows[r][c] if 0 <= r < len(rows) and 0 <= c < len(rows[r]) else None
        if isinstance(want, str):
            good += got == want
        else:
            good += isinstance(got, int | float) and abs(float(got) - want) < 1e-9
    return f"formula cached results {good}/{len(expected)}"


# ---------------------------------------------------------------------- one operation


def _op_openpyxl_full(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    import openpyxl

    t0 = _start()
    wb = openpyxl.load_workbook(work / "tracker.xlsx", rich_text=False)
    seconds = time.perf_counter() - t0
    return seconds, f"{len(wb[setup['title']]._cells):,} cells"


def _op_backend_read(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    from sync.backends.xlsx import XlsxBackend

    backend = XlsxBackend(work / "tracker.xlsx", worksheet=setup["title"])
    t0 = _start()
    snapshot = backend.read()
    seconds = time.perf_counter() - t0
    return seconds, _cached_ok(snapshot.tracker.rows, setup["formulas"])


def _op_openpyxl_read_only(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    import openpyxl

    t0 = _start()
    wb = openpyxl.load_workbook(
        work / "tracker.xlsx", read_only=True, data_only=True, rich_text=False
    )
    rows = list(wb[setup["title"]].iter_rows(values_only=True))
    wb.close()
    seconds = time.perf_counter() - t0
    return seconds, _cached_ok(rows, setup["formulas"])


def _op_calamine(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        return float("nan"), "not installed"
    t0 = _start()
    sheet = CalamineWorkbook.from_path(str(work / "tracker.xlsx")).get_sheet_by_name(setup["title"])
    rows = sheet.to_python()
    seconds = time.perf_counter() - t0
    return seconds, _cached_ok(rows, setup["formulas"], sheet.start or (0, 0))


def _load_plan(work: Path) -> tuple[Any, Any]:
    with open(work / "plan.pkl", "rb") as fh:
        snapshot, plan = pickle.load(fh)
    return snapshot, plan


def _op_surgical_apply(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    from sync.backends.xlsx import XlsxBackend, _version_of

    snapshot, plan = _load_plan(work)
    copy = work / f"surgical-{os.getpid()}.xlsx"
    shutil.copyfile(work / "tracker.xlsx", copy)
    backend = XlsxBackend(copy, worksheet=setup["title"])
    data = copy.read_bytes()
    version = _version_of(copy, data)
    backend._loaded = (version, data)  # what read() keeps, without its openpyxl load
    snapshot = dataclasses.replace(snapshot, version=version.token, target=str(copy))
    del data
    t0 = _start()
    backend.apply(snapshot, plan)
    seconds = time.perf_counter() - t0
    size = copy.stat().st_size
    copy.unlink()
    return seconds, f"{plan.cell_count:,} cells, output {size / 2**20:.1f} MiB"


def _op_apply_plan(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    from sync.backends.xlsx import META_SHEET
    from sync.backends.xlsx_package import apply_plan
    from sync.style import GENERATED_HEADER_FILL

    snapshot, plan = _load_plan(work)
    data = (work / "tracker.xlsx").read_bytes()
    t0 = _start()
    out = apply_plan(
        data,
        plan,
        snapshot.conditional_formats,
        header_fill=GENERATED_HEADER_FILL,
        meta_title=META_SHEET,
    )
    seconds = time.perf_counter() - t0
    return seconds, f"output {len(out) / 2**20:.1f} MiB"


def _op_openpyxl_save(work: Path, setup: dict[str, Any]) -> tuple[float, str]:
    """The writer the backend had before the surgical one (its apply, minus the rules)."""
    import openpyxl
    from openpyxl.chart import BarChart, LineChart, PieChart, Reference
    from openpyxl.styles import Font, PatternFill

    from sync.backends.xlsx import META_SHEET, set_text_safe
    from sync.cells import col_letter
    from sync.style import GENERATED_HEADER_FILL

    _, plan = _load_plan(work)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(work / "tracker.xlsx", rich_text=False)
    out = work / f"openpyxl-{os.getpid()}.xlsx"
    t0 = _start()  # the loaded workbook is the old writer's starting point
    ws = wb[plan.tracker_title]
    header_cells = set(plan.header_cells)
    for col, series in plan.cells.items():
        for r, value in zip(series.index.tolist(), series.tolist(), strict=True):
            cell = ws.cell(row=r + 1, column=col + 1)
            set_text_safe(cell, value)
            if (r, col) in header_cells:
                cell.font = Font(bold=True)
                cell.fill = PatternFill("solid", fgColor=GENERATED_HEADER_FILL)
    tab = plan.summary
    if tab is not None:
        if tab.title in wb.sheetnames:
            index = wb.sheetnames.index(tab.title)
            del wb[tab.title]
        else:
            index = wb.sheetnames.index(ws.title) + 1
        sws = wb.create_sheet(tab.title, index)
        for r, row in enumerate(tab.rows):
            for c, value in enumerate(row):
                if value is not None:
                    cell = sws.cell(row=r + 1, column=c + 1)
                    set_text_safe(cell, value)
                    if r in tab.bold_rows:
                        cell.font = Font(bold=True)
        for c, w in tab.widths.items():
            sws.column_dimensions[col_letter(c)].width = w
        for spec in tab.charts:
            chart = {"bar": BarChart, "line": LineChart}.get(spec.kind, PieChart)()
            chart.title = spec.title
            col, first, last = spec.values
            chart.add_data(
                Reference(sws, min_col=col + 1, min_row=first + 1, max_row=last + 1),
                titles_from_data=True,
            )
            col, first, last = spec.categories
            chart.set_categories(
                Reference(sws, min_col=col + 1, min_row=first + 1, max_row=last + 1)
            )
            sws.add_chart(chart, f"{col_letter(spec.anchor[1])}{spec.anchor[0] + 1}")
    if plan.meta is not None:
        if META_SHEET in wb.sheetnames:
            del wb[META_SHEET]
        mws = wb.create_sheet(META_SHEET)
        mws.sheet_state = "veryHidden"
        text = json.dumps(plan.meta, ensure_ascii=False, sort_keys=True)
        for i in range(0, max(len(text), 1), 30000):
            set_text_safe(mws.cell(row=i // 30000 + 1, column=1), text[i : i + 30000])
    with open(out, "wb") as fh:
        wb.save(fh)
        fh.flush()
        os.fsync(fh.fileno())
    seconds = time.perf_counter() - t0
    size = out.stat().st_size
    out.unlink()
    return seconds, f"{plan.cell_count:,} cells, output {size / 2**20:.1f} MiB"


def child(op: str, work: Path) -> dict[str, Any]:
    setup = json.loads((work / "setup.json").read_text(encoding="utf-8"))
    run = globals()[f"_op_{op}"]
    _BASELINE.clear()
    seconds, note = run(work, setup)
    peak = _maxrss_mib()
    added = peak - _BASELINE[0] if _BASELINE else float("nan")
    return {"op": op, "seconds": seconds, "peak_rss_mb": peak, "added_rss_mb": added, "note": note}


# ---------------------------------------------------------------------- untimed steps


def make_plan(work: Path) -> dict[str, Any]:
    """The first run's write plan for the tracker, pickled with its snapshot."""
    from sync.backends.xlsx import XlsxBackend
    from sync.pipeline import plan_run
    from sync.rules import load_rules, shipped_rules_dir

    setup = json.loads((work / "setup.json").read_text(encoding="utf-8"))
    snapshot = XlsxBackend(work / "tracker.xlsx", worksheet=setup["title"]).read()
    t0 = time.perf_counter()
    result = plan_run(snapshot, load_rules([shipped_rules_dir()]), as_of=AS_OF, now=NOW)
    seconds = time.perf_counter() - t0
    with open(work / "plan.pkl", "wb") as fh:
        pickle.dump((snapshot, result.plan), fh, protocol=pickle.HIGHEST_PROTOCOL)
    plan = result.plan
    return {
        "plan_s": seconds,
        "cells": plan.cell_count,
        "columns": len(plan.cells),
        "summary_rows": len(plan.summary.rows) if plan.summary is not None else 0,
    }


def compare(work: Path) -> str:
    """Cells where calamine's values differ from openpyxl read-only's, by kind."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        return "calamine not installed"
    import openpyxl

    setup = json.loads((work / "setup.json").read_text(encoding="utf-8"))
    path = work / "tracker.xlsx"
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True, rich_text=False)
    ref = [list(r) for r in wb[setup["title"]].iter_rows(values_only=True)]
    wb.close()
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(setup["title"])
    got = sheet.to_python()
    r0, c0 = sheet.start or (0, 0)
    kinds: Counter[str] = Counter()
    example: dict[str, str] = {}
    cells = 0
    for r in range(max(len(ref), len(got) + r0)):
        a = ref[r] if r < len(ref) else []
        b = got[r - r0] if 0 <= r - r0 < len(got) else []
        for c in range(max(len(a), len(b) + c0)):
            x = a[c] if c < len(a) else None
            y = b[c - c0] if 0 <= c - c0 < len(b) else ""
            cells += 1
            if x is None and y == "":
                continue  # calamine's empty cell
            if x == y and type(x) is type(y):
                continue
            kind = f"{type(x).__name__}->{type(y).__name__}"
            if x == y:
                kind += " (equal)"
            kinds[kind] += 1
            example.setdefault(kind, f"{x!r} vs {y!r}")
    if not kinds:
        return f"calamine == openpyxl read-only in all {cells:,} cells"
    parts = [f"{k}: {v:,} (e.g. {example[k]})" for k, v in kinds.most_common()]
    return "calamine vs openpyxl read-only, cells differing: " + "; ".join(parts)


# ---------------------------------------------------------------------- driver


def _spawn(*args: str) -> Any:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(n: int, repeat: int, work: Path) -> dict[str, Any]:
    # every step runs in a child: Linux carries a parent's RSS high-water mark into a child it
    # forks and execs, so the parent must stay small for the children's ru_maxrss to be theirs
    info: dict[str, Any] = {"rows": n}
    info |= _spawn("--step", "build", "--work", str(work), "--rows", str(n))
    info |= _spawn("--step", "plan", "--work", str(work))
    ops = []
    for op, label in OPERATIONS:
        runs = [_spawn("--step", op, "--work", str(work)) for _ in range(repeat)]
        ops.append(
            {
                "op": op,
                "label": label,
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "added_rss_mb": max(r["added_rss_mb"] for r in runs),
                "note": runs[-1]["note"],
            }
        )
        print(f"  {n:,} rows: {label} done", file=sys.stderr)
    info["compare"] = _spawn("--step", "compare", "--work", str(work))
    info["operations"] = ops
    return info


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", default="10000,100000", help="comma-separated task row counts")
    ap.add_argument("--repeat", type=int, default=1, help="runs per operation (median reported)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        if args.step == "build":
            t0 = time.perf_counter()
            setup = build(args.work / "tracker.xlsx", int(args.rows))
            built = time.perf_counter() - t0
            text = json.dumps(setup, ensure_ascii=False)
            (args.work / "setup.json").write_text(text, encoding="utf-8")
            size = (args.work / "tracker.xlsx").stat().st_size / 2**20
            print(
                json.dumps(
                    {"file_mb": size, "build_s": built, "formula_cells": len(setup["formulas"])}
                )
            )
        elif args.step == "plan":
            print(json.dumps(make_plan(args.work)))
        elif args.step == "compare":
            print(json.dumps(compare(args.work)))
        else:
            print(json.dumps(child(args.step, args.work)))
        return
    results = []
    for n in (int(s) for s in args.rows.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench_xlsx.") as tmp:
            results.append(measure(n, args.repeat, Path(tmp)))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        report(results)


def report(results: list[dict[str, Any]]) -> None:
    """Each size's file, plan and calamine check, then the Markdown table."""
    for r in results:
        print(
            f"{r['rows']:,} task rows: {r['file_mb']:.1f} MiB file (built in {r['build_s']:.1f} s), "
            f"{r['formula_cells']} formula cells; first-run plan: {r['cells']:,} cells in "
            f"{r['columns']} columns + {r['summary_rows']}-row summary (planned in {r['plan_s']:.1f} s)"
        )
        print(f"  {r['compare']}")
    print()
    print("| rows | operation | seconds | peak RSS (MiB) | +RSS (MiB) | notes |")
    print("|---:|---|---:|---:|---:|---|")
    for r in results:
        for o in r["operations"]:
            skipped = o["seconds"] != o["seconds"]  # NaN: not run
            secs = "—" if skipped else f"{o['seconds']:.2f}"
            added = "—" if skipped else f"{o['added_rss_mb']:.0f}"
            print(
                f"| {r['rows']:,} | {o['label']} | {secs} | {o['peak_rss_mb']:.0f} "
                f"| {added} | {o['note']} |"
            )


if __name__ == "__main__":
    main()

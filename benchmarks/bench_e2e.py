"""End to end on .xlsx: ``tracker-sync run`` against the script a user would write by hand.

Usage::

    python benchmarks/bench_e2e.py                          # 100, 1k, 10k rows, 5 runs each
    python benchmarks/bench_e2e.py --rows 100,1000 --repeat 3

For each size N the synthetic tracker of ``bench_xlsx.py`` (a title row, the header, N messy
task rows, percent and date formats, 50 formula cells) is written once; every timed run is a
fresh process (interpreter start and imports included, as a user pays them), wall-clock:

``tracker-sync run``
  * **first run**: a fresh copy of the tracker and an empty run store (every task new: IDs,
    generated columns, highlights, the summary and metadata tabs all written);
  * **no change**: the tracker as the first run left it, run again (reads, computes every
    stage, finds nothing to write; a copy of the tracker and of the store per repeat);
  * **no change again**: one more run on the tracker and store the no-change run left (the
    same content, day, config and rules as that quiet run: it stops after the read and is
    recorded as unchanged — ``sync.unchanged``);
  * **1 % edits**: the first run's result with the progress of 1 % of the tasks set to 37 %
    (untimed; the cells edited in the sheet's XML, nothing else touched), run from that same
    state each time (a copy of the tracker and of the store per repeat).

hand-written scripts (written into the work directory by this benchmark, then run)
  * **pandas + python-calamine**: ``pd.read_excel(engine="calamine", header=1)``, planned %
    from the planned dates, deviation = progress - planned %, a status (completed / delayed /
    on track), the three columns written back with ``DataFrame.to_excel`` to a new file;
  * **pandas + openpyxl**: the same with ``engine="openpyxl"``.

The scripts do far less (no validation, no messy-cell parsing, no history, no summary, no
highlights, a new file instead of the user's) — the ratio is how tracker-sync's whole run
compares with that minimum. Prints min / median / max seconds per cell and the ratio of the
medians (tracker-sync / pandas + calamine), then the median CPU seconds (user + system of the
process) and their ratio — steadier than wall time when other jobs share the machine;
``--json`` prints the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_xlsx import AS_OF, build  # noqa: E402

BIN = Path(sys.executable).parent
TODAY = AS_OF.isoformat()

SCRIPT = '''\
"""Hand-written: planned %, deviation and status from the tracker, written back (pandas)."""
import sys

import numpy as np
import pandas as pd

src, dst, engine = sys.argv[1], sys.argv[2], sys.argv[3]
today = pd.Timestamp("{today}")
df = pd.read_excel(src, engine=engine, header=1)
start = pd.to_datetime(df["计划开始时间"], errors="coerce")
finish = pd.to_datetime(df["计划完成时间"], errors="coerce")
progress = pd.to_numeric(df["当前进度（％）"], errors="coerce")
progress = progress.where(progress > 1, progress * 100)  # 0.6 in a percent cell is 60 %
span = (finish - start).dt.days.clip(lower=1)
planned = ((today - start).dt.days / span).clip(0, 1) * 100
df["planned %"] = planned.round(1)
df["deviation"] = (progress - planned).round(1)
df["status"] = np.select(
    [progress >= 100, df["deviation"] < -10], ["completed", "delayed"], "on track"
)
df.to_excel(dst, index=False)
'''

CONFIG = """\
tracker:
  backend: xlsx
  path: tracker.xlsx
history:
  path: history.sqlite
"""

#: (key, label) in the order they print.
CASES = [
    ("first", "tracker-sync run: first run"),
    ("nochange", "tracker-sync run: no change"),
    ("skipped", "tracker-sync run: no change again (stops after the read)"),
    ("edits", "tracker-sync run: 1 % edits"),
    ("calamine", "pandas + python-calamine script"),
    ("openpyxl", "pandas + openpyxl script"),
]


#: CPU seconds (user + system) of each timed process, by case: steadier than wall time when
#: other jobs share the machine
CPU: dict[str, list[float]] = {}


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _timed(cmd: list[str], cwd: Path, expect: str | None = None, case: str = "") -> float:
    t0, c0 = time.perf_counter(), _cpu()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    CPU.setdefault(f"{case}", []).append(_cpu() - c0)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    if expect is not None and expect not in done.stdout:
        raise SystemExit(f"{' '.join(cmd)} did not say {expect!r}:\n{done.stdout[-2000:]}")
    return elapsed


def _run_cmd() -> list[str]:
    return [str(BIN / "tracker-sync"), "run", "-c", "config.yaml", "--today", TODAY, "--no-notify"]


def _edit_progress(path: Path, n: int) -> int:
    """Set the progress of 1 % of the tasks (at least one) to 37 % in place, as a person would
    in Excel: only those cells change (the sheet's XML edited in the package; openpyxl would
    rewrite the workbook and drop the formulas' cached results). Returns how many."""
    count = max(1, n // 100)
    every = max(1, n // count)
    with zipfile.ZipFile(path) as z:
        parts = {info: z.read(info.filename) for info in z.infolist()}
    for info, data in parts.items():
        if info.filename == "xl/worksheets/sheet1.xml":  # the tracker tab (written first)
            xml = data.decode("utf-8")
            for k in range(count):
                ref = f"J{3 + k * every}"  # below the title and header rows
                cell = re.compile(f'<c r="{ref}"(?: [^>]*)?(?:/>|>.*?</c>)')
                xml, found = cell.subn(f'<c r="{ref}"><v>37</v></c>', xml, count=1)
                assert found == 1, ref
            parts[info] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts.items():
            z.writestr(info, data)
    return count


def measure(n: int, repeat: int, work: Path) -> dict[str, Any]:
    base = work / f"base-{n}.xlsx"
    build(base, n)
    (work / "handwritten.py").write_text(SCRIPT.format(today=TODAY), encoding="utf-8")
    times: dict[str, list[float]] = {key: [] for key, _ in CASES}

    def fresh(name: str) -> Path:
        d = work / f"{name}-{n}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        (d / "config.yaml").write_text(CONFIG, encoding="utf-8")
        shutil.copy(base, d / "tracker.xlsx")
        return d

    for _ in range(repeat):
        d = fresh("first")
        times["first"].append(_timed(_run_cmd(), d, case="first"))
    synced = d  # the last first run: its tracker and store are the steady state
    settled = work / f"nochange-{n}"
    for _ in range(repeat):
        shutil.rmtree(settled, ignore_errors=True)
        shutil.copytree(synced, settled)
        times["nochange"].append(_timed(_run_cmd(), settled, case="nochange"))
    for _ in range(repeat):
        times["skipped"].append(
            _timed(_run_cmd(), settled, expect="unchanged since run", case="skipped")
        )
    edited = fresh("edited")
    _timed(_run_cmd(), edited)
    _edit_progress(edited / "tracker.xlsx", n)
    for _ in range(repeat):
        d = work / f"edits-{n}"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(edited, d)
        times["edits"].append(_timed(_run_cmd(), d, case="edits"))
    script = str(work / "handwritten.py")
    for engine in ("calamine", "openpyxl"):
        for _ in range(repeat):
            out = work / f"out-{engine}-{n}.xlsx"
            times[engine].append(
                _timed([sys.executable, script, str(base), str(out), engine], work, case=engine)
            )
    cpu = {key: CPU.pop(key) for key, _ in CASES}
    CPU.clear()
    return {"rows": n, "times": times, "cpu": cpu}


def report(results: list[dict[str, Any]]) -> None:
    print(
        "| rows | run | min (s) | median (s) | max (s) | ÷ pandas + calamine (median) "
        "| CPU median (s) | ÷ pandas + calamine (CPU) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        ref = statistics.median(r["times"]["calamine"])
        ref_cpu = statistics.median(r["cpu"]["calamine"])
        for key, label in CASES:
            t = r["times"][key]
            med = statistics.median(t)
            cpu = statistics.median(r["cpu"][key])
            print(
                f"| {r['rows']:,} | {label} | {min(t):.2f} | {med:.2f} | {max(t):.2f} "
                f"| {med / ref:.2f} | {cpu:.2f} | {cpu / ref_cpu:.2f} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", default="100,1000,10000", help="comma-separated task-row counts")
    ap.add_argument("--repeat", type=int, default=5, help="runs per cell (min/median/max)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        results = [measure(int(s), args.repeat, Path(tmp)) for s in args.rows.split(",")]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        report(results)


if __name__ == "__main__":
    main()

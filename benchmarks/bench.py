"""Time the pure pipeline (parse → validate → compute → summarize → render/diff) on synthetic trackers.

Usage::

    python benchmarks/bench.py                      # 10k, 100k, 500k rows
    python benchmarks/bench.py --sizes 10000 --repeat 5
    python benchmarks/bench.py --profile 100000     # cProfile of one first run's pipeline

Each size runs in its own process so that peak RSS (ru_maxrss) belongs to that size alone.
The synthetic tracker is built before the clock starts; the snapshot it stands for is what a
backend would have read. The ids+history stage is timed for a first run (every task new); the
last column times it again for a steady-state run (every task known and unchanged). Prints a Markdown table (median of --repeat runs per stage). ``--cpu`` times CPU seconds instead
of wall-clock seconds (for a machine other jobs share).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

STAGES = ["parse", "ids+history", "validate", "compute", "summarize", "render+diff"]


def child(
    n: int,
    repeat: int,
    profile: cProfile.Profile | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, object]:
    from synth import synthetic_grid

    from sync.checks import Context
    from sync.compute import compute
    from sync.model import Grid, Snapshot
    from sync.parse import parse
    from sync.plan import diff
    from sync.render import render
    from sync.rules import load_rules, shipped_rules_dir
    from sync.summarize import summarize
    from sync.timeline import HistoryView, resolve_ids, step
    from sync.validate import validate

    ruleset = load_rules([shipped_rules_dir()])
    as_of = dt.date(2026, 6, 15)
    now = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
    base = synthetic_grid(n)
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    totals: list[float] = []
    steady: list[float] = []
    rss: float | None = None
    findings = cells = 0
    for _ in range(repeat):
        grid = Grid(base.title, base.rows, base.percent_cells)  # fresh: no cached frame
        snapshot = Snapshot("bench", grid, (grid.title,))
        if profile is not None:
            profile.enable()
        t0 = clock()
        parsed = parse(grid, ruleset, as_of)
        t1 = clock()
        view = HistoryView()  # a first run: every task is new (the most work)
        ids = resolve_ids(parsed, view)
        table = parsed.with_history(ids, step(view, parsed, ids, as_of, now).columns)
        t2 = clock()
        found = validate(table, ruleset, Context(as_of))
        t3 = clock()
        derived = compute(table, as_of)
        t4 = clock()
        summary = summarize(table, derived, found, as_of)
        t5 = clock()
        desired = render(
            table,
            derived,
            found,
            summary,
            tracker_title=grid.title,
            summary_title="S",
            target="bench",
            locale="zh-CN",
            now=now,
        )
        plan = diff(snapshot, desired)
        t6 = clock()
        if profile is not None:
            profile.disable()
            profile = None  # the first run only
        marks = [t0, t1, t2, t3, t4, t5, t6]
        for stage, a, b in zip(STAGES, marks[:-1], marks[1:], strict=True):
            times[stage].append(b - a)
        totals.append(t6 - t0)
        findings, cells = len(found), plan.cell_count
        if rss is None:  # the pipeline's high-water mark, before the steady-state extra below
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # a steady-state run: every task known, its ID in the sheet, nothing changed
        first = step(view, parsed, ids, as_of, now)
        known = HistoryView(states=first.states, max_id=len(ids))
        again = dataclasses.replace(parse(grid, ruleset, as_of), ids=ids)
        t7 = clock()
        ids2 = resolve_ids(again, known)
        again.with_history(
            ids2, step(known, again, ids2, as_of, now + dt.timedelta(minutes=10)).columns
        )
        steady.append(clock() - t7)
        del (
            parsed,
            table,
            found,
            derived,
            summary,
            desired,
            plan,
            grid,
            snapshot,
            first,
            known,
            again,
        )
    return {
        "rows": n,
        "stages": {s: statistics.median(v) for s, v in times.items()},
        "total": statistics.median(totals),
        "steady_history": statistics.median(steady),
        "findings": findings,
        "cells": cells,
        "peak_rss_mb": rss,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10000,100000,500000", help="comma-separated row counts")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size (median reported)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument(
        "--profile",
        type=int,
        metavar="ROWS",
        help="profile one first run's pipeline at ROWS rows (cProfile) and print the top functions",
    )
    ap.add_argument("--top", type=int, default=25, help="functions --profile prints")
    ap.add_argument(
        "--cpu",
        action="store_true",
        help="time the stages in CPU seconds of the process (steadier than wall time on a "
        "machine other jobs share; the pipeline is single-threaded, so on a quiet machine the two "
        "agree)",
    )
    args = ap.parse_args()
    if args.profile:
        prof = cProfile.Profile()
        child(args.profile, 1, prof)
        for order in ("cumulative", "tottime"):
            pstats.Stats(prof).strip_dirs().sort_stats(order).print_stats(args.top)
        return
    if args.child:
        clock = time.process_time if args.cpu else time.perf_counter
        print(json.dumps(child(args.child, args.repeat, clock=clock)))
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--repeat", str(args.repeat)]
            + (["--cpu"] if args.cpu else []),
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        "| rows | "
        + " | ".join(STAGES)
        + " | total (s) | peak RSS (MB) | findings | cells planned | ids+history, steady state |"
    )
    print("|---:|" + "---:|" * (len(STAGES) + 5))
    for r in results:
        stages = r["stages"]
        cols = " | ".join(f"{stages[s]:.2f}" for s in STAGES)
        print(
            f"| {r['rows']:,} | {cols} | **{r['total']:.2f}** | {r['peak_rss_mb']:.0f} | {r['findings']:,} "
            f"| {r['cells']:,} | {r['steady_history']:.2f} |"
        )


if __name__ == "__main__":
    main()

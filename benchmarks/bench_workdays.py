"""What working-day maths costs: the stages that count days, with ``calendar.country: none``
(calendar days) and with the default ``CN`` calendar (调休 included), on one synthetic tracker.

Usage::

    python benchmarks/bench_workdays.py                 # 100k rows, best of 7
    python benchmarks/bench_workdays.py --rows 500000 --repeat 3

Prints a Markdown table: per stage the CPU seconds (process time: less disturbed than wall time
by other work on a shared machine), best of ``--repeat`` runs, without and with the calendar,
and the difference (what the calendar costs). Building the calendar (the holidays package's
China calendar for the years the tasks span) is its own row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """CPU seconds: less disturbed than wall time by other work on a shared machine."""
    from synth import best_of

    return best_of(fn, repeat, time.process_time)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()

    from synth import synthetic_grid

    from sync.checks import Context
    from sync.compute import compute
    from sync.parse import parse
    from sync.pipeline import _weights
    from sync.rules import load_rules, shipped_rules_dir
    from sync.timeline import HistoryView, resolve_ids, step
    from sync.validate import validate
    from sync.workdays import CalendarConfig, build, calendar_days

    ruleset = load_rules([shipped_rules_dir()])
    as_of = dt.date(2026, 6, 15)
    now = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
    grid = synthetic_grid(args.rows)
    parsed = parse(grid, ruleset, as_of)
    view = HistoryView()
    ids = resolve_ids(parsed, view)
    table = parsed.with_history(ids, step(view, parsed, ids, as_of, now).columns)
    days = calendar_days(table.data, as_of)
    t_build, cn = timed(lambda: build(CalendarConfig(), days), args.repeat)

    rows: list[tuple[str, float, float]] = []
    for name, fn in (
        (
            "validate (lead time, day-off finish)",
            lambda c: validate(table, ruleset, Context(as_of, calendar=c)),
        ),
        ("compute (planned %, days late)", lambda c: compute(table, as_of, calendar=c)),
        ("roll-up weights", lambda c: _weights(table, c)),
    ):
        # alternate the two so that a busy moment of a shared machine hits both alike
        plain, with_cal = [], []
        for _ in range(args.repeat):
            plain.append(timed(lambda fn=fn: fn(None), 1)[0])
            with_cal.append(timed(lambda fn=fn: fn(cn), 1)[0])
        rows.append((name, min(plain), min(with_cal)))
    findings = {
        c: len(validate(table, ruleset, Context(as_of, calendar=cal)))
        for c, cal in (("none", None), ("CN", cn))
    }

    print(
        f"{args.rows:,} rows, best of {args.repeat}; calendar CN over {sorted(cn.years) if cn else []}\n"
    )
    print("| stage | country: none | country: CN | calendar costs |")
    print("|---|---:|---:|---:|")
    print(f"| build the calendar | — | {t_build:.3f} s | {t_build:+.3f} s |")
    total = t_build
    for name, a, b in rows:
        print(f"| {name} | {a:.3f} s | {b:.3f} s | {b - a:+.3f} s |")
        total += b - a
    print(f"| **total** | | | **{total:+.3f} s** |")
    print(
        f"\nfindings: {findings['none']:,} without the calendar, {findings['CN']:,} with it "
        "(planned finishes on a day off are warnings: validate's difference is mostly their "
        "messages)"
    )


if __name__ == "__main__":
    main()

"""How big the run store gets: a 1,000-row tracker synced every 10 minutes, people editing.

Usage::

    python benchmarks/bench_history.py              # 7 simulated days, projected to a year
    python benchmarks/bench_history.py --days 14 --rows 1000 --edits 3
    python benchmarks/bench_history.py --store 50000,100000   # the store's share of a run

Every run is a real ``tracker-sync run`` (the pure pipeline, an in-memory backend and the real
SQLite store). During working hours (09:00–18:00) each 10-minute run sees ``--edits`` cells
changed (progress, status, risk, remarks); at night nothing changes. Prints the file size per
day and the size a year of runs would take at the same pace.

``--store ROWS`` instead times, in CPU seconds, three runs of a ROWS-row tracker — a first run,
one with 1 % of the rows edited and one with no change (computed in full: the run before it
wrote) — and within each the run store's ``view()`` (the task states and trend the pipeline
gets) and ``record()`` (the run, its snapshot, findings, changed task states and events).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sync.config import Config  # noqa: E402
from sync.history import History  # noqa: E402
from sync.model import Grid  # noqa: E402
from sync.rules import (  # noqa: E402
    TEMPLATE_COLUMNS,
    load_rules,
    shipped_rules_dir,
)
from sync.run import sync  # noqa: E402
from tests.fakes import MemoryBackend  # noqa: E402

COL = {name: i for i, name in enumerate(TEMPLATE_COLUMNS)}


def tracker(rows: int, start: dt.date, rnd: random.Random) -> Grid:
    rs = load_rules([shipped_rules_dir()])
    head = [rs.columns[c].title("zh-CN") for c in TEMPLATE_COLUMNS]
    body = []
    for i in range(rows):
        ps = start + dt.timedelta(days=rnd.randint(-20, 60))
        pf = ps + dt.timedelta(days=rnd.randint(3, 20))
        body.append(
            [
                f"阶段{i % 4 + 1}",
                ["小红书", "抖音", "微博", "B站", "门店"][i % 5],
                f"任务{i}",
                f"完成{i % 9 + 1}篇内容发布 #{i}",
                ["王丽", "张伟", "李娜", "刘洋"][i % 4],
                ps.isoformat(),
                pf.isoformat(),
                ps.isoformat() if ps <= start else "-",
                "-",
                f"{rnd.randint(0, 9) * 10}%" if ps <= start else "0%",
                "进行中" if ps <= start else "未开始",
                "-",
                "-",
                "-",
            ]
        )
    return Grid("进度表", [head, *body])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--edits", type=int, default=3, help="cells edited per working-hours run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", metavar="ROWS", help="comma-separated row counts: the store's cost")
    args = ap.parse_args()
    if args.store:
        print("| rows | run | run (CPU s) | view() | record() | store share | file after |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for n in (int(v) for v in args.store.split(",")):
            store_costs(n, args.seed)
        return
    rnd = random.Random(args.seed)
    start = dt.date(2026, 3, 2)
    backend = MemoryBackend(tracker(args.rows, start, rnd))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.sqlite"
        config = Config.model_validate(
            {"tracker": {"backend": "xlsx", "path": "x.xlsx"}, "history": {"path": str(db)}}
        )
        sizes = []
        runs = 0
        t0 = time.perf_counter()
        for day in range(args.days):
            today = start + dt.timedelta(days=day)
            for slot in range(144):
                now = dt.datetime.combine(today, dt.time(slot // 6, slot % 6 * 10), dt.UTC)
                if 9 <= now.hour < 18:
                    for _ in range(args.edits):
                        r = rnd.randint(1, args.rows)
                        field, value = rnd.choice(
                            [
                                ("progress", f"{rnd.randint(1, 10) * 10}%"),
                                ("status", rnd.choice(["进行中", "已完成", "延期"])),
                                ("risk", rnd.choice(["-", "KOL档期冲突", "物料延期"])),
                                ("remarks", f"更新 {now:%H:%M}"),
                            ]
                        )
                        backend.set(r, COL[field], value)
                        backend.version += 1
                sync(config, as_of=today, backend=backend, now=now)  # type: ignore[arg-type]
                runs += 1
            with sqlite3.connect(db) as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            sizes.append(db.stat().st_size)
            print(f"day {day + 1}: {runs} runs, {sizes[-1] / 1e6:.2f} MB", flush=True)
        elapsed = time.perf_counter() - t0
        per_day = (sizes[-1] - sizes[0]) / max(len(sizes) - 1, 1)
        with sqlite3.connect(db) as con:
            counts = {
                t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "blobs", "task_states", "events")
            }
    print()
    print(
        "| rows | runs/day | edits/run (9–18h) | days simulated | file after | growth/day | projected 1 year |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    year = sizes[0] + per_day * 364
    print(
        f"| {args.rows:,} | 144 | {args.edits} | {args.days} | {sizes[-1] / 1e6:.1f} MB | {per_day / 1e6:.2f} MB | **{year / 1e6:.0f} MB** |"
    )
    print(
        f"\n{runs} runs in {elapsed:.0f} s ({elapsed / runs * 1000:.0f} ms per run); table rows: {counts}"
    )


def store_costs(rows: int, seed: int) -> None:
    """Print the run store's CPU seconds in a first run, a 1 % edit run and a no-change run."""
    rnd = random.Random(seed)
    start = dt.date(2026, 3, 2)
    backend = MemoryBackend(tracker(rows, start, rnd))
    spent: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - t0

        return run

    originals = {name: getattr(History, name) for name in ("view", "record")}
    for name, fn in originals.items():
        setattr(History, name, timed(name, fn))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "history.sqlite"
            config = Config.model_validate(
                {"tracker": {"backend": "xlsx", "path": "x.xlsx"}, "history": {"path": str(db)}}
            )
            for day, label in enumerate(("first run", "1 % edits", "no change")):
                if label == "1 % edits":
                    for r in rnd.sample(range(1, rows + 1), rows // 100):
                        backend.set(r, COL["progress"], f"{rnd.randint(1, 10) * 10}%")
                    backend.version += 1
                spent.clear()
                now = dt.datetime.combine(start + dt.timedelta(days=day), dt.time(9), dt.UTC)
                t0 = time.process_time()
                sync(config, as_of=now.date(), backend=backend, now=now)  # type: ignore[arg-type]
                total = time.process_time() - t0
                view, record = spent.get("view", 0.0), spent.get("record", 0.0)
                print(
                    f"| {rows:,} | {label} | {total:.2f} | {view:.2f} | {record:.2f} "
                    f"| {(view + record) / total:.0%} | {db.stat().st_size / 1e6:.1f} MB |",
                    flush=True,
                )
    finally:
        for name, fn in originals.items():
            setattr(History, name, fn)


if __name__ == "__main__":
    main()

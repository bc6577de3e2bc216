"""How big the run store gets: a 1,000-row tracker synced every 10 minutes, people editing.

Usage::

    python benchmarks/bench_history.py              # 7 simulated days, projected to a year
    python benchmarks/bench_history.py --days 14 --rows 1000 --edits 3

Every run is a real ``tracker-sync run`` (the pure pipeline, an in-memory backend and the real
SQLite store). During working hours (09:00–18:00) each 10-minute run sees ``--edits`` cells
changed (progress, status, risk, remarks); at night nothing changes. Prints the file size per
day and the size a year of runs would take at the same pace.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sync.config import Config  # noqa: E402
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
    args = ap.parse_args()
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
                for t in ("runs", "blobs", "tasks", "events")
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


if __name__ == "__main__":
    main()

"""Feishu / Lark Sheets: requests and bytes per run, against the local Feishu fake.

Usage::

    python benchmarks/bench_feishu.py                       # 1k and 10k task rows
    python benchmarks/bench_feishu.py --rows 1000 --edit-fraction 0.01

For each size N, one synthetic tracker (``benchmarks/synth.py``; its date cells loaded as typed
dates, shown as yyyy/MM/dd) goes through three runs against ``tests/feishu_fake.py`` with the
run store on: the **first run**, **no change**, and **1 % edits** (``--edit-fraction`` of the
task rows get a progress typed as ``60%`` and a matching status, the way a person would). For
each run it prints the requests by kind (reads, writes; the token fetch apart), the bytes sent
and received (HTTP bodies as the fake logged them) and the wall time (fake and client share one
process: compare runs with each other, not with Feishu).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

AS_OF = dt.date(2026, 6, 15)  # synth.synthetic_grid's default "today"
NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
TAB = "推广进度表"
RUNS = ["first run", "no change", "1 % edits"]
READS = {"query", "values_batch_get"}


def measure(n: int, fraction: float, seed: int) -> list[dict[str, Any]]:
    from synth import synthetic_grid

    from sync.config import Config
    from sync.run import sync
    from tests.feishu_fake import Cell, FeishuFake, serial

    os.environ["FEISHU_APP_SECRET"] = "s3cret"
    grid = synthetic_grid(n)
    out: list[dict[str, Any]] = []
    with FeishuFake() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.add_app()
        token = fake.add_spreadsheet(sheets={TAB: []})
        sheet = fake.sheet(token, TAB)
        sheet.rows, sheet.cols = len(grid.rows) + 10, 20
        for r, row in enumerate(grid.rows):
            for c, v in enumerate(row):
                if isinstance(v, dt.datetime | dt.date):
                    day = v.date() if isinstance(v, dt.datetime) else v
                    sheet.cells[(r, c)] = Cell(serial(day), "yyyy/MM/dd")
                elif v is not None and v != "":
                    sheet.cells[(r, c)] = Cell(v if not hasattr(v, "item") else v.item())
        config = Config.model_validate(
            {
                "tracker": {"backend": "feishu", "spreadsheet": token, "worksheet": TAB},
                "feishu": {"app_id": "cli_tracker", "domain": fake.base_url},
                "timezone": "Asia/Shanghai",
                "history": {"path": str(Path(tmp) / "history.sqlite")},
            }
        )
        rng = random.Random(seed)
        for name in RUNS:
            if name == "1 % edits":
                rows = list(range(2, len(grid.rows)))
                for r in rng.sample(rows, max(1, round(len(rows) * fraction))):
                    fake.set_cell(token, TAB, r + 1, 10, "60%")
                    fake.set_cell(token, TAB, r + 1, 11, "进行中")
            fake.requests.clear()
            t0 = time.perf_counter()
            result = sync(config, as_of=AS_OF, now=NOW)
            seconds = time.perf_counter() - t0
            kinds = Counter(r.kind for r in fake.requests if r.kind != "token")
            sent = sum(_size(r.body) for r in fake.requests if r.body and r.kind != "token")
            out.append(
                {
                    "rows": n,
                    "run": name,
                    "read": sum(v for k, v in kinds.items() if k in READS),
                    "write": sum(v for k, v in kinds.items() if k not in READS),
                    "kinds": dict(kinds),
                    "cells": result.applied.cells_written if result.applied else 0,
                    "sent": sent,
                    "seconds": seconds,
                }
            )
    return out


def _size(body: Any) -> int:
    """Bytes of a request body (an upload's file counted as its bytes)."""
    if isinstance(body, dict) and any(isinstance(v, bytes) for v in body.values()):
        return sum(len(v) if isinstance(v, bytes) else len(str(v).encode()) for v in body.values())
    return len(json.dumps(body, ensure_ascii=False).encode())


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | run | requests (read + write) | by kind | cells written | bytes sent | s |",
        "|---:|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["kinds"].items()))
        lines.append(
            f"| {r['rows']:,} | {r['run']} | **{r['read'] + r['write']}** ({r['read']} + {r['write']}) "
            f"| {kinds} | {r['cells']:,} | {r['sent'] / 1024:,.0f} KiB | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,10000")
    parser.add_argument("--edit-fraction", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for n in (int(x) for x in args.rows.split(",")):
        results += measure(n, args.edit_fraction, args.seed)
    print(report(results))


if __name__ == "__main__":
    main()

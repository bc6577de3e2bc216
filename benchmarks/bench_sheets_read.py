"""Google Sheets: the cost of parsing the read's replies, JSON decode (stdlib vs orjson) and
decode into rows, without HTTP.

Usage::

    python benchmarks/bench_sheets_read.py                    # 10k and 100k task rows
    python benchmarks/bench_sheets_read.py --rows 100000 --repeat 5 --read lean

The read is two replies (``sync.backends.gsheets``): ``values:batchGet`` (UNFORMATTED_VALUE,
SERIAL_NUMBER, ROWS) with every value, and ``spreadsheets.get`` with the structure and, per
cell, only the number-format type (``{}`` on unformatted cells, the percent format on the
progress column). The structure reply comes in two shapes: ``full`` (a read without a hint
of the tabs: the format type of every cell of the tracker) and ``lean`` (a read with one: the
tracker's first row, for the column anchors, and its percent columns only, each a data block
of its own, as ``ranges`` makes Google answer). Both are built here as Google sends them for
the synthetic tracker of ``synth.py`` (dates as serial numbers), serialised once; then each is
decoded ``--repeat`` times with ``json.loads`` and, when it is importable, ``orjson.loads``,
and the values turned into the backend's rows (``grid.decode_values`` / ``decode_percent``).
Prints min / median wall and CPU seconds and the reply sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

EPOCH = dt.datetime(1899, 12, 30)


def _serial(v: Any) -> Any:
    """A cell as UNFORMATTED_VALUE / SERIAL_NUMBER gives it ("" for an empty cell)."""
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return (v - EPOCH).total_seconds() / 86400
    if isinstance(v, dt.date):
        return (dt.datetime.combine(v, dt.time()) - EPOCH).days
    return v


def replies(n: int, read: str = "full") -> tuple[bytes, bytes]:
    """(structure reply, values reply) as Sheets would send them for an n-row tracker;
    ``read``: ``full`` (every cell's format type) or ``lean`` (row 1 and the percent columns)."""
    from synth import synthetic_grid

    grid = synthetic_grid(n)
    rows = [[_serial(v) for v in r] for r in grid.rows]
    width = max(map(len, rows))
    pct = {"userEnteredFormat": {"numberFormat": {"type": "PERCENT"}}}
    if read == "full":
        data = [
            {
                "rowData": [
                    {
                        "values": [
                            pct if (r, c) in grid.percent_cells else {} for c in range(len(row))
                        ]
                    }
                    for r, row in enumerate(rows)
                ]
            }
        ]
    else:
        cols = sorted({c for _, c in grid.percent_cells})
        data = [{"rowData": [{"values": [{} for _ in rows[0]]}]}] + [
            {
                "startColumn": c,
                "rowData": [
                    {"values": [pct]} if (r, c) in grid.percent_cells else {}
                    for r in range(len(rows))
                ],
            }
            for c in cols
        ]
    structure = {
        "spreadsheetId": "bench",
        "properties": {"title": "bench", "locale": "zh_CN", "timeZone": "Asia/Shanghai"},
        "sheets": [
            {
                "properties": {
                    "sheetId": 0,
                    "title": grid.title,
                    "index": 0,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": len(rows), "columnCount": width},
                },
                "data": data,
            }
        ],
    }
    values = {"valueRanges": [{"range": f"'{grid.title}'!A1:V{len(rows)}", "values": rows}]}
    dump = json.dumps  # what Google sends: compact UTF-8 JSON
    return (
        dump(structure, ensure_ascii=False, separators=(",", ":")).encode(),
        dump(values, ensure_ascii=False, separators=(",", ":")).encode(),
    )


def _times(fn: Callable[[], Any], repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each call: on a shared machine the CPU time is the steadier."""
    out = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def measure(n: int, repeat: int, read: str) -> list[tuple[str, list[tuple[float, float]]]]:
    structure, values = replies(n, read)
    print(
        f"{n:,} rows, {read} read: structure reply {len(structure) / 1e6:.2f} MB, "
        f"values reply {len(values) / 1e6:.1f} MB"
    )
    decoders: dict[str, Callable[[bytes], Any]] = {"json": json.loads}
    try:
        import orjson  # type: ignore[import-not-found]

        decoders["orjson"] = orjson.loads
    except ImportError:
        print("  (orjson not installed: only the stdlib json is timed)")
    out: list[tuple[str, list[tuple[float, float]]]] = []
    for name, loads in decoders.items():
        for part, body in (("structure", structure), ("values", values)):
            timed = _times(lambda f=loads, b=body: f(b), repeat)  # type: ignore[misc]
            out.append((f"{read}: {name}: {part} reply", timed))
    try:
        from sync.backends.gsheets.grid import decode_percent, decode_values
    except ImportError:
        return out
    s_doc, v_doc = json.loads(structure), json.loads(values)
    tracker = s_doc["sheets"][0]

    def decode() -> None:
        rows = decode_values(v_doc["valueRanges"][0])
        decode_percent(tracker, rows)

    out.append((f"{read}: decode_values + decode_percent", _times(decode, repeat)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", default="10000,100000", help="comma-separated task-row counts")
    ap.add_argument("--repeat", type=int, default=3, help="decodes per cell (min / median)")
    ap.add_argument(
        "--read", choices=("full", "lean", "both"), default="both", help="structure reply shape"
    )
    args = ap.parse_args()
    print("| rows | step | wall min (s) | wall median (s) | CPU min (s) | CPU median (s) |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in args.rows.split(","):
        n = int(size)
        for read in ("full", "lean") if args.read == "both" else (args.read,):
            rows = measure(n, args.repeat, read)
            for label, t in rows:
                wall, cpu = [w for w, _ in t], [c for _, c in t]
                print(
                    f"| {n:,} | {label} | {min(wall):.3f} | {statistics.median(wall):.3f} "
                    f"| {min(cpu):.3f} | {statistics.median(cpu):.3f} |"
                )
            # what the backend pays: stdlib json on both replies, then the decode into rows
            parts = [t for label, t in rows if ": json: " in label or "decode_" in label]
            wall = sum(statistics.median(w for w, _ in t) for t in parts)
            cpu = sum(statistics.median(c for _, c in t) for t in parts)
            print(f"| {n:,} | **{read}: total (json)** | | **{wall:.3f}** | | **{cpu:.3f}** |")


if __name__ == "__main__":
    main()

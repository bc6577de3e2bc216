"""Google Sheets: requests, bytes and the largest request per run, against the local Sheets fake.

Usage::

    python benchmarks/bench_sheets.py                        # 1k, 10k, 50k, 100k task rows
    python benchmarks/bench_sheets.py --rows 1000,10000 --edit-fraction 0.01 --seed 7

For each size N (each in its own process), against the local Sheets API fake
(``tests/sheets_fake.py``: real gspread + google-auth over HTTP on 127.0.0.1; it refuses any
request over Google's 10 MB, as Google does), with the run store on (IDs follow their tasks by
what it remembers) and the default ``google.*`` settings (30 s time-out, 2 MB requests), one
tracker goes through six runs in a row:

1. **first run** -- an N-row synthetic tracker (``benchmarks/synth.py``) never synced;
2. **no change** -- the same again (every stage computed: ``sync``);
   **no change again** -- the same once more as ``run`` does it (``sync_or_skip``): the
   values alone are read, they repeat the quiet run's, and the run stops there;
3. **1 % edits** -- ``--edit-fraction`` of the task rows edited the way a person would
   (progress typed as ``60%`` and a matching status); some reach ``100%``, which Sheets stores
   as a 1 in a cell it formats as a percentage: in a cell that was not one, only the structure
   read can tell it from a 1 typed there (see ``sync/backends/gsheets/structure.py``);
   **1 % edits, none to 100 %** -- as many other edits, none reaching 100 %;
4. **row insert** -- a person inserts a new task row in the middle;
5. **row delete** -- a person deletes a task row in the middle;
6. **human-columns sort** -- a person selects the human columns only (A:N) and sorts them by
   task, leaving the ⚙ columns where they were (so every ID sits beside another task until the
   run puts it back).

For each run it prints the requests (read + write), the bytes of the read replies (and their
ratio to the tabs' size as CSV), the bytes sent (request bodies), the largest request body,
the bytes received and the wall time, and after the sort how many IDs are back beside their
own tasks, and whether every request stayed within ``google.max_request_bytes``. Bytes are HTTP bodies as the fake logged
them (OAuth token requests excluded). Wall times are for a fake served by the same process (two
threads sharing one GIL): compare them with each other, not with Google. By default the fake's
copy-on-write of the whole spreadsheet per write request (its emulation of atomic writes, O(sheet
size) per request) is switched off; ``--atomic-fake`` keeps it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

AS_OF = dt.date(2026, 6, 15)  # synth.synthetic_grid's default "today"
NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)
TIME_ZONE = "Asia/Shanghai"
RUNS = [
    "first run",
    "no change",
    "no change again",
    "1 % edits",
    "1 % edits, none to 100 %",
    "row insert",
    "row delete",
    "human-columns sort",
]
NEW_TASK = [
    "预热期(第3-4周)",
    "小红书",
    "新增任务",
    "新增的任务：补拍一组产品图",
    "张伟",
    "2026-06-01",
    "2026-06-20",
    "-",
    "-",
    "30%",
    "进行中",
    "-",
    "-",
    "-",
]


def _traffic(fake: Any) -> dict[str, Any]:
    """What the fake logged since its last ``reset_log()``, OAuth token requests excluded."""
    from tests.sheets_fake import kind_matches

    recs = [r for r in fake.requests if r.kind != "token"]
    reads = [r for r in recs if kind_matches("read", r.kind)]
    return {
        "read": len(reads),
        "write": sum(1 for r in recs if kind_matches("write", r.kind)),
        "read_bytes": sum(r.response_size for r in reads),
        "bytes_sent": sum(r.body_size for r in recs),
        "bytes_received": sum(r.response_size for r in recs),
        "largest_request": max((r.body_size for r in recs), default=0),
        "failed": sum(1 for r in recs if r.status is None or r.status >= 400),
    }


def _csv_bytes(fake: Any, key: str) -> int:
    """The spreadsheet's tabs as CSV (UTF-8), the yardstick of the read's size."""
    import csv
    import io

    text = io.StringIO()
    for tab in fake.sheet_titles(key):
        csv.writer(text).writerows(fake.values(key, tab))
    return len(text.getvalue().encode())


def _person_edits(
    result: Any, fraction: float, rng: random.Random, *, finish: bool = True
) -> list[tuple[int, str, str]]:
    """(sheet row, progress as typed, status as typed) for ``fraction`` of the task rows: progress
    moves forward by 10-50 points (a finished task is reopened at 80 %), status follows.
    ``finish=False``: no task reaches 100 % (it stops at 95 %)."""
    import pandas as pd

    table = result.table
    rows = [int(r) for r in table.rows]
    k = min(len(rows), max(1, round(len(rows) * fraction)))
    edits = []
    for row in sorted(rng.sample(rows, k)):
        p = table.data.at[row, "progress"]
        if pd.isna(p):
            new = 30
        elif float(p) >= 100:
            new = 80
        else:
            new = min(100 if finish else 95, int(float(p) // 5 * 5) + rng.choice([10, 20, 30, 50]))
        edits.append((row, f"{new}%", "已完成" if new == 100 else "进行中"))
    return edits


def _ids_by_task(values: list[list[Any]]) -> dict[tuple[Any, ...], Any]:
    """Each task's ⚙ 任务ID by its phase, channel and description (the identity the job
    re-matches IDs by), for tasks whose three cells are unique."""
    head = next(r for r in values if "⚙ 任务ID" in r)
    col = head.index("⚙ 任务ID")
    rows = values[values.index(head) + 1 :]
    keys = [(r[0], r[1], r[3]) for r in rows]
    seen: dict[tuple[Any, ...], int] = {}
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
    return {
        k: (r[col] if col < len(r) else None)
        for k, r in zip(keys, rows, strict=True)
        if seen[k] == 1
    }


def child(n: int, fraction: float, seed: int, atomic_fake: bool, timeout: float) -> dict[str, Any]:
    from synth import HEADER, synthetic_grid

    from sync.backends.gsheets import SheetsBackend
    from sync.cells import col_letter
    from sync.config import Config
    from sync.run import sync, sync_or_skip
    from tests import sheets_fake
    from tests.sheets_fake import SheetsFake

    if not atomic_fake:
        # Writes mutate in place instead of on a deep copy of the whole spreadsheet.
        sheets_fake._Spreadsheet.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]

    out: dict[str, Any] = {"rows": n, "runs": {}}
    grid = synthetic_grid(n, today=AS_OF, seed=seed)
    tab = grid.title
    percent = {f"{col_letter(c)}{r + 1}": "PERCENT" for r, c in grid.percent_cells}
    with SheetsFake() as fake, tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        key = fake.add_spreadsheet(
            title="Launch",
            sheets={tab: grid.rows},
            time_zone=TIME_ZONE,
            number_formats={tab: percent},
        )
        out["load_s"] = time.perf_counter() - t0
        sa = fake.write_service_account(Path(tmp) / "sa.json")
        config = Config.model_validate(
            {
                "tracker": {"backend": "gsheets", "spreadsheet": key, "worksheet": tab},
                "google": {
                    "credentials": str(sa),
                    "api_endpoint": fake.api_endpoint,
                    "timeout": timeout,
                },
                "history": {"path": str(Path(tmp) / "history.sqlite")},
            }
        )
        out["budget"] = config.google.max_request_bytes

        def backend() -> SheetsBackend:
            return SheetsBackend(
                key,
                worksheet=tab,
                summary_title=config.summary_title(),
                google=config.google,
                credentials_path=sa,
                sleep=lambda s: None,
            )

        def run(label: str, *, skip: bool = False) -> Any:
            b = backend()
            b.client  # noqa: B018 -- the token request, before the count starts
            csv_bytes = _csv_bytes(fake, key)  # what the run's read reads
            fake.reset_log()
            start = time.perf_counter()
            try:
                go = sync_or_skip if skip else sync
                result = go(config, as_of=AS_OF, backend=b, now=NOW)
            except Exception as exc:  # a run that fails is a result too (say, a time-out)
                result = None
                error = f"{exc.__class__.__name__}: {exc}"
            traffic = _traffic(fake) | {"seconds": time.perf_counter() - start}
            traffic["csv_bytes"] = csv_bytes
            traffic["reported"] = dict(result.requests) if result is not None else None
            if result is None:
                traffic["error"] = error
            out["runs"][label] = traffic
            print(
                f"  {n:,} rows: {label}: {traffic['read']} + {traffic['write']} requests, "
                f"{traffic['seconds']:.1f} s" + (f", FAILED: {error}" if result is None else ""),
                file=sys.stderr,
            )
            return result

        first = run("first run")
        if first is None:
            out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            return out
        run("no change")
        run("no change again", skip=True)

        edits = _person_edits(first, fraction, random.Random(seed))
        prog_col = first.table.positions["progress"] + 1
        status_col = first.table.positions["status"] + 1
        for row, progress, status in edits:
            fake.set_cell(key, tab, row, prog_col, progress, user_entered=True)
            fake.set_cell(key, tab, row, status_col, status, user_entered=True)
        out["edited_rows"] = len(edits)
        out["finished"] = sum(1 for _, progress, _ in edits if progress == "100%")
        run("1 % edits")
        for row, progress, status in _person_edits(
            first, fraction, random.Random(seed + 1), finish=False
        ):
            fake.set_cell(key, tab, row, prog_col, progress, user_entered=True)
            fake.set_cell(key, tab, row, status_col, status, user_entered=True)
        run("1 % edits, none to 100 %")

        middle = n // 2 + 3  # a task row (the title row and the header come first)
        fake.insert_rows(key, tab, middle, [NEW_TASK], user_entered=True)
        run("row insert")
        fake.delete_rows(key, tab, middle + 7)
        run("row delete")
        before = _ids_by_task(fake.values(key, tab))
        last = len(fake.values(key, tab))
        fake.sort_rows(key, tab, 3, last, "C", columns=("A", col_letter(len(HEADER) - 1)))
        run("human-columns sort")
        after = _ids_by_task(fake.values(key, tab))
        out["ids_follow"] = [sum(after.get(k) == v for k, v in before.items()), len(before)]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _kb(n: int) -> str:
    return (
        f"{n:,} B"
        if n < 10_000
        else f"{n / 1024:,.0f} KiB"
        if n < 10_000_000
        else f"{n / 2**20:,.1f} MiB"
    )


def report(results: list[dict[str, Any]], fraction: float) -> str:
    lines = [
        f"Runs in a row on one tracker ({fraction:.0%} edits = that share of task rows, progress "
        "+ status each). requests = read + write; read bytes = the read replies; read / CSV = "
        "read bytes over the tabs' size as CSV when the run read them; largest = the largest request "
        "body; bytes as the fake logged the HTTP bodies (tokens excluded).",
        "",
        "| rows | run | requests | read bytes | read / CSV | bytes sent | largest request "
        "| bytes received | seconds |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for label in RUNS:
            t = r["runs"].get(label)
            if t is None:
                continue
            if "error" in t:
                label += f" -- failed after {t['read']} + {t['write']} requests: {t['error'][:120]}"
            lines.append(
                f"| {r['rows']:,} | {label} | {t['read']} + {t['write']} | {_kb(t['read_bytes'])} "
                f"| {t['read_bytes'] / t['csv_bytes'] if t.get('csv_bytes') else 0:.2f} "
                f"| {_kb(t['bytes_sent'])} | {_kb(t['largest_request'])} "
                f"| {_kb(t['bytes_received'])} | {t['seconds']:.1f} |"
            )
    lines.append("")
    for r in results:
        largest = max(t["largest_request"] for t in r["runs"].values())
        counted = all(
            t["reported"] == {"read": t["read"], "write": t["write"]} and not t["failed"]
            for t in r["runs"].values()
            if "error" not in t
        )
        failed = [label for label, t in r["runs"].items() if "error" in t]
        lines.append(
            f"- {r['rows']:,} rows: largest request {largest:,} B "
            f"({'within' if largest <= r['budget'] else 'OVER'} google.max_request_bytes "
            f"{r['budget']:,}); "
            + (
                f"after the sort, IDs back on their tasks: {r['ids_follow'][0]:,} of "
                f"{r['ids_follow'][1]:,} (tasks with a unique phase + channel + description); "
                if "ids_follow" in r
                else ""
            )
            + (
                f"1 % edits: {r['edited_rows']:,} rows, {r['finished']:,} of them typed to 100 %; "
                if "finished" in r
                else ""
            )
            + f"counts = fake's log, no failed request in the runs that succeeded: "
            f"{'yes' if counted else 'NO'}; "
            + (f"FAILED runs: {', '.join(failed)}; " if failed else "")
            + f"peak RSS {r['peak_rss_mb']:,.0f} MB"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--rows", "--sizes", default="1000,10000,50000,100000", help="comma-separated task rows"
    )
    ap.add_argument("--edit-fraction", type=float, default=0.01, help="share of task rows edited")
    ap.add_argument("--seed", type=int, default=1, help="seed of the tracker and of the edits")
    ap.add_argument(
        "--atomic-fake",
        action="store_true",
        help="keep the fake's deep copy of the spreadsheet on every write (slow for big sheets)",
    )
    ap.add_argument(
        "--timeout", type=float, default=30, help="google.timeout (s); 30 is the default"
    )
    ap.add_argument("--json", type=Path, help="also write the raw results to this file")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = child(args.child, args.edit_fraction, args.seed, args.atomic_fake, args.timeout)
        print(json.dumps(res))
        return
    results = []
    for n in (int(s) for s in args.rows.split(",") if s.strip()):
        print(f"{n:,} rows ...", file=sys.stderr)
        start = time.perf_counter()
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(n),
            "--edit-fraction",
            str(args.edit_fraction),
            "--seed",
            str(args.seed),
            "--timeout",
            str(args.timeout),
        ]
        if args.atomic_fake:
            cmd.append("--atomic-fake")
        proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"{n:,} rows: {time.perf_counter() - start:.0f} s in all", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(report(results, args.edit_fraction))


if __name__ == "__main__":
    main()

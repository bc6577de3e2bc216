"""Requests and bytes on the wire: tracker-sync vs. a hand-written gspread ``update_cell`` loop.

Usage::

    python benchmarks/bench_sheets.py                         # 1k, 10k, 100k task rows
    python benchmarks/bench_sheets.py --sizes 1000,10000 --edit-fraction 0.01 --seed 7

For each size N (each in its own process), against the local Sheets API fake
(``tests/sheets_fake.py``, real gspread + google-auth over HTTP on 127.0.0.1):

1. load an N-row synthetic tracker (``benchmarks/synth.py``), run tracker-sync once (bootstrap)
   and once more with no edits;
2. edit ``--edit-fraction`` of the task rows like a person would (type a new progress such as
   ``60%`` and a matching status into the progress and status cells), clone the spreadsheet in
   that state, and run tracker-sync on the original;
3. on the clone, run "the obvious hand-written alternative": open the spreadsheet with gspread,
   ``get_all_values()`` the tracker tab, then ``Worksheet.update_cell`` once per generated cell
   that tracker-sync changed in step 2 (its ``RunResult.plan.cells``: the tracker tab); then,
   counted apart, once per summary-tab cell whose value tracker-sync changed. Finally count the
   cells in which the two spreadsheets' tracker and summary tabs differ.

"Bytes sent" is the sum of HTTP request *body* sizes the fake logged for a run (Content-Length),
OAuth token requests excluded; request lines and headers (URL, Authorization, ...) are not in it.
Wall times are for a fake served by the same process (2 threads sharing one GIL), so only their
ratios mean anything. By default the fake's copy-on-write of the whole spreadsheet on every
write request (its emulation of atomic writes, O(sheet size) per request) is switched off so that
thousands of ``update_cell`` calls stay affordable; ``--atomic-fake`` keeps it.
Prints Markdown tables.
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


def _traffic(fake: Any) -> dict[str, Any]:
    """What the fake logged since its last ``reset_log()``, OAuth token requests excluded."""
    from tests.sheets_fake import kind_matches

    recs = [r for r in fake.requests if r.kind != "token"]
    return {
        "read": sum(1 for r in recs if kind_matches("read", r.kind)),
        "write": sum(1 for r in recs if kind_matches("write", r.kind)),
        "requests": len(recs),
        "bytes_sent": sum(r.body_size for r in recs),
        "bytes_received": sum(r.response_size for r in recs),
        "kinds": sorted({r.kind for r in recs}),
        "failed": sum(1 for r in recs if r.status is None or r.status >= 400),
    }


class WireMeter:
    """Client-side size of every request a ``requests`` session sends, as HTTP/1.1 would put it
    on the wire uncompressed: request line + headers (incl. ``Host``, which ``http.client`` adds)
    + body. Hooked into the session, so OAuth token requests (another session) are not seen."""

    def __init__(self) -> None:
        self.bytes = 0
        self.requests = 0

    def attach(self, session: Any) -> None:
        session.hooks.setdefault("response", []).append(self._hook)

    def _hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        from urllib.parse import urlsplit

        req = response.request
        head = f"{req.method} {req.path_url} HTTP/1.1\r\nHost: {urlsplit(req.url).netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in req.headers.items()) + "\r\n"
        body = req.body or b""
        self.bytes += len(head.encode("latin-1", "replace")) + len(
            body if isinstance(body, bytes) else body.encode()
        )
        self.requests += 1
        return response


def _plain(v: Any) -> Any:
    """A JSON-serializable scalar (numpy scalars -> Python; None -> "" which clears the cell)."""
    if v is None:
        return ""
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def _changed_cells(result: Any) -> tuple[list[tuple[str, int, int, Any]], int, int]:
    """The cells tracker-sync changed in a run, as (tab, row, col, value) with 1-based row/col:
    every cell of ``plan.cells`` (tracker tab) and every summary-tab cell whose value differs."""
    from sync.cells import same_value

    plan = result.plan
    tab = plan.tracker_title
    cells: list[tuple[str, int, int, Any]] = []
    for col, series in sorted(plan.cells.items()):
        for row0, value in series.items():
            cells.append((tab, int(row0) + 1, int(col) + 1, _plain(value)))
    tracker_cells = len(cells)
    if plan.summary is not None:
        have = result.snapshot.summary.rows if result.snapshot.summary is not None else []
        want = plan.summary.rows
        for r in range(max(len(have), len(want))):
            old = have[r] if r < len(have) else []
            new = want[r] if r < len(want) else []
            for c in range(max(len(old), len(new))):
                a = old[c] if c < len(old) else None
                b = new[c] if c < len(new) else None
                if not same_value(a, b):
                    cells.append((plan.summary.title, r + 1, c + 1, _plain(b)))
    return cells, tracker_cells, len(cells) - tracker_cells


def _person_edits(result: Any, fraction: float, rng: random.Random) -> list[tuple[int, str, str]]:
    """(sheet row, progress as typed, status as typed) for ``fraction`` of the task rows: progress
    moves forward by 10-50 points (a finished task is reopened at 80 %), status follows."""
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
            new = min(100, int(float(p) // 5 * 5) + rng.choice([10, 20, 30, 50]))
        edits.append((row, f"{new}%", "已完成" if new == 100 else "进行中"))
    return edits


def _differences(a: list[list[Any]], b: list[list[Any]]) -> list[tuple[int, int, Any, Any]]:
    """(row, col, a's value, b's value), 1-based, for every cell in which two value grids differ."""
    out = []
    for r in range(max(len(a), len(b))):
        ra = a[r] if r < len(a) else []
        rb = b[r] if r < len(b) else []
        for c in range(max(len(ra), len(rb))):
            va = ra[c] if c < len(ra) else ""
            vb = rb[c] if c < len(rb) else ""
            if va != vb:
                out.append((r + 1, c + 1, va, vb))
    return out


def child(n: int, fraction: float, seed: int, atomic_fake: bool, timeout: float) -> dict[str, Any]:
    from synth import synthetic_grid

    from sync.backends.gsheets import SheetsBackend
    from sync.config import Config
    from sync.render import col_letter
    from sync.run import sync
    from tests import sheets_fake
    from tests.sheets_fake import SheetsFake

    if not atomic_fake:
        # Writes mutate in place instead of on a deep copy of the whole spreadsheet.
        sheets_fake._Spreadsheet.__deepcopy__ = lambda self, memo: self  # type: ignore[attr-defined]

    out: dict[str, Any] = {"rows": n}
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
        google = {
            "credentials": str(sa),
            "api_endpoint": fake.api_endpoint,
            "timeout": timeout,
            "retry": {"attempts": 1, "max_seconds": 600},  # a retry would skew the counts
        }
        config = Config.model_validate(
            {
                "tracker": {"backend": "gsheets", "spreadsheet": key, "worksheet": tab},
                "google": google,
            }
        )

        def run(label: str) -> Any:
            backend = SheetsBackend(
                key,
                worksheet=tab,
                summary_title=config.summary_title(),
                google=config.google,
                credentials_path=sa,
                sleep=lambda s: None,
            )
            meter = WireMeter()
            meter.attach(backend.client.http_client.session)  # builds the client, no request
            fake.reset_log()
            start = time.perf_counter()
            result = sync(config, as_of=AS_OF, backend=backend, now=NOW)
            traffic = _traffic(fake) | {"seconds": time.perf_counter() - start}
            traffic["wire_bytes"] = meter.bytes
            traffic["reported"] = dict(result.requests)
            out[label] = traffic
            print(f"  {n:,} rows: {label} done in {traffic['seconds']:.1f} s", file=sys.stderr)
            return result

        first = run("bootstrap")
        run("no_edit")

        # a person edits some rows: types a new progress ("60%") and a matching status
        edits = _person_edits(first, fraction, random.Random(seed))
        t0 = time.perf_counter()
        prog_col = first.table.positions["progress"] + 1
        status_col = first.table.positions["status"] + 1
        for row, progress, status in edits:
            fake.set_cell(key, tab, row, prog_col, progress, user_entered=True)
            fake.set_cell(key, tab, row, status_col, status, user_entered=True)
        out["edited_rows"] = len(edits)
        out["edit_s"] = time.perf_counter() - t0

        # the same pre-sync state, for the hand-written alternative
        resource_ = fake.snapshot(key)
        resource_.pop("spreadsheetId", None)
        clone = fake.add_spreadsheet_resource(resource_)
        del resource_

        result = run("edit")
        cells, tracker_cells, summary_cells = _changed_cells(result)
        out["changed_cells"] = {"tracker": tracker_cells, "summary": summary_cells}
        out["changed_columns"] = sorted(
            k for k, c in result.plan.columns.items() if c in result.plan.cells
        )

        # the obvious hand-written alternative, on the clone: read, then one update_cell per
        # changed generated cell of the tracker tab ...
        fake.reset_log()
        start = time.perf_counter()
        gc = fake.gspread_client()
        meter = WireMeter()
        meter.attach(gc.http_client.session)
        sh = gc.open_by_key(clone)
        worksheets = {ws.title: ws for ws in sh.worksheets()}
        worksheets[tab].get_all_values()
        for title, row, col, value in cells[:tracker_cells]:
            worksheets[title].update_cell(row, col, value)
        alt = _traffic(fake) | {"seconds": time.perf_counter() - start, "wire_bytes": meter.bytes}
        out["update_cell"] = alt
        print(f"  {n:,} rows: update_cell done in {alt['seconds']:.1f} s", file=sys.stderr)
        # ... and, counted apart, one more per changed summary-tab cell
        fake.reset_log()
        meter.bytes = meter.requests = 0
        start = time.perf_counter()
        for title, row, col, value in cells[tracker_cells:]:
            worksheets[title].update_cell(row, col, value)
        extra = _traffic(fake) | {"seconds": time.perf_counter() - start, "wire_bytes": meter.bytes}
        out["update_cell_summary"] = extra
        print(
            f"  {n:,} rows: summary update_cell done in {extra['seconds']:.1f} s", file=sys.stderr
        )

        summary = config.summary_title()
        diffs = {
            t: _differences(fake.values(key, t), fake.values(clone, t)) for t in (tab, summary)
        }
        out["end_state_diff"] = {t: len(d) for t, d in diffs.items()}
        out["end_state_examples"] = [[t, *d] for t, ds in diffs.items() for d in ds[:5]]
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


def _rw(t: dict[str, Any]) -> str:
    return f"{t['requests']:,} ({t['read']}+{t['write']:,})"


def _ratio(a: float, b: float) -> str:
    r = a / b if b else float("inf")
    return f"{r:,.0f}×" if r >= 10 else f"{r:.2f}×"


def report(results: list[dict[str, Any]], fraction: float) -> str:
    lines = [
        f"Edit run: {fraction:.2%} of the task rows edited (progress + status cell each). "
        "update_cell = read (open_by_key, worksheets(), get_all_values) + one update_cell per "
        "changed generated cell of the tracker tab; '+ summary' adds one update_cell per changed "
        "summary-tab cell (tracker-sync writes both in its one values request). "
        "Bytes sent = request bodies logged by the fake, token requests excluded; "
        "ratio = update_cell ÷ tracker-sync.",
        "",
        "| rows | edited rows | tracker-sync requests (read+write) | tracker-sync bytes sent "
        "| update_cell requests (read+write) | update_cell bytes sent | ratio requests "
        "| ratio bytes | update_cell + summary: requests | bytes sent | ratio requests "
        "| ratio bytes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ts, uc, us = r["edit"], r["update_cell"], r["update_cell_summary"]
        both = {
            "requests": uc["requests"] + us["requests"],
            "read": uc["read"] + us["read"],
            "write": uc["write"] + us["write"],
            "bytes_sent": uc["bytes_sent"] + us["bytes_sent"],
        }
        lines.append(
            f"| {r['rows']:,} | {r['edited_rows']:,} | {_rw(ts)} | {_kb(ts['bytes_sent'])} "
            f"| {_rw(uc)} | {_kb(uc['bytes_sent'])} "
            f"| {_ratio(uc['requests'], ts['requests'])} "
            f"| {_ratio(uc['bytes_sent'], ts['bytes_sent'])} "
            f"| {_rw(both)} | {_kb(both['bytes_sent'])} "
            f"| {_ratio(both['requests'], ts['requests'])} "
            f"| {_ratio(both['bytes_sent'], ts['bytes_sent'])} |"
        )
    lines.append("")
    for r in results:
        b, z = r["bootstrap"], r["no_edit"]
        lines.append(
            f"- {r['rows']:,} rows: bootstrap {b['read']} read + {b['write']} write "
            f"({_kb(b['bytes_sent'])} sent, {b['seconds']:.1f} s); no-edit run {z['read']} read + "
            f"{z['write']} write ({_kb(z['bytes_sent'])} sent, {z['seconds']:.1f} s)"
        )
    lines += [
        "",
        "| rows | cells replayed: tracker + summary | generated columns changed "
        "| wall s: tracker-sync / update_cell / + summary "
        "| bytes sent incl. request line + headers: tracker-sync / update_cell / + summary "
        "| bytes received: tracker-sync / update_cell / + summary "
        "| end state differs (cells) | counts = fake's log, no failed request | peak RSS (MB) |",
        "|---:|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        ts, uc, us = r["edit"], r["update_cell"], r["update_cell_summary"]
        cc = r["changed_cells"]
        ok = all(
            r[k]["reported"] == {"read": r[k]["read"], "write": r[k]["write"]}
            for k in ("bootstrap", "no_edit", "edit")
        ) and not any(
            r[k]["failed"]
            for k in ("bootstrap", "no_edit", "edit", "update_cell", "update_cell_summary")
        )
        lines.append(
            f"| {r['rows']:,} | {cc['tracker']:,} + {cc['summary']:,} "
            f"| {', '.join(r['changed_columns'])} "
            f"| {ts['seconds']:.2f} / {uc['seconds']:.2f} / {us['seconds']:.2f} "
            f"| {_kb(ts['wire_bytes'])} / {_kb(uc['wire_bytes'])} / {_kb(us['wire_bytes'])} "
            f"| {_kb(ts['bytes_received'])} / {_kb(uc['bytes_received'])} "
            f"/ {_kb(us['bytes_received'])} "
            f"| {sum(r['end_state_diff'].values())} | {'yes' if ok else 'NO'} "
            f"| {r['peak_rss_mb']:,.0f} |"
        )
    for r in results:
        for tab, row, col, a, b in r.get("end_state_examples", []):
            lines.append(
                f"- {r['rows']:,} rows, end state differs at {tab}!R{row}C{col}: "
                f"tracker-sync {a!r}, update_cell {b!r}"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated task-row counts")
    ap.add_argument("--edit-fraction", type=float, default=0.01, help="share of task rows edited")
    ap.add_argument("--seed", type=int, default=1, help="seed of the tracker and of the edits")
    ap.add_argument(
        "--atomic-fake",
        action="store_true",
        help="keep the fake's deep copy of the spreadsheet on every write (slow for big sheets)",
    )
    ap.add_argument(
        "--timeout", type=float, default=300, help="google.timeout for tracker-sync (s)"
    )
    ap.add_argument("--json", type=Path, help="also write the raw results to this file")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = child(args.child, args.edit_fraction, args.seed, args.atomic_fake, args.timeout)
        print(json.dumps(res))
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",") if s.strip()):
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

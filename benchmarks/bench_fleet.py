"""A fleet of trackers: wall time and requests for N trackers, with and without change detection.

Usage::

    python benchmarks/bench_fleet.py                 # 50 and 200 trackers
    python benchmarks/bench_fleet.py --sizes 10 --concurrency 8

For each size N, N copies of the seed tracker (four tasks) live on the local Sheets API fake
(``tests/sheets_fake.py``: real gspread + google-auth over HTTP on 127.0.0.1, served by the same
process) with a portfolio spreadsheet, and ``tracker-sync fleet run`` (``sync.fleet.run_fleet``)
goes through:

1. **first run** -- nothing synced yet (every tracker reads once and writes twice);
2. **after a write** -- the run after a write reads each tracker once more (nothing to write);
3. **steady, detection on** -- nothing changed: one Drive ``files.get(modifiedTime)`` each;
4. **steady, detection off** -- the same with ``fleet.change_detection: false``: one read each;
5. **1 edited, detection on** -- one tracker edited by a person, the rest unchanged.

The fleet's limiters are set far above the fake's speed here, so the wall time is the work
itself (CPU and the local fake, one GIL); the column ``quota min`` is the floor Google's quota
puts under the same run: max(reads, writes) / 60 per minute for one credential (the Drive quota
is 12,000 per minute and never binds). A real fleet takes the larger of the two.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.date(2024, 3, 20)
NOW = dt.datetime(2024, 3, 20, 9, 0, tzinfo=dt.UTC)
TAB = "进度表"


def build(fake: Any, folder: Path, n: int, concurrency: int, detection: bool) -> Path:
    from sync.defaults import shipped_rules_dir
    from sync.demo import SEED_ROWS
    from sync.rules import load_rules
    from tests.conftest import header

    rows = [header(load_rules([shipped_rules_dir()])), *[list(r) for r in SEED_ROWS]]
    sa = fake.write_service_account(folder / "bot.json")
    lines = [
        "defaults:",
        f"  google: {{credentials: {sa.name}, api_endpoint: '{fake.api_endpoint}'}}",
        "  calendar: {country: none}",
        f"fleet: {{concurrency: {concurrency}, quota_per_minute: 100000,"
        f" change_detection: {str(detection).lower()}}}",
        "trackers:",
    ]
    for i in range(n):
        key = fake.add_spreadsheet(title=f"T{i}", sheets={TAB: rows}, time_zone="Asia/Shanghai")
        lines.append(f"  - name: campaign-{i:03d}")
        lines.append(f"    tracker: {{backend: gsheets, spreadsheet: {key}, worksheet: {TAB}}}")
    pid = fake.add_spreadsheet(title="Portfolio", sheets={"说明": [["portfolio"]]})
    lines.append(f"portfolio: {{backend: gsheets, spreadsheet: {pid}, worksheet: 总览}}")
    path = folder / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(fake: Any, manifest: Any, label: str, n: int) -> dict[str, Any]:
    from sync.fleet import run_fleet

    fake.reset_log()
    t0 = time.perf_counter()
    result = run_fleet(manifest, as_of=AS_OF, now=NOW)
    wall = time.perf_counter() - t0
    from tests.sheets_fake import kind_matches

    kinds = [r.kind for r in fake.requests]
    drive = kinds.count("drive")
    reads = sum(1 for k in kinds if kind_matches("read", k))
    writes = sum(1 for k in kinds if kind_matches("write", k))
    failed = [t.name for t in result.trackers if t.exit_code]
    assert not failed, failed
    return {
        "trackers": n,
        "run": label,
        "wall": wall,
        "reads": reads,
        "writes": writes,
        "drive": drive,
        "skipped": sum(t.skipped_unchanged for t in result.trackers),
        "quota_min": max(reads, writes) / 60,
    }


def bench(n: int, concurrency: int) -> list[dict[str, Any]]:
    from sync.fleet import load_manifest
    from tests.sheets_fake import SheetsFake

    out = []
    with tempfile.TemporaryDirectory() as tmp, SheetsFake(require_drive_scope=True) as fake:
        on = load_manifest(build(fake, Path(tmp), n, concurrency, detection=True))
        out.append(measure(fake, on, "first run", n))
        out.append(measure(fake, on, "after a write", n))
        out.append(measure(fake, on, "steady, detection on", n))
        text = on.path.read_text(encoding="utf-8")
        on.path.write_text(text.replace("change_detection: true", "change_detection: false"))
        off = load_manifest(on.path)
        out.append(measure(fake, off, "steady, detection off", n))
        on.path.write_text(text)
        on = load_manifest(on.path)
        measure(fake, on, "(settle)", n)  # the detection-off run left no fingerprints
        sid = on.trackers[0].config.tracker.spreadsheet  # type: ignore[union-attr]
        fake.set_cell(sid, TAB, 2, 10, "100%")
        out.append(measure(fake, on, "1 edited, detection on", n))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200", help="comma-separated tracker counts")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    print(
        f"{'trackers':>8}  {'run':<24} {'wall s':>7} {'reads':>6} {'writes':>6} "
        f"{'drive':>6} {'skipped':>7} {'quota min':>9}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        for r in bench(n, args.concurrency):
            print(
                f"{r['trackers']:>8}  {r['run']:<24} {r['wall']:>7.1f} {r['reads']:>6} "
                f"{r['writes']:>6} {r['drive']:>6} {r['skipped']:>7} {r['quota_min']:>9.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

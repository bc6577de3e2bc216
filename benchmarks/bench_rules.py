"""Time the rule engine (sync.validate) against pandera running the same checks on the same frame.

Usage::

    python benchmarks/bench_rules.py                          # 100k rows, median of 5
    python benchmarks/bench_rules.py --rows 10000,100000 --repeat 5

Per size, each engine runs in its own process (so one engine's live objects do not slow the
other's garbage collector). The synthetic tracker is built and parsed before the clock starts.

* tracker-sync: ``validate(table, ruleset, Context(as_of))`` over the whole shipped pack, and
  over the subset of rules whose check kind has a direct pandera equivalent (required, one_of,
  pattern, not_pattern, length, range, unique, compare, and type), also without ``type``;
* pandera: a ``pandera.pandas.DataFrameSchema`` mirroring that subset one check per rule, run
  with ``schema.validate(df, lazy=True)`` (every failure case collected, as tracker-sync
  collects every finding) on a frame built from the parsed table (``table.data`` /
  ``table.text(col)`` / ``table.present``): the typed frame tracker-sync's checks see.
  ``type`` is mirrored by dtype coercion (``coerce=True``) of a column holding the typed value
  where the cell parsed and the cell as typed where it did not (isin for the status column).

tracker-sync is timed with the table's text cache warm (``table.text(col)`` already folded,
as the pandera frame is built from it); "cold" reruns the subset on a fresh copy of the table,
so the lazy NFKC folding is inside the clock; "masks only" runs the checks without building
findings and messages.

Prints, per size, the failing cells per rule of both engines (count, and whether the
(column, row) cells are identical), then a Markdown table of median wall and CPU seconds and
the ratio tracker-sync / pandera on the comparable subset (target: <= 1.0).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import hashlib
import json
import re
import statistics
import subprocess
import sys
import time
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

#: Check kinds with a direct pandera counterpart.
COMPARABLE = (
    "required",
    "one_of",
    "pattern",
    "not_pattern",
    "length",
    "range",
    "unique",
    "compare",
)
COMPARABLE_TYPE = "type"

#: pandera's coercion target per tracker-sync column type (status is checked with isin).
COERCE = {"date": "datetime64[ns]", "percent": "float64", "number": "float64", "bool": "boolean"}
STATUS_IDS = ["not_started", "in_progress", "completed", "delayed"]

AS_OF = dt.date(2026, 6, 15)


def _op_check(op: str, value: Any, name: str) -> Any:
    """The built-in pandera check for ``cell op value``."""
    import pandera.pandas as pa

    builtin = {"<": pa.Check.lt, "<=": pa.Check.le, ">": pa.Check.gt, ">=": pa.Check.ge}
    builtin |= {"==": pa.Check.eq, "!=": pa.Check.ne}
    return builtin[op](value, name=name)


def _wide_compare(left: str, op: str, right: str, offset_days: int) -> Callable[[Any], Any]:
    """``df[left] op df[right] (+ offset)`` where both are filled (tracker-sync's compare)."""
    import numpy as np
    import pandas as pd

    fn = {
        "<": np.less,
        "<=": np.less_equal,
        ">": np.greater,
        ">=": np.greater_equal,
        "==": np.equal,
        "!=": np.not_equal,
    }[op]
    delta = pd.Timedelta(days=offset_days) if offset_days else None

    def check(df: pd.DataFrame) -> pd.Series:
        a, b = df[left], df[right]
        if delta is not None:
            b = b + delta
        return ~(a.notna() & b.notna()) | fn(a, b)

    return check


def _not_containing(regex: str, unless: str | None = None) -> str:
    """A ``str.match`` pattern that holds when ``regex`` matches nowhere in the cell (or when
    ``unless``, case-sensitive like a ``when: matches``, matches somewhere)."""
    pattern = rf"^(?![\s\S]*?(?:{regex}))"
    if unless is not None:
        pattern += rf"|^(?-i:[\s\S]*?(?:{unless}))"
    return pattern


def _when_unless(rule: Any) -> str | None:
    """``when: {not: {column: C, matches: R}}`` on the rule's own column folds into the regex."""
    when = rule.when
    if when is None:
        return None
    inner = when.get("not") if set(when) == {"not"} else None
    if (
        isinstance(inner, dict)
        and set(inner) == {"column", "matches"}
        and rule.columns == [inner["column"]]
    ):
        return str(inner["matches"])
    raise ValueError("not expressible")


def comparable_rules(ruleset: Any, with_type: bool = True) -> list[Any]:
    """Active rules whose kind (and ``when``) pandera built-ins can express one to one."""
    kinds = (*COMPARABLE, COMPARABLE_TYPE) if with_type else COMPARABLE
    out = []
    for rule in ruleset.active:
        if rule.check not in kinds:
            continue
        if rule.check in ("pattern", "not_pattern") and not rule.params.ignore_case:
            continue  # would need the NFKC display text as another column
        if rule.when is not None:
            if rule.check != "not_pattern":
                continue
            try:
                _when_unless(rule)
            except ValueError:
                continue
        out.append(rule)
    return out


#: A rule id and the columns its findings light up.
Owner = tuple[str, tuple[str, ...]]


@dataclasses.dataclass
class PanderaMirror:
    """The frame, the schema, and which rule (and lit column) owns each kind of failure case."""

    df: Any
    schema: Any
    column_checks: dict[tuple[str, int], Owner]
    not_null: dict[str, Owner]
    coerce: dict[str, Owner]
    wide: dict[int, Owner]
    unique: Owner | None


def build_pandera(table: Any, rules: list[Any], as_of: dt.date) -> PanderaMirror:
    """A pandas frame of the parsed table and a DataFrameSchema mirroring ``rules`` one to one.

    Frame columns: a text column ``C`` holds ``table.text(C)`` (NFKC-folded, trimmed, lower
    case), null where the cell is empty; a typed column ``C`` holds ``table.data[C]``; for a
    typed column a rule needs as typed (``required``, ``type``), ``C:cell`` holds the typed
    value where it parsed, the cell as typed where it did not, and null where the cell is empty.
    """
    import pandas as pd
    import pandera.pandas as pa

    kinds = table.kinds
    frame: dict[str, pd.Series] = {}
    col_checks: dict[str, list[Any]] = {}
    nullable: dict[str, bool] = {}
    dtypes: dict[str, str] = {}
    m = PanderaMirror(None, None, {}, {}, {}, {}, None)
    wide_checks: list[Any] = []
    unique_cols: list[str] | None = None

    def text_col(c: str) -> str:
        if c not in frame:
            frame[c] = table.text(c).where(table.present[c], None).astype(object)
        return c

    def typed_col(c: str) -> str:
        if c not in frame:
            frame[c] = table.data[c]
        return c

    def cell_col(c: str) -> str:
        name = f"{c}:cell"
        if name not in frame:
            typed = table.data[c].astype(object)
            raw = table.display(c).astype(object)
            frame[name] = typed.where(~table.invalid[c], raw).where(table.present[c], None)
        return name

    def as_is(c: str) -> str:
        return text_col(c) if kinds[c] == "text" else cell_col(c)

    def add(col: str, check: Any, rule: Any, *lit: str) -> None:
        checks = col_checks.setdefault(col, [])
        m.column_checks[(col, len(checks))] = (rule.id, lit)
        checks.append(check)

    for rule in rules:
        p = rule.params
        if rule.check == "required":
            for c in rule.columns:
                col = as_is(c)
                nullable[col] = False
                m.not_null.setdefault(col, (rule.id, (c,)))  # one nullable flag per column
        elif rule.check == "type":
            for c in rule.columns:
                col = cell_col(c)
                if kinds[c] == "status":
                    add(col, pa.Check.isin(STATUS_IDS, name=rule.id), rule, c)
                elif kinds[c] in COERCE:
                    dtypes[col] = COERCE[kinds[c]]
                    m.coerce[col] = (rule.id, (c,))
        elif rule.check == "range":
            for c in rule.columns:
                if p.min is not None and p.max is not None:
                    check = pa.Check.in_range(p.min, p.max, name=rule.id)
                elif p.min is not None:
                    check = pa.Check.ge(p.min, name=rule.id)
                else:
                    check = pa.Check.le(p.max, name=rule.id)
                add(typed_col(c), check, rule, c)
        elif rule.check == "length":
            for c in rule.columns:
                check = pa.Check.str_length(p.min, p.max, name=rule.id)
                add(text_col(c), check, rule, c)
        elif rule.check == "one_of":
            allowed = sorted({unicodedata.normalize("NFKC", v).strip().lower() for v in p.values})
            for c in rule.columns:
                add(text_col(c), pa.Check.isin(allowed, name=rule.id), rule, c)
        elif rule.check == "pattern":
            regex = re.compile(p.regex, re.IGNORECASE)
            for c in rule.columns:
                add(text_col(c), pa.Check.str_contains(regex, name=rule.id), rule, c)
        elif rule.check == "not_pattern":
            regex = re.compile(_not_containing(p.regex, _when_unless(rule)), re.IGNORECASE)
            for c in rule.columns:
                add(text_col(c), pa.Check.str_matches(regex, name=rule.id), rule, c)
        elif rule.check == "unique":
            if m.unique is not None:
                raise ValueError("pandera takes one `unique` per schema")
            m.unique = (rule.id, tuple(rule.columns[-1:]))
            unique_cols = [text_col(c) for c in rule.columns]
        elif rule.check == "compare":
            # tracker-sync: without `column` each of `columns` is compared and lit on its own;
            # with it, `column` is lit (or every one of `columns` when it is not among them)
            pairs = [(p.column, rule.columns)] if p.column else [(c, [c]) for c in rule.columns]
            for left, cols in pairs:
                lit = (left,) if left in cols or not cols else tuple(cols)
                if p.other == "today":
                    bound = pd.Timestamp(as_of) + pd.Timedelta(days=p.offset_days)
                    add(typed_col(left), _op_check(p.op, bound, rule.id), rule, *lit)
                else:
                    typed_col(left)
                    typed_col(p.other)
                    m.wide[len(wide_checks)] = (rule.id, lit)
                    fn = _wide_compare(left, p.op, p.other, p.offset_days)
                    wide_checks.append(pa.Check(fn, name=rule.id))
        else:
            raise ValueError(f"{rule.id}: no pandera mirror for {rule.check!r}")

    m.df = pd.DataFrame(frame, index=table.rows)
    columns = {
        col: pa.Column(
            dtypes.get(col),
            checks=col_checks.get(col, []),
            nullable=nullable.get(col, True),
            coerce=col in dtypes,
        )
        for col in frame
    }
    m.schema = pa.DataFrameSchema(
        columns,
        checks=wide_checks,
        unique=unique_cols,
        report_duplicates="exclude_first",
    )
    return m


def run_pandera(m: PanderaMirror) -> Any:
    """``schema.validate(df, lazy=True)``; the long table of failure cases (empty when none)."""
    import pandas as pd
    import pandera.pandas as pa

    try:
        m.schema.validate(m.df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(
        columns=["schema_context", "column", "check", "check_number", "failure_case", "index"]
    )


def pandera_cells(m: PanderaMirror, fc: Any) -> tuple[Any, int]:
    """Failing (rule, lit column, row) cells from pandera's failure cases (one per cell), and
    the number of failure-case rows no rule owns (a check that raised, say): should be 0."""
    import pandas as pd

    def owner(r: Any) -> Owner | None:
        col, check, num = r.column, str(r.check), r.check_number
        if r.schema_context == "DataFrameSchema":
            if check == "multiple_fields_uniqueness":
                return m.unique
            return m.wide.get(int(num)) if pd.notna(num) else None
        if check == "not_nullable":
            return m.not_null.get(col)
        if check.startswith(("coerce_dtype", "dtype")):
            return m.coerce.get(col)
        return m.column_checks.get((col, int(num))) if pd.notna(num) else None

    rows, unowned = [], 0
    key_cols = ["schema_context", "column", "check", "check_number"]
    for key, sub in fc.groupby(key_cols, dropna=False, sort=False):
        o = owner(pd.Series(key, index=key_cols))
        if o is None or sub["index"].isna().any():
            unowned += len(sub)
            continue
        for col in o[1]:
            rows.append(
                pd.DataFrame({"rule": o[0], "column": col, "row": sub["index"].to_numpy(int)})
            )
    if not rows:
        return pd.DataFrame(columns=["rule", "column", "row"]), unowned
    return pd.concat(rows, ignore_index=True).drop_duplicates(), unowned


def _digest(cells: Any) -> dict[str, list[object]]:
    """Per rule: [failing cells, a hash of the sorted (column, row) cells]."""
    out: dict[str, list[object]] = {}
    for rule, g in cells.groupby("rule", sort=False):
        keys = sorted(zip(g["column"].astype(str), g["row"].astype(int), strict=True))
        out[str(rule)] = [len(keys), hashlib.sha1(repr(keys).encode()).hexdigest()[:12]]
    return out


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """[median wall seconds, median CPU seconds] of ``repeat`` runs, and the last result."""
    wall, cpu, out = [], [], None
    for _ in range(repeat):
        out = None
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return [statistics.median(wall), statistics.median(cpu)], out


def child(n: int, repeat: int, engine: str) -> dict[str, Any]:
    """Parse an n-row synthetic tracker (not timed), then time one engine."""
    from synth import synthetic_grid

    from sync.checks import Context, run_check
    from sync.parse import parse
    from sync.rules import RuleSet, load_rules, shipped_rules_dir
    from sync.validate import validate

    ruleset = load_rules([shipped_rules_dir()])
    ctx = Context(AS_OF)
    table = parse(synthetic_grid(n), ruleset, AS_OF)
    subsets = {
        "with_type": RuleSet(columns=ruleset.columns, rules=comparable_rules(ruleset)),
        "no_type": RuleSet(columns=ruleset.columns, rules=comparable_rules(ruleset, False)),
    }
    res: dict[str, Any] = {"rows": n, "rules": {"full": len(ruleset.active)}, "times": {}}
    res["rules"] |= {k: len(v.active) for k, v in subsets.items()}
    res["kinds"] = {r.id: r.check for r in subsets["with_type"].active}
    to_name = {header: name for name, header in table.headers.items()}

    if engine == "pandera":
        import pandas as pd

        for key, rs in subsets.items():
            mirror = build_pandera(table, rs.active, AS_OF)
            with warnings.catch_warnings():
                # str_contains warns about groups in a regex (tracker-sync silences it too)
                warnings.simplefilter("ignore", UserWarning)
                run_pandera(mirror)  # warm-up
                t, fc = _timed(lambda m=mirror: run_pandera(m), repeat)
            cells, unowned = pandera_cells(mirror, fc)
            res["times"][key] = [*t, len(cells), len(fc), unowned]
            if key == "with_type":
                res["cells"] = _digest(cells)
                res["frame"] = {str(c): str(d) for c, d in mirror.df.dtypes.items()}
                res["versions"] = [pd.__version__, __import__("pandera").__version__]
            del mirror, fc, cells
        return res

    def masks_only(rs: RuleSet) -> int:
        return sum(
            int(mask.sum()) for r in rs.active for mask in run_check(table, r, ctx).masks.values()
        )

    def cells_of(found: Any) -> Any:
        return found.assign(column=found["column"].map(to_name))

    validate(table, ruleset, ctx)  # warm-up: imports, regex cache, table.text(...) cache
    t, found = _timed(lambda: validate(table, ruleset, ctx), repeat)
    res["times"]["full"] = [*t, len(found)]
    for key, rs in subsets.items():
        t, found = _timed(lambda rs=rs: validate(table, rs, ctx), repeat)
        res["times"][key] = [*t, len(found)]
        if key == "with_type":
            res["cells"] = _digest(cells_of(found))
        t, _ = _timed(lambda rs=rs: validate(dataclasses.replace(table), rs, ctx), repeat)
        res["times"][f"{key}_cold"] = [*t, len(found)]
        t, hits = _timed(lambda rs=rs: masks_only(rs), repeat)
        res["times"][f"{key}_masks"] = [*t, hits]
    return res


def report(ts: dict[str, Any], pa_: dict[str, Any], repeat: int) -> None:
    pandas_v, pandera_v = pa_["versions"]
    print(f"### {ts['rows']:,} rows (median of {repeat}; pandas {pandas_v}, pandera {pandera_v})\n")
    print("| rule | check | tracker-sync cells | pandera cells | same cells |")
    print("|---|---|---:|---:|:---:|")
    for rule, kind in ts["kinds"].items():
        a = ts["cells"].get(rule, [0, ""])
        b = pa_["cells"].get(rule, [0, ""])
        print(f"| {rule} | {kind} | {a[0]:,} | {b[0]:,} | {'yes' if a == b else '**no**'} |")
    r, t, p = ts["rules"], ts["times"], pa_["times"]
    print("\n| engine | rules | median seconds | median CPU s | findings |")
    print("|---|---:|---:|---:|---:|")
    rows = [
        ("tracker-sync `validate`, whole shipped pack", r["full"], t["full"]),
        ("tracker-sync `validate`, comparable subset", r["with_type"], t["with_type"]),
        ("pandera `validate(lazy=True)`, comparable subset", r["with_type"], p["with_type"]),
        ("tracker-sync `validate`, subset without `type`", r["no_type"], t["no_type"]),
        ("pandera `validate(lazy=True)`, subset without `type`", r["no_type"], p["no_type"]),
        ("tracker-sync subset, cold text cache", r["with_type"], t["with_type_cold"]),
        ("tracker-sync subset, masks only (`run_check`)", r["with_type"], t["with_type_masks"]),
    ]
    for name, k, (sec, cpu, found, *_) in rows:
        print(f"| {name} | {k} | {sec:.3f} | {cpu:.3f} | {found:,} |")
    print()
    for key, label in (("with_type", "comparable subset"), ("no_type", "subset without type")):
        ratio, cpu_ratio = t[key][0] / p[key][0], t[key][1] / p[key][1]
        verdict = "no slower than pandera" if ratio <= 1.0 else "SLOWER than pandera"
        print(
            f"- ratio tracker-sync / pandera, {label}: **{ratio:.2f}** ({verdict}; "
            f"CPU-time ratio {cpu_ratio:.2f})"
        )
    print(
        f"- pandera failure-case rows (long table, before folding to cells): "
        f"{p['with_type'][3]:,}; rows no rule owns (a check that raised): {p['with_type'][4]}\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", default="100000", help="row count(s), comma-separated")
    ap.add_argument("--repeat", type=int, default=5, help="runs per engine (median reported)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--engine", choices=["tracker-sync", "pandera"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeat, args.engine)))
        return
    for n in (int(s) for s in args.rows.split(",")):
        results = []
        for engine in ("tracker-sync", "pandera"):
            cmd = [sys.executable, __file__, "--child", str(n), "--repeat", str(args.repeat)]
            out = subprocess.run(
                [*cmd, "--engine", engine], check=True, capture_output=True, text=True
            )
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        report(*results, args.repeat)


if __name__ == "__main__":
    main()

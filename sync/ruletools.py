"""Rule tooling behind ``tracker-sync rules``: list, lint, explain, and the rules' own examples."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .checks import REGISTRY, Context
from .defaults import DEFAULT_LOCALE
from .errors import RuleError
from .model import Grid
from .parse import Table, parse
from .rules import TEMPLATE_COLUMNS, RuleSet, RuleSpec, load_rules, shipped_rules_dir
from .timeline import HistoryView, resolve_ids, step
from .validate import validate
from .workdays import CalendarConfig, WorkCalendar, build, calendar_days

#: The day rule examples are judged on.
EXAMPLE_AS_OF = dt.date(2024, 3, 20)

#: A row that passes every shipped rule; each example changes a few of its fields.
BASE_EXAMPLE: dict[str, Any] = {
    "phase": "预热期(第3-4周)",
    "channel": "小红书",
    "task": "KOL种草笔记发布",
    "description": "完成3位腰部KOL各1篇产品体验笔记发布",
    "owner": "王丽",
    "planned_start": "2024-03-15",
    "planned_finish": "2024-03-25",
    "actual_start": "2024-03-15",
    "actual_finish": "-",
    "progress": "50%",
    "status": "进行中",
    "risk": "-",
    "countermeasure": "-",
    "remarks": "-",
}


@dataclass(frozen=True)
class ExampleOutcome:
    """What a rule made of one of its examples."""

    rule: str
    which: str
    rows: list[dict[str, Any]]
    findings: pd.DataFrame

    @property
    def fired(self) -> bool:
        return bool((self.findings["rule"] == self.rule).any())


def example_rows(rule: RuleSpec, which: str) -> list[dict[str, Any]]:
    """The rows of a rule's passing or failing example, base row included."""
    ex = (rule.examples or {}).get(which)  # type: ignore[call-overload]
    if ex is None:
        return []
    overrides = ex if isinstance(ex, list) else [ex]
    return [{**BASE_EXAMPLE, **o} for o in overrides]


def example_grid(
    ruleset: RuleSet, rows: list[dict[str, Any]], locale: str = DEFAULT_LOCALE
) -> Grid:
    """A tracker tab holding ``rows`` (canonical field -> cell) under localized headers."""
    fields = list(TEMPLATE_COLUMNS) + sorted({k for r in rows for k in r} - set(TEMPLATE_COLUMNS))
    fields = [f for f in fields if ruleset.columns[f].source == "sheet"]
    head = [ruleset.columns[f].title(locale) for f in fields]
    # {formula: "=..."} stands for a formula cell that holds no calculated value
    formulas = frozenset(
        (i, c)
        for i, r in enumerate(rows, 1)
        for c, f in enumerate(fields)
        if isinstance(r.get(f), dict) and "formula" in r[f]
    )
    body = [
        [None if (i, c) in formulas else r.get(f) for c, f in enumerate(fields)]
        for i, r in enumerate(rows, 1)
    ]
    return Grid("examples", [head, *body], uncalculated=formulas)


def run_example(
    ruleset: RuleSet, rule: RuleSpec, which: str, locale: str = DEFAULT_LOCALE
) -> ExampleOutcome:
    """Validate a rule's example rows with the whole rule set (as of EXAMPLE_AS_OF).

    Fields of history columns (``days_unchanged: 9``) stand for what the run store would
    remember; every other field is a cell of the sheet."""
    rows = example_rows(rule, which)
    table = example_table(ruleset, rows, locale)
    findings = validate(table, ruleset, Context(EXAMPLE_AS_OF, locale, calendar=_calendar(table)))
    return ExampleOutcome(rule.id, which, rows, findings)


def _calendar(table: Table) -> WorkCalendar | None:
    """The default calendar (``calendar.country: CN``) over the example's dates: examples are
    judged the way a run with the default config judges a sheet."""
    return build(CalendarConfig(), calendar_days(table.data, EXAMPLE_AS_OF))


def example_table(
    ruleset: RuleSet, rows: list[dict[str, Any]], locale: str = DEFAULT_LOCALE
) -> Table:
    """Parse example rows; history fields are set as if the run store had remembered them."""
    history = {
        f
        for r in rows
        for f in r
        if f in ruleset.columns and ruleset.columns[f].source == "history"
    }
    sheet_rows = [{k: v for k, v in r.items() if k not in history} for r in rows]
    table = parse(example_grid(ruleset, sheet_rows, locale), ruleset, EXAMPLE_AS_OF)
    view = HistoryView()
    ids = resolve_ids(table, view)
    now = dt.datetime.combine(EXAMPLE_AS_OF, dt.time(9))
    columns = step(view, table, ids, EXAMPLE_AS_OF, now).columns
    for f in history:
        kind = ruleset.columns[f].type
        values = [r.get(f) for r in rows]
        if kind == "date":
            columns[f] = pd.to_datetime(pd.Series(values, index=table.rows, dtype=object))
        elif kind == "bool":
            columns[f] = pd.Series(values, index=table.rows, dtype=object)
        else:
            columns[f] = pd.Series(values, index=table.rows, dtype=float)
    return table.with_history(ids, columns)


def lint(folders: list[Path]) -> list[str]:
    """Problems in rule folders, one ``file:line: message`` per line (empty when all is well).

    Loads the folders over the shipped pack (as a config would), then runs every rule's
    examples: a passing example must not fire its rule, a failing one must.
    """
    try:
        ruleset = load_rules([shipped_rules_dir(), *folders])
    except RuleError as exc:
        return str(exc).splitlines()
    problems = []
    for rule in ruleset.active:
        for which, should in (("pass", False), ("fail", True)):
            if not example_rows(rule, which):
                continue
            try:
                outcome = run_example(ruleset, rule, which)
            except Exception as exc:  # a rule that crashes on its own example is a lint error
                problems.append(
                    f"{rule.source}: rule {rule.id!r}: its {which} example fails to run: {exc}"
                )
                continue
            if outcome.fired != should:
                verb = "does not fire on" if should else "fires on"
                problems.append(f"{rule.source}: rule {rule.id!r} {verb} its {which!r} example")
    return problems


def describe(rule: RuleSpec) -> str:
    """One line about a rule."""
    return rule.description or (rule.why or REGISTRY[rule.check].summary).split(" (")[0]


def explain(ruleset: RuleSet, rule_id: str, locale: str = DEFAULT_LOCALE) -> str:
    """What a rule checks, why, and an example of a passing and a failing row."""
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    if rule is None:
        raise RuleError(f"no rule {rule_id!r}; `tracker-sync rules list` shows them")
    kind = REGISTRY[rule.check]
    params = rule.params.model_dump(exclude_defaults=True) if rule.params is not None else {}
    lines = [
        f"{rule.id}  ({rule.severity}{'' if rule.enabled else ', disabled'})  defined at {rule.source}",
        "",
        f"checks:   {rule.check} — {kind.summary}",
    ]
    if rule.columns:
        lines.append(f"columns:  {', '.join(rule.columns)}")
    if params:
        lines.append(f"params:   {params}")
    if rule.when:
        lines.append(f"when:     {rule.when}")
    lines.append(f"message:  {rule.text(locale)}")
    if rule.why:
        lines += ["", f"why:      {rule.why}"]
    for which in ("pass", "fail"):
        rows = example_rows(rule, which)
        if not rows:
            continue
        outcome = run_example(ruleset, rule, which, locale)
        lines += [
            "",
            f"{'passing' if which == 'pass' else 'failing'} example (as of {EXAMPLE_AS_OF}):",
        ]
        ex = (rule.examples or {})[which]  # type: ignore[index]
        for i, change in enumerate(ex if isinstance(ex, list) else [ex]):
            shown = ", ".join(f"{k}={v!r}" for k, v in change.items()) or "(the base row)"
            lines.append(f"  row {i + 2}: {shown}")
        hits = outcome.findings[outcome.findings["rule"] == rule.id]
        if len(hits):
            lines += [
                f"  → row {h.row} {h.column}: {h.message}" for h in hits.itertuples(index=False)
            ]
        else:
            lines.append("  → no finding")
    return "\n".join(lines)

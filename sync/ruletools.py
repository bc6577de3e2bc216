"""Rule tooling behind ``tracker-sync rules``: list, lint, explain, and the rules' own examples."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .checks import REGISTRY, Context
from .defaults import DEFAULT_LOCALE
from .errors import RuleError
from .i18n import text
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
    """One line about a rule (English, plain text)."""
    return plain(rule.description or (rule.why_text("en") or REGISTRY[rule.check].summary)).split(
        " ("
    )[0]


def plain(text_: str) -> str:
    """Docstring text as plain text: reStructuredText's ``literal`` marks dropped.

    >>> plain("must not contain a match of ``regex``.")
    'must not contain a match of regex.'
    """
    return re.sub(r"``([^`]*)``", r"\1", text_).replace("`", "")


#: What each check kind does, in Chinese (English: the kind's docstring).
KIND_SUMMARY_ZH = {
    "ambiguous": "日期有两种读法(3/2/25:2月3日或3月2日),且该列其他日期不能确定日和月谁在前;{readings} 列出两种读法。",
    "calculated": "公式单元格必须有电子表格程序算出的结果(脚本写出、从未用 Excel 或 LibreOffice 打开过的文件没有结果,读作空值)。",
    "compare": "两格都填写时,“列 运算符 另一列(+ 偏移天数)”必须成立;另一列可以是 today。不写 column 时逐一比较 columns 中的列。",
    "dependency": "在 column 中写了前置任务(任务ID、行号或核心任务/描述文字,多个用 、,;/ 分隔)的任务,开始日必须比每个前置任务的计划完成晚至少 lead_days 个工作日(按运行的日历计算)。",
    "flag": "规则的 when 条件成立的每一行都报告:条件本身就是检查。",
    "group_sum": "按组(如渠道)汇总,sum 列的合计不得超过按 limit_agg 汇总的 limit;超出的组的每一行都报告。",
    "implies": "when 成立的行,then 也必须成立(规则的 when 是前提)。",
    "length": "已填写单元格的文字长度(不计空格)必须在 min 到 max 之间。",
    "lookup": "每个已填写的单元格(用 split 时逐段)必须出现在名单中:规则文件旁的文本文件(每行一个值)或另一个工作表的一列。",
    "not_pattern": "已填写的单元格不能包含正则表达式 regex 的匹配。",
    "one_of": "已填写的单元格必须是 values 之一(去掉首尾空格比较,不区分大小写和全角半角)。",
    "pattern": "已填写的单元格必须包含正则表达式 regex 的匹配(全角字符先转为半角)。",
    "range": "数字必须在 [min, max] 之内。",
    "required": "单元格不能为空(空白、-、/、NA、N/A、无 都算空)。",
    "type": "已填写的单元格必须能按列的类型读取(日期、百分比、状态、数字);有两种读法的日期交给 ambiguous。",
    "unique": "任意两行在 columns 的所有列上不能相同;后面的行被报告,{first} 指出第一行。",
    "workday": "日期必须是运行日历中的工作日(calendar.*:国家法定节假日和调休、公司自己的假期、工作周)。没有日历(calendar.country: none)时每天都是工作日。",
}

_LABELS = {
    "zh-CN": {
        "defined": "定义于",
        "disabled": "已停用",
        "checks": "检查:",
        "columns": "列:",
        "params": "参数:",
        "when": "条件:",
        "message": "提示:",
        "why": "原因:",
        "pass": "通过的示例(统计日期 {day}):",
        "fail": "不通过的示例(统计日期 {day}):",
        "row": "第 {row} 行:",
        "base": "(基准行)",
        "none": "→ 无问题",
        "hit": "→ 第 {row} 行 {column}:{message}",
    },
    "en": {
        "defined": "defined at",
        "disabled": "disabled",
        "checks": "checks:",
        "columns": "columns:",
        "params": "params:",
        "when": "when:",
        "message": "message:",
        "why": "why:",
        "pass": "passing example (as of {day}):",
        "fail": "failing example (as of {day}):",
        "row": "row {row}:",
        "base": "(the base row)",
        "none": "→ no finding",
        "hit": "→ row {row} {column}: {message}",
    },
}


def explain(ruleset: RuleSet, rule_id: str, locale: str = DEFAULT_LOCALE) -> str:
    """What a rule checks, why, and an example of a passing and a failing row, as plain text in
    ``locale`` (columns by their headers in that locale)."""
    rule = next((r for r in ruleset.rules if r.id == rule_id), None)
    if rule is None:
        raise RuleError(f"no rule {rule_id!r}; `tracker-sync rules list` shows them")
    words = _LABELS.get(locale, _LABELS["en"])
    keys = ("checks", "columns", "params", "when", "message", "why")
    width = max(_width(words[k]) for k in keys) + 2

    def field(key: str, value: str) -> str:
        label = words[key]
        return f"{label}{' ' * (width - _width(label))}{value}"

    def title(name: str) -> str:
        spec = ruleset.columns.get(name)
        return spec.title(locale) if spec is not None else name

    kind = REGISTRY[rule.check]
    summary = KIND_SUMMARY_ZH.get(rule.check) if locale == "zh-CN" else None
    params = rule.params.model_dump(exclude_defaults=True) if rule.params is not None else {}
    severity = text(locale, f"severity.{rule.severity}")
    state = "" if rule.enabled else f", {words['disabled']}"
    lines = [
        f"{rule.id}  ({severity}{state})  {words['defined']} {rule.source}",
        "",
        field("checks", f"{rule.check} — {summary or plain(kind.summary)}"),
    ]
    if rule.columns:
        lines.append(
            field(
                "columns",
                "、".join(title(c) for c in rule.columns)
                if locale == "zh-CN"
                else ", ".join(title(c) for c in rule.columns),
            )
        )
    if params:
        lines.append(
            field("params", "; ".join(f"{k} = {_plain_value(v)}" for k, v in params.items()))
        )
    if rule.when:
        lines.append(field("when", _plain_value(rule.when)))
    lines.append(field("message", rule.text(locale)))
    why = rule.why_text(locale)
    if why:
        lines += ["", field("why", plain(why))]
    for which in ("pass", "fail"):
        rows = example_rows(rule, which)
        if not rows:
            continue
        outcome = run_example(ruleset, rule, which, locale)
        lines += ["", words[which].format(day=EXAMPLE_AS_OF.isoformat())]
        ex = (rule.examples or {})[which]  # type: ignore[index]
        for i, change in enumerate(ex if isinstance(ex, list) else [ex]):
            shown = ", ".join(f"{title(k)} = {_plain_value(v)}" for k, v in change.items())
            lines.append(f"  {words['row'].format(row=i + 2)} {shown or words['base']}")
        hits = outcome.findings[outcome.findings["rule"] == rule.id]
        if len(hits):
            lines += [
                "  " + words["hit"].format(row=h.row, column=h.column, message=h.message)
                for h in hits.itertuples(index=False)
            ]
        else:
            lines.append("  " + words["none"])
    return "\n".join(lines)


def _width(s: str) -> int:
    """Columns ``s`` takes in a terminal (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _plain_value(v: Any) -> str:
    """A parameter or example value as plain text (a mapping or list as compact JSON)."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)

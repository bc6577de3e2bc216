"""Adopt a team's own tracker: propose how its columns and status words map to the known ones,
and write a config and a rule folder the team can read and edit (``tracker-sync adopt``).

Pure at its core: :func:`propose` takes a grid (what a backend read) and the rule set and
returns an :class:`Adoption`; :func:`files` renders it as the text of ``config.yaml`` and
``<rules>/columns.yaml``. The command never writes to the tracker.

How a header is mapped, strongest first:

1. **alias** — the header is a known spelling of a column (``rules/columns.yaml`` aliases, any
   locale), the same match a run uses;
2. **similar** — the header contains a known spelling or is close to one (``负责人(主)``,
   ``Task owner``, ``计划开始日``);
3. **values** — what the column holds: mostly dates (two such columns become the planned start
   and finish; a lone one the planned finish, the day the task is due), mostly percentages (progress), mostly status words (status), short
   person names (owner), or distinct text (the task).

A canonical column goes to one header only (the strongest claim, then the leftmost).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .i18n import is_generated_header
from .model import Grid
from .parse import cell_text, parse_date_value, parse_percent_value
from .rules import STATUS_IDS, RuleSet, header_keys
from .text import fold

#: How many rows below the header the value-based guesses look at.
SAMPLE_ROWS = 200
_SCAN_ROWS = 30

#: Words in a team's status that point at a canonical id (checked in this order).
STATUS_HINTS: tuple[tuple[str, str], ...] = (
    ("on_hold", "暂停 挂起 搁置 等待 hold pause block wait"),
    ("delayed", "延期 延迟 逾期 超期 delay late overdue"),
    ("completed", "完成 已结 关闭 上线 已发 发布 done complete closed finish publish live shipped"),
    (
        "not_started",
        "未开始 待开始 未启动 计划中 想法 待定 not_start todo to_do planned idea backlog",
    ),
    (
        "in_progress",
        "进行 处理 审核 执行 跟进 草稿 编辑 progress doing review wip ongoing active draft writing editing",
    ),
)
_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$|^[A-Z][a-z]+( [A-Z][a-z]+)?$")


@dataclass(frozen=True)
class Mapping:
    """One header cell and what it was mapped to (``field`` None: left to the team)."""

    column: str  # letter
    header: str
    field: str | None
    how: str  # alias | similar | values | -


@dataclass(frozen=True)
class StatusWord:
    word: str
    count: int
    status: str | None  # canonical id, None when nothing suggests one
    known: bool  # already in the vocabulary


@dataclass(frozen=True)
class Adoption:
    """What ``adopt`` proposes for one tracker tab."""

    worksheet: str
    header_row: int  # 1-based
    locale: str
    columns: list[Mapping]
    absent: list[str]  # known columns the sheet does not have
    not_required: list[str]  # mandatory columns turned off because they are absent
    statuses: list[StatusWord]
    inactive_rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mapped(self) -> dict[str, str]:
        """canonical field -> header, for the mapped ones."""
        return {m.field: m.header for m in self.columns if m.field is not None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def propose(grid: Grid, ruleset: RuleSet) -> Adoption:
    """Map ``grid``'s header row and status words onto ``ruleset``'s columns."""
    sheet_columns = [n for n, s in ruleset.columns.items() if s.source == "sheet"]
    row = _header_row(grid, ruleset)
    header = grid.rows[row] if row < len(grid.rows) else []
    body = [r for r in grid.rows[row + 1 : row + 1 + SAMPLE_ROWS] if not _repeats(r, header)]
    cells = [
        (c, str(v).strip())
        for c, v in enumerate(header)
        if v is not None and str(v).strip() and not is_generated_header(v)
    ]
    claims: dict[int, tuple[str, str, int]] = {}  # col -> (field, how, strength)
    index = ruleset.alias_index()
    for c, text in cells:
        name = next((index[k] for k in header_keys(text) if k in index), None)
        if name in sheet_columns:
            claims[c] = (name, "alias", 3)
            continue
        similar = _similar(text, ruleset, sheet_columns)
        if similar is not None:
            claims[c] = (similar, "similar", 2)
    taken = _resolve(claims)
    values = _by_values(
        [(c, t) for c, t in cells if c not in taken.values()],
        body,
        grid,
        row,
        ruleset,
        set(taken),
    )
    for name, c in values.items():
        taken[name] = c
    how = {c: claims[c][1] for c in claims if taken.get(claims[c][0]) == c}
    how.update({c: "values" for c in values.values()})
    by_col = {c: name for name, c in taken.items()}
    from .cells import col_letter

    mappings = [Mapping(col_letter(c), t, by_col.get(c), how.get(c, "-")) for c, t in cells]
    absent = [n for n in sheet_columns if n not in taken]
    not_required = [n for n in absent if ruleset.columns[n].required]
    _, inactive = ruleset.for_sheet(list(taken))
    statuses = _status_words(grid, row, taken.get("status"), ruleset)
    locale = "zh-CN" if any(_cjk(t) for _, t in cells) else "en"
    return Adoption(
        worksheet=grid.title,
        header_row=row + 1,
        locale=locale,
        columns=mappings,
        absent=absent,
        not_required=not_required,
        statuses=statuses,
        inactive_rules=[{"id": i.id, "missing": list(i.missing)} for i in inactive],
    )


def _header_row(grid: Grid, ruleset: RuleSet) -> int:
    """The row (0-based) with the most known headers; else the first row of 3+ text cells."""
    index = ruleset.alias_index()
    best, score = -1, 0
    for r, row in enumerate(grid.rows[:_SCAN_ROWS]):
        known = sum(1 for v in row if v is not None and any(k in index for k in header_keys(v)))
        if known > score:
            best, score = r, known
    if best >= 0:
        return best
    for r, row in enumerate(grid.rows[:_SCAN_ROWS]):
        texts = [v for v in row if isinstance(v, str) and v.strip()]
        if len(texts) >= 3:
            return r
    return 0


def _similar(text: str, ruleset: RuleSet, names: list[str]) -> str | None:
    """A column whose known spelling the header contains, or is close to (ratio ≥ 0.8)."""
    key = fold(re.sub(r"[(（\[【].*?[)）\]】]", "", text), spaces=False)
    if len(key) < 2:
        return None
    best: tuple[float, str] | None = None
    for name in names:
        spec = ruleset.columns[name]
        for alias in [name.replace("_", " "), *spec.aliases, *spec.header.values()]:
            a = fold(alias, spaces=False)
            if len(a) < 2:
                continue
            if a in key:
                score = 0.9 + len(a) / 100  # the longest contained spelling wins
            else:
                score = difflib.SequenceMatcher(None, key, a).ratio()
            if score >= 0.8 and (best is None or score > best[0]):
                best = (score, name)
    return best[1] if best else None


def _resolve(claims: dict[int, tuple[str, str, int]]) -> dict[str, int]:
    """field -> column: the strongest claim on a field wins, then the leftmost column."""
    out: dict[str, int] = {}
    for c, (name, _, _) in sorted(claims.items(), key=lambda kv: (-kv[1][2], kv[0])):
        out.setdefault(name, c)
    return out


def _by_values(
    cells: list[tuple[int, str]],
    body: list[list[Any]],
    grid: Grid,
    header_row: int,
    ruleset: RuleSet,
    taken: set[str],
) -> dict[str, int]:
    """Fields guessed from what unmapped columns hold."""
    year = dt.date.today().year
    words = ruleset.status_words()
    out: dict[str, int] = {}

    def free(name: str) -> bool:
        return name not in taken and name not in out

    date_cols: list[int] = []
    for c, _ in cells:
        values = [r[c] for r in body if c < len(r) and r[c] is not None and cell_text(r[c]).strip()]
        if len(values) < 2:
            continue
        n = len(values)
        dates = sum(
            1
            for v in values
            if any(parse_date_value(v, year, order)[0] is not None for order in ("dmy", "mdy"))
        )
        numbers = sum(1 for v in values if isinstance(v, int | float) and not isinstance(v, bool))
        percents = sum(
            1
            for r0, v in enumerate(values)
            if isinstance(v, str)
            and v.strip().endswith("%")
            and parse_percent_value(v)[0] is not None
        ) + sum(
            1
            for r in range(header_row + 1, header_row + 1 + len(body))
            if (r, c) in grid.percent_cells
        )
        statuses = sum(1 for v in values if fold(cell_text(v), spaces=False) in words)
        if dates >= 0.8 * n and numbers < n:
            date_cols.append(c)
        elif percents >= 0.6 * n and free("progress"):
            out["progress"] = c
        elif statuses >= 0.5 * n and free("status"):
            out["status"] = c
        elif sum(1 for v in values if _NAME.match(cell_text(v).strip())) >= 0.8 * n and free(
            "owner"
        ):
            out["owner"] = c
    # two date columns are the planned start and finish; a lone one is the day it is due
    wanted = [n for n in ("planned_start", "planned_finish") if free(n)]
    if len(date_cols) == 1 and wanted:
        out[wanted[-1]] = date_cols[0]
    else:
        for name, c in zip(wanted, date_cols, strict=False):
            out[name] = c
    # the task: the text column with the most distinct values, if none was found
    if free("task"):
        best: tuple[float, int] | None = None
        for c, _ in cells:
            if c in out.values():
                continue
            values = [cell_text(r[c]) for r in body if c < len(r) and r[c] is not None]
            texts = [v for v in values if v.strip() and not re.fullmatch(r"[\d.\s]+", v)]
            if len(texts) >= 2:
                share = len(set(texts)) / len(texts)
                if share >= 0.8 and (best is None or share > best[0]):
                    best = (share, c)
        if best is not None:
            out["task"] = best[1]
    return out


def _status_words(
    grid: Grid, header_row: int, col: int | None, ruleset: RuleSet
) -> list[StatusWord]:
    if col is None:
        return []
    words = ruleset.status_words()
    header = grid.rows[header_row]
    counts = Counter(
        cell_text(r[col]).strip()
        for r in grid.rows[header_row + 1 :]
        if col < len(r)
        and r[col] is not None
        and cell_text(r[col]).strip()
        and not _repeats(r, header)
    )
    out = []
    for word, n in counts.most_common():
        known = words.get(fold(word, spaces=False))
        out.append(StatusWord(word, n, known or _hint(word), known is not None))
    return out


def _repeats(row: list[Any], header: list[Any]) -> bool:
    """A row that repeats the header (a copied block, a print layout): half its cells or more."""
    same = sum(1 for a, b in zip(row, header, strict=False) if a is not None and a == b)
    return same * 2 >= max(1, sum(1 for v in header if v is not None))


def _hint(word: str) -> str | None:
    w = fold(word)
    for sid, hints in STATUS_HINTS:
        if any(h.replace("_", " ") in w for h in hints.split()):
            return sid
    return None


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ---------------------------------------------------------------------------- the files


def files(
    adoption: Adoption,
    ruleset: RuleSet,
    *,
    tracker: dict[str, Any],
    rules_dir: str,
    source: str,
    today: dt.date,
) -> dict[str, str]:
    """The text of the config and of the rule folder's columns file, by relative path."""
    lines = [
        f"# written by `tracker-sync adopt` on {today.isoformat()} from {source}; edit freely.",
        "# Re-running adopt shows what it would change instead of overwriting this file.",
        "tracker:",
    ]
    lines += [f"  {k}: {_yaml(v)}" for k, v in tracker.items()]
    lines += [
        f"locale: {adoption.locale}",
        f"rules: [builtin, ./{rules_dir}]",
        "",
    ]
    config = "\n".join(lines)
    cols = [
        "# The team's columns and words, over the shipped pack (rules/columns.yaml).",
        "# A column's `aliases:` here replaces the shipped list, so it repeats it after the",
        "# team's header.",
        "columns:",
    ]
    for m in adoption.columns:
        if m.field is None:
            continue
        spec = ruleset.columns[m.field]
        if any(
            k in ruleset.alias_index() and ruleset.alias_index()[k] == m.field
            for k in header_keys(m.header)[:1]
        ):
            continue  # already a known spelling: nothing to add
        aliases = [m.header, *[a for a in spec.aliases if a != m.header]]
        cols.append(f"  {m.field}:  # column {m.column} ({m.how})")
        cols.append(f"    aliases: [{', '.join(_yaml(a) for a in aliases)}]")
    for name in adoption.not_required:
        cols.append(f"  {name}:  # not in this sheet")
        cols.append("    required: false")
    if cols[-1] == "columns:":
        cols[-1] = "columns: {}"
    new_words: dict[str, list[str]] = {}
    unknown: list[str] = []
    for s in adoption.statuses:
        if s.known:
            continue
        if s.status is None:
            unknown.append(s.word)
        else:
            new_words.setdefault(s.status, []).append(s.word)
    if new_words or unknown:
        cols.append("")
        cols.append("# The team's status words (proposed from the words themselves; check them).")
        cols.append("statuses:" if new_words else "statuses: {}")
        for sid in STATUS_IDS:
            if sid in new_words:
                cols.append(f"  {sid}: [{', '.join(_yaml(w) for w in new_words[sid])}]")
        if unknown:
            cols.append(
                "# not mapped (each stays an 'unknown status' finding until you list it): "
                + ", ".join(unknown)
            )
    cols.append("")
    return {"config": config, "columns": "\n".join(cols)}


def _yaml(value: Any) -> str:
    """A YAML scalar on one line (JSON strings are valid YAML)."""
    import json

    if (
        isinstance(value, str)
        and re.fullmatch(r"[\w\u4e00-\u9fff./-]+", value)
        and not value[0].isdigit()
    ):
        return value
    return json.dumps(value, ensure_ascii=False)


def lines(adoption: Adoption) -> list[str]:
    """What ``adopt`` prints: the mapping, the absent columns, the status words, inactive rules."""
    out = [f"tab {adoption.worksheet!r}, header row {adoption.header_row}:"]
    width = max((len(m.header) for m in adoption.columns), default=0)
    for m in adoption.columns:
        target = f"→ {m.field} ({m.how})" if m.field else "→ (the team's own column)"
        out.append(f"  {m.column:>3} {m.header:<{width}}  {target}")
    if adoption.absent:
        out.append("not in this sheet: " + ", ".join(adoption.absent))
    if adoption.not_required:
        out.append("made optional (required: false): " + ", ".join(adoption.not_required))
    if adoption.statuses:
        out.append("status words:")
        for s in adoption.statuses:
            where = (
                "known"
                if s.known
                else (f"→ {s.status} (proposed)" if s.status else "→ ? (not mapped)")
            )
            out.append(f"  {s.word} ×{s.count}  {where}")
    if adoption.inactive_rules:
        ids = ", ".join(r["id"] for r in adoption.inactive_rules)
        out.append(f"rules inactive on this sheet ({len(adoption.inactive_rules)}): {ids}")
    return out


def relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` when it can be, else absolute (as the config writes it)."""
    import os

    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:
        return str(path.resolve())

"""The rule pack: column declarations and rules, loaded from YAML folders (data, not code).

A rule names a check kind; its kind-specific keys are validated by that kind's parameter model
in :data:`sync.checks.REGISTRY`. The dependency runs one way: the loader reads the registry,
the check kinds never import the rule pack (they see a ``RuleSpec`` only as a type).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import yamlio
from .checks import REGISTRY, Params, build_params
from .conditions import parse_condition, prune
from .defaults import LOCALES
from .defaults import shipped_rules_dir as shipped_rules_dir  # its home; read here too
from .errors import RuleError
from .text import fold

ColumnType = Literal["text", "date", "percent", "status", "number", "bool"]
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
#: The canonical status ids. ``on_hold`` (paused) counts as neither late nor progressing.
STATUS_IDS = ("not_started", "in_progress", "completed", "delayed", "on_hold")
#: The seed template's 14 columns, in order (section 三 of the method).
TEMPLATE_COLUMNS = (
    "phase",
    "channel",
    "task",
    "description",
    "owner",
    "planned_start",
    "planned_finish",
    "actual_start",
    "actual_finish",
    "progress",
    "status",
    "risk",
    "countermeasure",
    "remarks",
)


_HINT = re.compile(r"\([^()]*\)$")


def header_keys(text: object) -> list[str]:
    """The keys a header is matched by: itself folded (``text.fold`` without spaces), then
    without each trailing hint in brackets.

    >>> header_keys(" 当前进度（％） ")
    ['当前进度(%)', '当前进度']
    """
    key = fold(text, spaces=False)
    keys = [key]
    stripped = _HINT.sub("", key)
    while stripped and stripped != keys[-1]:
        keys.append(stripped)
        stripped = _HINT.sub("", stripped)
    return keys


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """A canonical column: its type, whether it is mandatory (``required``: the header must be
    there and every task fills it), and the headers that name it."""

    type: ColumnType = "text"
    required: bool = False
    header: dict[str, str] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    width: float | None = None
    #: "history": not a sheet column but a fact the run store derives per task (rules may use it)
    source: Literal["sheet", "history"] = "sheet"
    name: str = ""

    @field_validator("header")
    @classmethod
    def _locales(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(LOCALES)
        if unknown:
            raise ValueError(f"unknown locale {sorted(unknown)}; expected {list(LOCALES)}")
        return value

    def title(self, locale: str) -> str:
        return (
            self.header.get(locale)
            or self.header.get("en")
            or (self.aliases[0] if self.aliases else self.name)
        )


class RuleSpec(_Strict):
    """The common part of every rule; the check kind's own parameters sit beside it in YAML."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    check: str
    severity: Severity = "error"
    columns: list[str] = Field(default_factory=list)
    when: dict[str, Any] | None = None
    message: dict[str, str] = Field(default_factory=dict)
    value_column: str | None = None
    enabled: bool = True
    description: str | None = None
    #: the reason, from the method: one text, or one per locale like ``message``
    why: str | dict[str, str] | None = None
    #: one passing and one failing row (canonical field -> cell), for `rules explain` and the tests
    examples: dict[Literal["pass", "fail"], dict[str, Any] | list[dict[str, Any]]] | None = None
    params: Any = None
    source: str = ""

    @field_validator("message")
    @classmethod
    def _locales(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(LOCALES)
        if unknown:
            raise ValueError(f"unknown locale {sorted(unknown)}; expected {list(LOCALES)}")
        return value

    @field_validator("why")
    @classmethod
    def _why_locales(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        unknown = set(value) - set(LOCALES) if isinstance(value, dict) else set()
        if unknown:
            raise ValueError(f"unknown locale {sorted(unknown)}; expected {list(LOCALES)}")
        return value

    def text(self, locale: str) -> str:
        return self.message.get(locale) or self.message.get("en") or self.id

    def why_text(self, locale: str) -> str | None:
        """The rule's reason in ``locale`` (else English, else any it has)."""
        if not isinstance(self.why, dict):
            return self.why
        return self.why.get(locale) or self.why.get("en") or next(iter(self.why.values()), None)


@dataclass(frozen=True)
class InactiveRule:
    """An enabled rule that cannot run on a sheet: the columns it needs that the sheet lacks."""

    id: str
    missing: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    """Columns and rules after all folders are merged (later folders win by name / id)."""

    columns: dict[str, ColumnSpec]
    rules: list[RuleSpec]
    folders: tuple[Path, ...] = ()
    #: a word people type in a status column -> the canonical status id it means
    statuses: dict[str, str] = field(default_factory=dict)
    _alias_index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def active(self) -> list[RuleSpec]:
        """The enabled rules (``enabled: false`` switches one off)."""
        return [r for r in self.rules if r.enabled]

    def for_sheet(self, sheet_columns: Iterable[str]) -> tuple[list[RuleSpec], list[InactiveRule]]:
        """The enabled rules as they run on a sheet that has ``sheet_columns`` (canonical
        names), and those that cannot run there. Rules follow the columns that exist: a rule
        never yields a finding because a column is missing.

        - a per-column check kind (``required``, ``pattern``, ...) runs on the columns of its
          ``columns`` the sheet has;
        - a branch of ``any`` in ``when`` / ``then`` about a missing column is dropped;
        - anything else the rule needs (other columns, its condition, ``{col:...}`` in its
          message, its parameters' columns) must be there, or the rule is inactive.

        History columns (``source: history``) always exist.

        >>> rs = load_rules([shipped_rules_dir()])
        >>> runnable, inactive = rs.for_sheet(["task", "owner", "planned_start", "planned_finish"])
        >>> next(r.columns for r in runnable if r.id == "required-fields")
        ['task', 'owner', 'planned_start', 'planned_finish']
        >>> next(i for i in inactive if i.id == "completed-truthful")
        InactiveRule(id='completed-truthful', missing=('status', 'progress', 'actual_finish'))
        """
        available = set(sheet_columns) | {
            n for n, spec in self.columns.items() if spec.source == "history"
        }
        runnable: list[RuleSpec] = []
        inactive: list[InactiveRule] = []
        for rule in self.active:
            missing = tuple(
                c for c in dict.fromkeys(referenced_columns(rule)) if c not in available
            )
            if not missing:
                runnable.append(rule)
                continue
            narrowed = _narrowed(rule, available)
            if narrowed is None:
                inactive.append(InactiveRule(rule.id, missing))
            else:
                runnable.append(narrowed)
        return runnable, inactive

    def alias_index(self) -> dict[str, str]:
        """normalised alias -> canonical column name (the column name itself is an alias too)."""
        if not self._alias_index:
            for name, spec in self.columns.items():
                if spec.source == "history":
                    continue
                for alias in [name, *spec.aliases, *spec.header.values()]:
                    for key in header_keys(alias)[:1]:
                        self._alias_index.setdefault(key, name)
        return self._alias_index

    def status_words(self) -> dict[str, str]:
        """normalised status word -> canonical status id (the ids themselves, then ``statuses``).

        >>> RuleSet({}, [], statuses={"On hold": "on_hold"}).status_words()["onhold"]
        'on_hold'
        """
        words: dict[str, str] = {}
        for sid in STATUS_IDS:
            words[fold(sid, spaces=False)] = sid
            words[fold(sid.replace("_", " "), spaces=False)] = sid
        for word, sid in self.statuses.items():
            words[fold(word, spaces=False)] = sid
        return words


_TOP_KEYS = {"columns", "rules", "statuses"}


@dataclass
class _Pending:
    """A column or rule definition merged over the folders, remembering where each key came from."""

    raw: dict[str, Any]
    origin: dict[str, tuple[yamlio.Located, list[str | int]]]

    def merge(self, raw: dict[str, Any], doc: yamlio.Located, loc: list[str | int]) -> None:
        if "check" in raw and raw["check"] != self.raw.get("check"):
            # a different check kind: the earlier kind's own parameters no longer apply
            self.raw = {k: v for k, v in self.raw.items() if k in _COMMON}
        self.raw.update(raw)
        self.origin.update({k: (doc, loc) for k in raw})

    def where(self, key: Any = None, rest: tuple[Any, ...] = ()) -> str:
        doc, loc = self.origin.get(key) or next(iter(self.origin.values()))
        return doc.where([*loc, key, *rest] if key in self.origin else loc)

    def errors(self, exc: ValidationError, what: str) -> RuleError:
        lines = []
        for err in exc.errors():
            key = err["loc"][0] if err["loc"] else None
            path = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(
                err["type"],
                err["msg"].removeprefix("Value error, "),  # our validators' own words
            )
            lines.append(f"{self.where(key, tuple(err['loc'][1:]))}: {path}: {msg}")
        return RuleError(f"invalid {what}:\n" + "\n".join(lines))


def load_rules(folders: list[Path]) -> RuleSet:
    """Load every ``*.yaml`` in each folder, in order. A later definition of the same column
    (by name) or rule (by id) is merged over the earlier one: give only the keys to change.

    >>> rs = load_rules([shipped_rules_dir()])
    >>> "owner" in rs.columns
    True
    """
    columns: dict[str, _Pending] = {}
    rules: dict[str, _Pending] = {}
    statuses: dict[str, str] = {}
    for folder in folders:
        if not folder.is_dir():
            raise RuleError(f"{folder}: rule folder not found")
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            doc = yamlio.load(path)
            data = doc.data if doc.data is not None else {}
            if not isinstance(data, dict):
                raise RuleError(
                    f"{doc.where([])}: a rule file is a mapping with 'columns:' and/or 'rules:'"
                )
            for key in data:
                if key not in _TOP_KEYS:
                    raise RuleError(
                        f"{doc.where([key])}: unknown key {key!r}; expected one of {sorted(_TOP_KEYS)}"
                    )
            raw_columns = data.get("columns") or {}
            if not isinstance(raw_columns, dict):
                raise RuleError(
                    f"{doc.where(['columns'])}: 'columns' must be a mapping of name: definition"
                )
            for name, raw in raw_columns.items():
                loc: list[str | int] = ["columns", str(name)]
                if not isinstance(raw, dict):
                    raise RuleError(f"{doc.where(loc)}: column {name!r} must be a mapping")
                columns.setdefault(str(name), _Pending({}, {})).merge(raw, doc, loc)
            raw_rules = data.get("rules") or []
            if not isinstance(raw_rules, list):
                raise RuleError(f"{doc.where(['rules'])}: 'rules' must be a list")
            for i, raw in enumerate(raw_rules):
                loc = ["rules", i]
                if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                    raise RuleError(
                        f"{doc.where(loc)}: each rule is a mapping with an id, a check, ..."
                    )
                pending = rules.pop(raw["id"], None) or _Pending({}, {})
                pending.merge(raw, doc, loc)
                rules[raw["id"]] = pending  # an override takes the later position
            statuses.update(_status_words(doc, data.get("statuses")))
    built_columns = {name: _build_column(name, p) for name, p in columns.items()}
    mandatory = [name for name, spec in built_columns.items() if spec.required]
    ruleset = RuleSet(
        columns=built_columns,
        rules=[_mandatory_columns(_build_rule(p), mandatory) for p in rules.values()],
        folders=tuple(folders),
        statuses=statuses,
    )
    _check_references(ruleset)
    return ruleset


def _mandatory_columns(rule: RuleSpec, mandatory: list[str]) -> RuleSpec:
    """A ``required`` rule without ``columns`` checks the columns the columns files declare
    ``required: true``: whether a column is mandatory is said once, there."""
    if rule.check == "required" and not rule.columns:
        return rule.model_copy(update={"columns": mandatory})
    return rule


def _status_words(doc: yamlio.Located, raw: Any) -> dict[str, str]:
    """A file's ``statuses:`` (status id -> the words that mean it) as word -> id. Later files
    and folders add words, and may move a word to another id; a word listed under two ids of
    one file is an error."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RuleError(
            f"{doc.where(['statuses'])}: 'statuses' maps a status id to the words that mean it, "
            f"e.g. on_hold: [暂停, On hold]"
        )
    words: dict[str, str] = {}
    for sid, items in raw.items():
        loc: list[str | int] = ["statuses", str(sid)]
        if sid not in STATUS_IDS:
            raise RuleError(
                f"{doc.where(loc)}: statuses: unknown status id {sid!r}; expected one of {list(STATUS_IDS)}"
            )
        if not isinstance(items, list):
            raise RuleError(f"{doc.where(loc)}: statuses: {sid}: a list of words")
        for i, word in enumerate(items):
            if not isinstance(word, str | int | float) or isinstance(word, bool):
                raise RuleError(f"{doc.where([*loc, i])}: statuses: {sid}: {word!r} is not a word")
            key = str(word)
            if words.get(key, sid) != sid:
                raise RuleError(
                    f"{doc.where([*loc, i])}: statuses: {key!r} is listed under both "
                    f"{words[key]} and {sid}"
                )
            words[key] = str(sid)
    return words


def _build_column(name: str, pending: _Pending) -> ColumnSpec:
    try:
        return ColumnSpec.model_validate({**pending.raw, "name": name})
    except ValidationError as exc:
        raise pending.errors(exc, f"column {name!r}") from None


_COMMON = set(RuleSpec.model_fields) - {"params", "source"}


def _build_rule(pending: _Pending) -> RuleSpec:
    raw = pending.raw
    common = {k: v for k, v in raw.items() if k in _COMMON}
    extra = {k: v for k, v in raw.items() if k not in _COMMON}
    rid = raw.get("id")
    try:
        spec = RuleSpec.model_validate({**common, "source": pending.where("id")})
    except ValidationError as exc:
        raise pending.errors(exc, f"rule {rid!r}") from None
    try:
        params = build_params(spec.check, extra)
    except KeyError as exc:
        raise RuleError(f"{pending.where('check')}: rule {rid!r}: {exc.args[0]}") from None
    except ValidationError as exc:
        raise pending.errors(exc, f"rule {rid!r}") from None
    if spec.when is not None:
        try:
            parse_condition(spec.when)
        except ValueError as exc:
            raise RuleError(f"{pending.where('when')}: rule {rid!r}: when: {exc}") from None
    try:
        params = params.resolved(Path(pending.where("values_from").rsplit(":", 1)[0]).parent)
    except ValueError as exc:
        raise RuleError(f"{pending.where('values_from')}: rule {rid!r}: {exc}") from None
    return spec.model_copy(update={"params": params})


#: ``{col:NAME}`` in a message is another cell of the row as typed; ``{days:NAME}`` the days
#: from that date column to the as-of day (positive when the date is past).
PLACEHOLDER = re.compile(r"\{(col|days):([A-Za-z_][A-Za-z0-9_]*)\}")


def referenced_columns(rule: RuleSpec) -> list[str]:
    """Every column a rule names: its columns, message placeholders, condition, parameters.

    >>> rule = RuleSpec(id="x", check="required", columns=["owner"],
    ...                 message={"en": "{col:task} has no owner"}, when={"column": "status", "eq": "delayed"})
    >>> referenced_columns(rule)
    ['owner', 'task', 'status']
    """
    cols = list(rule.columns)
    for text in rule.message.values():
        cols += [name for _, name in PLACEHOLDER.findall(text)]
    if rule.when is not None:
        cols += parse_condition(rule.when)
    if rule.value_column:
        cols.append(rule.value_column)
    if isinstance(rule.params, Params):
        cols += rule.params.columns()
    return cols


def _narrowed(rule: RuleSpec, available: set[str]) -> RuleSpec | None:
    """``rule`` restricted to the ``available`` columns, or None when it cannot run there
    (see :meth:`RuleSet.for_sheet`)."""
    columns = rule.columns
    if REGISTRY[rule.check].per_column:
        columns = [c for c in rule.columns if c in available]
        if rule.columns and not columns:
            return None
    if any(c not in available for c in columns):
        return None
    if rule.value_column and rule.value_column not in available:
        return None
    for text in rule.message.values():
        if any(name not in available for _, name in PLACEHOLDER.findall(text)):
            return None
    when = None if rule.when is None else prune(rule.when, available)
    if rule.when is not None and when is None:
        return None
    params = rule.params
    if isinstance(params, Params):
        params = params.for_columns(available)
        if params is None:
            return None
    return rule.model_copy(update={"columns": columns, "when": when, "params": params})


def _check_references(ruleset: RuleSet) -> None:
    """Every column a rule names must be declared."""
    known = set(ruleset.columns)
    for rule in ruleset.rules:
        for col in referenced_columns(rule):
            if col not in known:
                raise RuleError(
                    f"{rule.source}: rule {rule.id!r} names unknown column {col!r}; declared columns: {sorted(known)}"
                )

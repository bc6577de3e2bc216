"""YAML loading that remembers where every key and item came from (file and line)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


@dataclass(frozen=True)
class Located:
    """A parsed YAML document plus its node tree, to turn a key path into a line number."""

    data: Any
    node: yaml.Node | None
    path: Path

    def line(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the value at ``loc`` (keys and list indices), or its nearest parent.

        >>> doc = loads("a:\\n  b: 1\\n", Path("x.yaml"))
        >>> doc.line(["a", "b"])
        2
        """
        node = self.node
        best = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                nxt = None
                for key, value in node.value:
                    if str(key.value) == str(part):
                        # a bad key is reported on the key's line, its value one level deeper
                        nxt = value
                        best = key.start_mark.line + 1
                        break
                node = nxt
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
                if node is not None:
                    best = node.start_mark.line + 1
            else:
                node = None
            if node is None:
                break
        return best

    def where(self, loc: Sequence[str | int]) -> str:
        """``file:line`` for ``loc``."""
        line = self.line(loc)
        return f"{self.path}:{line}" if line else str(self.path)


#: libyaml's safe loader when PyYAML was built with it (several times faster), else the pure one
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads(text: str, path: Path) -> Located:
    """Parse YAML text; syntax errors become ConfigError naming file and line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if node is not None and _expanded(node, {}) > MAX_VALUES:
        raise ConfigError(
            f"{path}:{node.start_mark.line + 1}: the YAML's anchors and aliases (&name / *name) "
            f"expand to more than {MAX_VALUES:,} values; write it out without them"
        )
    return Located(data=data, node=node, path=path)


#: A config or rule file that expands to more values than this is refused (an alias bomb).
MAX_VALUES = 200_000


def _expanded(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values ``node`` stands for once every alias is expanded (counted, not built).

    >>> ten = "[" + ", ".join(["x"] * 10) + "]"
    >>> bomb = yaml.compose(f"a: &a {ten}\\nb: &b [{', '.join(['*a'] * 10)}]\\nc: [{', '.join(['*b'] * 10)}]")
    >>> _expanded(bomb, {})
    1237
    """
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = MAX_VALUES + 1  # a cycle counts as too many
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded(k, memo) + _expanded(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded(v, memo) for v in node.value)
    else:
        size = 1
    memo[key] = min(size, MAX_VALUES + 1)
    return memo[key]


def load(path: Path) -> Located:
    """Read and parse a YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return loads(text, path)


def format_pydantic_errors(
    doc: Located, errors: Sequence[Any], prefix: Sequence[str | int] = ()
) -> str:
    """One line per pydantic error: ``file:line: key.path: message``."""
    lines = []
    for err in errors:
        loc = [
            *prefix,
            *[p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")],
        ]
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")  # our validators' own words
        lines.append(f"{doc.where(loc)}: {dotted}: {msg}")
    return "\n".join(lines)

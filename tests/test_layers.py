"""Layers: the package's import graph has no cycle and every module imports only downwards.

Every ``sync`` import is collected from the source with ``ast``: at module level and inside
functions alike (an import inside a function is still a dependency, it only runs later), but
not under ``if TYPE_CHECKING:`` (annotations only). Imports by name at run time (entry points,
``importlib``) are not seen. Importing ``sync.a.b`` is not counted as importing the package
``sync.a`` itself, so a package may load its submodules lazily.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

SYNC = Path(__file__).resolve().parent.parent / "sync"

#: Lowest first. A module may import modules of its own layer or of a lower one. Names are
#: relative to ``sync`` (``backends.*`` is every module under sync/backends/, ``sync`` the
#: package's own ``__init__``); a listed module that does not exist is skipped.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "base",
        {
            "errors",
            "defaults",
            "text",
            "cells",
            "model",
            "yamlio",
            "i18n",
            "logs",
            "style",
            "registry",
            # the per-credential request limiters every Google request passes (no sync import)
            "quota",
            # the garbage collector paused around a stage (no sync import)
            "collector",
        },
    ),
    # the notify: section is part of the config (sync/notify/config.py imports nothing of sync)
    ("config", {"config", "notify.config", "workdays"}),
    # the rule language: check kinds know conditions; the rule pack reads the check registry;
    # the parser reads the rule pack's columns
    ("conditions", {"conditions"}),
    ("checks", {"checks"}),
    ("rules", {"rules"}),
    ("parse", {"parse"}),
    (
        "stages",
        {
            "validate",
            "compute",
            "timeline",
            "summarize",
            "summary_layout",
            "render",
            "plan",
            "adopt",
            "explain",
        },
    ),
    # unchanged: what decides a run's outcome, hashed (the run store keeps it; run compares)
    ("pure core", {"pipeline", "report", "unchanged"}),
    # notify decides from the run store and sends: a seam beside history
    ("seams", {"backends", "backends.*", "history", "notify", "notify.*"}),
    # the weekly report (tracker-sync report) reads a run and the store like a command does
    # the fleet runs trackers (run) and writes the portfolio roll-up through a backend
    ("orchestration", {"run", "demo", "ruletools", "weekly", "weekly.*", "fleet", "portfolio"}),
    ("shell", {"cli", "sync"}),
]

#: What a backend must never import, directly or through another module: a backend reads and
#: applies; the stages between are the pure core's.
STAGES = {
    "parse",
    "validate",
    "compute",
    "timeline",
    "summarize",
    "summary_layout",
    "render",
    "plan",
    "pipeline",
    "report",
    "run",
}

#: Modules known to break the layering, with why; each is an expected failure until fixed.
KNOWN: dict[str, str] = {}


# ---------------------------------------------------------------------------- the graph


def module_name(path: Path, root: Path = SYNC) -> str:
    """``sync/backends/xlsx.py`` -> ``backends.xlsx``; ``sync/__init__.py`` -> ``sync``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "sync"


def _is_package(name: str, root: Path = SYNC) -> bool:
    return name == "sync" or (root / name.replace(".", "/") / "__init__.py").exists()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def sync_imports(source: str, name: str, is_package: bool, known: Iterable[str]) -> set[str]:
    """The ``sync`` modules ``source`` (the module ``name``) imports, as names relative to
    ``sync``. ``from .x import y`` counts as importing ``x.y`` when that is a module."""
    known = set(known)
    package = ["sync", *([] if name == "sync" else name.split("."))]
    if not is_package:
        package.pop()
    found: set[str] = set()

    def add(dotted: str) -> None:
        if dotted == "sync" or dotted.startswith("sync."):
            rel = dotted.removeprefix("sync").removeprefix(".") or "sync"
            if rel != name:
                found.add(rel)

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_one(other)
            else:
                visit_one(child)

    def visit_one(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                rel = sub.removeprefix("sync.")
                add(sub if rel in known else target)
        visit(node)

    visit(ast.parse(source))
    return found


def import_graph(root: Path = SYNC) -> dict[str, set[str]]:
    """module -> the sync modules it imports, for every module under ``root``."""
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    return {
        name: sync_imports(
            path.read_text(encoding="utf-8"), name, path.name == "__init__.py", paths
        )
        for name, path in paths.items()
    }


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A shortest import chain from ``start`` back to itself, or None."""
    paths = {dep: [start, dep] for dep in sorted(graph.get(start, ()))}
    queue = list(paths)
    while queue:
        node = queue.pop(0)
        if node == start:
            return paths[node]
        for dep in sorted(graph.get(node, ())):
            if dep not in paths:
                paths[dep] = [*paths[node], dep]
                queue.append(dep)
    return None


def path_to(graph: dict[str, set[str]], start: str, targets: set[str]) -> list[str] | None:
    """A shortest import chain from ``start`` to any of ``targets``, or None."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for dep in sorted(graph.get(node, ())):
            if dep in paths:
                continue
            paths[dep] = [*paths[node], dep]
            if dep in targets:
                return paths[dep]
            queue.append(dep)
    return None


def layer_of(name: str) -> int | None:
    for i, (_, members) in enumerate(LAYERS):
        if name in members or any(m.endswith(".*") and name.startswith(m[:-1]) for m in members):
            return i
    return None


GRAPH = import_graph()
MODULES = sorted(GRAPH)
BACKENDS = [m for m in MODULES if m == "backends" or m.startswith("backends.")]


def _param(module: str) -> object:
    marks = [pytest.mark.xfail(strict=False, reason=KNOWN[module])] if module in KNOWN else []
    return pytest.param(module, id=module, marks=marks)


# ---------------------------------------------------------------------------- the rules


@pytest.mark.parametrize("module", MODULES)
def test_module_is_on_no_import_cycle(module: str) -> None:
    cycle = cycle_through(GRAPH, module)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) is None] == [], "add them to LAYERS"


@pytest.mark.parametrize("module", [_param(m) for m in MODULES])
def test_module_imports_only_its_layer_or_lower(module: str) -> None:
    own = layer_of(module)
    if own is None:
        pytest.skip("not in LAYERS (test_every_module_has_a_layer fails)")
    upward = sorted(d for d in GRAPH[module] if (layer_of(d) or 0) > own)
    assert upward == [], f"{module} ({LAYERS[own][0]}) imports a higher layer: " + ", ".join(
        f"{d} ({LAYERS[layer_of(d) or 0][0]})" for d in upward
    )


@pytest.mark.parametrize("module", BACKENDS)
def test_backend_imports_no_stage(module: str) -> None:
    chain = path_to(GRAPH, module, STAGES)
    assert chain is None, "a backend reaches a stage: " + " -> ".join(chain or [])


# ---------------------------------------------------------------------------- the tools


def test_imports_are_collected_everywhere_but_under_type_checking() -> None:
    source = "\n".join(
        [
            "from typing import TYPE_CHECKING",
            "import sync.parse",
            "from . import yamlio",
            "from .rules import RuleSet",
            "from .backends import xlsx",
            "from ..errors import TrackerError",  # beyond the package: not a sync module
            "if TYPE_CHECKING:",
            "    from .validate import validate",
            "else:",
            "    from .checks import Context",
            "def f():",
            "    from .backends.gsheets import SheetsBackend",
        ]
    )
    known = {"parse", "yamlio", "rules", "backends", "backends.xlsx", "backends.gsheets"}
    assert sync_imports(source, "demo", False, known) == {
        "parse",
        "yamlio",
        "rules",
        "backends.xlsx",
        "checks",
        "backends.gsheets",
    }
    # in a subpackage, one dot is the subpackage and two are sync
    sub = sync_imports(
        "from . import base\nfrom ..cells import a1", "backends", True, {"backends.base"}
    )
    assert sub == {"backends.base", "cells"}


def test_cycles_and_chains_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_through(graph, "a") == ["a", "b", "c", "a"]
    assert cycle_through(graph, "d") is None
    assert path_to(graph, "d", {"c"}) == ["d", "a", "b", "c"]
    assert layer_of("backends.xlsx") == layer_of("history")

"""The examples in the ``sync`` package's docstrings run, and a wrong one fails the suite.

Every module under ``sync/`` is imported by its dotted name and each docstring holding examples
becomes one test (id ``sync.module.Object``), run by :mod:`doctest` with ``ELLIPSIS`` (pytest's
default doctest flag). ``# doctest: +SKIP`` examples stay skipped; a docstring whose examples are
all skipped is reported as a skipped test.

Why a test module rather than ``--doctest-modules`` with ``sync`` in ``testpaths``: the option
would also collect every file under tests/ and benchmarks/ as doctests, ``testpaths`` only applies
when pytest is given no paths (``pytest tests`` or an editor's test runner would skip
the examples), and ``-p no:doctest`` would switch it off silently. Here the examples run whenever
tests/ is collected, ``sync`` is imported by its name (the installed package, no second,
path-based import beside it), and pyproject's ``filterwarnings = error`` applies as for any test.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import sync

SYNC_DIR = Path(sync.__file__).resolve().parent
OPTIONFLAGS = doctest.ELLIPSIS


def sync_modules() -> list[str]:
    """Every module and package under ``sync/``, by dotted name (``sync`` itself included)."""
    names = ["sync"]
    for info in pkgutil.walk_packages(sync.__path__, prefix="sync."):
        names.append(info.name)
    return sorted(names)


MODULES = sync_modules()


def docstring_tests() -> list[doctest.DocTest]:
    """The docstrings of ``sync`` that hold at least one ``>>>`` example."""
    finder = doctest.DocTestFinder()
    found: list[doctest.DocTest] = []
    for name in MODULES:
        found += (t for t in finder.find(importlib.import_module(name)) if t.examples)
    return sorted(found, key=lambda t: t.name)


DOCTESTS = docstring_tests()


def test_every_sync_module_is_searched() -> None:
    """No file under sync/ escapes the walk (say, a directory that lost its __init__.py)."""
    files = {
        ".".join(("sync", *p.relative_to(SYNC_DIR).with_suffix("").parts)).removesuffix(".__init__")
        for p in SYNC_DIR.rglob("*.py")
    }
    assert files == set(MODULES)
    assert DOCTESTS, "no docstring examples found under sync/"


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples(test: doctest.DocTest) -> None:
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    test.globs = dict(test.globs)  # a copy of the module's namespace, fresh for every run
    result = runner.run(test, out=report.append, clear_globs=False)
    if result.failed:
        where = f"{test.filename}:{(test.lineno or 0) + 1}"
        pytest.fail(
            f"{result.failed} example(s) of {test.name} failed ({where}):\n" + "".join(report),
            pytrace=False,
        )
    if not result.attempted:
        pytest.skip(f"every example of {test.name} is marked +SKIP")


def _doctest(source: str) -> doctest.DocTest:
    return doctest.DocTestParser().get_doctest(source, {}, "example", "example.py", 0)


def test_a_wrong_or_raising_example_fails_and_a_skipped_one_skips() -> None:
    """The mechanism itself: a wrong answer or an exception fails; +SKIP skips."""
    for source in (">>> 1 + 1\n3\n", ">>> 1 / 0\n", ">>> x = 1\n>>> x\n1\n>>> x + 1\n1\n"):
        with pytest.raises(pytest.fail.Exception, match="example"):
            test_docstring_examples(_doctest(source))
    test_docstring_examples(_doctest(">>> [1, 2, 3]\n[1, ...]\n"))  # ELLIPSIS
    with pytest.raises(pytest.skip.Exception):
        test_docstring_examples(_doctest(">>> 1 / 0  # doctest: +SKIP\n"))

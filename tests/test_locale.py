"""The run's language: the config's locale when it sets one, else the tracker's header
language (English headers: English generated columns and summary), else the default; an
existing tracker keeps the language of the summary tab the job made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync.config import Config
from sync.i18n import text
from sync.model import Grid
from sync.rules import RuleSet
from sync.run import sync

from .conftest import header, task
from .fakes import MemoryBackend


def tracker(ruleset: RuleSet, locale: str) -> MemoryBackend:
    return MemoryBackend(Grid("Tracker", [header(ruleset, locale), task(), task(task="直播")]))


def run(backend: MemoryBackend, **config: Any) -> None:
    cfg = Config.model_validate(
        {"tracker": {"backend": "xlsx", "path": "unused.xlsx"}, "history": {"enabled": False}}
        | config
    )
    sync(cfg, backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "config", "expected"),
    [
        ("en", {}, "en"),  # English headers, no locale: English words
        ("zh-CN", {}, "zh-CN"),
        ("en", {"locale": "zh-CN"}, "zh-CN"),  # the config's locale wins
        ("zh-CN", {"locale": "en"}, "en"),
    ],
)
def test_the_locale_defaults_to_the_header_language(
    ruleset: RuleSet, headers: str, config: dict[str, str], expected: str
) -> None:
    backend = tracker(ruleset, headers)
    run(backend, **config)
    head = backend.rows[0]
    assert text(expected, "gen_status") in head and text(expected, "gen_health") in head
    assert backend.summary_title == text(expected, "summary_title")
    assert backend.summary is not None
    assert backend.summary[0][0] == text(expected, "s.title")


def test_an_existing_summary_keeps_its_language(ruleset: RuleSet, tmp_path: Path) -> None:
    # synced before under the old default (zh-CN) although its headers are English: the job's
    # summary tab 推广概览 and its words stay (no second, English summary tab)
    backend = tracker(ruleset, "en")
    run(backend, locale="zh-CN")
    assert backend.summary_title == "推广概览"
    run(backend)
    assert backend.summary_title == "推广概览"
    assert text("zh-CN", "gen_status") in backend.rows[0]
    assert text("en", "gen_status") not in backend.rows[0]


def test_changes_speaks_the_header_language_of_the_stored_tracker(
    ruleset: RuleSet, tmp_path: Path
) -> None:
    """Without ``locale:``, ``changes`` labels the columns in the language the runs spoke."""
    import datetime as dt

    from click.testing import CliRunner

    from sync.cli import cli

    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(
        f"tracker: {{backend: xlsx, path: {tmp_path / 'unused.xlsx'}}}\n"
        f"history: {{path: {tmp_path / 'runs.sqlite'}}}\n",
        encoding="utf-8",
    )
    cfg = Config.model_validate(
        {
            "tracker": {"backend": "xlsx", "path": str(tmp_path / "unused.xlsx")},
            "history": {"path": str(tmp_path / "runs.sqlite")},
        }
    )
    for day, progress in ((dt.date(2024, 3, 4), "10%"), (dt.date(2024, 3, 5), "40%")):
        backend = MemoryBackend(Grid("Tracker", [header(ruleset, "en"), task(progress=progress)]))
        sync(cfg, backend=backend, as_of=day, notify=False)  # type: ignore[arg-type]
    r = CliRunner().invoke(cli, ["changes", "--since", "2024-03-05", "-c", str(cfg_file)])
    assert r.exit_code == 0, r.output
    progress_en = ruleset.columns["progress"].title("en")
    assert f"{progress_en}: 10 → 40" in r.output
    assert ruleset.columns["progress"].title("zh-CN") not in r.output
    cfg_file.write_text(cfg_file.read_text() + "locale: zh-CN\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["changes", "--since", "2024-03-05", "-c", str(cfg_file)])
    assert f"{ruleset.columns['progress'].title('zh-CN')}: 10 → 40" in r.output

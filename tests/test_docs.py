"""The docs match the code: every command, config key, check kind and shipped rule is documented."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import sync
from sync.checks import REGISTRY
from sync.cli import cli
from sync.config import Config, load_config
from sync.rules import load_rules, shipped_rules_dir

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "config.example.yaml"


def config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        ann: Any = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += config_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_check_kind_is_documented(kind: str) -> None:
    assert f"#### `{kind}`" in README, f"README has no section for check kind {kind!r}"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"`tracker-sync {command}" in README


@pytest.mark.parametrize("key", config_keys(Config))
def test_every_config_key_is_documented(key: str) -> None:
    assert f"`{key}`" in README, f"README's config table lacks {key}"
    leaf = key.rsplit(".", 1)[-1]
    assert re.search(rf"^\s*{re.escape(leaf)}:", EXAMPLE.read_text(encoding="utf-8"), re.M), (
        f"config.example.yaml lacks {key}"
    )


def test_config_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.tracker.backend == "xlsx" and config.rules == ["builtin"]


def test_every_shipped_rule_is_listed() -> None:
    for rule in load_rules([shipped_rules_dir()]).rules:
        assert f"`{rule.id}`" in README


def test_public_api_is_pinned() -> None:
    assert sorted(sync.__all__) == sorted(
        [
            "AccessDenied",
            "BackendUnavailable",
            "Config",
            "ConfigError",
            "Grid",
            "MissingColumns",
            "RuleError",
            "RuleSet",
            "RunResult",
            "Snapshot",
            "TrackerChanged",
            "TrackerError",
            "TrackerNotFound",
            "TrackerSyncError",
            "WouldLoseContent",
            "WritePlan",
            "__version__",
            "load_config",
            "load_rules",
            "plan_run",
            "report",
            "shipped_rules_dir",
            "sync",
        ]
    )
    for name in sync.__all__:
        assert hasattr(sync, name)


def test_only_the_cli_imports_click() -> None:
    for path in (ROOT / "sync").rglob("*.py"):
        if path.name != "cli.py":
            assert "import click" not in path.read_text(encoding="utf-8"), path


def test_the_readmes_override_example_passes_rules_lint(tmp_path: Path) -> None:
    from sync.ruletools import lint

    block = re.search(r"```yaml\n# team-rules/overrides.yaml\n(.*?)```", README, re.S)
    assert block is not None, "the README's override example is gone"
    folder = tmp_path / "team-rules"
    folder.mkdir()
    (folder / "overrides.yaml").write_text(block.group(1), encoding="utf-8")
    (folder / "roster.txt").write_text("王丽\n张伟\n", encoding="utf-8")
    assert lint([folder]) == []


def test_every_team_rules_example_in_the_readme_passes_rules_lint(tmp_path: Path) -> None:
    """Each ```yaml block that starts with ``# team-rules/FILE`` is written to FILE of one team
    folder, which must load over the shipped pack and pass its own examples."""
    from sync.ruletools import lint

    blocks = re.findall(r"```yaml\n\s*# team-rules/(\S+)\n(.*?)```", README, re.S)
    assert len(blocks) >= 2, "the README's team-rules examples are gone"
    folder = tmp_path / "team-rules"
    folder.mkdir()
    for name, body in blocks:
        assert not (folder / name).exists(), f"two README examples write team-rules/{name}"
        (folder / name).write_text(textwrap.dedent(body), encoding="utf-8")
    (folder / "roster.txt").write_text("王丽\n张伟\n", encoding="utf-8")
    assert lint([folder]) == []

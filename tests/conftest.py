"""Shared fixtures: the shipped rule pack, the seed's rows, small trackers in memory and on disk,
the local Sheets API fake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.demo import SEED_ROWS
from sync.model import Grid
from sync.rules import TEMPLATE_COLUMNS, RuleSet, load_rules, shipped_rules_dir

from .sheets_fake import SheetsFake

SEED_AS_OF = dt.date(2024, 3, 20)


@pytest.fixture(scope="session", autouse=True)
def _calendar_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Commands keep the holidays package's answers in a cache directory (sync.workdays): a
    temporary one for the tests and the processes they start, never the user's."""
    import os

    from sync.workdays import CACHE_DIR_ENV

    before = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = before


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules([shipped_rules_dir()])


def header(ruleset: RuleSet, locale: str = "zh-CN") -> list[str]:
    return [ruleset.columns[c].title(locale) for c in TEMPLATE_COLUMNS]


def grid(
    rows: list[list[Any]],
    ruleset: RuleSet | None = None,
    *,
    title: str = "进度表",
    top: list[list[Any]] | None = None,
) -> Grid:
    """A tracker tab: optional rows above, the template header, then ``rows``."""
    rs = ruleset or load_rules([shipped_rules_dir()])
    return Grid(title, [*(top or []), header(rs), *[list(r) for r in rows]])


def task(**fields: Any) -> list[Any]:
    """A template row with sensible defaults, overridden by canonical field names."""
    base = {
        "phase": "预热期",
        "channel": "小红书",
        "task": "KOL种草笔记发布",
        "description": "完成3位KOL各1篇笔记发布",
        "owner": "王丽",
        "planned_start": "2024-03-01",
        "planned_finish": "2024-03-10",
        "actual_start": "-",
        "actual_finish": "-",
        "progress": "0%",
        "status": "未开始",
        "risk": "-",
        "countermeasure": "-",
        "remarks": "-",
    }
    unknown = set(fields) - set(base)
    assert not unknown, unknown
    base.update(fields)
    return [base[c] for c in TEMPLATE_COLUMNS]


@pytest.fixture
def seed_grid(ruleset: RuleSet) -> Grid:
    return grid([list(r) for r in SEED_ROWS], ruleset)


# ---------------------------------------------------------------------------- the Sheets fake


@pytest.fixture
def fake() -> Iterator[SheetsFake]:
    """The local Sheets API fake on 127.0.0.1 (real gspread and google-auth talk to it)."""
    with SheetsFake() as f:
        yield f


@pytest.fixture
def sheet(fake: SheetsFake, ruleset: RuleSet) -> str:
    """A spreadsheet holding the seed's rows in tab 进度表 (time zone Asia/Shanghai)."""
    return fake.add_spreadsheet(
        title="Launch",
        sheets={"进度表": [header(ruleset), *[list(r) for r in SEED_ROWS]]},
        time_zone="Asia/Shanghai",
    )


@pytest.fixture
def sa(fake: SheetsFake, tmp_path: Path) -> Path:
    """A service-account key file the fake accepts."""
    return fake.write_service_account(tmp_path / "sa.json")


@pytest.fixture
def tracker_file(tmp_path: Path, ruleset: RuleSet) -> Path:
    """An .xlsx tracker holding the seed's four rows, plus a config.yaml beside it."""
    from sync.backends.xlsx import set_text_safe
    from sync.demo import new_workbook

    wb = new_workbook(ruleset)
    ws = wb.active
    for r, row in enumerate(SEED_ROWS, start=2):
        for c, value in enumerate(row, start=1):
            set_text_safe(ws.cell(row=r, column=c), value)
    path = tmp_path / "tracker.xlsx"
    wb.save(path)
    (tmp_path / "config.yaml").write_text(
        # calendar days: the tests using this tracker assert the seed's calendar-day figures
        f"tracker:\n  backend: xlsx\n  path: tracker.xlsx\n  worksheet: {ws.title}\nlocale: zh-CN\ntimezone: Asia/Shanghai\n"
        "calendar:\n  country: none\n",
        encoding="utf-8",
    )
    return path

"""One contract suite, every backend: xlsx, Google Sheets (real gspread against the local fake),
Feishu / Lark Sheets (its requests transport against tests/feishu_fake.py) and the in-memory backend of tests/fakes.py — the third backend, registered the way a package
would register one: through the ``tracker_sync.backends`` entry-point group.

Each backend is opened by name through the registry (``open_backend(config)``), never by
constructing its class, so the suite proves the registry too. The rules checked are the ones
``sync/backends/base.py`` states.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sync.backends import (
    AddsTabs,
    Backend,
    CountsRequests,
    CreatesTracker,
    Probes,
    Replans,
    open_backend,
    registered,
)
from sync.config import Config
from sync.demo import SEED_ROWS
from sync.errors import ConfigError, RetryRun, TrackerChanged, TrackerError
from sync.model import Grid
from sync.pipeline import plan_run
from sync.rules import RuleSet
from sync.run import sync

from .conftest import SEED_AS_OF, header
from .fakes import MEMORY_TRACKERS, MemoryBackend
from .feishu_fake import FeishuFake
from .sheets_fake import SheetsFake

TAB = "进度表"
NOW = dt.datetime(2024, 3, 20, 9, 0, tzinfo=dt.UTC)
HUMAN = 14  # the template's human columns, A..N


def install_backend(folder: Path, name: str, factory: str) -> None:
    """Write the metadata of an installed distribution that registers backend ``name``."""
    info = folder / f"tracker_sync_{name}_backend-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: tracker-sync-{name}-backend\nVersion: 0.1\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text(
        f"[tracker_sync.backends]\n{name} = {factory}\n", encoding="utf-8"
    )


@pytest.fixture
def memory_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    install_backend(site, "memory", "tests.fakes:open_memory")
    monkeypatch.syspath_prepend(str(site))
    yield
    MEMORY_TRACKERS.clear()


@dataclass
class Place:
    """A tracker in one backend, and what a person can do to it."""

    name: str
    config: Config
    #: Human cells as an independent reader sees them (0-based rows, the template's columns).
    human: Callable[[], list[list[Any]]]
    #: A person inserts a task row right below the header.
    insert_row: Callable[[list[Any]], None]
    #: A person edits one cell (0-based row and column).
    edit: Callable[[int, int, Any], None]


def _xlsx(tmp_path: Path, ruleset: RuleSet) -> Place:
    from sync.backends.xlsx import set_text_safe

    path = tmp_path / "tracker.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = TAB
    for r, row in enumerate([header(ruleset), *SEED_ROWS], start=1):
        for c, value in enumerate(row, start=1):
            set_text_safe(ws.cell(row=r, column=c), value)
    wb.save(path)

    def human() -> list[list[Any]]:
        sheet = openpyxl.load_workbook(path)[TAB]
        return [list(r[:HUMAN]) for r in sheet.iter_rows(values_only=True)]

    def insert_row(row: list[Any]) -> None:
        book = openpyxl.load_workbook(path)
        sheet = book[TAB]
        sheet.insert_rows(2)
        for c, value in enumerate(row, start=1):
            set_text_safe(sheet.cell(row=2, column=c), value)
        book.save(path)

    def edit(r: int, c: int, value: Any) -> None:
        book = openpyxl.load_workbook(path)
        set_text_safe(book[TAB].cell(row=r + 1, column=c + 1), value)
        book.save(path)

    config = Config.model_validate(
        {"tracker": {"backend": "xlsx", "path": str(path), "worksheet": TAB}}
    )
    return Place("xlsx", config, human, insert_row, edit)


def _gsheets(fake: SheetsFake, tmp_path: Path, ruleset: RuleSet) -> Place:
    key = fake.add_spreadsheet(
        title="Launch",
        sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]]},
        time_zone="Asia/Shanghai",
    )
    sa = fake.write_service_account(tmp_path / "sa.json")
    config = Config.model_validate(
        {
            "tracker": {"backend": "gsheets", "spreadsheet": key, "worksheet": TAB},
            "google": {"credentials": str(sa), "api_endpoint": fake.api_endpoint, "timeout": 5},
        }
    )
    return Place(
        "gsheets",
        config,
        lambda: [list(r[:HUMAN]) for r in fake.values(key, TAB)],
        lambda row: fake.insert_rows(key, TAB, 2, [row]),
        lambda r, c, v: fake.set_cell(key, TAB, r + 1, c + 1, v),
    )


def _feishu(fake: FeishuFake, ruleset: RuleSet) -> Place:
    fake.add_app()
    token = fake.add_spreadsheet(sheets={TAB: [header(ruleset), *[list(r) for r in SEED_ROWS]]})
    config = Config.model_validate(
        {
            "tracker": {"backend": "feishu", "spreadsheet": token, "worksheet": TAB},
            "feishu": {"app_id": "cli_tracker", "domain": fake.base_url, "timeout": 5},
        }
    )
    return Place(
        "feishu",
        config,
        lambda: [list(r[:HUMAN]) for r in fake.values(token, TAB)],
        lambda row: fake.insert_rows(token, TAB, 2, [row]),
        lambda r, c, v: fake.set_cell(token, TAB, r + 1, c + 1, v),
    )


def _memory(ruleset: RuleSet) -> Place:
    store = MemoryBackend(Grid(TAB, [header(ruleset), *[list(r) for r in SEED_ROWS]]))
    MEMORY_TRACKERS["launch"] = store

    def insert_row(row: list[Any]) -> None:
        store.rows.insert(1, list(row))
        store.version += 1

    def edit(r: int, c: int, value: Any) -> None:
        store.set(r, c, value)
        store.version += 1

    config = Config.model_validate({"tracker": {"backend": "memory", "spreadsheet": "launch"}})
    return Place("memory", config, lambda: [list(r[:HUMAN]) for r in store.rows], insert_row, edit)


@pytest.fixture(params=["xlsx", "gsheets", "feishu", "memory"])
def place(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    ruleset: RuleSet,
    memory_installed: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Place]:
    if request.param == "xlsx":
        yield _xlsx(tmp_path, ruleset)
    elif request.param == "gsheets":
        with SheetsFake() as fake:
            yield _gsheets(fake, tmp_path, ruleset)
    elif request.param == "feishu":
        monkeypatch.setenv("FEISHU_APP_SECRET", "s3cret")
        with FeishuFake() as ffake:
            yield _feishu(ffake, ruleset)
    else:
        yield _memory(ruleset)


def run(place: Place, backend: Backend | None = None) -> Any:
    return sync(place.config, as_of=SEED_AS_OF, now=NOW, backend=backend)


def _rc(a1: str) -> tuple[int, int]:
    """``"O12"`` -> (11, 14)."""
    letters = a1.rstrip("0123456789")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(a1[len(letters) :]) - 1, col - 1


def plan_of(place: Place, backend: Backend, ruleset: RuleSet) -> Any:
    snapshot = backend.read()
    title = place.config.summary_title()
    return snapshot, plan_run(
        snapshot,
        ruleset,
        as_of=SEED_AS_OF,
        now=NOW,
        summary_title=title,
        calendar=place.config.calendar,  # the run's calendar, as sync() passes it
    ).plan


# ---------------------------------------------------------------------------- registry


def test_every_backend_is_found_through_the_entry_point_group(memory_installed: None) -> None:
    names = registered()
    assert {"xlsx", "gsheets", "feishu", "memory"} <= set(names)
    assert names["memory"].value == "tests.fakes:open_memory"


def test_an_unknown_backend_is_a_config_error_naming_the_installed_ones() -> None:
    with pytest.raises(ValueError, match=r"no backend named 'memory' is installed \(installed: "):
        Config.model_validate({"tracker": {"backend": "memory", "spreadsheet": "x"}})


def test_a_factory_returning_no_backend_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_backend(tmp_path, "broken", "builtins:dict")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config.model_validate({"tracker": {"backend": "broken", "spreadsheet": "x"}})
    with pytest.raises(TrackerError, match="lacks the backend contract"):
        open_backend(config)


def test_a_backend_that_cannot_be_imported_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_backend(tmp_path, "gone", "no_such_pkg:open")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Config.model_validate({"tracker": {"backend": "gone", "spreadsheet": "x"}})
    with pytest.raises(ConfigError, match=r"'gone' backend .* cannot be loaded"):
        open_backend(config)


# ---------------------------------------------------------------------------- the contract


def test_opened_by_name_it_keeps_the_contract(place: Place) -> None:
    backend = open_backend(place.config)
    assert isinstance(backend, Backend)
    assert backend.target


def test_read_writes_nothing_and_is_repeatable(place: Place) -> None:
    before = place.human()
    backend = open_backend(place.config)
    a, b = backend.read(), backend.read()
    assert a.tracker.rows == b.tracker.rows and a.sheet_titles == b.sheet_titles
    assert a.tracker.title == TAB and a.summary is None and not a.meta
    assert place.human() == before


def test_a_run_writes_only_generated_cells_then_nothing(place: Place, ruleset: RuleSet) -> None:
    before = place.human()
    first = run(place)
    assert first.applied is not None and first.applied.cells_written > 0
    assert place.human() == before, "human cells are never written"
    backend = open_backend(place.config)
    snapshot, plan = plan_of(place, backend, ruleset)
    assert plan.is_empty, "what the backend wrote reads back as written"
    assert snapshot.summary is not None and snapshot.meta
    assert snapshot.conditional_formats == first.plan.conditional_formats
    result = backend.apply(snapshot, plan)
    assert result.cells_written == 0 and result.requests == 0, "an empty plan sends nothing"
    assert run(place).applied is None


def test_the_written_cells_read_back_as_the_plan_said(place: Place) -> None:
    first = run(place)
    snapshot = open_backend(place.config).read()
    for cell in first.plan.to_dict()["cells"]:
        if cell["tab"] != TAB:
            continue
        row, col = _rc(cell["a1"])
        got = snapshot.tracker.value(row, col)
        want = cell["new"]
        assert (
            got == want
            or (got in (None, "") and want in (None, ""))
            or (
                isinstance(got, int | float)
                and isinstance(want, int | float)
                and abs(got - want) < 1e-9
            )
        ), (cell, got)


def test_text_that_looks_like_a_formula_is_written_as_text(place: Place, ruleset: RuleSet) -> None:
    backend = open_backend(place.config)
    snapshot, plan = plan_of(place, backend, ruleset)
    issues = plan.columns["gen_issues"]
    cells = dict(plan.cells)
    cells[issues] = cells[issues].copy()
    cells[issues].iloc[-1] = "=1+1"
    backend.apply(snapshot, dataclasses.replace(plan, cells=cells))
    row = int(cells[issues].index[-1])
    assert open_backend(place.config).read().tracker.value(row, issues) == "=1+1"


def test_a_snapshot_it_did_not_read_is_refused(place: Place, ruleset: RuleSet) -> None:
    backend = open_backend(place.config)
    snapshot, plan = plan_of(place, backend, ruleset)
    before = place.human()
    with pytest.raises(TrackerError):
        backend.apply(dataclasses.replace(snapshot, version="not-this-backends"), plan)
    assert place.human() == before
    assert open_backend(place.config).read().meta == {}, "nothing was written"


def test_rows_inserted_between_read_and_write_never_misplace_a_value(
    place: Place, ruleset: RuleSet
) -> None:
    run(place)
    ids = {r[2]: r[21] for r in open_backend(place.config).read().tracker.rows[1:]}
    place.edit(2, 9, "80%")  # a person reports progress on the second task
    backend = open_backend(place.config)
    snapshot, plan = plan_of(place, backend, ruleset)
    assert plan.cells, "the edit gives the run something to write"
    new_task = ["预热期", "抖音", "新任务", "完成1条短视频", "王丽", "2024-03-01", "2024-03-09"]
    place.insert_row([*new_task, "-", "-", "0%", "未开始", "-", "-", "-"])
    # refused, or written and undone (RetryRun): a later run writes it
    with contextlib.suppress(TrackerChanged, RetryRun):
        backend.apply(snapshot, plan)
    run(place)  # the next run settles everything
    rows = open_backend(place.config).read().tracker.rows
    for row in rows[1:]:
        if row[2] in ids:
            assert row[21] == ids[row[2]], f"the ID of {row[2]!r} stayed with its task"
    edited = next(r for r in rows[1:] if r[2] == SEED_ROWS[1][2])
    assert edited[9] in ("80%", 0.8, 80) and edited[15] not in (None, "")


# ---------------------------------------------------------------------------- capabilities


def test_capabilities_are_found_by_type(place: Place) -> None:
    backend = open_backend(place.config)
    expected = {
        "xlsx": {CountsRequests, AddsTabs},
        "gsheets": {CountsRequests, AddsTabs, Replans, CreatesTracker, Probes},
        "feishu": {CountsRequests, AddsTabs, Replans, CreatesTracker},
        "memory": {CountsRequests, AddsTabs},
    }[place.name]
    have = {
        p
        for p in (CountsRequests, AddsTabs, Replans, CreatesTracker, Probes)
        if isinstance(backend, p)
    }
    assert have == expected


def test_counted_requests_start_at_zero_per_run(place: Place) -> None:
    backend = open_backend(place.config)
    assert isinstance(backend, CountsRequests)
    backend.read()
    backend.reset_request_counts()
    backend.read()
    # one read is one request, except on Sheets (its structure and formats, then the values)
    # and Feishu (its sheet list, values and formatted values)
    one_read = {"gsheets": 2, "feishu": 3}.get(place.name, 1)
    assert backend.request_counts() == {"read": one_read, "write": 0}
    result = run(place, backend)
    assert result.requests["write"] >= 1
    assert result.requests["read"] == one_read or place.name == "feishu"  # + guard and verify


def test_a_new_tab_holds_the_rows_and_an_existing_one_is_refused(place: Place) -> None:
    backend = open_backend(place.config)
    assert isinstance(backend, AddsTabs)
    rows = [["阶段", "任务"], ["筹备期", "=SUM(A1)"]]
    backend.add_tab("恢复-1", rows)
    snapshot = open_backend(place.config).read()
    assert "恢复-1" in snapshot.sheet_titles
    assert [r[:2] for r in snapshot.tabs["恢复-1"].rows] == rows
    with pytest.raises(TrackerError, match="already has a tab"):
        open_backend(place.config).add_tab("恢复-1", rows)  # type: ignore[attr-defined]
    with pytest.raises(TrackerError, match="already has a tab"):
        open_backend(place.config).add_tab(TAB, rows)  # type: ignore[attr-defined]

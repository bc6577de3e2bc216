"""Writing an .xlsx tracker in place, properly: a person's tab is theirs, symlinks, mode, a
read-only file, Excel/LibreOffice lock files, a killed run's temp file, Excel's last column,
a damaged run store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from sync.backends.xlsx import TEMP_PREFIX, office_lock
from sync.cli import cli
from sync.config import load_config


def run(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["run", "-c", str(cfg), "--today", "2024-03-20", *args])


def config_of(tracker: Path) -> Path:
    return tracker.parent / "config.yaml"


def test_a_persons_tab_named_like_the_summary_is_never_written(tracker_file: Path) -> None:
    wb = openpyxl.load_workbook(tracker_file)
    wb.create_sheet("推广概览")["A1"] = "我们自己的周报"
    wb.save(tracker_file)
    before = tracker_file.read_bytes()
    r = run(config_of(tracker_file))
    assert r.exit_code == 2, r.output
    assert "the tab '推广概览' was not made by tracker-sync" in r.stderr
    assert "tracker.summary_worksheet" in r.stderr
    assert tracker_file.read_bytes() == before


def test_the_jobs_own_summary_is_rebuilt(tracker_file: Path) -> None:
    assert run(config_of(tracker_file)).exit_code == 0
    wb = openpyxl.load_workbook(tracker_file)
    wb["推广概览"]["B2"] = "someone typed here"
    wb.save(tracker_file)
    assert run(config_of(tracker_file)).exit_code == 0
    assert openpyxl.load_workbook(tracker_file)["推广概览"]["B2"].value == "2024-03-20"


@pytest.mark.parametrize(
    "extra",
    [
        "  summary_worksheet: 推广进度表\n",  # named explicitly
        "",  # the default summary name for zh-CN is the tracker tab's
    ],
)
def test_a_summary_that_is_the_tracker_tab_is_a_config_error(tmp_path: Path, extra: str) -> None:
    cfg = tmp_path / "config.yaml"
    worksheet = "推广进度表" if extra else "推广概览"
    cfg.write_text(f"tracker:\n  path: t.xlsx\n  worksheet: {worksheet}\n{extra}", "utf-8")
    r = CliRunner().invoke(cli, ["check", "-c", str(cfg)])
    assert r.exit_code == 2 and "summary" in r.stderr and "tracker" in r.stderr


def test_output_naming_the_tracker_is_an_in_place_run_with_every_check(
    tracker_file: Path,
) -> None:
    wb = openpyxl.load_workbook(tracker_file)
    wb.create_sheet("推广概览")["A1"] = "ours"
    wb.save(tracker_file)
    before = tracker_file.read_bytes()
    r = run(config_of(tracker_file), "--output", str(tracker_file))
    assert r.exit_code == 2 and tracker_file.read_bytes() == before
    config = load_config(config_of(tracker_file))
    from sync.backends.xlsx import open_backend

    same = config.model_copy(
        update={"tracker": config.tracker.model_copy(update={"output": Path("tracker.xlsx")})}
    )
    assert open_backend(same).output is None


def test_a_symlinked_tracker_is_written_through_the_link(tracker_file: Path) -> None:
    real = tracker_file.with_name("real.xlsx")
    tracker_file.rename(real)
    tracker_file.symlink_to(real.name)
    assert run(config_of(tracker_file)).exit_code == 0
    assert tracker_file.is_symlink(), "the link stays a link"
    head = [c.value for c in openpyxl.load_workbook(real).worksheets[0][1]]
    assert "⚙ 计算状态" in head, "the file it points to was synced"


def test_mode_is_kept_and_a_read_only_tracker_is_refused(tracker_file: Path) -> None:
    tracker_file.chmod(0o640)
    assert run(config_of(tracker_file)).exit_code == 0
    assert stat.S_IMODE(tracker_file.stat().st_mode) == 0o640
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["J3"] = "90%"
    wb.save(tracker_file)
    tracker_file.chmod(0o444)
    before = tracker_file.read_bytes()
    r = run(config_of(tracker_file))
    assert r.exit_code == 3 and "is read-only" in r.stderr
    assert tracker_file.read_bytes() == before


@pytest.mark.parametrize(
    ("lock_name", "content", "who"),
    [
        ("~$tracker.xlsx", bytes([6]) + b"Wang Li" + b"\x00" * 40, "Excel (Wang L"),
        (
            ".~lock.tracker.xlsx#",
            b"Wang Li,LAPTOP-7,wangli,01.12.2026 09:30,file:///x;",
            "LibreOffice (Wang Li on LAPTOP-7",
        ),
    ],
)
def test_a_tracker_open_in_excel_or_libreoffice_is_not_written(
    tracker_file: Path, lock_name: str, content: bytes, who: str
) -> None:
    lock = tracker_file.with_name(lock_name)
    lock.write_bytes(content)
    before = tracker_file.read_bytes()
    r = run(config_of(tracker_file))
    assert r.exit_code == 3, r.output
    assert f"is open in {who}" in r.stderr and "--ignore-lock" in r.stderr
    assert tracker_file.read_bytes() == before
    assert run(config_of(tracker_file), "--ignore-lock").exit_code == 0
    assert tracker_file.read_bytes() != before
    lock.unlink()
    assert office_lock(tracker_file) is None


def test_a_killed_runs_temp_file_is_removed_by_the_next_run(tracker_file: Path) -> None:
    dead = tracker_file.with_name(f"{TEMP_PREFIX}{tracker_file.name}.999999999.tmp")
    dead.write_bytes(b"half a workbook")
    other = tracker_file.with_name(f"{TEMP_PREFIX}other.xlsx.999999999.tmp")
    other.write_bytes(b"another tracker's")
    assert run(config_of(tracker_file)).exit_code == 0
    assert not dead.exists(), "a dead process's temp file is cleaned up"
    assert other.exists(), "only this tracker's temp files are touched"
    assert not list(tracker_file.parent.glob(f"{TEMP_PREFIX}tracker.xlsx.*"))


def test_generated_columns_never_go_past_excels_last_column(tracker_file: Path) -> None:
    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0].cell(row=30, column=16384, value="x")  # a stray cell in XFD
    wb.save(tracker_file)
    before = tracker_file.read_bytes()
    r = run(config_of(tracker_file))
    assert r.exit_code == 3 and "past column XFD" in r.stderr, r.output
    assert tracker_file.read_bytes() == before


def test_a_damaged_run_store_is_a_message_and_the_tracker_is_untouched(
    tracker_file: Path,
) -> None:
    store = load_config(config_of(tracker_file)).history_path()
    assert store is not None
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"this is not a database" * 100)
    before = tracker_file.read_bytes()
    r = run(config_of(tracker_file))
    assert r.exit_code == 3, r.output
    assert str(store) in r.stderr and "cannot open the run store" in r.stderr
    assert "Traceback" not in r.output
    assert tracker_file.read_bytes() == before
    r = CliRunner().invoke(cli, ["check", "-c", str(config_of(tracker_file))])
    assert r.exit_code == 3 and "move it away" in r.stderr


def test_an_unwritable_folder_is_a_message(tracker_file: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip(
            "root writes into read-only folders (tests/test_run.py covers a read-only mount)"
        )
    store_dir = tmp_path / "ro"
    store_dir.mkdir()
    store_dir.chmod(0o555)
    try:
        cfg = config_of(tracker_file)
        cfg.write_text(cfg.read_text("utf-8") + f"history:\n  path: {store_dir}/h.sqlite\n")
        r = run(cfg)
        assert r.exit_code == 3 and "Traceback" not in r.output
    finally:
        store_dir.chmod(0o755)


def test_a_stray_cell_in_the_last_row_costs_no_more_than_a_real_row(tracker_file: Path) -> None:
    import time

    import psutil

    wb = openpyxl.load_workbook(tracker_file)
    wb.worksheets[0]["A1048576"] = "x"  # a stray cell; the dimension claims A1:V1048576
    wb.save(tracker_file)
    t0, rss0 = time.perf_counter(), psutil.Process().memory_info().rss
    from sync.backends.xlsx import XlsxBackend

    snapshot = XlsxBackend(tracker_file).read()
    assert snapshot.tracker.value(1048575, 0) == "x" and snapshot.tracker.value(1, 0)
    grown = psutil.Process().memory_info().rss - rss0
    assert grown < 400 << 20, f"reading grew memory by {grown >> 20} MiB"
    assert time.perf_counter() - t0 < 60
    # and a whole run: highlight ranges stop at Excel's last row (they used to overflow it)
    r = run(config_of(tracker_file))
    assert r.exit_code == 0, r.output


def test_a_package_that_expands_absurdly_is_refused(tracker_file: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tracker_file, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/bomb.xml", b"\0" * (60 << 20))
    r = run(config_of(tracker_file))
    assert r.exit_code == 3 and "xl/bomb.xml expands" in r.stderr, r.output


def test_a_shared_strings_part_declaring_millions_of_texts_is_refused(tracker_file: Path) -> None:
    import zipfile

    sst = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'count="10000000" uniqueCount="10000000"><si><t>x</t></si></sst>'
    )
    with zipfile.ZipFile(tracker_file, "a") as z:
        z.writestr("xl/sharedStrings.xml", sst)
    r = run(config_of(tracker_file))
    assert r.exit_code == 3 and "10,000,000 distinct texts" in r.stderr, r.output
    assert "Traceback" not in r.output


def test_a_file_that_is_not_a_workbook_is_a_message(tracker_file: Path) -> None:
    tracker_file.write_bytes(b"not a zip at all")
    r = run(config_of(tracker_file))
    assert r.exit_code == 3 and "not a readable .xlsx workbook" in r.stderr, r.output


def test_demo_never_overwrites_a_persons_tracker_or_config(tmp_path: Path) -> None:
    (tmp_path / "tracker.xlsx").write_bytes(b"my own tracker")
    (tmp_path / "config.yaml").write_text("tracker:\n  path: tracker.xlsx\n", "utf-8")
    r = CliRunner().invoke(cli, ["demo", str(tmp_path)])
    assert r.exit_code == 3 and "were not written by `tracker-sync demo`" in r.stderr
    assert (tmp_path / "tracker.xlsx").read_bytes() == b"my own tracker"
    demo = tmp_path / "again"
    assert CliRunner().invoke(cli, ["demo", str(demo)]).exit_code == 0
    assert CliRunner().invoke(cli, ["demo", str(demo)]).exit_code == 0, "its own folder: fine"


@pytest.mark.parametrize(
    ("tab", "why"),
    [("a/b", "contains '/'"), ("x" * 40, "Excel allows 31"), ("History", "reserved")],
)
def test_restore_into_a_tab_name_excel_refuses_is_a_message(
    tracker_file: Path, tab: str, why: str
) -> None:
    assert run(config_of(tracker_file)).exit_code == 0
    before = tracker_file.read_bytes()
    r = CliRunner().invoke(
        cli, ["restore", "--run", "1", "--to-tab", tab, "-c", str(config_of(tracker_file))]
    )
    assert r.exit_code == 3 and why in r.stderr and "Traceback" not in r.output
    assert tracker_file.read_bytes() == before


def test_a_summary_name_excel_refuses_is_a_config_error(tracker_file: Path) -> None:
    cfg = config_of(tracker_file)
    cfg.write_text(
        cfg.read_text("utf-8").replace("tracker:\n", "tracker:\n  summary_worksheet: 概览/周报\n")
    )
    r = run(cfg)
    assert r.exit_code == 2 and "tracker.summary_worksheet" in r.stderr and "'/'" in r.stderr


def _grow(tracker: Path, rows: int) -> None:
    """The seed's rows repeated down to ``rows`` task rows (so a write takes a while)."""
    wb = openpyxl.load_workbook(tracker)
    ws = wb.worksheets[0]
    seed = [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_row=5)]
    for r in range(6, rows + 2):
        for c, value in enumerate(seed[(r - 2) % 4], start=1):
            ws.cell(row=r, column=c, value=value)
    wb.save(tracker)


def _valid_or_original(tracker: Path, original: bytes) -> str:
    data = tracker.read_bytes()
    if data == original:
        return "original"
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert ws["O1"].value == "⚙ 计算状态" and ws["O2"].value is not None
    return "written"


def test_a_run_killed_at_any_moment_leaves_the_original_or_the_whole_result(
    tracker_file: Path,
) -> None:
    """SIGKILL at moments spread over a whole run: the tracker is always either the file as it
    was or the complete result (never half a workbook), and the next run succeeds and leaves no
    temp file behind."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    _grow(tracker_file, 3000)
    original = tracker_file.read_bytes()
    exe = str(Path(sys.executable).with_name("tracker-sync"))
    cmd = [exe, "run", "-c", str(config_of(tracker_file)), "--today", "2024-03-20"]
    spare = tracker_file.with_name("original.xlsx")
    shutil.copy(tracker_file, spare)
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    whole = time.monotonic() - started
    outcomes = []
    # moments spread over the run, then moments inside the save (from its temp file's birth)
    moments = [("run", f) for f in (0.3, 0.6, 0.9)] + [("save", d) for d in (0, 0.002, 0.01, 0.03)]
    for when, at in moments:
        shutil.copy(spare, tracker_file)
        shutil.rmtree(tracker_file.parent / ".tracker-sync", ignore_errors=True)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if when == "run":
            time.sleep(whole * at)
        else:
            while proc.poll() is None and not list(tracker_file.parent.glob(f"{TEMP_PREFIX}*")):
                time.sleep(0.0005)
            time.sleep(at)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        outcomes.append(_valid_or_original(tracker_file, original))
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert _valid_or_original(tracker_file, original) == "written"
        assert not list(tracker_file.parent.glob(f"{TEMP_PREFIX}*")), "a temp file was left"
    print("kill outcomes", outcomes, f"{whole:.1f}s")
    assert outcomes  # which moments hit the write depends on the machine; each one is checked


def test_the_jobs_columns_are_known_by_their_anchors_not_their_headers(
    tracker_file: Path,
) -> None:
    """The job names each of its columns with a hidden defined name; Excel moves names with
    their columns. After a person inserts a column before them and renames a ⚙ header, the
    job still writes its own columns (found by name, not header) and nothing else."""
    import zipfile

    assert run(config_of(tracker_file)).exit_code == 0
    with zipfile.ZipFile(tracker_file) as z:
        workbook = z.read("xl/workbook.xml").decode()
    assert '<definedName name="_tracker_sync_gen_status" hidden="1">' in workbook
    assert "'推广进度表'!$O:$O" in workbook

    wb = openpyxl.load_workbook(tracker_file)
    ws = wb["推广进度表"]
    ws.insert_cols(3)  # a person's new column C: everything right of B moves one column
    ws["C1"] = "子渠道"
    ws["C2"] = "KOL"
    for name, dn in wb.defined_names.items():  # what Excel does to names on an insert
        if name.startswith("_tracker_sync_"):
            letter = dn.attr_text.split("!$")[1].split(":")[0]
            moved = openpyxl.utils.get_column_letter(
                openpyxl.utils.column_index_from_string(letter) + 1
            )
            dn.attr_text = f"'推广进度表'!${moved}:${moved}"
    ws["P1"] = "状态(系统)"  # the ⚙ status header, renamed by a person
    ws["P2"] = None
    wb.save(tracker_file)

    assert run(config_of(tracker_file)).exit_code == 0
    ws = openpyxl.load_workbook(tracker_file)["推广进度表"]
    assert ws["C1"].value == "子渠道" and ws["C2"].value == "KOL"
    assert ws["P2"].value == "延期", "the job's status column, found by its anchor"
    headers = [c.value for c in ws[1]]
    assert headers.count("⚙ 计算状态") + headers.count("状态(系统)") == 1, headers

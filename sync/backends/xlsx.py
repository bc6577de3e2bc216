"""The .xlsx backend: read a workbook's values with python-calamine, write a plan with the
surgical writer (:mod:`sync.backends.xlsx_package`) in one atomic file replace."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from python_calamine import CalamineError, CalamineWorkbook

from ..errors import (
    ConfigError,
    TrackerChanged,
    TrackerError,
    TrackerNotFound,
)
from ..model import (
    META_TAB,
    ApplyResult,
    CFRule,
    Grid,
    RequestCounter,
    Snapshot,
    WritePlan,
    meta_from_rows,
)
from ..style import GENERATED_HEADER_FILL
from .xlsx_package import (
    Package,
    PackageError,
    Styles,
    Workbook,
    add_tab,
    apply_plan,
    cf_sqref,
    chart_count,
    conditional_formats,
    percent_styles,
    styled_cells,
    uncalculated_cells,
)

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger(__name__)

META_SHEET = META_TAB
_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}


@dataclass(frozen=True)
class FileVersion:
    """How the file looked when read: a change in any of these aborts the write."""

    size: int
    mtime_ns: int
    sha256: str

    @property
    def token(self) -> str:
        """The snapshot's opaque version."""
        return f"{self.sha256}:{self.size}:{self.mtime_ns}"


def _version_of(path: Path, data: bytes | None = None) -> FileVersion:
    st = path.stat()
    if data is None:
        data = path.read_bytes()
    return FileVersion(st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())


def set_text_safe(cell: Any, value: Any) -> None:
    """Set a cell's value; a string is always stored as a string, never as a formula."""
    cell.value = value
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"


def title_problem(title: str) -> str | None:
    """Why Excel would not accept ``title`` as a tab name (None: it would).

    >>> title_problem("进度表-3月20日"), title_problem("a/b"), title_problem("x" * 32)
    (None, "contains '/', which Excel does not allow in a tab name", 'is 32 characters long; Excel allows 31')
    """
    if not title.strip():
        return "is empty"
    if len(title) > 31:
        return f"is {len(title)} characters long; Excel allows 31"
    bad = next((ch for ch in title if ch in "[]:*?/\\"), None)
    if bad is not None:
        return f"contains {bad!r}, which Excel does not allow in a tab name"
    if title.startswith("'") or title.endswith("'"):
        return "starts or ends with an apostrophe, which Excel does not allow"
    if title.casefold() == "history":
        return "is reserved by Excel"
    return None


def open_backend(config: Config) -> XlsxBackend:
    """The registered factory (entry point ``xlsx``): ``tracker.path`` of the config."""
    assert config.tracker.path is not None  # the config requires it for this backend
    problem = title_problem(config.summary_title())
    if problem is not None:
        raise ConfigError(
            f"tracker.summary_worksheet: {config.summary_title()!r} {problem}; choose another name"
        )
    path = config.resolve(config.tracker.path)
    output = config.resolve(config.tracker.output) if config.tracker.output else None
    if output is not None and output.resolve() == path.resolve():
        output = None  # --output naming the tracker itself is an in-place run, with every check
    return XlsxBackend(
        path,
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        output=output,
        ignore_lock=config.tracker.ignore_lock,
    )


class XlsxBackend:
    """A local .xlsx file. ``output`` writes the result to another file and leaves the original alone.

    Capabilities (:mod:`sync.backends.base`): CountsRequests (a read or a save counts as one
    request), AddsTabs.
    """

    def __init__(
        self,
        path: Path,
        *,
        worksheet: str | None = None,
        summary_title: str = "Summary",
        output: Path | None = None,
        ignore_lock: bool = False,
    ) -> None:
        self.path = Path(path)
        self.ignore_lock = ignore_lock
        self.worksheet = worksheet
        self.summary_title = summary_title
        self.output = Path(output) if output else None
        self.target = str(self.path)
        self._loaded: tuple[FileVersion, bytes] | None = None
        self._requests = RequestCounter()

    def request_counts(self) -> dict[str, int]:
        return self._requests.as_dict()

    def reset_request_counts(self) -> None:
        self._requests = RequestCounter()

    # ------------------------------------------------------------------ read

    def read(self) -> Snapshot:
        """Values (with formulas' cached results) through python-calamine; number formats,
        formulas without a result, the job's rules, anchors and charts from the package's XML."""
        if not self.path.exists():
            raise TrackerNotFound(
                f"{self.path}: file not found (create one with `tracker-sync init {self.path}`)"
            )
        self._requests.read += 1
        try:
            data = self.path.read_bytes()
            version = _version_of(self.path, data)
        except OSError as exc:
            raise TrackerError(f"{self.path}: cannot read: {exc}") from None
        try:
            _check_package(self.path, data)
            snapshot = self._snapshot(data, version.token)
        except (PackageError, CalamineError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise TrackerError(f"{self.path}: not a readable .xlsx workbook ({exc})") from None
        self._loaded = (version, data)
        return snapshot

    def _snapshot(self, data: bytes, token: str) -> Snapshot:
        package = Package(data)
        workbook = Workbook(package)
        sheets = {t.name: t for t in workbook.tabs() if t.part}
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        title = self._tracker_title(workbook)
        part = package.read(sheets[title].part)
        percent = styled_cells(part, percent_styles(Styles(package, workbook)))
        uncalculated = uncalculated_cells(part) if b"<f" in part or b":f" in part else set()
        tracker = Grid(
            title,
            _rows(book, title, data),
            frozenset(percent),
            frozenset(uncalculated),
        )
        summary = None
        charts = 0
        if self.summary_title in sheets and self.summary_title != title:
            summary = Grid(self.summary_title, _rows(book, self.summary_title, data))
            charts = chart_count(package, sheets[self.summary_title].part)
        tabs = {
            name: Grid(name, _rows(book, name, data))
            for name in sheets
            if name not in (title, self.summary_title, META_SHEET)
        }
        meta = meta_from_rows(_rows(book, META_SHEET, data)) if META_SHEET in sheets else {}
        return Snapshot(
            target=self.target,
            tracker=tracker,
            sheet_titles=tuple(t.name for t in workbook.tabs() if t.name != META_SHEET),
            summary=summary,
            time_zone=None,
            conditional_formats=_owned_cf(conditional_formats(part), meta),
            meta=meta,
            version=token,
            row_capacity=MAX_ROW + 1,  # Excel's grid: highlight ranges stop at its last row
            summary_charts=charts,
            owned_columns=workbook.anchors(title),
            tabs=tabs,
        )

    def _tracker_title(self, workbook: Workbook) -> str:
        tabs = workbook.tabs()
        if self.worksheet:
            if not any(t.name == self.worksheet and t.part for t in tabs):
                names = ", ".join(repr(t.name) for t in tabs if t.name != META_SHEET)
                raise TrackerNotFound(
                    f"{self.path}: no tab named {self.worksheet!r}; the tabs are: {names} (set tracker.worksheet)"
                )
            return self.worksheet
        for t in tabs:
            visible = t.element.get("state", "visible") == "visible"
            if t.part and visible and t.name not in (META_SHEET, self.summary_title):
                return t.name
        raise TrackerNotFound(
            f"{self.path}: no tracker tab found (the workbook has only {[t.name for t in tabs]})"
        )

    # ------------------------------------------------------------------ write

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        if plan.is_empty:
            return ApplyResult(cells_written=0, requests=0)
        if self._loaded is None or self._loaded[0].token != snapshot.version:
            raise TrackerError("apply() needs the snapshot read by this backend")
        version, data = self._loaded
        self._check_unchanged(version)
        _check_bounds(self.path, plan)
        dest = self.output or self.path
        self._check_writable(dest)
        written = self._edit(
            lambda: apply_plan(
                data,
                plan,
                snapshot.conditional_formats,
                header_fill=GENERATED_HEADER_FILL,
                meta_title=META_SHEET,
            )
        )
        self._requests.write += 1
        self._save_atomic(written, dest, version if self.output is None else None)
        self._loaded = None
        log.info("saved %s (%d cells)", dest, plan.cell_count)
        return ApplyResult(cells_written=plan.cell_count, requests=1, output=str(dest))

    def add_tab(self, title: str, rows: list[list[Any]]) -> None:
        """Write ``rows`` into a new tab (refusing an existing one), in one atomic file replace."""
        problem = title_problem(title)
        if problem is not None:
            raise TrackerError(f"tab name {title!r} {problem}; choose another name")
        snapshot = self.read()
        if title in snapshot.sheet_titles:
            raise TrackerError(
                f"{self.path} already has a tab named {title!r}; choose another name"
            )
        assert self._loaded is not None
        version, data = self._loaded
        dest = self.output or self.path
        self._check_writable(dest)
        written = self._edit(lambda: add_tab(data, title, rows))
        self._requests.write += 1
        self._save_atomic(written, dest, version if self.output is None else None)
        self._loaded = None
        log.info("added tab %r to %s (%d rows)", title, dest, len(rows))

    def _edit(self, write: Callable[[], bytes]) -> bytes:
        """Run the surgical writer; a package it cannot edit safely is a message, not a traceback."""
        try:
            return write()
        except PackageError as exc:
            raise TrackerError(
                f"{self.path}: cannot edit this workbook safely: {exc}; nothing was written"
            ) from None

    def _check_unchanged(self, version: FileVersion) -> None:
        try:
            now = _version_of(self.path)
        except FileNotFoundError:
            raise TrackerChanged(
                f"{self.path} disappeared after it was read; nothing was written"
            ) from None
        if now != version:
            raise TrackerChanged(
                f"{self.path} changed on disk after it was read (someone saved it meanwhile); "
                "nothing was written. Run again to sync the new version."
            )

    def _save_atomic(self, data: bytes, dest: Path, version: FileVersion | None) -> None:
        """Write ``data`` to a temp file beside ``dest`` (the symlink's target, if it is one),
        give it ``dest``'s mode and owner, look at the original one last time, rename it over.
        A killed run's temp file is named so that the next run removes it."""
        dest = dest.resolve() if dest.is_symlink() else dest
        _remove_leftovers(dest)
        tmp = dest.with_name(f"{TEMP_PREFIX}{dest.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if dest.exists():
                st = dest.stat()
                os.chmod(tmp, st.st_mode & 0o7777)
                with contextlib.suppress(PermissionError):  # only root may give files away
                    os.chown(tmp, st.st_uid, st.st_gid)
            if version is not None:
                self._check_unchanged(version)  # last look right before the rename
            os.replace(tmp, dest)
        except OSError as exc:
            raise TrackerError(
                f"{dest}: cannot write ({exc.strerror or exc}); the original is unchanged"
            ) from None
        finally:
            if tmp.exists():
                tmp.unlink()

    def _check_writable(self, dest: Path) -> None:
        """Refuse a read-only tracker and one that Excel or LibreOffice has open."""
        target = dest.resolve()
        if target.exists() and not target.stat().st_mode & 0o222:
            raise TrackerError(
                f"{target} is read-only (no write permission bits); nothing was written. "
                "Make it writable (chmod u+w) or write the result elsewhere with --output."
            )
        if self.ignore_lock:
            return
        holder = office_lock(target)
        if holder is not None:
            raise TrackerError(
                f"{target} is open in {holder}; saving now would lose either their edits or "
                "this run's, so nothing was written. Run again when it is closed (cron will), "
                "or pass --ignore-lock if that lock file is stale."
            )


#: Excel's grid: the last column (XFD) and row a workbook may use, 0-based.
MAX_COL = 16383
MAX_ROW = 1_048_575


def _check_bounds(path: Path, plan: WritePlan) -> None:
    """Never write past Excel's last column or row (other programs drop such cells)."""
    cols = [*plan.cells, *plan.columns.values()]
    if cols and max(cols) > MAX_COL:
        raise TrackerError(
            f"{path}: the generated columns would go past column XFD, Excel's last (they sit "
            "right of every used cell, and a cell far to the right is in use); nothing was "
            "written. Delete the stray cells right of the tracker's columns, then run again."
        )
    rows = [int(s.index.max()) for s in plan.cells.values() if len(s)]
    if rows and max(rows) > MAX_ROW:
        raise TrackerError(f"{path}: row {max(rows) + 1} is past Excel's last row; nothing written")


#: Temp files of a save in progress: ``.~tracker-sync.<name>.<pid>.tmp`` beside the tracker.
TEMP_PREFIX = ".~tracker-sync."


def _remove_leftovers(dest: Path) -> None:
    """Delete temp files that a killed run left beside ``dest`` (their process is gone)."""
    for old in dest.parent.glob(f"{TEMP_PREFIX}{dest.name}.*.tmp"):
        pid = old.name.removesuffix(".tmp").rsplit(".", 1)[-1]
        if pid.isdigit() and _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            old.unlink()
            log.info("removed %s, left by a run that was stopped", old)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def office_lock(path: Path) -> str | None:
    """Who has ``path`` open, from the lock file Excel (``~$name``) or LibreOffice
    (``.~lock.name#``) keeps beside it; None when there is none.

    Excel's owner file starts with the user name (a length byte, then the name); LibreOffice's
    is one CSV line ``name,host,user,date,...``.
    """
    # Excel: "~$" + the whole name (Word's habit of dropping two letters of long names would
    # point at another workbook's lock here: "~$tracker.xlsx" is tracker.xlsx's, not abtracker's)
    excel = path.with_name("~$" + path.name)
    if excel.exists():
        return f"Excel ({_excel_owner(excel)}; lock file {excel.name})"
    libre = path.with_name(f".~lock.{path.name}#")
    if libre.exists():
        try:
            fields = libre.read_text(encoding="utf-8", errors="replace").split(",")
        except OSError:
            fields = []
        who = fields[0].strip() if fields and fields[0].strip() else "someone"
        host = f" on {fields[1].strip()}" if len(fields) > 1 and fields[1].strip() else ""
        return f"LibreOffice ({who}{host}; lock file {libre.name})"
    return None


def _excel_owner(lock: Path) -> str:
    try:
        data = lock.read_bytes()[:165]
    except OSError:
        return "someone"
    if data and 0 < data[0] <= 54:
        name = data[1 : 1 + data[0]].decode("latin-1", errors="replace").strip()
        if name:
            return name
    return "someone"


# ---------------------------------------------------------------------- helpers


#: A workbook whose parts expand past this is refused (a zip bomb, or far beyond a tracker).
MAX_EXPANDED = 2 << 30
#: ... and so is one part that expands more than this many times its compressed size while
#: being larger than MAX_RATIO_FLOOR (spreadsheet XML compresses about 10-30 times).
MAX_RATIO = 200
MAX_RATIO_FLOOR = 50 << 20
#: ... and so is one whose shared-strings part declares more distinct texts than this.
MAX_SHARED_STRINGS = 5_000_000


def _check_package(path: Path, data: bytes) -> None:
    """Refuse a package whose parts would expand past a sane size, before reading any."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
        strings = next((i for i in infos if i.filename.endswith("sharedStrings.xml")), None)
        head = z.open(strings).read(1024) if strings is not None else b""
    declared = re.search(rb'uniqueCount="(\d+)"', head)
    if declared and int(declared.group(1)) > MAX_SHARED_STRINGS:
        raise TrackerError(
            f"{path}: its shared-strings part declares {int(declared.group(1)):,} distinct texts "
            f"(more than {MAX_SHARED_STRINGS:,}, far beyond a tracker); not read (a damaged or "
            "hostile file)."
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_EXPANDED:
        raise TrackerError(
            f"{path}: its parts expand to {total / 2**30:.1f} GiB (more than "
            f"{MAX_EXPANDED / 2**30:.0f} GiB); not read. A tracker this large belongs in Google Sheets."
        )
    for i in infos:
        if i.file_size > MAX_RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise TrackerError(
                f"{path}: the part {i.filename} expands {i.file_size // max(i.compress_size, 1)} "
                f"times to {i.file_size / 2**20:.0f} MiB, which no spreadsheet writes; not read "
                "(a damaged or hostile file)."
            )


#: A tab whose used range (A1 to its last cell) spans more cells than this is read sparsely:
#: one stray cell far down or right must not make the reader build millions of empty cells.
MAX_DENSE_CELLS = 20_000_000


def _rows(book: Any, title: str, data: bytes) -> list[list[Any]]:
    """A tab's values, row-major from A1 (formulas as their cached results; None for empty)."""
    sheet = book.get_sheet_by_name(title)
    (r0, c0) = sheet.start or (0, 0)
    if (r0 + sheet.height) * (c0 + sheet.width) > MAX_DENSE_CELLS:
        return _sparse_rows(data, title)
    out = []
    big = 2**53
    for row in sheet.to_python(skip_empty_area=False):
        # calamine's values as the pipeline reads cells: '' is empty; a whole number is an int
        # (a spreadsheet stores every number as a double); inline (a call per cell was 0.1 s
        # of a 50k-row read)
        values = [
            None
            if v == "" and type(v) is str
            else int(v)
            if type(v) is float and v.is_integer() and -big < v < big
            else v
            for v in row
        ]
        while values and values[-1] is None:
            values.pop()
        out.append(values)
    while out and not out[-1]:
        out.pop()
    return out


def _sparse_rows(data: bytes, title: str) -> list[list[Any]]:
    """Only the cells that hold something (openpyxl keeps read cells in a dict), for a tab
    whose used range is huge because of a few far-away cells."""
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True, rich_text=False)
    rows: list[list[Any]] = []
    for (r, c), cell in wb[title]._cells.items():
        if cell.value is None:
            continue
        while len(rows) < r:
            rows.append([])
        row = rows[r - 1]
        if len(row) < c:
            row.extend([None] * (c - len(row)))
        row[c - 1] = cell.value
    return rows


def _owned_cf(on_sheet: set[tuple[str, str]], meta: dict[str, Any]) -> tuple[CFRule, ...]:
    """The recorded rules of the job that are still on the sheet, in recorded order."""
    recorded = [CFRule.from_json(d) for d in meta.get("conditional_formats", [])]
    return tuple(r for r in recorded if (cf_sqref(r), r.formula) in on_sheet)


__all__ = ["META_SHEET", "XlsxBackend", "set_text_safe"]

"""The Feishu / Lark Sheets backend (飞书表格): a custom app, added to the sheet as a
collaborator, reads the tracker and writes only the job's own cells, tabs and styles.

Requests of a run (see the README's "Feishu / Lark setup" for the measured counts):

- read: ``sheets/query`` (v3; the tab list with sheet ids and grid sizes), then one or more
  ``values_batch_get`` (v2) of every tab, unformatted (numbers as numbers, dates as the text
  the sheet shows), chunked so a reply stays far below Feishu's 10 MB; then one formatted read
  of the tracker tab, which only tells which numbers are shown as percentages (a 0.6 that the
  sheet shows as 60 %).
- write: new tabs (the summary tab and the hidden ``_tracker_sync`` metadata tab) through
  ``sheets_batch_update`` addSheet; missing grid room through ``dimension_range``; then a
  guard read of the header row, the task-identifying key cells and the ID column of the rows
  about to be written (anything moved since the read: the run starts over, nothing written);
  the generated cells through ``values_batch_update`` (ranges of at most 5,000 rows x 100
  columns); a verify read of the same cells (rows moved in between: the cells just written are
  cleared and the run starts over); the charts (when their data changed); then the summary and
  metadata values and the highlight styles (``styles_batch_update``).

Feishu has no developer metadata and no conditional write, so the job's own things are
identified without them: its tabs by the sheet ids it recorded in the hidden metadata tab (a
person's tab named like the summary is refused), its columns by their ``⚙`` headers, checked
immediately before and after every write. Highlights are static fills on the job's own ⚙ cells
(never on a person's cell), not conditional formats: Feishu allows 20 conditional formats per
sheet, shared with the team's own, and the job's rules need one per human column plus three.
The summary's charts are PNG float images (Feishu has no chart endpoint): drawn with matplotlib
(:mod:`.feishu_chart`, an optional extra), uploaded, placed, and replaced by the ids recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..cells import col_letter, runs
from ..errors import AccessDenied, ConfigError, RetryRun, TrackerError, TrackerNotFound
from ..i18n import generated_key, text
from ..model import (
    META_TAB,
    ApplyResult,
    CFRule,
    ChartSpec,
    Grid,
    Snapshot,
    WritePlan,
    meta_from_rows,
)
from ..style import (
    FILL_AMBER,
    FILL_DELAYED,
    FILL_FINDING,
    FILL_ON_HOLD,
    FONT_FINDING,
    GENERATED_HEADER_FILL,
)
from .feishu_http import Transport, app_secret

if TYPE_CHECKING:
    from ..config import Config, FeishuConfig

log = logging.getLogger(__name__)

API = "/open-apis/sheets"
#: Cells read per values request: Feishu caps a reply at 10 MB (documented, values_batch_get);
#: 200,000 cells stay below it unless cells average more than 50 bytes.
READ_CELLS = 200_000
#: values_batch_update and styles_batch_update: at most 5,000 rows x 100 columns a range
#: (documented on both pages).
MAX_ROWS = 5000
MAX_COLS = 100
#: A cell holds at most 50,000 characters (documented, values_batch_update).
CELL_CHARS = 40_000
#: Bytes of one write request (our own bound; no documented request-size limit was found).
MAX_REQUEST_BYTES = 2_000_000
#: The header row is looked for in the first rows, as the parser does.
HEADER_ROWS = 30
WHITE = "#FFFFFF"

_TOKEN_IN_URL = re.compile(r"/sheets/([A-Za-z0-9]+)")


def spreadsheet_token(value: str) -> str:
    """The token from a sheet's URL, or the value itself.

    >>> spreadsheet_token("https://acme.feishu.cn/sheets/shtcnAbC123?sheet=0b1c2d")
    'shtcnAbC123'
    """
    m = _TOKEN_IN_URL.search(value)
    return m.group(1) if m else value.strip()


@dataclass(frozen=True)
class _Tab:
    sheet_id: str
    title: str
    index: int
    hidden: bool
    rows: int
    cols: int


@dataclass
class _State:
    """What the last read learned that the write needs (never shown to the pipeline)."""

    version: str
    tracker: _Tab
    tabs: list[_Tab]
    summary: _Tab | None
    meta_tab: _Tab | None
    #: The backend's own record (column B of the metadata tab): sheet ids of the job's tabs.
    record: dict[str, Any]
    #: Generated keys whose ⚙ header appears on more than one column.
    doubled: list[str] = field(default_factory=list)
    #: Rows of the metadata tab that hold something (a rewrite clears them all).
    meta_rows: int = 0


def open_backend(config: Config) -> FeishuBackend:
    """The registered factory (entry point ``feishu``): ``tracker.spreadsheet`` of the config."""
    assert config.tracker.spreadsheet is not None  # the config requires it for this backend
    return FeishuBackend(
        config.tracker.spreadsheet,
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        feishu=config.feishu,
        secret_file=config.resolve(config.feishu.app_secret_file)
        if config.feishu.app_secret_file
        else None,
    )


def transport(
    feishu: FeishuConfig,
    target: str,
    *,
    secret_file: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Transport:
    """The app's transport for ``feishu`` settings (the secret is read when first needed)."""
    if not feishu.app_id:
        raise ConfigError(
            "feishu.app_id is required when tracker.backend is feishu (the App ID, cli_..., from "
            "the developer console → your app → Credentials & Basic Info)"
        )
    return Transport(
        feishu.domain,
        feishu.app_id,
        lambda: app_secret(feishu.app_secret_env, secret_file),
        target=target,
        timeout=feishu.timeout,
        attempts=feishu.retry.attempts,
        max_seconds=feishu.retry.max_seconds,
        sleep=sleep,
    )


def create_spreadsheet(
    feishu: FeishuConfig, folder: str, title: str, *, secret_file: Any = None
) -> tuple[str, str]:
    """Create an empty spreadsheet in folder ``folder`` (v3 spreadsheets create); returns its
    token and URL."""
    http = transport(feishu, f"in folder {folder}", secret_file=secret_file)
    try:
        data = http.call(
            "POST",
            f"{API}/v3/spreadsheets",
            kind="write",
            body={"title": title, "folder_token": folder},
            in_place=False,
        )
    except AccessDenied as exc:
        if "not a collaborator" not in str(exc):
            raise
        raise AccessDenied(
            f"the app ({feishu.app_id}) is not a collaborator of folder {folder}, so it cannot "
            "create a spreadsheet there: open the folder, Share → add the app (search its name) "
            "with edit access, then run again; or give a folder the app made itself"
        ) from None
    sheet = data.get("spreadsheet") or {}
    token = str(sheet.get("spreadsheet_token") or "")
    if not token:
        raise TrackerError(f"Feishu created no spreadsheet in folder {folder}: {data}")
    return token, str(sheet.get("url") or "")


class FeishuBackend:
    """A Feishu / Lark spreadsheet. ``http`` may be injected (tests).

    Capabilities (:mod:`sync.backends.base`): CountsRequests, Replans (rows moved under the
    write, or a write whose outcome is unknown), AddsTabs, CreatesTracker.
    """

    def __init__(
        self,
        spreadsheet: str,
        *,
        worksheet: str | None = None,
        summary_title: str = "Summary",
        feishu: FeishuConfig | None = None,
        secret_file: Any = None,
        http: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from ..config import FeishuConfig

        self.feishu = feishu or FeishuConfig()
        self.key = spreadsheet_token(spreadsheet)
        self.target = self.key
        self.worksheet = worksheet
        self.summary_title = summary_title
        self.http = http or transport(self.feishu, self.key, secret_file=secret_file, sleep=sleep)
        self._replans = self.feishu.retry.attempts
        self._state: _State | None = None

    # ------------------------------------------------------------------ capabilities

    @property
    def max_replans(self) -> int:
        return self._replans

    def request_counts(self) -> dict[str, int]:
        return {"read": self.http.counts.read, "write": self.http.counts.write}

    def reset_request_counts(self) -> None:
        self.http.counts.read = self.http.counts.write = self.http.counts.auth = 0
        self.http.counts.by_path.clear()

    # ------------------------------------------------------------------ low level

    def _path(self, suffix: str, version: str = "v2") -> str:
        return f"{API}/{version}/spreadsheets/{self.key}{suffix}"

    def _tabs(self) -> list[_Tab]:
        data = self.http.call("GET", self._path("/sheets/query", "v3"), kind="read")
        out = []
        for s in data.get("sheets") or []:
            grid = s.get("grid_properties") or {}
            out.append(
                _Tab(
                    str(s.get("sheet_id")),
                    str(s.get("title")),
                    int(s.get("index", 0) or 0),
                    bool(s.get("hidden", False)),
                    int(grid.get("row_count", 0) or 0),
                    int(grid.get("column_count", 0) or 0),
                )
            )
        return sorted(out, key=lambda t: t.index)

    def _get(self, ranges: list[str], *, formatted: bool = False) -> list[dict[str, Any]]:
        """One values_batch_get; the value ranges matched to the ranges asked by where each
        starts (its ``range``, documented), in the order asked where that cannot tell."""
        params = {
            "ranges": ",".join(ranges),
            "valueRenderOption": "FormattedValue" if formatted else "UnformattedValue",
            "dateTimeRenderOption": "FormattedString",
        }
        data = self.http.call("GET", self._path("/values_batch_get"), kind="read", params=params)
        got = list(data.get("valueRanges") or [])
        if len(got) != len(ranges):
            raise TrackerError(
                f"spreadsheet {self.key}: Feishu answered {len(got)} ranges for {len(ranges)} asked"
            )
        return _in_order(ranges, got)

    def _read_grid(
        self, tab: _Tab, *, formatted: bool = False, cols: int | None = None
    ) -> list[list[Any]]:
        """A whole tab's values, in requests of at most READ_CELLS cells."""
        width = max(1, min(cols or tab.cols, tab.cols or 1))
        if tab.rows <= 0 or tab.cols <= 0:
            return []
        step = max(1, READ_CELLS // width)
        rows: list[list[Any]] = []
        for r0 in range(0, tab.rows, step):
            r1 = min(tab.rows, r0 + step)
            (vr,) = self._get(
                [f"{tab.sheet_id}!A{r0 + 1}:{col_letter(width - 1)}{r1}"], formatted=formatted
            )
            rows += _pad(vr.get("values"), r1 - r0)
        return _trim(rows)

    def _read_tabs(self, tabs: list[_Tab]) -> dict[str, list[list[Any]]]:
        """Several tabs' values, packed into as few requests as READ_CELLS allows."""
        out: dict[str, list[list[Any]]] = {t.sheet_id: [] for t in tabs}
        batch: list[tuple[_Tab, int, int]] = []
        size = 0

        def flush() -> None:
            nonlocal batch, size
            if not batch:
                return
            got = self._get(
                [f"{t.sheet_id}!A{r0 + 1}:{col_letter(t.cols - 1)}{r1}" for t, r0, r1 in batch]
            )
            for (t, r0, r1), vr in zip(batch, got, strict=True):
                out[t.sheet_id] += _pad(vr.get("values"), r1 - r0)
            batch, size = [], 0

        for t in tabs:
            if t.rows <= 0 or t.cols <= 0:
                continue
            step = max(1, READ_CELLS // t.cols)
            for r0 in range(0, t.rows, step):
                r1 = min(t.rows, r0 + step)
                cells = (r1 - r0) * t.cols
                if batch and size + cells > READ_CELLS:
                    flush()
                batch.append((t, r0, r1))
                size += cells
        flush()
        return {k: _trim(v) for k, v in out.items()}

    # ------------------------------------------------------------------ read

    def read(self) -> Snapshot:
        tabs = self._tabs()
        tracker = self._pick_tracker(tabs)
        meta_tab = next((t for t in tabs if t.title == META_TAB and t is not tracker), None)
        grids = self._read_tabs(tabs)
        meta: dict[str, Any] = {}
        record: dict[str, Any] = {}
        if meta_tab is not None:
            mrows = grids.get(meta_tab.sheet_id, [])
            meta = meta_from_rows(mrows)
            record = meta_from_rows([r[1:2] for r in mrows])
        summary, job_summary = self._pick_summary(tabs, tracker, record, grids)
        rows = grids.get(tracker.sheet_id, [])
        shown = self._read_grid(tracker, formatted=True, cols=_width(rows)) if rows else []
        version = f"{self.key}:{uuid.uuid4().hex}"
        self._state = _State(
            version=version,
            tracker=tracker,
            tabs=tabs,
            summary=job_summary,
            meta_tab=meta_tab,
            record=record,
            doubled=_doubled(rows),
            meta_rows=len(grids.get(meta_tab.sheet_id, [])) if meta_tab else 0,
        )
        recorded = _recorded_rules(meta)
        return Snapshot(
            target=self.key,
            tracker=Grid(tracker.title, rows, frozenset(_percent_cells(rows, shown))),
            sheet_titles=tuple(t.title for t in tabs),
            summary=Grid(summary.title, grids.get(summary.sheet_id, [])) if summary else None,
            time_zone=None,
            conditional_formats=recorded,
            meta=meta,
            version=version,
            row_capacity=None,
            owned_columns={},
            # no chart is drawn on Feishu: a summary tab counts as complete
            summary_charts=1 if summary else 0,
            tabs={
                t.title: Grid(t.title, grids.get(t.sheet_id, []))
                for t in tabs
                if t not in (tracker, summary, job_summary, meta_tab)
            },
        )

    def _pick_tracker(self, tabs: list[_Tab]) -> _Tab:
        if self.worksheet:
            for t in tabs:
                if t.title == self.worksheet:
                    return t
            names = ", ".join(repr(t.title) for t in tabs)
            raise TrackerNotFound(
                f"spreadsheet {self.key}: no tab named {self.worksheet!r}; the tabs are: {names} "
                "(set tracker.worksheet)"
            )
        for t in tabs:
            if not t.hidden and t.title not in (self.summary_title, META_TAB):
                return t
        raise TrackerNotFound(f"spreadsheet {self.key}: no tracker tab (the tabs are: {tabs})")

    def _pick_summary(
        self,
        tabs: list[_Tab],
        tracker: _Tab,
        record: dict[str, Any],
        grids: dict[str, list[list[Any]]],
    ) -> tuple[_Tab | None, _Tab | None]:
        """The tab carrying the summary's title, as the snapshot shows it and as the job may
        write it. It is the job's when the record names its sheet id; an empty one is taken
        over (a tab the job added just before a run was cut short: nothing to lose); any other
        is a person's: shown, so the run refuses it, and never written."""
        tab = next((t for t in tabs if t.title == self.summary_title and t is not tracker), None)
        if tab is None:
            return None, None
        if record.get("summary") == tab.sheet_id:
            return tab, tab
        if not grids.get(tab.sheet_id):
            return None, tab
        return tab, None

    # ------------------------------------------------------------------ restore / init

    def _refuse_existing(self, title: str, advice: str) -> list[_Tab]:
        tabs = self._tabs()
        if title in [t.title for t in tabs]:
            raise TrackerError(
                f"spreadsheet {self.key} already has a tab named {title!r}; {advice}"
            )
        return tabs

    def _add_tabs(self, titles: list[str], index: int | None = None) -> dict[str, str]:
        """Add tabs (one sheets_batch_update); title -> new sheet id."""
        requests_ = []
        for i, title in enumerate(titles):
            props: dict[str, Any] = {"title": title}
            if index is not None:
                props["index"] = index + i
            requests_.append({"addSheet": {"properties": props}})
        data = self.http.call(
            "POST",
            self._path("/sheets_batch_update"),
            kind="write",
            body={"requests": requests_},
            in_place=False,
        )
        out: dict[str, str] = {}
        for reply in data.get("replies") or []:
            props = (reply or {}).get("addSheet", {}).get("properties", {})
            if props.get("title") in titles:
                out[str(props["title"])] = str(props.get("sheetId"))
        missing = [t for t in titles if t not in out]
        if missing:
            raise RetryRun(f"Feishu's reply named no new tab for {missing}")
        return out

    def _update_tab(self, sheet_id: str, **props: Any) -> None:
        self.http.call(
            "POST",
            self._path("/sheets_batch_update"),
            kind="write",
            body={"requests": [{"updateSheet": {"properties": {"sheetId": sheet_id, **props}}}]},
        )

    def _grow(self, tab: _Tab, rows: int, cols: int, *, slack: int = 0) -> None:
        """Room for ``rows`` x ``cols`` cells: rows / columns appended (dimension_range), rows
        with ``slack`` more, so a tab that grows a little each run is not grown each run."""
        for dim, have, want in (("ROWS", tab.rows, rows), ("COLUMNS", tab.cols, cols)):
            if dim == "ROWS" and want > have:
                want += slack
            while want > have:
                n = min(want - have, MAX_ROWS)
                self.http.call(
                    "POST",
                    self._path("/dimension_range"),
                    kind="write",
                    body={
                        "dimension": {"sheetId": tab.sheet_id, "majorDimension": dim, "length": n}
                    },
                    in_place=False,
                )
                have += n

    def _write(self, entries: list[tuple[str, list[list[Any]]]]) -> list[dict[str, Any]]:
        """values_batch_update in requests of at most MAX_REQUEST_BYTES."""
        replies = []
        for chunk in _pack(entries):
            body = {"valueRanges": [{"range": r, "values": v} for r, v in chunk]}
            replies.append(
                self.http.call("POST", self._path("/values_batch_update"), kind="write", body=body)
            )
        return replies

    def add_tab(self, title: str, rows: list[list[Any]]) -> None:
        """Write ``rows`` into a new tab (refusing an existing one). Dates become serial numbers
        with a date format (documented: the v2 "supported data types" page), text stays text."""
        self._refuse_existing(title, "choose another name")
        sid = self._add_tabs([title])[title]
        tab = next(t for t in self._tabs() if t.sheet_id == sid)
        width = max((len(r) for r in rows), default=0)
        self._grow(tab, len(rows), width)
        if rows and width:
            cells = [[_wire(v, dates=True) for v in r] + [""] * (width - len(r)) for r in rows]
            self._write(_blocks(sid, 0, 0, cells))
            dates = [
                f"{sid}!{col_letter(c)}{r + 1}"
                for r, row in enumerate(rows)
                for c, v in enumerate(row)
                if isinstance(v, dt.date)
            ]
            if dates:
                self._styles([(dates, {"formatter": "yyyy/MM/dd"})])

    def create_tracker_tab(
        self, title: str, columns: list[Any], statuses: list[str], rows: int = 1000
    ) -> None:
        """A tracker tab from the seed template: header row (bold, filled), frozen header, date
        formats. (Feishu's dropdown validation is not set: its API was not checked.)"""
        self._refuse_existing(
            title, "init never overwrites a tab (choose another name with --worksheet)"
        )
        sid = self._add_tabs([title], index=0)[title]
        tab = next(t for t in self._tabs() if t.sheet_id == sid)
        self._grow(tab, rows, len(columns))
        self._write(_blocks(sid, 0, 0, [[c.title for c in columns]]))
        last = col_letter(len(columns) - 1)
        styles: list[tuple[list[str], dict[str, Any]]] = [
            ([f"{sid}!A1:{last}1"], {"font": {"bold": True}, "backColor": "#DDEBF7"})
        ]
        dates = [
            f"{sid}!{col_letter(i)}2:{col_letter(i)}{rows}"
            for i, c in enumerate(columns)
            if c.type == "date"
        ]
        if dates:
            styles.append((dates, {"formatter": "yyyy/MM/dd"}))
        self._styles(styles)
        self._update_tab(sid, frozenRowCount=1)

    def _styles(self, entries: list[tuple[list[str], dict[str, Any]]]) -> None:
        """styles_batch_update: each (ranges, style); a cell in several ranges takes the last
        style (documented), so later entries win."""
        data = []
        for ranges, style in entries:
            for part in _chunks(ranges, 500):
                data.append({"ranges": part, "style": style})
        for part in _chunks(data, 50):
            self.http.call(
                "PUT", self._path("/styles_batch_update"), kind="write", body={"data": part}
            )

    # ------------------------------------------------------------------ write

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        st = self._state
        if st is None or st.version != snapshot.version:
            raise TrackerError("apply() needs the snapshot read by this backend")
        if plan.is_empty:
            return ApplyResult(0, requests=0)
        if st.doubled:
            raise TrackerError(
                f"spreadsheet {self.key}: the job's column {', '.join(st.doubled)} has its ⚙ header "
                f"on more than one column of tab {st.tracker.title!r} (a copied column?); nothing "
                "was written. Delete the copy so each generated column exists once."
            )
        writes_before = self.http.counts.write
        summary, meta_tab = self._structure(snapshot, plan)
        if plan.cells:
            self._write_tracker(snapshot, plan)
        tail: list[tuple[str, list[list[Any]]]] = []
        if plan.summary is not None and summary is not None:
            tail += _summary_entries(summary.sheet_id, plan)
        record: dict[str, Any] = {
            "tracker": st.tracker.sheet_id,
            "summary": summary.sheet_id if summary else None,
            "charts": list(st.record.get("charts") or []),
        }
        if summary is not None and plan.summary is not None:
            record["charts"] = self._charts(plan, summary, record["charts"])
        if meta_tab is not None and (plan.meta is not None or record != st.record):
            meta = plan.meta if plan.meta is not None else snapshot.meta
            tail += _meta_entries(meta_tab.sheet_id, meta, record, st.meta_rows)
        if tail:
            self._write(tail)
        self._style(snapshot, plan, summary)
        return ApplyResult(plan.cell_count, requests=self.http.counts.write - writes_before)

    def _structure(self, snapshot: Snapshot, plan: WritePlan) -> tuple[_Tab | None, _Tab | None]:
        """The job's tabs (added when missing, the metadata tab hidden) and grid room."""
        st = self._state
        assert st is not None
        want: list[str] = []
        if plan.summary is not None and st.summary is None:
            if self.summary_title in [t.title for t in st.tabs if t is not st.tracker]:
                raise ConfigError(
                    f"spreadsheet {self.key}: the tab {self.summary_title!r} was not made by "
                    "tracker-sync; set tracker.summary_worksheet to a new tab name"
                )
            want.append(self.summary_title)
        if st.meta_tab is None:
            want.append(META_TAB)
        tabs = st.tabs
        if want:
            added = self._add_tabs(want, index=len(st.tabs))
            tabs = self._tabs()
            if META_TAB in added:
                self._update_tab(added[META_TAB], hidden=True)
        by_id = {t.sheet_id: t for t in tabs}
        tracker = by_id.get(st.tracker.sheet_id)
        if tracker is None:
            raise RetryRun(f"the tracker tab {st.tracker.title!r} disappeared")
        summary = next(
            (t for t in tabs if st.summary and t.sheet_id == st.summary.sheet_id), None
        ) or next((t for t in tabs if t.title == self.summary_title and t is not tracker), None)
        meta_tab = next((t for t in tabs if t.title == META_TAB), None)
        if plan.columns:
            self._grow(tracker, 0, max(plan.columns.values()) + 1)
        if plan.summary is not None and summary is not None:
            self._grow(
                summary,
                len(plan.summary.rows),
                max((len(r) for r in plan.summary.rows), default=1),
                slack=100,
            )
        if meta_tab is not None:
            meta = plan.meta if plan.meta is not None else snapshot.meta
            self._grow(meta_tab, max(len(_split(_dumps(meta))) + 1, st.meta_rows), 2)
        return summary, meta_tab

    # .................................................................. chart

    def _charts(self, plan: WritePlan, summary: _Tab, drawn: list[str]) -> list[str]:
        """The summary's charts as PNG float images (Feishu has no chart endpoint): all drawn
        when the tab is new, when the recorded images do not match the charts one to one, or
        when the layout moved; otherwise only a chart a changed cell shows is drawn again. The
        image the job recorded for a chart drawn again is then replaced (deleted by its id: a
        person's images are never touched). Returns the float image ids to record, one a chart.
        Best effort: without matplotlib, or when Feishu refuses the upload, the summary's values
        are written all the same."""
        tab = plan.summary
        assert tab is not None
        if not tab.charts:
            return drawn
        changed = set(plan.summary_changes)

        def shows(spec: ChartSpec) -> bool:
            col, r0, r1 = spec.categories
            _, h, v1 = spec.values
            # every series: a stacked chart's counts are in the columns beside the first
            cells = {(r, col) for r in range(r0, r1 + 1)} | {
                (r, vcol) for vcol in spec.value_columns for r in range(h, v1 + 1)
            }
            return bool(cells & changed)

        one_each = bool(drawn) and len(drawn) == len(tab.charts) and not plan.summary_charts
        redo = [i for i, spec in enumerate(tab.charts) if not one_each or shows(spec)]
        if not redo:
            return drawn
        from .feishu_chart import HEIGHT_PX, WIDTH_PX, chart_png

        made: dict[int, str] = {}
        try:
            for i in redo:
                spec = tab.charts[i]
                png = chart_png(tab, spec)
                if png is None:
                    return drawn
                name = "tracker-sync-chart.png"
                up = self.http.call(
                    "POST",
                    "/open-apis/drive/v1/medias/upload_all",
                    kind="write",
                    upload=(
                        {
                            "file_name": name,
                            "parent_type": "sheet_image",
                            "parent_node": self.key,
                            "size": str(len(png)),
                        },
                        (name, png, "image/png"),
                    ),
                    in_place=False,
                )
                cell = f"{col_letter(spec.anchor[1])}{spec.anchor[0] + 1}"
                images = self._path(f"/sheets/{summary.sheet_id}/float_images", "v3")
                try:
                    data = self.http.call(
                        "POST",
                        images,
                        kind="write",
                        body={
                            "float_image_token": up.get("file_token"),
                            "range": f"{summary.sheet_id}!{cell}:{cell}",
                            "width": WIDTH_PX,
                            "height": HEIGHT_PX,
                            "offset_x": 0,
                            "offset_y": 0,
                        },
                        in_place=False,
                    )
                    image = data.get("float_image") or {}
                except RetryRun:
                    # the reply was lost: the image made (if any) is the one showing our upload
                    listed = self.http.call("GET", images + "/query", kind="read")
                    image = next(
                        (
                            item
                            for item in listed.get("items") or []
                            if item.get("float_image_token") == up.get("file_token")
                        ),
                        {},
                    )
                if image.get("float_image_id"):
                    made[i] = str(image["float_image_id"])
        except (AccessDenied, RetryRun) as exc:
            log.warning("spreadsheet %s: the summary chart was not drawn: %s", self.key, exc)
            return drawn + list(made.values())  # no longer one a chart: all redrawn next time
        if one_each:
            replaced = [drawn[i] for i in made]
            keep = [made.get(i, old) for i, old in enumerate(drawn)]
        else:
            replaced, keep = drawn, list(made.values())
        for old in replaced:
            try:
                self.http.call(
                    "DELETE",
                    self._path(f"/sheets/{summary.sheet_id}/float_images/{old}", "v3"),
                    kind="write",
                )
            except TrackerError as exc:  # a person deleted it already
                log.info("spreadsheet %s: the old chart %s was not deleted: %s", self.key, old, exc)
        return keep

    # .................................................................. tracker values

    def _write_tracker(self, snapshot: Snapshot, plan: WritePlan) -> None:
        """The generated cells, between a guard read (nothing moved since the read) and a verify
        read (nothing moved while writing); rows moved meanwhile: clear what was written, start
        over. Columns moved meanwhile: put back the human cells the write hit, start over."""
        st = self._state
        assert st is not None
        sid = st.tracker.sheet_id
        written = _tracker_cells(plan)
        rows = sorted({r for cells in written.values() for r in cells})
        guard = _Guard(snapshot, plan, sid, rows)
        problem = guard.check(self._get(guard.ranges()))
        if problem:
            raise RetryRun(f"{problem} since the read (nothing written)")
        entries = [
            e
            for col in sorted(written, key=lambda c: (c != plan.columns.get("gen_id"), c))
            for e in _column_entries(sid, col, written[col])
        ]
        self._write(entries)
        after = self._get(guard.ranges())
        problem = guard.check(after, written_ids=written.get(plan.columns.get("gen_id", -1), {}))
        if not problem:
            return
        header = guard.header_now(after)
        self._undo(snapshot, plan, written, header, rows_moved=problem == "rows moved")
        raise RetryRun(f"{problem} while the sync was writing; the cells it wrote were undone")

    def _undo(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        written: dict[int, dict[int, Any]],
        header_now: list[Any],
        rows_moved: bool,
    ) -> None:
        """Undo a write that things moved under. Rows moved: the written cells, all in the
        job's columns, are cleared. Columns moved (a person inserted or deleted a column in the
        moment between the guard read and the write): the shift is measured on the human
        headers left of the job's columns, and each written cell gets back what the read saw in
        the column that now sits there (a person's cell its value, the job's cell empty)."""
        st = self._state
        assert st is not None
        sid = st.tracker.sheet_id
        hr = plan.header_row
        before = snapshot.tracker.rows[hr] if hr < len(snapshot.tracker.rows) else []
        first = min(written)
        shift = 0 if rows_moved else _shift(before, header_now, first)
        entries: list[tuple[str, list[list[Any]]]] = []
        if shift is None:
            cols = ", ".join(col_letter(c) for c in sorted(written))
            raise TrackerError(
                f"spreadsheet {self.key}: columns moved on tab {st.tracker.title!r} while the sync "
                f"was writing, in a way it cannot measure; the cells it wrote in column(s) {cols} "
                "could not be put back for certain. Check them with the sheet's version history "
                "(历史记录) and run again."
            )
        generated = set(plan.columns.values())
        for col, cells in written.items():
            source = col - shift
            if source in generated or generated_key(snapshot.tracker.value(hr, source)):
                entries += _column_entries(sid, col, dict.fromkeys(cells, None))
            else:
                entries += _column_entries(
                    sid, col, {r: snapshot.tracker.value(r, source) for r in cells}
                )
        if entries:
            self._write(entries)

    # .................................................................. styles

    def _style(self, snapshot: Snapshot, plan: WritePlan, summary: _Tab | None) -> None:
        """Highlights as fills on the job's own ⚙ cells: the row's ⚙ cells red while delayed,
        yellow while amber, grey while on hold, white otherwise; the issues cell orange while it
        names a finding. Only rows whose status, health or issues changed (every row when the
        columns or the highlight rules changed); generated headers bold on grey."""
        st = self._state
        assert st is not None
        sid = st.tracker.sheet_id
        entries: list[tuple[list[str], dict[str, Any]]] = []
        status, health, issues = (
            plan.columns.get(k) for k in ("gen_status", "gen_health", "gen_issues")
        )
        if status is None or health is None or issues is None:
            return
        everything = bool(plan.new_columns) or plan.conditional_formats is not None
        hr = plan.header_row
        if plan.new_columns:
            cols = sorted(plan.columns.values())
            entries.append(
                (
                    [
                        f"{sid}!{col_letter(lo)}{hr + 1}:{col_letter(hi)}{hr + 1}"
                        for lo, hi in runs(cols)
                    ],
                    {"font": {"bold": True}, "backColor": "#" + GENERATED_HEADER_FILL},
                )
            )
        if everything:
            last = len(snapshot.tracker.rows)
            for series in plan.cells.values():
                if len(series):
                    last = max(last, int(series.index.max()) + 1)
            rows = list(range(hr + 1, last))
        else:
            rows = sorted(
                {
                    int(r)
                    for c in (status, health, issues)
                    if c in plan.cells
                    for r in plan.cells[c].index
                    if int(r) > hr
                }
            )
        if not rows:
            if entries:
                self._styles(entries)
            return

        def now(col: int, r: int) -> Any:
            s = plan.cells.get(col)
            if s is not None and r in s.index:
                return s.loc[r]
            return snapshot.tracker.value(r, col)

        labels = _labels()
        fills: dict[str, list[int]] = {}
        findings: dict[bool, list[int]] = {True: [], False: []}
        for r in rows:
            s, h = now(status, r), now(health, r)
            fill = (
                FILL_DELAYED
                if s in labels["delayed"]
                else FILL_AMBER
                if h in labels["amber"]
                else FILL_ON_HOLD
                if s in labels["on_hold"]
                else None
            )
            fills.setdefault("#" + fill if fill else WHITE, []).append(r)
            findings[bool(now(issues, r))].append(r)
        gen_runs = runs(sorted(plan.columns.values()))
        for color, rs in fills.items():
            ranges = [
                f"{sid}!{col_letter(lo)}{a + 1}:{col_letter(hi)}{b + 1}"
                for a, b in _row_runs(rs)
                for lo, hi in gen_runs
            ]
            entries.append((ranges, {"backColor": color}))
        letter = col_letter(issues)
        if findings[True]:
            entries.append(
                (
                    [
                        f"{sid}!{letter}{a + 1}:{letter}{b + 1}"
                        for a, b in _row_runs(findings[True])
                    ],
                    {"backColor": "#" + FILL_FINDING, "foreColor": "#" + FONT_FINDING},
                )
            )
        self._styles(entries)


# ---------------------------------------------------------------------------- the guard


@dataclass
class _Guard:
    """The cells that prove rows and columns are where the read saw them: the header row, the
    key cells (phase, channel, task, description) and the ID column of the rows written."""

    snapshot: Snapshot
    plan: WritePlan
    sid: str
    rows: list[int]

    @property
    def key_cols(self) -> list[int]:
        generated = set(self.plan.columns.values())
        return sorted(c for c in self.plan.key_columns if c not in generated)

    @property
    def width(self) -> int:
        return max(
            max(self.plan.columns.values(), default=0) + 1, _width(self.snapshot.tracker.rows)
        )

    def ranges(self) -> list[str]:
        hr = self.plan.header_row + 1
        out = [f"{self.sid}!A{hr}:{col_letter(self.width - 1)}{hr}"]
        body = [r for r in self.rows if r > self.plan.header_row]
        if body and self.key_cols:
            lo, hi = body[0] + 1, body[-1] + 1
            out.append(
                f"{self.sid}!{col_letter(self.key_cols[0])}{lo}:{col_letter(self.key_cols[-1])}{hi}"
            )
        idc = self.plan.columns.get("gen_id")
        if body and idc is not None and "gen_id" not in self.plan.new_columns:
            out.append(f"{self.sid}!{col_letter(idc)}{body[0] + 1}:{col_letter(idc)}{body[-1] + 1}")
        return out

    def header_now(self, got: list[dict[str, Any]]) -> list[Any]:
        values = got[0].get("values") or [[]]
        return list(values[0]) if values else []

    def check(
        self, got: list[dict[str, Any]], written_ids: dict[int, Any] | None = None
    ) -> str | None:
        snap = self.snapshot.tracker
        hr = self.plan.header_row
        head = self.header_now(got)
        for c in range(self.width):
            want = snap.value(hr, c)
            if c in self.plan.columns.values() and (hr in (self.plan.cells.get(c, _EMPTY).index)):
                continue  # a generated header the job is about to (re)write
            if not _same(head[c] if c < len(head) else None, want):
                return "columns moved"
        body = [r for r in self.rows if r > hr]
        if not body:
            return None
        i = 1
        if self.key_cols:
            values = _pad(got[i].get("values"), body[-1] - body[0] + 1)
            k0 = self.key_cols[0]
            for r in range(body[0], body[-1] + 1):
                row = values[r - body[0]]
                for c in self.key_cols:
                    now = row[c - k0] if c - k0 < len(row) else None
                    if not _same(now, snap.value(r, c)):
                        return "rows moved"
            i += 1
        idc = self.plan.columns.get("gen_id")
        if idc is not None and i < len(got):
            values = _pad(got[i].get("values"), body[-1] - body[0] + 1)
            for r in range(body[0], body[-1] + 1):
                now = values[r - body[0]][0] if values[r - body[0]] else None
                want = (written_ids or {}).get(r, snap.value(r, idc))
                if not _same(now, want):
                    return "rows moved"
        return None


class _Empty:
    index: tuple[int, ...] = ()


_EMPTY = _Empty()


# ---------------------------------------------------------------------------- helpers


def _shift(before: list[Any], now: list[Any], first: int) -> int | None:
    """How many columns the header row moved by, left of column ``first`` (the job's first
    written column): measured on the right-most human header found once in both rows (one the
    write itself covered is not found, and the next one left tells).

    >>> _shift(["a", "b", "c"], ["a", None, "b", "X"], 3), _shift(["a", "b"], ["a", "b"], 2)
    (1, 0)
    """
    for j in range(min(first, len(before)) - 1, -1, -1):
        h = before[j]
        if h in (None, "") or before.count(h) != 1:
            continue
        found = [i for i, v in enumerate(now) if v == h]
        if not found:
            continue
        return found[0] - j if len(found) == 1 else None
    return None


_START = re.compile(r"^([A-Za-z0-9]+)!([A-Z]+)(\d+)")


def _in_order(asked: list[str], got: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Value ranges in the order asked, matched by sheet id and first cell (a reply's range may
    end earlier, clipped to the grid); as they came when some start cannot be matched once.

    >>> _in_order(["a!A1:B2", "b!C3:C9"], [{"range": "b!C3:C5"}, {"range": "a!A1:B2"}])
    [{'range': 'a!A1:B2'}, {'range': 'b!C3:C5'}]
    """

    def start(text: Any) -> tuple[str, ...] | None:
        m = _START.match(str(text or ""))
        return m.groups() if m else None

    keys = [start(r) for r in asked]
    by_start: dict[tuple[str, ...], dict[str, Any]] = {}
    for vr in got:
        k = start(vr.get("range"))
        if k is None or k in by_start:
            return got
        by_start[k] = vr
    if any(k is None or k not in by_start for k in keys) or len(set(keys)) != len(keys):
        return got
    return [by_start[k] for k in keys if k is not None]


def _labels() -> dict[str, set[str]]:
    """The computed-status and health labels the highlights key on, in every locale."""
    out: dict[str, set[str]] = {"delayed": set(), "amber": set(), "on_hold": set()}
    for locale in ("zh-CN", "en"):
        out["delayed"].add(text(locale, "status.delayed"))
        out["on_hold"].add(text(locale, "status.on_hold"))
        out["amber"].add(text(locale, "health.amber"))
    return out


def _same(a: Any, b: Any) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


def _pad(values: Any, n: int) -> list[list[Any]]:
    rows = [list(r) if isinstance(r, list) else [] for r in (values or [])]
    return (rows + [[] for _ in range(n - len(rows))])[:n] if n >= 0 else rows


def _trim(rows: list[list[Any]]) -> list[list[Any]]:
    out = []
    for r in rows:
        r = [None if v == "" else v for v in r]
        while r and r[-1] is None:
            r.pop()
        out.append(r)
    while out and not out[-1]:
        out.pop()
    return out


def _width(rows: list[list[Any]]) -> int:
    return max((len(r) for r in rows), default=0)


def _doubled(rows: list[list[Any]]) -> list[str]:
    seen: dict[str, int] = {}
    doubled: list[str] = []
    for r in rows[:HEADER_ROWS]:
        keys = [k for k in (generated_key(v) for v in r) if k]
        for k in keys:
            seen[k] = seen.get(k, 0) + 1
        for k in {k for k in keys if keys.count(k) > 1}:
            if k not in doubled:
                doubled.append(k)
    return doubled


def _percent_cells(rows: list[list[Any]], shown: list[list[Any]]) -> set[tuple[int, int]]:
    """Cells holding a number that the sheet shows with a % sign."""
    out = set()
    for r, row in enumerate(rows):
        srow = shown[r] if r < len(shown) else []
        for c, v in enumerate(row):
            if isinstance(v, int | float) and not isinstance(v, bool) and c < len(srow):
                s = srow[c]
                if isinstance(s, str) and s.strip().endswith("%"):
                    out.add((r, c))
    return out


def _recorded_rules(meta: dict[str, Any]) -> tuple[CFRule, ...]:
    """The highlight rules the job's metadata lists (what the last run styled by)."""
    try:
        return tuple(CFRule.from_json(r) for r in meta.get("conditional_formats") or [])
    except (ValueError, TypeError, KeyError, AttributeError):
        return ()


def _wire(value: Any, *, dates: bool = False) -> Any:
    """A value as written: None clears (""), text stays text (a formula is only ever an object
    {"type": "formula"}, documented: v2 supported data types), a date a serial number."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, dt.datetime):
        if dates:
            day = value.date()
            return (day - dt.date(1899, 12, 30)).days + (
                value - dt.datetime.combine(day, dt.time())
            ).total_seconds() / 86400
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return (value - dt.date(1899, 12, 30)).days if dates else value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _row_runs(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive rows as (first, last), at most MAX_ROWS rows each."""
    out = []
    for lo, hi in runs(rows):
        while hi - lo + 1 > MAX_ROWS:
            out.append((lo, lo + MAX_ROWS - 1))
            lo += MAX_ROWS
        out.append((lo, hi))
    return out


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _tracker_cells(plan: WritePlan) -> dict[int, dict[int, Any]]:
    return {
        col: {int(r): v for r, v in zip(s.index.tolist(), s.tolist(), strict=True)}
        for col, s in plan.cells.items()
        if len(s)
    }


def _column_entries(sid: str, col: int, cells: dict[int, Any]) -> list[tuple[str, list[list[Any]]]]:
    """One column's cells as ranges of consecutive rows (at most MAX_ROWS each)."""
    letter = col_letter(col)
    out = []
    for lo, hi in _row_runs(sorted(cells)):
        out.append(
            (
                f"{sid}!{letter}{lo + 1}:{letter}{hi + 1}",
                [[_wire(cells[r])] for r in range(lo, hi + 1)],
            )
        )
    return out


def _blocks(sid: str, r0: int, c0: int, rows: list[list[Any]]) -> list[tuple[str, list[list[Any]]]]:
    """A block of rows as ranges of at most MAX_ROWS x MAX_COLS."""
    width = _width(rows)
    out = []
    for i in range(0, len(rows), MAX_ROWS):
        for j in range(0, width, MAX_COLS):
            part = [
                [
                    _wire(v)
                    for v in (r[j : j + MAX_COLS] + [None] * MAX_COLS)[: min(MAX_COLS, width - j)]
                ]
                for r in rows[i : i + MAX_ROWS]
            ]
            lo, hi = r0 + i, r0 + i + len(part) - 1
            a, b = col_letter(c0 + j), col_letter(c0 + j + len(part[0]) - 1)
            out.append((f"{sid}!{a}{lo + 1}:{b}{hi + 1}", part))
    return out


def _summary_entries(sid: str, plan: WritePlan) -> list[tuple[str, list[list[Any]]]]:
    """The summary's changed cells as runs along each row."""
    assert plan.summary is not None
    by_row: dict[int, dict[int, Any]] = {}
    for (r, c), (_, new) in plan.summary_changes.items():
        by_row.setdefault(r, {})[c] = new
    out = []
    for r in sorted(by_row):
        cells = by_row[r]
        for lo, hi in runs(sorted(cells)):
            while lo <= hi:
                top = min(hi, lo + MAX_COLS - 1)
                out.append(
                    (
                        f"{sid}!{col_letter(lo)}{r + 1}:{col_letter(top)}{r + 1}",
                        [[_wire(cells[c]) for c in range(lo, top + 1)]],
                    )
                )
                lo = top + 1
    return out


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


def _split(text_: str) -> list[str]:
    return [text_[i : i + CELL_CHARS] for i in range(0, len(text_), CELL_CHARS)] or [""]


def _meta_entries(
    sid: str, meta: dict[str, Any], record: dict[str, Any], used: int
) -> list[tuple[str, list[list[Any]]]]:
    """The metadata tab: the pipeline's metadata as JSON down column A, the backend's record of
    its tabs down column B (both split at CELL_CHARS), the rest of both columns cleared."""
    a, b = _split(_dumps(meta)), _split(_dumps(record))
    height = max(len(a), len(b), used)
    rows = [[a[i] if i < len(a) else "", b[i] if i < len(b) else ""] for i in range(height)]
    return [(f"{sid}!A1:B{len(rows)}", rows)]


def _pack(entries: list[tuple[str, list[list[Any]]]]) -> list[list[tuple[str, list[list[Any]]]]]:
    chunks: list[list[tuple[str, list[list[Any]]]]] = []
    size = 0
    for e in entries:
        n = len(_dumps(e[1]).encode()) + len(e[0]) + 32
        if chunks and size + n <= MAX_REQUEST_BYTES:
            chunks[-1].append(e)
            size += n
        else:
            chunks.append([e])
            size = n
    return chunks


__all__ = ["FeishuBackend", "create_spreadsheet", "open_backend", "spreadsheet_token"]

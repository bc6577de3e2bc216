"""The backend: read a snapshot in one request, apply a plan as one structural batchUpdate and
size-bounded values writes through the anchors, each checked (see the package docstring)."""

from __future__ import annotations

import copy
import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gspread

from ...cells import col_letter
from ...config import GoogleConfig
from ...errors import BackendUnavailable, RetryRun, TrackerError, TrackerNotFound
from ...model import (
    META_TAB,
    ApplyResult,
    CFRule,
    Grid,
    RequestCounter,
    Snapshot,
    WritePlan,
    meta_from_rows,
)
from ..base import Probe, ReadHints
from . import build, structure
from .build import (
    CHARTS_KEY,
    ENVELOPE,
    FORMATS_KEY,
    HEADER_REPLY_FIELDS,
    META_KEY,
    PROTECTION_DESCRIPTION,
    READ_FIELDS,
    VALUES_READ,
    VALUES_REPLY_FIELDS,
    Entry,
    anchor_request,
    cf_json,
    column_entries,
    dumps,
    formats_value,
    insert_columns,
    pack,
    quote_title,
    summary_entries,
    tab_width,
)
from .formats import formats_record, legacy_record, own_rules, rule_sig, sans_end
from .grid import (
    a1_extent,
    created_anchor_ids,
    decode_grid,
    decode_percent,
    decode_values,
    find_anchor_ids,
    key_columns,
    norm_value,
    percent_columns,
    reply_sheet,
)
from .guard import RowGuard
from .transport import Policy, Transport, spreadsheet_key

if TYPE_CHECKING:
    from ...config import Config

log = logging.getLogger(__name__)


@dataclass
class ReadState:
    """What the last read learned that the write needs (never shown to the pipeline)."""

    token: str
    tracker_id: int
    tracker_title: str
    column_count: int
    row_count: int
    #: The tracker tab's conditional-format rules as read, and which of them are the job's.
    cf_rules: list[dict[str, Any]]
    own_cf_indexes: list[int]
    own_protections: list[dict[str, Any]]
    meta_id: int | None
    summary_id: int | None
    summary_rows: int
    summary_cols: int
    summary_height: int
    sheet_titles: list[str] = field(default_factory=list)
    #: The ids of the job's charts on its summary tab — those its record names (deleted when
    #: the charts are drawn anew); a person's chart there is not among them.
    summary_chart_ids: list[int] = field(default_factory=list)
    #: Every object id on the summary tab (new charts take ids that are not among them).
    summary_object_ids: list[int] = field(default_factory=list)
    #: The metadataId of the job's record of its charts (developer metadata
    #: ``tracker_sync.charts``), None without one.
    charts_id: int | None = None
    #: Generated column key -> the metadataId of its anchor on the tracker tab: every values
    #: write addresses an anchor by its id, so it matches exactly that one column.
    anchor_ids: dict[str, int] = field(default_factory=dict)
    #: Keys anchored on more than one column of the tracker tab (the run stops before writing).
    doubled: list[str] = field(default_factory=list)
    #: The job's record of its rules (developer metadata ``tracker_sync.formats``): its id and
    #: value as read, and whether a rule of the job's was found moved by people's edits.
    formats_id: int | None = None
    formats_raw: str | None = None
    formats_moved: bool = False
    #: The structure came from the day's kept structure (:mod:`.structure`), not a read: a
    #: structural write reads it afresh first.
    recalled: bool = False


#: A read: the structure reply, its tabs, the values by title, and the tracker's percent
#: cells when the structure was recalled (None: the reply's formats tell them).
_Read = tuple[
    dict[str, Any],
    list[dict[str, Any]],
    dict[str, list[list[Any]]],
    set[tuple[int, int]] | None,
]


@dataclass(frozen=True)
class _Values:
    """The tabs' values as one ``values:batchGet`` gave them: rows and grid size, by title."""

    rows: dict[str, list[list[Any]]]
    extents: dict[str, tuple[int, int] | None]


@dataclass(frozen=True)
class _Hint:
    """What a read found that lets the next one start with the values: every tab (title, has a
    grid) in the sheet's order, which of them is the tracker, and the structure the read found
    (:mod:`.structure`; None when it may have changed since: after a structural write)."""

    tabs: tuple[tuple[str, bool], ...]
    tracker: str
    structure: dict[str, Any] | None = None

    @property
    def titles(self) -> list[str]:
        return [t for t, _ in self.tabs]

    @classmethod
    def of(
        cls,
        sheets: list[dict[str, Any]],
        tracker: dict[str, Any],
        kept: dict[str, Any] | None = None,
    ) -> _Hint:
        return cls(
            tuple(
                (s["properties"]["title"], s["properties"].get("sheetType", "GRID") == "GRID")
                for s in sheets
            ),
            tracker["properties"]["title"],
            kept,
        )

    def changed(self, new_tab: str | None = None) -> _Hint:
        """The hint after a structural write (which made ``new_tab``, if given): the tabs, no
        kept structure."""
        tabs = self.tabs
        if new_tab is not None and new_tab not in self.titles:
            tabs = (*tabs, (new_tab, True))
        return _Hint(tabs, self.tracker)

    def dumps(self) -> str:
        data: dict[str, Any] = {"tabs": [[t, g] for t, g in self.tabs], "tracker": self.tracker}
        if self.structure is not None:
            data["structure"] = self.structure
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> _Hint | None:
        """The hint a read left, or None when there is none or it is not one of ours."""
        if not text:
            return None
        try:
            data = json.loads(text)
            tabs = tuple((str(t), bool(g)) for t, g in data["tabs"])
            tracker = str(data["tracker"])
            kept = data.get("structure")
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if (tracker, True) not in tabs:
            return None
        return cls(tabs, tracker, kept if isinstance(kept, dict) else None)


def _own_charts(
    metadata: list[dict[str, Any]], summary_id: int | None, present: list[int]
) -> tuple[list[int], int | None]:
    """The job's charts among ``present`` (the ids on its summary tab ``summary_id``) and the
    metadataId of its record of them. Without a record (a tab the job drew before it kept one)
    every chart there is the job's, as it always was; with a record, only those it names — a
    person's chart on the summary tab is theirs. A record of another tab (the summary tab was
    deleted and made again) or one that cannot be read names none."""
    for m in metadata:
        if m.get("metadataKey") != CHARTS_KEY:
            continue
        mid = m.get("metadataId")
        try:
            data = json.loads(m.get("metadataValue") or "{}")
            if summary_id is None or int(data.get("sheetId", -1)) != summary_id:
                return [], mid
            recorded = {int(i) for i in data.get("charts", [])}
        except (ValueError, TypeError, AttributeError):
            return [], mid
        return [c for c in present if c in recorded], mid
    return list(present), None


def _shape(s: Snapshot) -> tuple[Any, ...]:
    """What a snapshot took from the structure (not the values). Of the percent cells, those
    whose number reads differently as a percentage (a recalled structure knows only those)."""
    rows = s.tracker.rows
    return (
        s.sheet_titles,
        s.time_zone,
        s.conditional_formats,
        s.meta,
        s.owned_columns,
        s.summary_charts,
        {(r, c) for r, c in s.tracker.percent_cells if structure.depends_on_format(rows[r][c])},
        s.row_capacity,
        tuple(s.tabs),
    )


def _rule_starts(state: ReadState | None) -> list[int]:
    """The rows the job's highlight rules start on (0-based)."""
    if state is None:
        return []
    return [
        int(rng.get("startRowIndex", 0))
        for i in state.own_cf_indexes
        for rng in state.cf_rules[i].get("ranges", [])
    ]


def _grid_size(sheet: dict[str, Any]) -> tuple[int, int]:
    gp = sheet["properties"].get("gridProperties", {})
    return int(gp.get("rowCount", 0)), int(gp.get("columnCount", 0))


def open_backend(config: Config) -> SheetsBackend:
    """The registered factory (entry point ``gsheets``): ``tracker.spreadsheet`` of the config."""
    assert config.tracker.spreadsheet is not None  # the config requires it for this backend
    creds = config.resolve(config.google.credentials) if config.google.credentials else None
    return SheetsBackend(
        config.tracker.spreadsheet,
        worksheet=config.tracker.worksheet,
        summary_title=config.summary_title(),
        google=config.google,
        credentials_path=creds,
    )


class SheetsBackend:
    """A Google Sheet. ``client`` may be injected (tests); otherwise built from ``google``.

    Capabilities (:mod:`sync.backends.base`): CountsRequests, Replans (rows moved under the
    write, or a write whose outcome is unknown), AddsTabs, CreatesTracker, Probes.
    """

    def __init__(
        self,
        spreadsheet: str,
        *,
        worksheet: str | None = None,
        summary_title: str = "Summary",
        google: GoogleConfig | None = None,
        credentials_path: Path | None = None,
        client: gspread.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.google = google or GoogleConfig()
        self.key = spreadsheet_key(spreadsheet)
        self.target = self.key
        self.worksheet = worksheet
        self.summary_title = summary_title
        self.transport = Transport(self.key, self.google, credentials_path, client, sleep)
        self._state: ReadState | None = None
        self._hints = ReadHints()
        self._hint: _Hint | None = None
        self._probed: _Values | None = None
        self._last_hint: str | None = None
        #: The values the last read used (a structure read before a structural write pairs
        #: them with the structure) and whether the next read may use the kept structure.
        self._values: _Values | None = None
        self._recall = True

    # ------------------------------------------------------------------ capabilities

    @property
    def max_replans(self) -> int:
        return self.google.retry.attempts

    def request_counts(self) -> dict[str, int]:
        return self.transport.counter.as_dict()

    def reset_request_counts(self) -> None:
        self.transport.counter = RequestCounter()

    @property
    def policy(self) -> Policy:
        """How requests are retried (tests replace its ``sleep``)."""
        return self.transport.policy

    @property
    def client(self) -> gspread.Client:
        return self.transport.client

    def _post(
        self,
        suffix: str,
        body: dict[str, Any],
        *,
        params: dict[str, Any] | None = None,
        in_place: bool = True,
    ) -> Any:
        """POST one write, serialised compactly as UTF-8 (what the size budget counts)."""
        return self.transport.post(suffix, dumps(body), params=params, in_place=in_place)

    # ------------------------------------------------------------------ read

    def prepare_read(self, hints: ReadHints) -> None:
        """Use ``hints`` (:class:`~sync.backends.base.Probes`): the tabs an earlier run found,
        and which headers name a percent column."""
        self._hints = hints
        hint = _Hint.parse(hints.last)
        # a hint from before the summary tab existed (a first run's read) cannot tell whether
        # it exists now: read as on a first run
        self._hint = hint if hint and self.summary_title in hint.titles else None
        self._probed = None
        self._recall = True

    def probe(self) -> Probe | None:
        """One ``values:batchGet`` of the tabs the hint names; None without a hint, or when a
        hinted tab was renamed or deleted (the next read then reads as on a first run)."""
        if self._hint is None:
            return None
        self._probed = self._read_hinted_values(self._hint)
        if self._probed is None:
            self._hint = None
            return None
        grids = {t: self._probed.rows.get(t, []) for t, _ in self._hint.tabs}
        return Probe(target=self.key, tracker=self._hint.tracker, grids=grids)

    def read_hint(self) -> str | None:
        return self._last_hint

    def read(self) -> Snapshot:
        """One or two requests. With a hint of the tabs (:meth:`prepare_read`): every tab's
        values first (or the :meth:`probe`'s); then the structure the hint kept from the day's
        last structure read when the values show no structural change (:mod:`.structure`),
        else the structure of those tabs only, with the number-format types of the percent
        columns' cells alone. Without one: the structure of every tab with the format type of
        every formatted cell, then every tab's values. A tab whose grid changed size between
        the two (rows or columns inserted or deleted meanwhile), renamed or deleted, is read
        again (up to ``google.retry.attempts`` times)."""
        for attempt in range(1, self.google.retry.attempts + 1):
            got = self._read_hinted() if self._hint is not None else None
            if got is None and self._hint is None:
                got = self._read_full()
            if got is not None:
                data, sheets, values, recalled = got
                break
            log.warning(
                "spreadsheet %s: the tabs changed between the two parts of the read (attempt %d); "
                "reading again",
                self.key,
                attempt,
            )
        else:
            raise BackendUnavailable(
                f"spreadsheet {self.key}: the tabs kept changing while the sync was reading them "
                f"({self.google.retry.attempts} attempts); run again when the edits are done"
            )
        titles = [s["properties"]["title"] for s in sheets]
        tracker = self._pick_tracker(sheets, titles)
        snapshot = self._snapshot(data, sheets, titles, tracker, values, percent=recalled)
        if recalled is not None:
            assert self._hint is not None and self._state is not None
            self._state.recalled = True
            self._last_hint = self._hint.dumps()  # the day's structure, kept as it was
        else:
            self._last_hint = self._hint_after(data, sheets, tracker, snapshot)
        return snapshot

    def _hint_after(
        self,
        data: dict[str, Any],
        sheets: list[dict[str, Any]],
        tracker: dict[str, Any],
        snapshot: Snapshot,
    ) -> str:
        """The hint a structure read leaves: the tabs, and the structure for later runs."""
        rows = snapshot.tracker.rows
        kept = structure.keep(
            data,
            sheets,
            tracker["properties"]["title"],
            rows,
            snapshot.owned_columns,
            percent_columns(rows, self._hints.percent_header),
            snapshot.tracker.percent_cells,
            key_columns(rows, self._hints.key_header),
            _rule_starts(self._state),
        )
        return _Hint.of(sheets, tracker, kept).dumps()

    def _read_full(self) -> _Read | None:
        """Structure first (every tab, the format type of every formatted cell), then values."""
        data = self.transport.get({"fields": READ_FIELDS})
        sheets = data.get("sheets", [])
        values = self._read_values(sheets)
        return None if values is None else (data, sheets, values, None)

    def _read_hinted(self) -> _Read | None:
        """Values first (the probe's, else one request), then the structure: the day's kept
        structure when the values allow (:func:`.structure.recall`), else the hinted tabs'
        (:meth:`_read_structure`). None when the tabs changed in between (read again); a hint
        that no longer fits (a tab renamed or deleted, another tracker tab) is dropped."""
        hint = self._hint
        assert hint is not None
        probed, self._probed = self._probed, None
        if probed is None:
            probed = self._read_hinted_values(hint)
        if probed is None:
            self._hint = None
            return None
        self._values = probed
        values = {t: probed.rows.get(t, []) for t in hint.titles}
        percent = percent_columns(probed.rows.get(hint.tracker, []), self._hints.percent_header)
        if self._recall and hint.structure is not None and self.worksheet in (None, hint.tracker):
            tracker_rows = probed.rows.get(hint.tracker, [])
            recalled = structure.recall(
                hint.structure,
                hint.tracker,
                probed.rows,
                probed.extents,
                percent,
                key_columns(tracker_rows, self._hints.key_header),
            )
            if recalled is not None:
                data, percent_cells = recalled
                return data, data["sheets"], values, percent_cells
            log.info("spreadsheet %s: the values show a structural change; reading it", self.key)
        got = self._read_structure(hint, probed, percent)
        return None if got is None else (*got, None)

    def _read_structure(
        self, hint: _Hint, probed: _Values, percent: list[int] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[list[Any]]]] | None:
        """The structure of the hinted tabs only: a one-cell range on each (``ranges`` limits
        ``sheets[]`` to the tabs they touch), the tracker's first row (every column's anchors)
        and its percent columns (their number formats), to go with the values ``probed``. None
        when the tabs changed since those values (read again); a hint that no longer fits is
        dropped."""
        tracker = quote_title(hint.tracker)
        ranges = [f"{tracker}!1:1"] if percent is not None else [tracker]
        ranges += [f"{tracker}!{col_letter(c)}:{col_letter(c)}" for c in percent or ()]
        ranges += [f"{quote_title(t)}!A1" for t, grid in hint.tabs if grid and t != hint.tracker]
        try:
            data = self.transport.get({"fields": READ_FIELDS, "ranges": ranges})
        except TrackerError as exc:
            if "parse range" in str(exc).lower():  # a tab renamed or deleted meanwhile
                self._hint = None
                return None
            raise
        sheets = list(data.get("sheets", []))
        got = {s["properties"]["title"] for s in sheets}
        # a tab without a grid (a chart's own tab) takes no range: it stays as the hint had it
        sheets += [
            {"properties": {"title": t, "sheetType": "OBJECT"}}
            for t, grid in hint.tabs
            if not grid and t not in got
        ]
        grid_titles = {t for t, grid in hint.tabs if grid}
        try:
            picked = self._pick_tracker(sheets, [s["properties"]["title"] for s in sheets])
        except TrackerNotFound:  # e.g. tracker.worksheet now names a tab the hint lacks
            self._hint = None
            return None
        # the job's metadata exists from the first run on; a ranged read that does not show it
        # (Google leaving spreadsheet metadata out of a ranged read is not ruled out) is not
        # trusted to tell what the job owns: read as on a first run
        has_meta = any(m.get("metadataKey") == META_KEY for m in data.get("developerMetadata", []))
        if got != grid_titles or picked["properties"]["title"] != hint.tracker or not has_meta:
            self._hint = None
            return None
        for sheet in sheets:
            title = sheet["properties"]["title"]
            if title in grid_titles and probed.extents.get(title) != _grid_size(sheet):
                return None
        return data, sheets, {t: probed.rows.get(t, []) for t in got | set(hint.titles)}

    def _read_hinted_values(self, hint: _Hint) -> _Values | None:
        """The hinted tabs' values in one ``values:batchGet``; None when one of them is gone."""
        titles = [t for t, grid in hint.tabs if grid]
        if not titles:
            return _Values({}, {})
        params = {"ranges": [quote_title(t) for t in titles], **VALUES_READ}
        try:
            reply = self.transport.get(params, "/values:batchGet")
        except TrackerError as exc:
            if "parse range" in str(exc).lower():  # a tab renamed or deleted
                return None
            raise
        ranges = reply.get("valueRanges", []) if isinstance(reply, dict) else []
        if len(ranges) != len(titles):
            return None
        rows: dict[str, list[list[Any]]] = {}
        extents: dict[str, tuple[int, int] | None] = {}
        for title, vr in zip(titles, ranges, strict=True):
            rows[title] = decode_values(vr)
            extents[title] = a1_extent(str(vr.get("range", "")))
        return _Values(rows, extents)

    def _snapshot(
        self,
        data: dict[str, Any],
        sheets: list[dict[str, Any]],
        titles: list[str],
        tracker: dict[str, Any],
        values: dict[str, list[list[Any]]],
        *,
        percent: set[tuple[int, int]] | None = None,
        token: str | None = None,
    ) -> Snapshot:
        """The snapshot of a read, and the state its write needs. ``percent``: the tracker's
        percent cells when not the reply's formats'; ``token``: the snapshot's version (a new
        one by default)."""
        props = tracker["properties"]
        grid_props = props.get("gridProperties", {})
        rows = values[props["title"]]
        if percent is None:
            percent = decode_percent(tracker, rows)
        _, _, anchors = decode_grid(tracker)
        anchor_ids, doubled = find_anchor_ids(tracker)
        summary_sheet = next(
            (
                s
                for s in sheets
                if s["properties"]["title"] == self.summary_title and s is not tracker
            ),
            None,
        )
        summary = None
        summary_rows = summary_cols = summary_height = 0
        if summary_sheet is not None:
            srows = values[self.summary_title]
            summary = Grid(self.summary_title, srows)
            sgp = summary_sheet["properties"].get("gridProperties", {})
            summary_rows, summary_cols = int(sgp.get("rowCount", 0)), int(sgp.get("columnCount", 0))
            summary_height = len(srows)
        tabs = {
            s["properties"]["title"]: Grid(
                s["properties"]["title"], values[s["properties"]["title"]]
            )
            for s in sheets
            if s is not tracker and s is not summary_sheet
        }
        protections = [
            p
            for p in tracker.get("protectedRanges", [])
            if p.get("description") == PROTECTION_DESCRIPTION
        ]
        meta_id, meta = None, {}
        for m in data.get("developerMetadata", []):
            if m.get("metadataKey") == META_KEY:
                meta_id = m.get("metadataId")
                try:
                    meta = json.loads(m.get("metadataValue") or "{}")
                except json.JSONDecodeError:
                    meta = {}
        if meta_id is None and META_TAB in tabs:
            # a tracker synced as .xlsx, then uploaded: the job's metadata came along in its tab
            meta = meta_from_rows(tabs[META_TAB].rows)
        meta = meta if isinstance(meta, dict) else {}
        tracker_id = int(props.get("sheetId", 0))
        row_count = int(grid_props.get("rowCount", 1000))
        cf_rules = list(tracker.get("conditionalFormats", []))
        recorded, formats_id, formats_raw = formats_record(
            data.get("developerMetadata", []), tracker_id
        )
        present = [
            int(c["chartId"]) for c in (summary_sheet or {}).get("charts") or [] if "chartId" in c
        ]
        own_charts, charts_id = _own_charts(
            data.get("developerMetadata", []),
            int(summary_sheet["properties"]["sheetId"]) if summary_sheet else None,
            present,
        )
        own = own_rules(
            tracker_id,
            cf_rules,
            recorded if recorded is not None else legacy_record(meta),
            row_count,
        )
        token = token or f"{self.key}:{uuid.uuid4().hex}"  # this read of this backend only
        self._state = ReadState(
            token=token,
            tracker_id=tracker_id,
            tracker_title=props["title"],
            column_count=int(grid_props.get("columnCount", 26)),
            row_count=row_count,
            cf_rules=cf_rules,
            own_cf_indexes=list(own.indexes),
            own_protections=protections,
            meta_id=meta_id,
            summary_id=int(summary_sheet["properties"]["sheetId"]) if summary_sheet else None,
            summary_rows=summary_rows,
            summary_cols=summary_cols,
            summary_height=summary_height,
            summary_chart_ids=own_charts,
            summary_object_ids=present,
            charts_id=charts_id,
            sheet_titles=titles,
            anchor_ids=anchor_ids,
            doubled=doubled,
            formats_id=formats_id,
            formats_raw=formats_raw,
            formats_moved=own.moved,
        )
        return Snapshot(
            target=self.key,
            tracker=Grid(props["title"], rows, frozenset(percent)),
            sheet_titles=tuple(titles),
            summary=summary,
            time_zone=data.get("properties", {}).get("timeZone"),
            conditional_formats=own.rules,
            meta=meta,
            version=token,
            # the job's rules run to the end of the sheet, whatever its size (see cf_json)
            row_capacity=None,
            owned_columns=anchors,
            summary_charts=len(own_charts),
            tabs=tabs,
        )

    def _pick_tracker(self, sheets: list[dict[str, Any]], titles: list[str]) -> dict[str, Any]:
        if self.worksheet:
            for s in sheets:
                if s["properties"]["title"] == self.worksheet:
                    return s
            tabs = ", ".join(repr(t) for t in titles)
            raise TrackerNotFound(
                f"spreadsheet {self.key}: no tab named {self.worksheet!r}; the tabs are: {tabs} (set tracker.worksheet)"
            )
        for s in sheets:
            p = s["properties"]
            if not p.get("hidden") and p["title"] != self.summary_title:
                return s
        raise TrackerNotFound(f"spreadsheet {self.key}: no tracker tab (the tabs are: {titles})")

    def _read_values(self, sheets: list[dict[str, Any]]) -> dict[str, list[list[Any]]] | None:
        """Every tab's values in one ``values:batchGet``, by title; None when a tab is not as the
        first request found it (renamed, deleted, or its grid another size: the reply names
        "the entire requested range", documented: Sheets API reference, ValueRange.range)."""
        out: dict[str, list[list[Any]]] = {
            s["properties"]["title"]: []
            for s in sheets
            if s["properties"].get("sheetType", "GRID") != "GRID"  # a chart's own tab: no cells
        }
        sheets = [s for s in sheets if s["properties"]["title"] not in out]
        titles = [s["properties"]["title"] for s in sheets]
        if not titles:
            return out
        params = {"ranges": [quote_title(t) for t in titles], **VALUES_READ}
        try:
            reply = self.transport.get(params, "/values:batchGet")
        except TrackerError as exc:
            if "parse range" in str(exc).lower():  # a tab renamed or deleted meanwhile
                return None
            raise
        ranges = reply.get("valueRanges", []) if isinstance(reply, dict) else []
        if len(ranges) != len(titles):
            return None
        # the ranges come back in the order asked (documented: BatchGetValuesResponse)
        for sheet, title, vr in zip(sheets, titles, ranges, strict=True):
            if a1_extent(str(vr.get("range", ""))) != _grid_size(sheet):
                return None
            out[title] = decode_values(vr)
        return out

    # ------------------------------------------------------------------ restore

    def _refuse_existing(self, title: str, advice: str) -> None:
        """One small read of the tab titles; an existing tab of that name is an error."""
        data = self.transport.get({"fields": "sheets(properties(title))"})
        if title in [s["properties"]["title"] for s in data.get("sheets", [])]:
            raise TrackerError(
                f"spreadsheet {self.key} already has a tab named {title!r}; {advice}"
            )

    def add_tab(self, title: str, rows: list[list[Any]]) -> None:
        """Write ``rows`` into a new tab (refusing an existing one) in one atomic batchUpdate.
        Dates are written as dates (serial numbers with a date format), text always as text."""
        self._refuse_existing(title, "choose another name")
        sid = random.randint(10_000_000, 2_000_000_000)
        reqs = build.add_tab_requests(sid, title, rows)
        self._post(":batchUpdate", {"requests": reqs}, in_place=False)

    # ------------------------------------------------------------------ init

    def create_tracker_tab(
        self, title: str, columns: list[Any], statuses: list[str], rows: int = 1000
    ) -> None:
        """Add a tracker tab from the seed template: header row, frozen header, status dropdown,
        date formats and column widths, in one atomic batchUpdate. Refuses an existing tab."""
        self._refuse_existing(
            title, "init never overwrites a tab (choose another name with --worksheet)"
        )
        sid = random.randint(10_000_000, 2_000_000_000)
        reqs = build.tracker_tab_requests(sid, title, columns, statuses, rows)
        self._post(":batchUpdate", {"requests": reqs}, in_place=False)

    # ------------------------------------------------------------------ write

    def apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        try:
            return self._apply(snapshot, plan)
        except RetryRun:
            self._recall = False  # the run reads again: the structure too
            raise

    def _apply(self, snapshot: Snapshot, plan: WritePlan) -> ApplyResult:
        st = self._state
        if st is None or st.token != snapshot.version:
            raise TrackerError("apply() needs the snapshot read by this backend")
        if plan.is_empty:
            return ApplyResult(0, requests=0)
        if st.doubled:
            raise TrackerError(
                f"spreadsheet {self.key}: the job's anchor for {', '.join(st.doubled)} is on more "
                f"than one column of tab {st.tracker_title!r} (a copied column?); nothing was "
                "written. Delete the copied ⚙ column so each generated column exists once."
            )
        writes_before = self.transport.counter.write
        fresh_cols = sorted(plan.columns[k] for k in plan.new_columns)
        structural: list[dict[str, Any]] = []
        restyle = plan.summary is not None and (
            st.summary_id is None
            or len(plan.summary.rows) > st.summary_rows
            or tab_width(plan.summary) > st.summary_cols
        )
        summary_id = (
            st.summary_id
            if st.summary_id is not None
            else random.randint(10_000_000, 2_000_000_000)
        )

        if fresh_cols:
            structural += insert_columns(st.tracker_id, st.column_count, plan, fresh_cols)
        if fresh_cols or not st.own_protections:
            structural += build.protect_requests(
                st.tracker_id, st.own_protections, list(plan.columns.values())
            )
        cf_checks: list[tuple[int, dict[str, Any]]] = []
        if plan.conditional_formats is not None:
            reqs, checks = self._formats(st, plan.conditional_formats)
            cf_checks = [(len(structural) + i, rule) for i, rule in checks]
            structural += reqs
        elif st.formats_moved and (structural or plan.meta is not None):
            # people's edits moved the job's rules where they now stand for what it wants:
            # bring the record up to date while a structural write goes anyway
            value = formats_value(st.tracker_id, snapshot.conditional_formats)
            structural.append(build.formats_record_request(st.formats_id, value))
        chart_ids: list[int] = []
        if plan.summary is not None and plan.summary_charts:
            taken = set(st.summary_object_ids)
            while len(chart_ids) < len(plan.summary.charts):
                cid = random.randint(10_000_000, 2_000_000_000)
                if cid not in taken:
                    taken.add(cid)
                    chart_ids.append(cid)
        if plan.summary is not None and (restyle or plan.summary_charts):
            structural += build.summary_structure(
                summary_id,
                plan.summary,
                exists=st.summary_id is not None,
                grid_rows=st.summary_rows,
                grid_cols=st.summary_cols,
                filled=st.summary_height,
                restyle=restyle,
                chart=plan.summary_charts,
                old_charts=st.summary_chart_ids if st.summary_id is not None else (),
                chart_ids=chart_ids,
            )
            if plan.summary_charts:
                # in the same all-or-nothing batch: the charts drawn and their record
                structural.append(
                    build.record_request(
                        CHARTS_KEY, st.charts_id, build.charts_value(summary_id, chart_ids)
                    )
                )
        if plan.meta is not None:
            structural += build.meta_request(st.meta_id, plan.meta)

        # generated columns found by their header but not anchored yet (e.g. a tracker uploaded
        # from .xlsx): anchor them, and check in the same reply that they were still there
        adopt = [
            k for k in plan.columns if k not in snapshot.owned_columns and k not in plan.new_columns
        ]
        adopt_at = len(structural)
        structural += [anchor_request(st.tracker_id, plan.columns[k], k) for k in adopt]

        if structural and st.recalled:
            # a structural write is planned on the structure, so read it first
            self._refresh(snapshot)
            return self._apply(snapshot, plan)
        if structural:
            self._write_structure(
                snapshot, plan, structural, adopt, adopt_at, fresh_cols, cf_checks
            )
            hint = _Hint.parse(self._last_hint)
            if hint:
                # the structure changed: the next read reads it (and, when the batch made the
                # summary tab, the next read's hint names it)
                made = st.summary_id is None and plan.summary is not None
                self._last_hint = hint.changed(self.summary_title if made else None).dumps()
        self._write_values(snapshot, plan)
        return ApplyResult(plan.cell_count, requests=self.transport.counter.write - writes_before)

    # .................................................................. structure

    def _refresh(self, snapshot: Snapshot) -> None:
        """Read the structure a run recalled (:mod:`.structure`), before a structural write:
        the same structure as recalled replaces the state (so the write works on what Google
        has now); a different one means the plan may be wrong, so the run starts over."""
        hint, values = self._hint, self._values
        assert hint is not None and values is not None
        percent = percent_columns(values.rows.get(hint.tracker, []), self._hints.percent_header)
        got = self._read_structure(hint, values, percent)
        if got is None:
            raise RetryRun("the tabs changed since the sync read them (nothing was written)")
        data, sheets, tabs = got
        titles = [s["properties"]["title"] for s in sheets]
        tracker = self._pick_tracker(sheets, titles)
        fresh = self._snapshot(data, sheets, titles, tracker, tabs, token=snapshot.version)
        if _shape(fresh) != _shape(snapshot):
            raise RetryRun(
                "the sheet's structure changed since the day's first read (nothing was written)"
            )
        self._last_hint = self._hint_after(data, sheets, tracker, fresh)

    def _write_structure(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        structural: list[dict[str, Any]],
        adopt: list[str],
        adopt_at: int,
        fresh_cols: list[int],
        cf_checks: list[tuple[int, dict[str, Any]]],
    ) -> None:
        """The one all-or-nothing batchUpdate: no cell values, only structure. When it inserts or
        adopts columns, its reply carries the header row so a column a person inserted meanwhile
        is noticed before any value is written."""
        st = self._state
        assert st is not None
        body: dict[str, Any] = {"requests": structural}
        fields = "replies"
        if fresh_cols or adopt:
            hr = plan.header_row + 1
            body |= {
                "includeSpreadsheetInResponse": True,
                "responseIncludeGridData": True,
                "responseRanges": [f"{quote_title(st.tracker_title)}!{hr}:{hr}"],
            }
            fields += "," + HEADER_REPLY_FIELDS
        try:
            reply = self._post(":batchUpdate", body, params={"fields": fields}, in_place=False)
        except RetryRun:
            raise
        except TrackerError as exc:
            # a rule deleted by index that is no longer there: the batch failed as a whole
            if cf_checks and "conditional format" in str(exc).lower():
                raise RetryRun(
                    "the highlight rules changed while the sync was replacing its own "
                    "(nothing was written)"
                ) from None
            raise
        st.anchor_ids |= created_anchor_ids(structural, reply)
        if cf_checks:
            self._verify_formats(structural, reply, cf_checks)
        if adopt:
            self._verify_adopted(snapshot, plan, reply, adopt, adopt_at)
        if fresh_cols:
            self._verify_headers(snapshot, plan, reply, fresh_cols)

    def _formats(
        self, st: ReadState, rules: tuple[CFRule, ...]
    ) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
        """Replace the job's own rules (found by its record, never by colour) and record what it
        made; everyone else's rules stay where they are. Returns the requests and, for each
        delete by index, (its position among them, the rule the read found at that index): the
        reply must show that very rule deleted."""
        sid = st.tracker_id
        value = formats_value(sid, rules)
        want = [rule_sig(cf_json(sid, r), st.row_count) for r in rules]
        have = [rule_sig(st.cf_rules[j], st.row_count) for j in st.own_cf_indexes]
        if want == have:
            # the same rules in Sheets' terms (only a row count Sheets does not store moved)
            return (
                []
                if value == st.formats_raw
                else [build.formats_record_request(st.formats_id, value)]
            ), []
        reqs: list[dict[str, Any]] = []
        checks: list[tuple[int, dict[str, Any]]] = []
        for j in sorted(st.own_cf_indexes, reverse=True):
            checks.append((len(reqs), st.cf_rules[j]))
            reqs.append({"deleteConditionalFormatRule": {"sheetId": sid, "index": j}})
        start = len(st.cf_rules) - len(st.own_cf_indexes)  # after people's: theirs come first
        for i, rule in enumerate(rules):
            reqs.append(
                {"addConditionalFormatRule": {"rule": cf_json(sid, rule), "index": start + i}}
            )
        reqs.append(build.formats_record_request(st.formats_id, value))
        return reqs, checks

    def _verify_formats(
        self,
        structural: list[dict[str, Any]],
        reply: dict[str, Any],
        checks: list[tuple[int, dict[str, Any]]],
    ) -> None:
        """Each rule deleted by index must be the job's (documented: a delete's reply holds the
        rule it deleted -- Sheets API reference, DeleteConditionalFormatRuleResponse). A person
        who added or removed a rule between the read and the write shifts the indexes; then the
        batch's rule changes are undone -- the job's new rules deleted, every deleted rule put
        back where it was, the record as it was -- and the run starts over."""
        st = self._state
        assert st is not None
        replies = reply.get("replies", []) if isinstance(reply, dict) else []
        deleted: list[tuple[int, dict[str, Any]]] = []
        wrong = False
        for pos, expected in checks:
            got = ((replies[pos] if pos < len(replies) else {}) or {}).get(
                "deleteConditionalFormatRule", {}
            ).get("rule") or {}
            index = structural[pos]["deleteConditionalFormatRule"]["index"]
            deleted.append((int(index), got))
            wrong = wrong or sans_end(rule_sig(got)) != sans_end(rule_sig(expected))
        if not wrong:
            return
        sid = st.tracker_id
        added = [
            (p, q["addConditionalFormatRule"])
            for p, q in enumerate(structural)
            if "addConditionalFormatRule" in q
        ]
        undo: list[dict[str, Any]] = [
            {"deleteConditionalFormatRule": {"sheetId": sid, "index": int(q["index"])}}
            for _, q in sorted(added, key=lambda a: -int(a[1]["index"]))
        ]
        for index, rule in reversed(deleted):
            back = copy.deepcopy(rule)
            for g in back.get("ranges") or []:
                g["sheetId"] = sid
            undo.append({"addConditionalFormatRule": {"rule": back, "index": index}})
        for p, q in enumerate(structural):
            made = q.get("createDeveloperMetadata", {}).get("developerMetadata", {})
            if made.get("metadataKey") == FORMATS_KEY:
                mid = (
                    (replies[p] or {})
                    .get("createDeveloperMetadata", {})
                    .get("developerMetadata", {})
                    .get("metadataId")
                )
                undo.append(
                    {
                        "deleteDeveloperMetadata": {
                            "dataFilter": {"developerMetadataLookup": {"metadataId": mid}}
                        }
                    }
                )
            elif "updateDeveloperMetadata" in q and q["updateDeveloperMetadata"]["dataFilters"] == [
                {"developerMetadataLookup": {"metadataId": st.formats_id}}
            ]:
                undo.append(build.formats_record_request(st.formats_id, st.formats_raw))
        back_reply = self._post(":batchUpdate", {"requests": undo}, params={"fields": "replies"})
        ours = {sans_end(rule_sig(q["rule"])) for _, q in added}
        for r in back_reply.get("replies", [])[: len(added)]:
            rule = (r or {}).get("deleteConditionalFormatRule", {}).get("rule") or {}
            if sans_end(rule_sig(rule)) not in ours:
                raise TrackerError(
                    f"spreadsheet {self.key}: the conditional-format rules of tab "
                    f"{st.tracker_title!r} kept changing while the sync was putting a person's "
                    "rule back; check them (Format → Conditional formatting) and run again"
                )
        raise RetryRun(
            "a highlight rule was added or removed while the sync was replacing its own; "
            "every rule was put back"
        )

    # .................................................................. values

    def _write_values(self, snapshot: Snapshot, plan: WritePlan) -> None:
        """Every value through the anchors, in requests of at most ``google.max_request_bytes``;
        each request carries a row guard and its reply is checked before the next is sent."""
        st = self._state
        assert st is not None
        budget = self.google.max_request_bytes
        guard = RowGuard.for_plan(snapshot, plan, st.tracker_title, budget)
        entries = self._value_entries(snapshot, plan, budget - guard.reserve)
        if not entries:
            return
        for chunk in pack(entries, budget - guard.reserve):
            used = ENVELOPE + sum(e.size + 1 for e in chunk)
            extra = guard.entries(chunk, budget - used)
            body: dict[str, Any] = {
                "valueInputOption": "RAW",
                "data": [e.body for e in chunk] + [e.body for e in extra],
            }
            if extra:
                body |= {
                    "includeValuesInResponse": True,
                    "responseValueRenderOption": "UNFORMATTED_VALUE",
                }
            reply = self._post(
                "/values:batchUpdateByDataFilter", body, params={"fields": VALUES_REPLY_FIELDS}
            )
            problem = guard.check(chunk, extra, reply)
            if problem:
                self._clear(chunk, budget)
                raise RetryRun(f"{problem}; the cells just written were cleared")

    def _value_entries(self, snapshot: Snapshot, plan: WritePlan, budget: int) -> list[Entry]:
        """The values entries of a plan: the ID column first (later requests check rows by it),
        then the other generated columns, then the summary tab."""
        st = self._state
        assert st is not None
        out: list[Entry] = []
        for key in sorted(plan.columns, key=lambda k: (k != "gen_id", plan.columns[k])):
            series = plan.cells.get(plan.columns[key])
            if series is None or not len(series):
                continue
            mid = st.anchor_ids.get(key)
            if mid is None:
                raise TrackerError(
                    f"spreadsheet {self.key}: the job's column {key} has no anchor on tab "
                    f"{st.tracker_title!r}; its values were not written. Run again."
                )
            cells = dict(zip(series.index.tolist(), series.tolist(), strict=True))
            out += column_entries(key, mid, cells, budget)
        if plan.summary is not None:
            out += summary_entries(snapshot.summary, plan, budget)
        return out

    def _clear(self, chunk: list[Entry], budget: int) -> None:
        """'Or not at all': empty the tracker cells a chunk just wrote (they may sit beside the
        wrong task); the run then reads again and rewrites them."""
        entries: list[Entry] = []
        for e in chunk:
            if e.key is not None and e.metadata_id is not None and e.cells:
                entries += column_entries(e.key, e.metadata_id, dict.fromkeys(e.cells, ""), budget)
        for part in pack(entries, budget):
            self._post(
                "/values:batchUpdateByDataFilter",
                {"valueInputOption": "RAW", "data": [e.body for e in part]},
                params={"fields": "totalUpdatedCells"},
            )

    # .................................................................. checks

    def _verify_headers(
        self, snapshot: Snapshot, plan: WritePlan, reply: dict[str, Any], fresh: list[int]
    ) -> None:
        """After inserting columns: every header the read saw must sit where the insert put it.
        A person who inserted or moved a column meanwhile shifts them; the new columns are
        anchored and still empty, so the run simply starts over from a fresh read."""
        after, _, _ = decode_grid(reply_sheet(reply, snapshot.tracker.title))
        hr = plan.header_row
        head_after = after[hr] if hr < len(after) else []
        head_before = snapshot.tracker.rows[hr] if hr < len(snapshot.tracker.rows) else []
        for c, name in enumerate(head_before):
            if norm_value(name) is None:
                continue
            shift = 0
            for f in fresh:
                if f <= c + shift:
                    shift += 1
            now = head_after[c + shift] if c + shift < len(head_after) else None
            if norm_value(now) != norm_value(name):
                raise RetryRun(
                    "columns moved while the sync was inserting its own (nothing written yet)"
                )

    def _verify_adopted(
        self,
        snapshot: Snapshot,
        plan: WritePlan,
        reply: dict[str, Any],
        keys: list[str],
        first: int,
    ) -> None:
        """The columns just anchored must still carry the job's headers; else undo the anchors."""
        from ...i18n import generated_key

        sheet = reply_sheet(reply, snapshot.tracker.title)
        after, _, _ = decode_grid(sheet)
        head = after[plan.header_row] if plan.header_row < len(after) else []
        wrong = [
            i
            for i, k in enumerate(keys)
            if generated_key(head[plan.columns[k]] if plan.columns[k] < len(head) else None) != k
        ]
        if not wrong:
            return
        replies = reply.get("replies", [])
        ids = [
            replies[first + i]
            .get("createDeveloperMetadata", {})
            .get("developerMetadata", {})
            .get("metadataId")
            for i in wrong
        ]
        undo = [
            {
                "deleteDeveloperMetadata": {
                    "dataFilter": {"developerMetadataLookup": {"metadataId": m}}
                }
            }
            for m in ids
            if m
        ]
        if undo:
            self._post(":batchUpdate", {"requests": undo}, in_place=False)
        raise RetryRun("columns moved while the sync was anchoring its own; anchors undone")

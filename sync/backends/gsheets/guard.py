"""The row guard each values request carries, and the check of its reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...cells import col_letter
from ...model import Snapshot, WritePlan
from .build import Entry, dumps, merge_runs, quote_title
from .grid import same_key


@dataclass
class RowGuard:
    """What each values request carries to prove that its rows still hold the tasks they were
    computed for, checked in the request's own reply (so nothing can happen in between):

    - the task-identifying human cells of the rows it writes (phase, channel, task, description)
      and the task-ID cells of those rows, as A1 ranges whose only value is ``null`` -- nothing
      is written there, and the reply echoes the cells as they are (documented: Sheets API
      reference, batchUpdateByDataFilter, ``includeValuesInResponse``: "the response includes
      all values in the requested range"); a sort of the human columns only, a row inserted,
      deleted or moved, or a column inserted among them all show. The ranges cover the rows
      written and little else (runs of rows, joined only as far as the request has room), so
      the echo grows with the change, not with the sheet;
    - the ID column by its position as the read found it: a column inserted or deleted to its
      left meanwhile shows other cells there, which reads as rows moved (the run starts over,
      nothing is lost).
    """

    snapshot: Snapshot
    title: str
    header_row: int
    key_cols: list[int]
    id_col: int | None
    id_fresh: bool
    #: Bytes a request keeps free for its guard (room for at least a few runs of rows).
    reserve: int
    #: Bytes of one run of rows in the guard (its key range and its ID range).
    per_run: int
    written_ids: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def for_plan(cls, snapshot: Snapshot, plan: WritePlan, title: str, budget: int) -> RowGuard:
        generated = set(plan.columns.values())
        key_cols = sorted(c for c in plan.key_columns if c not in generated)
        id_col = plan.columns.get("gen_id")
        # the largest a run's ranges can be: rows of 7 digits (and a comma each)
        widest = cls._range(f"{quote_title(title)}!XFD9999999:XFD9999999", 0, 0, False).size + 1
        per_run = widest * ((1 if key_cols else 0) + (1 if id_col is not None else 0))
        return cls(
            snapshot=snapshot,
            title=title,
            header_row=plan.header_row,
            key_cols=key_cols,
            id_col=id_col,
            id_fresh="gen_id" in plan.new_columns,
            reserve=400 + per_run * max(2, min(32, budget // 50_000)),
            per_run=per_run,
        )

    def rows(self, chunk: list[Entry]) -> list[int]:
        return sorted({r for e in chunk if e.key for r in e.cells if r > self.header_row})

    def entries(self, chunk: list[Entry], room: int) -> list[Entry]:
        """The guard's ranges for a chunk, in at most ``room`` bytes: one key range and one ID
        range per run of rows written (rows at most two apart share a run), runs joined
        closest first while they do not fit."""
        rows = self.rows(chunk)
        if not rows or not self.per_run:
            return []
        most = max(1, room // self.per_run)
        out: list[Entry] = []
        sheet = quote_title(self.title)
        for lo, hi in merge_runs(rows, 2, most):
            if self.key_cols:
                k0, k1 = col_letter(self.key_cols[0]), col_letter(self.key_cols[-1])
                out.append(self._range(f"{sheet}!{k0}{lo + 1}:{k1}{hi + 1}", lo, hi, False))
            if self.id_col is not None:
                c = col_letter(self.id_col)
                out.append(self._range(f"{sheet}!{c}{lo + 1}:{c}{hi + 1}", lo, hi, True))
        return out

    @staticmethod
    def _range(a1: str, lo: int, hi: int, ids: bool) -> Entry:
        body = {"dataFilter": {"a1Range": a1}, "majorDimension": "ROWS", "values": [[None]]}
        return Entry(body, len(dumps(body)), rows=(lo, hi), ids=ids)

    def check(self, chunk: list[Entry], extra: list[Entry], reply: Any) -> str | None:
        """None when every row the chunk wrote still holds its task, else what went wrong."""
        responses = reply.get("responses", []) if isinstance(reply, dict) else []
        by_id: dict[int, list[dict[str, Any]]] = {}
        by_range: dict[str, dict[str, Any]] = {}
        for resp in responses:
            df = resp.get("dataFilter") or {}
            lookup = df.get("developerMetadataLookup") or {}
            if lookup.get("metadataId") is not None:
                by_id.setdefault(int(lookup["metadataId"]), []).append(resp)
            elif df.get("a1Range"):
                by_range[str(df["a1Range"])] = resp
        sent: dict[int, int] = {}
        for e in chunk:
            if e.metadata_id is not None:
                sent[e.metadata_id] = sent.get(e.metadata_id, 0) + 1
        for e in chunk:
            if (
                e.metadata_id is not None
                and len(by_id.get(e.metadata_id, [])) != sent[e.metadata_id]
            ):
                return f"the job's column {e.key} was not found exactly once while writing"
        for e in chunk:
            if e.key == "gen_id":
                self.written_ids.update(e.cells)
        if not self.rows(chunk):
            return None
        for e in extra:
            if e.rows is None:
                continue
            resp = by_range.get(str(e.body["dataFilter"]["a1Range"]))
            if resp is None:
                return "the rows being written could not be checked"
            values = (resp.get("updatedData") or {}).get("values", [])
            lo, hi = e.rows
            for i, r in enumerate(range(lo, hi + 1)):
                got = values[i] if i < len(values) else []
                if e.ids:
                    if not self._same_id(r, got[0] if got else None):
                        return "rows moved while the sync was writing"
                    continue
                k0 = self.key_cols[0]
                for c in self.key_cols:
                    now = got[c - k0] if c - k0 < len(got) else None
                    if not same_key(now, self.snapshot.tracker.value(r, c)):
                        return "rows moved while the sync was writing"
        return None

    def _same_id(self, r: int, now: Any) -> bool:
        """Row r's task ID as the reply shows it is the one written, or the one read."""
        assert self.id_col is not None
        if r in self.written_ids:
            want = self.written_ids[r]
        elif self.id_fresh:
            return True
        else:
            want = self.snapshot.tracker.value(r, self.id_col)
        if not isinstance(want, str) or not want:
            return True
        return bool(now == want)

"""The row guard each values request carries, and the check of its reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...cells import col_letter
from ...model import Snapshot, WritePlan
from .build import Entry, column_entry, dumps, merge_runs, quote_title
from .grid import echoed_column, same_key


@dataclass
class RowGuard:
    """What each values request carries to prove that its rows still hold the tasks they were
    computed for, checked in the request's own reply (so nothing can happen in between):

    - the task-identifying human cells of the rows it writes (phase, channel, task, description),
      as A1 ranges whose only value is ``null`` — nothing is written there, and the reply echoes
      the cells as they are (documented: Sheets API reference, batchUpdateByDataFilter,
      ``includeValuesInResponse``: "the response includes all values in the requested range");
      a sort of the human columns only, a row inserted, deleted or moved, or a column inserted
      among them all show;
    - the task-ID column through its anchor, which moves with whole rows.
    """

    snapshot: Snapshot
    title: str
    header_row: int
    key_cols: list[int]
    id_col: int | None
    id_mid: int | None
    id_fresh: bool
    most_runs: int
    reserve: int
    written_ids: dict[int, Any] = field(default_factory=dict)

    @classmethod
    def for_plan(
        cls,
        snapshot: Snapshot,
        plan: WritePlan,
        title: str,
        anchor_ids: dict[str, int],
        budget: int,
    ) -> RowGuard:
        generated = set(plan.columns.values())
        key_cols = sorted(c for c in plan.key_columns if c not in generated)
        most = max(1, min(200, budget // 10_000))
        per_run = 110 + len(quote_title(title).encode())
        return cls(
            snapshot=snapshot,
            title=title,
            header_row=plan.header_row,
            key_cols=key_cols,
            id_col=plan.columns.get("gen_id"),
            id_mid=anchor_ids.get("gen_id"),
            id_fresh="gen_id" in plan.new_columns,
            most_runs=most,
            reserve=400 + (most * per_run if key_cols else 0),
        )

    def rows(self, chunk: list[Entry]) -> list[int]:
        return sorted({r for e in chunk if e.key for r in e.cells if r > self.header_row})

    def entries(self, chunk: list[Entry]) -> list[Entry]:
        rows = self.rows(chunk)
        if not rows:
            return []
        out: list[Entry] = []
        if self.key_cols:
            k0, k1 = col_letter(self.key_cols[0]), col_letter(self.key_cols[-1])
            for lo, hi in merge_runs(rows, 50, self.most_runs):
                body = {
                    "dataFilter": {
                        "a1Range": f"{quote_title(self.title)}!{k0}{lo + 1}:{k1}{hi + 1}"
                    },
                    "majorDimension": "ROWS",
                    "values": [[None]],
                }
                out.append(Entry(body, len(dumps(body)), rows=(lo, hi)))
        if self.id_mid is not None and not any(e.key == "gen_id" for e in chunk):
            body = column_entry("gen_id", {}, self.id_mid)
            out.append(Entry(body, len(dumps(body)), "gen_id", self.id_mid))
        return out

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
        for e in chunk + extra:
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
        rows = self.rows(chunk)
        if not rows:
            return None
        for e in extra:
            if e.rows is None:
                continue
            resp = by_range.get(str(e.body["dataFilter"]["a1Range"]))
            if resp is None:
                return "the rows being written could not be checked"
            values = (resp.get("updatedData") or {}).get("values", [])
            k0 = self.key_cols[0]
            lo, hi = e.rows
            for i, r in enumerate(range(lo, hi + 1)):
                got = values[i] if i < len(values) else []
                for c in self.key_cols:
                    now = got[c - k0] if c - k0 < len(got) else None
                    if not same_key(now, self.snapshot.tracker.value(r, c)):
                        return "rows moved while the sync was writing"
        if self.id_mid is not None and self.id_col is not None:
            found = by_id.get(self.id_mid)
            if not found:
                return "the task-ID column disappeared while the sync was writing"
            after = echoed_column(found[0])
            for r in rows:
                if r in self.written_ids:
                    want = self.written_ids[r]
                elif self.id_fresh:
                    continue
                else:
                    want = self.snapshot.tracker.value(r, self.id_col)
                if not isinstance(want, str) or not want:
                    continue
                if (after[r] if r < len(after) else None) != want:
                    return "rows moved while the sync was writing"
        return None

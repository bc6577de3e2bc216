"""The day's structure: what a structure read found, kept with the read hint so that a run on
the same as-of day whose values show no structural change is one read.

A run reads the tabs' values (``values:batchGet``) and, in a second request, the structure
(``spreadsheets.get``: properties, metadata, the highlight rules and protections, chart ids,
the column anchors, the percent columns' number formats). Within a day the structure rarely
changes, while the values do. So the structure a read found is kept (:func:`keep`: the reply
without its cells, a few KB, plus a digest of what the values must still show, at most 22
bytes a task) and a later
run of the same day uses it again (:func:`recall`) when its values show that:

- the tracker tab has as many columns as then (inserting or deleting a column changes it);
- the header row is as it was (a column moved, the job's or a person's, shows there; the
  job's highlight rules on a person's column move with it);
- the row each of the job's highlight rules starts on still holds a task the job has given an
  ID (a row inserted there moves the rule's start: Sheets adjusts the ranges);
- the same columns are percent columns, and no number there reads differently as a
  percentage and as a plain number (1 and above, or below 0) unless its format is known. A
  task is known by its human cells (every cell of its row but the job's and its progress), or,
  when those changed, by its key cells (phase, channel, task, description) where no other row
  shares them: both move with the progress cell however people sort, while the task ID stays
  behind when the human columns alone are sorted. In order:

  1. the cell the structure read saw on the same task with the same number keeps the format
     it had;
  2. a task whose cell was percent-formatted then keeps the format (a number typed into a
     percent-formatted cell keeps its format -- assumed, see below), and so does every cell
     of a column whose numbers were all percent-formatted (a row inserted takes the format of
     its neighbours -- assumed);
  3. a number above 1 reads as typed (as a percentage it would be over 100 %);
  4. a 1 or a negative number needs the structure read: ``100%`` typed into a plain cell is a
     1 in a cell Sheets has just formatted as a percentage, indistinguishable by its value
     from a 1 typed there.

Rows inserted, deleted or sorted change nothing here: the grid sizes come from the values
reply (it names "the entire requested range", documented: ValueRange.range), the job's rules
run to the sheet's end, and the write checks every row it writes in the same request.

What the values cannot show is a structure-only edit: a person deleting the job's highlight
rule, chart or protection, or formatting a number cell as a percentage without retyping it.
The backend never *changes* structure on what it recalled: a plan that needs a structural
write reads the structure afresh first and starts over if it differs
(:meth:`~sync.backends.gsheets.SheetsBackend.apply`). So such an edit is repaired by the first
run of the next day (which reads everything afresh) or by the next structural write, whichever
comes first -- as with a run that stops after the values.

Assumed, not documented: that a number typed into a percent-formatted cell keeps the percent
format (seen in the Sheets UI; the fake models it and lists it as assumed), and that a row a
person inserts between formatted rows takes their format (the UI does; for the API it is
documented: InsertDimensionRequest.inheritFromBefore, "dimension properties should be
extended from the dimensions before or after"). A number pasted with another cell's format
breaks the assumption until the structure is read again.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...cells import is_number
from .grid import HEADER_SCAN_ROWS

#: The kept structure's layout version (a kept structure of another version is not used).
VERSION = 9


def depends_on_format(value: Any) -> bool:
    """Whether a number reads differently in a percent-formatted cell and a plain one: 0 and
    fractions read the same either way (0.6 is 60 % both ways, see
    :func:`sync.parse.parse_percent_value`)."""
    return is_number(value) and not 0 <= value < 1


def _tasks(
    rows: list[list[Any]], which: list[int], cols: list[int], key_cols: list[int]
) -> tuple[list[int], list[int]]:
    """Which task each row of ``which`` holds, across runs, two ways (64-bit hashes): by its
    human cells ``cols`` (every column but the job's and the percent column), which tells
    apart rows that share their key cells; and by its key cells (phase, channel, task,
    description) alone, which an edit of the row's other cells leaves as they were. Both move
    with the progress cell however people sort, unlike the task ID, which stays behind when
    the human columns alone are sorted."""
    if not which:
        return [], []
    import pandas as pd

    def hashed(columns: list[int]) -> list[int]:
        frame = pd.DataFrame(
            {c: [rows[r][c] if c < len(rows[r]) else None for r in which] for c in columns},
            index=range(len(which)),
            dtype=object,
        )
        return list(pd.util.hash_pandas_object(frame, index=False).tolist())

    return hashed(cols), hashed(key_cols) if key_cols else hashed(cols)


def _start(rows: list[list[Any]], r: int, id_col: int | None) -> Any:
    """What must stay at row ``r``, where a rule of the job's starts: a task the job has given
    an ID no other row holds (a row inserted there has none, or a copied row's; a sort or a
    delete leaves another task there, and does not move the rule), else the row as it is
    (None beyond the rows)."""
    if r >= len(rows):
        return None
    row = rows[r]
    v = row[id_col] if id_col is not None and id_col < len(row) else None
    if isinstance(v, str) and v:
        assert id_col is not None
        if sum(1 for other in rows if id_col < len(other) and other[id_col] == v) == 1:
            return "a task"
    return json.loads(json.dumps(row, default=str))


def _pack(hashes: Any) -> str:
    """64-bit hashes as base64 (11 characters each, not 20 as JSON numbers)."""
    return base64.b64encode(np.asarray(hashes, dtype="<u8").tobytes()).decode()


def _unpack(text: str) -> set[int]:
    return set(np.frombuffer(base64.b64decode(text), dtype="<u8").tolist())


def _headers(rows: list[list[Any]], anchors: dict[str, int]) -> list[list[Any]]:
    """Each anchored column's first filled cell within the header scan, as [key, col, row,
    text] (row -1 when none): the job's header, which moves with its column."""
    out: list[list[Any]] = []
    for key, col in sorted(anchors.items()):
        found: list[Any] = [key, col, -1, None]
        for r, row in enumerate(rows[:HEADER_SCAN_ROWS]):
            if col < len(row) and row[col] is not None:
                found = [key, col, r, row[col]]
                break
        out.append(found)
    return out


def _header_row(rows: list[list[Any]], headers: list[list[Any]]) -> list[Any] | None:
    """The row holding the job's ``headers`` (:func:`_headers`), whole: a human column moved
    shows there (and moves the job's highlight rule on it)."""
    found = [r for _, _, r, _ in headers if r >= 0]
    if not found:
        return None
    row: list[Any] = json.loads(json.dumps(rows[min(found)], default=str))
    return row


def _strip(data: dict[str, Any], tracker: str) -> dict[str, Any]:
    """The structure reply without cells: the tracker's data blocks keep their column anchors
    only; every other tab keeps its properties, rules, protections and chart ids."""
    out = {k: v for k, v in data.items() if k != "sheets"}
    sheets = []
    for sheet in data.get("sheets", []):
        s = {k: v for k, v in sheet.items() if k != "data"}
        if sheet.get("properties", {}).get("title") == tracker:
            s["data"] = [
                {k: v for k, v in block.items() if k != "rowData"}
                for block in sheet.get("data", [])
                if block.get("columnMetadata")
            ]
        sheets.append(s)
    out["sheets"] = sheets
    return out


def keep(
    data: dict[str, Any],
    sheets: list[dict[str, Any]],
    tracker: str,
    rows: list[list[Any]],
    anchors: dict[str, int],
    percent_cols: list[int] | None,
    percent: set[tuple[int, int]] | frozenset[tuple[int, int]],
    key_cols: list[int],
    rule_starts: Iterable[int] = (),
) -> dict[str, Any] | None:
    """What a later run of the day needs of this structure read (``data``, ``sheets`` as the
    read assembled them, the tracker's values ``rows``, its ``anchors``, percent cells, key
    columns and the rows the job's highlight rules start on); None when the percent columns
    are unknown (every column might be one)."""
    if percent_cols is None:
        return None
    id_col = anchors.get("gen_id")
    grid = next(s for s in sheets if s["properties"]["title"] == tracker)
    columns = int(grid["properties"].get("gridProperties", {}).get("columnCount", 0))
    formats = []
    for c in percent_cols:
        cells: list[Any] = [row[c] if c < len(row) else None for row in rows]
        formatted = {r for r, cc in percent if cc == c}
        numbers = [r for r, v in enumerate(cells) if is_number(v)]
        every = bool(numbers) and formatted.issuperset(numbers)
        # by task (its human cells) and by its key cells alone: the percent-formatted cells
        # (rule 2) and the others (any value: a plain cell's number may change); a plain 1 or
        # negative number by task (rule 1, where rule 3 does not tell). A column whose numbers
        # are all percent-formatted needs none of it.
        filled = [] if every else [r for r, v in enumerate(cells) if v is not None]
        human = _human_cols(columns, anchors, c)
        tasks, keys = (np.array(h, dtype=np.uint64) for h in _tasks(rows, filled, human, key_cols))
        is_pct = np.fromiter((r in formatted for r in filled), bool, len(filled))
        plain = [
            [int(tasks[i]), cells[r]]
            for i, r in enumerate(filled)
            if not is_pct[i] and depends_on_format(cells[r]) and cells[r] <= 1
        ]
        formats.append(
            {
                "col": c,
                "every": every,
                "percent": _pack(np.setdiff1d(tasks[is_pct], tasks[~is_pct])),
                "percent_keys": _pack(np.setdiff1d(keys[is_pct], keys[~is_pct])),
                # the same human cells seen both ways (a copied row): ask Google
                "both": np.intersect1d(tasks[is_pct], tasks[~is_pct]).tolist(),
                "plain": plain,
            }
        )
    headers = _headers(rows, anchors)
    return {
        "v": VERSION,
        "data": _strip({**data, "sheets": sheets}, tracker),
        "columns": columns,
        "headers": headers,
        "header_row": _header_row(rows, headers),
        # a row inserted where a rule starts moves its start (Sheets adjusts the ranges)
        "starts": [[r, _start(rows, r, id_col)] for r in sorted(set(rule_starts))],
        "id_col": id_col,
        "key_cols": key_cols,
        "formats": formats,
    }


def recall(
    kept: dict[str, Any] | None,
    tracker: str,
    values: dict[str, list[list[Any]]],
    extents: dict[str, tuple[int, int] | None],
    percent_cols: list[int] | None,
    key_cols: list[int],
) -> tuple[dict[str, Any], set[tuple[int, int]]] | None:
    """The kept structure as a fresh read would give it now (grid sizes from ``extents``), and
    the tracker's percent cells; None when the values show a structural change, or a number
    whose format is not known (module docstring)."""
    if not isinstance(kept, dict) or kept.get("v") != VERSION or percent_cols is None:
        return None
    try:
        data = copy.deepcopy(kept["data"])
        rows = values.get(tracker)
        if rows is None or [f["col"] for f in kept["formats"]] != percent_cols:
            return None
        if kept["key_cols"] != key_cols:
            return None
        size = extents.get(tracker)
        if size is None or size[1] != kept["columns"]:
            return None
        anchors = {str(k): int(c) for k, c, _, _ in kept["headers"]}
        headers = _headers(rows, anchors)
        if headers != kept["headers"] or _header_row(rows, headers) != kept["header_row"]:
            return None
        id_col = kept["id_col"]
        if any(_start(rows, int(r), id_col) != what for r, what in kept["starts"]):
            return None
        for sheet in data["sheets"]:
            props = sheet["properties"]
            if props.get("sheetType", "GRID") != "GRID":
                continue
            ext = extents.get(props["title"])
            if ext is None:
                return None
            gp = props.setdefault("gridProperties", {})
            gp["rowCount"], gp["columnCount"] = ext
        percent = _percent(rows, _human_cols(size[1], anchors), key_cols, kept["formats"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None  # a kept structure of another shape: read it afresh
    return None if percent is None else (data, percent)


def _human_cols(columns: int, anchors: dict[str, int], skip: int | None = None) -> list[int]:
    """The columns of a tracker ``columns`` wide that are not the job's (nor ``skip``)."""
    own = set(anchors.values())
    return [c for c in range(columns) if c not in own and c != skip]


def _percent(
    rows: list[list[Any]], human: list[int], key_cols: list[int], formats: list[dict[str, Any]]
) -> set[tuple[int, int]] | None:
    percent: set[tuple[int, int]] = set()
    for f in formats:
        c, every = int(f["col"]), bool(f["every"])
        tasks = _unpack(f["percent"])
        keys = _unpack(f["percent_keys"])
        both = {int(t) for t in f["both"]}
        plain = {(int(t), v) for t, v in f["plain"]}
        which = [r for r, row in enumerate(rows) if c < len(row) and depends_on_format(row[c])]
        if every:  # rule 2: the column's numbers were all percent-formatted
            percent.update((r, c) for r in which)
            continue
        cols = [h for h in human if h != c]
        for r, task, by_keys in zip(which, *_tasks(rows, which, cols, key_cols), strict=True):
            v = rows[r][c]
            if task in both:
                return None
            if (task, v) in plain:  # rule 1, a plain cell
                continue
            if task in tasks or by_keys in keys:  # rules 1-2, a percent cell
                percent.add((r, c))
            elif v <= 1:  # rule 4 (rule 3: above 1, plain)
                return None
    return percent

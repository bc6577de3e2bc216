"""The Google Sheets backend (gspread + google-auth): one read, size-bounded anchored writes.

Request budget of a run:

- read, one or two requests: one ``values:batchGet`` of every tab (UNFORMATTED_VALUE, serial dates):
  plain JSON items, about the tabs' size as CSV; and a ``spreadsheets.get``
  (``prettyPrint=false``) whose field mask asks for what the decisions need and no cell value --
  properties, the tabs' metadata, the tracker's conditional formats and the job's protections,
  chart ids, the column anchors and the number-format type of the cells of the percent columns
  (a percentage is a fraction). When an earlier run's hint names the tabs
  (:class:`~sync.backends.base.Probes`), the values come first -- alone they may show that
  nothing changed (one request) -- and the structure request's ``ranges`` name those tabs, the
  tracker's first row and its percent columns only; without one the structure of every tab
  comes first, with the format type of every formatted cell. A grid whose size differs between
  the two (rows or columns inserted or deleted meanwhile) is read again. Within a day the
  structure request is skipped when the values show no structural change: the structure the
  day's last structure read found is kept with the hint and used again (:mod:`.structure`), so
  a changed run is one read too, and a structural write reads the structure first;
- write, structure (first run, a new generated column, changed highlight rules, a missing
  summary tab or chart): one ``spreadsheets:batchUpdate``, all-or-nothing, holding no cell value;
  new generated columns are *inserted* at their index and anchored in it, so they can never
  hold a person's cell;
- write, values: ``values:batchUpdateByDataFilter`` (RAW: text never becomes a formula), each
  generated column addressed by the metadataId of its column anchor, in requests of at most
  ``google.max_request_bytes``; a change that fits is one request. A sparse change far down a
  long column is sent row-major (an empty row, 3 bytes, for each row skipped).

Nothing is trusted between the read and the write: each values request carries the
task-identifying cells and the task-ID cells of the rows it writes (null-only A1 ranges), and
its reply shows them as they are after the write; rows that moved are cleared and the run
starts over. Google echoes each anchored column a request writes whole (its requested range is
the column; a field mask cannot pick one response of many), so a reply is about the columns
written plus the rows checked. The job's highlight rules are its by the record it keeps of
them, never by colour; a delete by index is checked against the rule Google says it deleted.

Modules: :mod:`.transport` (credentials, retries, error mapping, redaction, logging),
:mod:`.build` (pure request builders), :mod:`.grid` (grid decoding), :mod:`.formats` (rule
identity), :mod:`.structure` (the day's structure, kept between runs), :mod:`.guard` (the row guard), :mod:`.backend` (the backend itself).
"""

from __future__ import annotations

from .backend import SheetsBackend, open_backend
from .transport import QUOTA_BASE, EndpointSession, load_credentials, spreadsheet_key

__all__ = [
    "QUOTA_BASE",
    "EndpointSession",
    "SheetsBackend",
    "load_credentials",
    "open_backend",
    "spreadsheet_key",
]

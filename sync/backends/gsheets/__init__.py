"""The Google Sheets backend (gspread + google-auth): one read, size-bounded anchored writes.

Request budget of a run:

- read: one ``spreadsheets.get`` (``prettyPrint=false``) whose field mask asks for what the
  pipeline uses: properties, every tab's metadata, the tracker's conditional formats and the
  job's protections, chart ids, and per cell its effective value and -- only on formatted cells
  -- the number-format type;
- write, structure (first run, a new generated column, changed highlight rules, a missing
  summary tab or chart): one ``spreadsheets:batchUpdate``, all-or-nothing, holding no cell value;
  new generated columns are *inserted* at their index and anchored in it, so they can never
  hold a person's cell;
- write, values: ``values:batchUpdateByDataFilter`` (RAW: text never becomes a formula), each
  generated column addressed by the metadataId of its column anchor, in requests of at most
  ``google.max_request_bytes``; a change that fits is one request.

Nothing is trusted between the read and the write: each values request carries the
task-identifying cells of the rows it writes (null-only A1 ranges) and the ID column, and its
reply shows them as they are after the write; rows that moved are cleared and the run starts
over. The job's highlight rules are its by the record it keeps of them, never by colour; a
delete by index is checked against the rule Google says it deleted.

Modules: :mod:`.transport` (credentials, retries, error mapping, redaction, logging),
:mod:`.build` (pure request builders), :mod:`.grid` (grid decoding), :mod:`.formats` (rule
identity), :mod:`.guard` (the row guard), :mod:`.backend` (the backend itself).
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

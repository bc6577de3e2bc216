"""The job's colours: highlight fills and the generated header's look (RRGGBB)."""

from __future__ import annotations

#: A human cell a finding names.
FILL_FINDING = "FFD8A8"
FONT_FINDING = "7A2E00"
#: A delayed task's row.
FILL_DELAYED = "F8D7DA"
#: A task behind plan (amber health).
FILL_AMBER = "FFF3CD"
#: A task on hold (paused: neither late nor progressing).
FILL_ON_HOLD = "E2E3E5"
#: The generated columns' header cells.
GENERATED_HEADER_FILL = "D9D9D9"

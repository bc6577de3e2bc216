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


def display_width(value: object) -> float:
    """How many character widths ``value`` takes in a cell: East Asian wide characters count
    double (a column's width is measured in the digit "0"); the longest line counts.

    >>> display_width("abc"), display_width("延期天数"), display_width(12.5)
    (3.0, 8.0, 4.0)
    """
    import unicodedata

    s = value if isinstance(value, str) else ("" if value is None else str(value))
    if s.isascii():  # the common case, without a lookup per character
        return float(max(map(len, s.split("\n"))))
    return max(
        (
            sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.0 for ch in line)
            for line in s.split("\n")
        ),
        default=0.0,
    )


#: The font of the job's cells, by locale: it must have CJK glyphs for zh-CN. Microsoft YaHei
#: ships with every Windows since Vista and with Office for Mac, where most teams open the file;
#: LibreOffice (fontconfig) and Sheets put a CJK sans such as Noto Sans CJK SC in its place.
FONTS = {"zh-CN": "Microsoft YaHei", "en": "Calibri"}


def font_for(text: str) -> str:
    """The job's font for cells holding ``text``: the CJK one when it has wide characters.

    >>> font_for("⚙ 问题"), font_for("⚙ Issues")
    ('Microsoft YaHei', 'Calibri')
    """
    wide = display_width(text) > len(text)
    return FONTS["zh-CN"] if wide else FONTS["en"]


#: Widths (characters) of the generated columns on the tracker tab; ⚙ 问题 wraps.
GENERATED_WIDTHS = {
    "gen_status": 14.0,
    "gen_planned": 14.0,
    "gen_deviation": 16.0,
    "gen_days_late": 12.0,
    "gen_health": 10.0,
    "gen_baseline": 14.0,
    "gen_issues": 48.0,
    "gen_id": 14.0,
}
#: Generated columns whose cells wrap.
WRAPPED = frozenset({"gen_issues"})


def generated_width(key: str, header: str) -> float:
    """A generated column's width: its own, or wider when its bold header needs it.

    >>> generated_width("gen_health", "⚙ 健康度"), generated_width("gen_issues", "⚙ 问题")
    (11.8, 48.0)
    """
    return max(GENERATED_WIDTHS.get(key, 12.0), round(display_width(header) * 1.1 + 3, 1))

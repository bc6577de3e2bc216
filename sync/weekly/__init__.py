"""``tracker-sync report``: the weekly status report and the retrospective (复盘) as Markdown,
HTML and PDF.

- :mod:`sync.weekly.data` — the report's content, a pure function of a run and its history;
- :mod:`sync.weekly.charts` — the Gantt, trend and burn-up charts (matplotlib);
- :mod:`sync.weekly.render` — Jinja2 templates (``templates/``), PDF by WeasyPrint;
- :mod:`sync.weekly.make` — the command's seams: read, build, render, write.
"""

"""Logging for the command line: one stderr handler, text or JSON lines.

Every module logs through ``logging.getLogger(__name__)``; the library never configures
logging itself (an application embedding it decides), the CLI calls :func:`configure`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

from .text import redact

#: -v count -> level: warnings by default (a cron log shows only what needs attention).
LEVELS = {0: logging.WARNING, 1: logging.INFO}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO), level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL logger: message``, secrets removed."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the log line (tests swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(verbosity: int = 0, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send the ``sync`` loggers to ``stream`` (stderr) at WARNING, INFO (-v) or DEBUG (-vv)."""
    handler: logging.StreamHandler = (  # type: ignore[type-arg]
        logging.StreamHandler(stream) if stream is not None else _Stderr()
    )
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    logger = logging.getLogger("sync")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(LEVELS.get(verbosity, logging.DEBUG))
    logger.propagate = False

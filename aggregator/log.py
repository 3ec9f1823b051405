"""Logging for long-running commands: one line per event on stderr.

Two formats: ``human`` (a terminal, or journald) and ``json`` (one JSON object per line, for
log shippers). An event carries a message and optional fields (``log_event(logger, INFO,
"feed checked", feed="A", new=2)``): the human format appends them as ``key=value``, the
JSON format as keys of the object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("human", "json")
LEVELS = ("debug", "info", "warning", "error")
_FIELDS = "aggregator_fields"


def log_event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields``."""
    logger.log(level, message, extra={_FIELDS: fields})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    value = getattr(record, _FIELDS, None)
    return dict(value) if isinstance(value, dict) else {}


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class HumanFormatter(logging.Formatter):
    """``2026-01-02T03:04:05.678+00:00 INFO aggregator.daemon: pass finished new=3``"""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"]
        parts += [f"{k}={_human(v)}" for k, v in _fields(record).items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _human(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or " " in text) else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(
    log_format: str = "human", level: str = "info", stream: TextIO | None = None
) -> None:
    """Send every log record to ``stream`` (stderr) in ``log_format``; replaces handlers."""
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else HumanFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # APScheduler narrates every job run at INFO; its warnings and errors still show.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


__all__ = ["FORMATS", "LEVELS", "HumanFormatter", "JsonFormatter", "configure_logging", "log_event"]

"""Logging set-up from ``[log]``: text or JSON lines on stderr, tagged with the worker id.

Rules of this module: only :func:`configure_logging` touches the root logger; every
record gets a ``worker`` attribute so that several worker processes can share a log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

from ..config import LogSettings

__all__ = ["JsonFormatter", "configure_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s w%(worker)s %(name)s: %(message)s"


class _WorkerFilter(logging.Filter):
    def __init__(self, worker_id: int) -> None:
        super().__init__()
        self.worker_id = worker_id

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "worker"):
            record.worker = self.worker_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, worker, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "worker": getattr(record, "worker", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(settings: LogSettings, worker_id: int = 0,
                      stream: TextIO | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one on ``stream`` (stderr by default)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_WorkerFilter(worker_id))
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level.upper())
    return handler

"""The last log lines, for the page: a bounded handler on the root logger."""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from ocframe.model import printable


class RecentLogs(logging.Handler):
    def __init__(self, size: int) -> None:
        super().__init__(logging.INFO)
        self._lines: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        line = {"at": record.created, "level": record.levelname, "logger": record.name,
                "message": printable(message.split("\n", 1)[0], limit=500)}
        with self._guard:
            self._lines.append(line)

    def lines(self, limit: int) -> list[dict[str, Any]]:
        with self._guard:
            return list(self._lines)[-limit:] if limit > 0 else []

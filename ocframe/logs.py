"""Log records that untrusted text cannot forge.

Event titles and UIDs, the core's answers and device replies reach log
messages. The formatter shows control characters in a message as escapes
(an ANSI sequence cannot recolour or erase the terminal) and indents every
line after the first, so a title with a newline cannot start what looks
like a log record of its own. Tracebacks are the logging module's own text
and stay as they are.
"""

from __future__ import annotations

import logging

from .model import printable

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class SafeFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        lines = str(record.message).split("\n")
        record.message = "\n    ".join(printable(line, limit=None) for line in lines)
        return super().formatMessage(record)


def setup_logging(level: str) -> None:
    """Log to stderr (journald under systemd) with :class:`SafeFormatter`."""
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # urllib3 logs every retry and connection; ours say what matters.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)

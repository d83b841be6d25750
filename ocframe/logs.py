"""Log records that untrusted text cannot forge, as text or as JSON lines.

Event titles and UIDs, the core's answers and device replies reach log
messages. The text formatter shows control characters in a message as
escapes (an ANSI sequence cannot recolour or erase the terminal) and indents
every line after the first, so a title with a newline cannot start what
looks like a log record of its own. Tracebacks are the logging module's own
text and stay as they are.

``log_format = "json"`` writes one JSON object per line instead, with the
agent, recording UID, input and state as fields of their own (for Loki, ELK,
journald's JSON export): from ``extra={...}`` of the call, from
:func:`log_fields` around a stretch of work (a capture thread, an upload),
or from the logger's name (``ocframe.agent.<agent>``,
``ocframe.capture.<agent>.<input>``). JSON escapes every control character,
so untrusted text cannot break a line there either. Plain ``json.dumps``:
a library would add a dependency for one short class.

Under systemd (``$JOURNAL_STREAM`` set) the text format leaves the time out:
the journal stamps every line itself.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType

from .model import printable

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: Under the journal, which has its own time stamps (and a priority per line).
JOURNAL_FORMAT = "%(levelname)-7s %(name)s: %(message)s"
#: Fields a JSON line may carry beyond time, level, logger and message.
FIELDS = ("agent", "recording_id", "input", "state")

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "ocframe_log_fields", default=MappingProxyType({}))


@contextmanager
def log_fields(**fields: str | None) -> Iterator[None]:
    """Attach ``agent``, ``recording_id``, ``input``, ``state`` to every record
    logged in this block on this thread."""
    token = _context.set({**_context.get(),
                          **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def _from_name(name: str) -> dict[str, str]:
    parts = name.split(".")
    if len(parts) >= 3 and parts[0] == "ocframe":
        if parts[1] in ("agent", "ingest", "reporter"):
            return {"agent": ".".join(parts[2:])}
        if parts[1] == "capture" and len(parts) >= 4:
            return {"agent": parts[2], "input": ".".join(parts[3:])}
        if parts[1] == "driver" and len(parts) >= 5:
            return {"agent": parts[3], "input": ".".join(parts[4:])}
    return {}


class SafeFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        lines = str(record.message).split("\n")
        record.message = "\n    ".join(printable(line, limit=None) for line in lines)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``,
    ``logger``, ``message``, the :data:`FIELDS` known for it, and
    ``exception`` with the traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = {**_from_name(record.name), **_context.get()}
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                fields[key] = str(value)
        out.update((k, fields[k]) for k in FIELDS if k in fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr (journald under systemd): readable text by default,
    ``json`` for JSON lines."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(SafeFormatter(JOURNAL_FORMAT if under_journal() else FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # urllib3 logs every retry and connection; ours say what matters.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("watchdog").setLevel(logging.WARNING)


def under_journal() -> bool:
    """stderr is systemd's journal (``$JOURNAL_STREAM`` names its device and inode)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    try:
        st = os.fstat(2)
    except OSError:
        return False
    return bool(inode) and f"{st.st_dev}:{st.st_ino}" == f"{device}:{inode}"

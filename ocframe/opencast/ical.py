"""RFC 5545 content lines, read fast: unfolding, parameters, the colon
before a value, and TEXT and DATE-TIME values (through icalendar where the
form is not the one Opencast writes).

Kept apart from :mod:`ocframe.opencast.calendar`, which turns an Opencast
calendar into events with these.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

from icalendar.parser import Contentline
from icalendar.prop import vDDDTypes

_UTC_FORM = re.compile(r"\d{8}T\d{6}Z")

try:
    from icalendar.parser import unescape_backslash
except ImportError:  # icalendar < 7: the same RFC 5545 TEXT unescaping

    def unescape_backslash(val: str) -> str:
        return re.sub(r"\\([\\,;:nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1),
                      val)

def b64(data: bytes) -> bytes:
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return b""


def utc(value: object) -> datetime:
    dt = getattr(value, "dt", value)
    if not isinstance(dt, datetime):
        raise ValueError(f"not a date-time: {dt!r}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


# Parameter sections of ATTACH lines repeat in every event; parse each once.
_param_cache: dict[str, dict[str, str]] = {}


def content_params(head: str) -> dict[str, str]:
    cached = _param_cache.get(head)
    if cached is None:
        _name, params, _value = Contentline(head + ":").parts()
        cached = {str(k).upper(): str(v) for k, v in params.items()}
        if len(_param_cache) < 256:
            _param_cache[head] = cached
    return cached


#: Name and parameters of one content line are short; a line whose value has
#: not begun by here is broken (an unclosed quote before megabytes of base64).
MAX_HEAD = 64 * 1024
# Name and parameters up to the value's colon: anything but a quote or a
# colon, or a quoted string (which may hold colons).
# Possessive: no backtracking when the quote never closes.
_HEAD = re.compile(rb'(?:[^":]++|"[^"]*+")*+:')


def value_colon(line: bytes) -> int:
    """Index of the colon between name/parameters and value (quotes
    respected); -1 when there is none within :data:`MAX_HEAD` bytes."""
    colon = line.find(b":", 0, MAX_HEAD)
    quote = line.find(b'"', 0, MAX_HEAD)
    if quote == -1 or colon == -1 or colon < quote:
        return colon
    m = _HEAD.match(line, 0, MAX_HEAD)
    return m.end() - 1 if m else -1


def logical_lines(block: bytes, first_line: int) -> Iterator[tuple[int, bytes]]:
    """(line number, unfolded content line) pairs of one block."""
    raw_lines = block.split(b"\n")
    if b"\n " not in block and b"\n\t" not in block:
        for i, raw in enumerate(raw_lines):
            if raw:
                yield first_line + i, raw[:-1] if raw[-1:] == b"\r" else raw
        return
    current: bytes | None = None
    current_no = first_line
    pieces: list[bytes] | None = None
    for i, raw in enumerate(raw_lines):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if line[:1] in (b" ", b"\t") and current is not None:
            # A folded continuation: RFC 5545 removes the line break and one blank.
            if pieces is None:
                pieces = [current]
            pieces.append(line[1:])
        else:
            if current:
                yield current_no, (b"".join(pieces) if pieces else current)
            current, current_no, pieces = line, first_line + i, None
    if current:
        yield current_no, (b"".join(pieces) if pieces else current)


def date_time(name: str, value: str, tzid: str | None) -> datetime:
    if tzid is None and _UTC_FORM.fullmatch(value):
        # The one form Opencast writes (yyyyMMddTHHmmssZ), read without the
        # general machinery; anything else goes to icalendar below.
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=UTC)
    parsed = vDDDTypes.from_ical(value, timezone=tzid)
    if not isinstance(parsed, datetime):
        kind = "date" if isinstance(parsed, date) else type(parsed).__name__
        raise ValueError(f"a {kind}, not a date-time: {value!r}")
    return utc(parsed)


def name_of(line: bytes) -> bytes:
    end = len(line)
    for sep in (b":", b";"):
        i = line.find(sep, 0, end)
        if i >= 0:
            end = i
    return line[:end].upper()

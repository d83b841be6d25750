"""Parsing the core's iCalendar into :class:`ocframe.Event` objects.

Calendars hold thousands of events, each carrying base64 attachments, and
most polls return a calendar in which nothing or one event changed. So the
body is cut into ``VEVENT`` blocks by scanning bytes, each block is keyed by
a hash of its bytes, and only blocks never seen before are parsed. Within a
block the content lines are unfolded here, but their values are still read
by icalendar (dates, TEXT unescaping, parameters); the attachment values,
which are most of the bytes, are only cut out and decoded when someone
reads :attr:`Event.attachments` (the capture agent properties excepted,
which every event needs).

Errors name the line of the calendar (1-based) where they were found.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar.parser import Contentline

from ..errors import CoreError
from ..model import Event
from .ical import (
    b64,
    content_params,
    date_time,
    logical_lines,
    name_of,
    unescape_backslash,
    value_colon,
)

log = logging.getLogger("ocframe.calendar")

PROPERTIES_ATTACHMENT = "org.opencastproject.capture.agent.properties"
#: The core drops events that ended more than an hour ago; so do we.
ENDED_HORIZON = timedelta(hours=1)

_BEGIN = b"BEGIN:VEVENT"
_END = b"END:VEVENT"
_DATE_PROPS = frozenset({"DTSTART", "DTEND", "LAST-MODIFIED"})
_TEXT_PROPS = frozenset({"UID", "SUMMARY", "LOCATION", "DESCRIPTION", "RELATED-TO"})
_WANTED = _DATE_PROPS | _TEXT_PROPS


class CalendarError(CoreError):
    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}", retryable=True)
        self.line = line


def parse_properties(text: str) -> dict[str, str]:
    """Capture agent properties: ``key=value`` lines, split on the first ``=``."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        props[key.strip()] = value.strip()
    return props


class LazyAttachments(Mapping[str, bytes]):
    """Attachment name -> decoded bytes, decoded only when read.

    Holds the base64 text; nothing is cached, so reading is cheap to repeat
    and keeping thousands of events costs only their encoded size.
    """

    __slots__ = ("_encoded",)

    def __init__(self, encoded: Mapping[str, bytes]) -> None:
        self._encoded = dict(encoded)

    def __getitem__(self, name: str) -> bytes:
        return b64(self._encoded[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._encoded)

    def __len__(self) -> int:
        return len(self._encoded)

    def __contains__(self, name: object) -> bool:
        return name in self._encoded

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyAttachments):
            return self._encoded == other._encoded
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k!r}: <{len(v)} base64 bytes>" for k, v in self._encoded.items())
        return f"LazyAttachments({{{sizes}}})"


def _text(line_no: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CalendarError(f"not UTF-8 ({exc.reason} at byte {exc.start})", line_no) from None


_FAST_LINE = re.compile(
    rb"^(DTSTART|DTEND|SUMMARY|UID|LAST-MODIFIED|DESCRIPTION|LOCATION|RELATED-TO|ATTACH)"
    rb"([;:])([^\r\n]*)",
    re.MULTILINE,
)


def parse_event_block(block: bytes, first_line: int = 1) -> Event:
    """One ``BEGIN:VEVENT`` ... ``END:VEVENT`` block (bytes) as an Event.

    Blocks as Opencast writes them (no folding, no nested components) take
    a quick path that picks the wanted lines with one regular expression;
    anything else, and any error, goes through the line-by-line reading,
    which names the line at fault.
    """
    if b"\n " not in block and b"\n\t" not in block and b"\nBEGIN:" not in block:
        try:
            return _quick_block(block)
        except (CalendarError, ValueError, KeyError, UnicodeDecodeError):
            pass
    return _block_by_lines(block, first_line)


def _quick_block(block: bytes) -> Event:
    values: dict[str, Any] = {}
    encoded: dict[str, bytes] = {}
    for bname, sep, rest in _FAST_LINE.findall(block):
        if bname == b"ATTACH":
            line = b"ATTACH" + sep + rest
            colon = value_colon(line)
            head = line[:colon].decode("utf-8")
            params = content_params(head) if ";" in head else {}
            if params.get("ENCODING", "").upper() != "BASE64" and (
                params.get("VALUE", "").upper() != "BINARY"
            ):
                continue
            aname = params.get("X-APPLE-FILENAME") or params.get("FILENAME") or ""
            encoded[aname] = line[colon + 1 :]
            continue
        name = bname.decode()
        if name in values:
            continue
        if sep == b";":
            _n, params, value = Contentline((bname + sep + rest).decode("utf-8")).parts()
            tzid, escaped = params.get("TZID"), False
        else:
            value, tzid = rest.decode("utf-8"), None
            escaped = "\\" in value
        if name in _DATE_PROPS:
            values[name] = date_time(name, value, tzid)
        else:
            values[name] = unescape_backslash(value) if escaped else value
    return _make_event(values, encoded, None, 0)


def _block_by_lines(block: bytes, first_line: int) -> Event:
    values: dict[str, Any] = {}
    lines_of: dict[str, int] = {}
    encoded: dict[str, bytes] = {}
    depth = 0
    for no, line in logical_lines(block, first_line):
        bname = name_of(line)
        if bname == b"BEGIN":
            depth += 1
            continue
        if bname == b"END":
            depth -= 1
            continue
        if depth != 1:
            continue  # nested components (VALARM)
        if bname == b"ATTACH":
            colon = value_colon(line)
            if colon < 0:
                raise CalendarError("ATTACH line without a value", no)
            head = _text(no, line[:colon])
            params = content_params(head) if ";" in head else {}
            if params.get("ENCODING", "").upper() != "BASE64" and (
                params.get("VALUE", "").upper() != "BINARY"
            ):
                continue  # a URI, not content: nothing to decode
            aname = params.get("X-APPLE-FILENAME") or params.get("FILENAME") or ""
            encoded[aname] = line[colon + 1 :]
            continue
        name = bname.decode("ascii", "replace")
        if name not in _WANTED or name in values:
            continue  # unused and repeated properties
        text = _text(no, line)
        if text[len(name)] == ";":
            # Parameters: let icalendar split them (it also unescapes the value).
            try:
                _n, params, value = Contentline(text).parts()
            except ValueError as exc:
                raise CalendarError(str(exc), no) from None
            tzid = params.get("TZID")
            escaped = False
        elif text[len(name) :][:1] == ":":
            value, tzid = text[len(name) + 1 :], None
            escaped = "\\" in value
        else:
            raise CalendarError(f"not a content line: {text[:60]!r}", no)
        try:
            if name in _DATE_PROPS:
                values[name] = date_time(name, value, tzid)
            else:
                values[name] = unescape_backslash(value) if escaped else value
        except ValueError as exc:
            raise CalendarError(f"{name}: {exc}", no) from None
        lines_of[name] = no
    return _make_event(values, encoded, lines_of, first_line)


def _make_event(values: dict[str, Any], encoded: dict[str, bytes],
                lines_of: dict[str, int] | None, first_line: int) -> Event:
    for required in ("UID", "DTSTART", "DTEND"):
        if required not in values:
            uid = values.get("UID")
            who = f"event {uid}" if uid else "event"
            raise CalendarError(f"{who} has no {required}", first_line)
    if values["DTEND"] < values["DTSTART"]:
        where = lines_of["DTEND"] if lines_of else None
        raise CalendarError(f"event {values['UID']} ends before it starts", where)
    props_raw = encoded.get(PROPERTIES_ATTACHMENT)
    props = parse_properties(b64(props_raw).decode("utf-8", "replace")) if props_raw else {}
    related = values.get("RELATED-TO")
    return Event(
        uid=values["UID"],
        start=values["DTSTART"],
        end=values["DTEND"],
        title=values.get("SUMMARY", ""),
        location=values.get("LOCATION", ""),
        series_id=related or props.get("event.series") or None,
        description=values.get("DESCRIPTION") or None,
        last_modified=values.get("LAST-MODIFIED"),
        properties=props,
        attachments=LazyAttachments(encoded),
    )


def _line_end(body: bytes, pos: int) -> int:
    """Index just past the end of the line containing ``pos``."""
    nl = body.find(b"\n", pos)
    return len(body) if nl < 0 else nl + 1


_COMMENT_LINE = re.compile(rb"^[#!][^\n]*\n?", re.MULTILINE)
_PROPS_MARK = b"X-APPLE-FILENAME=" + PROPERTIES_ATTACHMENT.encode() + b":"


def _line_after(body: bytes, pos: int, stop: int) -> int:
    """End of the content line starting before ``pos`` (past its line break),
    or -1 when it is folded onto the next line."""
    nl = body.find(b"\n", pos, stop)
    if nl < 0 or body[nl + 1 : nl + 2] in (b" ", b"\t"):
        return -1
    return nl + 1


def _block_key(body: bytes, view: memoryview, begin: int, stop: int) -> bytes:
    """What identifies an event's content: a hash of its block without the
    parts the core rewrites on every request (``DTSTAMP`` is the time of the
    request; the properties attachment starts with a date comment), plus the
    properties without their comment lines."""
    cuts: list[tuple[int, int]] = []
    props = b""
    stamp = body.find(b"\nDTSTAMP", begin, stop)
    if stamp >= 0:
        end = _line_after(body, stamp + 1, stop)
        if end > 0:
            cuts.append((stamp + 1, end))
    mark = body.rfind(_PROPS_MARK, begin, stop)  # the last attachment: search from the end
    if mark >= 0:
        value = mark + len(_PROPS_MARK)
        end = _line_after(body, value, stop)
        if end > 0:
            cuts.append((value, end))
            props = _COMMENT_LINE.sub(b"", b64(body[value:end].rstrip()))
    h = hashlib.blake2b(digest_size=16)
    pos = begin
    for a, b in sorted(cuts):
        if a >= pos:
            h.update(view[pos:a])
            pos = b
    h.update(view[pos:stop])
    return h.digest() + props


def _find_at_line_start(body: bytes, needle: bytes, pos: int) -> int:
    while True:
        i = body.find(needle, pos)
        if i <= 0 or body[i - 1] == 0x0A:
            return i
        pos = i + 1


class CalendarParser:
    """Parses calendars, remembering the events of the last good one by the
    hash of their bytes (see :func:`_block_key`) so an unchanged event is
    never parsed twice.

    One parser per agent: its memory is that agent's last calendar.
    """

    def __init__(self) -> None:
        self._cache: dict[bytes, Event] = {}
        #: Blocks parsed (not found in the cache) by the last call.
        self.last_parsed = 0

    def parse(self, body: bytes, *, now: datetime | None = None) -> list[Event]:
        """All events of a calendar, skipping ones that ended long ago.

        Raises :class:`CalendarError` naming the line; the parser's memory
        is then left as it was.
        """
        start = body.lstrip()
        if start.startswith(b"\xef\xbb\xbf"):
            start = start[3:]
        if not start:
            raise CalendarError("the core sent an empty calendar", 1)
        if not start[:15].upper().startswith(b"BEGIN:VCALENDAR"):
            first = start.split(b"\n", 1)[0][:60]
            raise CalendarError(f"not an iCalendar (starts with {first!r})", 1)
        tail = body.rfind(b"END:VCALENDAR")
        if tail < 0 or (tail > 0 and body[tail - 1] != 0x0A):
            total_lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
            raise CalendarError("the calendar ends without END:VCALENDAR (cut short?)",
                                total_lines)
        cache = self._cache
        fresh: dict[bytes, Event] = {}
        events: list[Event] = []
        parsed = 0
        view = memoryview(body)
        # Line numbers are only needed for blocks that get parsed (and for
        # errors), so newlines are counted lazily up to ``counted``.
        counted, line = 0, 1
        begin = _find_at_line_start(body, _BEGIN, 0)
        while begin >= 0:
            end = _find_at_line_start(body, _END, begin)
            following = _find_at_line_start(body, _BEGIN, begin + 1)
            if end < 0 or (0 <= following < end):
                line += body.count(b"\n", counted, begin)
                raise CalendarError("VEVENT without END:VEVENT", line)
            stop = _line_end(body, end)
            key = _block_key(body, view, begin, stop)
            event = cache.get(key) or fresh.get(key)
            if event is None:
                line += body.count(b"\n", counted, begin)
                counted = begin
                event = parse_event_block(body[begin:stop], line)
                parsed += 1
            fresh[key] = event
            events.append(event)
            begin = following
        self._cache = fresh
        self.last_parsed = parsed
        now = now or datetime.now(UTC)
        horizon = now - ENDED_HORIZON
        return [e for e in events if e.end > horizon]


def parse_calendar(
    body: bytes, *, now: datetime | None = None, parser: CalendarParser | None = None
) -> list[Event]:
    """All events of a calendar, skipping ones that ended long ago.

    Pass the same ``parser`` for successive calendars of one agent to
    re-parse only the events that changed.
    """
    return (parser or CalendarParser()).parse(body, now=now)


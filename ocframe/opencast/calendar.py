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

Errors name the line of the calendar (1-based) where they were found. A
calendar that is not one (not iCalendar, cut short) is refused whole; an
event that cannot be read (a date Python cannot represent, a missing UID, an
end before its start, a broken line) is skipped with one warning naming its
UID and line, and the rest of the calendar applies.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta

from ..model import Event, printable
from .ical import b64
from .vevent import (
    PROPERTIES_ATTACHMENT,
    CalendarError,
    LazyAttachments,
    parse_event_block,
    parse_properties,
    uid_of,
)

__all__ = ["CalendarError", "CalendarParser", "LazyAttachments", "parse_calendar",
           "parse_event_block", "parse_properties"]

log = logging.getLogger("ocframe.calendar")

#: The core drops events that ended more than an hour ago; so do we.
ENDED_HORIZON = timedelta(hours=1)
_BEGIN = b"BEGIN:VEVENT"
_END = b"END:VEVENT"


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
        self._cache: dict[bytes, Event | CalendarError] = {}
        #: Blocks parsed (not found in the cache) by the last call.
        self.last_parsed = 0
        #: Why each event of the last calendar that could not be read was skipped.
        self.skipped: list[str] = []
        # The last readable version of each event: kept while a later version
        # of it cannot be read (recording at the old time costs disk; missing
        # the lecture costs the lecture).
        self._readable: dict[str, Event] = {}

    def parse(self, body: bytes, *, now: datetime | None = None) -> list[Event]:
        """All events of a calendar, skipping ones that ended long ago.

        Raises :class:`CalendarError` naming the line when the body is not a
        calendar; the parser's memory is then left as it was. Events that
        cannot be read are skipped (:attr:`skipped`), each logged once as
        long as it stays the same; one that was readable before keeps its
        last readable version.
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
        fresh: dict[bytes, Event | CalendarError] = {}
        events: list[Event] = []
        kept: dict[str, Event] = {}  # last readable versions of unreadable events
        skipped: list[str] = []
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
                try:
                    event = parse_event_block(body[begin:stop], line)
                except CalendarError as exc:
                    event = self._unreadable(exc, uid_of(body[begin:stop]))
                parsed += 1
            fresh[key] = event
            if isinstance(event, CalendarError):
                skipped.append(event.reason)
                previous = self._readable.get(event.uid or "")
                if previous is not None:
                    kept[previous.uid] = previous
            else:
                events.append(event)
            begin = following
        # An unreadable copy of an event this calendar also holds readable
        # keeps nothing: the same poll again must give the same events.
        readable = {e.uid for e in events}
        events += [e for uid, e in kept.items() if uid not in readable]
        self._cache = fresh
        self.last_parsed = parsed
        self.skipped = skipped
        self._readable = {e.uid: e for e in events}
        now = now or datetime.now(UTC)
        horizon = now - ENDED_HORIZON
        return [e for e in events if e.end > horizon]


    def _unreadable(self, exc: CalendarError, uid: str | None) -> CalendarError:
        reason = exc.reason if uid is None or uid in exc.reason else f"event {uid}: {exc.reason}"
        error = CalendarError(reason)
        error.uid = uid
        kept = self._readable.get(uid or "")
        log.warning("calendar: %s: %s", "keeping the last readable version of an event"
                    if kept is not None else "skipping an event", printable(reason))
        return error


def parse_calendar(
    body: bytes, *, now: datetime | None = None, parser: CalendarParser | None = None
) -> list[Event]:
    """All events of a calendar, skipping ones that ended long ago.

    Pass the same ``parser`` for successive calendars of one agent to
    re-parse only the events that changed.
    """
    return (parser or CalendarParser()).parse(body, now=now)


"""One ``VEVENT`` block of the core's calendar as an :class:`ocframe.Event`.

Blocks as Opencast writes them take a quick path (one regular expression
picks the wanted lines); anything else, and any error, is read line by line,
which names the line at fault. Whatever a hostile block makes icalendar or
datetime raise becomes a :class:`CalendarError` naming the event's UID and
line: one unreadable event, never a stopped calendar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
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

PROPERTIES_ATTACHMENT = "org.opencastproject.capture.agent.properties"
#: Dates outside this range are nonsense for a capture agent, and near the
#: ends of Python's range (year 1, 9999) arithmetic with rolls overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_DATE_PROPS = frozenset({"DTSTART", "DTEND", "LAST-MODIFIED"})
_TEXT_PROPS = frozenset({"UID", "SUMMARY", "LOCATION", "DESCRIPTION", "RELATED-TO"})
_WANTED = _DATE_PROPS | _TEXT_PROPS


#: Opencast's UIDs are UUIDs; anything near this is not one.
MAX_UID = 1024


class CalendarError(CoreError):
    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}", retryable=True)
        self.line = line
        #: The UID of the event at fault, where it could be read.
        self.uid: str | None = None


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
        except Exception:
            pass
    try:
        return _block_by_lines(block, first_line)
    except CalendarError:
        raise
    except Exception as exc:
        # Whatever icalendar or datetime raise on hostile input (OverflowError
        # for year 1 in a time zone, IndexError, RecursionError...) is one
        # unreadable event, reported like any other.
        uid = uid_of(block)
        raise CalendarError(f"event {uid or '(no UID)'} cannot be read:"
                            f" {type(exc).__name__}: {exc}", first_line) from None


def uid_of(block: bytes) -> str | None:
    m = re.search(rb"^UID[;:]([^\r\n]{0,200})", block, re.MULTILINE)
    if m is None:
        return None
    return m.group(1).split(b":")[-1].decode("utf-8", "replace").strip() or None


def _quick_block(block: bytes) -> Event:
    values: dict[str, Any] = {}
    encoded: dict[str, bytes] = {}
    for bname, sep, rest in _FAST_LINE.findall(block):
        if bname == b"ATTACH":
            line = b"ATTACH" + sep + rest
            colon = value_colon(line)
            if colon < 0:
                raise CalendarError("ATTACH line without a value")
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
        if len(text) == len(name):
            raise CalendarError(f"{name} line without a value", no)
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
    uid = values["UID"]
    if not uid.strip() or len(uid) > MAX_UID:
        # The UID becomes the recording's id and the media package's.
        raise CalendarError(f"event UID is empty or longer than {MAX_UID} characters",
                            lines_of.get("UID", first_line) if lines_of else first_line)
    if values["DTEND"] <= values["DTSTART"]:
        where = lines_of["DTEND"] if lines_of else None
        raise CalendarError(f"event {values['UID']} does not end after it starts"
                            f" ({values['DTSTART'].isoformat()} to"
                            f" {values['DTEND'].isoformat()})", where)
    for name in ("DTSTART", "DTEND"):
        moment = values[name]
        if not EARLIEST <= moment <= LATEST:
            where = lines_of.get(name) if lines_of else None
            raise CalendarError(f"event {values['UID']}: {name} {moment.isoformat()} is outside"
                                f" {EARLIEST.year}-{LATEST.year}", where or first_line)
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

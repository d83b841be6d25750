"""The scheduler's iCalendar output, byte for byte the way the core writes it."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, datetime

from .mediapackage import render_dublincore, w3cdtf
from .records import ScheduledEvent

CRLF = "\r\n"
FOLD_OCTETS = 75


def ical_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold_line(line: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 sequence (RFC 5545 3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= FOLD_OCTETS:
        return line
    pieces: list[bytes] = []
    limit = FOLD_OCTETS
    while raw:
        if len(raw) <= limit:
            pieces.append(raw)
            break
        cut = limit
        # Step back over UTF-8 continuation bytes so characters stay whole.
        while cut > 0 and (raw[cut] & 0xC0) == 0x80:
            cut -= 1
        pieces.append(raw[:cut])
        raw = raw[cut:]
        limit = FOLD_OCTETS - 1  # the leading space of a continuation counts
    return (CRLF + " ").join(p.decode("utf-8") for p in pieces)


def episode_catalog(event: ScheduledEvent) -> str:
    terms: list[tuple[str, str, str | None]] = []
    if event.creator:
        terms.append(("creator", event.creator, None))
    created = event.created or event.start
    terms.append(("created", w3cdtf(created.astimezone(UTC)), "dcterms:W3CDTF"))
    if event.description:
        terms.append(("description", event.description, None))
    terms.append(("identifier", event.uid, None))
    if event.series_id:
        terms.append(("isPartOf", event.series_id, None))
    terms.append(("spatial", event.agent, None))
    terms.append((
        "temporal",
        f"start={w3cdtf(event.start.astimezone(UTC))}; end={w3cdtf(event.end.astimezone(UTC))}; "
        "scheme=W3C-DTF;",
        "dcterms:Period",
    ))
    terms.append(("title", event.title, None))
    return render_dublincore(terms)


def series_catalog(event: ScheduledEvent) -> str:
    terms: list[tuple[str, str, str | None]] = [("identifier", event.series_id or "", None)]
    terms.append(("title", event.series_title or event.series_id or "", None))
    return render_dublincore(terms)


def properties_attachment(event: ScheduledEvent, now: datetime) -> str:
    lines = ["#Capture Agent specific data", "#" + now.strftime("%a %b %d %H:%M:%S UTC %Y")]
    lines += [f"{k}={v}" for k, v in event.capture_properties().items()]
    return "\n".join(lines) + "\n"


def _attach(fmttype: str, filename: str, content: str) -> str:
    encoded = base64.b64encode(content.encode("utf-8")).decode("ascii")
    return (
        f"ATTACH;FMTTYPE={fmttype};VALUE=BINARY;ENCODING=BASE64;"
        f"X-APPLE-FILENAME={filename}:{encoded}"
    )


def event_lines(event: ScheduledEvent, now: datetime) -> list[str]:
    modified = event.last_modified or now
    lines = [
        "BEGIN:VEVENT",
        f"DTSTAMP:{ical_utc(now)}",
        f"DTSTART:{ical_utc(event.start)}",
        f"DTEND:{ical_utc(event.end)}",
        f"SUMMARY:{escape_text(event.title)}",
        f"UID:{event.uid}",
        f"LAST-MODIFIED:{ical_utc(modified)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    lines.append(f"LOCATION:{escape_text(event.agent)}")
    if event.series_id:
        lines.append(f"RELATED-TO:{escape_text(event.series_id)}")
    lines.append(_attach("application/xml", "episode.xml", episode_catalog(event)))
    if event.series_id:
        lines.append(_attach("application/xml", "series.xml", series_catalog(event)))
    lines.append(_attach(
        "application/text",
        "org.opencastproject.capture.agent.properties",
        properties_attachment(event, now),
    ))
    lines.append("END:VEVENT")
    return lines


def render_calendar(events: Iterable[ScheduledEvent], now: datetime, *, fold: bool = False) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "PRODID:Opencast Calendar File 0.5",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
    ]
    for event in events:
        lines.extend(event_lines(event, now))
    lines.append("END:VCALENDAR")
    if fold:
        lines = [fold_line(line) for line in lines]
    return CRLF.join(lines) + CRLF

"""Parsing the core's iCalendar into :class:`ocframe.Event` objects."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta

import icalendar

from ..errors import CoreError
from ..model import Event

log = logging.getLogger("ocframe.calendar")

PROPERTIES_ATTACHMENT = "org.opencastproject.capture.agent.properties"
#: The core drops events that ended more than an hour ago; so do we.
ENDED_HORIZON = timedelta(hours=1)


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


def _utc(value: object) -> datetime:
    dt = getattr(value, "dt", value)
    if not isinstance(dt, datetime):
        raise ValueError(f"not a date-time: {dt!r}")
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_calendar(body: bytes, *, now: datetime | None = None) -> list[Event]:
    """All events of a calendar, skipping ones that ended long ago."""
    try:
        cal = icalendar.Calendar.from_ical(body)
    except ValueError as exc:
        raise CalendarError(f"not a valid calendar: {exc}") from None
    now = now or datetime.now(UTC)
    events: list[Event] = []
    for comp in cal.walk("VEVENT"):
        try:
            events.append(event_from_component(comp))
        except (KeyError, ValueError) as exc:
            uid = str(comp.get("UID", "?"))
            raise CalendarError(f"event {uid}: {exc}") from None
    return [e for e in events if e.end > now - ENDED_HORIZON]


def event_from_component(comp: icalendar.cal.Component) -> Event:
    uid = str(comp["UID"])
    attachments: dict[str, bytes] = {}
    raw_attach = comp.get("ATTACH")
    for att in raw_attach if isinstance(raw_attach, list) else [raw_attach] if raw_attach else []:
        params = getattr(att, "params", {})
        name = params.get("X-APPLE-FILENAME") or params.get("FILENAME") or ""
        try:
            data = base64.b64decode(str(att), validate=False)
        except ValueError:
            continue
        attachments[str(name)] = data
    props_raw = attachments.get(PROPERTIES_ATTACHMENT, b"")
    props = parse_properties(props_raw.decode("utf-8", "replace"))
    lm = comp.get("LAST-MODIFIED")
    related = comp.get("RELATED-TO")
    return Event(
        uid=uid,
        start=_utc(comp["DTSTART"]),
        end=_utc(comp["DTEND"]),
        title=str(comp.get("SUMMARY", "")),
        location=str(comp.get("LOCATION", "")),
        series_id=str(related) if related else props.get("event.series") or None,
        description=str(comp["DESCRIPTION"]) if comp.get("DESCRIPTION") else None,
        last_modified=_utc(lm) if lm else None,
        properties=props,
        attachments=attachments,
    )

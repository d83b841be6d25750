"""The calendar parser: Opencast's quirks, line numbers, and the block cache."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocframe_simulator.calendar_render import render_calendar
from ocframe_simulator.records import ScheduledEvent

from ocframe.model import Event
from ocframe.opencast.calendar import CalendarError, CalendarParser, parse_calendar
from ocframe.schedule import ScheduleCache

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(i: int, **kw: object) -> ScheduledEvent:
    start = NOW + timedelta(hours=i)
    base: dict[str, object] = dict(
        uid=f"uid-{i}", agent="room-1", start=start, end=start + timedelta(minutes=30),
        title=f"Lecture {i}", created=NOW, last_modified=NOW, inputs=["presenter"],
        workflow_config={"straightToPublishing": "true", "a.dotted.key": "x=y"},
        series_id="series-1", series_title="Analysis", description="two\nlines, and; more",
    )
    base.update(kw)
    return ScheduledEvent(**base)  # type: ignore[arg-type]


def render(events: list[ScheduledEvent], now: datetime = NOW, fold: bool = False) -> bytes:
    return render_calendar(events, now, fold=fold).encode()


def test_fields_text_unescaping_and_attachments() -> None:
    (e,) = parse_calendar(render([ev(1, title="A, b; c\\d")]), now=NOW)
    assert e.uid == "uid-1" and e.title == "A, b; c\\d"
    assert e.description == "two\nlines, and; more"
    assert e.start == NOW + timedelta(hours=1) and e.start.tzinfo is not None
    assert e.location == "room-1" and e.series_id == "series-1"
    assert e.inputs == ["presenter"] and e.workflow_definition == "fast"
    assert e.workflow_config == {"straightToPublishing": "true", "a.dotted.key": "x=y"}
    assert set(e.attachments) == {"episode.xml", "series.xml",
                                  "org.opencastproject.capture.agent.properties"}
    assert e.attachments["episode.xml"].startswith(b"<?xml")
    assert b"<dcterms:title>A, b; c\\d</dcterms:title>" in e.attachments["episode.xml"]
    assert b"Analysis" in e.attachments["series.xml"]


def test_folded_and_unfolded_calendars_give_the_same_events() -> None:
    events = [ev(i, title="Ünïcode " * 20) for i in range(3)]
    plain = parse_calendar(render(events), now=NOW)
    folded_body = render(events, fold=True)
    assert b"\r\n " in folded_body
    folded = parse_calendar(folded_body, now=NOW)
    assert plain == folded
    assert [dict(e.attachments) for e in plain] == [dict(e.attachments) for e in folded]


def test_unsorted_events_and_ended_long_ago_are_dropped() -> None:
    old = ev(0, uid="old", start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=2))
    recent = ev(0, uid="recent", start=NOW - timedelta(hours=1), end=NOW - timedelta(minutes=30))
    body = render([ev(5), old, ev(2), recent])
    uids = {e.uid for e in parse_calendar(body, now=NOW)}
    assert uids == {"uid-5", "uid-2", "recent"}


def test_lf_only_and_lowercase_free_quirks() -> None:
    body = render([ev(1)]).replace(b"\r\n", b"\n")
    (e,) = parse_calendar(body, now=NOW)
    assert e.uid == "uid-1" and e.properties["event.title"] == "Lecture 1"


def test_tzid_and_parameters_go_through_icalendar() -> None:
    body = render([ev(1)]).replace(
        b"DTSTART:20260302T100000Z", b"DTSTART;TZID=Europe/Berlin:20260302T110000")
    (e,) = parse_calendar(body, now=NOW)
    assert e.start == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _line_of(body: bytes, needle: bytes) -> int:
    return body[: body.index(needle)].count(b"\n") + 1


@pytest.mark.parametrize("case", ["bad_date", "no_uid", "no_end", "not_calendar", "cut_short"])
def test_errors_name_the_line(case: str) -> None:
    body = render([ev(1), ev(2), ev(3)])
    if case == "bad_date":
        body = body.replace(b"DTEND:20260302T113000Z", b"DTEND:2026-03-02 11:30")
        expected = _line_of(body, b"DTEND:2026-03-02")
    elif case == "no_uid":
        body = body.replace(b"UID:uid-2\r\n", b"")
        expected = _line_of(body, b"DTSTART:20260302T110000Z") - 2  # its BEGIN:VEVENT
    elif case == "no_end":
        idx = body.index(b"END:VEVENT")
        body = body[:idx] + body[idx + len(b"END:VEVENT\r\n"):]
        expected = _line_of(body, b"BEGIN:VEVENT")
    elif case == "not_calendar":
        body = b"<html><body>Login</body></html>"
        expected = 1
    else:
        body = body[: len(body) // 2]
        expected = body.count(b"\n") + 1
    if case in ("bad_date", "no_uid"):
        # One unreadable event is skipped, naming its line; the rest applies.
        parser = CalendarParser()
        assert len(parser.parse(body, now=NOW)) == 2
        (reason,) = parser.skipped
        assert f"line {expected}: " in reason, reason
        return
    with pytest.raises(CalendarError) as info:
        parse_calendar(body, now=NOW)
    assert info.value.line == expected, info.value.reason
    assert info.value.reason.startswith(f"line {expected}: ")


def test_only_changed_events_are_parsed_again() -> None:
    events = [ev(i) for i in range(50)]
    parser = CalendarParser()
    first = parser.parse(render(events), now=NOW)
    assert parser.last_parsed == 50
    # A minute later the core rewrites DTSTAMP and the properties' date comment.
    later = NOW + timedelta(minutes=1)
    again = parser.parse(render(events, later), now=later)
    assert parser.last_parsed == 0 and again == first
    events[7].title = "Moved"
    events[7].last_modified = later
    changed = parser.parse(render(events, later), now=later)
    assert parser.last_parsed == 1
    assert [e.title for e in changed if e.uid == "uid-7"] == ["Moved"]
    # A changed property (inputs) alone is noticed too.
    events[9].inputs = ["slides"]
    third = parser.parse(render(events, later), now=later)
    assert parser.last_parsed == 1
    assert [e.inputs for e in third if e.uid == "uid-9"] == [["slides"]]


def test_failed_parse_keeps_the_parsers_memory() -> None:
    parser = CalendarParser()
    parser.parse(render([ev(1), ev(2)]), now=NOW)
    with pytest.raises(CalendarError):
        parser.parse(b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n", now=NOW)
    parser.parse(render([ev(1), ev(2)]), now=NOW)
    assert parser.last_parsed == 0


def test_lazy_attachments_survive_json_and_compare() -> None:
    (e,) = parse_calendar(render([ev(1)]), now=NOW)
    copy = Event.from_json(e.to_json())
    assert dict(copy.attachments) == dict(e.attachments)
    assert copy.attachments == e.attachments and e.attachments == copy.attachments
    assert base64.b64encode(e.attachments["series.xml"])


def test_schedule_cache_keeps_body_and_etag(tmp_path: Path) -> None:
    body = render([ev(1), ev(2)])
    cache = ScheduleCache(tmp_path / "schedule.db")
    events = parse_calendar(body)
    cache.save("room-1", events, "mod123", body=body)
    again = ScheduleCache(tmp_path / "schedule.db")
    loaded, etag = again.load("room-1")
    assert etag == "mod123" and loaded == events
    info = again.info("room-1")
    assert info is not None and info[0] == "mod123"
    # Without a body (other callers) events are kept as JSON.
    again.save("room-2", events[:1], None)
    assert again.load("room-2") == (events[:1], None)
    assert again.load("nobody") == ([], None)

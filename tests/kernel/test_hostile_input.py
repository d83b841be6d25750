"""Hostile or broken input costs one event, never the agent: calendars,
names that collide, damaged stores, text that tries to forge the log."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocframe.config import CalendarConfig
from ocframe.logs import SafeFormatter
from ocframe.model import Event, printable, safe_name, unique_name
from ocframe.opencast.calendar import CalendarParser
from ocframe.store import RecordingStore
from ocframe.store_schema import StoreError

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def vevent(uid: str | None, start: str, end: str, *extra: str) -> str:
    lines = ["BEGIN:VEVENT", *( [f"UID:{uid}"] if uid is not None else []),
             f"DTSTART{start}", f"DTEND{end}", "SUMMARY:a lecture", *extra, "END:VEVENT"]
    return "\r\n".join(lines)


def calendar(*events: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n" + "\r\n".join(events)
            + "\r\nEND:VCALENDAR\r\n").encode()


GOOD_1 = vevent("good-1", ":20260302T100000Z", ":20260302T110000Z")
GOOD_2 = vevent("good-2", ":20260302T120000Z", ":20260302T130000Z")
BAD = {
    # OverflowError from icalendar/datetime: year 1 in a time zone ahead of UTC.
    "tokyo-year-1": vevent("tokyo-year-1", ";TZID=Asia/Tokyo:00010101T000000",
                           ":20260302T110000Z"),
    "year-1-utc": vevent("year-1-utc", ":00010101T000000Z", ":20260302T110000Z"),
    "year-9999": vevent("year-9999", ":20260302T100000Z", ":99991231T235959Z"),
    "backwards": vevent("backwards", ":20260302T110000Z", ":20260302T100000Z"),
    "zero-length": vevent("zero-length", ":20260302T110000Z", ":20260302T110000Z"),
    "not-a-date": vevent("not-a-date", ":tomorrow", ":20260302T110000Z"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_one_bad_event_is_skipped_naming_it_and_the_rest_applies(
        name: str, caplog: pytest.LogCaptureFixture) -> None:
    parser = CalendarParser()
    body = calendar(GOOD_1, BAD[name], GOOD_2)
    with caplog.at_level(logging.WARNING, logger="ocframe.calendar"):
        events = parser.parse(body, now=NOW)
        again = parser.parse(body, now=NOW)  # the next poll, unchanged
    assert [e.uid for e in events] == ["good-1", "good-2"] == [e.uid for e in again]
    assert len(parser.skipped) == 1 and name in parser.skipped[0]
    assert "line 1" in parser.skipped[0] or "line " in parser.skipped[0]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and name in warnings[0]  # once, not once per poll


def test_a_bare_uid_line_and_a_missing_uid_cost_only_their_event() -> None:
    bare = "BEGIN:VEVENT\r\nUID\r\nDTSTART:20260302T100000Z\r\nDTEND:20260302T110000Z\r\n" \
           "END:VEVENT"
    no_uid = vevent(None, ":20260302T100000Z", ":20260302T110000Z")
    parser = CalendarParser()
    assert [e.uid for e in parser.parse(calendar(bare, GOOD_1, no_uid), now=NOW)] == ["good-1"]
    assert any("UID line without a value" in s and "line 5" in s for s in parser.skipped)
    assert any("has no UID" in s for s in parser.skipped)


def test_a_huge_attach_line_with_an_unclosed_quote_is_cheap() -> None:
    import time

    attach = 'ATTACH;FMTTYPE="application/text;X-APPLE-FILENAME=x:' + "A" * 5_000_000
    body = calendar(GOOD_1, vevent("huge", ":20260302T100000Z", ":20260302T110000Z", attach))
    started = time.process_time()
    events = CalendarParser().parse(body, now=NOW)
    spent = time.process_time() - started
    assert "good-1" in [e.uid for e in events]
    assert spent < 2.0, spent  # was ~7 s per poll for 20 MB: a character loop in Python


def test_absurdly_long_events_are_cut_to_the_configured_maximum(
        caplog: pytest.LogCaptureFixture) -> None:
    from ocframe.calendar_poll import CalendarPoller

    long_event = Event("marathon", NOW, NOW + timedelta(days=30), title="x\x1b[2J")
    ok_event = Event("lecture", NOW, NOW + timedelta(hours=2))
    poller = CalendarPoller.__new__(CalendarPoller)
    poller.config = CalendarConfig(max_event_hours=6)
    poller.log = logging.getLogger("test.calendar")
    poller._clamped = set()
    with caplog.at_level(logging.WARNING, logger="test.calendar"):
        first = poller._sane([long_event, ok_event])
        second = poller._sane([long_event, ok_event])
    assert [e.end - e.start for e in first] == [timedelta(hours=6), timedelta(hours=2)]
    assert first == second
    assert len(caplog.records) == 1 and "marathon" in caplog.records[0].getMessage()
    assert "\x1b" not in caplog.records[0].getMessage()


@pytest.mark.parametrize("a, b", [("lec 1", "lec:1"), ("Vorlesung Ä", "Vorlesung Ö"),
                                  ("講義", "授業"), ("../x", "./x"), ("a" * 300, "a" * 301)])
def test_directory_names_are_one_to_one_for_uids_that_look_alike(a: str, b: str) -> None:
    assert safe_name(a) == safe_name(b)  # the readable part alone would collide
    assert unique_name(a) != unique_name(b)
    for name in (unique_name(a), unique_name(b)):
        assert "/" not in name and not name.startswith(".") and len(name) <= 64


def test_an_existing_directory_is_never_reused(tmp_path: Path) -> None:
    from ocframe.recordings import AgentRecordings

    recordings = AgentRecordings.__new__(AgentRecordings)
    recordings.name = "room-1"
    recordings.parts = type("Parts", (), {"storage": tmp_path})()  # type: ignore[assignment]
    event = Event("lec 1", NOW, NOW + timedelta(hours=1))
    first = recordings.new_directory(event)
    second = recordings.new_directory(event)  # the same UID once more (a re-scheduled event)
    other = recordings.new_directory(Event("lec:1", NOW, NOW + timedelta(hours=1)))
    assert len({first, second, other}) == 3
    assert all(d.is_dir() and d.parent == tmp_path / "recordings" / "room-1"
               for d in (first, second, other))


def test_deleting_a_recording_keeps_a_directory_another_recording_uses(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "recordings.db")
    shared = tmp_path / "recordings" / "room-1" / "lec_1"
    (shared / "cam").mkdir(parents=True)
    (shared / "cam" / "media.mkv").write_bytes(b"x")
    # Two recordings in one directory, as stores from before unique names could hold.
    store.create("room-1", Event("lec 1", NOW, NOW + timedelta(hours=1)), shared, ["cam"])
    store.create("room-1", Event("lec:1", NOW, NOW + timedelta(hours=1)), shared, ["cam"])
    store.delete("lec 1")
    assert store.get("lec 1") is None
    assert (shared / "cam" / "media.mkv").exists()  # still the other recording's
    store.delete("lec:1")
    assert not shared.exists()  # nobody's now


@pytest.mark.parametrize("damage", [b"this is not a database" * 100, b""])
def test_a_damaged_store_is_set_aside_and_the_agent_starts_afresh(
        tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "recordings.db"
    good = RecordingStore(path)
    good.create("room-1", Event("u", NOW, NOW + timedelta(hours=1)), tmp_path / "u", ["cam"])
    good._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    good._close_connection()
    if damage:
        path.write_bytes(damage)
    else:  # a damaged page in the middle of the file
        raw = bytearray(path.read_bytes())
        raw[100:4096] = b"\xff" * (4096 - 100)
        path.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="damaged"):
        RecordingStore(path, set_aside_corrupt=False)  # operator commands say so
    with caplog.at_level(logging.ERROR, logger="ocframe.store"):
        fresh = RecordingStore(path)  # the agent goes on
    assert fresh.recordings() == []
    kept = sorted(tmp_path.glob("recordings.db.damaged-*"))  # the database, then -shm, -wal
    assert kept and kept[0].read_bytes()[:22] == (damage or kept[0].read_bytes())[:22]
    assert "damaged" in caplog.text and str(kept[0].name).split("-wal")[0] in caplog.text


def test_a_damaged_schedule_cache_is_replaced(tmp_path: Path) -> None:
    from ocframe.schedule import ScheduleCache

    path = tmp_path / "schedule.db"
    path.write_bytes(b"garbage" * 1000)
    cache = ScheduleCache(path)
    assert cache.load("room-1") == ([], None)
    cache.save("room-1", [Event("u", NOW, NOW + timedelta(hours=1))], "etag-1")
    assert cache.load("room-1")[1] == "etag-1"
    assert list(tmp_path.glob("schedule.db.damaged-*"))


def test_titles_cannot_forge_log_lines_or_drive_the_terminal() -> None:
    title = "Lecture\n2026-03-02 09:00:00,000 ERROR   ocframe: forged\x1b[2J\x1b[31m\u202e"
    record = logging.LogRecord("ocframe.agent.room-1", logging.INFO, __file__, 1,
                               "recording %s (%s)", ("uid-1", title), None)
    out = SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    lines = out.split("\n")
    assert lines[0].startswith("INFO ocframe.agent.room-1: recording uid-1 (Lecture")
    assert all(line.startswith("    ") for line in lines[1:])  # never a record of its own
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out and "\\u202e" in out
    assert printable("a\nb", limit=None) == "a\\nb"
    assert printable("x" * 500).endswith("…") and len(printable("x" * 500)) == 300


def test_sqlite_store_file_is_really_sqlite(tmp_path: Path) -> None:
    # Guards the damage tests above: the store is the file they damage.
    RecordingStore(tmp_path / "recordings.db")
    assert sqlite3.connect(tmp_path / "recordings.db").execute(
        "PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("code, message", [
    (sqlite3.SQLITE_FULL, "database or disk is full"),
    (sqlite3.SQLITE_READONLY, "attempt to write a readonly database"),
    (sqlite3.SQLITE_CANTOPEN, "unable to open database file"),
    (sqlite3.SQLITE_IOERR | (4 << 8), "disk I/O error"),  # an extended code
])
def test_a_store_on_a_full_or_read_only_disk_is_no_damaged_store(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, message: str) -> None:
    """Setting it aside would forget the recordings it lists (uploads waiting
    included): the agent must say what is wrong and leave it as it is."""
    import ocframe.store

    path = tmp_path / "recordings.db"
    RecordingStore(path).create("room-1", Event("u", NOW, NOW + timedelta(hours=1)),
                                tmp_path / "u", ["cam"])

    def disk_trouble(*args: object) -> None:
        exc = sqlite3.OperationalError(message)
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]  # as SQLite sets it
        raise exc

    monkeypatch.setattr(ocframe.store, "check_and_migrate", disk_trouble)
    with pytest.raises(StoreError, match="full or read-only"):
        RecordingStore(path)
    assert not list(tmp_path.glob("recordings.db.damaged-*"))
    monkeypatch.undo()
    assert [r.id for r in RecordingStore(path).recordings()] == ["u"]


def test_an_unchanged_calendar_with_a_broken_copy_of_an_event_parses_the_same_every_poll(
) -> None:
    """Found by fuzzing (bench/fuzz_calendar.py): an event both readable and,
    in a second block with the same UID, unreadable came back twice from the
    second poll of the very same calendar (its 'last readable version' added
    to the readable one)."""
    broken = vevent("good-1", ":20260302T100000Z", ":tomorrow")
    body = calendar(GOOD_1, broken, GOOD_2)
    parser = CalendarParser()
    polls = [[e.uid for e in parser.parse(body, now=NOW)] for _ in range(3)]
    assert polls == [["good-1", "good-2"]] * 3
    # Alone, the broken copy still keeps the last readable version.
    assert [e.uid for e in parser.parse(calendar(broken, GOOD_2), now=NOW)] == \
        ["good-2", "good-1"]

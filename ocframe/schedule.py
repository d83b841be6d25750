"""The permanent schedule cache: the last good calendar of each agent, so
an agent restarted without network still records what was scheduled.

The calendar is kept as the core sent it (with its ETag, so a restarted
agent can ask "changed since?"), which is cheaper to write than thousands
of events as JSON; events saved without a calendar body are kept as JSON.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .model import Event
from .store_schema import set_aside

log = logging.getLogger("ocframe.schedule")

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedule (
    agent TEXT PRIMARY KEY,
    etag TEXT,
    fetched REAL NOT NULL,
    events_json TEXT NOT NULL,
    calendar BLOB
);
"""


class ScheduleCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            # Only a copy of what the core sends again at the next poll.
            moved = set_aside(path, exc)
            log.error("the schedule cache %s was damaged (%s), kept as %s; starting a new one",
                      path, exc, moved)
            self._prepare()

    def _prepare(self) -> None:
        with self._connect() as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(schedule)")}
            if "calendar" not in columns:  # a cache written by an older version
                db.execute("ALTER TABLE schedule ADD COLUMN calendar BLOB")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def load(self, agent: str) -> tuple[list[Event], str | None]:
        """The agent's cached events (those not ended long ago) and ETag."""
        try:
            with self._lock, self._connect() as db:
                row = db.execute(
                    "SELECT etag, events_json, calendar FROM schedule WHERE agent = ?", (agent,)
                ).fetchone()
        except sqlite3.DatabaseError as exc:
            log.error("%s: cached schedule unreadable (%s); starting without it", agent, exc)
            return [], None
        if row is None:
            return [], None
        etag, events_json, calendar = row
        if calendar:
            from .opencast.calendar import CalendarError, parse_calendar

            try:
                return parse_calendar(bytes(calendar)), etag
            except CalendarError as exc:
                log.error("%s: cached calendar unreadable (%s); starting without it",
                          agent, exc.reason)
                return [], None
        return [Event.from_json(_decode(e)) for e in json.loads(events_json)], etag

    def save(self, agent: str, events: list[Event], etag: str | None,
             body: bytes | None = None) -> None:
        """Remember an agent's schedule. With ``body`` (the calendar as the
        core sent it, from which ``events`` were parsed) the body is kept
        instead of the events."""
        payload = "[]" if body is not None else json.dumps([e.to_json() for e in events])
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO schedule (agent, etag, fetched, events_json, calendar)"
                " VALUES (?, ?, ?, ?, ?)",
                (agent, etag, time.time(), payload, body),
            )

    def info(self, agent: str) -> tuple[str | None, float] | None:
        """(ETag, time of the last save) of an agent's cached schedule."""
        with self._lock, self._connect() as db:
            row = db.execute(
                "SELECT etag, fetched FROM schedule WHERE agent = ?", (agent,)
            ).fetchone()
        return (row[0], row[1]) if row else None


def _decode(item: str | dict[str, object]) -> dict[str, object]:
    # Caches written before events serialised themselves hold JSON strings.
    return json.loads(item) if isinstance(item, str) else item

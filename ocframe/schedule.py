"""The permanent schedule cache: the last good calendar of each agent, so
an agent restarted without network still records what was scheduled."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from .model import Event
from .store import event_from_json, event_to_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS schedule (
    agent TEXT PRIMARY KEY,
    etag TEXT,
    fetched REAL NOT NULL,
    events_json TEXT NOT NULL
);
"""


class ScheduleCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def load(self, agent: str) -> tuple[list[Event], str | None]:
        with self._lock, self._connect() as db:
            row = db.execute(
                "SELECT etag, events_json FROM schedule WHERE agent = ?", (agent,)
            ).fetchone()
        if row is None:
            return [], None
        import json

        return [event_from_json(e) for e in json.loads(row[1])], row[0]

    def save(self, agent: str, events: list[Event], etag: str | None) -> None:
        import json

        payload = json.dumps([event_to_json(e) for e in events])
        with self._lock, self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO schedule (agent, etag, fetched, events_json)"
                " VALUES (?, ?, ?, ?)",
                (agent, etag, time.time(), payload),
            )

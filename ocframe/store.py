"""The recording store: the single source of truth about every recording.

SQLite in WAL mode (survives power loss, readers never block the writer).
Every state change, produced file and upload step is committed *before* it
is acted on or reported, so recovery after a crash is "read the store and
continue". Nothing here deletes media: that is :meth:`RecordingStore.delete`,
called only after ``upload_finished`` (if configured) or by an operator.

The schema and its migrations are in :mod:`ocframe.store_schema`.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Event, IngestPackage, RecordingState, Track, printable
from .store_schema import StoreError, check_and_migrate, set_aside

log = logging.getLogger("ocframe.store")

#: States in which a recording still needs work from us.
CAPTURING_STATES = {RecordingState.CAPTURING.value}
UPLOAD_PENDING_STATES = {
    RecordingState.CAPTURE_FINISHED.value,
    RecordingState.UPLOADING.value,
}


@dataclass(frozen=True)
class Segment:
    recording_id: str
    input: str
    segment: int
    directory: Path
    started: float
    ended: float | None
    error: str | None
    tracks: list[Track]
    #: UNIX time of the media's time zero, if known (``CaptureHandle.media_origin``).
    media_origin: float | None = None
    #: UNIX time of the window's start, if the media began before it (trimmed there).
    trim_to: float | None = None


@dataclass(frozen=True)
class Recording:
    id: str
    agent: str
    event: Event
    directory: Path
    state: str
    inputs: list[str]
    package: IngestPackage | None
    error: str | None
    attempts: int
    next_attempt: float | None
    created: float
    updated: float


class RecordingStore:
    """Thread-safe access to the recording database."""

    def __init__(self, path: Path, *, set_aside_corrupt: bool = True) -> None:
        """Open (and upgrade) the store. A database SQLite finds corrupt is,
        with ``set_aside_corrupt`` (the agent), renamed beside it and a new
        one started, so the agent records instead of crash-looping; without
        (operator commands), it is an error naming the file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._write_lock:
            try:
                check_and_migrate(self._db(), self.path)
            except sqlite3.DatabaseError as exc:
                self._close_connection()
                if not _damaged(exc):
                    # A full or read-only disk is no damage: setting the store
                    # aside would forget every recording it lists (uploads
                    # waiting included), and the new one could not be written.
                    raise StoreError(f"the recording store {path} cannot be used ({exc}): is"
                                     " its disk full or read-only? It is left as it is")\
                        from None
                if not set_aside_corrupt:
                    raise StoreError(f"the recording store {path} is damaged ({exc}); the"
                                     " agent sets it aside when it starts") from None
                moved = set_aside(path, exc)
                log.error("the recording store %s was damaged (%s) and is kept as %s; a new"
                          " store is started. Recordings already on disk under %s are not"
                          " lost, but are no longer listed: re-ingest or copy them by hand",
                          path, exc, moved, path.parent / "recordings")
                check_and_migrate(self._db(), self.path)

    def release_thread(self) -> None:
        """Close the calling thread's connection: a short-lived thread (a
        capture's) calls this before it ends. Otherwise the connection, held
        in a reference cycle by its statement cache, is freed only by the
        cyclic garbage collector, keeping its files open until then."""
        self._close_connection()

    def _close_connection(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a state written before acting must survive power loss.
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- recordings --------------------------------------------------------
    def create(self, agent: str, event: Event, directory: Path, inputs: list[str]) -> Recording:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO recordings (id, agent, event_json, directory, state, inputs_json,"
                " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (event.uid, agent, json.dumps(event.to_json()), str(directory),
                 RecordingState.CAPTURING.value, json.dumps(inputs), now, now),
            )
            db.execute(
                "INSERT INTO state_history VALUES (?, ?, ?, ?)",
                (event.uid, now, RecordingState.CAPTURING.value, "scheduled start"),
            )
        rec = self.get(event.uid)
        assert rec is not None
        return rec

    def get(self, recording_id: str) -> Recording | None:
        row = self._db().execute(
            "SELECT * FROM recordings WHERE id = ?", (recording_id,)
        ).fetchone()
        return _recording(row) if row else None

    def recordings(self, *, agent: str | None = None, states: set[str] | None = None,
                   due: float | None = None) -> list[Recording]:
        """Recordings, oldest first; only the agent's, only those in
        ``states``, only those whose next upload attempt is due at ``due``."""
        where: list[str] = []
        args: list[Any] = []
        if agent is not None:
            where.append("agent = ?")
            args.append(agent)
        if states is not None:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(sorted(states))
        if due is not None:
            where.append("(next_attempt IS NULL OR next_attempt <= ?)")
            args.append(due)
        sql = "SELECT * FROM recordings"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db().execute(sql + " ORDER BY created", args).fetchall()
        return [_recording(r) for r in rows]

    def set_state(self, recording_id: str, state: str, detail: str = "",
                  error: str | None = None) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE recordings SET state = ?, error = ?, updated = ? WHERE id = ?",
                (state, error, now, recording_id),
            )
            db.execute(
                "INSERT INTO state_history VALUES (?, ?, ?, ?)", (recording_id, now, state, detail)
            )

    def update_event(self, recording_id: str, event: Event) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE recordings SET event_json = ?, updated = ? WHERE id = ?",
                (json.dumps(event.to_json()), time.time(), recording_id),
            )

    def history(self, recording_id: str) -> list[tuple[float, str, str]]:
        rows = self._db().execute(
            "SELECT at, state, detail FROM state_history WHERE recording_id = ? ORDER BY rowid",
            (recording_id,),
        ).fetchall()
        return [(r["at"], r["state"], r["detail"]) for r in rows]

    def delete(self, recording_id: str) -> None:
        rec = self.get(recording_id)
        with self._tx() as db:
            for table in ("segments", "ingest_attempts", "checkpoints", "state_history"):
                db.execute(f"DELETE FROM {table} WHERE recording_id = ?", (recording_id,))
            db.execute("DELETE FROM recordings WHERE id = ?", (recording_id,))
        if rec is None:
            return
        # Never a directory another recording lives in, or that holds one
        # (stores from before unique directory names could share one).
        mine = rec.directory.resolve()
        for (other,) in self._db().execute("SELECT directory FROM recordings").fetchall():
            theirs = Path(other).resolve()
            if theirs == mine or mine in theirs.parents or theirs in mine.parents:
                log.warning("recording %s deleted from the store; its directory %s is kept:"
                            " recording files of another recording are in %s",
                            printable(recording_id), mine, theirs)
                return
        shutil.rmtree(rec.directory, ignore_errors=True)

    # -- segments ----------------------------------------------------------
    def begin_segment(self, recording_id: str, input_name: str, segment: int,
                      directory: Path) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO segments (recording_id, input, segment, directory, started)"
                " VALUES (?, ?, ?, ?, ?)",
                (recording_id, input_name, segment, str(directory), time.time()),
            )

    def end_segment(self, recording_id: str, input_name: str, segment: int,
                    tracks: list[Track], error: str | None,
                    media_origin: float | None = None, trim_to: float | None = None,
                    ended: float | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE segments SET ended = ?, error = ?, tracks_json = ?, media_origin = ?,"
                " trim_to = ? WHERE recording_id = ? AND input = ? AND segment = ?",
                (ended or time.time(), error, json.dumps([t.to_json() for t in tracks]),
                 media_origin, trim_to, recording_id, input_name, segment),
            )

    def segments(self, recording_id: str) -> list[Segment]:
        rows = self._db().execute(
            "SELECT * FROM segments WHERE recording_id = ? ORDER BY input, segment",
            (recording_id,),
        ).fetchall()
        return [
            Segment(
                r["recording_id"], r["input"], r["segment"], Path(r["directory"]), r["started"],
                r["ended"], r["error"],
                [Track.from_json(t) for t in json.loads(r["tracks_json"] or "[]")],
                r["media_origin"], r["trim_to"],
            )
            for r in rows
        ]

    # -- ingest ------------------------------------------------------------
    def set_package(self, recording_id: str, package: IngestPackage) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE recordings SET package_json = ?, updated = ? WHERE id = ?",
                (json.dumps(package.to_json()), time.time(), recording_id),
            )

    def begin_attempt(self, recording_id: str, method: str) -> int:
        with self._tx() as db:
            db.execute(
                "UPDATE recordings SET attempts = attempts + 1, updated = ? WHERE id = ?",
                (time.time(), recording_id),
            )
            attempt = db.execute(
                "SELECT attempts FROM recordings WHERE id = ?", (recording_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO ingest_attempts (recording_id, attempt, method, started)"
                " VALUES (?, ?, ?, ?)",
                (recording_id, attempt, method, time.time()),
            )
        return int(attempt)

    def end_attempt(self, recording_id: str, attempt: int, outcome: str, detail: str,
                    next_attempt: float | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE ingest_attempts SET finished = ?, outcome = ?, detail = ?"
                " WHERE recording_id = ? AND attempt = ?",
                (time.time(), outcome, detail, recording_id, attempt),
            )
            db.execute(
                "UPDATE recordings SET next_attempt = ? WHERE id = ?", (next_attempt, recording_id)
            )

    def attempts(self, recording_id: str) -> list[dict[str, Any]]:
        rows = self._db().execute(
            "SELECT * FROM ingest_attempts WHERE recording_id = ? ORDER BY attempt",
            (recording_id,),
        ).fetchall()
        return [dict(r) for r in rows]

    def counted_failures(self, recording_id: str) -> int:
        """Failed attempts that count towards the cap (not those where the
        core was merely unreachable)."""
        row = self._db().execute(
            "SELECT COUNT(*) FROM ingest_attempts WHERE recording_id = ?"
            " AND outcome IN ('retry', 'failed')", (recording_id,),
        ).fetchone()
        return int(row[0])

    def reset_attempts(self, recording_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE recordings SET attempts = 0, next_attempt = NULL WHERE id = ?",
                (recording_id,),
            )

    def make_due(self, states: set[str]) -> None:
        """Recordings in ``states`` waiting for a later upload attempt are due now."""
        with self._tx() as db:
            db.execute(f"UPDATE recordings SET next_attempt = NULL WHERE state IN"
                       f" ({', '.join('?' * len(states))})", sorted(states))

    def checkpoint(self, recording_id: str) -> StoreCheckpoint:
        return StoreCheckpoint(self, recording_id)


class StoreCheckpoint:
    """Durable upload notes of one recording (see :class:`ocframe.ingest.Checkpoint`)."""

    def __init__(self, store: RecordingStore, recording_id: str) -> None:
        self.store = store
        self.recording_id = recording_id

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self.store._db().execute(
            "SELECT value FROM checkpoints WHERE recording_id = ? AND key = ?",
            (self.recording_id, key),
        ).fetchone()
        return row[0] if row else default

    def set(self, key: str, value: str) -> None:
        with self.store._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                (self.recording_id, key, value),
            )

    def items(self) -> Mapping[str, str]:
        rows = self.store._db().execute(
            "SELECT key, value FROM checkpoints WHERE recording_id = ?", (self.recording_id,)
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def clear(self) -> None:
        with self.store._tx() as db:
            db.execute("DELETE FROM checkpoints WHERE recording_id = ?", (self.recording_id,))


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """SQLite found the file corrupt or not a database (our own integrity
    check raises without a code); not a full, read-only or failing disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is None or code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _recording(row: sqlite3.Row) -> Recording:
    return Recording(
        id=row["id"],
        agent=row["agent"],
        event=Event.from_json(json.loads(row["event_json"])),
        directory=Path(row["directory"]),
        state=row["state"],
        inputs=json.loads(row["inputs_json"]),
        package=IngestPackage.from_json(json.loads(row["package_json"]))
        if row["package_json"] else None,
        error=row["error"],
        attempts=row["attempts"],
        next_attempt=row["next_attempt"],
        created=row["created"],
        updated=row["updated"],
    )


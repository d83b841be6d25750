"""The recording store's schema, versioned with SQLite's ``user_version``.

Opening a store written by an older ocframe applies the missing migrations
in order, each in one transaction with its version number, after a backup
copy of the database is made beside it (``recordings.db.v<old>.bak``); a
store written by a newer ocframe is refused rather than misread.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from .errors import OcframeError

log = logging.getLogger("ocframe.store")

#: The first schema, as ocframe 0.1 wrote it (``user_version`` 0, later 1).
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS recordings (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    event_json TEXT NOT NULL,
    directory TEXT NOT NULL,
    state TEXT NOT NULL,
    inputs_json TEXT NOT NULL DEFAULT '[]',
    package_json TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state_history (
    recording_id TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS state_history_rec ON state_history(recording_id);
CREATE TABLE IF NOT EXISTS segments (
    recording_id TEXT NOT NULL,
    input TEXT NOT NULL,
    segment INTEGER NOT NULL,
    directory TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    error TEXT,
    tracks_json TEXT,
    PRIMARY KEY (recording_id, input, segment)
);
CREATE TABLE IF NOT EXISTS ingest_attempts (
    recording_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    method TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    outcome TEXT,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS checkpoints (
    recording_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (recording_id, key)
);
"""

#: Migration n brings a store from version n - 1 to n. Append, never edit.
MIGRATIONS: dict[int, str] = {
    1: SCHEMA_V1,
    # The ingest queue and the recovery ask by state (and due time), not for
    # every row; attempts are read per recording.
    2: """
CREATE INDEX IF NOT EXISTS recordings_state ON recordings(state, next_attempt);
CREATE INDEX IF NOT EXISTS recordings_agent ON recordings(agent);
CREATE INDEX IF NOT EXISTS ingest_attempts_rec ON ingest_attempts(recording_id, attempt);
""",
    # Where each segment's media time zero lies on the wall clock and where
    # the recording's window starts (to trim a start launched early to it),
    # and how long each input took from launch to media (to launch it that
    # much early next time).
    3: """
ALTER TABLE segments ADD COLUMN media_origin REAL;
ALTER TABLE segments ADD COLUMN trim_to REAL;
CREATE TABLE IF NOT EXISTS input_latency (
    agent TEXT NOT NULL,
    input TEXT NOT NULL,
    samples_json TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (agent, input)
);
""",
}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreError(OcframeError):
    """The recording store cannot be opened as it is."""


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store at ``path`` (open as ``db``) to :data:`SCHEMA_VERSION`."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer ocframe (store schema {version}; this"
            f" version knows up to {SCHEMA_VERSION}): upgrade ocframe, or restore the"
            " backup the upgrade left beside it")
    if version == SCHEMA_VERSION:
        return
    has_tables = db.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    if has_tables:
        backup = path.with_name(f"{path.name}.v{version}.bak")
        copy = sqlite3.connect(backup)
        try:
            db.backup(copy)
        finally:
            copy.close()
        log.info("upgrading the recording store %s from schema %d to %d (backup: %s)",
                 path, version, SCHEMA_VERSION, backup)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        # executescript commits first; the migration and its version
        # number then go in one transaction.
        try:
            db.executescript(f"BEGIN IMMEDIATE;\n{MIGRATIONS[target]}\n"
                             f"PRAGMA user_version = {target};\nCOMMIT;")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreError(f"{path}: upgrading the store to schema {target} failed: {exc}"
                             " (nothing was changed by that step)") from exc


def check_and_migrate(db: sqlite3.Connection, path: Path) -> None:
    """:func:`migrate`, after SQLite's quick integrity check (a damaged page
    must show now, not in the middle of a recording)."""
    result = db.execute("PRAGMA quick_check").fetchone()
    if result is None or result[0] != "ok":
        raise sqlite3.DatabaseError(f"integrity check: {result[0] if result else 'no answer'}")
    migrate(db, path)


def set_aside(path: Path, reason: BaseException) -> Path:
    """Rename a damaged database (and its WAL files) out of the way."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    moved = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(moved.with_name(moved.name + suffix))
    return moved

"""Stores written by earlier versions open after an upgrade; newer ones are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ocframe.model import RecordingState
from ocframe.store import UPLOAD_PENDING_STATES, RecordingStore
from ocframe.store_schema import SCHEMA_VERSION, StoreError

#: Written by ocframe 0.1's store before schemas were versioned (user_version 0):
#: a recording waiting for upload with a checkpoint and a failed attempt, one
#: left capturing by a crash, one ingested.
V0_DUMP = Path(__file__).parent / "data" / "recordings-v0.sql"


def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "recordings.db"
    db = sqlite3.connect(path)
    db.executescript(V0_DUMP.read_text(encoding="utf-8"))
    db.close()
    return path


def test_a_store_written_before_versioning_opens_and_keeps_everything(tmp_path: Path) -> None:
    path = old_store(tmp_path)
    store = RecordingStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (tmp_path / "recordings.db.v0.bak").exists()  # the old file, kept aside

    finished = store.get("uid-finished")
    assert finished is not None
    assert finished.state == RecordingState.UPLOADING and finished.agent == "room-1"
    assert finished.event.title == "Lecture A"
    assert finished.event.attachments["episode.xml"] == b"<dublincore>\xe9</dublincore>"
    assert finished.event.workflow_config == {"trimHold": "true"}
    assert [s.tracks[0].path.name for s in store.segments("uid-finished")] == ["presenter.mkv"]
    assert store.checkpoint("uid-finished").get("multirequest.state") is not None
    assert store.counted_failures("uid-finished") == 1
    assert [state for _, state, _ in store.history("uid-finished")] == [
        "capturing", "capture_finished", "uploading"]

    crashed = store.get("uid-capturing")
    assert crashed is not None and crashed.inputs == ["presenter", "screen"]
    assert [s.ended for s in store.segments("uid-capturing")] == [None]
    done = store.get("uid-done")
    assert done is not None and done.package is not None
    assert done.package.tracks[0].tags == ("archive",)

    # The new SQL filters read the old rows.
    assert [r.id for r in store.recordings(agent="room-2")] == ["uid-capturing"]
    assert [r.id for r in store.recordings(states=UPLOAD_PENDING_STATES)] == ["uid-finished"]
    assert store.recordings(states=UPLOAD_PENDING_STATES, due=1764499999.0) == []
    assert [r.id for r in store.recordings(states=UPLOAD_PENDING_STATES,
                                           due=1764500000.0)] == ["uid-finished"]

    # And the upgraded store works on: a second open changes nothing.
    store.set_state("uid-finished", RecordingState.UPLOAD_FINISHED, "workflow 7")
    again = RecordingStore(path)
    got = again.get("uid-finished")
    assert got is not None and got.state == RecordingState.UPLOAD_FINISHED
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".bak") == [
        "recordings.db.v0.bak"]


def test_a_new_store_starts_at_the_current_version_without_a_backup(tmp_path: Path) -> None:
    RecordingStore(tmp_path / "recordings.db")
    db = sqlite3.connect(tmp_path / "recordings.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert not list(tmp_path.glob("*.bak"))


def test_a_store_from_a_newer_version_is_refused_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "recordings.db"
    RecordingStore(path)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer ocframe"):
        RecordingStore(path)

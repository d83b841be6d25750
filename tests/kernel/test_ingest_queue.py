"""The ingest queue's workers back off on errors nobody expected."""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from typing import Any

import pytest

from ocframe.config import IngestQueueConfig
from ocframe.uploader import IngestQueue


class FullDiskStore:
    """A store whose every query fails as SQLite does on a full disk."""

    def __init__(self) -> None:
        self.calls: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.enough = threading.Event()

    def recordings(self, **_: Any) -> list[Any]:
        with self.lock:
            times = self.calls.setdefault(threading.current_thread().name, [])
            times.append(time.monotonic())
            if len(self.calls) == 2 and all(len(t) >= 3 for t in self.calls.values()):
                self.enough.set()
        raise sqlite3.OperationalError("database or disk is full")


class Agents:
    def ingest_config(self, agent: str) -> None:
        return None

    def set_recording_state(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("nothing to upload")

    def upload_activity_changed(self, agent: str) -> None:
        pass


def test_a_failing_store_is_retried_with_backoff_not_in_a_tight_loop(
        caplog: pytest.LogCaptureFixture) -> None:
    store = FullDiskStore()
    queue = IngestQueue(store=store, plugins=None, client=None, ffmpeg="ffmpeg",  # type: ignore[arg-type]
                        agents=Agents(), config=IngestQueueConfig(concurrency=2))
    with caplog.at_level(logging.ERROR, logger="ocframe.ingest"):
        queue.start()
        assert store.enough.wait(30)
        queue.stop()
    # Each worker waits 1 s, then 2 s before it asks again, where the defect
    # asked at once (3,577 tracebacks in 6 s). A loaded machine only makes
    # the gaps longer.
    for times in store.calls.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps
    errors = [r for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert len(errors) == 2  # once per worker, then counted
    for loop in queue.loops:
        health = loop.health()
        assert health.errors_total >= 1 and "disk is full" in (health.last_error or "")

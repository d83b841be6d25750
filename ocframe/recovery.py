"""Crash recovery: recordings the last process left ``capturing``.

Recovery is start-up reading the store, not a special path: a segment that
never ended gets the media files found in its directory; a recording whose
event still runs continues into a new segment per input; one whose event
is over is finished (and so queued for upload). While the agent runs, the
same happens to a recording whose capture ended while the store could not
be written (:class:`OrphanRecovery`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .model import Event, InputSpec, Track
from .recordings import AgentRecordings
from .scheduler import Scheduler
from .store import CAPTURING_STATES, RecordingStore

#: Seconds between looks for recordings left ``capturing`` without a run.
ORPHAN_CHECK_INTERVAL = 5.0

#: What a capture may have left behind, by file suffix.
MEDIA_TYPES = {".mkv": "video/x-matroska", ".mp4": "video/mp4", ".ts": "video/mp2t",
               ".mov": "video/quicktime", ".webm": "video/webm", ".flac": "audio/flac",
               ".wav": "audio/wav", ".mka": "audio/x-matroska", ".aac": "audio/aac"}


def recover(recordings: AgentRecordings, store: RecordingStore, specs: dict[str, InputSpec],
            scheduled: list[Event], *, running: Collection[str] = (),
            reason: str = "agent stopped during the capture") -> None:
    """Close, and finish or continue, the agent's recordings left
    ``capturing``, except those ``running``."""
    agent = recordings.name
    log = logging.getLogger(f"ocframe.agent.{agent}")
    now = datetime.now(UTC)
    cached = {e.uid: e for e in scheduled}
    for rec in store.recordings(agent=agent, states=CAPTURING_STATES):
        if rec.id in running:
            continue
        segs = store.segments(rec.id)
        for seg in segs:
            if seg.ended is None:
                tracks = salvage(seg.directory, specs.get(seg.input), seg.segment)
                store.end_segment(rec.id, seg.input, seg.segment, tracks, reason)
        event = cached.get(rec.id, rec.event)
        if now < event.end + timedelta(seconds=recordings.config.postroll):
            nxt = {s.input: s.segment + 1 for s in segs}
            for name in rec.inputs:
                nxt.setdefault(name, 0)
            log.info("continuing recording %s after a restart", rec.id)
            recordings.resume(recordings.make_run(event, rec.directory, rec.inputs, nxt))
        else:
            recordings.finish(recordings.make_run(event, rec.directory, [], {}))


class OrphanRecovery:
    """Recordings left ``capturing`` without a run while the agent runs (the
    store could not be written when their capture ended: a full or read-only
    disk) are recovered as after a crash, once the store can be written.
    Called on the scheduler's thread, the only one that starts runs."""

    def __init__(self, recordings: AgentRecordings, store: RecordingStore,
                 specs: Callable[[], dict[str, InputSpec]], scheduler: Scheduler) -> None:
        self.recordings, self.store, self.specs = recordings, store, specs
        self.scheduler = scheduler
        self._next = time.monotonic() + ORPHAN_CHECK_INTERVAL
        self._failing = False

    def __call__(self) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + ORPHAN_CHECK_INTERVAL
        running = set(self.scheduler.runs)
        try:
            if any(r.id not in running for r in self.store.recordings(
                    agent=self.recordings.name, states=CAPTURING_STATES)):
                recover(self.recordings, self.store, self.specs(), self.scheduler.events(),
                        running=running, reason="the store could not be written when the"
                                                " capture ended")
        except (sqlite3.Error, OSError) as exc:
            # Still unwritable: said once (finish() said why), tried again later.
            if not self._failing:
                self.recordings.log.error("cannot recover recordings yet: %s", exc)
            self._failing = True
            return
        self._failing = False


def salvage(directory: Path, spec: InputSpec | None, segment: int) -> list[Track]:
    """Media files left by a capture that was running when the agent died."""
    if spec is None or not directory.exists():
        return []
    return [
        Track(f, spec.flavor, MEDIA_TYPES[f.suffix], (), spec.name, segment)
        for f in sorted(directory.iterdir())
        if f.is_file() and f.suffix in MEDIA_TYPES and f.stat().st_size > 0
    ]

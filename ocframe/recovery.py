"""Crash recovery: recordings the last process left ``capturing``.

Recovery is start-up reading the store, not a special path: a segment that
never ended gets the media files found in its directory; a recording whose
event still runs continues into a new segment per input; one whose event
is over is finished (and so queued for upload).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .model import Event, InputSpec, Track
from .recordings import AgentRecordings
from .store import CAPTURING_STATES, RecordingStore

#: What a capture may have left behind, by file suffix.
MEDIA_TYPES = {".mkv": "video/x-matroska", ".mp4": "video/mp4", ".ts": "video/mp2t",
               ".mov": "video/quicktime", ".webm": "video/webm", ".flac": "audio/flac",
               ".wav": "audio/wav", ".mka": "audio/x-matroska", ".aac": "audio/aac"}


def recover(recordings: AgentRecordings, store: RecordingStore, specs: dict[str, InputSpec],
            scheduled: list[Event]) -> None:
    agent = recordings.name
    log = logging.getLogger(f"ocframe.agent.{agent}")
    now = datetime.now(UTC)
    cached = {e.uid: e for e in scheduled}
    for rec in store.recordings(agent=agent, states=CAPTURING_STATES):
        segs = store.segments(rec.id)
        for seg in segs:
            if seg.ended is None:
                tracks = salvage(seg.directory, specs.get(seg.input), seg.segment)
                store.end_segment(rec.id, seg.input, seg.segment, tracks,
                                  "agent stopped during the capture")
        event = cached.get(rec.id, rec.event)
        if now < event.end + timedelta(seconds=recordings.config.postroll):
            nxt = {s.input: s.segment + 1 for s in segs}
            for name in rec.inputs:
                nxt.setdefault(name, 0)
            log.info("continuing recording %s after a restart", rec.id)
            recordings.resume(recordings.make_run(event, rec.directory, rec.inputs, nxt))
        else:
            recordings.finish(recordings.make_run(event, rec.directory, [], {}))


def salvage(directory: Path, spec: InputSpec | None, segment: int) -> list[Track]:
    """Media files left by a capture that was running when the agent died."""
    if spec is None or not directory.exists():
        return []
    return [
        Track(f, spec.flavor, MEDIA_TYPES[f.suffix], (), spec.name, segment)
        for f in sorted(directory.iterdir())
        if f.is_file() and f.suffix in MEDIA_TYPES and f.stat().st_size > 0
    ]

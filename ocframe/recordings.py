"""One agent's recordings, from the scheduled start to "ready for upload".

The scheduler calls :meth:`AgentRecordings.begin` at an event's start: the
recording gets its directory and its row in the store before anything runs
(the store is the truth), then a :class:`RecordingRun` supervises its inputs.
When every input is done, :meth:`finish` checks every track
(:mod:`ocframe.media_check`), then decides ``capture_finished`` (some usable
media) or ``capture_error`` (none) and wakes the ingest queue.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .capture import RecordingRun
from .config import AgentConfig
from .disk import DiskMonitor
from .events import EventBus
from .ffmpeg import find_ffmpeg
from .inputs import InputSet
from .media_check import check_segment
from .model import Event, RecordingState, StateChange, printable, safe_name, unique_name
from .reporter import CoreReporter
from .scheduler import Scheduler
from .store import RecordingStore, Segment


@dataclass
class RecordingParts:
    """What recordings of one agent are made with."""

    store: RecordingStore
    bus: EventBus
    hooks: Any  # the plugin registry's pluggy hook relay
    inputs: InputSet
    disk: DiskMonitor
    scheduler: Scheduler
    reporter: CoreReporter
    storage: Path
    #: Store, then report, a recording's state (the agent's, so hooks see it).
    set_state: Callable[..., None]
    #: The agent's state may have changed.
    state_changed: Callable[[], None]
    #: Recordings are ready for upload.
    wake_ingest: Callable[[], None]
    #: When to launch each input of an event (UNIX seconds; see runtime).
    launch_plan: Callable[[Event], dict[str, float]] = lambda event: {}


@dataclass
class MediaCheck:
    """What the media check found in all segments of a recording."""

    usable: bool = False
    checked: bool = False
    notes: list[str] = field(default_factory=list)


class AgentRecordings:
    def __init__(self, config: AgentConfig, parts: RecordingParts) -> None:
        self.config = config
        self.parts = parts
        self.name = config.name
        self.log = logging.getLogger(f"ocframe.agent.{self.name}")
        #: The reason every input failed for good in the last recording, if so.
        self.permanent_error: str | None = None

    def new_directory(self, event: Event) -> Path:
        """A directory of this recording's own: named one-to-one after the raw
        UID, and never one that exists already (a second recording writing
        into it could lose both)."""
        stamp = event.start.strftime("%Y%m%dT%H%M%SZ")
        base = self.parts.storage / "recordings" / safe_name(self.name)
        base.mkdir(parents=True, exist_ok=True)
        name = f"{stamp}-{unique_name(event.uid)}"
        for attempt in range(1000):
            directory = base / (name if attempt == 0 else f"{name}.{attempt}")
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            return directory
        raise OSError(f"no free directory name for recording {printable(event.uid)} in {base}")

    def begin(self, event: Event) -> RecordingRun:
        p = self.parts
        inputs = p.inputs.select(event)
        directory = self.new_directory(event)
        p.disk.check_recording(self.name, event,
                               [p.inputs.drivers[n] for n in inputs if n in p.inputs.drivers])
        p.store.create(self.name, event, directory, inputs)
        run = self.make_run(event, directory, inputs, {})
        window = event.start - timedelta(seconds=self.config.preroll)
        run.window_start = window.timestamp()
        run.launch_at = p.launch_plan(event)
        ahead = window.timestamp() - time.time()
        self.log.info("recording %s (%s) with %s until %s%s", printable(event.uid),
                      printable(event.title), ", ".join(inputs), event.end.isoformat(),
                      f", begun {ahead:.1f} s ahead of its window" if ahead > 0.05 else "")
        p.scheduler.adopt(event.uid, run)  # before the agent state is computed below
        run.on_announce = self._announce
        if ahead > 0:
            run.announce_at = window  # the scheduler announces it on time
        else:
            self._announce(run)
        run.start()
        p.state_changed()
        return run

    def _announce(self, run: RecordingRun) -> None:
        """The recording's window has started: the core hears ``capturing``."""
        p = self.parts
        p.reporter.recording_state(run.recording_id, RecordingState.CAPTURING.value)
        p.bus.emit(p.hooks.ocframe_state_change, change=StateChange(
            self.name, None, RecordingState.CAPTURING.value, run.recording_id, "", time.time()))

    def make_run(self, event: Event, directory: Path, inputs: list[str],
                 next_segment: dict[str, int]) -> RecordingRun:
        p = self.parts
        run = RecordingRun(
            recording_id=event.uid,
            event=event,
            end=event.end + timedelta(seconds=self.config.postroll),
            directory=directory,
            store=p.store,
            bus=p.bus,
            hooks=p.hooks,
            on_done=self.finish,
            max_restarts=self.config.max_restarts,
            stall_timeout=self.config.stall_timeout,
        )
        for name in inputs:
            if name in p.inputs.drivers:
                run.add_input(p.inputs.drivers[name], p.inputs.specs[name],
                              p.inputs.gates[name], next_segment.get(name, 0))
        return run

    def resume(self, run: RecordingRun) -> None:
        """Go on with a recording the last process left capturing."""
        self.parts.scheduler.adopt(run.recording_id, run)
        self.parts.reporter.recording_state(run.recording_id, RecordingState.CAPTURING.value)
        run.start()

    def finish(self, run: RecordingRun) -> None:
        p = self.parts
        try:
            have_media = self._conclude(run)
        except (sqlite3.Error, OSError) as exc:
            # The store cannot be written (a full or read-only disk): the
            # recording stays "capturing" there with its files on disk, and
            # recovery finishes it once the store can be written again.
            self.log.error("recording %s: the recording store cannot be written (%s); its"
                           " files stay in %s and it is finished once the store can be"
                           " written", run.recording_id, exc, run.directory)
            have_media = False
        p.scheduler.run_finished(run.recording_id)
        p.state_changed()
        if have_media:
            p.wake_ingest()

    def _conclude(self, run: RecordingRun) -> bool:
        """Store ``capture_finished`` or ``capture_error``; True if there is media."""
        p = self.parts
        segments = p.store.segments(run.recording_id)
        if any(seg.ended is None for seg in segments):
            # A segment's end (and its files) never reached the store: only
            # recovery, reading the files, can tell what was recorded.
            raise sqlite3.OperationalError("a segment's end is missing from the store")
        check = self._check_media(run.recording_id, segments, run.captured_seconds)
        have_media = check.usable
        if have_media:
            detail = "; ".join([*run.errors, *check.notes])
            if check.notes:
                detail = f"partly usable media: {detail}"
            p.set_state(run.recording_id, RecordingState.CAPTURE_FINISHED, detail)
            self.permanent_error = None
        else:
            reason = "; ".join(run.errors + check.notes) or "no media produced"
            if check.checked and not run.errors:
                reason = f"no usable media: {reason}"
            p.set_state(run.recording_id, RecordingState.CAPTURE_ERROR, reason, error=reason)
            if run.permanent_failure:
                self.permanent_error = reason
            self.log.error("recording %s failed: %s", run.recording_id, reason)
        return have_media

    def _check_media(self, recording_id: str, segments: list[Segment],
                     captured: dict[tuple[str, int], float]) -> MediaCheck:
        """Probe every segment's media before the recording counts as
        captured; drop what is unusable, keep repaired copies (see
        :mod:`ocframe.media_check`)."""
        p = self.parts
        ffmpeg = p.inputs.tools.get("ffmpeg") or find_ffmpeg()
        out = MediaCheck()
        for seg in segments:
            if not seg.tracks:
                continue
            # How long it captured, known for this process's own captures only
            # (the store's end comes after the files were collected).
            ran = captured.get((seg.input, seg.segment))
            result = check_segment(seg.tracks, ran, ffmpeg, label=f"{seg.input} #{seg.segment}")
            out.checked = True
            out.notes.extend(result.notes)
            out.usable = out.usable or bool(result.kept)
            if result.changed:
                dropped = [n for n in result.notes if " dropped: " in n]
                error = "; ".join(filter(None, [seg.error, *dropped])) or None
                # Stored as the segment's files (its end and trim kept).
                p.store.end_segment(recording_id, seg.input, seg.segment, result.kept, error,
                                    media_origin=seg.media_origin, trim_to=seg.trim_to,
                                    ended=seg.ended)
        return out

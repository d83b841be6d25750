"""Running one recording: one supervising thread per input.

Each input's thread prepares and starts its driver, polls the capture about
once a second, restarts it into a new segment when it ends before the
scheduled end (a camera reboot, a crashed process), stops it at the end,
and collects its tracks. Every segment is written to the recording store
before it starts and after it ends, so a crash loses nothing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .driver import CaptureHandle, Driver
from .errors import CaptureError
from .launches import LatencyRecord
from .model import CaptureContext, Event, InputSpec, Track
from .store import RecordingStore

if TYPE_CHECKING:
    from .events import EventBus

log = logging.getLogger("ocframe.capture")

POLL_INTERVAL = 0.25
RESTART_BACKOFF_MAX = 10.0


class DeviceGate:
    """One capture at a time per input: the next event's capture waits until
    the previous one on the same device has stopped (a V4L2 device opens once)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: object | None = None

    def acquire(self, owner: object, cancelled: threading.Event, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._owner is not None and self._owner is not owner:
                if cancelled.is_set() or time.monotonic() > deadline:
                    return False
                self._cond.wait(0.05)
            self._owner = owner
            return True

    def release(self, owner: object) -> None:
        with self._cond:
            if self._owner is owner:
                self._owner = None
                self._cond.notify_all()


@dataclass
class Failure:
    """One error, and how often it came in a row (restarts failing alike)."""

    text: str
    first_segment: int | None
    last_segment: int | None
    count: int = 1


@dataclass
class InputOutcome:
    input_name: str = ""
    tracks: list[Track] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    permanent: bool = False

    def add_error(self, text: str, segment: int | None = None) -> bool:
        """Keep an error; False when it repeats the previous one, which is
        then counted instead of kept twice."""
        last = self.failures[-1] if self.failures else None
        if last is not None and segment is not None and last.text == text:
            last.count += 1
            last.last_segment = segment
            return False
        self.failures.append(Failure(text, segment, segment))
        return True

    @property
    def errors(self) -> list[str]:
        """One line per distinct error in a row: ``cam segment 0: ... (5 times)``."""
        out = []
        for f in self.failures:
            if f.first_segment is None:
                where = self.input_name
            elif f.first_segment == f.last_segment:
                where = f"{self.input_name} segment {f.first_segment}"
            else:
                where = f"{self.input_name} segments {f.first_segment}-{f.last_segment}"
            out.append(f"{where}: {f.text}" + (f" ({f.count} times)" if f.count > 1 else ""))
        return out


class InputCapture:
    """Supervises one input of one recording, segment after segment."""

    def __init__(
        self,
        run: RecordingRun,
        driver: Driver,
        spec: InputSpec,
        gate: DeviceGate,
        first_segment: int,
    ) -> None:
        self.run = run
        self.driver = driver
        self.spec = spec
        self.gate = gate
        self.segment = first_segment
        self.outcome = InputOutcome(spec.name)
        self.log = logging.getLogger(f"ocframe.capture.{spec.agent}.{spec.name}")
        self.thread = threading.Thread(
            target=self._main, name=f"capture-{spec.agent}-{spec.name}", daemon=True
        )

    def _main(self) -> None:
        try:
            self._supervise()
        except Exception as exc:
            self.log.exception("input %s failed", self.spec.name)
            self.outcome.add_error(f"internal error: {exc!r}")
        finally:
            self.gate.release(self)
            try:
                self.run.input_done(self)
            finally:
                self.run.store.release_thread()  # this thread ends

    def _supervise(self) -> None:
        run = self.run
        launch = run.launch_at.get(self.spec.name)
        if launch is not None and run.stop_requested.wait(max(0.0, launch - time.time())):
            return  # stopped (the event was cancelled) before this input's turn
        if not self.gate.acquire(self, run.stop_requested, timeout=max(run.seconds_left(), 1.0)):
            self.outcome.add_error("device still busy with another capture")
            return
        restarts = 0
        first = True
        # Why the capture is being restarted; said in the history once the
        # next segment has really started (one that never starts is no segment).
        restart_cause: str | None = None
        failed_starts = 0
        while not run.stop_requested.is_set() and run.seconds_left() > 0:
            directory = run.directory / self.spec.name / f"segment-{self.segment:03d}"
            directory.mkdir(parents=True, exist_ok=True)
            ctx = CaptureContext(
                recording_id=run.recording_id,
                event=run.event,
                input=self.spec,
                directory=directory,
                segment=self.segment,
                scheduled_end=run.end,
                logger=self.log,
            )
            run.store.begin_segment(run.recording_id, self.spec.name, self.segment, directory)
            began = time.time()
            handle: CaptureHandle | None = None
            error: str | None = None
            ended_early = False
            first_start = first
            launched = time.time()
            try:
                if first:
                    self.driver.prepare(ctx)
                    launched = time.time()
                handle = self.driver.start(ctx)
                run.started_at.setdefault(self.spec.name, time.time())
                if restart_cause is not None:
                    retried = f" and {failed_starts} more failed attempts" if failed_starts else ""
                    run.store.set_state(run.recording_id, "capturing",
                                        f"{self.spec.name} restarting as segment {self.segment}"
                                        f" after: {restart_cause}{retried}")
                    restart_cause, failed_starts = None, 0
                run.bus.emit(
                    run.hooks.ocframe_capture_started, agent=self.spec.agent,
                    recording_id=run.recording_id, event=run.event,
                    input_name=self.spec.name, segment=self.segment,
                )
                ended_early = self._watch(handle)
            except CaptureError as exc:
                error = exc.reason
                self.outcome.permanent = exc.permanent
            first = False
            tracks: list[Track] = []
            if handle is not None:
                if not ended_early:
                    self._stop(handle)
                # Before the files are collected (a Pearl's download may take minutes).
                run.captured_seconds[(self.spec.name, self.segment)] = time.time() - began
                # Free the device before the (possibly slow) collection of files.
                self.gate.release(self)
                try:
                    tracks = handle.tracks()
                except CaptureError as exc:
                    error = error or exc.reason
            if ended_early and error is None and handle is not None:
                error = f"ended before the scheduled end: {handle.poll()}"
            origin = self._media_origin(handle)
            if origin is not None and handle is not None and first_start:
                # How long this input takes from launch to media, for the next lead.
                self._learn_latency(origin - launched)
            trim_to = (run.window_start if origin is not None and run.window_start is not None
                       and origin < run.window_start else None)
            run.store.end_segment(run.recording_id, self.spec.name, self.segment, tracks, error,
                                  media_origin=origin, trim_to=trim_to)
            run.bus.emit(
                run.hooks.ocframe_capture_stopped, agent=self.spec.agent,
                recording_id=run.recording_id,
                event=run.event, input_name=self.spec.name, segment=self.segment,
                tracks=tracks, error=error,
            )
            self.outcome.tracks.extend(tracks)
            if error:
                if self.outcome.add_error(error, self.segment):
                    self.log.warning("%s segment %d: %s", self.spec.name, self.segment, error)
                    run.note(f"{self.spec.name}: {error}")
                else:
                    self.log.info("%s segment %d: the same again (%d times)", self.spec.name,
                                  self.segment, self.outcome.failures[-1].count)
            if not error and not ended_early:
                return
            if self.outcome.permanent or restarts >= run.max_restarts:
                return
            restarts += 1
            if tracks:
                # A new segment only after one that produced files: failed
                # attempts reuse the number (and the empty directory).
                self.segment += 1
                restart_cause, failed_starts = error or "capture ended early", 0
            elif restart_cause is None:
                restart_cause = error or "capture ended early"
            else:
                failed_starts += 1
            # The first restart is immediate: every second of a lecture counts.
            backoff = 0.0 if restarts == 1 else min(RESTART_BACKOFF_MAX, 0.5 * 2 ** (restarts - 2))
            if run.stop_requested.wait(min(backoff, max(run.seconds_left(), 0))):
                return
            left = max(run.seconds_left(), 0.1)
            if not self.gate.acquire(self, run.stop_requested, timeout=left):
                return

    def _media_origin(self, handle: CaptureHandle | None) -> float | None:
        if handle is None:
            return None
        try:
            origin = handle.media_origin()
        except Exception:
            self.log.exception("%s: media_origin failed", self.spec.name)
            return None
        return float(origin) if origin is not None and math.isfinite(origin) else None

    def _learn_latency(self, seconds: float) -> None:
        # Readings outside this range are a clock step or a driver's mistake.
        if 0.0 <= seconds <= 120.0:
            try:
                LatencyRecord(self.run.store).add(self.spec.agent, self.spec.name, seconds)
            except Exception as exc:  # a full store costs the next lead, not this recording
                self.log.warning("%s: cannot remember its start-up time: %s", self.spec.name, exc)

    def _watch(self, handle: CaptureHandle) -> bool:
        """Wait for the stop request; True if the capture ended on its own."""
        while not self.run.stop_requested.wait(POLL_INTERVAL):
            if handle.poll() is not None:
                return True
            stall = self.run.stall_timeout
            if stall and handle.stalled_for() > stall:
                self.log.warning("%s: no progress for %.0f s, restarting the capture",
                                 self.spec.name, handle.stalled_for())
                self._stop(handle)
                return True
        return False

    def _stop(self, handle: CaptureHandle) -> None:
        try:
            handle.stop()
        except Exception:
            self.log.exception("%s: stop failed", self.spec.name)


class RecordingRun:
    """All inputs of one recording, from the scheduled start to the end."""

    def __init__(
        self,
        *,
        recording_id: str,
        event: Event,
        end: datetime,
        directory: Path,
        store: RecordingStore,
        bus: EventBus,
        hooks: Any,
        on_done: Callable[[RecordingRun], None],
        max_restarts: int,
        stall_timeout: float = 0.0,
    ) -> None:
        self.recording_id = recording_id
        self.event = event
        self.end = end
        self.directory = directory
        self.store = store
        self.bus = bus
        #: The plugin registry's hook relay (``hooks.ocframe_capture_started``).
        self.hooks = hooks
        self.on_done = on_done
        self.max_restarts = max_restarts
        self.stall_timeout = stall_timeout
        self.stop_requested = threading.Event()
        #: Per input, when to launch it (UNIX seconds); absent: at once.
        self.launch_at: dict[str, float] = {}
        #: Where the recording's window starts (UNIX seconds): media captured
        #: before it is trimmed at upload. None: nothing to trim.
        self.window_start: float | None = None
        #: When to tell the core ``capturing``; None once told (or never to).
        self.announce_at: datetime | None = None
        self.on_announce: Callable[[RecordingRun], None] | None = None
        self.inputs: list[InputCapture] = []
        self.started_at: dict[str, float] = {}
        #: (input, segment) -> seconds from its start to its stop, for the media check.
        self.captured_seconds: dict[tuple[str, int], float] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._remaining = 0

    def add_input(self, driver: Driver, spec: InputSpec, gate: DeviceGate, segment: int) -> None:
        self.inputs.append(InputCapture(self, driver, spec, gate, segment))

    def start(self) -> None:
        self._remaining = len(self.inputs)
        for ic in self.inputs:
            ic.thread.start()

    def seconds_left(self) -> float:
        return (self.end - datetime.now(UTC)).total_seconds()

    def set_end(self, end: datetime) -> None:
        self.end = end

    def request_stop(self) -> None:
        self.stop_requested.set()

    def announce(self) -> None:
        """The window has started: tell the core (once)."""
        self.announce_at = None
        if self.on_announce is not None:
            self.on_announce(self)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(text)

    def input_done(self, ic: InputCapture) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            self.on_done(self)

    def join(self, timeout: float | None = None) -> None:
        for ic in self.inputs:
            ic.thread.join(timeout)

    @property
    def tracks(self) -> list[Track]:
        return [t for ic in self.inputs for t in ic.outcome.tracks]

    @property
    def errors(self) -> list[str]:
        return [e for ic in self.inputs for e in ic.outcome.errors]

    @property
    def permanent_failure(self) -> bool:
        return bool(self.inputs) and all(
            ic.outcome.permanent and not ic.outcome.tracks for ic in self.inputs
        )

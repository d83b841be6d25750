"""The driver contract: how the kernel talks to capture hardware.

A driver *type* is a class registered under the ``ocframe.drivers`` entry
point group (name = the ``driver`` value in the config) or returned from the
``ocframe_driver_types`` hook. The kernel makes one instance per configured
input and keeps it for the life of that configuration. For each event the
kernel calls :meth:`Driver.prepare`, then :meth:`Driver.start`, which returns
a :class:`CaptureHandle` for that one capture; the kernel polls the handle,
stops it at the scheduled end and asks it for its tracks.

Threads: every method may be called from a kernel worker thread, never from
the scheduler's; ``start``/``stop`` should return within seconds, ``tracks``
may take long (a download from a device). One driver instance may have two
captures alive at once (back-to-back events: the previous one still
collecting its files while the next starts), so keep per-capture state in
the handle, not in the driver.

Compatibility: this contract is public API; see docs/plugin-api.md.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .errors import CaptureError
from .model import CaptureContext, CheckResult, InputSpec, Track
from .preview import Preview, PreviewFiles
from .process import ExitInfo, StopTimeouts, SupervisedProcess, relevant_lines


class DriverSettings(BaseModel):
    """Base of every driver's settings model: unknown keys are an error, so a
    typo in the config is reported instead of silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CaptureHandle(abc.ABC):
    """One running capture of one segment on one input."""

    @abc.abstractmethod
    def poll(self) -> str | None:
        """``None`` while capturing; otherwise why it ended on its own
        (e.g. ``"ffmpeg exited with 0: Connection reset"``). Called about
        once a second by the supervisor."""

    @abc.abstractmethod
    def stop(self) -> None:
        """End the capture gracefully so files are complete. Must return in
        bounded time (the kernel passes its timeouts to the driver's settings)."""

    @abc.abstractmethod
    def tracks(self) -> list[Track]:
        """The produced files, after :meth:`stop` or after :meth:`poll` said it
        ended. May download from a device. Raise :class:`CaptureError` if
        nothing usable was produced."""

    def stalled_for(self) -> float:
        """Seconds since the capture last showed progress (0 if unknown).
        The supervisor restarts a capture stalled longer than configured."""
        return 0.0

    def media_origin(self) -> float | None:
        """Where time zero of the files this capture writes lies on the wall
        clock (UNIX seconds), or ``None`` if the driver cannot tell (the
        default). Asked while the capture runs and after it ended, from the
        supervising thread.

        With it the kernel learns how long the input takes from launch to
        media (and pre-rolls it by as much next time), and trims a pre-rolled
        start to the scheduled one without re-encoding. Command drivers get
        it from ffmpeg's progress lines; a device that records on its own
        clock may answer from its recording's start time."""
        return None

    def preview(self) -> Preview | None:
        """The latest confidence preview (a still, an audio level) of this
        capture, or None if the driver offers none (the default). Called
        from status pages' threads every few seconds: return at once, from
        files or memory, never by asking the device. See :mod:`ocframe.preview`."""
        return None


class Driver(abc.ABC):
    """Base class of every driver. Subclasses set ``Settings`` and implement
    :meth:`start`; the rest has sensible defaults."""

    Settings: ClassVar[type[DriverSettings]] = DriverSettings
    #: Mime type of the produced files when a driver reports only one kind.
    mimetype: ClassVar[str] = "video/x-matroska"

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.settings = spec.settings
        self.log = logging.getLogger(f"ocframe.driver.{spec.driver}.{spec.agent}.{spec.name}")

    def capabilities(self) -> dict[str, str]:
        """Keys describing this input, *without* the ``capture.device.<input>.``
        prefix (the kernel adds it). Called at start, on reload and
        periodically, on a worker thread; keep it fast (cache probes)."""
        return {"flavor": self.spec.flavor, "driver": self.spec.driver}

    def check(self) -> list[CheckResult]:
        """Reachability for ``ocframe check`` (device present, stream answers,
        credentials accepted). May take a few seconds."""
        return [CheckResult("driver loaded", True, type(self).__name__)]

    def bytes_per_second(self) -> float | None:
        """Expected size of the recording per second, for the disk-space check
        before a recording; ``None`` if unknown (the configured default is used)."""
        return None

    def prepare(self, ctx: CaptureContext) -> None:  # noqa: B027 - optional hook
        """Before :meth:`start` (at the pre-roll): move a PTZ camera, check
        the device's disk. Raise :class:`CaptureError` to fail this input."""

    @abc.abstractmethod
    def start(self, ctx: CaptureContext) -> CaptureHandle:
        """Start capturing into ``ctx.directory``; return at once with a handle."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """The input was removed from the configuration or the agent stops."""


# ---------------------------------------------------------------------------
# The common case: a driver whose capture is one command-line process.


@dataclass(frozen=True)
class CommandOutput:
    """A file a capture command writes, with the flavor it will be ingested as."""

    path: Path
    flavor: str
    mimetype: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaptureCommand:
    """An argument list (``argv[0]`` is the program) and the files it writes.

    ``redact`` lists secrets that must never appear in logs (passwords in
    an RTSP URL, say).
    """

    argv: Sequence[str]
    outputs: Sequence[CommandOutput]
    redact: Sequence[str] = field(default_factory=tuple)
    quit_command: bytes | None = b"q"
    env: dict[str, str] | None = None
    #: Confidence preview files the command also writes
    #: (:func:`ocframe.preview.preview_args`), if any.
    preview: PreviewFiles | None = None


class CommandCapture(CaptureHandle):
    """Capture handle over a :class:`SupervisedProcess`."""

    def __init__(
        self, ctx: CaptureContext, command: CaptureCommand, timeouts: StopTimeouts
    ) -> None:
        self.ctx = ctx
        self.command = command
        self.timeouts = timeouts
        self.process = SupervisedProcess(
            command.argv,
            name=f"{ctx.input.name}-{ctx.segment}",
            logger=ctx.logger,
            cwd=ctx.directory,
            env=command.env,
            quit_command=command.quit_command,
            redact=command.redact,
        )
        self.exit: ExitInfo | None = None

    def begin(self) -> None:
        try:
            self.process.start()
        except OSError as exc:
            raise CaptureError(
                f"cannot start {self.command.argv[0]}: {exc}", permanent=True
            ) from exc

    def poll(self) -> str | None:
        code = self.process.poll()
        if code is None:
            return None
        self.exit = self.process.exit_info()
        return f"{self._program()} exited with {code}: {self._last_words()}"

    def stalled_for(self) -> float:
        return self.process.seconds_since_output()

    def output_sizes(self) -> tuple[int, ...]:
        """Bytes written so far to each output: growing while the program
        still writes, which lets a stop wait for a slow finish."""
        sizes = []
        for out in self.command.outputs:
            try:
                sizes.append(out.path.stat().st_size)
            except OSError:  # not created yet, or being replaced
                sizes.append(-1)
        return tuple(sizes)

    def media_origin(self) -> float | None:
        if self.command.preview is not None:
            # The preview's stills are time-stamped ahead, and ffmpeg's
            # progress line follows them: no reading of the recording's own
            # time. The input is then launched by the default lead, untrimmed.
            return None
        return self.process.media_origin()

    def preview(self) -> Preview | None:
        files = self.command.preview
        return files.read() if files is not None else None

    def stop(self) -> None:
        if self.exit is None:
            self.exit = self.process.stop(self.timeouts, progress=self.output_sizes)
            if self.exit.stopped_by in ("sigterm", "sigkill"):
                self.ctx.logger.warning(
                    "%s had to be stopped with %s; its files may lack trailers",
                    self.process.name,
                    self.exit.stopped_by.upper(),
                )

    def tracks(self) -> list[Track]:
        produced: list[Track] = []
        for out in self.command.outputs:
            if out.path.exists() and out.path.stat().st_size > 0:
                produced.append(
                    Track(
                        path=out.path,
                        flavor=out.flavor,
                        mimetype=out.mimetype,
                        tags=out.tags,
                        input=self.ctx.input.name,
                        segment=self.ctx.segment,
                    )
                )
        if not produced:
            raise CaptureError(self._no_media_reason())
        return produced

    def _no_media_reason(self) -> str:
        # Whether the program's death was seen by poll() or only by this
        # check depends on the machine's load: both must name the program and
        # its last words alike, or the same fault reads differently per run.
        info = self.exit
        if info is None:
            how = "wrote no media"
        elif info.stopped_by == "self":
            how = f"exited with {info.returncode} and wrote no media"
        else:
            how = f"wrote no media (stopped with {info.stopped_by.upper()}, exit {info.returncode})"
        return f"{self._program()} {how} for {self.process.name}: {self._last_words()}"

    def _program(self) -> str:
        return Path(self.command.argv[0]).name

    def _last_words(self) -> str:
        tail = self.exit.tail if self.exit else ()
        return " | ".join(relevant_lines(tail)) or "no output"


class CommandDriverSettings(DriverSettings):
    """Settings every command-line driver understands."""

    stop_quit_timeout: float = Field(
        5.0, description="seconds to wait after sending q before interrupting the program")
    stop_interrupt_timeout: float = Field(
        5.0, description="seconds to wait after SIGINT before SIGTERM")
    stop_finish_timeout: float = Field(
        30.0, description="after q and SIGINT, seconds more to wait while the program still"
        " writes its files (each interrupt window must see them grow), before SIGTERM")
    stop_terminate_timeout: float = Field(
        3.0, description="seconds to wait after SIGTERM before SIGKILL")


class CommandDriver(Driver):
    """A driver whose capture is one process. Implement :meth:`command`."""

    Settings: ClassVar[type[DriverSettings]] = CommandDriverSettings

    @abc.abstractmethod
    def command(self, ctx: CaptureContext) -> CaptureCommand:
        """The command that captures ``ctx`` into ``ctx.directory``."""

    def stop_timeouts(self) -> StopTimeouts:
        s = self.settings
        return StopTimeouts(
            quit=getattr(s, "stop_quit_timeout", 5.0),
            interrupt=getattr(s, "stop_interrupt_timeout", 5.0),
            finish=getattr(s, "stop_finish_timeout", 30.0),
            terminate=getattr(s, "stop_terminate_timeout", 3.0),
        )

    def make_handle(self, ctx: CaptureContext, command: CaptureCommand) -> CommandCapture:
        """The handle for one capture; override to watch progress differently
        (e.g. a growing file for programs that print nothing while recording)."""
        return CommandCapture(ctx, command, self.stop_timeouts())

    def start(self, ctx: CaptureContext) -> CaptureHandle:
        handle = self.make_handle(ctx, self.command(ctx))
        handle.begin()
        # A command that dies at once (bad device, bad option) is a failed
        # start, not a capture that ended early: say so with its last words.
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            if handle.process.poll() is not None:
                reason = handle.poll()
                raise CaptureError(f"capture failed to start: {reason}")
            time.sleep(0.05)
        return handle

__all__ = [
    "CaptureCommand",
    "CaptureHandle",
    "CommandCapture",
    "CommandDriver",
    "CommandDriverSettings",
    "CommandOutput",
    "Driver",
    "DriverSettings",
]

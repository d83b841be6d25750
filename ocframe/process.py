"""Supervision of capture child processes (ffmpeg, gst-launch, ...).

A capture process is started from an argument list (never a shell), in its
own process group so signals reach its children and a terminal Ctrl-C does
not, with stdin kept open so ffmpeg can be asked to finish with ``q``.
stderr is read continuously: a blocked pipe would freeze the child, and its
last lines are the best error message we will get.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE_SPLIT = re.compile(rb"[\r\n]+")
# ffmpeg's progress line: "... time=00:01:02.34 ..." (the media time written).
_MEDIA_TIME = re.compile(rb"\btime=\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
#: Progress lines that place the media on the wall clock (the median is used).
ORIGIN_SAMPLES = 31
_PR_SET_PDEATHSIG = 1


try:  # resolved at import: nothing may be imported between fork and exec
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGINT when the agent dies.

    A capture must not outlive a crashed agent (it would hold the device and
    record forever); SIGINT rather than SIGKILL so ffmpeg still writes its
    trailer and the recovered agent finds a complete file.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)


# ffmpeg's progress and end-of-run summary lines say nothing about a failure.
_PROGRESS = re.compile(
    r"^\s*(frame=|size=|Press \[q\])|\btime=\S+ bitrate=|"
    r"^(\[out#\d+\S* @ \S+\] )?video:\d+\S* audio:\d+")
_ADDRESS = re.compile(r" @ 0x[0-9a-fA-F]+\]")
# Words in the lines that say what went wrong.
_FAILURE = re.compile(
    r"error|fail|invalid|unrecogni[sz]ed|unknown|not found|no such|denied|refused|"
    r"unauthori[sz]ed|forbidden|reset|timed? ?out|unable|cannot|could not|no space|"
    r"not supported|unsupported|broken pipe|killed",
    re.IGNORECASE,
)


def relevant_lines(tail: Sequence[str], limit: int = 3) -> list[str]:
    """The lines of a program's last output that say what went wrong.

    The last line alone loses the cause when a program says it twice (ffmpeg:
    ``Unrecognized option 'bogus-option'.`` then ``Error splitting the
    argument list: Option not found``): the last ``limit`` lines that look
    like failures are kept, in order, without repeats and progress lines;
    without any, the last line that is not progress."""
    # ffmpeg's "[rtsp @ 0x55d9...]" addresses differ per run and mean nothing
    # to an operator; without them, a failure repeated by restarts reads alike.
    lines = [_ADDRESS.sub("]", ln.strip()) for ln in tail
             if ln.strip() and not _PROGRESS.search(ln)]
    failing = [ln for ln in lines if _FAILURE.search(ln)]
    chosen = failing or lines[-1:]
    unique: list[str] = []
    for line in chosen:
        if line in unique:
            unique.remove(line)  # the latest occurrence keeps its place
        unique.append(line)
    return unique[-limit:]


@dataclass(frozen=True)
class StopTimeouts:
    """How long each step of the stop escalation may take, in seconds."""

    quit: float = 5.0  # graceful: after ``q`` and SIGINT (quit + interrupt in all)
    interrupt: float = 5.0
    #: After quit + interrupt, the longest a stop keeps waiting for a process
    #: that is visibly still finishing (its output still growing): a second
    #: signal makes ffmpeg abandon its unwritten buffer and trailer, which cut
    #: files at exactly 1 MiB under load.
    finish: float = 30.0
    terminate: float = 3.0  # after SIGTERM; then SIGKILL


@dataclass(frozen=True)
class ExitInfo:
    """How a process ended: its code, the signal we had to use, its last lines."""

    returncode: int
    stopped_by: str  # "self" (ended on its own), "sigint" (graceful), "sigterm", "sigkill"
    tail: tuple[str, ...]


class SupervisedProcess:
    """A child process with a graceful, bounded stop and a stderr ring buffer."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        logger: logging.Logger | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        quit_command: bytes | None = b"q",
        tail_lines: int = 200,
        redact: Sequence[str] = (),
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.log = logger or logging.getLogger(f"ocframe.process.{name}")
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.quit_command = quit_command
        self._redact = [r for r in redact if r]
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._last_output = time.monotonic()
        self._stopped_by = "self"
        self._lock = threading.Lock()
        self.started_at: float | None = None
        #: Wall-clock time (``time.time()``) just before the process was started.
        self.launched_at: float | None = None
        self._origins: list[float] = []
        self._last_media_time: float | None = None
        self._stop_sent_at: float | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self.log.debug("starting %s: %s", self.name, self.redacted(" ".join(self.argv)))
        self.launched_at = time.time()
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        self.started_at = time.monotonic()
        self._last_output = self.started_at
        self._reader = threading.Thread(
            target=self._read_stderr, name=f"stderr-{self.name}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def poll(self) -> int | None:
        """The exit code, or ``None`` while running."""
        return self._proc.poll() if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def seconds_since_output(self) -> float:
        """Time since the child last wrote to stderr: ffmpeg's progress lines
        stop when its input stalls, which is how a hang is noticed."""
        return time.monotonic() - self._last_output

    def media_origin(self) -> float | None:
        """Where the media's time zero lies on the wall clock (UNIX seconds),
        from ffmpeg's progress lines (``time=``: the media time written by
        then); ``None`` before the first one or for programs that print none.

        Once the process ended on our ``q``/SIGINT: the moment we asked
        minus the media time of its last line (written after the encoder
        was flushed, so an encoder's delay does not count). Before, or after
        a crash: the median of the first lines, which a burst of buffered
        frames at the start does not move (an encoder's delay does, making
        the origin later: the trim then keeps more, never less)."""
        with self._lock:
            samples = sorted(self._origins)
            last, asked = self._last_media_time, self._stop_sent_at
        if (asked is not None and last is not None and self._stopped_by == "sigint"
                and self.poll() is not None):
            return asked - last
        return samples[len(samples) // 2] if samples else None

    def tail(self, n: int = 20) -> list[str]:
        with self._lock:
            return list(self._tail)[-n:]

    def stop(self, timeouts: StopTimeouts | None = None,
             progress: Callable[[], object] | None = None) -> ExitInfo:
        """End the process gracefully: ``q`` on stdin together with one SIGINT
        (ffmpeg reads stdin only every 100 ms but acts on SIGINT at once; both
        make it finish its file), then SIGTERM, then SIGKILL.

        ``progress`` returns something that changes while the process is
        still doing useful work (the size of its output files): while it keeps
        changing, the graceful wait goes on, up to ``timeouts.finish`` more
        seconds. Each step is bounded, so this returns within the sum of the
        timeouts (plus a moment) whatever the child does.
        """
        t = timeouts or StopTimeouts()
        proc = self._proc
        if proc is None:
            return ExitInfo(-1, "self", ())
        if proc.poll() is None:
            self._stop_sent_at = time.time()
            if self.quit_command is not None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(self.quit_command)
                    proc.stdin.flush()
                except OSError:
                    pass  # the child closed stdin or died; the signals handle it
            self._signal(signal.SIGINT)
            if self._wait(t.quit + t.interrupt) or self._wait_while_finishing(t, progress):
                self._stopped_by = "sigint"
        for step, sig, timeout in (
            ("sigterm", signal.SIGTERM, t.terminate),
            ("sigkill", signal.SIGKILL, 10.0),
        ):
            if proc.poll() is not None:
                break
            self.log.warning("%s ignored q and SIGINT, sending %s", self.name, step.upper())
            self._signal(sig)
            if self._wait(timeout):
                self._stopped_by = step
        return self.exit_info()

    def exit_info(self) -> ExitInfo:
        proc = self._proc
        code = proc.poll() if proc else -1
        if self._reader is not None:
            self._reader.join(timeout=2.0)
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        return ExitInfo(code if code is not None else -1, self._stopped_by, tuple(self.tail()))

    def kill(self) -> None:
        """Immediate SIGKILL of the whole group (shutdown paths only)."""
        self._signal(signal.SIGKILL)

    # -- internals ---------------------------------------------------------
    def _wait_while_finishing(self, t: StopTimeouts, progress: Callable[[], object] | None) -> bool:
        """After the graceful wait: go on waiting while ``progress`` changes
        within each ``interrupt`` window, at most ``finish`` seconds; True if
        the process ended."""
        if progress is None or t.finish <= 0:
            return False
        deadline = time.monotonic() + t.finish
        window = max(t.interrupt, 0.5)
        last = progress()
        changed = time.monotonic()
        while time.monotonic() < deadline:
            if self._wait(min(0.25, max(deadline - time.monotonic(), 0.0))):
                return True
            now = progress()
            if now != last:
                last, changed = now, time.monotonic()
            elif time.monotonic() - changed >= window:
                return False
        return self._proc is not None and self._proc.poll() is not None

    def _wait(self, timeout: float) -> bool:
        assert self._proc is not None
        try:
            self._proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        pending = b""
        stream = self._proc.stderr
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            self._last_output = time.monotonic()
            wall = time.time()
            pending += chunk
            parts = _LINE_SPLIT.split(pending)
            pending = parts.pop()
            with self._lock:
                for raw in parts:
                    if m := _MEDIA_TIME.search(raw):
                        h, mi, sec = m.groups()
                        self._last_media_time = int(h) * 3600 + int(mi) * 60 + float(sec)
                        if len(self._origins) < ORIGIN_SAMPLES:
                            self._origins.append(wall - self._last_media_time)
                    if raw:
                        self._tail.append(self.redacted(raw.decode("utf-8", "replace")))
        if pending:
            with self._lock:
                self._tail.append(self.redacted(pending.decode("utf-8", "replace")))

    def redacted(self, text: str) -> str:
        """``text`` with every configured secret replaced by ``***``."""
        for secret in self._redact:
            text = text.replace(secret, "***")
        return text

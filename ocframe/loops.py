"""Supervised loops: every long-lived thread of the kernel is one.

A loop calls its ``step`` again and again on its own thread; ``step`` does
one round of work and its own waiting (on a condition, a queue, a stop
event). An exception that escapes a round never ends the loop: it is logged
once per distinct error (later repeats are only counted), the loop backs off
(bounded, doubling) and tries again. Every round that completes is noted, so
the process can tell a loop that turns from one that hangs or keeps failing.

``LoopSet.alive()`` is what the systemd watchdog asks: the process is alive
while no loop hangs (a round or a :meth:`SupervisedLoop.beat` within the
loop's ``stall_after``). A loop that keeps *failing* but turns is reported by
``health()`` and in the log, and does not starve the watchdog: a restart
cannot cure an error that recurs every round, and it would cut every running
recording into a new segment.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger("ocframe.loops")

#: Distinct errors remembered per loop (beyond this, new ones are still logged).
MAX_DISTINCT_ERRORS = 64


@dataclass(frozen=True)
class LoopHealth:
    """One loop's health, as ``ocframe check``, the logs and status pages show it."""

    name: str
    #: ``ok``, ``failing`` (its last round raised), ``stalled`` (no round or
    #: beat within its bound), ``dead`` (its thread ended unasked),
    #: ``starting`` or ``stopped``.
    state: str
    #: Wall-clock time (epoch seconds) of the last completed round, or None.
    last_round: float | None
    #: ``ExceptionType: message`` of the last unexpected error, or None.
    last_error: str | None
    #: Rounds failed in a row (0 once a round completes).
    failures: int
    #: Unexpected errors since the loop started.
    errors_total: int

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "state": self.state, "last_round": self.last_round,
            "last_error": self.last_error, "failures": self.failures,
            "errors_total": self.errors_total,
        }


class Liveness:
    """The answer of :meth:`LoopSet.alive`: true while no loop hangs.

    ``stalled`` names the loops that hang (the watchdog then starves and
    systemd restarts the process); ``failing`` names the loops whose last
    round raised (they keep retrying; see the module docstring).
    """

    def __init__(self, stalled: list[str], failing: list[str]) -> None:
        self.stalled = stalled
        self.failing = failing

    def __bool__(self) -> bool:
        return not self.stalled

    def __repr__(self) -> str:
        return f"Liveness(stalled={self.stalled!r}, failing={self.failing!r})"


class SupervisedLoop:
    """One long-lived thread running ``step`` until stopped.

    ``wake`` interrupts whatever ``step`` waits on, so :meth:`stop` is
    prompt; ``stall_after`` is the longest a healthy round may take (waiting
    included). Long rounds (an upload) call :meth:`beat` to show progress.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        *,
        stall_after: float,
        wake: Callable[[], None] | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self._step = step
        self._wake = wake
        self.stall_after = stall_after
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.log = logger or log
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._last_round: float | None = None
        self._last_progress = time.monotonic()
        self._last_error: str | None = None
        self._failures = 0
        self._errors_total = 0
        self._seen: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- control -------------------------------------------------------------
    def start(self) -> None:
        self._started = True
        self._last_progress = time.monotonic()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self._wake:
            self._wake()
        if self._started and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def beat(self) -> None:
        """A long round shows it is making progress."""
        self._last_progress = time.monotonic()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    # -- the loop --------------------------------------------------------------
    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._step()
            except Exception as exc:
                delay = self._failed(exc)
                self.stopping.wait(delay)
                continue
            self._completed()

    def _completed(self) -> None:
        with self._lock:
            self._last_round = time.time()
            self._last_progress = time.monotonic()
            recovered, self._failures = self._failures, 0
        if recovered:
            self.log.info("%s: running again after %d failed round(s)", self.name, recovered)

    def _failed(self, exc: Exception) -> float:
        key = f"{type(exc).__name__}: {exc}"[:500]
        with self._lock:
            self._failures += 1
            self._errors_total += 1
            self._last_error = key
            self._last_progress = time.monotonic()  # failing, but turning
            seen = self._seen.get(key, 0)
            if seen or len(self._seen) < MAX_DISTINCT_ERRORS:
                self._seen[key] = seen + 1
            failures = self._failures
        if not seen:
            # Once per distinct error, with where it came from; repeats are
            # only counted (health() shows the count), so a loop failing every
            # second cannot flood the log.
            self.log.error("%s: unexpected error (the loop goes on): %s\n%s", self.name, key,
                           "".join(traceback.format_exception(exc)).rstrip())
        return min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1))

    # -- health ------------------------------------------------------------------
    def health(self, now: float | None = None) -> LoopHealth:
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self._started:
                state = "starting"
            elif self.stopping.is_set():
                state = "stopped"
            elif not self._thread.is_alive():
                state = "dead"
            elif now - self._last_progress > self.stall_after:
                state = "stalled"
            elif self._failures:
                state = "failing"
            else:
                state = "ok"
            return LoopHealth(self.name, state, self._last_round, self._last_error,
                              self._failures, self._errors_total)

    def error_counts(self) -> dict[str, int]:
        """How often each distinct error happened."""
        with self._lock:
            return dict(self._seen)


class LoopSet:
    """The loops of one process, for ``alive()`` and ``health()``."""

    def __init__(self) -> None:
        self._loops: dict[str, SupervisedLoop] = {}
        self._lock = threading.Lock()

    def add(self, loop: SupervisedLoop) -> SupervisedLoop:
        with self._lock:
            self._loops[loop.name] = loop
        return loop

    def remove(self, loop: SupervisedLoop) -> None:
        with self._lock:
            if self._loops.get(loop.name) is loop:
                del self._loops[loop.name]

    def __iter__(self) -> Iterator[SupervisedLoop]:
        with self._lock:
            return iter(sorted(self._loops.values(), key=lambda lp: lp.name))

    def health(self) -> list[LoopHealth]:
        now = time.monotonic()
        with self._lock:
            loops = sorted(self._loops.values(), key=lambda lp: lp.name)
        return [lp.health(now) for lp in loops]

    def alive(self) -> Liveness:
        states = self.health()
        return Liveness([h.name for h in states if h.state in ("stalled", "dead")],
                        [h.name for h in states if h.state == "failing"])

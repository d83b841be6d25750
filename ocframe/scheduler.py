"""The scheduler: owns the clock and only dispatches.

One thread per agent compares the wall clock (events are in UTC, and NTP
may step the clock) with the schedule and tells the runtime to start or
stop recordings. It never waits on the network, a calendar parse or an
upload: those live on other threads and hand it finished schedules.

Overlap rule (documented in docs/recording.md): a recording that is
running keeps running to its end; an event that starts while another one
of the same agent is still recording waits and starts when that one stops,
for the rest of its own time. Back-to-back events (end = next start) both
record: the first is stopped, then the second is started in the same tick.

A recording may be launched before its window (``begin_at``: the learnt
lead of its inputs, see :mod:`ocframe.launches`); the core hears
``capturing`` when the window starts, not at the launch. A launch ahead of
the window never cuts a running recording short: the next event then starts
as a back-to-back one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Protocol

from .loops import SupervisedLoop
from .model import Event, printable

log = logging.getLogger("ocframe.scheduler")

MAX_SLEEP = 1.0


class ActiveRun(Protocol):
    event: Event
    stop_requested: threading.Event
    #: When to tell the core ``capturing`` (the window's start); None: told.
    announce_at: datetime | None

    def set_end(self, end: datetime) -> None: ...

    def request_stop(self) -> None: ...

    def announce(self) -> None: ...


class Scheduler:
    def __init__(
        self,
        agent: str,
        *,
        start: Callable[[Event], ActiveRun | None],
        is_handled: Callable[[str], bool],
        preroll: float,
        postroll: float,
        on_tick: Callable[[], None] | None = None,
        begin_at: Callable[[Event], datetime] | None = None,
        max_lead: float = 0.0,
    ) -> None:
        self.agent = agent
        self._start = start
        self._is_handled = is_handled
        self.preroll = timedelta(seconds=preroll)
        self.postroll = timedelta(seconds=postroll)
        #: When an event's recording is launched (default: the window's start).
        self._begin_at = begin_at or (lambda ev: ev.start - self.preroll)
        #: No event is launched earlier than this before its window.
        self.max_lead = timedelta(seconds=max_lead)
        self._on_tick = on_tick
        self._events: list[Event] = []
        self._runs: dict[str, ActiveRun] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._waiting_reported: set[str] = set()
        self._warned: set[str] = set()
        # A failing tick is retried within a second: the clock must go on.
        self.loop = SupervisedLoop(f"scheduler-{agent}", self._round, stall_after=10.0,
                                   wake=self.wake, backoff_initial=0.25, backoff_max=MAX_SLEEP,
                                   logger=log)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.loop.stop(5)

    @property
    def runs(self) -> Mapping[str, ActiveRun]:
        """The recordings this scheduler started or adopted and that have not
        finished (a read-only snapshot)."""
        with self._cond:
            return MappingProxyType(dict(self._runs))

    def adopt(self, recording_id: str, run: ActiveRun) -> None:
        """Take charge of a run started elsewhere (a recording continued after
        a restart) or just now by ``start``, before the state is computed."""
        with self._cond:
            self._runs[recording_id] = run
            self._cond.notify_all()

    def set_events(self, events: list[Event]) -> None:
        with self._cond:
            self._events = sorted(events, key=lambda e: (e.start, e.uid))
            self._cond.notify_all()

    def set_rolls(self, preroll: float, postroll: float, max_lead: float | None = None) -> None:
        with self._cond:
            self.preroll = timedelta(seconds=preroll)
            self.postroll = timedelta(seconds=postroll)
            if max_lead is not None:
                self.max_lead = timedelta(seconds=max_lead)
            self._cond.notify_all()

    def events(self) -> list[Event]:
        with self._cond:
            return list(self._events)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def run_finished(self, recording_id: str) -> None:
        with self._cond:
            self._runs.pop(recording_id, None)
            self._cond.notify_all()

    def _round(self) -> None:
        with self._cond:
            if self._stopping:
                return
            delay = self._tick(datetime.now(UTC))
            self._cond.wait(timeout=max(0.0, min(delay, MAX_SLEEP)))
        if self._on_tick:
            self._on_tick()

    def _tick(self, now: datetime) -> float:
        """One pass; returns seconds until something is due."""
        events = {e.uid: e for e in self._events}
        next_due = MAX_SLEEP
        # Stops first, so a back-to-back successor can start in this same tick.
        for rid, run in list(self._runs.items()):
            ev = events.get(rid)
            if ev is not None and ev.start >= run.event.end:
                # Moved to another slot while recording: following it would
                # hold the room (and block every event) until the new end.
                # Like a deleted event, the recording keeps its own end.
                self._warn_once(ev, f"moved to {ev.start.isoformat()} while recording; this"
                                    f" recording ends at {run.event.end.isoformat()} as"
                                    " scheduled, and the event is not recorded again")
                ev = None
            if ev is not None and ev.end != run.event.end:
                log.info("%s: %s now ends at %s", self.agent, rid, ev.end.isoformat())
                run.set_end(ev.end + self.postroll)
                run.event = ev
            stop_at = (ev or run.event).end + self.postroll
            if not run.stop_requested.is_set():
                if now >= stop_at:
                    run.request_stop()
                else:
                    next_due = min(next_due, (stop_at - now).total_seconds())
            if run.announce_at is not None:
                if now >= run.announce_at:
                    run.announce()
                else:
                    next_due = min(next_due, (run.announce_at - now).total_seconds())
        busy = [r for r in self._runs.values() if not r.stop_requested.is_set()]
        for ev in self._events:
            try:
                window = ev.start - self.preroll
                end = ev.end + self.postroll
                if now < window - self.max_lead:
                    next_due = min(next_due, (window - self.max_lead - now).total_seconds())
                    break  # sorted by start: the later ones are not due either
                if ev.uid in self._runs or now >= end:
                    continue
                begin = min(self._begin_at(ev), window)
            except (OverflowError, ValueError, OSError):
                self._warn_once(ev, "its dates cannot take the pre-/post-roll")
                continue
            if now < begin:
                next_due = min(next_due, (begin - now).total_seconds())
                continue
            if self._is_handled(ev.uid):
                continue
            if busy and now < window:
                # Launched early while the previous recording runs: it waits,
                # silently, and starts back to back when that one stops.
                continue
            if busy:
                if ev.uid not in self._waiting_reported:
                    self._waiting_reported.add(ev.uid)
                    log.warning(
                        "%s: event %s overlaps recording %s; it starts when that one ends",
                        self.agent, printable(ev.uid), printable(busy[0].event.uid),
                    )
                continue
            try:
                run = self._start(ev)
            except Exception as exc:
                # This event's start failed (a full disk, a directory that
                # cannot be made): the others must still start on time. A
                # later tick tries again unless the store already holds it.
                self._warn_once(ev, f"cannot start: {type(exc).__name__}: {exc}")
                next_due = min(next_due, MAX_SLEEP)
                continue
            if run is not None:
                self._runs[ev.uid] = run
                busy.append(run)
        return next_due

    def _warn_once(self, ev: Event, problem: str) -> None:
        key = f"{ev.uid}\0{problem}"
        if key not in self._warned:
            self._warned.add(key)
            log.error("%s: event %s %s", self.agent, printable(ev.uid), problem)

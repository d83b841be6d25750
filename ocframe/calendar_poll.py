"""Calendar polling: one agent's schedule, from the core to the scheduler.

Each round asks the core for the agent's calendar (absolute ``cutoff``,
ETag kept verbatim so an unchanged calendar is a 304 with no parse), parses
only the events that changed, saves the calendar as the core sent it in the
schedule cache, and hands the events to the scheduler. A core that cannot
be reached or answers nonsense keeps the previous schedule, logged once per
outage; anything else is the supervised loop's to log and retry.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from .config import CalendarConfig
from .errors import CoreError
from .loops import SupervisedLoop
from .model import Event, printable
from .opencast.calendar import CalendarError, CalendarParser
from .opencast.client import OpencastClient
from .schedule import ScheduleCache


class CalendarPoller:
    def __init__(self, agent: str, client: OpencastClient, cache: ScheduleCache,
                 config: CalendarConfig, on_events: Callable[[list[Event]], None],
                 stall_after: float) -> None:
        self.agent = agent
        self.client = client
        self.cache = cache
        self.config = config
        self._on_events = on_events
        self.log = logging.getLogger(f"ocframe.agent.{agent}")
        self._etag: str | None = None
        #: Wall-clock time the core last answered a calendar request (status pages).
        self.last_sync: float | None = None
        self._failing = False
        self._clamped: set[str] = set()
        # Remembers this agent's last calendar: only changed events are re-parsed.
        self._parser = CalendarParser()
        self._wake = threading.Event()
        self.loop = SupervisedLoop(f"calendar-{agent}", self._round,
                                   stall_after=config.poll_interval + stall_after,
                                   wake=self._wake.set, logger=self.log)

    def load_cached(self) -> list[Event]:
        """The schedule saved by the last run (the core may be down now)."""
        events, self._etag = self.cache.load(self.agent)
        events = self._sane(events)
        if events:
            self.log.info("loaded %d cached event(s)", len(events))
        return events

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def wake(self) -> None:
        """Poll now (a reloaded configuration)."""
        self._wake.set()

    def _round(self) -> None:
        self.poll()
        self._wake.wait(self.config.poll_interval)
        self._wake.clear()

    def poll(self) -> None:
        cutoff = int((time.time() + self.config.lookahead) * 1000)
        try:
            resp = self.client.fetch_calendar(self.agent, cutoff, self._etag,
                                              max_bytes=self.config.max_mib << 20)
            if resp.status == 304:
                self._answered()
                return
            events = self._parser.parse(resp.body or b"")
        except (CalendarError, CoreError) as exc:
            if not self._failing:
                self.log.error("calendar: %s; keeping the previous schedule", exc.reason)
            self._failing = True
            return
        # The scheduler first: a cache that cannot be written (a full disk)
        # must not keep a good schedule from being recorded. The ETag only
        # once both are done, or the next 304 would hide what was not saved.
        self._on_events(self._sane(events))
        self.cache.save(self.agent, events, resp.etag, body=resp.body)
        self._etag = resp.etag
        self._answered()
        self.log.info("calendar: %d event(s)", len(events))

    def _sane(self, events: list[Event]) -> list[Event]:
        """Events cut to the configured maximum length (warned once each)."""
        longest = timedelta(hours=self.config.max_event_hours)
        out = []
        for event in events:
            if event.end - event.start > longest:
                if event.uid not in self._clamped:
                    self.log.warning(
                        "event %s (%s) lasts %s, longer than calendar.max_event_hours = %g:"
                        " recording only its first %g hours", printable(event.uid),
                        printable(event.title), event.end - event.start,
                        self.config.max_event_hours, self.config.max_event_hours)
                    self._clamped.add(event.uid)
                event = dataclasses.replace(event, end=event.start + longest)
            out.append(event)
        return out

    def _answered(self) -> None:
        self.last_sync = time.time()
        if self._failing:
            self.log.info("calendar: the core answers again")
        self._failing = False

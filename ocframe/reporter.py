"""Telling the core what the agent is doing: agent state (on change and as a
heartbeat), recording states (on change and regularly while capturing), and
capabilities (at start, on change, and periodically, but never more often
than configured when unchanged).

Runs on its own thread per agent with a bounded queue, so a slow or absent
core delays only these posts, never a capture.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .errors import AuthError, CoreError
from .loops import SupervisedLoop
from .opencast.client import OpencastClient

log = logging.getLogger("ocframe.reporter")

#: Seconds between repeats of the same authentication failure in the log.
AUTH_REMINDER = 600.0


class CoreReporter:
    def __init__(
        self,
        agent: str,
        client: OpencastClient,
        *,
        agent_state: Callable[[], str],
        active_recordings: Callable[[], dict[str, str]],
        capabilities: Callable[[], dict[str, str]],
        heartbeat_interval: float,
        capabilities_interval: float,
        capabilities_format: str,
        address: str | None,
        stall_after: float = 300.0,
    ) -> None:
        self.agent = agent
        self.client = client
        self._agent_state = agent_state
        self._active = active_recordings
        self._capabilities = capabilities
        self.heartbeat_interval = heartbeat_interval
        self.capabilities_interval = capabilities_interval
        self.capabilities_format = capabilities_format
        self.address = address
        # Every transition is sent, in order: the core's history should show
        # capture_finished and uploading, not only the latest state.
        self._pending_recordings: list[tuple[str, str]] = []
        # Recordings the core answered 404 for (not a scheduled event, e.g. an
        # unscheduled one): their states go on change only, not every heartbeat.
        self._unknown_recordings: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._last_agent_state: str | None = None
        self._last_heartbeat = 0.0
        self._last_caps: dict[str, str] | None = None
        self._last_caps_post = 0.0
        self._caps_dirty = True
        self._failing = False
        self._last_error: str | None = None
        #: Wall-clock time of the last round the core answered in full, and the
        #: reason of the current outage (status pages).
        self.last_contact: float | None = None
        self.contact_error: str | None = None
        self._last_error_logged = 0.0
        # A round may wait for a few slow posts; the bound is the caller's.
        self.loop = SupervisedLoop(f"reporter-{agent}", self._round, stall_after=stall_after,
                                   wake=self._wake.set, logger=log)

    def start(self) -> None:
        self.loop.start()

    def stop(self, final_state: str | None = None, timeout: float = 5.0) -> None:
        self.loop.stop(timeout)
        if final_state:
            try:
                self.client.set_agent_state(self.agent, final_state, self.address)
            except CoreError as exc:
                log.warning("%s: could not send final state %s: %s", self.agent, final_state,
                            exc.reason)

    # -- requests from other threads -----------------------------------------
    def recording_state(self, recording_id: str, state: str) -> None:
        with self._lock:
            item = (recording_id, state)
            if not self._pending_recordings or self._pending_recordings[-1] != item:
                self._pending_recordings.append(item)
        self._wake.set()

    def agent_state_changed(self) -> None:
        self._wake.set()

    def capabilities_changed(self) -> None:
        self._caps_dirty = True
        self._wake.set()

    # -- the loop ----------------------------------------------------------
    def _round(self) -> None:
        try:
            self._tick()
            if self._failing:
                log.info("%s: the core answers again", self.agent)
            self._failing = False
            self._last_error = None
            self.last_contact, self.contact_error = time.time(), None
        except CoreError as exc:
            # One line per outage, not one per attempt; again for a
            # different kind of failure, and for a lasting auth failure
            # every AUTH_REMINDER seconds.
            now = time.monotonic()
            kind = f"{type(exc).__name__}:{exc.status}"
            if (not self._failing or kind != self._last_error
                    or (isinstance(exc, AuthError)
                        and now - self._last_error_logged >= AUTH_REMINDER)):
                log.error("%s: cannot report to the core: %s", self.agent, exc.reason)
                self._last_error, self._last_error_logged = kind, now
            self._failing = True
            self.contact_error = exc.reason
        self._wake.wait(timeout=5.0 if self._failing else 1.0)
        self._wake.clear()

    def _tick(self) -> None:
        now = time.monotonic()
        state = self._agent_state()
        if state != self._last_agent_state or now - self._last_heartbeat >= self.heartbeat_interval:
            self.client.set_agent_state(self.agent, state, self.address)
            self._last_agent_state = state
            heartbeat_due = now - self._last_heartbeat >= self.heartbeat_interval
            self._last_heartbeat = now
            if heartbeat_due:
                # The core wants recording states regularly during a recording.
                for rid, rstate in self._active().items():
                    with self._lock:
                        if (rid not in self._unknown_recordings
                                and (rid, rstate) not in self._pending_recordings):
                            self._pending_recordings.append((rid, rstate))
        while True:
            with self._lock:
                if not self._pending_recordings:
                    break
                rid, rstate = self._pending_recordings[0]
            known = self.client.set_recording_state(rid, rstate)
            if known:
                self._unknown_recordings.discard(rid)
            elif rid not in self._unknown_recordings:
                self._unknown_recordings.add(rid)
                log.warning("%s: the core does not know recording %s (404: not a scheduled"
                            " event); its states are sent on change only", self.agent, rid)
            with self._lock:
                self._pending_recordings.pop(0)
        caps_due = now - self._last_caps_post >= self.capabilities_interval
        if self._caps_dirty or caps_due:
            caps = self._capabilities()
            # Unchanged capabilities are re-sent only at the interval (the
            # core may have been reset), never on every change signal.
            if caps != self._last_caps or caps_due:
                self.client.set_capabilities(self.agent, caps, self.capabilities_format)
                self._last_caps = caps
                self._last_caps_post = now
            self._caps_dirty = False

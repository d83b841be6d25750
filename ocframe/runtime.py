"""One capture agent (room): the wiring between its stations.

Calendar polling (:mod:`.calendar_poll`) hands events to the scheduler
(:mod:`.scheduler`), which starts recordings (:mod:`.recordings`) with the
agent's inputs (:mod:`.inputs`); the reporter (:mod:`.reporter`) tells the
core what happens. This module only connects them and computes the agent's
state; crash recovery is :mod:`.recovery`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .calendar_poll import CalendarPoller
from .config import AgentConfig
from .disk import DiskMonitor
from .events import EventBus
from .inputs import InputSet
from .launches import AgentLaunches, LatencyRecord, LaunchPlanner
from .loops import LoopSet, SupervisedLoop
from .model import AgentState, RecordingState, StateChange
from .opencast.client import OpencastClient
from .plugins import PluginRegistry
from .recordings import AgentRecordings, RecordingParts
from .recovery import OrphanRecovery, recover
from .reporter import CoreReporter
from .schedule import ScheduleCache
from .scheduler import Scheduler
from .store import RecordingStore
from .uploader import IngestQueue


@dataclass
class SharedParts:
    """What all agents of one process share."""

    plugins: PluginRegistry
    tools: dict[str, str]
    store: RecordingStore
    schedule_cache: ScheduleCache
    client: OpencastClient
    bus: EventBus
    ingest: IngestQueue
    disk: DiskMonitor
    loops: LoopSet
    storage: Path
    #: Seconds a single request to the core may take (bounds the loops' rounds).
    core_timeout: float
    #: Spreads the capture launches of all agents (see :mod:`.launches`).
    launches: LaunchPlanner = field(default_factory=LaunchPlanner)


class AgentRuntime:
    def __init__(self, shared: SharedParts, config: AgentConfig) -> None:
        self.shared = shared
        self.config = config
        self.name = config.name
        self.log = logging.getLogger(f"ocframe.agent.{self.name}")
        self._state: str | None = None
        self._state_lock = threading.Lock()
        self.inputs = InputSet(self.name, shared.plugins, shared.tools)
        self.inputs.configure(config)
        self.launches = AgentLaunches(self.name, config, shared.launches,
                                      LatencyRecord(shared.store), self.inputs)
        self.scheduler = Scheduler(
            self.name, start=lambda event: self.recordings.begin(event),
            is_handled=lambda uid: shared.store.get(uid) is not None,
            preroll=config.preroll, postroll=config.postroll,
            on_tick=lambda: self.orphans(), begin_at=self.launches.begin_at,
            max_lead=self.launches.max_lead())
        # Bounds of a round: a few posts (reporter), a large calendar on a slow
        # link (calendar); beyond them a loop counts as hung.
        self.reporter = CoreReporter(
            self.name, shared.client, agent_state=self.agent_state,
            active_recordings=lambda: {
                rid: RecordingState.CAPTURING.value
                for rid, run in self.scheduler.runs.items() if run.announce_at is None},
            capabilities=self.capabilities, heartbeat_interval=config.heartbeat_interval,
            capabilities_interval=config.capabilities_interval,
            capabilities_format=config.capabilities_format, address=config.address,
            stall_after=60.0 + 8 * shared.core_timeout)
        self.calendar = CalendarPoller(
            self.name, shared.client, shared.schedule_cache, config.calendar,
            on_events=self.scheduler.set_events, stall_after=600.0 + 2 * shared.core_timeout)
        self.recordings = AgentRecordings(config, RecordingParts(
            launch_plan=self.launches.plan,
            store=shared.store, bus=shared.bus, hooks=shared.plugins.hook, inputs=self.inputs,
            disk=shared.disk, scheduler=self.scheduler, reporter=self.reporter,
            storage=shared.storage, set_state=self.set_recording_state,
            state_changed=self.state_changed, wake_ingest=shared.ingest.wake))
        self.orphans = OrphanRecovery(self.recordings, shared.store, lambda: self.inputs.specs,
                                      self.scheduler)

    @property
    def loops(self) -> list[SupervisedLoop]:
        return [self.scheduler.loop, self.reporter.loop, self.calendar.loop]

    def apply_config(self, config: AgentConfig) -> None:
        """A reloaded configuration: drivers for the next recording, ingest
        settings for the next upload, capabilities re-sent at once."""
        self.inputs.configure(config)
        self.config = self.recordings.config = config
        self.launches.configure(config)
        self.scheduler.set_rolls(config.preroll, config.postroll, self.launches.max_lead())
        self.calendar.config = config.calendar
        r = self.reporter
        r.heartbeat_interval = config.heartbeat_interval
        r.capabilities_interval = config.capabilities_interval
        r.capabilities_format = config.capabilities_format
        r.address = config.address
        self.recordings.permanent_error = None
        self.state_changed()
        r.capabilities_changed()
        self.calendar.wake()

    def start(self) -> None:
        self.scheduler.set_events(self.calendar.load_cached())
        recover(self.recordings, self.shared.store, self.inputs.specs, self.scheduler.events())
        for loop in self.loops:
            self.shared.loops.add(loop)
        self.scheduler.start()
        self.reporter.start()
        self.calendar.start()

    def stop(self) -> None:
        self.calendar.stop()
        self.scheduler.stop()
        runs = list(self.scheduler.runs.values())
        for run in runs:
            run.request_stop()  # graceful: files get their trailers
        for run in runs:
            run.join(timeout=30)  # type: ignore[attr-defined]
        self.reporter.stop(final_state=AgentState.SHUTTING_DOWN.value)
        for loop in self.loops:
            self.shared.loops.remove(loop)
        self.inputs.close()

    # -- states ------------------------------------------------------------------
    def agent_state(self) -> str:
        if self.recordings.permanent_error:
            return AgentState.ERROR.value
        if any(not r.stop_requested.is_set() for r in self.scheduler.runs.values()):
            return AgentState.CAPTURING.value
        if self.shared.ingest.uploading_for(self.name):
            return AgentState.UPLOADING.value
        return AgentState.IDLE.value

    def state_changed(self) -> None:
        state = self.agent_state()
        with self._state_lock:
            old, self._state = self._state, state
        if old != state:
            self._emit(old, state, None, "")
        self.reporter.agent_state_changed()

    def set_recording_state(self, rid: str, state: str, detail: str = "",
                            error: str | None = None) -> None:
        """Store first, then report: the store is the truth."""
        rec = self.shared.store.get(rid)
        self.shared.store.set_state(rid, state, detail, error)
        self._emit(rec.state if rec else None, state, rid, detail)
        self.reporter.recording_state(rid, state)

    def _emit(self, old: str | None, new: str, rid: str | None, detail: str) -> None:
        self.shared.bus.emit(self.shared.plugins.hook.ocframe_state_change,
                             change=StateChange(self.name, old, new, rid, detail, time.time()))

    def capabilities(self) -> dict[str, str]:
        caps = self.inputs.capabilities()
        for extra in self.shared.plugins.hook.ocframe_capabilities(
                agent=self.name, inputs=list(self.inputs.specs)):
            for k, v in dict(extra or {}).items():
                if k == "capture.device.names":
                    self.log.warning("a plugin tried to override capture.device.names; ignored")
                    continue
                caps[str(k)] = str(v)
        free = self.shared.disk.free_mib()
        if free is not None:
            # Whole GiB and a flag: precise figures would make every post a change.
            caps["ocframe.storage.free_gib"] = str(free // 1024)
            caps["ocframe.storage.low"] = "true" if self.shared.disk.low else "false"
        return caps

"""The ocframe process: what its agents share, and their lifecycle.

One plugin registry, one recording store, one schedule cache, one core
client, one event bus, one disk monitor and one ingest queue, with an
:class:`~ocframe.runtime.AgentRuntime` per configured agent (room). Every
long-lived thread is a supervised loop in :attr:`Service.loops`, which
:meth:`Service.alive` (the systemd watchdog) and :meth:`Service.health`
(``ocframe check``, the logs, status pages) read.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from .config import CoreConfig, IngestConfig, OcframeConfig
from .control import Control
from .disk import DiskMonitor
from .errors import PluginError
from .events import EventBus
from .ffmpeg import find_ffmpeg, find_ffprobe
from .health import HealthFile
from .loops import Liveness, LoopHealth, LoopSet
from .opencast.client import OpencastClient
from .plugins import PluginRegistry, load_plugins
from .runtime import AgentRuntime, SharedParts
from .schedule import ScheduleCache
from .status import StatusView
from .store import RecordingStore
from .store_schema import StoreError
from .uploader import IngestQueue

log = logging.getLogger("ocframe.runtime")


class Service:
    def __init__(self, config: OcframeConfig, plugins: PluginRegistry | None = None) -> None:
        self.config = config
        self.plugins = plugins or load_plugins(config)
        self.plugins.validate(config)
        storage = config.storage.directory
        storage.mkdir(parents=True, exist_ok=True)
        _check_writable(storage)
        self.ffmpeg = find_ffmpeg(config.tools.ffmpeg)
        ffprobe = find_ffprobe(config.tools.ffprobe)
        self.tools = {"ffmpeg": self.ffmpeg, **({"ffprobe": ffprobe} if ffprobe else {})}
        self.store = RecordingStore(storage / "recordings.db")
        self.schedule_cache = ScheduleCache(storage / "schedule.db")
        self.client = OpencastClient(config.core)
        self.loops = LoopSet()
        self.bus = EventBus()
        self.disk = DiskMonitor(config.storage, on_change=self._disk_changed)
        self.ingest = IngestQueue(store=self.store, plugins=self.plugins, client=self.client,
                                  ffmpeg=self.ffmpeg, agents=self, config=config.ingest_queue)
        self.health_file = HealthFile(storage / "health.json", self.loops,
                                      uploads=self.ingest.upload_progress)
        for loop in (self.bus.loop, self.disk.loop, *self.ingest.loops, self.health_file.loop):
            self.loops.add(loop)
        self.shared = SharedParts(
            plugins=self.plugins, tools=self.tools, store=self.store,
            schedule_cache=self.schedule_cache, client=self.client, bus=self.bus,
            ingest=self.ingest, disk=self.disk, loops=self.loops, storage=storage,
            core_timeout=config.core.timeout)
        self.agents: dict[str, AgentRuntime] = {
            acfg.name: AgentRuntime(self.shared, acfg) for acfg in config.agents
        }
        self._reload_lock = threading.Lock()
        #: The read API handed to plugins (ocframe_service_started).
        self.status = StatusView(self)

    def start(self) -> None:
        self.disk.start()
        for agent in self.agents.values():
            agent.start()
        self.ingest.start()
        self.health_file.start()
        try:
            self.plugins.hook.ocframe_service_started(
                status=self.status, control=Control(self), config=self.config)
        except PluginError:
            self.stop()
            raise

    def stop(self) -> None:
        self.plugins.hook.ocframe_service_stopping(status=self.status)
        for agent in self.agents.values():
            agent.stop()
        self.ingest.stop()
        self.disk.stop()
        self.health_file.stop()
        self.bus.close()
        self.client.close()

    def alive(self) -> Liveness:
        """True while no loop hangs (the systemd watchdog); names the loops
        that hang and those that keep failing."""
        return self.loops.alive()

    def health(self) -> list[LoopHealth]:
        return self.loops.health()

    def _disk_changed(self) -> None:
        for agent in list(self.agents.values()):
            agent.reporter.capabilities_changed()

    # -- what the ingest queue asks of the agents ------------------------------
    def ingest_config(self, agent: str) -> IngestConfig | None:
        runtime = self.agents.get(agent)
        return runtime.config.ingest if runtime else None

    def set_recording_state(self, agent: str, recording_id: str, state: str,
                            detail: str = "", error: str | None = None) -> None:
        runtime = self.agents.get(agent)
        if runtime is not None:
            runtime.set_recording_state(recording_id, state, detail, error)
        else:  # removed by a reload mid-upload: the store still learns the outcome
            self.store.set_state(recording_id, state, detail, error)

    def upload_activity_changed(self, agent: str) -> None:
        runtime = self.agents.get(agent)
        if runtime is not None:
            runtime.state_changed()

    # -- reload ------------------------------------------------------------------
    def apply_config(self, new: OcframeConfig) -> None:
        """Swap in a new, already validated configuration (agents are matched
        by name; agents added or removed start or stop)."""
        with self._reload_lock:
            self.plugins.validate(new)
            old = self.config
            if _without_credentials(new.core) != _without_credentials(old.core):
                log.warning("core settings changed; they take effect after a restart")
            if _credentials(new.core) != _credentials(old.core):
                self.client.session.set_credentials(new.core)
                log.info("core credentials changed; in use from now on")
                self.ingest.retry_now()  # uploads refused with the old ones
            for acfg in new.agents:
                if acfg.name in self.agents:
                    self.agents[acfg.name].apply_config(acfg)
                else:
                    agent = AgentRuntime(self.shared, acfg)
                    self.agents[acfg.name] = agent
                    agent.start()
            for name in [n for n in self.agents if n not in {a.name for a in new.agents}]:
                self.agents.pop(name).stop()
            self.config = new
            self.disk.config = new.storage
            self.ingest.config = new.ingest_queue
            self.plugins.hook.ocframe_config_reloaded(old=old, new=new)
            log.info("configuration reloaded")


def _check_writable(directory: Path) -> None:
    """Refuse to start, saying why, where nothing could be recorded: the
    store and the schedule cache would fail later, less clearly (and a cache
    that cannot be opened would be taken for a damaged one)."""
    try:
        with tempfile.TemporaryFile(dir=directory) as probe:
            probe.write(b"ocframe")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise StoreError(f"the storage directory {directory} cannot be written ({exc.strerror}):"
                         " is its disk full or read-only?") from None


_CREDENTIALS = ("user", "password", "auth")


def _credentials(core: CoreConfig) -> tuple[object, ...]:
    return tuple(getattr(core, k) for k in _CREDENTIALS)


def _without_credentials(core: CoreConfig) -> dict[str, object]:
    return core.model_dump(exclude=set(_CREDENTIALS))

"""The agent runtime: wires the stations of the data path together.

``Service`` is the process: one plugin registry, one recording store, one
schedule cache, one core client, one ingest queue, and an
:class:`AgentRuntime` per configured agent (room).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .capture import DeviceGate, RecordingRun
from .config import AgentConfig, OcframeConfig, check_driver_secrets, iter_inputs
from .driver import Driver
from .errors import ConfigError, CoreError, PluginError
from .events import EventBus
from .ffmpeg import find_ffmpeg, find_ffprobe
from .model import AgentState, Event, InputSpec, RecordingState, StateChange, safe_name
from .opencast.calendar import CalendarError, CalendarParser
from .opencast.client import OpencastClient
from .plugins import PluginRegistry
from .reporter import CoreReporter
from .schedule import ScheduleCache
from .scheduler import Scheduler
from .store import CAPTURING_STATES, RecordingStore
from .uploader import IngestQueue

log = logging.getLogger("ocframe.runtime")


def load_plugins(config: OcframeConfig) -> PluginRegistry:
    registry = PluginRegistry()
    registry.load(config.plugins.modules, config.plugins.disabled)
    return registry


def validate_against_plugins(config: OcframeConfig, plugins: PluginRegistry) -> None:
    """Check every input's driver and settings and every agent's ingest
    method, so a bad config is refused before anything starts."""
    from pydantic import SecretStr, ValidationError

    source = config.source or Path("<config>")
    errors: list[str] = []
    for ai, agent, ii, inp in iter_inputs(config):
        where = f"agents[{ai}].inputs[{ii}]"
        try:
            cls = plugins.driver(inp.driver)
        except PluginError as exc:
            errors.append(f"{where}.driver (agent {agent.name!r}, input {inp.name!r}): {exc}")
            continue
        try:
            cls.Settings(**inp.settings)
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                errors.append(f"{where}.settings.{key} (agent {agent.name!r}): {err['msg']}")
            continue
        secret_fields = [
            name for name, f in cls.Settings.model_fields.items()
            if f.annotation is SecretStr or f.annotation == SecretStr | None
        ]
        try:
            check_driver_secrets(config, ai, ii, secret_fields)
        except ConfigError as exc:
            errors.append(str(exc))
    for ai, agent in enumerate(config.agents):
        try:
            scls = plugins.strategy(agent.ingest.method)
            scls.Settings(**agent.ingest.settings)
        except PluginError as exc:
            errors.append(f"agents[{ai}].ingest.method (agent {agent.name!r}): {exc}")
        except ValidationError as exc:
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                errors.append(f"agents[{ai}].ingest.settings.{key}: {err['msg']}")
    if errors:
        raise ConfigError(f"{source}: invalid configuration\n  " + "\n  ".join(errors))


class AgentRuntime:
    """One capture agent (room): its drivers, schedule, captures and reports."""

    def __init__(self, service: Service, config: AgentConfig) -> None:
        self.service = service
        self.config = config
        self.name = config.name
        self.log = logging.getLogger(f"ocframe.agent.{self.name}")
        self.drivers: dict[str, Driver] = {}
        self.specs: dict[str, InputSpec] = {}
        self.gates: dict[str, DeviceGate] = {}
        self._build_drivers(config)
        self.permanent_error: str | None = None
        self._state: str | None = None
        self._state_lock = threading.Lock()
        self.scheduler = Scheduler(
            self.name,
            start=self._begin_recording,
            is_handled=self._is_handled,
            preroll=config.preroll,
            postroll=config.postroll,
        )
        self.reporter = CoreReporter(
            self.name,
            service.client,
            agent_state=self.agent_state,
            active_recordings=self._active_recording_states,
            capabilities=self.capabilities,
            heartbeat_interval=config.heartbeat_interval,
            capabilities_interval=config.capabilities_interval,
            capabilities_format=config.capabilities_format,
            address=config.address,
        )
        self._etag: str | None = None
        self._calendar_failing = False
        # Remembers this agent's last calendar: only changed events are re-parsed.
        self._calendar_parser = CalendarParser()
        self._stop = threading.Event()
        self._calendar_wake = threading.Event()
        self._calendar_thread = threading.Thread(
            target=self._calendar_loop, name=f"calendar-{self.name}", daemon=True
        )

    # -- drivers -------------------------------------------------------------
    def _build_drivers(self, config: AgentConfig) -> None:
        drivers: dict[str, Driver] = {}
        specs: dict[str, InputSpec] = {}
        for inp in config.inputs:
            cls = self.service.plugins.driver(inp.driver)
            spec = InputSpec(
                name=inp.name,
                agent=config.name,
                driver=inp.driver,
                flavor=inp.flavor,
                settings=cls.Settings(**inp.settings),
                tools=self.service.tools,
            )
            old = self.specs.get(inp.name)
            if old is not None and old == spec and inp.name in self.drivers:
                drivers[inp.name] = self.drivers[inp.name]
            else:
                drivers[inp.name] = cls(spec)
            specs[inp.name] = spec
            self.gates.setdefault(inp.name, DeviceGate())
        # Drivers no longer configured are closed; running captures hold
        # their own reference and finish undisturbed.
        for name, drv in self.drivers.items():
            if drivers.get(name) is not drv:
                try:
                    drv.close()
                except Exception:
                    self.log.exception("closing driver of input %s failed", name)
        self.drivers, self.specs = drivers, specs

    def apply_config(self, config: AgentConfig) -> None:
        """A reloaded configuration: drivers for the next recording, ingest
        settings for the next upload, capabilities re-sent at once."""
        self._build_drivers(config)
        self.config = config
        self.scheduler.set_rolls(config.preroll, config.postroll)
        r = self.reporter
        r.heartbeat_interval = config.heartbeat_interval
        r.capabilities_interval = config.capabilities_interval
        r.capabilities_format = config.capabilities_format
        r.address = config.address
        self.permanent_error = None
        self.state_changed()
        r.capabilities_changed()
        self._calendar_wake.set()

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        events, self._etag = self.service.schedule_cache.load(self.name)
        if events:
            self.log.info("loaded %d cached event(s)", len(events))
        self.scheduler.set_events(events)
        self._recover()
        self.scheduler.start()
        self.reporter.start()
        self._calendar_thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._calendar_wake.set()
        self.scheduler.stop()
        runs = list(self.scheduler.runs.values())
        for run in runs:
            run.request_stop()  # graceful: files get their trailers
        for run in runs:
            assert isinstance(run, RecordingRun)
            run.join(timeout=30)
        self.reporter.stop(final_state=AgentState.SHUTTING_DOWN.value)
        for drv in self.drivers.values():
            try:
                drv.close()
            except Exception:
                self.log.exception("closing a driver failed")

    # -- states --------------------------------------------------------------
    def agent_state(self) -> str:
        if self.permanent_error:
            return AgentState.ERROR.value
        if any(not r.stop_requested.is_set() for r in self.scheduler.runs.values()):
            return AgentState.CAPTURING.value
        if self.service.ingest.uploading_for(self.name):
            return AgentState.UPLOADING.value
        return AgentState.IDLE.value

    def state_changed(self) -> None:
        state = self.agent_state()
        with self._state_lock:
            old, self._state = self._state, state
        if old != state:
            self.service.bus.emit(
                "ocframe_state_change",
                change=StateChange(self.name, old, state, None, "", time.time()),
            )
        self.reporter.agent_state_changed()

    def set_recording_state(self, rid: str, state: str, detail: str = "",
                            error: str | None = None) -> None:
        """Store first, then report: the store is the truth."""
        rec = self.service.store.get(rid)
        old = rec.state if rec else None
        self.service.store.set_state(rid, state, detail, error)
        self.service.bus.emit(
            "ocframe_state_change", change=StateChange(self.name, old, state, rid, detail,
                                                       time.time())
        )
        self.reporter.recording_state(rid, state)

    def _active_recording_states(self) -> dict[str, str]:
        out = {}
        for rid in list(self.scheduler.runs):
            out[rid] = RecordingState.CAPTURING.value
        return out

    def capabilities(self) -> dict[str, str]:
        caps = {"capture.device.names": ",".join(self.specs)}
        for name, drv in self.drivers.items():
            try:
                for k, v in drv.capabilities().items():
                    caps[f"capture.device.{name}.{k}"] = str(v)
            except Exception as exc:
                self.log.warning("input %s: capabilities failed: %r", name, exc)
        for plugin, extra in self.service.plugins.call_each(
            "ocframe_capabilities", agent=self.name, inputs=list(self.specs)
        ):
            for k, v in dict(extra or {}).items():
                if k == "capture.device.names":
                    self.log.warning("plugin %s may not override capture.device.names", plugin)
                    continue
                caps[str(k)] = str(v)
        free = self.service.free_mib()
        if free is not None:
            # Whole GiB and a flag: precise figures would make every post a change.
            caps["ocframe.storage.free_gib"] = str(free // 1024)
            caps["ocframe.storage.low"] = "true" if self.service.disk_low else "false"
        return caps

    # -- recordings ------------------------------------------------------------
    def _is_handled(self, uid: str) -> bool:
        return self.service.store.get(uid) is not None

    def _select_inputs(self, event: Event) -> list[str]:
        wanted = event.inputs
        if wanted is None:
            return list(self.specs)
        unknown = [n for n in wanted if n not in self.specs]
        if unknown:
            self.log.warning("event %s asks for unknown input(s) %s; known: %s",
                             event.uid, ", ".join(unknown), ", ".join(self.specs))
        chosen = [n for n in wanted if n in self.specs]
        return chosen or list(self.specs)

    def _begin_recording(self, event: Event) -> RecordingRun | None:
        inputs = self._select_inputs(event)
        directory = self.service.recording_dir(self.name, event)
        directory.mkdir(parents=True, exist_ok=True)
        self.service.check_disk(self.name, event, [self.drivers[n] for n in inputs
                                                    if n in self.drivers])
        self.service.store.create(self.name, event, directory, inputs)
        self.log.info("recording %s (%s) with %s until %s", event.uid, event.title,
                      ", ".join(inputs), event.end.isoformat())
        run = self._make_run(event, directory, inputs, {})
        self.scheduler.runs[event.uid] = run  # before the state is computed below
        self.reporter.recording_state(event.uid, RecordingState.CAPTURING.value)
        self.service.bus.emit(
            "ocframe_state_change",
            change=StateChange(self.name, None, "capturing", event.uid, "", time.time()),
        )
        run.start()
        self.state_changed()
        return run

    def _make_run(self, event: Event, directory: Path, inputs: list[str],
                  next_segment: dict[str, int]) -> RecordingRun:
        run = RecordingRun(
            recording_id=event.uid,
            event=event,
            end=event.end + timedelta(seconds=self.config.postroll),
            directory=directory,
            store=self.service.store,
            bus=self.service.bus,
            on_done=self._recording_done,
            max_restarts=self.config.max_restarts,
            stall_timeout=self.config.stall_timeout,
        )
        for name in inputs:
            if name in self.drivers:
                run.add_input(self.drivers[name], self.specs[name], self.gates[name],
                              next_segment.get(name, 0))
        return run

    def _recording_done(self, run: RecordingRun) -> None:
        have_media = any(seg.tracks for seg in self.service.store.segments(run.recording_id))
        if have_media:
            detail = "; ".join(run.errors)
            self.set_recording_state(run.recording_id, RecordingState.CAPTURE_FINISHED, detail)
            self.permanent_error = None
        else:
            reason = "; ".join(run.errors) or "no media produced"
            self.set_recording_state(run.recording_id, RecordingState.CAPTURE_ERROR, reason,
                                     error=reason)
            if run.permanent_failure:
                self.permanent_error = reason
            self.log.error("recording %s failed: %s", run.recording_id, reason)
        self.scheduler.run_finished(run.recording_id)
        self.state_changed()
        if have_media:
            self.service.ingest.wake()

    def _recover(self) -> None:
        """Recordings the last process left capturing: continue those whose
        event still runs (next segment), close the others for upload."""
        now = datetime.now(UTC)
        for rec in self.service.store.recordings(agent=self.name, states=CAPTURING_STATES):
            segs = self.service.store.segments(rec.id)
            for seg in segs:
                if seg.ended is None:
                    tracks = _salvage(seg.directory, self.specs.get(seg.input), seg.segment)
                    self.service.store.end_segment(rec.id, seg.input, seg.segment, tracks,
                                                   "agent stopped during the capture")
            cached = {e.uid: e for e in self.scheduler.events()}
            event = cached.get(rec.id, rec.event)
            end = event.end + timedelta(seconds=self.config.postroll)
            if now < end:
                nxt = {s.input: s.segment + 1 for s in segs}
                for name in rec.inputs:
                    nxt.setdefault(name, 0)
                self.log.info("continuing recording %s after a restart", rec.id)
                run = self._make_run(event, rec.directory, rec.inputs, nxt)
                self.scheduler.runs[rec.id] = run
                self.reporter.recording_state(rec.id, RecordingState.CAPTURING.value)
                run.start()
            else:
                run = self._make_run(event, rec.directory, [], {})
                self._recording_done(run)

    # -- calendar ----------------------------------------------------------------
    def _calendar_loop(self) -> None:
        while not self._stop.is_set():
            self.poll_calendar()
            self._calendar_wake.wait(self.config.calendar.poll_interval)
            self._calendar_wake.clear()

    def poll_calendar(self) -> None:
        cal = self.config.calendar
        cutoff = int((time.time() + cal.lookahead) * 1000)
        try:
            resp = self.service.client.fetch_calendar(self.name, cutoff, self._etag)
            if resp.status == 304:
                self._calendar_ok()
                return
            events = self._calendar_parser.parse(resp.body or b"")
        except (CalendarError, CoreError) as exc:
            if not self._calendar_failing:
                self.log.error("calendar: %s; keeping the previous schedule", exc.reason)
            self._calendar_failing = True
            return
        self._etag = resp.etag
        self.service.schedule_cache.save(self.name, events, resp.etag, body=resp.body)
        self.scheduler.set_events(events)
        self._calendar_ok()
        self.log.info("calendar: %d event(s)", len(events))

    def _calendar_ok(self) -> None:
        if self._calendar_failing:
            self.log.info("calendar: the core answers again")
        self._calendar_failing = False


def _salvage(directory: Path, spec: InputSpec | None, segment: int) -> list[Any]:
    """Media files left by a capture that was running when the agent died."""
    from .model import Track

    if spec is None or not directory.exists():
        return []
    mime = {".mkv": "video/x-matroska", ".mp4": "video/mp4", ".ts": "video/mp2t",
            ".mov": "video/quicktime", ".webm": "video/webm", ".flac": "audio/flac",
            ".wav": "audio/wav", ".mka": "audio/x-matroska", ".aac": "audio/aac"}
    out = []
    for f in sorted(directory.iterdir()):
        if f.is_file() and f.suffix in mime and f.stat().st_size > 0:
            out.append(Track(f, spec.flavor, mime[f.suffix], (), spec.name, segment))
    return out


class Service:
    """The ocframe process."""

    def __init__(self, config: OcframeConfig, plugins: PluginRegistry | None = None) -> None:
        self.config = config
        self.plugins = plugins or load_plugins(config)
        validate_against_plugins(config, self.plugins)
        storage = config.storage.directory
        storage.mkdir(parents=True, exist_ok=True)
        self.ffmpeg = find_ffmpeg(config.tools.ffmpeg)
        ffprobe = find_ffprobe(config.tools.ffprobe)
        self.tools = {"ffmpeg": self.ffmpeg, **({"ffprobe": ffprobe} if ffprobe else {})}
        self.store = RecordingStore(storage / "recordings.db")
        self.schedule_cache = ScheduleCache(storage / "schedule.db")
        self.client = OpencastClient(config.core)
        self.bus = EventBus(self.plugins)
        self.ingest = IngestQueue(self, config.ingest_queue)
        self.agents: dict[str, AgentRuntime] = {}
        for acfg in config.agents:
            self.agents[acfg.name] = AgentRuntime(self, acfg)
        self._reload_lock = threading.Lock()
        self.disk_low = False
        self._stopping = threading.Event()
        self._disk_thread = threading.Thread(target=self._disk_monitor, name="disk-monitor",
                                             daemon=True)

    def start(self) -> None:
        free = self.free_mib()
        if free is not None and free < self.config.storage.min_free_mib:
            self._set_disk_low(True, free)
        for agent in self.agents.values():
            agent.start()
        self.ingest.start()
        self._disk_thread.start()

    def stop(self) -> None:
        self._stopping.set()
        for agent in self.agents.values():
            agent.stop()
        self.ingest.stop()
        self.bus.close()
        self.client.close()

    def alive(self, max_age: float = 10.0) -> bool:
        """True while every scheduler loop has ticked recently (systemd watchdog)."""
        now = time.monotonic()
        return all(now - a.scheduler.alive_at < max_age for a in self.agents.values())

    # -- storage -----------------------------------------------------------------
    def recording_dir(self, agent: str, event: Event) -> Path:
        stamp = event.start.strftime("%Y%m%dT%H%M%SZ")
        name = f"{stamp}-{safe_name(event.uid, limit=64)}"
        return self.config.storage.directory / "recordings" / safe_name(agent) / name

    def free_mib(self) -> int | None:
        try:
            return shutil.disk_usage(self.config.storage.directory).free // (1 << 20)
        except OSError:
            return None

    def check_disk(self, agent: str, event: Event, drivers: list[Driver]) -> None:
        """Before a recording: will it fit? A warning, not a refusal: a partial
        recording is worth more than none."""
        free = self.free_mib()
        if free is None:
            return
        default = self.config.storage.assumed_input_mbit * 1e6 / 8
        rate = sum((d.bytes_per_second() or default) for d in drivers) or default
        need = int(rate * max(event.duration_seconds(), 0) / (1 << 20))
        left = free - need
        if left < self.config.storage.min_free_mib:
            log.warning(
                "%s: recording %s needs about %d MiB; %d MiB free in %s would leave %d MiB"
                " (minimum %d): free space now", agent, event.uid, need, free,
                self.config.storage.directory, left, self.config.storage.min_free_mib,
            )
            self._set_disk_low(True)

    def _disk_monitor(self) -> None:
        while not self._stopping.wait(self.config.storage.disk_check_interval):
            free = self.free_mib()
            if free is not None:
                self._set_disk_low(free < self.config.storage.min_free_mib, free)

    def _set_disk_low(self, low: bool, free: int | None = None) -> None:
        if low == self.disk_low:
            return
        self.disk_low = low
        if low:
            log.warning("disk space low in %s: %s MiB free (minimum %d)",
                        self.config.storage.directory, free if free is not None else "?",
                        self.config.storage.min_free_mib)
        else:
            log.info("disk space in %s is sufficient again", self.config.storage.directory)
        for agent in self.agents.values():
            agent.reporter.capabilities_changed()

    # -- reload ------------------------------------------------------------------
    def apply_config(self, new: OcframeConfig) -> None:
        """Swap in a new, already validated configuration (agents are matched
        by name; agents added or removed start or stop)."""
        with self._reload_lock:
            validate_against_plugins(new, self.plugins)
            old = self.config
            if new.core != old.core:
                log.warning("core settings changed; they take effect after a restart")
            for acfg in new.agents:
                if acfg.name in self.agents:
                    self.agents[acfg.name].apply_config(acfg)
                else:
                    agent = AgentRuntime(self, acfg)
                    self.agents[acfg.name] = agent
                    agent.start()
            for name in [n for n in self.agents if n not in {a.name for a in new.agents}]:
                self.agents.pop(name).stop()
            self.config = new
            self.ingest.config = new.ingest_queue
            self.plugins.call_each("ocframe_config_reloaded", old=old, new=new)
            log.info("configuration reloaded")

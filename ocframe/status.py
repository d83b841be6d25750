"""The read API of a running agent process: what status pages show.

:class:`StatusView` answers "what is this process doing?" from the kernel's
own parts (agents, scheduler, store, ingest queue, loops, disk) without
reaching into them from outside: a plugin gets one through the
``ocframe_service_started`` hook and reads plain, immutable data classes.
Every method is safe to call from any thread and returns quickly (a few
store reads); nothing here changes state (that is :mod:`ocframe.control`).

Public API (docs/plugin-api.md): the data classes only gain fields, with
defaults; methods are only added.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .capture import RecordingRun, capture_restarts
from .loops import LoopHealth
from .model import RecordingState

if TYPE_CHECKING:
    from .preview import Preview

#: Upcoming events listed per agent.
NEXT_EVENTS = 5


@dataclass(frozen=True)
class InputStatus:
    """One configured input of an agent."""

    name: str
    driver: str
    flavor: str


@dataclass(frozen=True)
class RunningInput:
    """One input of a running recording."""

    name: str
    #: When its current capture started (epoch seconds), None while waiting.
    capturing_since: float | None
    #: Segment now being written (0 = none restarted).
    segment: int
    #: The driver can show a confidence preview of it (:meth:`StatusView.preview`).
    has_preview: bool
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunningRecording:
    recording_id: str
    title: str
    start: datetime
    #: Scheduled end, post-roll included.
    end: datetime
    #: Started by an operator, not the calendar.
    unscheduled: bool
    #: Stop was asked (the inputs are closing their files).
    stopping: bool
    inputs: tuple[RunningInput, ...]


@dataclass(frozen=True)
class UpcomingEvent:
    uid: str
    title: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class AgentStatus:
    name: str
    #: The agent state as reported to the core (``idle``, ``capturing``, ...).
    state: str
    #: Epoch seconds of the last report the core accepted, None if none yet.
    last_contact: float | None
    #: Why the core cannot be reached now, None while it answers.
    contact_error: str | None
    #: Epoch seconds the core last answered a calendar request.
    last_calendar_sync: float | None
    inputs: tuple[InputStatus, ...]
    running: tuple[RunningRecording, ...]
    next_events: tuple[UpcomingEvent, ...]
    #: Why every input failed for good in the last recording, if so.
    error: str | None = None


@dataclass(frozen=True)
class UploadProgress:
    sent: int
    total: int
    #: Bytes per second since this attempt's first byte; None too early to tell.
    rate: float | None
    #: Seconds left at that rate; None if unknown.
    eta: float | None


@dataclass(frozen=True)
class StateEntry:
    at: float
    state: str
    detail: str


@dataclass(frozen=True)
class RecordingSummary:
    id: str
    agent: str
    title: str
    start: datetime
    end: datetime
    state: str
    unscheduled: bool
    inputs: tuple[str, ...]
    error: str | None
    attempts: int
    #: Epoch seconds of the next upload attempt, if one waits.
    next_attempt: float | None
    created: float
    updated: float
    history: tuple[StateEntry, ...] = ()
    #: Only while uploading.
    upload: UploadProgress | None = None


@dataclass(frozen=True)
class DiskStatus:
    directory: Path
    free_bytes: int | None
    total_bytes: int | None
    #: Below ``storage.min_free_mib`` (a warning, never a refusal).
    low: bool


@dataclass(frozen=True)
class ServiceStatus:
    """A snapshot of the whole process."""

    at: float
    agents: tuple[AgentStatus, ...]
    loops: tuple[LoopHealth, ...]
    disk: DiskStatus
    #: Recordings in the store, by agent, then state.
    recordings_by_state: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Epoch seconds of the last ``upload_finished`` in the store.
    last_ingest: float | None = None
    #: Bytes sent to the core since the process started.
    bytes_uploaded: int = 0
    #: Captures restarted into a new segment since the process started, by agent.
    capture_restarts: dict[str, int] = field(default_factory=dict)


#: Where ``ocframe`` commands look for the configuration without ``-c``/$OCFRAME_CONFIG
#: (the same as ``ocframe.cli.DEFAULT_CONFIG``; a test holds them equal).
DEFAULT_CONFIG = "/etc/ocframe/ocframe.toml"


def storage_directory(config: str | Path | None = None) -> Path:
    """The storage directory of the agent configured in ``config`` (default:
    ``$OCFRAME_CONFIG``, else :data:`DEFAULT_CONFIG`), where a running agent
    and its plugins leave files for local commands. Raises
    :class:`ocframe.errors.ConfigError` naming what is wrong."""
    from .config import load_config

    path = Path(config or os.environ.get("OCFRAME_CONFIG") or DEFAULT_CONFIG)
    return load_config(path).storage.directory


class StatusView:
    """Read-only view of one running :class:`~ocframe.service.Service`."""

    def __init__(self, service: Any) -> None:
        # The ocframe.service.Service (typed loosely: it makes this view).
        self._service = service

    @property
    def agent_names(self) -> list[str]:
        return list(self._service.agents)

    def snapshot(self) -> ServiceStatus:
        svc = self._service
        return ServiceStatus(
            at=time.time(),
            agents=tuple(a for name in list(svc.agents) if (a := self._agent_or_none(name))),
            loops=tuple(svc.health()),
            disk=self.disk(),
            recordings_by_state=svc.store.count_by_state(),
            last_ingest=svc.store.last_time_in(RecordingState.UPLOAD_FINISHED.value),
            bytes_uploaded=svc.ingest.bytes_sent_total,
            capture_restarts=capture_restarts(),
        )

    def disk(self) -> DiskStatus:
        directory = self._service.config.storage.directory
        try:
            usage = shutil.disk_usage(directory)
            free, total = usage.free, usage.total
        except OSError:
            free = total = None
        return DiskStatus(directory, free, total, self._service.disk.low)

    def _agent_or_none(self, name: str) -> AgentStatus | None:
        try:
            return self.agent(name)
        except KeyError:  # removed by a reload meanwhile
            return None

    def agent(self, name: str) -> AgentStatus:
        """One agent's status; KeyError if there is no such agent."""
        rt = self._service.agents[name]
        now = datetime.now(UTC)
        handled = {r.recording_id for r in self._runs(name)}
        upcoming: list[UpcomingEvent] = []
        for ev in rt.scheduler.events():
            if ev.end <= now or ev.uid in handled or self._service.store.get(ev.uid):
                continue
            upcoming.append(UpcomingEvent(ev.uid, ev.title, ev.start, ev.end))
            if len(upcoming) >= NEXT_EVENTS:
                break
        return AgentStatus(
            name=name,
            state=rt.agent_state(),
            last_contact=rt.reporter.last_contact,
            contact_error=rt.reporter.contact_error,
            last_calendar_sync=rt.calendar.last_sync,
            inputs=tuple(InputStatus(s.name, s.driver, s.flavor)
                         for s in rt.inputs.specs.values()),
            running=tuple(_running(run) for run in self._runs(name)),
            next_events=tuple(upcoming),
            error=rt.recordings.permanent_error,
        )

    def recordings(self, *, agent: str | None = None, limit: int = 50,
                   history: bool = True) -> list[RecordingSummary]:
        """The newest ``limit`` recordings in the store, newest first."""
        recs = self._service.store.recordings(agent=agent)[-limit:][::-1]
        return [self._summary(r.id, history) for r in recs if r is not None]

    def recording(self, recording_id: str) -> RecordingSummary | None:
        if self._service.store.get(recording_id) is None:
            return None
        return self._summary(recording_id, True)

    def preview(self, agent: str, input_name: str) -> Preview | None:
        """The latest confidence preview of an input of the agent's running
        recording, from drivers that offer one (:meth:`CaptureHandle.preview`);
        None when nothing runs or the driver cannot."""
        for run in self._runs(agent):
            for ic in run.inputs:
                handle = ic.handle
                if ic.spec.name == input_name and handle is not None:
                    return handle.preview()
        return None

    # -- helpers ---------------------------------------------------------------
    def _runs(self, agent: str) -> list[RecordingRun]:
        rt = self._service.agents.get(agent)
        if rt is None:
            return []
        return [r for r in rt.scheduler.runs.values() if isinstance(r, RecordingRun)]

    def _summary(self, rid: str, with_history: bool) -> RecordingSummary:
        svc = self._service
        rec = svc.store.get(rid)
        assert rec is not None
        upload = None
        if rec.state == RecordingState.UPLOADING.value and rid in svc.ingest.progress:
            sent, total = svc.ingest.progress[rid]
            began, first = svc.ingest.progress_since.get(rid, (time.monotonic(), sent))
            elapsed = time.monotonic() - began
            rate = (sent - first) / elapsed if elapsed >= 1.0 and sent > first else None
            eta = (total - sent) / rate if rate and total >= sent else None
            upload = UploadProgress(sent, total, rate, eta)
        history = tuple(StateEntry(*h) for h in svc.store.history(rid)) if with_history else ()
        return RecordingSummary(
            id=rec.id, agent=rec.agent, title=rec.event.title, start=rec.event.start,
            end=rec.event.end, state=rec.state, unscheduled=rec.event.unscheduled,
            inputs=tuple(rec.inputs), error=rec.error, attempts=rec.attempts,
            next_attempt=rec.next_attempt, created=rec.created, updated=rec.updated,
            history=history, upload=upload)


def _running(run: RecordingRun) -> RunningRecording:
    inputs = []
    for ic in run.inputs:
        handle = ic.handle
        inputs.append(RunningInput(
            name=ic.spec.name,
            capturing_since=run.started_at.get(ic.spec.name) if handle is not None else None,
            segment=ic.segment,
            has_preview=handle is not None and handle.preview() is not None,
            errors=tuple(ic.outcome.errors)))
    return RunningRecording(
        recording_id=run.recording_id, title=run.event.title, start=run.event.start,
        end=run.end, unscheduled=run.event.unscheduled,
        stopping=run.stop_requested.is_set(), inputs=tuple(inputs))


__all__ = [
    "DEFAULT_CONFIG",
    "AgentStatus",
    "DiskStatus",
    "InputStatus",
    "RecordingSummary",
    "RunningInput",
    "RunningRecording",
    "ServiceStatus",
    "StateEntry",
    "StatusView",
    "UpcomingEvent",
    "UploadProgress",
    "storage_directory",
]

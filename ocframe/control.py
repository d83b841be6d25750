"""What an operator may do to a running agent process: the action API.

:class:`Control` is handed to plugins with the ``ocframe_service_started``
hook (a status page's buttons, a room panel): start and stop an ad-hoc
recording, retry or delete a recording. Each method acts at once, on the
caller's thread, and raises :class:`ActionRefused` with a message fit for
an operator when it cannot (an unknown agent, a busy room, a recording
still capturing); every action is logged with who asked (``by``).

Public API (docs/plugin-api.md).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .model import WORKFLOW_DEFINITION_KEY, Event, RecordingState, printable
from .scheduler import AgentBusy

if TYPE_CHECKING:
    from .runtime import AgentRuntime

log = logging.getLogger("ocframe.control")

#: The longest ad-hoc recording (a forgotten stop must not fill the disk).
MAX_DURATION = timedelta(hours=12)
MAX_TITLE = 255
#: States a recording may be deleted in without ``force``.
DELETABLE = {RecordingState.UPLOAD_FINISHED.value, RecordingState.UPLOAD_ERROR.value,
             RecordingState.CAPTURE_ERROR.value}


class ActionRefused(Exception):
    """The action was not done; ``str(exc)`` says why, for the operator."""


class Control:
    def __init__(self, service: Any) -> None:
        # The ocframe.service.Service (typed loosely: it makes this object).
        self._service = service

    def start_now(self, agent: str, duration: timedelta, title: str, *,
                  workflow: str | None = None, by: str = "operator") -> str:
        """Start an unscheduled recording on ``agent`` for ``duration``; returns
        its recording id. It is ingested as a new event (episode catalog:
        ``title``, created, spatial = ``agent``) with ``workflow`` or the
        agent's configured one."""
        rt = self._agent(agent)
        if not timedelta(seconds=1) <= duration <= MAX_DURATION:
            raise ActionRefused(f"duration must be between 1 s and {MAX_DURATION}, not"
                                f" {duration}")
        title = " ".join(title.split())[:MAX_TITLE]
        if workflow is not None and not workflow.replace("-", "").replace("_", "").isalnum():
            raise ActionRefused(f"not a workflow definition id: {printable(workflow)!r}")
        now = datetime.now(UTC).replace(microsecond=0)
        event = Event(
            uid=f"ocframe-adhoc-{uuid.uuid4()}", start=now, end=now + duration,
            title=title or f"Recording in {agent}", location=agent,
            properties={WORKFLOW_DEFINITION_KEY: workflow} if workflow else {},
            unscheduled=True)
        try:
            rt.scheduler.start_now(event)
        except AgentBusy as exc:
            raise ActionRefused(str(exc)) from None
        except Exception as exc:  # a full disk, a directory that cannot be made
            raise ActionRefused(f"cannot start: {type(exc).__name__}: {exc}") from None
        log.info("%s: %s started ad-hoc recording %s (%s) for %s", agent, by, event.uid,
                 printable(event.title), duration)
        return event.uid

    def stop_now(self, agent: str, recording_id: str | None = None, *,
                 by: str = "operator") -> list[str]:
        """Stop the agent's running recording (or the one named) now; it is
        then ingested as usual. Returns the ids stopped; refused if none ran."""
        rt = self._agent(agent)
        stopped = rt.scheduler.stop_now(recording_id)
        if not stopped:
            raise ActionRefused(f"{agent} is not recording"
                                + (f" {printable(recording_id)}" if recording_id else ""))
        log.info("%s: %s stopped recording %s", agent, by, ", ".join(stopped))
        return stopped

    def retry(self, recording_id: str, *, by: str = "operator") -> None:
        """Queue a recording for upload again, now, with a fresh attempt count."""
        svc = self._service
        rec = svc.store.get(recording_id)
        if rec is None:
            raise ActionRefused(f"no recording {printable(recording_id)!r}")
        if rec.state == RecordingState.CAPTURING.value:
            raise ActionRefused("still capturing; it is uploaded when it ends")
        if rec.state == RecordingState.UPLOADING.value and svc.ingest.is_uploading(rec.id):
            raise ActionRefused("it is uploading now")
        svc.store.reset_attempts(rec.id)
        svc.set_recording_state(rec.agent, rec.id, RecordingState.CAPTURE_FINISHED.value,
                                f"{by} asked to re-ingest")
        svc.ingest.wake()
        log.info("%s asked to re-ingest %s", by, printable(rec.id))

    def delete(self, recording_id: str, *, force: bool = False, by: str = "operator") -> None:
        """Delete a recording and its files; one not yet ingested only with
        ``force``, and never one capturing or uploading now."""
        svc = self._service
        rec = svc.store.get(recording_id)
        if rec is None:
            raise ActionRefused(f"no recording {printable(recording_id)!r}")
        rt = svc.agents.get(rec.agent)
        if rt is not None and rec.id in rt.scheduler.runs:
            raise ActionRefused("it is capturing now; stop it first")
        if rec.state == RecordingState.UPLOADING.value and svc.ingest.is_uploading(rec.id):
            raise ActionRefused("it is uploading now")
        if rec.state not in DELETABLE and not force:
            raise ActionRefused(f"it is {rec.state}, not yet ingested; delete with force to"
                                " lose it")
        svc.store.delete(rec.id)
        log.warning("%s deleted recording %s (%s) with its files", by, printable(rec.id),
                    rec.state)

    def _agent(self, agent: str) -> AgentRuntime:
        rt = self._service.agents.get(agent)
        if rt is None:
            raise ActionRefused(f"no agent {printable(agent)!r}")
        return rt


__all__ = ["MAX_DURATION", "ActionRefused", "Control"]

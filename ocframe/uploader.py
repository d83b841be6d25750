"""The ingest queue: uploads in the background, retried with backoff.

Recordings waiting for upload are found in the recording store (the
truth), not in memory, so a restart simply continues. Concurrency is
bounded; each attempt gets a fresh strategy instance and the ingest
endpoint looked up again; failures are retried with exponential backoff
and jitter up to a cap, after which the recording stays on disk in
``upload_error`` with its reason until an operator retries or deletes it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .config import IngestConfig, IngestQueueConfig
from .errors import AuthError, CoreError, IngestError, IngestVeto, PluginError
from .ingest import IngestJob
from .loops import SupervisedLoop
from .model import IngestPackage, RecordingState, Track, file_md5, printable
from .opencast.client import OpencastClient
from .plugins import PluginRegistry
from .segments import join_tracks
from .store import UPLOAD_PENDING_STATES, Recording, RecordingStore
from .trim import MIN_TRIM, trim_start

log = logging.getLogger("ocframe.ingest")

#: Checkpoint key holding the method the notes belong to.
METHOD_KEY = "ocframe.method"

#: The longest an ingest worker may go without progress before it counts as
#: hung: a pre-ingest transcode or the core's answer after a large body may
#: take long, and every byte sent shows progress.
INGEST_STALL_AFTER = 3600.0


class UploadAgents(Protocol):
    """What the queue needs from the agents whose recordings it uploads."""

    def ingest_config(self, agent: str) -> IngestConfig | None:
        """The agent's current ingest settings; None if it is not served."""

    def set_recording_state(self, agent: str, recording_id: str, state: str,
                            detail: str = "", error: str | None = None) -> None:
        """Store, then report, a recording's new state."""

    def upload_activity_changed(self, agent: str) -> None:
        """An upload of the agent began or ended (its agent state may change)."""


class IngestQueue:
    def __init__(self, *, store: RecordingStore, plugins: PluginRegistry,
                 client: OpencastClient, ffmpeg: str, agents: UploadAgents,
                 config: IngestQueueConfig) -> None:
        self.store = store
        self.plugins = plugins
        self.client = client
        self.ffmpeg = ffmpeg
        self.agents = agents
        self.config = config
        self._cond = threading.Condition()
        self._busy: dict[str, str] = {}  # recording id -> agent
        self._stopping = False
        self.loops = [
            SupervisedLoop(f"ingest-{i}", self._round, stall_after=INGEST_STALL_AFTER,
                           wake=self.wake, logger=log)
            for i in range(config.concurrency)
        ]
        self._local = threading.local()
        self.progress: dict[str, tuple[int, int]] = {}
        self.on_progress: Callable[[str, int, int], None] | None = None

    def start(self) -> None:
        for loop in self.loops:
            loop.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for loop in self.loops:
            loop.stop(timeout=2)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def retry_now(self) -> None:
        """Every upload waiting for its next attempt tries again at once."""
        self.store.make_due(UPLOAD_PENDING_STATES)
        self.wake()

    def uploading_for(self, agent: str) -> bool:
        with self._cond:
            return agent in self._busy.values()

    def _next(self) -> Recording | None:
        for rec in self.store.recordings(states=UPLOAD_PENDING_STATES, due=time.time()):
            if rec.id not in self._busy and self.agents.ingest_config(rec.agent) is not None:
                return rec
        return None

    def _round(self) -> None:
        """Take the next due recording, if any, and make one attempt."""
        with self._cond:
            if self._stopping:
                return
            rec = self._next()
            if rec is None:
                self._cond.wait(timeout=1.0)
                return
            self._busy[rec.id] = rec.agent
        loop = next((lp for lp in self.loops if lp.thread is threading.current_thread()), None)
        self._local.loop = loop
        try:
            self._process(rec)
        finally:
            with self._cond:
                self._busy.pop(rec.id, None)
                self._cond.notify_all()
            self.agents.upload_activity_changed(rec.agent)

    # -- one attempt ---------------------------------------------------------
    def _process(self, rec: Recording) -> None:
        icfg = self.agents.ingest_config(rec.agent)
        if icfg is None:
            return  # the agent was removed since the recording was picked
        store = self.store
        if rec.state != RecordingState.UPLOADING:
            self.agents.set_recording_state(rec.agent, rec.id, RecordingState.UPLOADING,
                                            "upload queued")
        self.agents.upload_activity_changed(rec.agent)
        method = icfg.method
        attempt = store.begin_attempt(rec.id, method)
        try:
            package = rec.package or self._build_package(rec, icfg)
            strategy_cls = self.plugins.strategy(method)
            settings = strategy_cls.Settings(**icfg.settings)
            strategy = strategy_cls(settings)
            checkpoint = store.checkpoint(rec.id)
            if checkpoint.get(METHOD_KEY) not in (None, method):
                # Another method's notes would mislead this one: start clean.
                checkpoint.clear()
            checkpoint.set(METHOD_KEY, method)
            event = rec.event
            job = IngestJob(
                recording_id=rec.id,
                event=event,
                package=package,
                workflow_definition=event.workflow_definition or icfg.workflow,
                workflow_properties=event.workflow_config,
                link=icfg.link,
                legacy_catalogs=icfg.legacy_catalogs,
                http=self.client.ingest_service(),
                service=lambda t: self.client.service(t),
                checkpoint=checkpoint,
                progress=lambda sent, total: self._progress(rec.id, sent, total),
                logger=logging.getLogger(f"ocframe.ingest.{rec.agent}"),
            )
            log.info("%s: uploading %s with %s (attempt %d)", rec.agent, rec.id, method, attempt)
            result = strategy.ingest(job)
        except IngestVeto as exc:
            self._fail(rec, attempt, f"vetoed: {exc.reason}", permanent=True)
            return
        except AuthError as exc:
            # Credentials rotated on the core, or a role missing: the
            # configuration's fault, not this recording's. It waits without
            # spending the attempt cap until they are fixed (a reload applies
            # them and retries at once).
            self._fail(rec, attempt, exc.reason, permanent=False, counts=False, outcome="auth")
            return
        except CoreError as exc:
            # An unreachable core is not this upload's fault: keep trying for
            # as long as it takes, without spending the attempt cap.
            self._fail(rec, attempt, exc.reason, permanent=not exc.retryable,
                       counts=exc.status is not None)
            return
        except IngestError as exc:
            self._fail(rec, attempt, exc.reason, permanent=not exc.retryable)
            return
        except PluginError as exc:
            self._fail(rec, attempt, str(exc), permanent=False)
            return
        except Exception as exc:
            log.exception("%s: ingest strategy %s crashed", rec.agent, method)
            self._fail(rec, attempt, f"{method} crashed: {exc!r}", permanent=False)
            return
        store.end_attempt(rec.id, attempt, "ok", result.workflow_id or "")
        note = f"workflow {result.workflow_id or '?'}"
        if result.detail:
            note += f"; {result.detail}"
        self.agents.set_recording_state(rec.agent, rec.id, RecordingState.UPLOAD_FINISHED, note)
        store.checkpoint(rec.id).clear()
        log.info("%s: %s ingested (media package %s, %s)", rec.agent, rec.id,
                 result.mediapackage_id, printable(note))
        if icfg.delete_after_upload:
            store.delete(rec.id)

    def _build_package(self, rec: Recording, icfg: IngestConfig) -> IngestPackage:
        workdir = rec.directory / "ingest"
        workdir.mkdir(parents=True, exist_ok=True)
        tracks: list[Track] = []
        for seg in self.store.segments(rec.id):
            early = (seg.trim_to - seg.media_origin
                     if seg.trim_to is not None and seg.media_origin is not None else 0.0)
            if early >= MIN_TRIM:
                log.info("%s: %s %s: trimming the %.1f s captured before the window",
                         rec.agent, rec.id, seg.input, early)
            tracks.extend(trim_start(t, early, workdir, self.ffmpeg) for t in seg.tracks)
        package = IngestPackage(tracks=join_tracks(tracks, workdir, self.ffmpeg))
        if icfg.legacy_catalogs:
            # Opencast <= 3.x creates the event only at ingest: its catalogs go
            # in unchanged, as every strategy's ordinary catalogs.
            _add_calendar_catalogs(rec, package, workdir)
        self.plugins.hook.ocframe_pre_ingest(
            agent=rec.agent, recording_id=rec.id, event=rec.event, package=package,
            workdir=workdir,
        )
        if not package.tracks:
            raise IngestVeto("nothing to upload: no tracks were produced")
        # Hashed once here, outside every upload attempt: strategies verify the
        # core's checksum against it, and a file changed on disk is noticed.
        for element in (*package.tracks, *package.catalogs, *package.attachments):
            if element.md5 is None:
                element.md5 = file_md5(element.path)
        self.store.set_package(rec.id, package)
        return package

    def _progress(self, rid: str, sent: int, total: int) -> None:
        loop = getattr(self._local, "loop", None)
        if loop is not None:
            loop.beat()  # bytes moving: this worker is not hung
        self.progress[rid] = (sent, total)
        if self.on_progress:
            self.on_progress(rid, sent, total)

    def _fail(self, rec: Recording, attempt: int, reason: str, *, permanent: bool,
              counts: bool = True, outcome: str | None = None) -> None:
        store = self.store
        failures = store.counted_failures(rec.id) + (1 if counts else 0)
        if permanent or failures >= self.config.max_attempts:
            store.end_attempt(rec.id, attempt, "failed", reason)
            why = reason if permanent else f"gave up after {failures} failed attempts: {reason}"
            log.error("%s: upload of %s failed permanently: %s (kept on disk: %s)",
                      rec.agent, rec.id, why, rec.directory)
            self.agents.set_recording_state(rec.agent, rec.id, RecordingState.UPLOAD_ERROR, why,
                                            error=why)
            return
        delay = min(self.config.backoff_max, self.config.backoff_initial * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: many agents must not retry in step
        outcome = outcome or ("retry" if counts else "unreachable")
        store.end_attempt(rec.id, attempt, outcome, reason, next_attempt=time.time() + delay)
        # Bad credentials need the operator: an error, not a passing warning.
        log.log(logging.ERROR if outcome == "auth" else logging.WARNING,
                "%s: upload of %s failed (%s); retrying in %.0f s", rec.agent, rec.id,
                reason, delay)


def _add_calendar_catalogs(rec: Recording, package: IngestPackage, workdir: Path) -> None:
    catalogs = (("episode.xml", "dublincore/episode"), ("series.xml", "dublincore/series"))
    for name, flavor in catalogs:
        data = rec.event.attachments.get(name)
        if data:
            path = workdir / name
            path.write_bytes(data)
            package.catalogs.append(Track(path, flavor, "text/xml"))

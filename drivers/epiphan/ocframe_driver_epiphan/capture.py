"""Capture handles: one recording on one Pearl recorder (REST) or channel (legacy).

The Pearl records on its own; the handle only steers it and, at the end,
brings the files home. Times that decide which archive files belong to this
capture are wall-clock (the archive's ``created`` is wall-clock too).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ocframe import CaptureContext, CaptureError, CaptureHandle, Track, safe_name

from .errors import PearlError
from .legacy import LegacyClient, wait_for_uploads
from .rest import PearlClient, parse_created
from .settings import EpiphanSettings

MIME_BY_EXTENSION = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "mkv": "video/x-matroska",
    "ts": "video/mp2t",
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "wav": "audio/wav",
}


def mimetype_for(name: str) -> str:
    return MIME_BY_EXTENSION.get(Path(name).suffix.lower().lstrip("."), "application/octet-stream")


class _Throttle:
    """Caches the last answer of a status probe so ``poll()`` (called about
    once a second by the kernel) asks the device at most every ``interval``."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.at = 0.0
        self.value: str | None = None

    def due(self) -> bool:
        return time.monotonic() - self.at >= self.interval


def wait_for_state(
    client: PearlClient,
    rid: str,
    want: str,
    *,
    timeout: float,
    interval: float,
    fail_on: tuple[str, ...] = ("error",),
    not_yet: list[float] | None = None,
) -> dict[str, Any]:
    """Poll ``rid``'s status until ``want``; raise :class:`CaptureError` on a
    state in ``fail_on`` or at the deadline. Transient failures are retried.
    ``not_yet`` gets the wall-clock time each poll that did not show ``want``
    was sent: the state changed after the last of them."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    problem = ""
    while True:
        asked = time.time()
        try:
            last = client.status(rid)
            problem = ""
        except PearlError as exc:
            if exc.auth_failed:
                raise CaptureError(exc.message, permanent=True) from None
            problem = exc.message
        state = last.get("state")
        if state == want and not problem:
            return last
        if not_yet is not None and not problem:
            not_yet.append(asked)
        if state in fail_on and not problem:
            why = last.get("description") or "no description"
            raise CaptureError(f"Pearl recorder {rid} is in state {state!r}: {why}")
        if time.monotonic() >= deadline:
            raise CaptureError(
                f"Pearl recorder {rid} did not reach {want!r} within {timeout:g}s "
                f"(last state {state!r}{'; ' + problem if problem else ''})"
            )
        time.sleep(interval)


class RestCapture(CaptureHandle):
    """A recording on a recorder driven through the REST API."""

    def __init__(
        self,
        ctx: CaptureContext,
        settings: EpiphanSettings,
        client: PearlClient,
        rid: str,
        recorder_name: str,
        started: datetime,
        transition_lock: threading.Lock,
        claimed: set[str],
    ) -> None:
        self.ctx = ctx
        self.settings = settings
        self.client = client
        self.rid = rid
        self.recorder_name = recorder_name
        self.started = started
        self.stopped: datetime | None = None
        self.ended: str | None = None
        self._throttle = _Throttle(settings.poll_interval)
        self._lock = transition_lock
        self._claimed = claimed
        self._unreachable_logged = False
        #: Archive ids before our start and before the next capture's start
        #: (``None`` when the archive could not be listed then).
        self.before: set[str] | None = None
        self.successor_before: set[str] | None = None
        #: Wall-clock time (UNIX seconds) the recording began at the latest
        #: poll that still did not show it started: never after its real
        #: start, so trimming a pre-roll to it never cuts into the window.
        self.recording_since: float | None = None

    def media_origin(self) -> float | None:
        return self.recording_since

    def poll(self) -> str | None:
        if self.ended is not None or self.stopped is not None:
            return self.ended
        if not self._throttle.due():
            return None
        self._throttle.at = time.monotonic()
        try:
            status = self.client.status(self.rid, timeout=min(self.settings.request_timeout, 5.0))
        except PearlError as exc:
            # The Pearl keeps recording without us; a network blip is no reason
            # to end the capture (and restarting could not reach it either).
            if not self._unreachable_logged:
                self.ctx.logger.warning("cannot poll Pearl status: %s", exc.message)
                self._unreachable_logged = True
            return None
        self._unreachable_logged = False
        state = status.get("state")
        if state in ("started", "starting"):
            return None
        self.stopped = datetime.now(UTC)
        detail = f": {status['description']}" if status.get("description") else ""
        self.ended = f"Pearl recorder {self.recorder_name!r} is {state}{detail}"
        return self.ended

    def stop(self) -> None:
        if self.stopped is not None:
            return
        with self._lock:
            self.stopped = datetime.now(UTC)
            try:
                self.client.control(self.rid, "stop")
                wait_for_state(
                    self.client,
                    self.rid,
                    "stopped",
                    timeout=self.settings.stop_timeout,
                    interval=self.settings.transition_poll_interval,
                    fail_on=("error", "disabled"),
                )
            except (PearlError, CaptureError) as exc:
                # tracks() will still look for whatever the Pearl wrote.
                self.ctx.logger.error("stopping Pearl recorder %s: %s", self.recorder_name, exc)

    # -- files -----------------------------------------------------------------

    def _ours(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """This capture's entries: created between start and stop (on the
        Pearl's clock as far as we can tell), and, when the archive could be
        listed around the capture, new since our start and already there when
        the next capture on this recorder started. The listings settle what
        the one-second resolution of ``created`` cannot (back-to-back events)."""
        assert self.stopped is not None
        skew = timedelta(seconds=self.client.clock_skew())
        tolerance = timedelta(seconds=self.settings.clock_tolerance)
        # ``created`` is truncated to the second: allow the whole first second.
        low = self.started + skew - tolerance - timedelta(seconds=1)
        high = self.stopped + skew + tolerance
        ours = []
        for entry in entries:
            fid = str(entry.get("id", ""))
            try:
                created = parse_created(str(entry["created"]))
            except (KeyError, ValueError):
                continue
            if str(entry.get("recorder", self.rid)) != self.rid or fid in self._claimed:
                continue
            if self.before is not None and fid in self.before:
                continue
            if self.successor_before is not None and fid not in self.successor_before:
                continue
            if low <= created <= high:
                ours.append(entry)
        return ours

    def _finished_entries(self) -> list[dict[str, Any]]:
        deadline = time.monotonic() + self.settings.archive_timeout
        while True:
            try:
                ours = self._ours(
                    list(self.client.archive(self.rid, page_size=self.settings.archive_page_size))
                )
                problem = ""
            except PearlError as exc:
                if exc.auth_failed:
                    raise CaptureError(exc.message, permanent=True) from None
                ours, problem = [], exc.message
            if ours and not any(e.get("recording") for e in ours):
                return ours
            if time.monotonic() >= deadline:
                if problem:
                    raise CaptureError(f"Pearl archive unavailable: {problem}")
                if ours:
                    raise CaptureError(
                        f"Pearl still writing {', '.join(str(e['id']) for e in ours)} "
                        f"after {self.settings.archive_timeout:g}s"
                    )
                raise CaptureError(
                    f"no file in the Pearl archive of recorder {self.recorder_name!r} "
                    f"between {self.started:%H:%M:%S} and {self.stopped:%H:%M:%S} UTC"
                )
            time.sleep(self.settings.poll_interval)

    def tracks(self) -> list[Track]:
        try:
            return self._collect()
        finally:
            self.client.close()  # the pool only; a later call reconnects

    def _collect(self) -> list[Track]:
        if self.stopped is None:
            self.stop()
        entries = self._finished_entries()
        tracks: list[Track] = []
        for entry in sorted(entries, key=lambda e: str(e["created"])):
            fid = str(entry["id"])
            self._claimed.add(fid)
            dest = self.ctx.directory / safe_name(fid)
            try:
                got = self.client.download(
                    self.rid,
                    fid,
                    dest,
                    size=int(entry["size"]),
                    retries=self.settings.download_retries,
                    backoff=self.settings.retry_backoff,
                    chunk_size=self.settings.download_chunk_size,
                )
            except PearlError as exc:
                raise CaptureError(f"download of {fid} from the Pearl failed: {exc}") from None
            self.ctx.logger.info("downloaded %s (%d bytes) from the Pearl", fid, got)
            tracks.append(
                Track(
                    path=dest,
                    flavor=self.ctx.input.flavor,
                    mimetype=mimetype_for(f"x.{entry.get('extension') or Path(fid).suffix}"),
                    input=self.ctx.input.name,
                    segment=self.ctx.segment,
                )
            )
        return tracks


class LegacyCapture(CaptureHandle):
    """A recording switched with ``rec_enabled`` whose files arrive by upload."""

    def __init__(
        self,
        ctx: CaptureContext,
        settings: EpiphanSettings,
        client: LegacyClient,
        started: float,
        before: set[Path],
        transition_lock: threading.Lock,
        claimed: set[Path],
    ) -> None:
        self.ctx = ctx
        self.settings = settings
        self.client = client
        self.started = started  # time.time()
        self.before = before
        self.stopped: float | None = None
        self.ended: str | None = None
        self._throttle = _Throttle(settings.poll_interval)
        self._lock = transition_lock
        self._claimed = claimed

    def poll(self) -> str | None:
        if self.ended is not None or self.stopped is not None:
            return self.ended
        if not self._throttle.due():
            return None
        self._throttle.at = time.monotonic()
        try:
            recording = self.client.recording(timeout=min(self.settings.request_timeout, 5.0))
        except PearlError as exc:
            self.ctx.logger.debug("cannot poll Pearl channel: %s", exc.message)
            return None
        if recording:
            return None
        self.stopped = time.time()
        self.ended = f"Pearl channel {self.client.channel} stopped recording (rec_enabled is off)"
        return self.ended

    def stop(self) -> None:
        if self.stopped is not None:
            return
        with self._lock:
            self.stopped = time.time()
            deadline = time.monotonic() + self.settings.stop_timeout
            try:
                self.client.set(rec_enabled="")
                while self.client.recording() and time.monotonic() < deadline:
                    time.sleep(self.settings.transition_poll_interval)
            except PearlError as exc:
                self.ctx.logger.error("stopping Pearl channel %s: %s", self.client.channel, exc)

    def tracks(self) -> list[Track]:
        if self.stopped is None:
            self.stop()
        self.client.close()
        assert self.settings.upload_dir is not None
        files = wait_for_uploads(
            self.settings.upload_dir,
            self.settings.upload_pattern,
            since=self.started - self.settings.clock_tolerance,
            exclude=self.before | self._claimed,
            stable_for=self.settings.upload_stable_seconds,
            timeout=self.settings.upload_timeout,
            poll=min(self.settings.poll_interval, 1.0),
            logger=self.ctx.logger,
        )
        if not files:
            raise CaptureError(
                f"no upload from the Pearl arrived in {self.settings.upload_dir} "
                f"within {self.settings.upload_timeout:g}s"
            )
        tracks = []
        for source in files:
            self._claimed.add(source)
            dest = self.ctx.directory / safe_name(source.name)
            _take(source, dest, keep=self.settings.keep_uploads)
            tracks.append(
                Track(
                    path=dest,
                    flavor=self.ctx.input.flavor,
                    mimetype=mimetype_for(source.name),
                    input=self.ctx.input.name,
                    segment=self.ctx.segment,
                )
            )
        return tracks


def _take(source: Path, dest: Path, *, keep: bool) -> None:
    """Bring an uploaded file into the recording's directory: a hard link
    when possible (no copy of gigabytes), else a copy; moved if not kept."""
    dest.unlink(missing_ok=True)
    if not keep:
        try:
            source.replace(dest)
            return
        except OSError:
            pass  # another file system: copy below, then remove
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
    if not keep:
        source.unlink(missing_ok=True)

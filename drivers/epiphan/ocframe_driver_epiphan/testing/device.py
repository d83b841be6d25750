"""The emulated Pearl itself: recorders, their asynchronous state machine and
the archive of recorded files. The HTTP layer (:mod:`.app`) only translates
requests into calls on :class:`PearlDevice`.

Transitions are asynchronous like on the hardware: ``start`` moves a recorder
to ``starting`` and a timer thread moves it to ``started`` later; ``stop``
leaves it ``started`` until the timer moves it to ``stopped``, after which the
archive entry stays ``recording: true`` until ffmpeg has written the file.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from .media import generate_recording

log = logging.getLogger("ocframe_driver_epiphan.emulator")

STATES = ("disabled", "starting", "started", "stopped", "error")
_FILE_SAFE = re.compile(r"[^A-Za-z0-9_-]+")


class DeviceError(Exception):
    """A request the device refuses; ``status`` is the HTTP code it answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ArchiveEntry:
    id: str
    name: str
    extension: str
    recorder: str
    created: datetime
    recording: bool = True
    duration: int = 0
    size: int = 0
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "extension": self.extension,
            "recording": self.recording,
            "created": self.created.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration": self.duration,
            "size": self.size,
            "recorder": self.recorder,
        }


@dataclass
class Recorder:
    id: str
    name: str
    multisource: bool = False
    state: str = "stopped"
    description: str = ""
    started_at: float | None = None  # monotonic, when it reached ``started``
    current: ArchiveEntry | None = None
    # Bumped on every start/stop so a timer of a superseded request does nothing.
    generation: int = 0
    params: dict[str, str] = field(default_factory=dict)
    stop_pending: bool = False

    @property
    def channel(self) -> str:
        """The legacy CGI channel name: recorder ``1`` is ``channel1``, ``m1`` is ``channelm1``."""
        return f"channel{self.id}"


@dataclass(frozen=True)
class InputInfo:
    id: str
    name: str
    audio: bool
    video: bool
    type: str = "embedded"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "audio": self.audio,
            "video": self.video,
            "type": self.type,
        }


DEFAULT_PARAMS = {
    "rec_enabled": "",
    "publish_enabled": "",
    "rec_format": "mp4",
    "framesize": "1920x1080",
    "fps": "30",
    "vbitrate": "5000",
    "codec": "h.264",
}


class PearlDevice:
    """State of one emulated Pearl. Thread-safe; all knobs may change at any time."""

    def __init__(
        self,
        *,
        media_dir: Path,
        recorders: list[Recorder],
        inputs: list[InputInfo],
        firmware: dict[str, Any],
        start_delay: float,
        stop_delay: float,
        upload_dir: Path | None,
        upload_chunk_delay: float,
        tz: tzinfo | None,
        ffmpeg: str | None,
        video_size: str,
    ) -> None:
        self.media_dir = media_dir
        self.recorders = {r.id: r for r in recorders}
        for r in recorders:
            r.params = {**DEFAULT_PARAMS, **r.params}
        self.inputs = inputs
        self.firmware = firmware
        self.start_delay = start_delay
        self.stop_delay = stop_delay
        self.upload_dir = upload_dir
        self.upload_chunk_delay = upload_chunk_delay
        self.tz = tz
        self.ffmpeg = ffmpeg
        self.video_size = video_size
        self.archive: dict[str, list[ArchiveEntry]] = {r.id: [] for r in recorders}
        self.lock = threading.RLock()
        self.closing = threading.Event()
        self._seq = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._errors_on_next_start: dict[str, str] = {}
        self.finished = threading.Condition(self.lock)
        self.uploaded: list[Path] = []

    # -- helpers ---------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(self.tz) if self.tz else datetime.now().astimezone()

    def recorder(self, rid: str) -> Recorder:
        try:
            return self.recorders[rid]
        except KeyError:
            raise DeviceError(404, "Recorder not found") from None

    def recorder_by_channel(self, channel: str) -> Recorder:
        for r in self.recorders.values():
            if r.channel == channel:
                return r
        raise DeviceError(404, "Channel not found")

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        def run() -> None:
            if self.closing.wait(delay):
                return
            try:
                action()
            except Exception:  # a knob or ffmpeg failure must not kill the server
                log.exception("emulated Pearl transition failed")

        t = threading.Thread(target=run, name="pearl-emulator-transition", daemon=True)
        with self.lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()

    def join(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(max(0.0, deadline - time.monotonic()))

    # -- status ----------------------------------------------------------------

    def status(self, rid: str) -> dict[str, Any]:
        with self.lock:
            r = self.recorder(rid)
            duration = 0
            if r.state == "started" and r.started_at is not None:
                duration = int(time.monotonic() - r.started_at)
            result: dict[str, Any] = {
                "state": r.state,
                "duration": duration,
                "active": "1" if r.state == "started" else "0",
                "total": "1",
            }
            if r.state == "error":
                result["description"] = r.description or "Unknown error"
            return result

    # -- control ---------------------------------------------------------------

    def start(self, rid: str) -> None:
        with self.lock:
            r = self.recorder(rid)
            if r.state == "disabled":
                raise DeviceError(409, "Recorder is disabled")
            if r.state in ("starting", "started"):
                return  # idempotent, like pressing record twice
            r.state = "starting"
            r.stop_pending = False
            r.description = ""
            r.generation += 1
            generation = r.generation
            r.params["rec_enabled"] = "on"
        self._later(self.start_delay, lambda: self._started(rid, generation))

    def _started(self, rid: str, generation: int) -> None:
        with self.lock:
            r = self.recorders[rid]
            if r.generation != generation or r.state != "starting":
                return
            error = self._errors_on_next_start.pop(rid, None)
            if error is not None:
                r.state = "error"
                r.description = error
                r.params["rec_enabled"] = ""
                return
            created = self.now()
            seq = next(self._seq)
            safe = _FILE_SAFE.sub("_", r.name)
            entry = ArchiveEntry(
                id=f"{safe}.{int(created.timestamp())}.{seq}.mp4",
                name=f"{r.name}_{created:%b%d_%H-%M-%S}",
                extension="mp4",
                recorder=rid,
                created=created,
            )
            self.archive[rid].append(entry)
            r.current = entry
            r.started_at = time.monotonic()
            r.state = "started"
            stop_pending, r.stop_pending = r.stop_pending, False
        if stop_pending:
            self.stop(rid)

    def stop(self, rid: str) -> None:
        with self.lock:
            r = self.recorder(rid)
            r.params["rec_enabled"] = ""
            if r.state == "starting":
                # Like the hardware, a recording being set up is not dropped:
                # it starts, then stops (a short file).
                r.stop_pending = True
                return
            if r.state != "started":
                return
            r.generation += 1
            generation = r.generation
        self._later(self.stop_delay, lambda: self._stopped(rid, generation))

    def _stopped(self, rid: str, generation: int) -> None:
        with self.lock:
            r = self.recorders[rid]
            if r.generation != generation or r.state != "started":
                return
            r.state = "stopped"
        self._finish_current(rid)

    def set_error(self, rid: str, description: str) -> None:
        """Put a recorder into ``error`` (signal lost, disk full...); a running
        recording ends and its file is finalised."""
        with self.lock:
            r = self.recorder(rid)
            r.generation += 1
            r.state = "error"
            r.description = description
            r.params["rec_enabled"] = ""
        self._finish_current(rid)

    def error_on_next_start(self, rid: str, description: str) -> None:
        with self.lock:
            self.recorder(rid)
            self._errors_on_next_start[rid] = description

    def set_state(self, rid: str, state: str, description: str = "") -> None:
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        with self.lock:
            r = self.recorder(rid)
            r.state = state
            r.description = description

    def _finish_current(self, rid: str) -> None:
        with self.lock:
            r = self.recorders[rid]
            entry, r.current = r.current, None
            if entry is None:
                return
            elapsed = time.monotonic() - (r.started_at or time.monotonic())
            r.started_at = None
        path = self.media_dir / entry.id
        generate_recording(path, elapsed, video_size=self.video_size, ffmpeg=self.ffmpeg)
        with self.lock:
            entry.path = path
            entry.size = path.stat().st_size
            entry.duration = round(elapsed)
            entry.recording = False
            self.finished.notify_all()
        if self.upload_dir is not None:
            self._upload(path, self.upload_dir_for(rid))

    def upload_dir_for(self, rid: str) -> Path:
        """Each channel uploads into its own folder (``<upload_dir>/channel1``)."""
        assert self.upload_dir is not None
        return self.upload_dir / f"channel{rid}"

    def _upload(self, path: Path, directory: Path) -> None:
        """Copy like the Pearl's automatic upload does: the file grows in
        place, so a watcher must wait until its size is stable."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / path.name
        with path.open("rb") as src, target.open("wb") as dst:
            while chunk := src.read(64 * 1024):
                dst.write(chunk)
                dst.flush()
                if self.upload_chunk_delay and self.closing.wait(self.upload_chunk_delay):
                    return
        shutil.copystat(path, target, follow_symlinks=False)
        # The uploader stamps the time of the upload, not of the recording.
        now = time.time()
        os.utime(target, (now, now))
        with self.lock:
            self.uploaded.append(target)
            self.finished.notify_all()

    # -- archive ---------------------------------------------------------------

    def list_archive(self, rid: str, offset: int, limit: int | None) -> list[dict[str, Any]]:
        with self.lock:
            self.recorder(rid)
            entries = self.archive[rid][offset:]
            if limit is not None:
                entries = entries[:limit]
            return [e.to_json() for e in entries]

    def entry(self, rid: str, fid: str) -> ArchiveEntry:
        with self.lock:
            self.recorder(rid)
            for e in self.archive[rid]:
                if e.id == fid:
                    return e
        raise DeviceError(404, "File not found")

    def add_file(
        self,
        rid: str,
        data: bytes | Path,
        *,
        created: datetime,
        name: str | None = None,
        extension: str = "mp4",
        duration: int = 0,
    ) -> ArchiveEntry:
        with self.lock:
            self.recorder(rid)
            seq = next(self._seq)
            fid = f"extra.{int(created.timestamp())}.{seq}.{extension}"
            path = self.media_dir / fid
            if isinstance(data, Path):
                shutil.copyfile(data, path)
            else:
                path.write_bytes(data)
            entry = ArchiveEntry(
                id=fid,
                name=name or f"extra_{seq}",
                extension=extension,
                recorder=rid,
                created=created,
                recording=False,
                duration=duration,
                size=path.stat().st_size,
                path=path,
            )
            self.archive[rid].append(entry)
            self.archive[rid].sort(key=lambda e: e.created)
            return entry

    def wait_finished(self, rid: str, count: int, timeout: float) -> list[ArchiveEntry]:
        """Block until ``rid`` has ``count`` finished recordings (tests use this)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                done = [e for e in self.archive[rid] if not e.recording and e.path is not None]
                if len(done) >= count:
                    return done
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"recorder {rid}: {len(done)} of {count} files finished")
                self.finished.wait(left)

"""Chunked, resumable ingest through the core's upload service (``/upload``).

Large tracks are sent in chunks of ``chunk_size`` bytes to an upload job
(``newjob``, then ``job/{id}`` with ``chunknumber`` before ``filedata``). The
job id is kept in the checkpoint: after a network failure or a restart the
job's ``.json`` view tells which chunk the core has, and the upload goes on
with the next one instead of starting over. The finished job's media
package (with the new track) goes on like the multi-request method (both
build on the kernel's :class:`ocframe.ingest.elements.ElementByElementIngest`);
small files (catalogs, attachments, tracks up to ``min_chunked_size``) are
added by ``addTrack``/``addCatalog``/``addAttachment``.

The upload service needs ROLE_ADMIN by default: a capture-agent user gets
403, which is reported as a permanent error (see docs/ingest.md).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field

from ocframe.errors import AuthError, CoreError, IngestError
from ocframe.ingest import (
    DigestTap,
    FilePart,
    IngestJob,
    ServiceHttp,
    StrategySettings,
    TextPart,
)
from ocframe.ingest.elements import ElementByElementIngest
from ocframe.ingest.support import UploadSettings
from ocframe.model import Track, file_md5

FILEUPLOAD = "org.opencastproject.fileupload"
MIB = 1 << 20


class ChunkedSettings(UploadSettings):
    #: Bytes per chunk; a failure costs at most one chunk (64 MiB: about 5 s at
    #: 100 Mbit/s). Each chunk is one request, which the core spools and then
    #: appends, so small chunks cost throughput. The core reads it as a Java int.
    chunk_size: int = Field(64 * MIB, ge=1024, lt=2**31,
                            description="bytes per chunk; a failure costs at most one chunk")
    #: Tracks up to this size go by ``addTrack`` (one request is cheaper).
    min_chunked_size: int = Field(64 * MIB, ge=0, description="bytes: smaller tracks are sent"
                                  " whole, in one request")
    #: How long to wait for the core to assemble the file after the last chunk.
    finalize_timeout: float = Field(600.0, gt=0, description="seconds to wait for the core to"
                                    " assemble a file after its last chunk")


class ChunkedIngest(ElementByElementIngest):
    Settings: ClassVar[type[StrategySettings]] = ChunkedSettings
    prefix: ClassVar[str] = "chunked."
    settings: ChunkedSettings

    def upload_element(self, job: IngestJob, mp: str, kind: str, key: str, track: Track,
                       progress: Callable[[int, int], None]) -> str:
        size = track.path.stat().st_size
        if kind != "track" or size <= self.settings.min_chunked_size:
            return super().upload_element(job, mp, kind, key, track, progress)
        try:
            return self._chunked(job, mp, key, track, size, progress)
        except AuthError as exc:
            raise IngestError(
                f"chunked upload refused: {exc.reason}. The upload service (/upload) needs"
                " ROLE_ADMIN; give the agent's user that role or use ingest.method ="
                " 'multirequest'", retryable=False) from None

    def _chunked(self, job: IngestJob, mp: str, key: str, track: Track, size: int,
                 progress: Callable[[int, int], None]) -> str:
        cp = job.checkpoint
        up = job.service(FILEUPLOAD)
        job_key = f"{self.prefix}job.{key}"
        job_id = cp.get(job_key)
        chunk_size = self.settings.chunk_size
        view: dict[str, Any] | None = None
        if job_id:
            view = self._view(up, job_id)
            if view is None:
                job.logger.info("%s: upload job %s is gone; starting a new one",
                                job.recording_id, job_id)
            else:
                chunk_size = int(str(view.get("chunksize") or chunk_size))
        if view is None:
            job_id = up.post_form("newjob", {
                "filename": track.path.name, "filesize": str(size), "chunksize": str(chunk_size),
                "flavor": track.flavor, "mediapackage": mp,
            }).text.strip()
            if not job_id:
                raise IngestError("/upload/newjob answered no job id")
            cp.set(job_key, job_id)
            view = {"state": "READY", "current-chunk": {"number": -1}}
        assert job_id
        total_chunks = max(1, -(-size // chunk_size))
        next_chunk = _int(view.get("current-chunk", {}).get("number"), -1) + 1
        if next_chunk:
            job.logger.info("%s: resuming upload job %s at chunk %d of %d",
                            job.recording_id, job_id, next_chunk, total_chunks)
        # Hashing covers every chunk only when all are sent by this attempt.
        tap = (DigestTap() if self.settings.verify_md5 and next_chunk == 0 and not track.md5
               else None)
        answer = ""
        for number in range(next_chunk, total_chunks):
            offset = number * chunk_size
            length = min(chunk_size, size - offset)

            def chunk_progress(sent: int, _t: int, base: int = offset) -> None:
                progress(min(base + sent, size), size)

            answer = up.post_multipart(f"job/{job_id}", [
                TextPart("chunknumber", str(number)),
                FilePart("filedata", track.path, track.path.name, track.mimetype,
                         offset=offset, length=length, tap=tap),
            ], progress=chunk_progress, rate_limit=self.settings.rate()).text
        # The core finishes the file within the last chunk's request and answers
        # with the completed job; polling is for cores that finish it later.
        payload = _completed_mediapackage(answer) or self._wait_complete(up, job_id)
        md5: str | None = track.md5
        if md5 is None and self.settings.verify_md5:
            md5 = tap.hexdigest() if tap is not None and tap.size == size else file_md5(
                track.path)
        return self.check_added(mp, payload, "track", track, md5, "/upload")

    @staticmethod
    def _view(up: ServiceHttp, job_id: str) -> dict[str, Any] | None:
        try:
            data = up.get(f"job/{job_id}.json").json()
        except CoreError as exc:
            if exc.status == 404:
                return None
            raise
        view = data.get("uploadjob", data) if isinstance(data, dict) else None
        if not isinstance(view, dict):
            raise IngestError(f"/upload/job/{job_id}.json: unexpected answer")
        return view

    def _wait_complete(self, up: ServiceHttp, job_id: str) -> str:
        """The media package with the new track, once the core assembled the file."""
        deadline = time.monotonic() + self.settings.finalize_timeout
        delay = 0.02
        while True:
            view = self._view(up, job_id)
            if view is None:
                raise IngestError(f"upload job {job_id} vanished before it completed")
            if str(view.get("state")) == "COMPLETE":
                payload = view.get("payload")
                mp = payload.get("mediapackage") if isinstance(payload, dict) else None
                if isinstance(mp, str) and mp.lstrip().startswith("<"):
                    return mp
                return _mediapackage_from_xml(up.get(f"job/{job_id}.xml").text, job_id)
            if time.monotonic() > deadline:
                raise IngestError(f"upload job {job_id} did not complete in"
                                  f" {self.settings.finalize_timeout:.0f} s")
            time.sleep(delay)  # the core assembles the file on its own; nothing to wait on
            delay = min(delay * 1.5, 2.0)


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _completed_mediapackage(job_xml: str) -> str | None:
    """The media package of an upload job's XML if the job is complete."""
    try:
        root = ET.fromstring(job_xml)
    except ET.ParseError:
        return None
    if root.tag.rsplit("}", 1)[-1] != "uploadjob" or root.get("state") != "COMPLETE":
        return None
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "mediapackage":
            return ET.tostring(el, encoding="unicode")
    return None


def _mediapackage_from_xml(text: str, job_id: str) -> str:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise IngestError(f"upload job {job_id}: unreadable answer ({exc})") from None
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "mediapackage":
            return ET.tostring(el, encoding="unicode")
    raise IngestError(f"upload job {job_id} completed without a media package")

"""Ingest (multi request, single request, zipped), chunked upload and stored files."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import re
import shutil
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import quote
from xml.sax.saxutils import escape

from werkzeug.routing import Rule
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from . import jettison
from .mediapackage import (
    MediaPackage,
    MediaPackageError,
    MPElement,
    guess_mimetype,
    parse_dublincore,
    parse_mediapackage,
    render_dublincore,
    render_mediapackage,
    render_workflow,
    valid_flavor,
    w3cdtf,
)
from .multipart import (
    READ_SIZE,
    BodyError,
    HashingWriter,
    Part,
    StoredFile,
    discard_files,
    first_value,
    multipart_boundary,
    parse_multipart,
    read_form,
)
from .records import Element, Ingest, ScheduledEvent
from .responses import bad_request, not_found, text_response, xml_response
from .zipstream import ZipStreamSink

DC_TERMS = frozenset({
    "abstract", "accessRights", "available", "contributor", "coverage", "created", "creator",
    "date", "description", "extent", "format", "identifier", "isPartOf", "isReferencedBy",
    "isReplacedBy", "language", "license", "publisher", "relation", "replaces", "rights",
    "rightsHolder", "source", "spatial", "subject", "temporal", "title", "type",
})
# Single-request fields that are neither Dublin Core nor workflow properties.
_SINGLE_REQUEST_CONTROL = frozenset({
    "flavor", "mediaUri", "tag", "episodeDCCatalog", "seriesDCCatalog", "episodeDCCatalogUri",
    "seriesDCCatalogUri", "workflowDefinitionId", "workflowInstanceId", "acl",
})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def _safe_filename(name: str, fallback: str) -> str:
    name = PurePosixPath(name.replace("\\", "/")).name
    name = _SAFE_NAME.sub("_", name).strip(" .")
    return name or fallback


@dataclass
class UploadJob:
    id: str
    filename: str
    filesize: int
    chunksize: int
    flavor: str | None
    mediapackage: str | None
    path: Path
    state: str = "READY"
    current_chunk: int = -1
    bytes_received: int = 0
    md5: Any = field(default_factory=hashlib.md5)
    payload_mediapackage: str | None = None
    url: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Held by the one request whose chunk is being written to ``path``.
    writing: threading.Lock = field(default_factory=threading.Lock)
    #: The last accepted chunk's writer, whose MD5 thread may still run; the
    #: job's MD5 is its digest once it is done (see :meth:`digest`).
    hashing: HashingWriter | None = None
    states: list[str] = field(default_factory=list)

    @property
    def chunks_total(self) -> int:
        if self.filesize <= 0:
            return 1
        return -(-self.filesize // self.chunksize)

    def expected_size(self, chunk: int) -> int:
        if chunk < self.chunks_total - 1:
            return self.chunksize
        return self.filesize - self.chunksize * (self.chunks_total - 1)

    def digest(self) -> Any:
        """The MD5 of the accepted chunks (waits for their hashing)."""
        if self.hashing is not None:
            self.hashing.close()
            self.md5, self.hashing = self.hashing.digest, None
        return self.md5


class _ZipSource(Protocol):
    def names(self) -> list[str]: ...

    def read(self, name: str) -> bytes: ...

    def extract(self, name: str) -> StoredFile: ...


class _StreamedSource:
    """Entries already written to spool files while the zip arrived."""

    def __init__(self, sink: ZipStreamSink) -> None:
        self.sink = sink
        # As zipfile: a name listed twice means its last entry.
        self.by_name = {e.name: e for e in sink.entries}

    def names(self) -> list[str]:
        return [e.name for e in self.sink.entries]

    def read(self, name: str) -> bytes:
        return self.by_name[name].stored.path.read_bytes()

    def extract(self, name: str) -> StoredFile:
        return self.sink.keep(self.by_name[name])


class _ZipFileSource:
    """A spooled zip that zipfile reads (deflated entries and other rare cases)."""

    def __init__(self, archive: zipfile.ZipFile, spool_dir: Path) -> None:
        self.archive = archive
        self.spool_dir = spool_dir

    def names(self) -> list[str]:
        return self.archive.namelist()

    def read(self, name: str) -> bytes:
        return self.archive.read(name)

    def extract(self, name: str) -> StoredFile:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        target = self.spool_dir / uuid.uuid4().hex
        digest = hashlib.md5()
        size = 0
        try:
            with self.archive.open(name) as source, open(target, "wb") as sink:
                while chunk := source.read(READ_SIZE):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except BaseException:
            target.unlink(missing_ok=True)  # e.g. a bad CRC found at the end
            raise
        leaf = name.rsplit("/", 1)[-1]
        return StoredFile(target, size, digest.hexdigest(), leaf, guess_mimetype(leaf))


class _ChunkSink:
    """Appends a chunk straight to its upload job's file while it arrives.

    The chunk is hashed into a copy of the job's MD5 (continuing after the
    previous chunk's hashing, which may still run, so an answer never waits for
    a hash), so a chunk that is refused or broken off leaves the job as it was:
    the file is cut back to its old length and the old digest stays. One
    request writes to a job at a time.
    """

    def __init__(self, job: UploadJob, number: int) -> None:
        # A retry may arrive while the broken request it replaces still winds down.
        if not job.writing.acquire(timeout=30):
            raise BodyError("another chunk of this job is being uploaded")
        try:
            with job.lock:
                if job.state not in ("READY", "INPROGRESS"):
                    raise BodyError(f"job is {job.state}")
                if number != job.current_chunk + 1 or number >= job.chunks_total:
                    raise BodyError(f"expected chunk {job.current_chunk + 1}")
                self.start = job.bytes_received
                previous = job.hashing
                digest = job.md5.copy() if previous is None else None
            handle = open(job.path, "r+b")  # noqa: SIM115 - closed in finish()/discard()
            handle.seek(self.start)
        except BaseException:
            job.writing.release()
            raise
        self.job, self.number = job, number
        self.writer = HashingWriter(handle, digest, after=previous)
        self.done = False

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def finish(self) -> None:
        self.writer.close_file()

    def commit(self) -> None:
        """The chunk is accepted (caller holds ``job.lock``)."""
        self.writer.close_file()
        self.job.hashing = self.writer
        self.job.bytes_received = self.start + self.writer.size
        self.done = True
        self.job.writing.release()

    def discard(self) -> None:
        if self.done:
            return
        self.done = True
        self.writer.close()
        os.truncate(self.job.path, self.start)
        self.job.writing.release()


class IngestEndpoints:
    """Mixed into OpencastSimulator; relies on its state attributes."""

    _lock: threading.RLock
    _events: dict[str, ScheduledEvent]
    _ingests: list[Ingest]
    _elements: dict[str, Element]
    _running_workflows: dict[str, int]
    _workflow_ids: itertools.count[int]
    _upload_jobs: dict[str, UploadJob]
    _chunked_elements: set[str]
    _stopping: threading.Event
    storage_dir: Path
    ingest_limit_reached: bool
    upload_finalize_delay: float
    default_workflow: str

    # Provided by OpencastSimulator; declared here for the type checker.
    _notify: Callable[[], None]

    def ingest_rules(self) -> list[Rule]:
        return [
            Rule("/ingest/createMediaPackage", endpoint="create_mp", methods=["GET"]),
            Rule("/ingest/createMediaPackageWithID/<mp_id>", endpoint="create_mp_with_id",
                 methods=["PUT"]),
            Rule("/ingest/addTrack", endpoint="add_element", methods=["POST"],
                 defaults={"kind": "track", "partial": False}),
            Rule("/ingest/addPartialTrack", endpoint="add_element", methods=["POST"],
                 defaults={"kind": "track", "partial": True}),
            Rule("/ingest/addCatalog", endpoint="add_element", methods=["POST"],
                 defaults={"kind": "catalog", "partial": False}),
            Rule("/ingest/addAttachment", endpoint="add_element", methods=["POST"],
                 defaults={"kind": "attachment", "partial": False}),
            Rule("/ingest/addDCCatalog", endpoint="add_dc_catalog", methods=["POST"]),
            Rule("/ingest/ingest", endpoint="ingest", methods=["POST"], defaults={"wd": None}),
            Rule("/ingest/ingest/<wd>", endpoint="ingest", methods=["POST"]),
            Rule("/ingest/addMediaPackage", endpoint="add_mediapackage", methods=["POST"],
                 defaults={"wd": None}),
            Rule("/ingest/addMediaPackage/<wd>", endpoint="add_mediapackage", methods=["POST"]),
            Rule("/ingest/addZippedMediaPackage", endpoint="add_zipped", methods=["POST"],
                 defaults={"wd": None}),
            Rule("/ingest/addZippedMediaPackage/<wd>", endpoint="add_zipped", methods=["POST"]),
            Rule("/upload/newjob", endpoint="upload_newjob", methods=["POST"]),
            Rule("/upload/job/<job_id>", endpoint="upload_job", methods=["GET", "POST"]),
            Rule("/files/mediapackage/<mp_id>/<element_id>/<path:filename>",
                 endpoint="stored_file", methods=["GET"]),
        ]

    # ------------------------------------------------------------------ storage helpers

    @property
    def _spool_dir(self) -> Path:
        return self.storage_dir / "incoming"

    def _store(
        self,
        mp_id: str,
        kind: str,
        flavor: str,
        tags: Sequence[str],
        stored: StoredFile,
        base_url: str,
        *,
        start_time: int | None = None,
        fallback_name: str = "file",
        mimetype: str | None = None,
    ) -> MPElement:
        """Move a spooled file to its final place and register the element."""
        element_id = str(uuid.uuid4())
        filename = _safe_filename(stored.filename, fallback_name)
        target_dir = self.storage_dir / "mediapackage" / mp_id / element_id
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / filename
        os.replace(stored.path, target)
        url = (f"{base_url.rstrip('/')}/files/mediapackage/{quote(mp_id)}/{element_id}/"
               f"{quote(filename)}")
        if mimetype is None:
            mimetype = guess_mimetype(filename)
            if mimetype == "application/octet-stream" and stored.content_type:
                mimetype = stored.content_type
        record = Element(
            kind=kind, id=element_id, flavor=flavor, mimetype=mimetype, tags=list(tags),
            path=target, size=stored.size, md5=stored.md5, filename=filename, url=url,
            start_time=start_time,
        )
        with self._lock:
            self._elements[element_id] = record
        return MPElement(
            kind=kind, id=element_id, flavor=flavor, mimetype=mimetype, tags=list(tags),
            url=url, size=stored.size, checksum=stored.md5,
            live=False if kind == "track" else None,
        )

    def _store_text(self, mp_id: str, kind: str, flavor: str, text: str, filename: str,
                    base_url: str) -> MPElement:
        data = text.encode("utf-8")
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        spool = self._spool_dir / uuid.uuid4().hex
        spool.write_bytes(data)
        stored = StoredFile(spool, len(data), hashlib.md5(data).hexdigest(), filename, "text/xml")
        return self._store(mp_id, kind, flavor, [], stored, base_url, mimetype="text/xml")

    # ------------------------------------------------------------------ workflows

    def _start_workflow(
        self,
        mp: MediaPackage,
        *,
        definition: str | None,
        instance_id: str | None,
        properties: dict[str, str],
        method: str,
        user: str | None,
        dublin_core: dict[str, list[str]] | None = None,
    ) -> Response:
        with self._lock:
            event = self._events.get(mp.id)
            if event is None and instance_id:
                event = self._events.get(instance_id)
            merged: dict[str, str] = {}
            if event is not None:
                # The scheduled event's settings apply unless the upload overrides them.
                merged.update(event.workflow_config)
                definition = definition or event.workflow
            merged.update(properties)
            definition = definition or self.default_workflow
            workflow_id = next(self._workflow_ids)
            elements: list[Element] = []
            for el in mp.elements:
                known = self._elements.get(el.id)
                if known is not None:
                    record = copy.deepcopy(known)
                    record.flavor = el.flavor or record.flavor
                    record.tags = list(el.tags)
                    record.mimetype = el.mimetype or record.mimetype
                else:
                    record = Element(kind=el.kind, id=el.id, flavor=el.flavor,
                                     mimetype=el.mimetype, tags=list(el.tags), path=None,
                                     size=el.size, md5=el.checksum, filename=None, url=el.url)
                elements.append(record)
            if dublin_core is None:
                dublin_core = self._episode_dc(elements)
            mp_xml = render_mediapackage(mp)
            ingest = Ingest(
                time=time.time(),
                mediapackage_id=mp.id,
                workflow_definition=definition,
                workflow_instance_id=instance_id,
                workflow_id=workflow_id,
                properties=dict(properties),
                method=method,
                tracks=[e for e in elements if e.kind == "track"],
                catalogs=[e for e in elements if e.kind == "catalog"],
                attachments=[e for e in elements if e.kind == "attachment"],
                mediapackage_xml=mp_xml,
                dublin_core=dublin_core,
                event_uid=event.uid if event is not None else None,
                user=user,
                configuration=merged,
            )
            self._ingests.append(ingest)
            self._running_workflows[mp.id] = self._running_workflows.get(mp.id, 0) + 1
        self._notify()
        return xml_response(render_workflow(workflow_id, mp, template=definition,
                                            configuration=merged, creator=user))

    @staticmethod
    def _episode_dc(elements: Sequence[Element]) -> dict[str, list[str]]:
        for el in elements:
            if el.kind == "catalog" and el.flavor == "dublincore/episode" and el.path:
                try:
                    return parse_dublincore(el.path.read_text("utf-8"))
                except (OSError, MediaPackageError):
                    return {}
        return {}

    # ------------------------------------------------------------------ multi request

    def _ep_create_mp(self, request: Request, user: str | None) -> Response:
        mp = MediaPackage(id=str(uuid.uuid4()), start=w3cdtf(datetime.now(UTC)))
        return xml_response(render_mediapackage(mp))

    def _ep_create_mp_with_id(self, request: Request, user: str | None, mp_id: str) -> Response:
        if not mp_id.strip():
            return bad_request("empty id")
        mp = MediaPackage(id=mp_id, start=w3cdtf(datetime.now(UTC)))
        return xml_response(render_mediapackage(mp))

    def _ep_add_element(self, request: Request, user: str | None, kind: str,
                        partial: bool) -> Response:
        boundary = multipart_boundary(request.content_type or "")
        if boundary is None:
            return bad_request("multipart/form-data expected")

        def before_file(name: str, filename: str, parts: Sequence[Part]) -> None:
            if any(p.is_file for p in parts):
                return  # the core stopped reading at the first file; later ones are ignored
            flavor = first_value(parts, "flavor")
            if flavor is None:
                raise BodyError("file part before flavor")
            if not valid_flavor(flavor):
                raise BodyError(f"bad flavor {flavor!r}")

        parts = parse_multipart(request.stream, boundary, self._spool_dir, before_file)
        try:
            file_index = next((i for i, p in enumerate(parts) if p.is_file), None)
            if file_index is None:
                return bad_request("no file part")
            fields = parts[:file_index]
            file_part = parts[file_index]
            flavor = first_value(fields, "flavor") or ""
            tags = [t.strip() for p in fields if p.name == "tags" and p.value
                    for t in p.value.split(",") if t.strip()]
            try:
                mp = parse_mediapackage(first_value(fields, "mediaPackage"))
            except MediaPackageError as exc:
                return bad_request(str(exc))
            start_time: int | None = None
            if partial:
                raw = first_value(fields, "startTime")
                if raw is None or not raw.strip().lstrip("-").isdigit():
                    return bad_request("startTime (ms) required")
                start_time = int(raw.strip())
            assert file_part.file is not None
            element = self._store(mp.id, kind, flavor, tags, file_part.file, request.host_url,
                                  start_time=start_time)
            file_part.file = None
            mp.elements.append(element)
            return xml_response(render_mediapackage(mp))
        finally:
            discard_files(parts)

    def _ep_add_dc_catalog(self, request: Request, user: str | None) -> Response:
        form = read_form(request.stream, request.content_type or "", self._spool_dir)
        if form is None:
            return bad_request("form expected")
        try:
            mp = parse_mediapackage(first_value(form, "mediaPackage"))
        except MediaPackageError as exc:
            return bad_request(str(exc))
        dublin_core = first_value(form, "dublinCore")
        flavor = first_value(form, "flavor") or "dublincore/episode"
        if not dublin_core or not valid_flavor(flavor):
            return bad_request("dublinCore missing or bad flavor")
        try:
            parse_dublincore(dublin_core)
        except MediaPackageError as exc:
            return bad_request(str(exc))
        name = "series.xml" if flavor.endswith("/series") else "dublincore.xml"
        mp.elements.append(self._store_text(mp.id, "catalog", flavor, dublin_core, name,
                                            request.host_url))
        return xml_response(render_mediapackage(mp))

    def _ep_ingest(self, request: Request, user: str | None, wd: str | None) -> Response:
        form = read_form(request.stream, request.content_type or "", self._spool_dir)
        if form is None:
            return bad_request("form expected")
        try:
            mp = parse_mediapackage(first_value(form, "mediaPackage"))
        except MediaPackageError as exc:
            return bad_request(str(exc))
        definition = wd or first_value(form, "workflowDefinitionId") or None
        instance_id = first_value(form, "workflowInstanceId") or None
        properties = {
            p.name: p.value or "" for p in form
            if p.name not in ("mediaPackage", "workflowDefinitionId", "workflowInstanceId")
        }
        with self._lock:
            chunked = any(e.id in self._chunked_elements for e in mp.elements)
        return self._start_workflow(mp, definition=definition, instance_id=instance_id,
                                    properties=properties, method="chunked" if chunked else "multi",
                                    user=user)

    # ------------------------------------------------------------------ single request

    def _ep_add_mediapackage(self, request: Request, user: str | None, wd: str | None) -> Response:
        boundary = multipart_boundary(request.content_type or "")
        if boundary is None:
            return bad_request("multipart/form-data expected")

        def before_file(name: str, filename: str, parts: Sequence[Part]) -> None:
            if not parts or parts[-1].name != "flavor" or not valid_flavor(parts[-1].value):
                raise BodyError("each file part needs a valid flavor right before it")

        parts = parse_multipart(request.stream, boundary, self._spool_dir, before_file)
        try:
            return self._single_request(request, user, wd, parts)
        finally:
            discard_files(parts)

    def _single_request(self, request: Request, user: str | None, wd: str | None,
                        parts: list[Part]) -> Response:
        properties: dict[str, str] = {}
        if wd is not None:
            properties = {
                p.name: p.value or "" for p in parts
                if not p.is_file and p.name not in DC_TERMS
                and p.name not in _SINGLE_REQUEST_CONTROL
            }
        dc: dict[str, list[str]] = {}
        for p in parts:
            if p.name in DC_TERMS and p.value is not None and p.value != "":
                dc.setdefault(p.name, []).append(p.value)
        has_media = any(p.is_file for p in parts) or any(
            p.name == "mediaUri" and p.value for p in parts)
        if not has_media:
            return bad_request("no media")
        episode_xml = first_value(parts, "episodeDCCatalog")
        series_xml = first_value(parts, "seriesDCCatalog")
        episode_dc: dict[str, list[str]] = {}
        if episode_xml:
            try:
                episode_dc = parse_dublincore(episode_xml)
            except MediaPackageError as exc:
                return bad_request(str(exc))
        title = (dc.get("title") or episode_dc.get("title") or [""])[0]
        if not title.strip():
            return bad_request("no title")
        mp_id = (dc.get("identifier") or episode_dc.get("identifier") or [str(uuid.uuid4())])[0]
        with self._lock:
            if self._running_workflows.get(mp_id):
                return Response("", status=409, mimetype="text/plain")
        mp = MediaPackage(id=mp_id, start=w3cdtf(datetime.now(UTC)), title=title,
                          series=(dc.get("isPartOf") or [None])[0],
                          creators=list(dc.get("creator", [])),
                          contributors=list(dc.get("contributor", [])),
                          subjects=list(dc.get("subject", [])))
        base = request.host_url
        flavor: str | None = None
        pending_tags: list[str] = []
        for p in parts:
            if p.name == "flavor":
                flavor = p.value
            elif p.name == "tag" and p.value:
                pending_tags.append(p.value)
            elif p.is_file and p.file is not None and flavor:
                mp.elements.append(self._store(mp_id, "track", flavor, pending_tags, p.file, base))
                p.file = None
                pending_tags = []
            elif p.name == "mediaUri" and p.value:
                if not flavor or not valid_flavor(flavor):
                    return bad_request("mediaUri without flavor")
                mp.elements.append(MPElement(
                    kind="track", id=str(uuid.uuid4()), flavor=flavor,
                    mimetype=guess_mimetype(p.value), tags=pending_tags, url=p.value, live=False))
                pending_tags = []
        if episode_xml:
            mp.elements.append(self._store_text(mp_id, "catalog", "dublincore/episode",
                                                episode_xml, "episode.xml", base))
        else:
            terms = [(k, v, None) for k in sorted(dc) for v in dc[k] if k != "identifier"]
            terms.append(("identifier", mp_id, None))
            mp.elements.append(self._store_text(mp_id, "catalog", "dublincore/episode",
                                                render_dublincore(terms), "episode.xml", base))
        if series_xml:
            try:
                parse_dublincore(series_xml)
            except MediaPackageError as exc:
                return bad_request(str(exc))
            mp.elements.append(self._store_text(mp_id, "catalog", "dublincore/series",
                                                series_xml, "series.xml", base))
        merged_dc = dict(episode_dc)
        merged_dc.update(dc)
        merged_dc["identifier"] = [mp_id]
        return self._start_workflow(
            mp, definition=wd or first_value(parts, "workflowDefinitionId"),
            instance_id=first_value(parts, "workflowInstanceId"), properties=properties,
            method="single", user=user, dublin_core=merged_dc)

    # ------------------------------------------------------------------ zipped

    def _ep_add_zipped(self, request: Request, user: str | None, wd: str | None) -> Response:
        if self.ingest_limit_reached:
            return text_response("Ingest limit reached, try again later", 503)
        boundary = multipart_boundary(request.content_type or "")
        fields: list[Part] = []
        parts: list[Part] = []
        zips: list[ZipStreamSink] = []

        def open_sink(name: str, filename: str, before: Sequence[Part]) -> ZipStreamSink | None:
            if zips:
                return None  # only the first file part is the package
            zips.append(ZipStreamSink(self._spool_dir))
            return zips[0]

        try:
            if boundary is not None:
                parts = parse_multipart(request.stream, boundary, self._spool_dir,
                                        open_sink=open_sink)
                file_index = next((i for i, p in enumerate(parts) if p.is_file), None)
                if file_index is None:
                    return bad_request("no zip part")
                fields = parts[:file_index]
            else:
                zips.append(ZipStreamSink(self._spool_dir))
                while chunk := request.stream.read(READ_SIZE):
                    zips[0].write(chunk)
                zips[0].finish()
            try:
                mp = self._unpack_zip(zips[0], request.host_url)
            except (MediaPackageError, zipfile.BadZipFile, BodyError, KeyError) as exc:
                return bad_request(f"bad package: {exc}")
        finally:
            for sink in zips:
                sink.discard()
            discard_files(parts)
        properties = {
            p.name: p.value or "" for p in fields
            if p.name not in ("workflowDefinitionId", "workflowInstanceId") and not p.is_file
        }
        return self._start_workflow(
            mp, definition=wd or first_value(fields, "workflowDefinitionId"),
            instance_id=first_value(fields, "workflowInstanceId"), properties=properties,
            method="zipped", user=user)

    def _unpack_zip(self, sink: ZipStreamSink, base_url: str) -> MediaPackage:
        if sink.fallback_path is not None:
            with zipfile.ZipFile(sink.fallback_path) as archive:
                return self._unpack(_ZipFileSource(archive, self._spool_dir), base_url)
        return self._unpack(_StreamedSource(sink), base_url)

    def _unpack(self, archive: _ZipSource, base_url: str) -> MediaPackage:
        """Map the manifest's elements to zip entries exactly as the core does.

        The core takes the (last) entry whose name ends in ``manifest.xml`` or
        ``index.xml`` as the media package. Every other entry is content; if
        all of them lie in one common top folder, that folder is the root and
        element URLs are relative to it, otherwise they are entry names. A URL
        is looked up verbatim (never fetched, never normalised): an absolute
        URL, a leading slash or a URL that repeats the root folder names no
        entry and the whole package is refused.
        """
        names = [n for n in archive.names() if not n.endswith("/") and "__MACOSX" not in n]
        manifests = [n for n in names if n.endswith(("manifest.xml", "index.xml"))]
        if not manifests:
            raise BodyError("no manifest found in this zip")
        manifest = manifests[-1]
        content = [n for n in names if n not in manifests]
        folders = {n.split("/", 1)[0] if "/" in n else None for n in content}
        root = next(iter(folders)) if len(folders) == 1 else None
        prefix = f"{root}/" if root is not None else ""
        mp = parse_mediapackage(archive.read(manifest).decode("utf-8"))
        unpacked: list[MPElement] = []
        for el in mp.elements:
            url = el.url or ""
            entry = prefix + url
            if entry not in content:
                raise BodyError(f"unable to map element name {url!r} to a zip entry"
                                + (f" (root folder {root!r})" if root else ""))
            stored = archive.extract(entry)
            new = self._store(mp.id, el.kind, el.flavor, el.tags, stored, base_url)
            if el.mimetype:
                new.mimetype = el.mimetype
                with self._lock:
                    self._elements[new.id].mimetype = el.mimetype
            unpacked.append(new)
        mp.elements = unpacked
        return mp

    # ------------------------------------------------------------------ chunked upload

    def _ep_upload_newjob(self, request: Request, user: str | None) -> Response:
        form = read_form(request.stream, request.content_type or "", self._spool_dir)
        if form is None:
            return bad_request("form expected")
        try:
            filesize = int(first_value(form, "filesize") or "-1")
            chunksize = int(first_value(form, "chunksize") or "-1")
        except ValueError:
            return bad_request("filesize and chunksize must be numbers")
        if filesize < 0 or chunksize <= 0:
            return bad_request("filesize and chunksize are required")
        flavor = first_value(form, "flavor") or None
        if flavor is not None and not valid_flavor(flavor):
            return bad_request("bad flavor")
        mp_text = first_value(form, "mediapackage") or None
        if mp_text is not None:
            try:
                parse_mediapackage(mp_text)
            except MediaPackageError as exc:
                return bad_request(str(exc))
        job_id = str(uuid.uuid4())
        job_dir = self.storage_dir / "upload" / job_id
        job_dir.mkdir(parents=True, exist_ok=True)
        filename = _safe_filename(first_value(form, "filename") or "", "upload")
        job = UploadJob(id=job_id, filename=filename, filesize=filesize, chunksize=chunksize,
                        flavor=flavor, mediapackage=mp_text, path=job_dir / filename)
        job.path.touch()
        job.states.append(job.state)
        with self._lock:
            self._upload_jobs[job_id] = job
        self._notify()
        return text_response(job_id)

    def _ep_upload_job(self, request: Request, user: str | None, job_id: str) -> Response:
        if request.method == "GET":
            for suffix in (".json", ".xml"):
                if job_id.endswith(suffix):
                    return self._upload_job_view(job_id[: -len(suffix)], suffix[1:])
            return self._upload_job_view(job_id, "xml")
        with self._lock:
            job = self._upload_jobs.get(job_id)
        if job is None:
            return not_found()
        boundary = multipart_boundary(request.content_type or "")
        if boundary is None:
            return bad_request("multipart/form-data expected")

        def before_file(name: str, filename: str, parts: Sequence[Part]) -> None:
            number = first_value(parts, "chunknumber")
            if number is None:
                raise BodyError("chunknumber must come before filedata")
            if not number.strip().isdigit() or int(number) != job.current_chunk + 1:
                raise BodyError(f"expected chunk {job.current_chunk + 1}, got {number}")

        def open_sink(name: str, filename: str, parts: Sequence[Part]) -> _ChunkSink | None:
            if name != "filedata" or any(p.is_file for p in parts):
                return None
            return _ChunkSink(job, int(first_value(parts, "chunknumber") or "-1"))

        parts = parse_multipart(request.stream, boundary, self._spool_dir, before_file,
                                open_sink)
        try:
            chunk_part = next((p for p in parts if p.is_file and p.name == "filedata"), None)
            if chunk_part is None or not isinstance(chunk_part.sink, _ChunkSink):
                return bad_request("no filedata part")
            sink: _ChunkSink = chunk_part.sink
            number = sink.number
            size = sink.writer.size
            with job.lock:
                if size != job.expected_size(number):
                    return bad_request(
                        f"chunk {number} must be {job.expected_size(number)} bytes, got {size}")
                sink.commit()
                job.current_chunk = number
                job.state = "INPROGRESS"
                job.states.append(job.state)
                last = number == job.chunks_total - 1
                if last:
                    job.state = "FINALIZING"
                    job.states.append(job.state)
                    if self.upload_finalize_delay > 0:
                        threading.Thread(target=self._finalize_upload,
                                         args=(job, request.host_url), daemon=True).start()
            if last and self.upload_finalize_delay <= 0:
                # As the real core does: the file is added within the last chunk's
                # request, which answers with the completed job.
                self._finalize_upload(job, request.host_url)
            self._notify()
            return self._upload_job_view(job.id, "xml")
        finally:
            discard_files(parts)

    def _finalize_upload(self, job: UploadJob, base_url: str) -> None:
        # The real core assembles the file asynchronously; clients must poll.
        self._stopping.wait(self.upload_finalize_delay)
        try:
            with job.lock:
                if job.mediapackage and job.flavor:
                    mp = parse_mediapackage(job.mediapackage)
                    stored = StoredFile(job.path, job.bytes_received, job.digest().hexdigest(),
                                        job.filename, guess_mimetype(job.filename))
                    # Keep a copy at the job path so the job can still be downloaded.
                    spool = self._spool_dir / uuid.uuid4().hex
                    self._spool_dir.mkdir(parents=True, exist_ok=True)
                    try:
                        os.link(job.path, spool)
                    except OSError:
                        shutil.copyfile(job.path, spool)
                    stored.path = spool
                    element = self._store(mp.id, "track", job.flavor, [], stored, base_url)
                    with self._lock:
                        self._chunked_elements.add(element.id)
                    mp.elements.append(element)
                    job.payload_mediapackage = render_mediapackage(mp)
                    job.url = element.url
                job.state = "COMPLETE"
                job.states.append(job.state)
        except (OSError, MediaPackageError):
            job.state = "COMPLETE"
            job.states.append(job.state)
        self._notify()

    def upload_job_states(self, job_id: str) -> list[str]:
        with self._lock:
            job = self._upload_jobs.get(job_id)
        return list(job.states) if job else []

    def _upload_job_view(self, job_id: str, fmt: str) -> Response:
        with self._lock:
            job = self._upload_jobs.get(job_id)
        if job is None:
            return not_found()
        with job.lock:
            payload: dict[str, Any] = {
                "flavor": job.flavor or "",
                "totalsize": job.filesize,
                "currentsize": job.bytes_received,
                "url": job.url or "",
            }
            if job.payload_mediapackage:
                payload["mediapackage"] = job.payload_mediapackage
            view = {
                "id": job.id,
                "state": job.state,
                "filename": job.filename,
                "filesize": job.filesize,
                "chunksize": job.chunksize,
                "chunks-total": job.chunks_total,
                "current-chunk": {"number": job.current_chunk,
                                  "bytes-received": job.bytes_received},
                "payload": payload,
            }
        if fmt == "json":
            converted = {k: (jettison.scalar(v) if not isinstance(v, dict)
                             else {kk: jettison.scalar(vv) if kk != "mediapackage" else vv
                                   for kk, vv in v.items()})
                         for k, v in view.items()}
            return Response(json.dumps({"uploadjob": converted}), mimetype="application/json")
        mp_xml = job.payload_mediapackage or ""
        if mp_xml.startswith("<?xml"):
            mp_xml = mp_xml[mp_xml.index("?>") + 2:]
        return xml_response(
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<uploadjob id="{job.id}" state="{job.state}">'
            f"<filename>{escape(job.filename)}</filename><filesize>{job.filesize}</filesize>"
            f"<chunksize>{job.chunksize}</chunksize><chunks-total>{job.chunks_total}</chunks-total>"
            f'<current-chunk><number>{job.current_chunk}</number>'
            f"<bytes-received>{job.bytes_received}</bytes-received></current-chunk>"
            f"<payload><flavor>{escape(job.flavor or '')}</flavor>"
            f"<totalsize>{job.filesize}</totalsize><currentsize>{job.bytes_received}</currentsize>"
            f"<url>{escape(job.url or '')}</url>{mp_xml}</payload></uploadjob>"
        )

    # ------------------------------------------------------------------ stored files

    def _ep_stored_file(self, request: Request, user: str | None, mp_id: str, element_id: str,
                        filename: str) -> Response:
        with self._lock:
            record = self._elements.get(element_id)
        if record is None or record.path is None or record.filename != filename:
            return not_found()
        if not record.path.exists():
            return not_found()
        return send_file(record.path, request.environ,
                         mimetype=record.mimetype or "application/octet-stream",
                         conditional=True, max_age=None)

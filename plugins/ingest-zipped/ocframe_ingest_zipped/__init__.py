"""Zipped ingest: the recording as one zip, built while it is sent.

``addZippedMediaPackage/{workflow}`` receives a multipart request whose
workflow fields come first and whose last part is a zip of ``manifest.xml``
(a media package XML whose element URLs are entry paths) and the files,
stored uncompressed (video does not compress, and the core must unzip it).
No zip is written to disk and none is held in memory (see ``zipstream``).
The CRC-32 of each file is computed in a first pass and kept in the
checkpoint, so a retry does not read the files twice again. ``503`` (the
core's ingest limit) is retried later.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from typing import ClassVar
from urllib.parse import quote

from pydantic import Field

from ocframe.errors import CoreError, IngestError
from ocframe.ingest import (
    DigestTap,
    FilePart,
    IngestJob,
    IngestResult,
    IngestStrategy,
    StrategySettings,
    StreamPart,
    TextPart,
)
from ocframe.ingest.support import (
    UploadSettings,
    earlier_result,
    element_lists,
    finish_one_request,
    iso,
    tap_for,
    workflow_fields,
    xml_text,
)
from ocframe.model import Track, safe_name

from .zipstream import Entry, build, crc32_file

P = "zipped."
MP_NS = "http://mediapackage.opencastproject.org"


class ZippedSettings(UploadSettings):
    #: Write zip64 records even for small packages (for tests of readers).
    force_zip64: bool = Field(False, description="write zip64 records even for small packages"
                              " (for testing zip readers)")


class ZippedIngest(IngestStrategy):
    Settings: ClassVar[type[StrategySettings]] = ZippedSettings
    settings: ZippedSettings

    def ingest(self, job: IngestJob) -> IngestResult:
        cp = job.checkpoint
        if (earlier := earlier_result(cp, P, job.event.uid)) is not None:
            return earlier
        mp_id = job.event.uid if job.link == "mediapackage_id" else cp.get(P + "mpid")
        if mp_id is None:
            # Legacy link: a fixed random id, so a retry sends the same package.
            mp_id = str(uuid.uuid4())
            cp.set(P + "mpid", mp_id)
        files = element_lists(job)
        # Entries at the top level: the core treats a folder that all content
        # entries share as the zip's root and looks URLs up below it, so
        # "media/x.mp4" in a tracks-only package would name no entry.
        names = [f"{i}-{safe_name(t.path.name)}" for i, (_, _, t) in enumerate(files)]
        manifest = self.manifest(job, mp_id, files, names)
        entries = [Entry("manifest.xml", manifest, zlib.crc32(manifest))]
        sent: list[tuple[Track, str, DigestTap | None]] = []
        for (kind, _, track), name in zip(files, names, strict=True):
            tap = tap_for(self.settings, track)
            entries.append(Entry(name, FilePart("zip", track.path, tap=tap), self.crc(job, track)))
            sent.append((track, kind, tap))
        archive = build(entries, job.event.start, force_zip64=self.settings.force_zip64)
        parts = [TextPart(k, v) for k, v in workflow_fields(job, with_definition=False)]
        parts.append(StreamPart("BODY", f"{safe_name(mp_id)}.zip", "application/zip", archive))
        path = "addZippedMediaPackage"
        if job.workflow_definition:
            # The definition may come from the calendar: one path segment, quoted.
            path += "/" + quote(job.workflow_definition, safe="")
        if cp.get(P + "sent"):
            job.logger.warning("%s: an earlier zipped ingest got no answer; the core may already"
                               " run a workflow for it, sending again", job.recording_id)
        cp.set(P + "sent", repr(time.time()))
        try:
            resp = job.http.post_multipart(path, parts, progress=job.progress,
                                           rate_limit=self.settings.rate())
        except CoreError as exc:
            if exc.status is not None:
                cp.set(P + "sent", "")  # answered: no workflow was started
            if exc.status == 503:
                raise IngestError("addZippedMediaPackage: the core's ingest limit is reached"
                                  " (503); retrying later") from None
            raise
        return finish_one_request(cp, P, resp.text, sent, "addZippedMediaPackage", mp_id)

    @staticmethod
    def crc(job: IngestJob, track: Track) -> int:
        """CRC-32 of a file, remembered (with size and mtime) across attempts."""
        st = track.path.stat()
        key = f"{P}crc.{track.path}"
        stamp = f"{st.st_size}:{st.st_mtime_ns}:"
        known = job.checkpoint.get(key)
        if known and known.startswith(stamp):
            return int(known[len(stamp):])
        crc = crc32_file(track.path)
        job.checkpoint.set(key, f"{stamp}{crc}")
        return crc

    @staticmethod
    def manifest(job: IngestJob, mp_id: str, files: list[tuple[str, str, Track]],
                 names: list[str]) -> bytes:
        ET.register_namespace("", MP_NS)
        q = f"{{{MP_NS}}}"
        ev = job.event
        root = ET.Element(q + "mediapackage", id=xml_text(mp_id), start=iso(ev.start),
                          duration=str(int(ev.duration_seconds() * 1000)))
        if ev.title:
            ET.SubElement(root, q + "title").text = xml_text(ev.title)
        if ev.series_id:
            ET.SubElement(root, q + "series").text = xml_text(ev.series_id)
        groups = {"track": ET.SubElement(root, q + "media"),
                  "catalog": ET.SubElement(root, q + "metadata"),
                  "attachment": ET.SubElement(root, q + "attachments")}
        for i, ((kind, _, track), name) in enumerate(zip(files, names, strict=True)):
            el = ET.SubElement(groups[kind], q + kind, id=f"{kind}-{i}",
                               type=xml_text(track.flavor))
            ET.SubElement(el, q + "mimetype").text = xml_text(track.mimetype)
            tags = ET.SubElement(el, q + "tags")
            for tag in track.tags:
                ET.SubElement(tags, q + "tag").text = xml_text(tag)
            ET.SubElement(el, q + "url").text = name
            ET.SubElement(el, q + "size").text = str(track.path.stat().st_size)
            if kind == "track":
                ET.SubElement(el, q + "live").text = "false"
        ET.SubElement(root, q + "publications")
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

"""Multi-request ingest: the method Opencast recommends for capture agents.

The media package is created (with the event UID as its id, so the core
links it to the scheduled event), each element is added by its own
request, then ``ingest`` starts the workflow. The media package returned by
every step is saved in the job's checkpoint, so a failed element is retried
alone and, after a crash, only the elements the core does not have yet are
sent again.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import ClassVar

from ocframe.errors import IngestError
from ocframe.ingest import IngestJob, IngestResult, IngestStrategy, StrategySettings
from ocframe.model import Track
from ocframe.opencast.http import FilePart, TextPart

MP_KEY = "multirequest.mediapackage"
DONE_PREFIX = "multirequest.done."


class MultiRequestSettings(StrategySettings):
    #: Upload rate limit in bytes per second (0: unlimited).
    rate_limit: int = 0


class MultiRequestIngest(IngestStrategy):
    Settings: ClassVar[type[StrategySettings]] = MultiRequestSettings

    def ingest(self, job: IngestJob) -> IngestResult:
        http = job.http
        cp = job.checkpoint
        mp = cp.get(MP_KEY)
        if mp is None:
            if job.link == "mediapackage_id":
                mp = http.put(f"createMediaPackageWithID/{job.recording_id}").text
            else:
                mp = http.get("createMediaPackage").text
            cp.set(MP_KEY, mp)
        elements: list[tuple[str, str, Track]] = (
            [("addTrack", f"track.{i}", t) for i, t in enumerate(job.package.tracks)]
            + [("addCatalog", f"catalog.{i}", t) for i, t in enumerate(job.package.catalogs)]
            + [("addAttachment", f"attachment.{i}", t)
               for i, t in enumerate(job.package.attachments)]
        )
        total = sum(t.path.stat().st_size for _, _, t in elements)
        base = 0
        for endpoint, key, track in elements:
            size = track.path.stat().st_size
            if cp.get(DONE_PREFIX + key):
                base += size
                continue
            parts = [TextPart("flavor", track.flavor)]
            if track.tags:
                parts.append(TextPart("tags", ",".join(track.tags)))
            parts.append(TextPart("mediaPackage", mp))
            parts.append(FilePart("BODY", track.path, track.path.name, track.mimetype))
            offset = base
            resp = http.post_multipart(
                endpoint,
                parts,
                progress=lambda sent, _t, o=offset: job.progress(min(o + sent, total), total),
                rate_limit=float(self.settings.rate_limit) or None,
            )
            mp = resp.text
            _check_mediapackage(mp, endpoint)
            cp.set(MP_KEY, mp)
            cp.set(DONE_PREFIX + key, "1")
            base += size
        if job.legacy_catalogs and not cp.get(DONE_PREFIX + "dc"):
            for name, flavor in (("episode.xml", "dublincore/episode"),
                                 ("series.xml", "dublincore/series")):
                data = job.event.attachments.get(name)
                if data:
                    mp = http.post_form("addDCCatalog", {
                        "mediaPackage": mp, "dublinCore": data.decode("utf-8"), "flavor": flavor,
                    }).text
            cp.set(MP_KEY, mp)
            cp.set(DONE_PREFIX + "dc", "1")
        fields: list[tuple[str, str]] = [("mediaPackage", mp)]
        if job.workflow_definition:
            fields.append(("workflowDefinitionId", job.workflow_definition))
        if job.link == "workflow_instance_id":
            fields.append(("workflowInstanceId", job.recording_id))
        fields.extend(sorted(job.workflow_properties.items()))
        resp = http.post_form("ingest", fields, timeout=(job.http.core.core.timeout, 600.0))
        return IngestResult(
            mediapackage_id=_mediapackage_id(mp) or job.recording_id,
            workflow_id=_workflow_id(resp.text),
        )


def _check_mediapackage(xml: str, endpoint: str) -> None:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise IngestError(f"{endpoint}: the core answered no media package ({exc})") from None
    if not root.tag.endswith("mediapackage"):
        raise IngestError(f"{endpoint}: the core answered <{root.tag}>, not a media package")


def _mediapackage_id(xml: str) -> str | None:
    try:
        return ET.fromstring(xml).get("id")
    except ET.ParseError:
        return None


def _workflow_id(xml: str) -> str | None:
    m = re.search(r"<(?:\w+:)?workflow\b[^>]*\bid=\"([^\"]+)\"", xml)
    return m.group(1) if m else None

"""Single-request ingest: the whole recording in one ``addMediaPackage`` call.

One streamed multipart request carries the Dublin Core terms of the event
(``identifier`` = event UID links it to the scheduled event), the workflow
settings, then ``flavor`` + file for each track in order. It is the simplest
method for the core, but a failure means sending everything again, and it
can carry only tracks and the episode/series Dublin Core catalogs.
"""

from __future__ import annotations

import time
from typing import ClassVar
from urllib.parse import quote

from ocframe.errors import CoreError, IngestError
from ocframe.ingest import (
    DigestTap,
    FilePart,
    IngestJob,
    IngestResult,
    IngestStrategy,
    Part,
    StrategySettings,
    TextPart,
)
from ocframe.ingest.support import (
    UploadSettings,
    dublin_core_fields,
    earlier_result,
    finish_one_request,
    tap_for,
    workflow_fields,
)
from ocframe.model import Track

P = "single."
DC_CATALOG_FIELDS = {"dublincore/episode": "episodeDCCatalog",
                     "dublincore/series": "seriesDCCatalog"}


class SingleSettings(UploadSettings):
    pass


class SingleRequestIngest(IngestStrategy):
    Settings: ClassVar[type[StrategySettings]] = SingleSettings
    settings: UploadSettings

    def ingest(self, job: IngestJob) -> IngestResult:
        cp = job.checkpoint
        if (earlier := earlier_result(cp, P, job.event.uid)) is not None:
            return earlier
        identifier = job.event.uid if job.link == "mediapackage_id" else None
        parts: list[Part] = [TextPart(k, v)
                             for k, v in dublin_core_fields(job.event, identifier=identifier)]
        for catalog in job.package.catalogs:
            field = DC_CATALOG_FIELDS.get(catalog.flavor)
            if field is None:
                raise IngestError(
                    f"the single request method cannot carry catalog {catalog.flavor}"
                    f" ({catalog.path.name}); use ingest.method = 'multirequest'",
                    retryable=False)
            parts.append(TextPart(field, catalog.path.read_text("utf-8")))
        if job.package.attachments:
            names = ", ".join(a.path.name for a in job.package.attachments)
            raise IngestError(f"the single request method cannot carry attachments ({names});"
                              " use ingest.method = 'multirequest'", retryable=False)
        # Workflow settings are honoured only with the definition in the path.
        parts.extend(TextPart(k, v) for k, v in workflow_fields(job, with_definition=False))
        sent: list[tuple[Track, str, DigestTap | None]] = []
        for track in job.package.tracks:
            tap = tap_for(self.settings, track)
            parts.extend(TextPart("tag", t) for t in track.tags)
            parts.append(TextPart("flavor", track.flavor))
            parts.append(FilePart("BODY", track.path, track.path.name, track.mimetype, tap=tap))
            sent.append((track, "track", tap))
        path = "addMediaPackage"
        if job.workflow_definition:
            # The definition may come from the calendar: one path segment, quoted.
            path += "/" + quote(job.workflow_definition, safe="")
        retry_after_lost_answer = bool(cp.get(P + "sent"))
        cp.set(P + "sent", repr(time.time()))
        try:
            resp = job.http.post_multipart(path, parts, progress=job.progress,
                                           rate_limit=self.settings.rate())
        except CoreError as exc:
            if exc.status == 409:
                if retry_after_lost_answer and identifier:
                    # Our earlier request started it; only its answer was lost.
                    job.logger.info("%s: the core already runs the workflow started by the"
                                    " previous attempt", job.recording_id)
                    cp.set(P + "workflow", "")
                    return IngestResult(identifier, None, "workflow already running")
                raise IngestError("addMediaPackage: the core already runs a workflow for"
                                  f" media package {identifier} (409); retrying later") from None
            if exc.status is not None:
                cp.set(P + "sent", "")
            raise
        # The workflow runs from here on: a mismatch is reported, never re-sent.
        return finish_one_request(cp, P, resp.text, sent, "addMediaPackage", job.event.uid)

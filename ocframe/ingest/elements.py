"""Element by element: the resumable ingest sequence Opencast recommends for
capture agents, as a base class (public plugin API).

The media package is created (with the event UID as its id, so the core
links it to the scheduled event; or with a random id and the legacy
``workflowInstanceId`` link), each element is added on its own, then
``ingest`` starts the workflow. The media package returned by every step is
saved in the job's checkpoint, so a failed element is retried alone and,
after a crash, only the elements the core does not have yet are sent again.
Each answer is checked: the new element must carry the size (and MD5) of
what was sent.

A strategy subclasses :class:`ElementByElementIngest`, sets
:attr:`~ElementByElementIngest.prefix` and, to send some elements another way
(the chunked upload service), overrides
:meth:`~ElementByElementIngest.upload_element` and calls ``super()`` for the rest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import ClassVar
from urllib.parse import quote

from ..errors import CoreError, IngestError
from ..model import Track
from . import FilePart, IngestJob, IngestResult, IngestStrategy, StrategySettings, TextPart
from .support import (
    UploadSettings,
    element_lists,
    expected_md5,
    new_element,
    parse_answer,
    tap_for,
    verify_element,
    workflow_fields,
    workflow_id,
)

#: The ingest endpoint that adds one element of each kind.
ENDPOINTS = {"track": "addTrack", "catalog": "addCatalog", "attachment": "addAttachment"}
#: The core may take long to start a workflow on a loaded system.
INGEST_READ_TIMEOUT = 600.0


class ElementByElementIngest(IngestStrategy):
    """Create the media package, add each element, start the workflow once."""

    Settings: ClassVar[type[StrategySettings]] = UploadSettings
    #: Checkpoint keys of the strategy start with this (``"multirequest."``):
    #: a method switch between attempts must not reuse another method's notes.
    prefix: ClassVar[str] = ""

    settings: UploadSettings

    def __init__(self, settings: StrategySettings) -> None:
        if not self.prefix:
            raise TypeError(f"{type(self).__name__} must set a checkpoint prefix")
        super().__init__(settings)

    def ingest(self, job: IngestJob) -> IngestResult:
        mp, done = self.state(job)
        elements = element_lists(job)
        sizes = [t.path.stat().st_size for _, _, t in elements]
        total = sum(sizes)
        base = 0
        for (kind, key, track), size in zip(elements, sizes, strict=True):
            if key in done:
                base += size
                continue

            def progress(sent: int, _total: int, offset: int = base) -> None:
                job.progress(min(offset + sent, total), total)

            mp = self.upload_element(job, mp, kind, key, track, progress)
            done.add(key)
            self.save(job, mp, done)
            base += size
        return self.start_workflow(job, mp)

    def state(self, job: IngestJob) -> tuple[str, set[str]]:
        """The media package so far and the elements it holds, from the
        checkpoint, or a new media package."""
        saved = job.checkpoint.get(self.prefix + "state")
        if saved:
            data = json.loads(saved)
            return data["mediapackage"], set(data["done"])
        if job.link == "mediapackage_id":
            mp = job.http.put(f"createMediaPackageWithID/{quote(job.event.uid, safe='')}").text
        else:
            mp = job.http.get("createMediaPackage").text
        parse_answer(mp, "createMediaPackage")
        self.save(job, mp, set())
        return mp, set()

    def save(self, job: IngestJob, mp: str, done: set[str]) -> None:
        """Remember the media package and the keys of the elements it holds."""
        # One key, so a crash never leaves a media package and its list of
        # finished elements out of step.
        job.checkpoint.set(self.prefix + "state",
                           json.dumps({"mediapackage": mp, "done": sorted(done)}))

    def upload_element(self, job: IngestJob, mp: str, kind: str, key: str, track: Track,
                       progress: Callable[[int, int], None]) -> str:
        """Add one element with one streamed request; returns the new media package.

        ``key`` names the element in the checkpoint (``track.0``), for
        overrides that keep notes of their own about it.
        """
        endpoint = ENDPOINTS[kind]
        tap = tap_for(self.settings, track)
        parts: list[TextPart | FilePart] = [TextPart("flavor", track.flavor)]
        if track.tags:
            parts.append(TextPart("tags", ",".join(track.tags)))
        parts.append(TextPart("mediaPackage", mp))
        parts.append(FilePart("BODY", track.path, track.path.name, track.mimetype, tap=tap))
        resp = job.http.post_multipart(endpoint, parts, progress=progress,
                                       rate_limit=self.settings.rate())
        return self.check_added(mp, resp.text, kind, track, expected_md5(track, tap),
                                endpoint)

    @staticmethod
    def check_added(before: str, after: str, kind: str, track: Track, md5: str | None,
                    what: str) -> str:
        """Verify that ``after`` holds a new ``kind`` element with the size (and
        MD5) of ``track``; returns ``after``, the media package to go on with."""
        _, old = parse_answer(before, what)
        _, new = parse_answer(after, what)
        element = new_element(old, new, kind, track.flavor)
        if element is None:
            raise IngestError(f"{what}: the core's answer lacks the new {kind} {track.flavor}")
        verify_element(element, track.path.stat().st_size, md5, f"{what} {track.path.name}")
        return after

    def start_workflow(self, job: IngestJob, mp: str) -> IngestResult:
        """Call ``ingest`` at most once per successful answer.

        The intent is written before the request; the workflow id right after
        the answer. A retry that finds the workflow id returns it without
        asking again. A retry that finds only the intent cannot tell whether
        the core started the workflow (the answer was lost, or we crashed
        before writing it): the core offers a capture agent no way to ask, so
        it sends again and says so in the log (docs/ingest.md).
        """
        cp = job.checkpoint
        mp_id, _ = parse_answer(mp, "media package")
        done = cp.get(self.prefix + "workflow")
        if done is not None:
            return IngestResult(mp_id, done or None, "workflow started by an earlier attempt")
        if cp.get(self.prefix + "ingest.sent"):
            job.logger.warning(
                "%s: an earlier ingest request got no answer; the core may already run a"
                " workflow for it, sending again", job.recording_id)
        fields = [("mediaPackage", mp), *workflow_fields(job)]
        cp.set(self.prefix + "ingest.sent", repr(time.time()))
        try:
            resp = job.http.post_form(
                "ingest", fields, timeout=(job.http.timeout, INGEST_READ_TIMEOUT))
        except CoreError as exc:
            if exc.status is not None:
                # The core answered with an error: it did not start a workflow.
                cp.set(self.prefix + "ingest.sent", "")
            raise
        wid = workflow_id(resp.text)
        cp.set(self.prefix + "workflow", wid or "")
        return IngestResult(mediapackage_id=mp_id or job.recording_id, workflow_id=wid)


__all__ = ["ElementByElementIngest"]

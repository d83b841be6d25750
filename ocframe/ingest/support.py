"""What ingest strategies share: settings, reading the core's media package
answers, verifying what the core stored, Dublin Core and workflow fields,
and the checkpoint steps of a one-request ingest (public plugin API).

It lives in the kernel so that each strategy distribution installs alone
(``pip install ocframe ocframe-ingest-zipped``); see docs/plugin-api.md.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import Field

from ..errors import IngestError
from ..model import Event, Track
from . import Checkpoint, DigestTap, IngestJob, IngestResult, StrategySettings


class UploadSettings(StrategySettings):
    """Settings every strategy accepts."""

    #: Upload rate limit in bytes per second (0: unlimited), e.g. to spare a
    #: shared uplink during lectures.
    rate_limit: int = Field(0, ge=0, description="upload rate limit in bytes per second"
                            " (0: unlimited)")
    #: Compare the MD5 of what was sent with the checksum the core reports
    #: (hashed on a helper thread while sending; costs CPU, not time).
    verify_md5: bool = Field(True, description="compare the MD5 of what was sent with the"
                             " checksum the core reports")

    def rate(self) -> float | None:
        return float(self.rate_limit) or None


@dataclass(frozen=True)
class MPElement:
    """One element of a media package as the core describes it."""

    kind: str  # track | catalog | attachment
    id: str
    flavor: str
    size: int | None
    checksum: str | None
    url: str | None


_KINDS = {"track": "track", "catalog": "catalog", "attachment": "attachment"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def _find_mediapackage(root: ET.Element) -> ET.Element | None:
    if _local(root.tag) == "mediapackage":
        return root
    for el in root.iter():
        if _local(el.tag) == "mediapackage":
            return el
    return None


def parse_answer(xml: str, what: str) -> tuple[str, list[MPElement]]:
    """(media package id, elements) of a media package or a workflow holding one."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise IngestError(f"{what}: the core answered no XML ({exc})") from None
    mp = _find_mediapackage(root)
    if mp is None:
        raise IngestError(f"{what}: the core answered <{_local(root.tag)}> without a media package")
    elements: list[MPElement] = []
    for el in mp.iter():
        kind = _KINDS.get(_local(el.tag))
        if kind is None or el.get("id") is None:
            continue
        fields = {_local(c.tag): (c.text or "").strip() for c in el}
        size = fields.get("size")
        elements.append(MPElement(
            kind=kind, id=el.get("id", ""), flavor=el.get("type", ""),
            size=int(size) if size and size.isascii() and size.isdigit() else None,
            checksum=fields.get("checksum") or None, url=fields.get("url") or None,
        ))
    return mp.get("id", ""), elements


def workflow_id(xml: str) -> str | None:
    """The id of the workflow in the core's answer to an ingest, if any."""
    m = re.search(r"<(?:[\w.-]+:)?workflow\b[^>]*?\bid=\"([^\"]+)\"", xml)
    return m.group(1) if m else None


def verify_element(element: MPElement, size: int, md5: str | None, what: str) -> None:
    """A mismatch means the bytes were damaged on the way: retry the upload."""
    if element.size is not None and element.size != size:
        raise IngestError(f"{what}: the core stored {element.size} bytes, we sent {size}")
    if md5 and element.checksum and element.checksum.lower() != md5.lower():
        raise IngestError(f"{what}: the core's MD5 {element.checksum} differs from ours {md5}")


def new_element(before: Iterable[MPElement], after: Iterable[MPElement], kind: str,
                flavor: str) -> MPElement | None:
    """The element an add request created: new in ``after``, of ``kind``,
    preferably of ``flavor`` (the core may rewrite a flavor)."""
    known = {e.id for e in before}
    fresh = [e for e in after if e.id not in known and e.kind == kind]
    for e in fresh:
        if e.flavor == flavor:
            return e
    return fresh[-1] if fresh else None


def verify_tracks(answer_xml: str, sent: list[tuple[Track, str, DigestTap | None]],
                  what: str) -> None:
    """Match elements of a finished ingest to the files sent and verify the
    ones the core reports a size or checksum for.

    An element is matched by flavor (in order), else by size: the core may
    rewrite a flavor, and an answer that says less (no size, no checksum)
    is taken at its word."""
    _, elements = parse_answer(answer_xml, what)
    pool = list(elements)
    for track, kind, tap in sent:
        size = track.path.stat().st_size
        match = next((e for e in pool if e.kind == kind and e.flavor == track.flavor), None)
        if match is None:
            match = next((e for e in pool if e.kind == kind and e.size == size), None)
        if match is None:
            raise IngestError(f"{what}: the core's media package lacks {kind} {track.flavor}"
                              f" ({track.path.name})")
        pool.remove(match)
        verify_element(match, size, expected_md5(track, tap), f"{what} ({track.path.name})")


def tap_for(settings: UploadSettings, track: Track | None = None) -> DigestTap | None:
    """Hash while sending only when the kernel has not hashed the file already."""
    if not settings.verify_md5 or (track is not None and track.md5):
        return None
    return DigestTap()


def expected_md5(track: Track, tap: DigestTap | None) -> str | None:
    """The MD5 to verify the core's answer against: the kernel's, else the one
    hashed while sending."""
    return track.md5 or (tap.hexdigest() if tap else None)


# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Untrusted text (a title from the calendar) made fit for an XML document
    or a field the core writes into one: characters XML cannot carry become
    spaces. Escaping ``<``/``&`` is left to the XML writer."""
    return _NOT_XML.sub(" ", text)


def iso(moment: datetime) -> str:
    """UTC, whole seconds, as the core writes times (``2024-05-01T08:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dublin_core_fields(event: Event, *, identifier: str | None) -> list[tuple[str, str]]:
    """Dublin Core terms of an event as single-request form fields."""
    fields: list[tuple[str, str]] = [("title", event.title or event.uid)]
    if identifier:
        fields.append(("identifier", identifier))
    if event.series_id:
        fields.append(("isPartOf", event.series_id))
    location = event.properties.get("event.location") or event.location
    if location:
        fields.append(("spatial", location))
    fields.append(("temporal", f"start={iso(event.start)}; end={iso(event.end)}; scheme=W3C-DTF;"))
    fields.append(("created", iso(event.start)))
    for key, term in (("event.creator", "creator"), ("event.contributor", "contributor"),
                      ("event.subject", "subject"), ("event.language", "language"),
                      ("event.license", "license")):
        value = event.properties.get(key)
        if value:
            fields.append((term, value))
    if event.description:
        fields.append(("description", event.description))
    # The core writes these into its episode catalog.
    return [(term, xml_text(value)) for term, value in fields]


def element_lists(job: IngestJob) -> list[tuple[str, str, Track]]:
    """(kind, checkpoint key, file) of everything in the package, tracks first."""
    pkg = job.package
    return (
        [("track", f"track.{i}", t) for i, t in enumerate(pkg.tracks)]
        + [("catalog", f"catalog.{i}", t) for i, t in enumerate(pkg.catalogs)]
        + [("attachment", f"attachment.{i}", t) for i, t in enumerate(pkg.attachments)]
    )


def workflow_fields(job: IngestJob, *, with_definition: bool = True) -> list[tuple[str, str]]:
    """Form fields that start the job's workflow: definition (unless the
    endpoint takes it in its path), the legacy link, workflow settings."""
    fields: list[tuple[str, str]] = []
    if with_definition and job.workflow_definition:
        fields.append(("workflowDefinitionId", job.workflow_definition))
    if job.link == "workflow_instance_id":
        fields.append(("workflowInstanceId", job.recording_id))
    fields.extend(sorted(job.workflow_properties.items()))
    return fields


def finish_one_request(cp: Checkpoint, prefix: str, answer_xml: str,
                       sent: list[tuple[Track, str, DigestTap | None]], what: str,
                       fallback_id: str) -> IngestResult:
    """After a one-request ingest (single, zipped) answered 2xx: the core has
    started a workflow. Remember it first, so that no later attempt can start
    a second one for the same recording; then verify what the answer lets us.

    An answer that says less than expected (no XML, no media package, no
    sizes) is accepted, with a note in the result's ``detail``. A media
    package that contradicts what was sent (an element missing, another size
    or checksum) raises a permanent :class:`IngestError` for the operator:
    sending again would run a second workflow beside the first."""
    try:
        mp_id, _ = parse_answer(answer_xml, what)
    except IngestError as exc:
        mp_id, unverified = "", exc.reason
    else:
        unverified = ""
    wid = workflow_id(answer_xml)
    cp.set(prefix + "mediapackage", mp_id or "")
    cp.set(prefix + "workflow", wid or "")
    if unverified:
        return IngestResult(fallback_id, wid, f"not verified: {unverified}")
    try:
        verify_tracks(answer_xml, sent, what)
    except IngestError as exc:
        started = f"workflow {wid}" if wid else "a workflow"
        raise IngestError(
            f"{exc.reason}; the core started {started} for media package {mp_id or fallback_id}"
            " all the same, so it is not sent again (that would start a second workflow):"
            " check the event on the core; the recording stays on disk",
            retryable=False) from None
    return IngestResult(mediapackage_id=mp_id or fallback_id, workflow_id=wid)


def earlier_result(cp: Checkpoint, prefix: str, fallback_id: str) -> IngestResult | None:
    """The result of an earlier attempt that already started the workflow (the
    other half of :func:`finish_one_request`), so a retry never ingests twice."""
    done = cp.get(prefix + "workflow")
    if done is None:
        return None
    return IngestResult(cp.get(prefix + "mediapackage") or fallback_id, done or None,
                        "workflow started by an earlier attempt")


__all__ = [
    "MPElement",
    "UploadSettings",
    "dublin_core_fields",
    "earlier_result",
    "element_lists",
    "expected_md5",
    "finish_one_request",
    "iso",
    "new_element",
    "parse_answer",
    "tap_for",
    "verify_element",
    "verify_tracks",
    "workflow_fields",
    "workflow_id",
    "xml_text",
]

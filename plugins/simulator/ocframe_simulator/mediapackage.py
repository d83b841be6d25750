"""Media package, Dublin Core and workflow XML as the core reads and writes them."""

from __future__ import annotations

import mimetypes
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

MP_NS = "http://mediapackage.opencastproject.org"
WF_NS = "http://workflow.opencastproject.org"
DC_NS = "http://www.opencastproject.org/xsd/1.0/dublincore/"
DCTERMS_NS = "http://purl.org/dc/terms/"

FLAVOR_RE = re.compile(r"^[^/\s]+/[^/\s]+$")

# Where each element kind lives in the media package and how its tag is named.
KIND_CONTAINER = {"track": "media", "catalog": "metadata", "attachment": "attachments"}
_CONTAINER_KIND = {v: k for k, v in KIND_CONTAINER.items()}

_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


class MediaPackageError(ValueError):
    """The text is not a media package the core would accept."""


@dataclass
class MPElement:
    kind: str
    id: str
    flavor: str
    mimetype: str | None = None
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    size: int | None = None
    checksum: str | None = None
    ref: str | None = None
    duration: int | None = None
    live: bool | None = None


@dataclass
class MediaPackage:
    id: str
    start: str | None = None
    duration: int | None = None
    title: str | None = None
    series: str | None = None
    seriestitle: str | None = None
    creators: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    license: str | None = None
    language: str | None = None
    elements: list[MPElement] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[MPElement]:
        return [e for e in self.elements if e.kind == kind]


def valid_flavor(flavor: str | None) -> bool:
    return bool(flavor) and FLAVOR_RE.match(flavor or "") is not None


def guess_mimetype(filename: str) -> str:
    lowered = filename.lower()
    if lowered.endswith(".xml"):
        return "text/xml"
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip()


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def parse_mediapackage(text: str | None) -> MediaPackage:
    if not text or not text.strip():
        raise MediaPackageError("no media package")
    try:
        root = ET.fromstring(text.strip().encode("utf-8"))
    except ET.ParseError as exc:
        raise MediaPackageError(f"media package is not XML: {exc}") from exc
    if _local(root.tag) != "mediapackage":
        # The workflow XML embeds the media package; accept that too, as the core does.
        found = next((e for e in root.iter() if _local(e.tag) == "mediapackage"), None)
        if found is None:
            raise MediaPackageError("root element is not a mediapackage")
        root = found
    mp_id = root.get("id")
    if not mp_id:
        raise MediaPackageError("media package has no id")
    duration = root.get("duration")
    mp = MediaPackage(
        id=mp_id,
        start=root.get("start"),
        duration=int(duration) if duration and duration.isdigit() else None,
    )
    for child in root:
        name = _local(child.tag)
        if name in ("title", "series", "seriestitle", "license", "language"):
            setattr(mp, name, _text(child))
        elif name in ("creators", "contributors", "subjects"):
            values = [(_text(c) or "") for c in child]
            setattr(mp, name, values)
        elif name in _CONTAINER_KIND:
            kind = _CONTAINER_KIND[name]
            for el in child:
                if _local(el.tag) != kind:
                    continue
                mp.elements.append(_parse_element(kind, el))
    return mp


def _parse_element(kind: str, el: ET.Element) -> MPElement:
    tags_el = _child(el, "tags")
    tags = [(_text(t) or "") for t in tags_el] if tags_el is not None else []
    checksum_el = _child(el, "checksum")
    size_text = _text(_child(el, "size"))
    duration_text = _text(_child(el, "duration"))
    live_text = _text(_child(el, "live"))
    return MPElement(
        kind=kind,
        id=el.get("id") or "",
        flavor=el.get("type") or "",
        mimetype=_text(_child(el, "mimetype")),
        tags=[t for t in tags if t],
        url=_text(_child(el, "url")),
        size=int(size_text) if size_text and size_text.isdigit() else None,
        checksum=_text(checksum_el),
        ref=el.get("ref"),
        duration=int(duration_text) if duration_text and duration_text.isdigit() else None,
        live=(live_text == "true") if live_text is not None else None,
    )


def _el(name: str, value: str | None) -> str:
    return f"<{name}>{escape(value)}</{name}>" if value is not None else ""


def render_element(e: MPElement) -> str:
    attrs = f" id={quoteattr(e.id)}"
    if e.flavor:
        attrs += f" type={quoteattr(e.flavor)}"
    if e.ref:
        attrs += f" ref={quoteattr(e.ref)}"
    body = _el("mimetype", e.mimetype)
    body += "<tags>" + "".join(_el("tag", t) for t in e.tags) + "</tags>" if e.tags else "<tags/>"
    body += _el("url", e.url)
    if e.checksum:
        body += f'<checksum type="md5">{escape(e.checksum)}</checksum>'
    if e.size is not None:
        body += f"<size>{e.size}</size>"
    if e.kind == "track":
        if e.duration is not None:
            body += f"<duration>{e.duration}</duration>"
        body += _el("live", "true" if e.live else "false")
    return f"<{e.kind}{attrs}>{body}</{e.kind}>"


def render_mediapackage(mp: MediaPackage, *, declaration: bool = True) -> str:
    attrs = f" id={quoteattr(mp.id)}"
    if mp.duration is not None:
        attrs += f' duration="{mp.duration}"'
    if mp.start:
        attrs += f" start={quoteattr(mp.start)}"
    parts = [f'<mediapackage xmlns="{MP_NS}"{attrs}>']
    parts.append(_el("title", mp.title))
    parts.append(_el("series", mp.series))
    parts.append(_el("seriestitle", mp.seriestitle))
    for plural, singular in (("creators", "creator"), ("contributors", "contributor"),
                             ("subjects", "subject")):
        values = getattr(mp, plural)
        if values:
            parts.append(f"<{plural}>" + "".join(_el(singular, v) for v in values) + f"</{plural}>")
    parts.append(_el("license", mp.license))
    parts.append(_el("language", mp.language))
    for kind, container in KIND_CONTAINER.items():
        elements = mp.of_kind(kind)
        if elements:
            parts.append(f"<{container}>" + "".join(render_element(e) for e in elements)
                         + f"</{container}>")
        else:
            parts.append(f"<{container}/>")
    parts.append("<publications/></mediapackage>")
    return (_XML_DECL if declaration else "") + "".join(parts)


def render_workflow(
    workflow_id: int,
    mp: MediaPackage,
    *,
    template: str,
    state: str = "RUNNING",
    configuration: dict[str, str] | None = None,
    creator: str | None = None,
) -> str:
    config = "".join(
        f"<wf:configuration key={quoteattr(k)}>{escape(v)}</wf:configuration>"
        for k, v in sorted((configuration or {}).items())
    )
    return (
        f'{_XML_DECL}<wf:workflow xmlns:wf="{WF_NS}" id="{workflow_id}" state="{state}">'
        f"<wf:template>{escape(template)}</wf:template>"
        f"<wf:title>{escape(mp.title or template)}</wf:title>"
        + (f"<wf:creator-id>{escape(creator)}</wf:creator-id>" if creator else "")
        + "<wf:organization-id>mh_default_org</wf:organization-id>"
        + render_mediapackage(mp, declaration=False)
        + "<wf:operations/>"
        + (f"<wf:configurations>{config}</wf:configurations>" if config else
           "<wf:configurations/>")
        + "</wf:workflow>"
    )


def w3cdtf(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_dublincore(terms: list[tuple[str, str, str | None]]) -> str:
    """Render a DC catalog from (term, value, xsi:type or None) triples, in that order."""
    body = "".join(
        f"<dcterms:{term}"
        + (f' xsi:type="{xsi}"' if xsi else "")
        + f">{escape(value)}</dcterms:{term}>"
        for term, value, xsi in terms
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
        f'<dublincore xmlns="{DC_NS}" xmlns:dcterms="{DCTERMS_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{body}</dublincore>"
    )


def parse_dublincore(text: str) -> dict[str, list[str]]:
    try:
        root = ET.fromstring(text.strip().encode("utf-8"))
    except ET.ParseError as exc:
        raise MediaPackageError(f"dublin core is not XML: {exc}") from exc
    if _local(root.tag) != "dublincore":
        raise MediaPackageError("root element is not dublincore")
    result: dict[str, list[str]] = {}
    for child in root:
        result.setdefault(_local(child.tag), []).append((child.text or "").strip())
    return result

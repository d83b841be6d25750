"""The episode Dublin Core catalog of a recording the core did not schedule.

An ad-hoc recording has no event on the core, so its ingest must describe
it: title, when it was created, where (``spatial`` = the agent's name, as
the core's own capture agents do) and the recorded period (``temporal``);
see docs/protocol.md. Built with the standard library's ElementTree, so
whatever an operator types as a title is escaped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from .model import Event

DCTERMS = "http://purl.org/dc/terms/"
OC = "http://www.opencastproject.org/xsd/1.0/dublincore/"

ET.register_namespace("dcterms", DCTERMS)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def episode_catalog(event: Event, *, agent: str, ended: datetime | None = None) -> bytes:
    """``dublincore/episode`` XML for ``event``: ``ended`` is when the
    recording really stopped (an operator may stop it before its end)."""
    root = ET.Element(f"{{{OC}}}dublincore")
    end = ended or event.end

    def term(name: str, value: str) -> None:
        ET.SubElement(root, f"{{{DCTERMS}}}{name}").text = value

    term("title", event.title or f"Recording in {agent}")
    term("identifier", event.uid)
    term("created", _iso(event.start))
    term("spatial", agent)
    term("temporal", f"start={_iso(event.start)}; end={_iso(end)}; scheme=W3C-DTF;")
    if event.description:
        term("description", event.description)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)

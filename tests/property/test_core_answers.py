"""Property tests over what the core answers to an ingest: the media package
and workflow XML the strategies read. Whatever arrives, the agent gets a
parsed answer or one clear IngestError, and a one-request ingest the core
answered never becomes a second workflow."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ocframe.errors import IngestError
from ocframe.ingest.support import (
    earlier_result,
    finish_one_request,
    new_element,
    parse_answer,
    workflow_id,
    xml_text,
)
from ocframe.model import Track
from ocframe.testing.ingest import MemoryCheckpoint

BOUNDED = settings(deadline=2000, max_examples=300,
                   suppress_health_check=[HealthCheck.too_slow,
                                          HealthCheck.function_scoped_fixture])
NS = "http://mediapackage.opencastproject.org"
WF = "http://workflow.opencastproject.org"

# Text a broken or hostile core might put anywhere in its answer.
ODD = st.one_of(
    st.sampled_from(["", " ", "10", "-1", "²", "١٢", "1e3", "0x10", "99999999999999999999",
                     "presenter/source", "a" * 500, "&amp;", "<", "]]>", "\x00", "\udcff",
                     "\u202e", "http://other.example/x", "../../etc/passwd"]),
    st.text(max_size=30),
)


def _xml_safe(text: str) -> str:
    return xml_text(text.encode("utf-8", "replace").decode("utf-8"))


@st.composite
def element_xml(draw: Any) -> str:
    kind = draw(st.sampled_from(["track", "track", "catalog", "attachment", "media", "foo"]))
    attrs = ""
    if draw(st.integers(0, 3)):
        attrs += f' id="{_xml_safe(draw(ODD)).replace(chr(34), "")}"'
    if draw(st.booleans()):
        attrs += f' type="{_xml_safe(draw(ODD)).replace(chr(34), "")}"'
    children = "".join(
        f"<{name}>{escaped(draw(ODD))}</{name}>"
        for name in draw(st.lists(st.sampled_from(["size", "checksum", "url", "mimetype",
                                                    "tags", "duration"]), max_size=4)))
    return f"<{kind}{attrs}>{children}</{kind}>"


def escaped(text: str) -> str:
    return escape(_xml_safe(text))


@st.composite
def answers(draw: Any) -> str:
    """Media packages, workflows holding one, and the broken shapes between."""
    inner = "".join(draw(st.lists(element_xml(), max_size=5)))
    group = draw(st.sampled_from(["media", "metadata", "attachments", ""]))
    if group:
        inner = f"<{group}>{inner}</{group}>"
    mp_id = _xml_safe(draw(ODD)).replace('"', "")
    mp = f'<mediapackage xmlns="{NS}" id="{mp_id}">{inner}</mediapackage>'
    shape = draw(st.sampled_from(["mp", "workflow", "prefixed", "bare", "cut", "junk"]))
    if shape == "workflow":
        return f'<workflow xmlns="{WF}" id="{draw(st.integers(-5, 10**12))}">{mp}</workflow>'
    if shape == "prefixed":
        return f'<ns2:workflow xmlns:ns2="{WF}" id="{mp_id}">{mp}</ns2:workflow>'
    if shape == "bare":
        return f"<workflow>{inner}</workflow>"
    if shape == "cut":
        return mp[: draw(st.integers(0, len(mp)))]
    return draw(st.text(max_size=200))


@BOUNDED
@given(st.one_of(answers(), st.text(max_size=300)))
# Found by this test: "²".isdigit() is true, and int("²") raised ValueError.
@example(f'<mediapackage xmlns="{NS}" id="x"><media><track id="t" type="p/s">'
         "<size>\u00b2</size></track></media></mediapackage>")
def test_parse_answer_gives_elements_or_an_ingest_error(xml: str) -> None:
    try:
        mp_id, elements = parse_answer(xml, "addMediaPackage")
    except IngestError as exc:
        assert exc.reason.startswith("addMediaPackage: ")
        return
    assert isinstance(mp_id, str)
    for e in elements:
        assert e.kind in ("track", "catalog", "attachment")
        assert e.size is None or (isinstance(e.size, int) and e.size >= 0)
    new_element([], elements, "track", "presenter/source")  # must not raise either


@BOUNDED
@given(st.one_of(answers(), st.text(max_size=300)))
def test_workflow_id_is_a_string_or_none(xml: str) -> None:
    wid = workflow_id(xml)
    assert wid is None or (isinstance(wid, str) and wid and '"' not in wid)


@BOUNDED
@given(answers(), st.integers(0, 64))
def test_one_request_answer_never_leads_to_a_second_upload(answer: str, size: int) -> None:
    """Whatever a 2xx answer holds, the workflow is noted before anything can
    fail, so every retry finds it: the core never runs two workflows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.mkv"
        path.write_bytes(b"x" * size)
        track = Track(path, "presenter/source", "video/x-matroska")
        cp = MemoryCheckpoint()
        try:
            result = finish_one_request(cp, "p.", answer, [(track, "track", None)],
                                        "addMediaPackage", "ev-1")
        except IngestError as exc:
            assert not exc.retryable and "not sent again" in exc.reason
        else:
            assert result.mediapackage_id
        assert earlier_result(cp, "p.", "ev-1") is not None


@BOUNDED
@given(st.text(max_size=200))
def test_xml_text_is_always_well_formed_xml(text: str) -> None:
    el = ET.Element("title")
    el.text = xml_text(text)
    el.set("id", xml_text(text))
    back = ET.fromstring(ET.tostring(el, encoding="unicode"))
    assert len(back.text or "") == len(xml_text(text)) or "\r" in text

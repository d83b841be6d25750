"""The public ingest toolkit on its own (ocframe.ingest, .support, .elements):
what a third-party strategy is written with."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ocframe.errors import IngestError
from ocframe.ingest import DigestTap, IngestJob, ServiceHttp, StrategySettings
from ocframe.ingest.elements import ElementByElementIngest
from ocframe.ingest.support import (
    MPElement,
    UploadSettings,
    dublin_core_fields,
    earlier_result,
    element_lists,
    expected_md5,
    finish_one_request,
    iso,
    new_element,
    parse_answer,
    tap_for,
    verify_element,
    workflow_fields,
    workflow_id,
    xml_text,
)
from ocframe.model import Event, IngestPackage, Track
from ocframe.testing.ingest import MemoryCheckpoint, StrategyRunner, md5

NS = "http://mediapackage.opencastproject.org"
MEDIAPACKAGE = f"""<?xml version="1.0"?>
<mediapackage xmlns="{NS}" id="mp-1">
  <media>
    <track id="t1" type="presenter/source">
      <size>10</size><checksum type="md5">ABCDEF</checksum><url>http://core/t1</url>
    </track>
  </media>
  <metadata><catalog id="c1" type="dublincore/episode"><url>http://core/c1</url></catalog>
  </metadata>
</mediapackage>"""
WORKFLOW = (f'<ns2:workflow xmlns:ns2="http://workflow.opencastproject.org" id="42">'
            f'{MEDIAPACKAGE.split("?>", 1)[1]}</ns2:workflow>')


def event(**kw: Any) -> Event:
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    return Event(uid=kw.pop("uid", "ev-1"), start=start, end=start + timedelta(hours=1), **kw)


def track(tmp_path: Path, name: str = "a.mkv", size: int = 10, **kw: Any) -> Track:
    path = tmp_path / name
    path.write_bytes(b"x" * size)
    return Track(path, kw.pop("flavor", "presenter/source"), "video/x-matroska", **kw)


def job_for(ev: Event, package: IngestPackage | None = None, **kw: Any) -> IngestJob:
    """A job whose HTTP is never used (the helpers only read its fields)."""
    return IngestJob(
        recording_id=ev.uid, event=ev, package=package or IngestPackage(tracks=[]),
        workflow_definition=kw.get("workflow_definition", "fast"),
        workflow_properties=kw.get("workflow_properties", {"b": "2", "a": "1"}),
        link=kw.get("link", "mediapackage_id"), legacy_catalogs=False,
        http=None, service=lambda _: None,  # type: ignore[arg-type,return-value]
        checkpoint=MemoryCheckpoint(), progress=lambda s, t: None,
        logger=logging.getLogger("test"))


def test_parse_answer_reads_media_package_and_workflow() -> None:
    mp_id, elements = parse_answer(MEDIAPACKAGE, "addTrack")
    assert mp_id == "mp-1"
    assert elements == [
        MPElement("track", "t1", "presenter/source", 10, "ABCDEF", "http://core/t1"),
        MPElement("catalog", "c1", "dublincore/episode", None, None, "http://core/c1"),
    ]
    assert parse_answer(WORKFLOW, "ingest") == (mp_id, elements)
    assert workflow_id(WORKFLOW) == "42" and workflow_id(MEDIAPACKAGE) is None


@pytest.mark.parametrize("answer, says", [("<html>login", "no XML"),
                                          ("<workflow id='1'/>", "without a media package")])
def test_parse_answer_rejects_what_is_no_media_package(answer: str, says: str) -> None:
    with pytest.raises(IngestError, match=says) as err:
        parse_answer(answer, "addTrack")
    assert err.value.retryable


def test_verify_element_compares_size_and_md5() -> None:
    element = MPElement("track", "t1", "presenter/source", 10, "ABCDEF", None)
    verify_element(element, 10, "abcdef", "addTrack")  # the core writes MD5s in any case
    verify_element(element, 10, None, "addTrack")
    with pytest.raises(IngestError, match="stored 10 bytes, we sent 11"):
        verify_element(element, 11, None, "addTrack")
    with pytest.raises(IngestError, match="MD5"):
        verify_element(element, 10, "0" * 32, "addTrack")


def test_new_element_prefers_the_flavor_sent() -> None:
    old = [MPElement("track", "t1", "presenter/source", None, None, None)]
    new = [*old, MPElement("track", "t2", "presenter/other", None, None, None),
           MPElement("track", "t3", "presentation/source", None, None, None)]
    assert new_element(old, new, "track", "presentation/source") == new[2]
    assert new_element(old, new, "track", "renamed/by-core") == new[2]  # the last new one
    assert new_element(old, new, "catalog", "dublincore/episode") is None


def test_md5_is_hashed_while_sending_only_without_the_kernels(tmp_path: Path) -> None:
    hashed = track(tmp_path, md5="f" * 32)
    plain = track(tmp_path, "b.mkv")
    assert tap_for(UploadSettings(), hashed) is None
    assert tap_for(UploadSettings(verify_md5=False), plain) is None
    tap = tap_for(UploadSettings(), plain)
    assert isinstance(tap, DigestTap)
    tap.update(plain.path.read_bytes())
    assert expected_md5(plain, tap) == md5(plain.path)
    assert expected_md5(hashed, tap) == "f" * 32
    assert expected_md5(plain, None) is None
    assert UploadSettings(rate_limit=1000).rate() == 1000.0 and UploadSettings().rate() is None


def test_dublin_core_and_workflow_fields() -> None:
    ev = event(title="", series_id="s-1", location="room-1",
               description="Limits", properties={"event.location": "Hall A",
                                                 "event.creator": "Ada"})
    fields = dublin_core_fields(ev, identifier="ev-1")
    assert fields == [
        ("title", "ev-1"), ("identifier", "ev-1"), ("isPartOf", "s-1"), ("spatial", "Hall A"),
        ("temporal", "start=2024-05-01T08:00:00Z; end=2024-05-01T09:00:00Z; scheme=W3C-DTF;"),
        ("created", "2024-05-01T08:00:00Z"), ("creator", "Ada"), ("description", "Limits"),
    ]
    assert iso(datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-05-01T08:00:00Z")
    job = job_for(ev)
    assert workflow_fields(job) == [("workflowDefinitionId", "fast"), ("a", "1"), ("b", "2")]
    legacy = job_for(ev, link="workflow_instance_id")
    assert workflow_fields(legacy, with_definition=False) == [
        ("workflowInstanceId", "ev-1"), ("a", "1"), ("b", "2")]


def test_element_lists_puts_tracks_first_with_checkpoint_keys(tmp_path: Path) -> None:
    t0, t1 = track(tmp_path), track(tmp_path, "b.mkv")
    cat = track(tmp_path, "episode.xml", flavor="dublincore/episode")
    att = track(tmp_path, "slide.png", flavor="attachment/slide")
    package = IngestPackage(tracks=[t0, t1], catalogs=[cat], attachments=[att])
    assert element_lists(job_for(event(), package)) == [
        ("track", "track.0", t0), ("track", "track.1", t1),
        ("catalog", "catalog.0", cat), ("attachment", "attachment.0", att)]


def test_one_request_checkpoint_steps(tmp_path: Path) -> None:
    """finish_one_request remembers the workflow, earlier_result finds it."""
    cp = MemoryCheckpoint()
    sent = track(tmp_path, size=10, md5="abcdef")
    assert earlier_result(cp, "p.", "ev-1") is None
    cp.set("p.sent", "1")
    result = finish_one_request(cp, "p.", WORKFLOW, [(sent, "track", None)],
                                "addMediaPackage", "ev-1")
    assert (result.mediapackage_id, result.workflow_id, result.detail) == ("mp-1", "42", "")
    again = earlier_result(cp, "p.", "ev-1")
    assert again is not None and (again.mediapackage_id, again.workflow_id) == ("mp-1", "42")


@pytest.mark.parametrize("sent_size, flavor, complaint", [
    (11, "presenter/source", "stored 10 bytes, we sent 11"),
    (10, "presentation/source", "lacks track presentation/source"),  # another size too
])
def test_one_request_mismatch_is_permanent_and_never_sent_again(
        tmp_path: Path, sent_size: int, flavor: str, complaint: str) -> None:
    """The core answered a started workflow whose media package contradicts
    what was sent: the workflow is remembered before anything is verified, so
    a retry (automatic or an operator's) cannot start a second one."""
    cp = MemoryCheckpoint()
    cp.set("p.sent", "1")
    bad = track(tmp_path, "c.mkv", sent_size if flavor == "presenter/source" else 12,
                flavor=flavor)
    with pytest.raises(IngestError) as err:
        finish_one_request(cp, "p.", WORKFLOW, [(bad, "track", None)], "addMediaPackage", "ev-1")
    assert not err.value.retryable
    reason = err.value.reason
    assert complaint in reason and "workflow 42" in reason and "not sent again" in reason
    again = earlier_result(cp, "p.", "ev-1")
    assert again is not None and again.workflow_id == "42"


@pytest.mark.parametrize("answer", [
    "",                                           # 200 with no body
    "OK",                                         # not XML
    '<workflow id="7"><state>RUNNING</state></workflow>',  # no media package
])
def test_one_request_answer_that_says_less_is_accepted(tmp_path: Path, answer: str) -> None:
    cp = MemoryCheckpoint()
    result = finish_one_request(cp, "p.", answer, [(track(tmp_path), "track", None)],
                                "addMediaPackage", "ev-1")
    assert result.mediapackage_id == "ev-1" and result.detail.startswith("not verified")
    assert result.workflow_id == ("7" if "id=" in answer else None)
    assert earlier_result(cp, "p.", "ev-1") is not None


def test_one_request_matches_a_rewritten_flavor_by_size(tmp_path: Path) -> None:
    """The core may rewrite a flavor; an element of the same size is the track."""
    cp = MemoryCheckpoint()
    sent = track(tmp_path, size=10, flavor="presenter/raw", md5="abcdef")
    result = finish_one_request(cp, "p.", WORKFLOW, [(sent, "track", None)],
                                "addMediaPackage", "ev-1")
    assert result.workflow_id == "42"


def test_xml_text_keeps_what_xml_can_carry() -> None:
    assert xml_text("Lecture\x1b[31m\x00 1\tA\nB\r\ufffe") == "Lecture [31m  1\tA\nB\r "
    assert xml_text("Ökonomie <&> 😀") == "Ökonomie <&> 😀"


# -- ElementByElementIngest, as a third-party strategy would use it -------------

class SlidesLastIngest(ElementByElementIngest):
    """Sends tracks like multirequest, but counts them: an override that keeps
    the base class's sequence, checkpoint and verification."""

    prefix: ClassVar[str] = "slides."
    sent: ClassVar[list[str]] = []

    def upload_element(self, job: IngestJob, mp: str, kind: str, key: str, track: Track,
                       progress: Any) -> str:
        self.sent.append(key)
        return super().upload_element(job, mp, kind, key, track, progress)


def test_a_strategy_built_on_the_element_sequence(runner: StrategyRunner) -> None:
    sim: Any = runner.sim
    ev = runner.event()
    pkg = runner.package({"presenter/source": 70_000, "presentation/source": 30_000})
    SlidesLastIngest.sent = []
    result = SlidesLastIngest(UploadSettings()).ingest(runner.job(ev, pkg))
    assert SlidesLastIngest.sent == ["track.0", "track.1"]
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None and result.mediapackage_id == ev.uid
    assert {t.flavor: t.md5 for t in ingest.tracks} == {
        t.flavor: md5(t.path) for t in pkg.tracks}
    assert set(runner.checkpoint.data) == {"slides.state", "slides.ingest.sent",
                                           "slides.workflow"}
    assert runner.progress[-1] == (100_000, 100_000)
    # A retry after success asks nothing again.
    SlidesLastIngest.sent = []
    again = SlidesLastIngest(UploadSettings()).ingest(runner.job(ev, pkg))
    assert again.workflow_id == result.workflow_id and SlidesLastIngest.sent == []
    assert sim.workflows_started(ev.uid) == 1


def test_element_strategy_must_name_its_checkpoint_prefix() -> None:
    class Unnamed(ElementByElementIngest):
        pass

    with pytest.raises(TypeError, match="prefix"):
        Unnamed(StrategySettings())


def test_service_http_exposes_the_configured_timeout(runner: StrategyRunner) -> None:
    job = runner.job(runner.event(), runner.package({"presenter/source": 10}))
    assert isinstance(job.http, ServiceHttp)
    assert job.http.timeout == 30.0  # CoreConfig's default
    assert job.http.url("addTrack").endswith("/ingest/addTrack")


def test_the_documented_example_strategy_works(runner: StrategyRunner) -> None:
    """docs/plugin-api.md's complete strategy, run as written."""
    from ocframe_layout import ROOT

    text = (ROOT / "docs" / "plugin-api.md").read_text()
    section = text[text.index("## Writing an ingest strategy"):]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {"__name__": "my_ingest"}
    exec(compile(code, "docs/plugin-api.md", "exec"), namespace)
    strategy = namespace["MyIngest"]
    sim: Any = runner.sim
    ev = runner.event(series_id="s-1")
    pkg = runner.package({"presenter/source": 40_000, "presentation/source": 20_000})
    result = strategy(strategy.Settings()).ingest(runner.job(ev, pkg))
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.mediapackage_id == ev.uid == result.mediapackage_id
    assert {t.flavor: t.md5 for t in ingest.tracks} == {
        t.flavor: md5(t.path) for t in pkg.tracks}
    assert ingest.dublin_core["isPartOf"] == ["s-1"]
    again = strategy(strategy.Settings()).ingest(runner.job(ev, pkg))
    assert again.workflow_id == result.workflow_id and sim.workflows_started(ev.uid) == 1

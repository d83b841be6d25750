"""Each strategy against the simulator, driven directly (no agent): linking,
field order, verification, resumption after failures and crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocframe.errors import IngestError

Runner = Any

METHODS = ["multirequest", "single", "zipped", "chunked"]
SMALL_CHUNKS = {"chunk_size": 64 * 1024, "min_chunked_size": 0}


def settings_for(method: str) -> dict[str, object]:
    return dict(SMALL_CHUNKS) if method == "chunked" else {}


@pytest.mark.parametrize("method", METHODS)
def test_uploads_all_tracks_linked_to_the_event(runner: Runner, tmp_path: Path,
                                                method: str) -> None:
    sim = runner.sim
    ev = runner.event(workflow_config={"straightToPublishing": "true"}, series_id="series-1")
    pkg = runner.package({"presenter/source": 300_000, "presentation/source": 200_001})
    result = runner.run(method, runner.job(ev, pkg), **settings_for(method))
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None
    assert ingest.mediapackage_id == ev.uid == result.mediapackage_id
    assert result.workflow_id == str(ingest.workflow_id)
    assert sim.workflows_started(ev.uid) == 1
    assert ingest.workflow_definition == "fast"
    assert ingest.configuration.get("straightToPublishing") == "true"
    got = {t.flavor: t.md5 for t in ingest.tracks}
    assert got == {t.flavor: runner.md5(t.path) for t in pkg.tracks}
    total = sum(t.path.stat().st_size for t in pkg.tracks)
    assert runner.progress and runner.progress[-1][0] == runner.progress[-1][1] >= total
    if method == "single":
        assert ingest.dublin_core["title"] == ["Analysis I"]
        assert ingest.dublin_core["isPartOf"] == ["series-1"]
        assert ingest.dublin_core["spatial"] == ["room-1"]
        assert ingest.properties.get("straightToPublishing") == "true"


@pytest.mark.parametrize("method", ["multirequest", "single", "zipped"])
def test_legacy_link_by_workflow_instance_id(runner: Runner, tmp_path: Path, method: str) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 50_000})
    runner.run(method, runner.job(ev, pkg, link="workflow_instance_id"))
    ingest = runner.sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.mediapackage_id != ev.uid
    assert ingest.workflow_instance_id == ev.uid


@pytest.mark.parametrize("method", ["multirequest", "single", "zipped", "chunked"])
def test_crash_after_workflow_started_does_not_ingest_twice(runner: Runner, tmp_path: Path,
                                                            method: str) -> None:
    sim = runner.sim
    ev = runner.event()
    pkg = runner.package({"presenter/source": 100_000})
    prefix = {"multirequest": "multirequest.", "chunked": "chunked.", "single": "single.",
              "zipped": "zipped."}[method]
    first = runner.run(method, runner.job(ev, pkg), **settings_for(method))
    again = runner.run(method, runner.job(ev, pkg), **settings_for(method))
    assert again.workflow_id == first.workflow_id
    assert sim.workflows_started(ev.uid) == 1
    # A crash between the core's answer and our note: single detects it (409).
    if method == "single":
        runner.checkpoint.data.pop(prefix + "workflow")
        again = runner.run(method, runner.job(ev, pkg))
        assert sim.workflows_started(ev.uid) == 1


def test_size_mismatch_is_retryable(runner: Runner, tmp_path: Path, monkeypatch) -> None:
    import ocframe.ingest.support as support

    ev = runner.event()
    pkg = runner.package({"presenter/source": 10_000})
    real = support.parse_answer

    def damaged(xml: str, what: str):  # the core reports another checksum
        mp_id, elements = real(xml, what)
        return mp_id, [support.MPElement(e.kind, e.id, e.flavor, e.size, "0" * 32, e.url)
                       for e in elements]

    monkeypatch.setattr("ocframe.ingest.elements.parse_answer", damaged)
    with pytest.raises(IngestError) as err:
        runner.run("multirequest", runner.job(ev, pkg))
    assert err.value.retryable and "MD5" in err.value.reason


@pytest.mark.parametrize("method", METHODS)
def test_kernel_md5_is_what_the_core_must_report(runner: Runner, tmp_path: Path,
                                                 method: str) -> None:
    """The kernel hashes each file once when it builds the package; a file that
    changed on disk since then (or bytes damaged on the way) fails the check.
    Element by element, nothing has started yet: the upload is retried. In
    one request, the core has started a workflow with the answer: the
    mismatch is the operator's to see, and no retry starts a second one."""
    ev = runner.event()
    pkg = runner.package({"presenter/source": 50_000})
    pkg.tracks[0].md5 = "0" * 32  # not what the file holds any more
    with pytest.raises(IngestError) as err:
        runner.run(method, runner.job(ev, pkg), **settings_for(method))
    assert "MD5" in err.value.reason
    if method in ("single", "zipped"):
        assert not err.value.retryable
        assert "not sent again" in err.value.reason
        started = runner.sim.workflows_started(ev.uid)
        assert started == 1
        again = runner.run(method, runner.job(ev, pkg), **settings_for(method))
        assert runner.sim.workflows_started(ev.uid) == started
        assert again.workflow_id == str(runner.sim.find_ingest(ev.uid).workflow_id)
    else:
        assert err.value.retryable



"""Each strategy against the simulator, driven directly (no agent): linking,
field order, verification, resumption after failures and crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocframe.errors import CoreError, IngestError

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


def test_multirequest_retries_only_the_failed_element(runner: Runner, tmp_path: Path) -> None:
    sim = runner.sim
    ev = runner.event()
    pkg = runner.package({"presenter/source": 400_000, "presentation/source": 400_000})
    sim.inject_fault(r"/ingest/addTrack", "reset", after_bytes=100_000, times=1)
    with pytest.raises(CoreError):
        runner.run("multirequest", runner.job(ev, pkg))
    assert '"done": []' in runner.checkpoint.data["multirequest.state"]
    fail_next_after_one_success(sim, "/ingest/addTrack", "status")
    with pytest.raises(CoreError):
        runner.run("multirequest", runner.job(ev, pkg))
    runner.run("multirequest", runner.job(ev, pkg))
    calls = [r.status for r in sim.requests if r.path.endswith("/addTrack")]
    assert calls == [0, 200, 500, 200]
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None
    assert sorted(t.md5 for t in ingest.tracks) == sorted(runner.md5(t.path) for t in pkg.tracks)
    assert sim.workflows_started(ev.uid) == 1


def fail_next_after_one_success(sim: Any, path: str, kind: str, after: int = 1) -> None:
    """After ``after`` successful POSTs to ``path``, the next one fails once."""
    seen = {"n": 0}

    def listener(entry: Any) -> None:
        if entry.method == "POST" and path in entry.path and entry.status == 200:
            seen["n"] += 1
            if seen["n"] == after:
                sim.inject_fault(path, kind, status=500, after_bytes=30_000, times=1,
                                 method="POST")

    sim.request_listeners.append(listener)


def test_multirequest_crash_resumes_from_checkpoint(runner: Runner, tmp_path: Path) -> None:
    sim = runner.sim
    ev = runner.event()
    pkg = runner.package({"presenter/source": 100_000, "presentation/source": 100_000})
    # Crash right after the core stored track 1, before we noted it.
    runner.checkpoint.fail_on = lambda key, value: '"track.1"' in value
    with pytest.raises(KeyboardInterrupt):
        runner.run("multirequest", runner.job(ev, pkg))
    runner.checkpoint.fail_on = None
    before = len([r for r in sim.requests if r.path.endswith("/addTrack")])
    runner.run("multirequest", runner.job(ev, pkg))
    after = [r for r in sim.requests if r.path.endswith("/addTrack")][before:]
    assert len(after) == 1  # track 0 was not sent again
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None and len(ingest.tracks) == 2  # the orphan is not in the package
    assert sim.workflows_started(ev.uid) == 1


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


def test_single_409_without_earlier_attempt_is_retryable(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 10_000})
    runner.run("single", runner.job(ev, pkg))
    runner.checkpoint.data.clear()
    with pytest.raises(IngestError) as err:
        runner.run("single", runner.job(ev, pkg))
    assert err.value.retryable and "409" in err.value.reason


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
    changed on disk since then (or bytes damaged on the way) fails the check."""
    ev = runner.event()
    pkg = runner.package({"presenter/source": 50_000})
    pkg.tracks[0].md5 = "0" * 32  # not what the file holds any more
    with pytest.raises(IngestError) as err:
        runner.run(method, runner.job(ev, pkg), **settings_for(method))
    assert err.value.retryable and "MD5" in err.value.reason


def test_zipped_503_is_retryable(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 10_000})
    runner.sim.ingest_limit_reached = True
    with pytest.raises(IngestError) as err:
        runner.run("zipped", runner.job(ev, pkg))
    assert err.value.retryable and "503" in err.value.reason
    runner.sim.ingest_limit_reached = False
    runner.run("zipped", runner.job(ev, pkg))
    assert runner.sim.workflows_started(ev.uid) == 1


def test_zipped_zip64(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 100_000})
    runner.run("zipped", runner.job(ev, pkg), force_zip64=True)
    ingest = runner.sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.tracks[0].md5 == runner.md5(pkg.tracks[0].path)


def test_chunked_resumes_after_reset(runner: Runner, tmp_path: Path) -> None:
    sim = runner.sim
    ev = runner.event()
    pkg = runner.package({"presenter/source": 64 * 1024 * 5 + 17})
    fail_next_after_one_success(sim, "/upload/job/", "reset", after=2)
    with pytest.raises(CoreError):
        runner.run("chunked", runner.job(ev, pkg), **SMALL_CHUNKS)
    job_key = "chunked.job.track.0"
    assert runner.checkpoint.get(job_key)
    runner.run("chunked", runner.job(ev, pkg), **SMALL_CHUNKS)
    posts = [r for r in sim.requests if r.method == "POST" and "/upload/job/" in r.path]
    assert [r.status for r in posts] == [200, 200, 0, 200, 200, 200, 200]
    assert len([r for r in sim.requests if r.path.endswith("/upload/newjob")]) == 1
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.method == "chunked"
    assert ingest.tracks[0].md5 == runner.md5(pkg.tracks[0].path)
    assert sim.workflows_started(ev.uid) == 1


def test_chunked_forbidden_for_capture_agent_user(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 100_000})
    with pytest.raises(IngestError) as err:
        runner.run("chunked", runner.job(ev, pkg, user="ca", password="ca-secret"),
                   **SMALL_CHUNKS)
    assert not err.value.retryable
    assert "ROLE_ADMIN" in err.value.reason


def test_chunked_takes_the_completed_job_from_the_last_answer(runner: Runner, tmp_path: Path,
                                                              monkeypatch: Any) -> None:
    """The real core finishes the file inside the last chunk's request and answers
    with the completed job: then the agent does not poll."""
    from ocframe.ingest import ServiceHttp

    sim = runner.sim
    post = ServiceHttp.post_multipart

    def finishing_core(self: ServiceHttp, path: str, *args: Any, **kwargs: Any) -> Any:
        resp = post(self, path, *args, **kwargs)
        if path.startswith("job/") and 'state="FINALIZING"' in resp.text:
            job_id = path.split("/")[1]
            assert sim.wait_for(lambda: sim.upload_job_states(job_id)[-1] == "COMPLETE",
                                timeout=5)
            resp = self.get(f"job/{job_id}.xml")
        return resp

    monkeypatch.setattr(ServiceHttp, "post_multipart", finishing_core)
    ev = runner.event()
    pkg = runner.package({"presenter/source": 64 * 1024 * 2 + 5})
    runner.run("chunked", runner.job(ev, pkg), **SMALL_CHUNKS)
    assert not [r for r in sim.requests if r.path.startswith("/upload/job/") and r.method == "GET"
                and r.path.endswith(".json")]
    ingest = sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.tracks[0].md5 == runner.md5(pkg.tracks[0].path)

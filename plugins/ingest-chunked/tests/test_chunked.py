"""Chunked ingest against the simulator: resuming an upload job, the upload
service's role, the core that finishes the file in the last chunk's request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocframe.errors import CoreError, IngestError

Runner = Any

SMALL_CHUNKS = {"chunk_size": 64 * 1024, "min_chunked_size": 0}


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
    statuses = [r.status for r in posts]
    chunks = -(-pkg.tracks[0].path.stat().st_size // SMALL_CHUNKS["chunk_size"])
    # The reset was met; the job resumed (one job) and the core accepted every
    # chunk exactly once, so none it held was sent again.
    assert 0 in statuses and statuses.count(200) == chunks, statuses
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

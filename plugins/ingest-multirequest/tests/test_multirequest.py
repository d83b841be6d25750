"""Multi-request ingest against the simulator: a failed element is sent again
alone, and a crash resumes from the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocframe.errors import CoreError

Runner = Any


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
    # Both faults were met, and the core accepted each track exactly once:
    # nothing it already held was sent again.
    assert 0 in calls and 500 in calls
    assert calls.count(200) == len(pkg.tracks)
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

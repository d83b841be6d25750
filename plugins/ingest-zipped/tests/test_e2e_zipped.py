"""End to end: a real agent (testsrc + ffmpeg) records a short event and
ingests it zipped into the simulator, through the core's ingest limit."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from ocframe.testing.harness import InProcessAgent, agent, soon, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def recorded(running: InProcessAgent, uid: str) -> dict[str, str]:
    """What the agent uploads: its segments joined, and cut to the window."""
    rec = running.service.store.get(uid)
    assert rec is not None and rec.package is not None
    return {t.flavor: md5(t.path) for t in rec.package.tracks}


def check_single_ingest(sim: Any, running: InProcessAgent, uid: str) -> None:
    assert sim.wait_for_recording_state(uid, "upload_finished", timeout=60)
    assert sim.workflows_started(uid) == 1
    ingest = sim.find_ingest(uid)
    assert ingest is not None
    assert {t.flavor: t.md5 for t in ingest.tracks} == recorded(running, uid)


def config(sim: Any, tmp: Path, method: str, **kw: Any) -> Path:
    return write_config(tmp, sim, agents=[agent("room-1", method=method, **kw)])


def test_503_on_zipped(opencast_simulator: Any, tmp_path: Path) -> None:
    sim = opencast_simulator
    fault = sim.inject_fault(r"/addZippedMediaPackage", "status", status=503, times=2)
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
    with InProcessAgent(config(sim, tmp_path, "zipped")) as running:
        check_single_ingest(sim, running, uid)
        assert fault.hits == 2
        details = [a["detail"] for a in running.service.store.attempts(uid)]
        assert "503" in details[0]

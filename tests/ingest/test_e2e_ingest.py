"""End to end: a real agent (testsrc + ffmpeg) records short events and
ingests them into the simulator with each strategy, also through faults."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import InProcessAgent, agent, soon, write_config

CHUNKED = {"chunk_size": 64 * 1024, "min_chunked_size": 0}
SETTINGS: dict[str, dict[str, Any]] = {"chunked": CHUNKED}
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def recorded(running: InProcessAgent, uid: str) -> dict[str, str]:
    """What the agent uploads: its segments joined, and cut to the window."""
    rec = running.service.store.get(uid)
    assert rec is not None and rec.package is not None
    return {t.flavor: md5(t.path) for t in rec.package.tracks}


def check_single_ingest(sim: OpencastSimulator, running: InProcessAgent, uid: str) -> None:
    assert sim.wait_for_recording_state(uid, "upload_finished", timeout=60)
    assert sim.workflows_started(uid) == 1
    ingest = sim.find_ingest(uid)
    assert ingest is not None
    assert {t.flavor: t.md5 for t in ingest.tracks} == recorded(running, uid)


def config(sim: OpencastSimulator, tmp: Path, method: str, **kw: Any) -> Path:
    return write_config(tmp, sim, agents=[
        agent("room-1", method=method, ingest_settings=SETTINGS.get(method), **kw)])


@pytest.mark.parametrize("method", ["multirequest", "single", "zipped", "chunked"])
def test_records_and_ingests(opencast_simulator: OpencastSimulator, tmp_path: Path,
                             method: str) -> None:
    sim = opencast_simulator
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4), title="Lecture",
                        workflow="fast", workflow_config={"straightToPublishing": "true"})
    with InProcessAgent(config(sim, tmp_path, method)) as running:
        check_single_ingest(sim, running, uid)
    ingest = sim.find_ingest(uid)
    assert ingest is not None and ingest.mediapackage_id == uid
    assert ingest.method == {"multirequest": "multi"}.get(method, method)
    assert ingest.configuration.get("straightToPublishing") == "true"


# Where each method's file travels, for a connection reset in the middle of it.
UPLOAD_PATH = {"multirequest": r"/ingest/addTrack", "single": r"/ingest/addMediaPackage",
               "zipped": r"/ingest/addZippedMediaPackage", "chunked": r"/upload/job/"}


@pytest.mark.parametrize("method", ["multirequest", "single", "zipped", "chunked"])
def test_connection_reset_mid_file(opencast_simulator: OpencastSimulator, tmp_path: Path,
                                   method: str) -> None:
    sim = opencast_simulator
    fault = sim.inject_fault(UPLOAD_PATH[method], "reset", after_bytes=20_000, times=1,
                             method="POST")
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
    with InProcessAgent(config(sim, tmp_path, method)) as running:
        check_single_ingest(sim, running, uid)
        assert fault.hits == 1
        outcomes = [a["outcome"] for a in running.service.store.attempts(uid)]
        assert outcomes[0] not in (None, "ok", "failed")  # retried, not given up


@pytest.mark.parametrize("method", ["multirequest", "chunked"])
def test_500_on_ingest(opencast_simulator: OpencastSimulator, tmp_path: Path,
                       method: str) -> None:
    sim = opencast_simulator
    fault = sim.inject_fault(r"/ingest/ingest$", "status", status=500, times=2, method="POST")
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
    with InProcessAgent(config(sim, tmp_path, method)) as running:
        check_single_ingest(sim, running, uid)
        assert fault.hits == 2
        # Only the failed step was repeated: every track was sent once.
        sends = [r for r in sim.requests if r.path.endswith(("/addTrack", "/upload/newjob"))]
        assert len(sends) == 1


@pytest.mark.parametrize("method", ["multirequest", "chunked"])
def test_core_down_then_back(opencast_simulator: OpencastSimulator, tmp_path: Path,
                             method: str) -> None:
    sim = opencast_simulator
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
    with InProcessAgent(config(sim, tmp_path, method)) as running:
        # Down while still capturing: the upload cannot slip through first.
        assert sim.wait_for_recording_state(uid, "capturing", timeout=60)
        sim.go_down()
        store = running.service.store
        deadline = time.monotonic() + 30
        # A failed attempt, whatever the queue calls it ("retry", "unreachable").
        while not any(a["outcome"] not in (None, "ok") for a in store.attempts(uid)):
            assert time.monotonic() < deadline, "the upload never failed while the core was down"
            time.sleep(0.1)
        sim.come_up()
        check_single_ingest(sim, running, uid)


def test_switching_method_in_running_agent(opencast_simulator: OpencastSimulator,
                                           tmp_path: Path) -> None:
    sim = opencast_simulator
    cfg = config(sim, tmp_path, "multirequest")
    first = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
    with InProcessAgent(cfg, reload=True) as running:
        check_single_ingest(sim, running, first)
        config(sim, tmp_path, "zipped")
        runtime = running.service.agents["room-1"]
        deadline = time.monotonic() + 20
        while runtime.config.ingest.method != "zipped":
            assert time.monotonic() < deadline, "the new config was not applied"
            time.sleep(0.1)
        second = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
        check_single_ingest(sim, running, second)
    methods = [(i.mediapackage_id, i.method) for i in sim.ingests]
    assert methods == [(first, "multi"), (second, "zipped")]


@pytest.mark.parametrize("method", ["multirequest", "single", "zipped", "chunked"])
def test_ingest_goes_where_the_registry_says(opencast_simulator_factory: Any, tmp_path: Path,
                                             method: str) -> None:
    """A distributed core: ingest on another host, which alone serves /ingest.
    The agent must take the ingest endpoint from the registry (and trust it)."""
    sim = opencast_simulator_factory(ingest_host="127.0.0.2")
    ingest_addr = sim.ingest_url.removeprefix("http://")
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4))
    cfg = write_config(tmp_path, sim, extra={"core": {"trusted_hosts": [sim.ingest_url]}},
                       agents=[agent("room-1", method=method,
                                     ingest_settings=SETTINGS.get(method))])
    with InProcessAgent(cfg) as running:
        check_single_ingest(sim, running, uid)
    ingest_calls = [r for r in sim.requests if r.path.startswith("/ingest/")]
    assert ingest_calls
    assert {(r.listener, r.host) for r in ingest_calls} == {("ingest", ingest_addr)}
    # Nothing was tried at the wrong node first.
    assert [r.path for r in sim.requests if r.status == 404] == []
    assert all(r.listener == "core" for r in sim.requests
               if r.path.startswith(("/capture-admin/", "/recordings/", "/upload/")))

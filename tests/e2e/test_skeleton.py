"""End-to-end: a real agent, the simulator and real ffmpeg (issue 2)."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import subprocess
import time
from pathlib import Path

from ocframe_simulator import OpencastSimulator

from ocframe.store import RecordingStore
from ocframe.testing.harness import (
    AgentProcess,
    InProcessAgent,
    agent,
    covers_window,
    soon,
    testsrc_input,
    write_config,
)
from ocframe.testing.media import duration, stream_kinds


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_full_cycle_states_calendar_and_media_package(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    interval = 2.0  # the agent's heartbeat: recording states are repeated with it
    cfg = write_config(tmp_path, sim, user="ca", password="ca-secret",
                       agents=[agent("room-1", heartbeat_interval=interval,
                                     calendar={"poll_interval": 1.0, "lookahead": 3600.0})])
    start, end = soon(2), soon(10)
    uid = sim.add_event(agent="room-1", start=start, end=end, title="Lecture",
                        workflow="fast", workflow_config={"straightToPublishing": "true"})
    t_request = time.time()
    with InProcessAgent(cfg) as running:
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=20)
        assert sim.wait_for_agent_state("room-1", "idle", timeout=20)
        store = running.service.store

    history = sim.recording_state_history(uid)
    states = [s for _, s in history]
    # Every post as the core received it, repeats included, in a valid order.
    assert re.fullmatch(r"(capturing,)+capture_finished,(uploading,)+upload_finished",
                        ",".join(states)), states
    # The protocol's MUST: recording states regularly during a recording, not
    # only on change. Repeats come with the heartbeat, so a capture of 8 s
    # shows several and no silence much longer than the interval.
    capturing = [t for t, s in history if s == "capturing"]
    assert len(capturing) >= 3, states
    gaps = [b - a for a, b in itertools.pairwise(capturing)]
    assert max(gaps) <= interval + 1.0 + 2.0, gaps  # + the reporter's tick + load
    finished = next(t for t, s in history if s == "capture_finished")
    assert finished - capturing[-1] <= interval + 3.0

    agent_states = [s for _, s in sim.agent_state_history("room-1")]
    assert agent_states[0] == "idle"  # registered before anything else
    first_capture = agent_states.index("capturing")
    assert "uploading" in agent_states[first_capture:]
    # Back to idle after the upload; a final shutting_down is allowed, not required.
    last_idle = len(agent_states) - 1 - agent_states[::-1].index("idle")
    assert last_idle > agent_states.index("uploading")
    assert set(agent_states[last_idle + 1:]) <= {"shutting_down"}, agent_states

    req = sim.calendar_requests[0]
    assert req.params["agentid"] == "room-1"
    cutoff = int(req.params["cutoff"])
    assert abs(cutoff - (t_request + 3600) * 1000) < 30_000  # absolute ms, look-ahead 1 h

    assert ingest.mediapackage_id == uid  # linked to the scheduled event
    assert ingest.method == "multi"
    assert ingest.workflow_definition == "fast"
    assert ingest.properties.get("straightToPublishing") == "true"
    assert [t.flavor for t in ingest.tracks] == ["presenter/source"]
    assert len([t for seg in store.segments(uid) for t in seg.tracks]) == 1
    rec = store.get(uid)
    assert rec is not None and rec.package is not None
    recorded = rec.package.tracks  # the segment's file, cut to the window
    assert ingest.tracks[0].md5 == md5(recorded[0].path)
    assert ingest.tracks[0].size == recorded[0].path.stat().st_size
    stored = store.get(uid)
    assert stored is not None and stored.package is not None
    assert stored.package.tracks[0].md5 == ingest.tracks[0].md5  # hashed once by the kernel


def test_recording_is_playable_with_video_audio_and_scheduled_length(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-2")])
    with InProcessAgent(cfg) as running:
        # Scheduled once the agent runs, with room to learn of it: the agent's
        # own start-up time must not eat into the recording.
        assert sim.wait_for_agent_state("room-2", "idle", timeout=60)
        uid = sim.add_event(agent="room-2", start=soon(4), end=soon(8))
        scheduler = running.service.agents["room-2"].scheduler
        assert sim.wait_for(lambda: uid in {e.uid for e in scheduler.events()}, timeout=4)
        ingest = sim.wait_for_ingest(uid, timeout=60)
    assert ingest is not None
    event = sim.event(uid)
    assert event is not None
    scheduled = (event.end - event.start).total_seconds()
    assert stream_kinds(ingest.tracks[0].path) == {"video", "audio"}
    assert covers_window(duration(ingest.tracks[0].path), event.start, event.end, 1.0), scheduled


def test_third_party_driver_and_plugin_used_by_name(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    """docs/example_plugin is installed like any third-party distribution."""
    sim = opencast_simulator
    journal = tmp_path / "journal.jsonl"
    cfg = write_config(tmp_path, sim, agents=[agent("room-3", [
        {"name": "screen", "driver": "example-screen", "flavor": "presentation/source"},
    ])])
    listing = subprocess.run(["ocframe", "plugins"], capture_output=True, text=True, check=True,
                             env={**os.environ, "PATH": f"{Path(os.sys.executable).parent}:"
                                  + os.environ.get("PATH", "")})
    assert "example-screen" in listing.stdout and "ocframe-example" in listing.stdout
    uid = sim.add_event(agent="room-3", start=soon(1), end=soon(3))
    with AgentProcess(cfg, env={"OCFRAME_EXAMPLE_JOURNAL": str(journal)}) as proc:
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None, proc.log()
        assert sim.capabilities("room-3").get("capture.device.screen.journal") == "enabled"
    assert [t.flavor for t in ingest.tracks] == ["presentation/source"]
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    assert {"agent": "room-3", "recording": uid, "old": "uploading",
            "new": "upload_finished"} in lines


def test_two_agents_in_one_process(opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[
        agent("hall-a", [testsrc_input("cam")]),
        agent("hall-b", [testsrc_input("cam", "presentation/source")]),
    ])
    a = sim.add_event(agent="hall-a", start=soon(1), end=soon(3))
    b = sim.add_event(agent="hall-b", start=soon(1), end=soon(3))
    with InProcessAgent(cfg) as running:
        ia = sim.wait_for_ingest(a, timeout=60)
        ib = sim.wait_for_ingest(b, timeout=60)
        assert ia is not None and ib is not None
        store: RecordingStore = running.service.store
        assert {r.agent for r in store.recordings()} == {"hall-a", "hall-b"}
    assert ia.tracks[0].flavor == "presenter/source"
    assert ib.tracks[0].flavor == "presentation/source"


def test_many_rooms_in_one_process(opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    """One box serving many rooms: every agent records and ingests its own event."""
    sim = opencast_simulator
    names = [f"room-{i:02d}" for i in range(8)]
    cfg = write_config(tmp_path, sim, agents=[
        agent(n, [testsrc_input("cam", width=160, height=90, rate=5, audio=False)])
        for n in names
    ])
    uids = {n: sim.add_event(agent=n, start=soon(2), end=soon(4)) for n in names}
    with InProcessAgent(cfg):
        for n, uid in uids.items():
            assert sim.wait_for_ingest(uid, timeout=90) is not None, n
    for n in names:
        states = [s for _, s in sim.agent_state_history(n)]
        assert "capturing" in states and states[-1] in ("idle", "shutting_down"), (n, states)

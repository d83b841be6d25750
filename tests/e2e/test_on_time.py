"""Captures start and stop on time whatever the network does (issue 4)."""

from __future__ import annotations

from pathlib import Path

from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import (
    InProcessAgent,
    agent,
    launched_for,
    recorded_for,
    soon,
    testsrc_input,
    write_config,
)
from ocframe.testing.media import duration

TOLERANCE = 2.0  # seconds: generous for a loaded CI machine




def test_on_time_during_a_slow_upload_and_a_slow_calendar(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent(
        "room-busy", [testsrc_input("presenter", width=640, height=360, rate=25)],
        ingest_settings={"rate_limit": 100_000})])
    first = sim.add_event(agent="room-busy", start=soon(1), end=soon(4))
    second_start, second_end = soon(8), soon(12)
    second = sim.add_event(agent="room-busy", start=second_start, end=second_end)
    with InProcessAgent(cfg) as running:
        assert sim.wait_for_recording_state(first, "uploading", timeout=30)
        # From now on every calendar poll hangs for 5 s while the first
        # recording is still uploading (slowly) when the second one starts.
        sim.inject_fault(r"/recordings/calendars", "slow", delay=5.0)
        assert sim.wait_for(lambda: running.service.store.get(second) is not None
                            and running.service.store.get(second).state  # type: ignore[union-attr]
                            != "capturing", timeout=60)
        store = running.service.store
        done = sim.find_ingest(first)
        # The upload really was in progress while the second event started.
        assert done is None or done.time > second_start.timestamp()
        segs = store.segments(second)
        assert segs and segs[0].tracks, segs
        assert running.service.ingest.progress.get(first, (0, 1))[0] > 0
        assert launched_for(second_start, segs[0].started, TOLERANCE)
        assert recorded_for(duration(segs[0].tracks[0].path), second_start, second_end,
                            TOLERANCE)

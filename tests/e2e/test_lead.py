"""Inputs launched ahead of the window, trimmed back to it (issue 12):
the recording has its first second, the core hears ``capturing`` at DTSTART,
and what the core receives covers the window, not the launch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ocframe_simulator import OpencastSimulator

from ocframe.launches import LatencyRecord, LeadPolicy
from ocframe.model import Event
from ocframe.testing.harness import InProcessAgent, agent, soon, write_config
from ocframe.testing.media import duration


def test_inputs_launch_ahead_and_the_upload_is_trimmed_to_the_window(
        opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-lead")])
    # Room for the default lead (3 s for an input never measured) before each start.
    first_start, first_end = soon(7), soon(11)
    second_start, second_end = soon(19), soon(23)
    first = sim.add_event(agent="room-lead", start=first_start, end=first_end)
    second = sim.add_event(agent="room-lead", start=second_start, end=second_end)
    with InProcessAgent(cfg) as running:
        store = running.service.store
        ingest = sim.wait_for_ingest(first, timeout=60)
        assert ingest is not None
        seg = store.segments(first)[0]
        # Launched ahead of the window, by the default lead for an unknown input.
        ahead = first_start.timestamp() - seg.started
        assert 1.5 <= ahead <= LeadPolicy().lead([]) + 1.0, ahead
        assert seg.media_origin is not None and seg.trim_to == first_start.timestamp()
        # The core heard "capturing" at the window, not at the launch.
        states = sim.recording_state_history(first)
        capturing = [at for at, state in states if state == "capturing"]
        assert capturing and min(capturing) >= first_start.timestamp() - 0.05, states
        # What the core got covers the window (4 s), not the launch (about 7 s):
        # cut at the key frame at or before the window, so never shorter.
        raw = duration(seg.tracks[0].path)
        got = duration(ingest.tracks[0].path)
        assert raw >= 5.5, raw
        assert 3.7 <= got <= 4.0 + 1.2, (got, raw)
        # The launch-to-media time was measured and the next lead learnt from it.
        samples = LatencyRecord(store).of("room-lead")["presenter"]
        assert samples and 0.0 <= samples[0] < 5.0, samples
        probe_start = soon(60)
        plan = running.service.agents["room-lead"].launches.plan(
            Event(uid="probe", start=probe_start, end=probe_start + timedelta(seconds=5)))
        lead = probe_start.timestamp() - plan["presenter"]
        assert lead <= LeadPolicy().lead(samples) + 0.2, (lead, samples)
        assert sim.wait_for_ingest(second, timeout=60) is not None


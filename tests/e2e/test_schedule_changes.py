"""The schedule as it changes (issue 4): mid-event start, moves, deletions, extensions."""

from __future__ import annotations

from pathlib import Path

from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import InProcessAgent, agent, soon, write_config
from ocframe.testing.media import duration


def test_agent_started_mid_event_records_the_rest(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-mid")])
    uid = sim.add_event(agent="room-mid", start=soon(-10), end=soon(3))
    with InProcessAgent(cfg):
        ingest = sim.wait_for_ingest(uid, timeout=60)
    assert ingest is not None
    assert 1.5 <= duration(ingest.tracks[0].path) <= 5.0


def test_deleted_and_moved_events_are_honoured_and_running_end_extended(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-chg")])
    deleted = sim.add_event(agent="room-chg", start=soon(4), end=soon(6), title="deleted")
    moved = sim.add_event(agent="room-chg", start=soon(4), end=soon(6), title="moved")
    extended = sim.add_event(agent="room-chg", start=soon(1), end=soon(3), title="extended")
    with InProcessAgent(cfg) as running:
        assert sim.wait_for(lambda: len(sim.calendar_requests) >= 1, timeout=10)
        sim.remove_event(deleted)
        sim.update_event(moved, start=soon(60), end=soon(62))
        assert sim.wait_for_recording_state(extended, "capturing", timeout=15)
        sim.update_event(extended, end=soon(5))
        ingest = sim.wait_for_ingest(extended, timeout=60)
        assert ingest is not None
        store = running.service.store
        assert store.get(deleted) is None
        assert store.get(moved) is None
    assert sim.recording_state(deleted) is None
    assert duration(ingest.tracks[0].path) >= 4.0  # 2 s scheduled, extended while running


def test_unknown_input_names_are_reported_and_selection_honoured(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    from ocframe.testing.harness import testsrc_input

    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-sel", [
        testsrc_input("presenter"), testsrc_input("slides", "presentation/source")])])
    uid = sim.add_event(agent="room-sel", start=soon(1), end=soon(3),
                        inputs=["slides", "nonexistent"])
    with InProcessAgent(cfg):
        ingest = sim.wait_for_ingest(uid, timeout=60)
    assert ingest is not None
    assert [t.flavor for t in ingest.tracks] == ["presentation/source"]

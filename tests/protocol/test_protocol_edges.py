"""Protocol rules the happy path never meets: an event that selects no inputs,
and a recording the core did not schedule (its recording states are refused)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import requests
from ocframe_simulator import OpencastSimulator
from ocframe_simulator.responses import NOT_FOUND_TEXT

from ocframe.opencast.calendar import parse_calendar
from ocframe.testing.harness import InProcessAgent, agent, soon, testsrc_input, write_config

pytestmark = pytest.mark.e2e

TWO_INPUTS = [testsrc_input("presenter"), testsrc_input("slides", "presentation/source")]


def uploaded(running: InProcessAgent, uid: str) -> dict[str, str]:
    """flavor -> MD5 of the files the agent's upload package holds (what it
    recorded, trimmed to the window if it launched early)."""
    rec = running.service.store.get(uid)
    assert rec is not None and rec.package is not None
    return {t.flavor: hashlib.md5(t.path.read_bytes()).hexdigest() for t in rec.package.tracks}


def calendar_of(sim: OpencastSimulator, name: str) -> bytes:
    return requests.get(f"{sim.url}/recordings/calendars", params={"agentid": name},
                        auth=("ca", "ca-secret"), timeout=10).content


@pytest.mark.parametrize("selected", [[], None], ids=["empty", "absent"])
def test_event_selecting_no_inputs_records_all_of_them(
    opencast_simulator: OpencastSimulator, tmp_path: Path, selected: list[str] | None
) -> None:
    """The agent MUST capture with all available inputs when an event's
    ``capture.device.names`` is missing or empty."""
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-1", inputs=TWO_INPUTS)])
    uid = sim.add_event("room-1", soon(2), soon(5), inputs=selected)
    (event,) = parse_calendar(calendar_of(sim, "room-1"))
    # The case is really on the wire: an empty value, or no key at all.
    if selected is None:
        assert "capture.device.names" not in event.properties
    else:
        assert event.properties["capture.device.names"] == ""
    with InProcessAgent(cfg) as running:
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        sent = uploaded(running, uid)
    assert sorted(t.flavor for t in ingest.tracks) == ["presentation/source", "presenter/source"]
    assert {t.flavor: t.md5 for t in ingest.tracks} == sent


def test_core_refuses_states_of_recordings_it_did_not_schedule(
    opencast_simulator: OpencastSimulator,
) -> None:
    sim = opencast_simulator
    url = f"{sim.url}/capture-admin/recordings/not-an-event"
    r = requests.post(url, data={"state": "capturing"}, auth=("ca", "ca-secret"), timeout=10)
    assert (r.status_code, r.text) == (404, NOT_FOUND_TEXT)
    r = requests.get(url + ".json", auth=("ca", "ca-secret"), timeout=10)
    assert r.status_code == 404
    assert sim.recording_state("not-an-event") is None
    # An unknown state is a 400 whether or not the recording exists.
    r = requests.post(url, data={"state": "recording"}, auth=("ca", "ca-secret"), timeout=10)
    assert r.status_code == 400


def test_recording_unknown_to_the_core_is_kept_and_ingested_without_404_spam(
    opencast_simulator: OpencastSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The agent records an event under an id the core's capture admin does not
    know (as with an unscheduled recording): every recording state is refused
    with 404. The agent records and ingests all the same, keeps reporting its
    own state, and does not repeat refused states every heartbeat."""
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    scheduled = sim.add_event("room-1", soon(2), soon(10), title="Walk-in")
    unknown = "walk-in-0001"
    # The agent sees the event under an id the core never scheduled.
    sim.calendar_transform = lambda body: body.replace(scheduled.encode(), unknown.encode())
    cfg = write_config(tmp_path, sim, agents=[agent("room-1", heartbeat_interval=1.0)])
    with InProcessAgent(cfg) as running:
        ingest = sim.wait_for_ingest(unknown, timeout=90)
        assert ingest is not None
        assert sim.wait_for_agent_state("room-1", "idle", timeout=30)
        sent = uploaded(running, unknown)
    assert ingest.mediapackage_id == unknown
    assert {t.flavor: t.md5 for t in ingest.tracks} == sent
    posts = [r for r in sim.requests
             if r.method == "POST" and r.path == f"/capture-admin/recordings/{unknown}"]
    assert posts and {r.status for r in posts} == {404}
    # An 8 s capture at a 1 s heartbeat: repeats would be several times this.
    states = ("capturing", "capture_finished", "uploading", "upload_finished")
    assert len(posts) <= len(states), len(posts)
    warned = [r.getMessage() for r in caplog.records
              if r.name == "ocframe.reporter" and r.levelno >= logging.WARNING]
    assert len(warned) == 1 and unknown in warned[0], warned
    agent_states = [s for _, s in sim.agent_state_history("room-1")]
    assert "capturing" in agent_states and "uploading" in agent_states
    assert sim.recording_state(scheduled) is None and sim.recording_state(unknown) is None

"""Ad-hoc recording through the API: a new event for the core, the overlap
rule with the calendar, no recording states the core would refuse (issue 13)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator
from ocframe_web.testing import running_page, wait_until, web_config

from ocframe.testing.harness import soon


@pytest.mark.e2e
def test_adhoc_recording_is_ingested_as_a_new_event_and_delays_a_scheduled_one(
    opencast_simulator: OpencastSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sim = opencast_simulator
    cfg = web_config(tmp_path, sim, "room-adhoc")
    with running_page(cfg) as (_, page):
        started = page.post("/api/v1/agents/room-adhoc/record",
                            {"duration": "10m", "title": "Nobody scheduled <this>",
                             "workflow": "fast"})
        assert started.status_code == 201, started.text
        rid = started.json()["recording_id"]
        run = wait_until(lambda: page.agent("room-adhoc")["running"], 20, "the ad-hoc run")[0]
        assert (run["recording_id"], run["unscheduled"]) == (rid, True)
        assert page.agent("room-adhoc")["state"] == "capturing"
        assert sim.wait_for_agent_state("room-adhoc", "capturing", timeout=15)

        # One recording per room: a second start is refused, saying why.
        again = page.post("/api/v1/agents/room-adhoc/record", {"duration": 60})
        assert again.status_code == 409 and "is recording" in again.json()["error"]

        # The calendar's event starts meanwhile: it waits (the overlap rule) ...
        uid = sim.add_event(agent="room-adhoc", start=soon(1), end=soon(12), title="Scheduled")
        wait_until(lambda: any("overlaps recording" in r.getMessage() and uid in r.getMessage()
                               for r in caplog.records), 20, "the overlap warning")
        assert [r["recording_id"] for r in page.agent("room-adhoc")["running"]] == [rid]
        # ... and starts once the operator stops the ad-hoc one.
        assert page.post("/api/v1/agents/room-adhoc/stop",
                         {"recording_id": rid}).json() == {"stopped": [rid]}
        ingest = sim.wait_for_ingest(rid, timeout=60)
        assert ingest is not None
        assert sim.wait_for_ingest(uid, timeout=60) is not None

    assert ingest.workflow_definition == "fast"
    dc = ingest.dublin_core
    assert dc["title"] == ["Nobody scheduled <this>"]
    assert dc["spatial"] == ["room-adhoc"]
    assert dc["identifier"] == [rid]
    assert dc["created"] and dc["created"][0].endswith("Z")
    assert ingest.tracks and all((t.size or 0) > 0 for t in ingest.tracks)
    # The core has no event for it: no recording state was sent, no 404 logged.
    assert not [r for r in sim.requests if rid in r.path and "/recordings/" in r.path]
    assert not any("does not know recording" in r.getMessage() for r in caplog.records)
    # The scheduled one reported its states as always.
    assert sim.recording_state(uid) == "upload_finished" or sim.wait_for_recording_state(
        uid, "upload_finished", timeout=20)


@pytest.mark.e2e
def test_adhoc_recording_survives_an_agent_crash(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    from ocframe_web.testing import Page

    from ocframe.testing.harness import AgentProcess

    sim = opencast_simulator
    cfg = web_config(tmp_path, sim, "room-crash")
    url_file = tmp_path / "var" / "web.url"
    proc = AgentProcess(cfg).start()
    try:
        wait_until(url_file.exists, 30, "the page")
        page = Page(url_file.read_text().strip())
        started = page.post("/api/v1/agents/room-crash/record",
                            {"duration": "5m", "title": "Survives"})
        assert started.status_code == 201, started.text
        rid = started.json()["recording_id"]
        wait_until(lambda: (r := page.agent("room-crash")["running"]) and r[0]["inputs"][0][
            "capturing_since"], 20, "the capture")
        sim.wait_for(lambda: False, timeout=2.0)  # let it record a little
    finally:
        proc.kill()
    url_file.unlink(missing_ok=True)  # what SIGKILL left behind
    with AgentProcess(cfg) as again:
        wait_until(url_file.exists, 30, "the page again")
        page = Page(url_file.read_text().strip())
        run = wait_until(lambda: page.agent("room-crash")["running"], 30, "the resumed run")[0]
        assert (run["recording_id"], run["unscheduled"]) == (rid, True), again.log()
        wait_until(lambda: page.agent("room-crash")["running"][0]["inputs"][0]["segment"] >= 1,
                   20, "a new segment")
        assert page.post("/api/v1/agents/room-crash/stop").status_code == 200
        ingest = sim.wait_for_ingest(rid, timeout=60)
        assert ingest is not None, again.log()
    assert ingest.dublin_core["title"] == ["Survives"]
    assert len(ingest.tracks) == 1  # both segments, joined
    assert not [r for r in sim.requests if rid in r.path and "/recordings/" in r.path]

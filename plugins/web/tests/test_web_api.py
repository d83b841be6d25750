"""The JSON API and /metrics follow the agent through a recording (issue 13)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator
from ocframe_web.testing import Page, running_page, wait_until, web_config
from prometheus_client.parser import text_string_to_metric_families

from ocframe.testing.harness import soon, testsrc_input


def metrics(page: Page) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = page.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.mark.e2e
def test_status_and_metrics_match_the_agent_through_a_recording(
    opencast_simulator: OpencastSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as `ocframe run` logs
    sim = opencast_simulator
    cfg = web_config(tmp_path, sim, "room-m")
    # Far enough ahead to be "next" for a while: inputs are launched (and the
    # recording begun) up to about 5 s before the window.
    uid = sim.add_event(agent="room-m", start=soon(10), end=soon(14), title="Metrics 101")
    with running_page(cfg) as (running, page):
        first = wait_until(lambda: (a := page.agent("room-m"))["next_events"] and a, 20,
                           "the calendar's event")
        assert first["state"] == "idle"
        assert [e["uid"] for e in first["next_events"]] == [uid]
        assert first["inputs"] == [{"name": "presenter", "driver": "testsrc",
                                    "flavor": "presenter/source"}]

        agent = wait_until(lambda: (a := page.agent("room-m"))["running"] and a, 30,
                           "the recording to run")
        run = agent["running"][0]
        assert (run["recording_id"], run["title"], run["unscheduled"]) == (uid, "Metrics 101",
                                                                          False)
        assert [i["name"] for i in run["inputs"]] == ["presenter"]
        m = metrics(page)
        assert m[("ocframe_agent_state", (("agent", "room-m"), ("state", "capturing")))] == 1
        assert m[("ocframe_agent_state", (("agent", "room-m"), ("state", "idle")))] == 0
        assert m[("ocframe_recordings", (("agent", "room-m"), ("state", "capturing")))] == 1
        assert m[("ocframe_recordings_capturing", (("agent", "room-m"),))] == 1
        assert m[("ocframe_calendar_sync_age_seconds", (("agent", "room-m"),))] < 10
        assert ("ocframe_last_ingest_age_seconds", ()) not in m  # none yet

        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        wait_until(lambda: page.json(f"/api/v1/recordings/{uid}")["state"] == "upload_finished",
                   30, "upload_finished in the store")
        rec = page.json(f"/api/v1/recordings/{uid}")
        assert [h["state"] for h in rec["history"]][:2] == ["capturing", "capture_finished"]
        assert rec["history"][-1]["state"] == "upload_finished"
        wait_until(lambda: page.agent("room-m")["state"] == "idle", 15, "the agent idle again")

        m = metrics(page)
        snap = page.status()
        assert m[("ocframe_agent_state", (("agent", "room-m"), ("state", "idle")))] == 1
        assert m[("ocframe_recordings", (("agent", "room-m"), ("state", "upload_finished")))] == 1
        assert m[("ocframe_recordings", (("agent", "room-m"), ("state", "capturing")))] == 0
        assert 0 <= m[("ocframe_last_ingest_age_seconds", ())] < 30
        sent = m[("ocframe_uploaded_bytes_total", ())]
        track_bytes = sum(t.size or 0 for t in ingest.tracks)
        assert track_bytes > 0 and sent >= track_bytes
        assert sent <= snap["bytes_uploaded"]  # the snapshot came later
        assert m[("ocframe_core_contact_age_seconds", (("agent", "room-m"),))] < 10
        assert m[("ocframe_capture_restarts_total", (("agent", "room-m"),))] == 0
        free = shutil.disk_usage(running.service.config.storage.directory).free
        assert abs(m[("ocframe_disk_free_bytes", ())] - free) < 200 << 20
        assert m[("ocframe_disk_low", ())] == 0
        loops = {h["name"] for h in snap["loops"]}
        assert {"scheduler-room-m", "reporter-room-m", "calendar-room-m"} <= loops
        for name in loops:
            assert m[("ocframe_loop_state", (("loop", name), ("state", "ok")))] == 1
            assert m[("ocframe_loop_errors_total", (("loop", name),))] == 0
        logs = page.json("/api/v1/logs?limit=200")["lines"]
        assert any(uid in line["message"] and "ingested" in line["message"] for line in logs)


@pytest.mark.e2e
def test_upload_progress_shows_bytes_rate_and_time_left(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    # A slow uplink (150 kB/s) and a few seconds of a larger picture: the upload lasts.
    cfg = web_config(tmp_path, sim, "room-up", ingest_settings={"rate_limit": 150_000},
                     inputs=[testsrc_input("presenter", width=960, height=540, rate=25)])
    uid = sim.add_event(agent="room-up", start=soon(1), end=soon(5))
    with running_page(cfg) as (_, page):
        def progress() -> dict | None:  # type: ignore[type-arg]
            rec = page.json(f"/api/v1/recordings/{uid}") if page.get(
                f"/api/v1/recordings/{uid}").ok else None
            up = rec and rec["upload"]
            # Past the first fifth: the rate since the first byte has settled.
            return up if up and up["rate"] and up["sent"] > up["total"] // 5 else None

        up = wait_until(progress, 60, "upload progress with a rate")
        assert 0 < up["sent"] <= up["total"]
        assert 30_000 < up["rate"] < 400_000, up  # about the limit
        assert up["eta"] is not None and up["eta"] >= 0
        assert page.agent("room-up")["state"] == "uploading"
        assert sim.wait_for_ingest(uid, timeout=90) is not None
        wait_until(lambda: page.json(f"/api/v1/recordings/{uid}")["upload"] is None, 20,
                   "no progress once ingested")


def test_actions_refuse_what_would_lose_or_garble_a_recording(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = web_config(tmp_path, sim, "room-act")
    with running_page(cfg) as (running, page):
        for body, why in (({"duration": 0}, "duration must be between"),
                          ({"duration": "13h"}, "duration must be between"),
                          ({"duration": "later"}, "not a duration"),
                          ({"duration": 60, "workflow": "../x y"}, "not a workflow")):
            refused = page.post("/api/v1/agents/room-act/record", body)
            assert refused.status_code in (400, 409) and why in refused.json()["error"], body
        assert page.post("/api/v1/agents/nowhere/record", {"duration": 60}).status_code == 409
        assert page.post("/api/v1/agents/room-act/stop").status_code == 409  # nothing runs

        rid = page.post("/api/v1/agents/room-act/record", {"duration": 60}).json()[
            "recording_id"]
        wait_until(lambda: page.agent("room-act")["running"], 20, "the recording")
        for action in ("retry", "delete"):
            busy = page.post(f"/api/v1/recordings/{rid}/{action}", {"force": True})
            assert busy.status_code == 409, action
        assert running.service.store.get(rid) is not None

        sim.inject_fault(r"/ingest/ingest", "status", status=400)  # the core refuses for good
        page.post("/api/v1/agents/room-act/stop")
        wait_until(lambda: page.json(f"/api/v1/recordings/{rid}")["state"] == "upload_error",
                   60, "upload_error")
        failed = page.json(f"/api/v1/recordings/{rid}")
        assert failed["error"] and failed["attempts"] >= 1
        directory = running.service.store.get(rid).directory
        assert directory.is_dir()

        sim.clear_faults()
        assert page.post(f"/api/v1/recordings/{rid}/retry").status_code == 200
        assert sim.wait_for_ingest(rid, timeout=60) is not None
        wait_until(lambda: page.json(f"/api/v1/recordings/{rid}")["state"] == "upload_finished",
                   30, "upload_finished after the retry")
        assert page.post(f"/api/v1/recordings/{rid}/delete").json() == {"deleted": rid}
        assert page.get(f"/api/v1/recordings/{rid}").status_code == 404
        assert not directory.exists()

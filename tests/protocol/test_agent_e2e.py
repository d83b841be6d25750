"""Whole agents against the simulator: what the core sees, bad answers,
per-event properties, and the permanent schedule cache."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocframe_simulator import OpencastSimulator
from ocframe_simulator.calendar_render import episode_catalog, series_catalog

from ocframe.opencast.calendar import parse_calendar
from ocframe.testing.harness import (
    InProcessAgent,
    agent,
    launched_for,
    only_plugins,
    soon,
    testsrc_input,
    write_config,
)

pytestmark = pytest.mark.e2e


def errors(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith(logger)]


def test_registration_heartbeat_and_capabilities(opencast_simulator: OpencastSimulator,
                                                 agent_dir: Path) -> None:
    sim = opencast_simulator
    cfg = write_config(agent_dir, sim, agents=[agent(
        "room-1",
        inputs=[testsrc_input("presenter"), testsrc_input("slides", "presentation/source")],
        heartbeat_interval=1.0, capabilities_interval=3600.0, capabilities_format="json",
        address="http://room-1.example:8000")])
    running = InProcessAgent(cfg)
    # Free disk space is part of the capabilities; hold it still so that
    # "unchanged" means unchanged while other tests write files.
    running.service.disk.free_mib = lambda: 5000  # type: ignore[method-assign]
    with running:
        assert sim.wait_for_agent_state("room-1", "idle")
        assert sim.wait_for(lambda: len(sim.agent_state_history("room-1")) >= 3, 10)
        assert sim.agent_address("room-1") == "http://room-1.example:8000"
        caps = sim.capabilities("room-1")
        assert caps["capture.device.names"] == "presenter,slides"
        # Change signals with unchanged capabilities post nothing new.
        reporter = running.service.agents["room-1"].reporter
        for _ in range(3):
            reporter.capabilities_changed()
        assert sim.wait_for(lambda: len(sim.agent_state_history("room-1")) >= 5, 10)
        assert sim.capabilities_posts("room-1") == 1
        # The interval re-sends them even unchanged (the core may have been reset).
        reporter.capabilities_interval = 0.5
        assert sim.wait_for(lambda: sim.capabilities_posts("room-1") >= 2, 10)
    assert any(r.content_type and "form" in r.content_type for r in sim.requests
               if r.path.endswith("/configuration"))


@pytest.mark.parametrize("kind", ["status500", "status503", "truncated",
                                  "broken_calendar", "down"])
def test_bad_calendar_answer_one_line_keep_schedule_recover(
    opencast_simulator: OpencastSimulator, agent_dir: Path, caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    uid = sim.add_event("room-1", soon(3600), soon(3700))
    cfg = write_config(agent_dir, sim, agents=[agent("room-1")])
    with InProcessAgent(cfg) as running:
        rt = running.service.agents["room-1"]
        assert sim.wait_for(lambda: [e.uid for e in rt.scheduler.events()] == [uid], 15)
        def polls() -> int:
            return sum(r.path == "/recordings/calendars" for r in sim.requests)

        before = polls()
        # Polls that went out while the core was down leave no trace in its
        # request log: count them at the poller.
        polls_done: list[float] = []
        real_poll = rt.calendar.poll

        def counted_poll() -> None:
            real_poll()
            polls_done.append(time.monotonic())

        rt.calendar.poll = counted_poll  # type: ignore[method-assign]
        if kind == "down":
            sim.go_down()
        elif kind == "broken_calendar":
            sim.calendar_transform = lambda body: body.replace(b"DTEND:", b"DTEND:x", 1)
            sim.update_event(uid, title="changed")  # new ETag: a full answer comes
        else:
            status = 503 if kind == "status503" else 500
            sim.inject_fault("^/recordings/calendars", "status" if kind.startswith("status")
                             else kind, status=status)
            # A changed calendar, so the faults meet a full answer, not a 304.
            sim.update_event(uid, title="changed")
        if kind == "broken_calendar":
            # One unreadable event, not a broken calendar: it keeps its last
            # readable version, said once (not once per poll) with its line.
            def warned() -> list[str]:
                return [r.getMessage() for r in caplog.records
                        if r.name == "ocframe.calendar" and r.levelno >= logging.WARNING]
            assert sim.wait_for(lambda: bool(warned()), 15)
            assert sim.wait_for(lambda: polls() >= before + 3, 15)
            (line,) = warned()
            assert "keeping the last readable version" in line and "line " in line
            assert uid in line
        else:
            deadline_ok = sim.wait_for(
                lambda: any("calendar" in m for m in errors(caplog, "ocframe")), 15)
            assert deadline_ok
            if kind != "down":  # several polls fail...
                assert sim.wait_for(lambda: polls() >= before + 3, 15)
            else:
                down_since = len(polls_done)
                deadline = time.monotonic() + 30
                while len(polls_done) < down_since + 3:
                    assert time.monotonic() < deadline, "the agent stopped polling"
                    time.sleep(0.05)
            lines = [m for m in errors(caplog, "ocframe.agent") if "calendar" in m]
            assert len(lines) == 1, lines  # ...and say so once
        assert [e.uid for e in rt.scheduler.events()] == [uid]  # the schedule is kept
        # The core recovers, and so does the agent.
        if kind == "down":
            sim.come_up()
        sim.clear_faults()
        sim.calendar_transform = None
        sim.update_event(uid, title="recovered")
        assert sim.wait_for(lambda: [e.title for e in rt.scheduler.events()] == ["recovered"], 15)
        if kind != "broken_calendar":  # that one never failed
            # Said once the schedule is handed over and cached: wait, do not race it.
            assert sim.wait_for(lambda: any("answers again" in r.getMessage()
                                            for r in caplog.records), 10)


def test_304_means_no_parse_and_no_cache_write(opencast_simulator: OpencastSimulator,
                                               agent_dir: Path) -> None:
    sim = opencast_simulator
    sim.add_event("room-1", soon(3600), soon(3700))
    cfg = write_config(agent_dir, sim, agents=[agent("room-1")])
    with InProcessAgent(cfg) as running:
        rt = running.service.agents["room-1"]
        cache = running.service.schedule_cache
        assert sim.wait_for(lambda: cache.info("room-1") is not None, 15)
        saved = cache.info("room-1")
        assert saved is not None and saved[0] == sim.calendar_etag("room-1")
        parser = rt.calendar._parser
        calls: list[int] = []
        original = parser.parse
        parser.parse = lambda *a, **k: calls.append(1) or original(*a, **k)  # type: ignore[method-assign]
        assert sim.wait_for(lambda: sum(r.status == 304 for r in sim.calendar_requests) >= 2, 15)
        assert calls == [] and cache.info("room-1") == saved
    req = sim.calendar_requests
    assert all(r.params["agentid"] == "room-1" for r in req)
    now_ms = datetime.now(UTC).timestamp() * 1000
    cutoff = int(req[-1].params["cutoff"])
    assert now_ms + 13 * 86400_000 < cutoff < now_ms + 15 * 86400_000  # absolute ms, 14 days


def test_event_properties_reach_capture_and_ingest(opencast_simulator: OpencastSimulator,
                                                    agent_dir: Path) -> None:
    sim = opencast_simulator
    inputs = [testsrc_input("presenter"), testsrc_input("slides", "presentation/source")]
    a: dict[str, Any] = agent("room-1", inputs=inputs)
    a["ingest"]["legacy_catalogs"] = True
    cfg = write_config(agent_dir, sim, agents=[a])
    uid = sim.add_event("room-1", soon(2), soon(5), title="Analysis, part 1", inputs=["slides"],
                        workflow="fast", series_id="series-9", series_title="Analysis",
                        workflow_config={"straightToPublishing": "true",
                                         "some.dotted.key": "v"})
    with InProcessAgent(cfg):
        ingest = sim.wait_for_ingest(uid, timeout=60)
    assert ingest is not None
    assert [t.flavor for t in ingest.tracks] == ["presentation/source"]  # only the selected input
    assert ingest.workflow_definition == "fast"
    assert ingest.properties.get("straightToPublishing") == "true"
    assert ingest.properties.get("some.dotted.key") == "v"
    scheduled = sim.event(uid)
    assert scheduled is not None
    expected = {"dublincore/episode": episode_catalog(scheduled).encode(),
                "dublincore/series": series_catalog(scheduled).encode()}
    seen = {c.flavor: c.path.read_bytes() for c in ingest.catalogs if c.path}
    assert seen == expected  # the calendar's catalogs, unchanged


def test_restart_without_network_records_from_the_cache(opencast_simulator: OpencastSimulator,
                                                         agent_dir: Path) -> None:
    sim = opencast_simulator
    cfg = write_config(agent_dir, sim, agents=[agent("room-1")])
    uid = sim.add_event("room-1", soon(8), soon(11), title="Offline lecture")
    event = parse_calendar(sim_calendar(sim))[0]
    with InProcessAgent(cfg) as first:
        cache = first.service.schedule_cache
        assert sim.wait_for(lambda: cache.info("room-1") is not None, 15)
    sim.go_down()
    with InProcessAgent(cfg) as second:
        store = second.service.store
        assert sim.wait_for(lambda: store.get(uid) is not None, 30)
        rec = store.get(uid)
        assert rec is not None
        segs = store.segments(uid)
        started = min(s.started for s in segs)
        assert launched_for(event.start, started, 3.0)  # on time, without the core
        assert sim.wait_for(lambda: (store.get(uid) or rec).state != "capturing", 30)
        sim.come_up()
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        assert sim.wait_for_recording_state(uid, "upload_finished", 30)
        # The network coming back changed nothing: one recording, one workflow.
        assert sim.workflows_started(uid) == 1
        assert len({s.segment for s in segs}) == 1


def sim_calendar(sim: OpencastSimulator) -> bytes:
    import requests

    return requests.get(f"{sim.url}/recordings/calendars", params={"agentid": "room-1"},
                        auth=("ca", "ca-secret"), timeout=10).content


def test_digest_agent_records_and_ingests(
    opencast_simulator_factory: Any, agent_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = opencast_simulator_factory(auth="digest")  # the core's nonce lifetime, 300 s
    caplog.set_level(logging.INFO)
    # Only what it uses: another installed plugin's error must not fail this test.
    cfg = write_config(agent_dir, sim, agents=[agent("room-1")], auth="digest",
                       user="opencast_system_account", password="CHANGE_ME",
                       extra={"plugins": only_plugins("testsrc", "multirequest")})
    uid = sim.add_event("room-1", soon(2), soon(5))
    expired_at: list[int] = []

    def expire_on_capture_finished(entry: Any) -> None:
        # The nonce goes stale between capture and upload, as 300 s of a
        # long recording would make it.
        if not expired_at and sim.recording_state(uid) == "capture_finished":
            expired_at.append(len(sim.requests))
            sim.expire_nonces()

    sim.request_listeners.append(expire_on_capture_finished)
    with InProcessAgent(cfg) as running:
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        assert sim.wait_for_recording_state(uid, "upload_finished", 30)
        rec = running.service.store.get(uid)
        assert rec is not None and rec.package is not None
        recorded = rec.package.tracks  # the files it uploaded (trimmed to the window)
    assert expired_at, "the nonce was never made stale"
    assert any(r.status == 401 for r in sim.requests[expired_at[0]:])  # met and handled
    # One workflow with the recorded media, each track stored once.
    assert sim.workflows_started(uid) == 1
    assert [t.md5 for t in ingest.tracks] == [
        hashlib.md5(t.path.read_bytes()).hexdigest() for t in recorded]
    assert [r.status for r in sim.requests if r.path == "/ingest/addTrack"] == [200]
    assert not errors(caplog, "ocframe")


@pytest.mark.parametrize("kind", ["status", "login_redirect", "slow"])
def test_state_reports_fail_once_in_the_log_and_catch_up(
    opencast_simulator: OpencastSimulator, agent_dir: Path, caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    cfg = write_config(agent_dir, sim, agents=[agent("room-1", heartbeat_interval=0.5)],
                       extra={"core": {"timeout": 1.0}})
    with InProcessAgent(cfg):
        assert sim.wait_for_agent_state("room-1", "idle")
        fault = sim.inject_fault("^/capture-admin/", kind, status=500, delay=3.0)

        def failed_posts() -> int:
            return sum(1 for r in sim.requests
                       if r.path.startswith("/capture-admin/") and r.fault)

        assert sim.wait_for(lambda: failed_posts() >= 3, 30)
        lines = errors(caplog, "ocframe.reporter")
        assert len(lines) == 1, lines
        if kind == "login_redirect":
            assert "login page" in lines[0] and "'admin'" in lines[0]
            assert "opencast" not in lines[0].replace("/opencast", "")
        fault.remove()
        heard = len(sim.agent_state_history("room-1"))
        assert sim.wait_for(lambda: len(sim.agent_state_history("room-1")) > heard + 1, 30)
        assert sim.agent_state("room-1") == "idle"
    assert any("answers again" in r.getMessage() for r in caplog.records)

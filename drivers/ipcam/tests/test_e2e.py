"""A whole agent (kernel + simulator) with an RTSP camera and a V4L2-style source."""

from __future__ import annotations

import importlib.util
import time
from datetime import timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

harness = pytest.importorskip("ocframe.testing.harness", reason="kernel harness not available")


def _config(tmp_path: Path, sim, server, monkeypatch) -> Path:
    monkeypatch.setenv("CAM1_PASSWORD", server.password)
    inputs = [
        {
            "name": "camera",
            "driver": "ipcam",
            "flavor": "presentation/source",
            "settings": {
                "url": server.url,
                "username": server.username,
                "password": "${CAM1_PASSWORD}",
                "connect_timeout": 2.0,
            },
        },
        {
            "name": "presenter",
            "driver": "v4l2",
            "flavor": "presenter/source",
            "settings": {
                "source_override": "testsrc",
                "test_size": "320x180",
                "test_rate": 15,
                "audio": "alsa",
            },
        },
    ]
    return harness.write_config(tmp_path, sim, agents=[harness.agent("room-1", inputs)])


@pytest.mark.skipif(
    importlib.util.find_spec("ocframe_driver_v4l2") is None,
    reason="ocframe-driver-v4l2 not installed",
)
def test_rtsp_camera_and_v4l2_source_ingest_two_tracks(
    tmp_path, opencast_simulator, rtsp_server, monkeypatch, ffprobe
) -> None:
    cfg = _config(tmp_path, opencast_simulator, rtsp_server, monkeypatch)
    sim = opencast_simulator
    with harness.InProcessAgent(cfg) as running:
        # Scheduled once the agent runs, with room to learn of it and to
        # launch both inputs ahead: the agent's start-up is no part of the length.
        assert sim.wait_for_agent_state("room-1", "idle", timeout=60)
        start = harness.soon(6)
        end = start + timedelta(seconds=6)
        uid = sim.add_event(agent="room-1", start=start, end=end)
        scheduler = running.service.agents["room-1"].scheduler
        assert sim.wait_for(lambda: uid in {e.uid for e in scheduler.events()}, timeout=5)
        ingest = sim.wait_for_ingest(uid, timeout=90)
    assert ingest is not None
    by_flavor = {t.flavor: t for t in ingest.tracks}
    assert set(by_flavor) == {"presentation/source", "presenter/source"}
    for track in by_flavor.values():
        assert track.path is not None
        seconds = float(ffprobe(track.path)["format"]["duration"])
        # The window, plus at most the lead an input is launched ahead by
        # (a stream copy can only be trimmed back at a key frame).
        assert harness.recorded_for(seconds, start, end, 1.5), (track.flavor, seconds)
    kinds = [s["codec_name"] for s in ffprobe(by_flavor["presentation/source"].path)["streams"]]
    assert kinds == ["h264"]


def test_drop_out_ingests_every_segment(
    tmp_path, opencast_simulator, rtsp_server, monkeypatch, ffprobe
) -> None:
    monkeypatch.setenv("CAM1_PASSWORD", rtsp_server.password)
    inputs = [
        {
            "name": "camera",
            "driver": "ipcam",
            "flavor": "presentation/source",
            "settings": {
                "url": rtsp_server.url,
                "username": rtsp_server.username,
                "password": "${CAM1_PASSWORD}",
                "connect_timeout": 1.0,
            },
        }
    ]
    cfg = harness.write_config(
        tmp_path, opencast_simulator, agents=[harness.agent("room-1", inputs)]
    )
    start = harness.soon(3)
    end = start + timedelta(seconds=12)
    uid = opencast_simulator.add_event(agent="room-1", start=start, end=end)
    with harness.InProcessAgent(cfg) as running:
        # Let the camera record a while, then cut its power and bring it back.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "var").rglob("*.mkv")):
            time.sleep(0.2)
        time.sleep(3)
        rtsp_server.restart()  # killed (connections reset) and back on the same port
        ingest = opencast_simulator.wait_for_ingest(uid, timeout=120)
    assert ingest is not None
    total = sum(float(ffprobe(t.path)["format"]["duration"]) for t in ingest.tracks if t.path)
    # Media lost: the outage itself plus detection, backoff and reconnection.
    assert abs(total - 12.0) <= 3.0, (total, [t.filename for t in ingest.tracks])
    store = running.service.store
    assert len(store.segments(uid)) >= 2
    details = [detail for _, state, detail in store.history(uid) if state == "capturing"]
    assert any("restarting as segment 1" in d for d in details), details

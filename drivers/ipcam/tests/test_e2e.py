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
    window = (end - start).total_seconds()
    uid = opencast_simulator.add_event(agent="room-1", start=start, end=end)
    with harness.InProcessAgent(cfg) as running:
        store = running.service.store
        # Let the camera record into the window a while, then cut its power
        # and bring it back.
        assert harness.poll_until(
            lambda: time.time() >= start.timestamp() + 3
            and any(f.stat().st_size > 0 for f in (tmp_path / "var").rglob("*.mkv")),
            timeout=60,
        )
        cut = time.time()
        rtsp_server.restart()  # killed (connections reset) and back on the same port
        back = time.time()
        ingest = opencast_simulator.wait_for_ingest(uid, timeout=120)
    assert ingest is not None
    segments = store.segments(uid)
    assert len(segments) >= 2
    details = [detail for _, state, detail in store.history(uid) if state == "capturing"]
    assert any("restarting as segment 1" in d for d in details), details
    # The media after the drop-out is the camera's return, not a stale buffer.
    later = [s.media_origin for s in segments[1:] if s.media_origin is not None]
    assert later and min(later) >= cut, (cut, later)
    # Every segment reached the core (joined into one track, see
    # ocframe.segments): all their media, less only what lay before the
    # window (cut at the key frame at or before its start).
    recorded = sum(float(ffprobe(t.path)["format"]["duration"])
                   for s in segments for t in s.tracks if t.path.exists())
    origin = segments[0].media_origin
    before_window = max(0.0, start.timestamp() - origin) if origin is not None else 0.0
    total = sum(float(ffprobe(t.path)["format"]["duration"]) for t in ingest.tracks if t.path)
    assert total >= recorded - before_window - 0.5, (total, recorded, before_window)
    # Nothing doubled: at most the window plus one key-frame interval (the cut
    # at the start, see ocframe.trim) and a frame or two.
    assert total <= window + 2.5, total
    # Media lost: the outage as it happened on this machine (the server's own
    # restart), then at most one backoff no longer than that outage, plus
    # detection and reconnection (connect_timeout 1 s, the launch).
    outage = back - cut
    assert window - total <= 2 * outage + 4.0, (total, outage, [t.filename for t in ingest.tracks])

"""A whole agent (kernel + Opencast simulator) whose inputs are an emulated Pearl."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_epiphan.testing import PearlEmulator

pytestmark = pytest.mark.e2e

harness = pytest.importorskip("ocframe.testing.harness", reason="kernel harness not available")

FAST = {
    "poll_interval": 0.2,
    "retry_backoff": 0.2,
    "request_timeout": 5.0,
    "clock_tolerance": 2.0,
    "upload_stable_seconds": 0.5,
    "upload_timeout": 30.0,
    "archive_timeout": 30.0,
}


def pearl_input(name: str, flavor: str, pearl: PearlEmulator, **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "driver": "epiphan",
        "flavor": flavor,
        "settings": {"url": pearl.url, "password": "${PEARL_PASSWORD}", **FAST, **settings},
    }


@pytest.fixture
def pearl(tmp_path: Path, pearl_password: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PEARL_PASSWORD", pearl_password)
    upload = tmp_path / "pearl-upload"
    upload.mkdir()
    with PearlEmulator(
        password=pearl_password, start_delay=0.3, stop_delay=0.3, upload_dir=upload
    ) as emulator:
        yield emulator


def downloaded(running: Any, uid: str, input_name: str = "presenter") -> Path:
    """The file the driver brought home from the Pearl (before any trim)."""
    [segment] = [s for s in running.service.store.segments(uid) if s.input == input_name]
    [track] = segment.tracks
    # Launched ahead, and the Pearl said where its file begins: before the window.
    assert segment.media_origin is not None and segment.trim_to is not None
    assert segment.media_origin < segment.trim_to
    return Path(track.path)


def assert_trimmed_to_the_window(ingested: Path, pearl_file: Path, seconds: float = 5.0) -> None:
    """The Pearl was launched ahead of the event (the kernel's pre-roll) and
    reported where its file begins: what reaches the core is a lossless cut
    of the Pearl's file that starts at the window or up to one key-frame
    interval before it (the emulator's files have few key frames)."""
    from ocframe.testing.media import duration

    whole, cut = duration(pearl_file), duration(ingested)
    assert seconds - 1.0 <= cut <= whole + 0.05, (cut, whole)  # remuxing rounds a little


def schedule(sim: Any, seconds: float = 5.0) -> str:
    start = harness.soon(2)
    return sim.add_event(agent="room-1", start=start, end=start + timedelta(seconds=seconds))


def test_rest_and_legacy_inputs_ingest_the_pearl_files(
    tmp_path: Path, opencast_simulator: Any, pearl: PearlEmulator
) -> None:
    pearl.upload_dir("m1").mkdir(parents=True)
    inputs = [
        pearl_input("presenter", "presenter/source", pearl, recorder="HDMI-A"),
        pearl_input(
            "slides",
            "presentation/source",
            pearl,
            mode="legacy",
            channel="m1",
            upload_dir=str(pearl.upload_dir("m1")),
        ),
    ]
    cfg = harness.write_config(
        tmp_path / "agent", opencast_simulator, agents=[harness.agent("room-1", inputs)]
    )
    uid = schedule(opencast_simulator)
    with harness.InProcessAgent(cfg) as running:
        ingest = opencast_simulator.wait_for_ingest(uid, timeout=90)
        home = downloaded(running, uid)
    assert ingest is not None
    by_flavor = {t.flavor: t for t in ingest.tracks}
    assert set(by_flavor) == {"presenter/source", "presentation/source"}
    rest_file = pearl.wait_finished("1")[0].path
    legacy_file = pearl.wait_finished("m1")[0].path
    assert home.read_bytes() == rest_file.read_bytes()
    assert_trimmed_to_the_window(by_flavor["presenter/source"].path, rest_file)
    assert by_flavor["presentation/source"].path.read_bytes() == legacy_file.read_bytes()
    history = [s for _, s in opencast_simulator.recording_state_history(uid)]
    assert "capturing" in history and "capture_error" not in history


def test_start_503_retried_then_ingested(
    tmp_path: Path, opencast_simulator: Any, pearl: PearlEmulator
) -> None:
    pearl.faults.fail_next("start", count=2, status=503)
    inputs = [pearl_input("presenter", "presenter/source", pearl, start_retries=3)]
    cfg = harness.write_config(
        tmp_path / "agent", opencast_simulator, agents=[harness.agent("room-1", inputs)]
    )
    uid = schedule(opencast_simulator)
    with harness.InProcessAgent(cfg) as running:
        ingest = opencast_simulator.wait_for_ingest(uid, timeout=90)
        home = downloaded(running, uid)
    assert ingest is not None
    assert pearl.request_counts["start"] == 3
    [track] = ingest.tracks
    assert home.read_bytes() == pearl.wait_finished("1")[0].path.read_bytes()
    assert_trimmed_to_the_window(track.path, home)


def test_start_503_beyond_retries_is_capture_error(
    tmp_path: Path, opencast_simulator: Any, pearl: PearlEmulator
) -> None:
    pearl.faults.fail_next("start", count=1000, status=503)
    inputs = [pearl_input("presenter", "presenter/source", pearl, start_retries=1)]
    cfg = harness.write_config(
        tmp_path / "agent", opencast_simulator, agents=[harness.agent("room-1", inputs)]
    )
    uid = schedule(opencast_simulator, seconds=4)
    with harness.InProcessAgent(cfg):
        assert opencast_simulator.wait_for_recording_state(uid, "capture_error", timeout=60)
    assert pearl.request_counts["start"] >= 2
    assert not pearl.archive("1")


def test_download_cut_mid_file_is_resumed(
    tmp_path: Path, opencast_simulator: Any, pearl: PearlEmulator
) -> None:
    pearl.faults.cut_next_downloads(after_bytes=5000, count=2)
    inputs = [pearl_input("presenter", "presenter/source", pearl, download_chunk_size=1024)]
    cfg = harness.write_config(
        tmp_path / "agent", opencast_simulator, agents=[harness.agent("room-1", inputs)]
    )
    uid = schedule(opencast_simulator)
    with harness.InProcessAgent(cfg) as running:
        ingest = opencast_simulator.wait_for_ingest(uid, timeout=90)
        home = downloaded(running, uid)
    assert ingest is not None
    assert pearl.request_counts["download"] == 3
    [track] = ingest.tracks
    produced = pearl.wait_finished("1")[0]
    assert home.stat().st_size == produced.size
    assert home.read_bytes() == produced.path.read_bytes()
    assert_trimmed_to_the_window(track.path, home)

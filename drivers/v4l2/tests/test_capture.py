"""Real ffmpeg runs with the test source standing in for the camera."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ocframe_driver_v4l2.testing import ffprobe, make_ctx, make_driver, wait_media_time

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def _record(driver, directory: Path, seconds: float = 2.0):
    ctx = make_ctx(driver, directory)
    handle = driver.start(ctx)
    try:
        wait_media_time(handle, seconds)
    finally:
        handle.stop()
    return handle.tracks()


def test_test_source_records_a_playable_file(tmp_path: Path) -> None:
    driver = make_driver(source_override="testsrc", test_size="320x240", test_rate=25, audio="alsa")
    tracks = _record(driver, tmp_path / "rec")
    assert [t.flavor for t in tracks] == ["presenter/source"]
    info = ffprobe(tracks[0].path)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    assert float(info["format"]["duration"]) >= 1.5
    assert driver.capabilities()["device"] == "lavfi:testsrc"
    assert driver.check()[0].ok


def test_separate_audio_track_has_its_own_flavor(tmp_path: Path) -> None:
    driver = make_driver(
        name="room mic",
        flavor="presenter/source",
        source_override="testsrc",
        test_size="320x240",
        test_rate=25,
        audio="pulse",
        audio_mode="separate",
        audio_flavor="presenter-audio/source",
    )
    tracks = _record(driver, tmp_path / "rec")
    assert [(t.path.name, t.flavor, t.mimetype) for t in tracks] == [
        ("room_mic.mkv", "presenter/source", "video/x-matroska"),
        ("room_mic-audio.mka", "presenter-audio/source", "audio/x-matroska"),
    ]
    assert [s["codec_type"] for s in ffprobe(tracks[0].path)["streams"]] == ["video"]
    assert [s["codec_type"] for s in ffprobe(tracks[1].path)["streams"]] == ["audio"]


def _pulse_reason() -> str | None:
    if shutil.which("pactl") is None:
        return "pactl not installed"
    try:
        done = subprocess.run(["pactl", "info"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pactl info failed: {exc}"
    if done.returncode != 0:
        return f"no PulseAudio server: {(done.stderr or done.stdout).strip()[:120]}"
    return None


@pytest.fixture
def null_sink_monitor():
    reason = _pulse_reason()
    if reason:
        pytest.skip(reason)
    done = subprocess.run(
        ["pactl", "load-module", "module-null-sink", "sink_name=ocframe_test_sink"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    module = done.stdout.strip()
    try:
        yield "ocframe_test_sink.monitor"
    finally:
        subprocess.run(["pactl", "unload-module", module], timeout=10, check=False)


def test_real_pulseaudio_capture_from_a_null_sink(tmp_path: Path, null_sink_monitor: str) -> None:
    # Video still comes from the test source; the audio device is real.
    driver = make_driver(
        source_override="testsrc",
        test_audio="device",
        test_size="320x240",
        test_rate=25,
        audio="pulse",
        audio_device=null_sink_monitor,
        audio_mode="separate",
    )
    tracks = _record(driver, tmp_path / "rec")
    assert [s["codec_type"] for s in ffprobe(tracks[1].path)["streams"]] == ["audio"]


def test_confidence_preview_of_the_camera_and_its_microphone(tmp_path: Path) -> None:
    from ocframe.testing.drivers import wait_previews

    driver = make_driver(source_override="testsrc", test_size="320x240", test_rate=25,
                         audio="alsa", audio_mode="separate", preview_interval=1)
    handle = driver.start(make_ctx(driver, tmp_path / "rec"))
    try:
        _, second = wait_previews(handle, 2)
        level = second.audio_level_db
        assert level is not None and -24 < level < -18, level  # the 440 Hz test tone
    finally:
        handle.stop()
    # Only the recording is a track: the preview files are not ingested.
    assert sorted(t.path.suffix for t in handle.tracks()) == [".mka", ".mkv"]

"""The testsrc driver through its public contract: the command it builds and
a real, short ffmpeg capture."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import ocframe_driver_testsrc as testsrc
import pytest

from ocframe import CaptureError
from ocframe.testing.drivers import (
    capture_context,
    input_spec,
    wait_media_time,
    wait_previews,
)
from ocframe.testing.media import probe

# Imported by module: pytest would try to collect a class named Test* here.
Driver = testsrc.TestPatternDriver


def make_driver(**settings: Any) -> testsrc.TestPatternDriver:
    return Driver(input_spec(Driver, settings, driver="testsrc"))


def test_command_records_pattern_and_tone_in_real_time(tmp_path: Path) -> None:
    driver = make_driver(pattern="smptebars", width=320, height=180, rate=10, container="mp4")
    command = driver.command(capture_context(driver, tmp_path))
    argv = command.argv
    assert argv[1:6] == ["-hide_banner", "-y", "-loglevel", "error", "-stats"]
    assert "smptebars=size=320x180:rate=10" in argv
    assert "sine=frequency=440:sample_rate=48000" in argv
    assert argv.count("-re") == 2 and "+faststart" in argv
    (output,) = command.outputs
    assert output.path == tmp_path / "testsrc.mp4" and output.mimetype == "video/mp4"
    assert output.flavor == "presenter/source"


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        Driver.Settings(pattern="noise")
    with pytest.raises(ValueError):
        Driver.Settings(widht=320)  # a typo is an error, not ignored


def test_capabilities_and_check() -> None:
    driver = make_driver(audio=False, width=320, height=180)
    caps = driver.capabilities()
    assert caps["resolution"] == "320x180" and caps["audio"] == "no"
    assert driver.check()[0].ok


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_records_a_playable_file(tmp_path: Path) -> None:
    driver = make_driver(width=320, height=180, rate=15)
    handle = driver.start(capture_context(driver, tmp_path, seconds=5))
    try:
        wait_media_time(handle, 1.5)
    finally:
        handle.stop()
    (track,) = handle.tracks()
    info = probe(track.path)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    assert float(info["format"]["duration"]) >= 1.0


def test_a_capture_that_cannot_start_says_why(tmp_path: Path) -> None:
    spec = input_spec(Driver, driver="testsrc")
    driver = Driver(dataclasses.replace(spec, tools={"ffmpeg": str(tmp_path / "no")}))
    with pytest.raises(CaptureError):
        driver.start(capture_context(driver, tmp_path))


def test_preview_stills_change_and_the_tone_has_a_level(tmp_path: Path) -> None:
    driver = make_driver(width=320, height=180, rate=10, preview_interval=1)
    handle = driver.start(capture_context(driver, tmp_path, seconds=30))
    try:
        first, second = wait_previews(handle, 2)
        level = second.audio_level_db
        # The 440 Hz sine at ffmpeg's default amplitude (1/8): -18 dBFS peak, -21 RMS.
        assert level is not None and -24 < level < -18, level
        assert second.audio_time is not None
        assert first.image == second.image == tmp_path / "preview.jpg"
    finally:
        handle.stop()
    (track,) = handle.tracks()
    assert [t.path.name for t in handle.tracks()] == ["testsrc.mkv"]  # previews not ingested
    assert probe(track.path)["format"]["duration"]


def test_without_audio_the_preview_has_no_level(tmp_path: Path) -> None:
    driver = make_driver(width=160, height=90, rate=5, audio=False, preview_interval=1)
    handle = driver.start(capture_context(driver, tmp_path, seconds=30))
    try:
        (only,) = wait_previews(handle, 1)
        assert only.audio_level_db is None
    finally:
        handle.stop()


def test_preview_is_off_unless_asked_for(tmp_path: Path) -> None:
    driver = make_driver()
    command = driver.command(capture_context(driver, tmp_path))
    assert command.preview is None and "preview.jpg" not in " ".join(command.argv)


def test_a_long_preview_interval_does_not_hold_the_recording_back(tmp_path: Path) -> None:
    # ffmpeg keeps its outputs in step: a preview output that drops frames
    # naively (fps=1/20) would keep the recording's file empty for 20 s, and
    # a crash then would lose them.
    driver = make_driver(width=160, height=90, rate=10, preview_interval=20)
    handle = driver.start(capture_context(driver, tmp_path, seconds=60))
    target = tmp_path / "testsrc.mkv"
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and (
                not target.exists() or target.stat().st_size < 20_000):
            assert handle.poll() is None
            time.sleep(0.2)
        assert target.stat().st_size >= 20_000, "the recording was held back"
        assert handle.preview().image is not None  # the first still came at once
    finally:
        handle.stop()

"""The testsrc driver through its public contract: the command it builds and
a real, short ffmpeg capture."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import ocframe_driver_testsrc as testsrc
import pytest

from ocframe import CaptureError
from ocframe.testing.drivers import capture_context, input_spec, wait_media_time
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

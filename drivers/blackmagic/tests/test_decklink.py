"""The decklink driver: argument lists, the probe, and real captures from test sources."""

from __future__ import annotations

import logging
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from ocframe_driver_blackmagic.decklink import (
    NOT_INSTALLED,
    DeckLinkDriver,
    DeckLinkSettings,
    ffmpeg_args,
    gst_args,
    gstreamer_has_decklink,
)

from ocframe import CaptureContext, CaptureError, Event, InputSpec


def make_driver(**settings: Any) -> DeckLinkDriver:
    spec = InputSpec(
        name="slides",
        agent="room-101",
        driver="decklink",
        flavor="presentation/source",
        settings=DeckLinkSettings(**settings),
    )
    return DeckLinkDriver(spec)


def probe_streams(path: Path) -> list[str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return sorted(out.stdout.split())


def test_gst_args_for_a_card(tmp_path: Path) -> None:
    s = DeckLinkSettings(device_number=1, connection="sdi", mode="1080i50", audio_channels=2)
    argv = gst_args(s, tmp_path / "out file.mkv")
    assert argv[:6] == [
        "gst-launch-1.0", "-e", "decklinkvideosrc", "device-number=1", "connection=sdi",
        "mode=1080i50",
    ]  # fmt: skip
    audio = argv.index("decklinkaudiosrc")
    assert argv[audio + 1 : audio + 4] == ["device-number=1", "channels=2", "connection=auto"]
    assert argv[-5:] == ["matroskamux", "name=mux", "!", "filesink",
                         f"location={tmp_path / 'out file.mkv'}"]  # fmt: skip
    assert "videotestsrc" not in argv


def test_gst_args_variants(tmp_path: Path) -> None:
    argv = gst_args(DeckLinkSettings(audio=False, container="mp4"), tmp_path / "o.mp4")
    assert "decklinkaudiosrc" not in argv and "mp4mux" in argv
    argv = gst_args(DeckLinkSettings(audio_channels=16, audio_codec="pcm"), tmp_path / "o.mkv")
    assert "channels=16" in argv and "voaacenc" not in argv
    argv = gst_args(DeckLinkSettings(test_source=True), tmp_path / "o.mkv")
    assert "videotestsrc" in argv and "audiotestsrc" in argv
    assert not any(a.startswith("decklink") for a in argv)


def test_ffmpeg_args_for_a_card(tmp_path: Path) -> None:
    s = DeckLinkSettings(
        backend="ffmpeg", ffmpeg_device="DeckLink Mini Recorder", ffmpeg_format_code="Hp50",
        connection="optical-sdi", audio_connection="aes", audio_channels=8, audio_codec="flac",
    )  # fmt: skip
    argv = ffmpeg_args(s, "/usr/bin/ffmpeg", tmp_path / "o.mkv")
    joined = " ".join(argv)
    assert "-f decklink -format_code Hp50 -video_input optical_sdi -audio_input aes_ebu" in joined
    assert argv[argv.index("-i") + 1] == "DeckLink Mini Recorder"
    assert "-channels 8" in joined and "-c:a flac" in joined
    with pytest.raises(CaptureError, match="ffmpeg_device"):
        ffmpeg_args(DeckLinkSettings(backend="ffmpeg"), "ffmpeg", tmp_path / "o.mkv")


def test_settings_validation() -> None:
    for bad in (
        {"audio_channels": 8},  # AAC is stereo here
        {"audio_channels": 16, "audio_codec": "flac"},
        {"audio_codec": "pcm", "container": "mp4"},
        {"mode": "1080p25; rm -rf /"},
        {"connection": "usb"},
        {"ffmpeg_format_code": "Hp50 -i x"},
        {"devcie_number": 1},
    ):
        with pytest.raises(pydantic.ValidationError):
            DeckLinkSettings(**bad)


def test_missing_desktop_video_is_reported(tmp_path: Path) -> None:
    driver = make_driver(device_root=tmp_path / "no-such-dir")
    caps = driver.capabilities()
    assert caps["available"] == "false"
    if gstreamer_has_decklink("gst-inspect-1.0"):
        assert caps["problem"] == NOT_INSTALLED
    else:  # a machine without gstreamer1.0-plugins-bad
        assert "no DeckLink capture backend" in caps["problem"]
    checks = {c.name: c for c in driver.check()}
    assert not checks["Desktop Video driver"].ok
    assert checks["Desktop Video driver"].detail == NOT_INSTALLED
    with pytest.raises(CaptureError) as err:
        driver.command(_ctx(driver, tmp_path))
    assert err.value.permanent is True
    assert NOT_INSTALLED in err.value.reason or "backend" in err.value.reason


def _ctx(driver: DeckLinkDriver, tmp_path: Path) -> CaptureContext:
    now = datetime.now(UTC)
    event = Event(uid="e1", start=now, end=now + timedelta(seconds=5), title="t")
    directory = tmp_path / "rec"
    directory.mkdir(exist_ok=True)
    return CaptureContext(
        recording_id="r1", event=event, input=driver.spec, directory=directory, segment=0,
        scheduled_end=event.end, logger=logging.getLogger("test.decklink"),
    )  # fmt: skip


def _capture(driver: DeckLinkDriver, tmp_path: Path, seconds: float) -> Path:
    handle = driver.start(_ctx(driver, tmp_path))
    out = driver.output_path(_ctx(driver, tmp_path))
    deadline = time.monotonic() + 15
    # Record until the file holds data (x264 holds frames back at first).
    while (not out.exists() or out.stat().st_size < 10_000) and time.monotonic() < deadline:
        assert handle.poll() is None
        time.sleep(0.1)
    time.sleep(seconds)
    assert handle.poll() is None
    handle.stop()
    (track,) = handle.tracks()
    assert track.flavor == "presentation/source"
    return track.path


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_gstreamer_test_source_capture(tmp_path: Path, container: str) -> None:
    driver = make_driver(test_source=True, test_size="320x240", container=container)
    assert driver.capabilities()["available"] == "true"
    path = _capture(driver, tmp_path, 0.5)
    assert path.suffix == f".{container}"
    assert probe_streams(path) == ["audio", "video"]


def test_ffmpeg_test_source_capture(tmp_path: Path) -> None:
    driver = make_driver(test_source=True, test_size="320x240", backend="ffmpeg")
    path = _capture(driver, tmp_path, 0.5)
    assert probe_streams(path) == ["audio", "video"]


def test_registered_entry_points() -> None:
    from importlib.metadata import entry_points

    drivers = {e.name: e.value for e in entry_points(group="ocframe.drivers")}
    assert drivers["hyperdeck"].endswith(":HyperDeckDriver")
    assert drivers["decklink"].endswith(":DeckLinkDriver")
    commands = {e.name for e in entry_points(group="ocframe.commands")}
    assert "hyperdeck-emulator" in commands


def test_emulator_runs_as_a_module() -> None:
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "ocframe_driver_blackmagic.testing.hyperdeck", "--help"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert "--no-disk" in out.stdout

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ocframe_driver_ipcam import IpCamDriver
from ocframe_driver_ipcam.presets import preset_path
from ocframe_driver_ipcam.rtsp import ffconcat_script, timeout_option, with_credentials
from pydantic import ValidationError

from ocframe.ffmpeg import ffmpeg_help, find_ffmpeg


def test_vendor_preset_paths() -> None:
    assert preset_path("panasonic", "5") == "/cgi-bin/aw_ptz?cmd=%23R04&res=1"
    assert preset_path("panasonic", "1") == "/cgi-bin/aw_ptz?cmd=%23R00&res=1"
    assert preset_path("sony", "3") == "/command/presetposition.cgi?PresetCall=3"
    assert preset_path("axis", "Lectern left") == (
        "/axis-cgi/com/ptz.cgi?gotoserverpresetname=Lectern%20left"
    )
    with pytest.raises(ValueError):
        preset_path("panasonic", "0")


def _fake_ffmpeg(directory: Path, help_text: str) -> str:
    """An executable that prints ``help_text`` for ``-h demuxer=rtsp``, as an ffmpeg build would."""
    (directory / "help.txt").write_text(help_text)
    script = directory / "ffmpeg"
    script.write_text(f"#!/bin/sh\ncat '{directory / 'help.txt'}'\n")
    script.chmod(0o755)
    return str(script)


# The I/O timeout lines of `ffmpeg -h demuxer=rtsp` in ffmpeg 4.4 and 6.1.
FFMPEG_4_HELP = (
    "RTSP demuxer AVOptions:\n"
    "  -timeout           <int>        .D......... set maximum timeout (in seconds) to wait for"
    " incoming connections (-1 is infinite, imply flag listen)\n"
    "  -stimeout          <int64>      .D......... set timeout (in microseconds) of socket TCP"
    " I/O operations\n"
)
FFMPEG_6_HELP = (
    "RTSP demuxer AVOptions:\n"
    "  -listen_timeout    <int>        .D......... set maximum timeout (in seconds) to wait for"
    " incoming connections\n"
    "  -timeout           <int64>      .D......... set timeout (in microseconds) of socket I/O"
    " operations\n"
)


def test_timeout_option_follows_the_ffmpeg_build(tmp_path: Path) -> None:
    # On ffmpeg 4 `-timeout` exists too but is the listen timeout in seconds:
    # only `-stimeout` bounds a stalled camera there.
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    assert timeout_option(_fake_ffmpeg(old, FFMPEG_4_HELP)) == "stimeout"
    assert timeout_option(_fake_ffmpeg(new, FFMPEG_6_HELP)) == "timeout"


def test_timeout_option_of_the_installed_ffmpeg() -> None:
    ffmpeg = find_ffmpeg()
    help_text = ffmpeg_help(ffmpeg, "demuxer=rtsp")
    # The answer must come from the build's own help, not from the fallback.
    has_stimeout = re.search(r"^\s*-stimeout\b", help_text, re.M) is not None
    assert has_stimeout or re.search(r"^\s*-timeout\s.*microseconds", help_text, re.M), help_text
    assert timeout_option(ffmpeg) == ("stimeout" if has_stimeout else "timeout")


def test_credentials_are_percent_encoded_into_the_url() -> None:
    url = with_credentials("rtsp://cam.example:8554/live?x=1", "a@b", "p:w/d")
    assert url == "rtsp://a%40b:p%3Aw%2Fd@cam.example:8554/live?x=1"
    script = ffconcat_script("rtsp://h/it's", {"rtsp_transport": "tcp"})
    assert "file 'rtsp://h/it'\\''s'" in script
    assert "option rtsp_transport tcp" in script


def test_settings_refuse_credentials_in_the_url() -> None:
    with pytest.raises(ValidationError, match="username/password"):
        IpCamDriver.Settings(url="rtsp://u:p@host/stream")
    with pytest.raises(ValidationError, match="url"):
        IpCamDriver.Settings()


def test_command_line_shows_no_credentials(make_driver, make_ctx) -> None:
    driver = make_driver(url="rtsp://10.0.0.5/live", username="admin", password="hunter2")
    ctx = make_ctx(driver)
    command, fifo = driver._command(ctx)
    try:
        argv = " ".join(command.argv)
        assert "hunter2" not in argv and "admin" not in argv
        assert "-f concat" in argv and "-c copy" in argv and str(fifo.path) in argv
        assert "hunter2" in command.redact
        assert fifo.path.stat().st_mode & 0o077 == 0
    finally:
        fifo.close()
    assert not fifo.dir.exists()


def test_direct_mode_redacts_instead(make_driver, make_ctx) -> None:
    driver = make_driver(
        url="rtsp://10.0.0.5/live",
        username="admin",
        password="hunter2",
        hide_credentials=False,
        container="ts",
        connect_timeout=3,
    )
    command = driver.command(make_driver and make_ctx(driver))
    argv = list(command.argv)
    i = argv.index("-i")
    for opt, val in (
        ("-rtsp_transport", "tcp"),
        ("-timeout", "3000000"),
        ("-use_wallclock_as_timestamps", "1"),
    ):
        assert argv[argv.index(opt, 0, i) + 1] == val
    assert argv[i + 1] == "rtsp://admin:hunter2@10.0.0.5/live"
    assert "hunter2" in command.redact
    assert command.outputs[0].path.name == "camera.ts"
    assert command.outputs[0].mimetype == "video/mp2t"


def test_frames_are_written_as_they_arrive(make_driver, make_ctx) -> None:
    """A capture killed under load must not lose a buffer's worth of frames
    (the header-only and 1-MiB files of the shared-camera run)."""
    for container, extra in (("mkv", ("-cluster_time_limit", "1000")), ("ts", None)):
        driver = make_driver(url="rtsp://10.0.0.5/live", container=container)
        argv = list(driver.command(make_ctx(driver)).argv)
        out = argv[argv.index("-i") + 2:]
        assert out[out.index("-flush_packets") + 1] == "1"
        if extra:
            assert out[out.index(extra[0]) + 1] == extra[1]
        else:
            assert "-cluster_time_limit" not in out

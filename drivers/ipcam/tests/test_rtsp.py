"""Real RTSP pulls from GStreamer's RTSP server on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_ipcam.testing import RtspTestServer, silent_camera

from ocframe import CaptureError
from ocframe.testing.drivers import wait_media_time

USER, PASSWORD = "ocuser7", "pa:ss w/rd!"



def wait_ended(handle: Any, deadline: float) -> str:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        reason = handle.poll()
        if reason is not None:
            return reason
        time.sleep(0.2)
    raise AssertionError("capture did not end")


def _driver(make_driver, server: RtspTestServer, **extra: Any):
    return make_driver(url=server.url, username=USER, password=PASSWORD, connect_timeout=2, **extra)


def test_record_stream_copy_without_credentials_in_ps(
    make_driver, make_ctx, rtsp_server, ffprobe
) -> None:
    driver = _driver(make_driver, rtsp_server)
    handle = driver.start(make_ctx(driver))
    try:
        cmdline = Path(f"/proc/{handle.process.pid}/cmdline").read_bytes().decode()
        assert PASSWORD not in cmdline and "pa%3Ass" not in cmdline and USER not in cmdline
        assert not any(PASSWORD in line for line in handle.process.tail(200))
        wait_media_time(handle, 2.0)
    finally:
        handle.stop()
    tracks = handle.tracks()
    assert [(t.flavor, t.mimetype) for t in tracks] == [("presentation/source", "video/x-matroska")]
    info = ffprobe(tracks[0].path)
    assert [s["codec_name"] for s in info["streams"]] == ["h264"]  # copied, not re-encoded
    assert float(info["format"]["duration"]) >= 1.5
    assert handle.fifo is None  # the credentials FIFO is gone


def test_check_reports_stream_and_credentials(make_driver, rtsp_server) -> None:
    checks = {c.name: c for c in _driver(make_driver, rtsp_server).check()}
    assert checks["stream answers"].ok and "h264" in checks["stream answers"].detail
    assert checks["credentials accepted"].ok
    bad = make_driver(url=rtsp_server.url, username=USER, password="nope", connect_timeout=2)
    checks = {c.name: c for c in bad.check()}
    assert not checks["credentials accepted"].ok
    assert "401" in checks["credentials accepted"].detail
    assert all("nope" not in c.detail for c in checks.values())


def test_drop_out_ends_the_capture_and_a_new_segment_records(
    make_driver, make_ctx, rtsp_server, ffprobe
) -> None:
    driver = _driver(make_driver, rtsp_server, container="ts")
    first = driver.start(make_ctx(driver, segment=0))
    wait_media_time(first, 1.5)
    rtsp_server.stop()  # the camera loses power
    reason = wait_ended(first, deadline=30)
    assert "exited" in reason
    first.stop()
    rtsp_server.start()  # ...and comes back on the same port
    second = driver.start(make_ctx(driver, segment=1))
    try:
        wait_media_time(second, 1.5)
    finally:
        second.stop()
    for handle in (first, second):
        (track,) = handle.tracks()
        assert track.mimetype == "video/mp2t"
        info = ffprobe(track.path)
        assert info["streams"][0]["codec_name"] == "h264"
        assert float(info["format"]["duration"]) >= 1.0
    assert second.tracks()[0].segment == 1


def test_silent_camera_fails_start_with_a_clear_error(make_driver, make_ctx) -> None:
    with silent_camera() as url:
        driver = make_driver(url=url, username=USER, password=PASSWORD, connect_timeout=1)
        began = time.monotonic()
        with pytest.raises(
            CaptureError, match=r"did not deliver a stream.*no RTSP answer within 1 s"
        ) as info:
            driver.start(make_ctx(driver))
        # Bounded by the configured socket timeout, not by ffmpeg's default (forever).
        assert time.monotonic() - began < 2 * 1 + 5 + 5
        assert PASSWORD not in info.value.reason


def test_ps_listing_of_a_direct_url_is_redacted_only_in_logs(
    make_driver, make_ctx, rtsp_server
) -> None:
    """Measured: with hide_credentials off, ps shows the password (ffmpeg
    takes the URL only on its command line); logs are redacted."""
    driver = _driver(make_driver, rtsp_server, hide_credentials=False)
    handle = driver.start(make_ctx(driver))
    try:
        cmdline = Path(f"/proc/{handle.process.pid}/cmdline").read_bytes().decode()
        assert "pa%3Ass%20w%2Frd%21" in cmdline
        assert all("pa%3Ass" not in line for line in handle.process.tail(200))
    finally:
        handle.stop()


def test_confidence_preview_from_the_camera_stream(
    make_driver, make_ctx, gst_reason: str | None
) -> None:
    from ocframe.testing.drivers import wait_previews

    if gst_reason:
        pytest.skip(gst_reason)
    with RtspTestServer(username=USER, password=PASSWORD, audio=True) as server:
        driver = _driver(make_driver, server, preview_interval=1, preview_audio=True)
        handle = driver.start(make_ctx(driver, seconds=30))
        try:
            _, second = wait_previews(handle, 2)
            # audiotestsrc's default sine (0.8 amplitude): about -5 dBFS RMS.
            level = second.audio_level_db
            assert level is not None and -12 < level < 0, level
        finally:
            handle.stop()
        # The stream is still copied as it came; the preview files are not tracks.
        assert [t.path.suffix for t in handle.tracks()] == [".mkv"]

"""The first second of a camera's recording lasts a second (issue 12).

With the URL passed through an ffconcat FIFO, wall-clock stamping on the
concat level stamped every packet read while probing the stream at once: a
file's first timestamps were 0.000, 0.002, 0.002 s, the start compressed."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ocframe.testing.drivers import wait_media_time

pytestmark = pytest.mark.e2e


def packet_times(path: Path, count: int = 30) -> list[float]:
    exe = shutil.which("ffprobe")
    if exe is None:
        pytest.skip("ffprobe not installed")
    out = subprocess.run([exe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time", "-read_intervals", f"%+#{count}", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, timeout=60, check=True)
    return sorted(float(t) for t in out.stdout.split())


@pytest.mark.parametrize("hide_credentials", [True, False])
def test_the_first_frames_keep_their_spacing(make_driver, make_ctx, rtsp_server,
                                             hide_credentials: bool) -> None:
    from .conftest import PASSWORD, USER

    driver = make_driver(url=rtsp_server.url, username=USER, password=PASSWORD,
                         hide_credentials=hide_credentials)
    handle = driver.start(make_ctx(driver))
    try:
        wait_media_time(handle, 2.5)
    finally:
        handle.stop()
    (track,) = handle.tracks()
    times = packet_times(track.path)
    # The test camera sends 25 frames a second: 25 packets span about 1 s.
    span = times[25] - times[0]
    assert span >= 0.7, times[:26]
    assert handle.media_origin() is not None
    assert abs(handle.media_origin() - time.time()) < 30

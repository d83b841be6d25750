from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_ipcam import IpCamDriver
from ocframe_driver_ipcam.testing import RtspTestServer, unavailable_reason

from ocframe import CaptureContext, InputSpec
from ocframe.testing.drivers import capture_context
from ocframe.testing.media import probe

USER, PASSWORD = "ocuser7", "pa:ss w/rd!"


@pytest.fixture
def make_driver() -> Callable[..., IpCamDriver]:
    def make(name: str = "camera", flavor: str = "presentation/source", **settings: Any):
        spec = InputSpec(
            name=name,
            agent="room-101",
            driver="ipcam",
            flavor=flavor,
            settings=IpCamDriver.Settings(**settings),
        )
        return IpCamDriver(spec)

    return make


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., CaptureContext]:
    def make(driver: IpCamDriver, segment: int = 0, seconds: float = 10.0) -> CaptureContext:
        return capture_context(driver, tmp_path / f"segment-{segment}", seconds=seconds,
                               segment=segment, uid="ev-1")

    return make


@pytest.fixture(scope="session")
def gst_reason() -> str | None:
    return unavailable_reason()


@pytest.fixture
def rtsp_server(gst_reason: str | None) -> Iterator[RtspTestServer]:
    if gst_reason:
        pytest.skip(gst_reason)
    with RtspTestServer(username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture
def ffprobe() -> Callable[[Path], dict[str, Any]]:
    exe = shutil.which("ffprobe")
    if exe is None:
        pytest.skip("ffprobe not installed")

    return probe

"""The ipcam driver passes the driver conformance kit, against GStreamer's
RTSP server on loopback (skipped where GStreamer is missing, as the other
RTSP tests): recording with the right credentials, failing with wrong ones."""

from __future__ import annotations

from typing import Any

import pytest
from ocframe_driver_ipcam.testing import RtspTestServer

from ocframe.testing.conformance import DriverConformance

USER, PASSWORD = "ocuser7", "pa:ss w/rd!"  # as conftest.py's rtsp_server


class TestIpCamConformance(DriverConformance):
    driver = "ipcam"
    flavor = "presentation/source"
    failure_mentions = "401"

    @pytest.fixture
    def conformance_settings(self, rtsp_server: RtspTestServer) -> dict[str, Any]:
        return {"url": rtsp_server.url, "username": USER, "password": PASSWORD,
                "connect_timeout": 2}

    @pytest.fixture
    def conformance_failing_settings(self, rtsp_server: RtspTestServer) -> dict[str, Any]:
        return {"url": rtsp_server.url, "username": USER, "password": "not-the-password",
                "connect_timeout": 2}

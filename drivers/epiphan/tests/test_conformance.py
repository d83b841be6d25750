"""The epiphan driver passes the driver conformance kit against the emulated
Pearl (REST mode): recording with the right password, failing with a wrong one."""

from __future__ import annotations

from typing import Any

import pytest
from ocframe_driver_epiphan.testing import PearlEmulator

from ocframe.testing.conformance import DriverConformance

PASSWORD = "correct-horse-battery"  # the pearl fixture's, in conftest.py
FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "retry_backoff": 0.05,
    "request_timeout": 5.0,
    "start_timeout": 10.0,
    "stop_timeout": 10.0,
    "archive_timeout": 30.0,
    "clock_tolerance": 2.0,
}


class TestEpiphanConformance(DriverConformance):
    driver = "epiphan"
    record_seconds = 1.0
    failure_mentions = "rejected the credentials"

    @pytest.fixture
    def conformance_settings(self, pearl: PearlEmulator) -> dict[str, Any]:
        return {"url": pearl.url, "password": PASSWORD, **FAST}

    @pytest.fixture
    def conformance_failing_settings(self, pearl: PearlEmulator) -> dict[str, Any]:
        return {"url": pearl.url, "password": "not-the-password", **FAST}

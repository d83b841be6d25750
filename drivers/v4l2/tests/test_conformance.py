"""The v4l2 driver passes the driver conformance kit: recording from its
test source (there are no V4L2 devices in CI), failing on a camera that is
not plugged in (the fixture tree from real devices, without it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_v4l2.testing import build_tree

from ocframe.testing.conformance import DriverConformance


class TestV4l2Conformance(DriverConformance):
    driver = "v4l2"
    settings = {"source_override": "testsrc", "test_size": "160x120", "test_rate": 10}
    failure_mentions = "usb-Unplugged_Camera"

    @pytest.fixture
    def conformance_failing_settings(self, tmp_path: Path) -> dict[str, Any]:
        tree = build_tree(tmp_path / "devices")
        return {"device": "/dev/v4l/by-id/usb-Unplugged_Camera-video-index0",
                "sysfs_root": str(tree.sysfs), "dev_root": str(tree.dev)}

"""Low disk space is a warning and a capability, never a refusal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocframe.config import StorageConfig
from ocframe.disk import DiskMonitor
from ocframe.model import Event


def test_low_disk_space_warns_once_and_never_refuses_a_recording(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    changed: list[bool] = []
    monitor = DiskMonitor(StorageConfig(directory=tmp_path, min_free_mib=1 << 40),
                          on_change=lambda: changed.append(True))
    now = datetime.now(UTC)
    with caplog.at_level(logging.WARNING, logger="ocframe.disk"):
        monitor.start()
        try:
            assert monitor.low and changed == [True]  # capabilities are re-sent
            # Before a recording: warned, and the recording goes ahead.
            monitor.check_recording("room-1", Event("u", now, now + timedelta(hours=2)), [])
        finally:
            monitor.stop()
    assert "disk space low" in caplog.text
    assert "needs about" in caplog.text
    assert changed == [True]  # still low: no second change signal

"""The example plugin tested as its author would: only ocframe's public API
and its test helpers (ocframe.testing), no agent."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ocframe_example import journal
from ocframe_example.driver import ScreenDriver

from ocframe import AgentState, StateChange
from ocframe.testing.drivers import capture_context, input_spec, wait_media_time


def test_screen_driver_records_a_file(tmp_path: Path) -> None:
    driver = ScreenDriver(input_spec(ScreenDriver, {"size": "160x90", "rate": 5},
                                     driver="example-screen"))
    assert driver.capabilities()["resolution"] == "160x90"
    handle = driver.start(capture_context(driver, tmp_path, seconds=5))
    try:
        wait_media_time(handle, 1.0)
    finally:
        handle.stop()
    (track,) = handle.tracks()
    assert track.path == tmp_path / "screen.mkv" and track.path.stat().st_size > 0


def test_journal_writes_one_line_per_state_change(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "journal.jsonl"
    monkeypatch.setenv("OCFRAME_EXAMPLE_JOURNAL", str(path))
    change = StateChange(agent="room-1", old=AgentState.IDLE, new=AgentState.CAPTURING,
                         at=time.time())
    journal.ocframe_state_change(change)
    journal.ocframe_state_change(change)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [{"agent": "room-1", "recording": None, "old": "idle",
                      "new": "capturing"}] * 2


def test_journal_adds_a_capability_to_the_first_input() -> None:
    assert journal.ocframe_capabilities("room-1", ["cam", "mic"]) == {
        "capture.device.cam.journal": "enabled"}
    assert journal.ocframe_capabilities("room-1", []) == {}

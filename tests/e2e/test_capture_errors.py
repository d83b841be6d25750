"""Capture errors an integrator meets (issue 14, part 6): a capture that fails
at once says what was wrong, and failed restarts are said once, with a count,
without naming segments that never existed."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe import CaptureCommand, CaptureError, CommandDriver, CommandOutput
from ocframe.ffmpeg import find_ffmpeg
from ocframe.model import CaptureContext
from ocframe.testing.drivers import capture_context, input_spec
from ocframe.testing.harness import InProcessAgent, agent, soon, write_config

BOGUS = "Unrecognized option 'bogus-option'"
SPLIT = "Error splitting the argument list: Option not found"

# A testsrc capture whose first ``fail_first`` starts carry a bogus option, as
# an integrator's typo in a driver's command line does.
FLAKY_PLUGIN = '''
from typing import ClassVar
from ocframe import DriverSettings, hookimpl
from ocframe_driver_testsrc import TestPatternDriver, TestPatternSettings


class FlakySettings(TestPatternSettings):
    fail_first: int = 0


class FlakyDriver(TestPatternDriver):
    Settings: ClassVar[type[DriverSettings]] = FlakySettings

    def __init__(self, spec):
        super().__init__(spec)
        self.starts = 0

    def command(self, ctx):
        command = super().command(ctx)
        self.starts += 1
        if self.starts <= self.settings.fail_first:
            argv = list(command.argv)
            argv[1:1] = ["-bogus-option", "1"]
            command = type(command)(argv=argv, outputs=command.outputs)
        return command


@hookimpl
def ocframe_driver_types():
    return {"flaky": FlakyDriver}
'''


class BogusDriver(CommandDriver):
    def command(self, ctx: CaptureContext) -> CaptureCommand:
        target = ctx.directory / "out.mkv"
        argv = [find_ffmpeg(), "-hide_banner", "-bogus-option", "1", "-f", "lavfi",
                "-i", "testsrc2", str(target)]
        return CaptureCommand(argv, [CommandOutput(target, ctx.input.flavor,
                                                   "video/x-matroska")])


def test_a_capture_failing_at_once_keeps_the_line_that_says_why(tmp_path: Path) -> None:
    driver = BogusDriver(input_spec(BogusDriver))
    with pytest.raises(CaptureError) as failed:
        driver.start(capture_context(driver, tmp_path / "seg"))
    reason = failed.value.reason
    assert re.fullmatch(rf"capture failed to start: \S+ exited with \d+: {BOGUS}\. \| {SPLIT}",
                        reason), reason


@pytest.fixture
def flaky_plugin(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "flaky_plugin.py").write_text(FLAKY_PLUGIN)
    sys.path.insert(0, str(tmp_path))
    try:
        yield "flaky_plugin"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("flaky_plugin", None)


def flaky(fail_first: int) -> dict[str, object]:
    return {"name": "cam", "driver": "flaky", "flavor": "presenter/source",
            "settings": {"fail_first": fail_first, "width": 160, "height": 90, "rate": 10}}


@pytest.mark.e2e
def test_failed_restarts_are_said_once_with_a_count_and_name_no_phantom_segment(
        opencast_simulator: OpencastSimulator, tmp_path: Path, flaky_plugin: str) -> None:
    sim = opencast_simulator
    cfg = write_config(
        tmp_path, sim, extra={"plugins": {"modules": [flaky_plugin]}},
        agents=[agent("room-broken", [flaky(100)], max_restarts=3),
                agent("room-flaky", [flaky(2)], max_restarts=5)])
    broken = sim.add_event(agent="room-broken", start=soon(1), end=soon(8))
    recovered = sim.add_event(agent="room-flaky", start=soon(1), end=soon(6))
    with InProcessAgent(cfg) as running:
        store = running.service.store
        assert sim.wait_for_recording_state(broken, "capture_error", timeout=30)
        assert sim.wait_for_ingest(recovered, timeout=60)
        assert sim.wait_for_recording_state(recovered, "upload_finished", timeout=30)
        rec = store.get(broken)
        assert rec is not None and rec.error is not None
        # Four attempts (the first and three restarts), said once.
        assert re.fullmatch(rf"cam segment 0: capture failed to start: \S+ exited with \d+:"
                            rf" {BOGUS}\. \| {SPLIT} \(4 times\)", rec.error), rec.error
        assert [s.segment for s in store.segments(broken)] == [0]
        assert not [d for _, _, d in store.history(broken) if "restarting as" in d]

        # Two failed starts, then it records: one segment, and the history says
        # so naming that segment only.
        assert [(s.segment, bool(s.tracks)) for s in store.segments(recovered)] == [(0, True)]
        restarts = [d for _, state, d in store.history(recovered) if "restarting as" in d]
        assert len(restarts) == 1, restarts
        assert restarts[0].startswith("cam restarting as segment 0 after: capture failed to"
                                      " start: ")
        assert restarts[0].endswith(" and 1 more failed attempts")
        finished = [d for _, state, d in store.history(recovered) if state == "capture_finished"]
        assert finished == [f"cam segment 0: {restarts[0].split(' after: ')[1].split(' and 1')[0]}"
                            " (2 times)"]


def test_progress_lines_and_addresses_are_left_out_of_a_reason() -> None:
    from ocframe.process import relevant_lines

    tail = ["[rtsp @ 0x55d99b5d9080] method DESCRIBE failed: 404 Not Found",
            "rtsp://cam/live: Server returned 404 Not Found",
            "frame=    0 fps=0.0 q=0.0 size=       0kB time=00:00:00.00 bitrate=N/A speed=N/A",
            "video:0kB audio:0kB subtitle:0kB other streams:0kB global headers:0kB"]
    assert relevant_lines(tail) == ["[rtsp] method DESCRIBE failed: 404 Not Found",
                                    "rtsp://cam/live: Server returned 404 Not Found"]
    assert relevant_lines(["Input #0", "Exiting normally, received signal 2."]) == [
        "Exiting normally, received signal 2."]
    assert relevant_lines([]) == []

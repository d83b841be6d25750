"""A capture that wrote no media fails with the same reason whichever check saw
it first: the program's name, how it ended and its last words.

Found by the conformance kit under load: the testsrc driver's bad preset made
ffmpeg exit after the start check's 0.3 s, and the reason then said "no media
written by cam-0" without naming ffmpeg or its exit."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from ocframe import (
    CaptureCommand,
    CaptureError,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
)
from ocframe.driver import CommandCapture
from ocframe.model import CaptureContext
from ocframe.testing.drivers import capture_context, input_spec


def late_failing_program(directory: Path) -> Path:
    """A program named like a capture tool that fails after the start check."""
    program = directory / "fakecap"
    program.write_text(
        f"#!{sys.executable}\n"
        "import sys, time\n"
        "time.sleep(2.0)\n"
        "sys.stderr.write(\"x264 [error]: invalid preset 'no-such-preset'\\n\")\n"
        "sys.exit(1)\n")
    os.chmod(program, 0o755)
    return program


class LateFailure(CommandDriver):
    Settings = CommandDriverSettings
    program: Path

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        target = ctx.directory / "out.mkv"
        return CaptureCommand([str(self.program)],
                              [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])


def _start(tmp_path: Path) -> CommandCapture:
    LateFailure.program = late_failing_program(tmp_path)
    driver = LateFailure(input_spec(LateFailure, {}))
    handle = driver.start(capture_context(driver, tmp_path / "seg"))
    assert isinstance(handle, CommandCapture)
    return handle


def _wait_for_exit(handle: CommandCapture) -> None:
    deadline = time.monotonic() + 30
    while handle.process.poll() is None:
        assert time.monotonic() < deadline, "the program did not end"
        time.sleep(0.05)


@pytest.mark.parametrize("seen_by", ["poll", "tracks"])
def test_no_media_names_the_program_its_exit_and_its_last_words(
        tmp_path: Path, seen_by: str) -> None:
    handle = _start(tmp_path)
    _wait_for_exit(handle)
    if seen_by == "poll":
        said = handle.poll()
        assert said is not None and said.startswith("fakecap exited with 1: "), said
    handle.stop()
    with pytest.raises(CaptureError) as failed:
        handle.tracks()
    reason = str(failed.value)
    assert reason.startswith("fakecap exited with 1 and wrote no media for "), reason
    assert "invalid preset 'no-such-preset'" in reason


def test_no_media_after_our_stop_says_how_it_was_stopped(tmp_path: Path) -> None:
    script, ready = tmp_path / "silent", tmp_path / "ready"
    # SIGINT's default action, not the inherited one (a test runner started in
    # the background hands its children SIGINT ignored); stopped only once set.
    script.write_text(f"#!{sys.executable}\nimport signal, time\n"
                      "signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
                      f"open({str(ready)!r}, 'w').close()\ntime.sleep(60)\n")
    os.chmod(script, 0o755)
    LateFailure.program = script
    driver = LateFailure(input_spec(LateFailure, {"stop_quit_timeout": 0.1,
                                                  "stop_interrupt_timeout": 5.0}))
    handle = driver.start(capture_context(driver, tmp_path / "seg"))
    assert isinstance(handle, CommandCapture)
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert handle.process.poll() is None and time.monotonic() < deadline, "never ready"
        time.sleep(0.05)
    handle.stop()
    with pytest.raises(CaptureError) as failed:
        handle.tracks()
    reason = str(failed.value)
    assert reason.startswith("silent wrote no media (stopped with SIGINT, exit "), reason
    assert reason.endswith(": no output"), reason

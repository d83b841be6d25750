"""A capture that wrote no media fails with the same reason whichever check saw
it first: the program's name, how it ended and its last words.

Found by the conformance kit under load: the testsrc driver's bad preset made
ffmpeg exit after the start check's 0.3 s, and the reason then said "no media
written by cam-0" without naming ffmpeg or its exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from ocframe import (
    CaptureCommand,
    CaptureError,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    DriverSettings,
)
from ocframe.driver import CommandCapture
from ocframe.model import CaptureContext
from ocframe.testing.drivers import capture_context, input_spec
from ocframe.testing.harness import poll_until


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


class ProgramSettings(CommandDriverSettings):
    program: str


class OneProgram(CommandDriver):
    """Runs its `program` setting, which is meant to write no media."""

    Settings: ClassVar[type[DriverSettings]] = ProgramSettings

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        target = ctx.directory / "out.mkv"
        return CaptureCommand([self.settings.program],
                              [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])


def _start(program: Path, tmp_path: Path, **settings: float) -> CommandCapture:
    driver = OneProgram(input_spec(OneProgram, {"program": str(program), **settings}))
    handle = driver.start(capture_context(driver, tmp_path / "seg"))
    assert isinstance(handle, CommandCapture)
    return handle


@pytest.mark.parametrize("seen_by", ["poll", "tracks"])
def test_no_media_names_the_program_its_exit_and_its_last_words(
        tmp_path: Path, seen_by: str) -> None:
    handle = _start(late_failing_program(tmp_path), tmp_path)
    assert poll_until(lambda: handle.process.poll() is not None, 30), "the program did not end"
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
    handle = _start(script, tmp_path, stop_quit_timeout=0.1, stop_interrupt_timeout=5.0)
    assert poll_until(ready.exists, 30), f"never ready: {handle.process.tail(3)}"
    handle.stop()
    with pytest.raises(CaptureError) as failed:
        handle.tracks()
    reason = str(failed.value)
    assert reason.startswith("silent wrote no media (stopped with SIGINT, exit "), reason
    assert reason.endswith(": no output"), reason

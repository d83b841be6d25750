"""The command driver with real ffmpeg (and real programs that misbehave)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_command import CommandLineDriver

from ocframe import CaptureError, Event
from ocframe.testing.drivers import capture_context, input_spec
from ocframe.testing.media import decode

FFMPEG = input_spec(CommandLineDriver, {"command": ["true"]}).tools["ffmpeg"]
# A real capture that prints nothing (-nostats, errors only): progress is seen
# only in its files growing.
SILENT_TWO_FILES = [
    FFMPEG, "-nostats", "-loglevel", "error", "-y", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-flush_packets", "1",
    "-cluster_time_limit", "500", "-t", "{duration}", "{output.0}",
    "-map", "1:a", "-c:a", "flac", "-t", "{duration}", "{output.1}",
]
TWO_OUTPUTS = [
    {"path": "{dir}/{name}.mkv", "flavor": "presentation/source"},
    {"path": "{name}-audio.flac", "flavor": "presenter-audio/source"},
]


def make_driver(**settings: Any) -> CommandLineDriver:
    return CommandLineDriver(input_spec(CommandLineDriver, settings, driver="command"))


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met before the deadline")


def test_two_output_files_with_their_own_flavor_and_mime_type(tmp_path: Path) -> None:
    driver = make_driver(command=SILENT_TWO_FILES, outputs=TWO_OUTPUTS)
    handle = driver.start(capture_context(driver, tmp_path / "rec", seconds=60))
    try:
        video = tmp_path / "rec" / "cam-0.mkv"
        wait_for(lambda: video.exists() and video.stat().st_size > 20_000)
    finally:
        handle.stop()
    assert handle.exit is not None and handle.exit.stopped_by == "sigint"
    tracks = handle.tracks()
    assert [(t.path.name, t.flavor, t.mimetype) for t in tracks] == [
        ("cam-0.mkv", "presentation/source", "video/x-matroska"),
        ("cam-0-audio.flac", "presenter-audio/source", "audio/flac"),
    ]
    assert decode(tracks[0].path) == {"video"}
    assert decode(tracks[1].path) == {"audio"}


def test_duration_placeholder_lets_the_program_end_itself(tmp_path: Path) -> None:
    """pyCA style: the command records {duration} seconds and ends on its own."""
    driver = make_driver(command=SILENT_TWO_FILES, outputs=TWO_OUTPUTS)
    ctx = capture_context(driver, tmp_path / "rec", seconds=2)
    command = driver.command(ctx)
    assert command.argv[command.argv.index("-t") + 1] in ("1", "2")
    handle = driver.start(ctx)
    wait_for(lambda: handle.process.poll() is not None)
    # Its own end at the scheduled end: not reported as a capture that ended early.
    assert handle.poll() is None
    handle.stop()
    assert handle.exit is not None and handle.exit.returncode == 0
    assert decode(handle.tracks()[0].path) == {"video"}
    assert handle.tracks()[1].path.stat().st_size > 0


def test_an_exit_long_before_the_scheduled_end_is_reported(tmp_path: Path) -> None:
    driver = make_driver(command=[sys.executable, "-c",
                                  "import time; open('o.txt', 'w').write('x'); time.sleep(1)"],
                         outputs=[{"path": "o.txt", "mimetype": "text/plain"}])
    handle = driver.start(capture_context(driver, tmp_path, seconds=60))
    wait_for(lambda: handle.process.poll() is not None)
    reason = handle.poll()
    assert reason is not None and "exited with 0" in reason
    assert handle.stalled_for() == 0.0


def test_a_string_command_is_split_like_a_shell_but_never_run_by_one(tmp_path: Path) -> None:
    driver = make_driver(command=f"{FFMPEG} -i 'my input;$(x)' -metadata title={{event.title}} "
                                 "{output}", outputs=[{"path": "out.mp4"}])
    nasty = "--help; rm -rf / $(reboot)\n`x`"
    ctx = capture_context(driver, tmp_path, title=nasty)
    argv = driver.command(ctx).argv
    assert argv[1:3] == ["-i", "my input;$(x)"]
    # One argument, no leading dash to be read as an option, no newline.
    assert argv[4] == "title=help; rm -rf / $(reboot) `x`"
    assert argv[5] == str(tmp_path.resolve() / "out.mp4")


def test_event_fields_in_output_names_cannot_leave_the_capture_directory(tmp_path: Path) -> None:
    driver = make_driver(command=[FFMPEG, "{output}"], outputs=[{"path": "{event.title}.mkv"}])
    ctx = capture_context(driver, tmp_path / "rec", title="../../etc/passwd")
    (output,) = driver.command(ctx).outputs
    assert output.path.parent == (tmp_path / "rec").resolve()
    assert output.path.name == "etc_passwd.mkv"
    escaping = make_driver(command=[FFMPEG, "{output}"], outputs=[{"path": "../x.mkv"}])
    with pytest.raises(CaptureError, match="outside the capture directory"):
        escaping.command(capture_context(escaping, tmp_path / "rec2"))


def test_settings_refuse_typos_unknown_placeholders_and_undeclared_secrets() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{evnt\.title\}"):
        CommandLineDriver.Settings(command=["x", "{evnt.title}"])
    with pytest.raises(ValueError, match="no secret 'pw'"):
        CommandLineDriver.Settings(command=["x", "{secret.pw}"])
    with pytest.raises(ValueError, match="only 1 output"):
        CommandLineDriver.Settings(command=["x", "{output.1}"])
    with pytest.raises(ValueError, match="no mime type known"):
        CommandLineDriver.Settings(command=["x"], outputs=[{"path": "a.weird"}])
    with pytest.raises(ValueError, match="unmatched"):
        CommandLineDriver.Settings(command=["x", "{dir"])
    with pytest.raises(ValueError, match="empty"):
        CommandLineDriver.Settings(command="  ")
    with pytest.raises(ValueError):
        CommandLineDriver.Settings(command=["x"], ouputs=[])
    ok = CommandLineDriver.Settings(command=["x", "{{literal}}"])
    assert ok.command == ["x", "{{literal}}"]


def test_secrets_reach_the_program_but_never_the_logs(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-Token"
    driver = make_driver(command=[FFMPEG, "-hide_banner", "-i",
                                  "/nonexistent/{secret.token}.mkv", "{output}"],
                         secrets={"token": secret}, outputs=[{"path": "x.mkv"}],
                         start_check=10)
    assert secret not in repr(driver.settings)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CaptureError) as failed:
        driver.start(capture_context(driver, tmp_path))
    # ffmpeg names the input it could not open: with the secret masked.
    assert "/nonexistent/***.mkv" in str(failed.value)
    assert "No such file" in str(failed.value)
    assert secret not in str(failed.value) and secret not in caplog.text


def test_stall_is_seen_by_output_growth_when_the_program_prints_nothing(tmp_path: Path) -> None:
    recording = make_driver(command=SILENT_TWO_FILES, outputs=TWO_OUTPUTS)
    handle = recording.start(capture_context(recording, tmp_path / "a", seconds=60))
    try:
        video = tmp_path / "a" / "cam-0.mkv"
        wait_for(lambda: video.exists() and video.stat().st_size > 10_000)  # past the header
        # Three seconds of samples: the files keep growing (clusters every 0.5 s),
        # so the capture never looks stalled, though ffmpeg prints nothing.
        samples = []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            samples.append(handle.stalled_for())
            time.sleep(0.1)
        assert handle.process.tail() == []
        assert max(samples) < 1.5, samples
        assert handle.process.seconds_since_output() > 3.0  # stderr alone would say stalled
    finally:
        handle.stop()
    # A program that neither writes nor prints: stalled, and it grows.
    silent = make_driver(command=["sleep", "60"], outputs=[{"path": "never.mkv"}])
    idle = silent.start(capture_context(silent, tmp_path / "b"))
    try:
        wait_for(lambda: idle.stalled_for() > 1.0)
    finally:
        idle.stop()
    # With progress = "stderr", the silent recorder would be taken for stalled.
    by_stderr = make_driver(command=SILENT_TWO_FILES, outputs=TWO_OUTPUTS, progress="stderr")
    quiet = by_stderr.start(capture_context(by_stderr, tmp_path / "c", seconds=60))
    try:
        wait_for(lambda: quiet.stalled_for() > 1.5)
        assert (tmp_path / "c" / "cam-0.mkv").exists()
    finally:
        quiet.stop()


def test_stop_escalates_to_kill_within_the_bound(tmp_path: Path) -> None:
    stubborn = ("import signal, time\n"
                "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "open('out.bin', 'wb').write(b'x')\n"
                "time.sleep(60)\n")
    driver = make_driver(command=[sys.executable, "-c", stubborn],
                         outputs=[{"path": "out.bin", "mimetype": "application/octet-stream"}],
                         stop_quit_timeout=0.5, stop_interrupt_timeout=0.5,
                         stop_terminate_timeout=0.5)
    handle = driver.start(capture_context(driver, tmp_path))
    wait_for(lambda: (tmp_path / "out.bin").exists())  # its handlers are in place
    began = time.monotonic()
    handle.stop()
    assert time.monotonic() - began < 1.5 + 2.0
    assert handle.exit is not None and handle.exit.stopped_by == "sigkill"


def test_environment_placeholders_and_capabilities(tmp_path: Path) -> None:
    driver = make_driver(command=[sys.executable, "-c",
                                  "import os; open(os.environ['TARGET'], 'w').write('x')"],
                         env={"TARGET": "{output}"},
                         outputs=[{"path": "{event.uid}.txt", "mimetype": "text/plain"}])
    ctx = capture_context(driver, tmp_path, uid="ev/1")
    ctx = type(ctx)(**{**ctx.__dict__, "event": Event(uid="ev/1", start=ctx.event.start,
                                                      end=ctx.event.end)})
    command = driver.command(ctx)
    assert command.env is not None and command.env["TARGET"].endswith("/ev_1.txt")
    assert driver.capabilities()["program"] == Path(sys.executable).name
    assert driver.check()[0].ok
    assert not make_driver(command=["no-such-program-here"]).check()[0].ok


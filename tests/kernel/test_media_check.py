"""The media check: broken media is never reported as a recording, and a
capture that is slow to finish is not cut off by the stop escalation."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocframe import CaptureCommand, CommandDriver, CommandDriverSettings, CommandOutput
from ocframe.driver import CommandCapture
from ocframe.ffmpeg import find_ffmpeg
from ocframe.media_check import check_segment, probe
from ocframe.model import CaptureContext, Track
from ocframe.testing.drivers import capture_context, input_spec

FFMPEG = find_ffmpeg()


def make_media(path: Path, seconds: float = 3.0, *, audio: bool = True) -> Path:
    argv = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
            "-i", "testsrc2=size=160x90:rate=25"]
    if audio:
        argv += ["-f", "lavfi", "-i", "sine=sample_rate=48000"]
    argv += ["-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast"]
    if audio:
        argv += ["-c:a", "aac"]
    subprocess.run([*argv, str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def lecture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_media(tmp_path_factory.mktemp("media") / "lecture.mkv")


def track(path: Path, mimetype: str = "video/x-matroska") -> Track:
    return Track(path, "presenter/source", mimetype, (), "cam", 0)


def test_a_whole_file_is_kept_as_it_is(lecture: Path) -> None:
    found = probe(lecture, FFMPEG)
    assert found.streams == ("video", "audio") and not found.damage and found.error is None
    assert found.frames == 75 and 2.9 <= (found.duration or 0) <= 3.1
    result = check_segment([track(lecture)], 3.2, FFMPEG, label="cam #0")
    assert result.kept == [track(lecture)] and not result.notes and not result.changed


def killed_writer(path: Path) -> Path:
    """What a writer killed before its first frames reached the disk leaves:
    the Matroska header alone (705 bytes in the shared-camera run). The
    encoder's look-ahead holds the first frames back for seconds."""
    argv = [FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", "-re", "-f", "lavfi",
            "-i", "testsrc2=size=160x90:rate=25", "-c:v", "libx264", "-preset", "medium",
            "-rc-lookahead", "100", "-flush_packets", "1", str(path)]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not (path.exists() and path.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    return path


def test_a_header_without_frames_is_dropped_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    header = killed_writer(tmp_path / "header.mkv")
    assert 0 < header.stat().st_size < 4096
    assert not probe(header, FFMPEG).has_media
    result = check_segment([track(header)], 30.0, FFMPEG, label="cam #0")
    assert result.kept == [] and result.dropped == 1 and result.changed
    assert result.notes[0].startswith(
        f"cam #0: header.mkv dropped: no readable media in its {header.stat().st_size} bytes")
    assert "not usable media" in caplog.text


def test_a_cut_file_is_repaired_losslessly_and_said_so(lecture: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(lecture.read_bytes()[: 1 << 16])  # cut at a buffer boundary, mid-cluster
    found = probe(cut, FFMPEG)
    assert found.has_media and any("ended prematurely" in d for d in found.damage)
    result = check_segment([track(cut)], 3.0, FFMPEG, label="cam #0")
    (kept,) = result.kept
    assert kept.path == tmp_path / "cut.repaired.mkv" and cut.exists()  # the original stays
    again = probe(kept.path, FFMPEG)
    assert again.has_media and not again.damage and again.streams == ("video", "audio")
    assert result.changed and "cam #0: cut.mkv was cut off (" in result.notes[0]


@pytest.mark.parametrize("content", [b"", b"not media at all " * 100])
def test_a_file_that_is_no_media_is_dropped(tmp_path: Path, content: bytes) -> None:
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(content)
    result = check_segment([track(junk)], 3.0, FFMPEG, label="cam #2")
    assert result.kept == [] and result.notes[0].startswith("cam #2: junk.mkv dropped: ")


def test_a_file_without_the_streams_its_type_promises_is_dropped(
        tmp_path: Path) -> None:
    silent = make_media(tmp_path / "silent.mkv", 1.0, audio=False)
    result = check_segment([track(silent, "audio/x-matroska")], 1.0, FFMPEG, label="mic #0")
    assert result.kept == [] and result.notes == ["mic #0: silent.mkv dropped: no audio stream"]


def test_media_much_shorter_than_the_capture_is_kept_and_noted(lecture: Path) -> None:
    result = check_segment([track(lecture)], 30.0, FFMPEG, label="cam #0")
    assert result.kept == [track(lecture)] and not result.changed
    assert re.fullmatch(r"cam #0: lecture\.mkv holds 3\.\d s of media for 30\.0 s captured",
                        result.notes[0])


# -- the stop escalation ---------------------------------------------------------------

class SlowFinishDriver(CommandDriver):
    """ffmpeg with a long encoder look-ahead: after ``q`` it still has seconds
    of frames to encode and write, as a loaded ffmpeg has."""

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        target = ctx.directory / "slow.mkv"
        argv = [FFMPEG, "-hide_banner", "-y", "-loglevel", "error", "-stats", "-re",
                "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
                "-c:v", "libx264", "-preset", "veryslow", "-rc-lookahead", "250",
                "-threads", "1", "-flush_packets", "1", "-cluster_time_limit", "500",
                str(target)]
        return CaptureCommand(argv, [CommandOutput(target, ctx.input.flavor,
                                                   "video/x-matroska")])


def _ran_for(handle: CommandCapture, seconds: float, deadline: float = 30.0) -> None:
    """Wait until ffmpeg has reported progress and has run ``seconds``."""
    end = time.monotonic() + deadline
    started = handle.process.started_at or time.monotonic()
    while time.monotonic() < end:
        assert handle.poll() is None
        if (time.monotonic() - started >= seconds
                and any("frame=" in line for line in handle.process.tail(3))):
            return
        time.sleep(0.1)
    raise AssertionError(f"ffmpeg reported no progress: {handle.process.tail(3)}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups")
def test_a_capture_still_writing_when_asked_to_stop_is_not_cut(tmp_path: Path) -> None:
    # Graceful wait 0.6 s: far shorter than this ffmpeg's finish, as 10 s was
    # shorter than a loaded ffmpeg's in the shared-camera run. The old stop sent
    # SIGTERM then, and ffmpeg dropped its unwritten frames and trailer.
    settings = {"stop_quit_timeout": 0.1, "stop_interrupt_timeout": 0.5,
                "stop_terminate_timeout": 2.0}
    driver = SlowFinishDriver(input_spec(SlowFinishDriver, settings))
    handle = driver.start(capture_context(driver, tmp_path / "seg"))
    assert isinstance(handle, CommandCapture)
    try:
        _ran_for(handle, 2.0)
        before = handle.output_sizes()[0]
        handle.stop()
    finally:
        handle.process.kill()
    assert handle.exit is not None and handle.exit.stopped_by == "sigint", handle.exit
    (produced,) = handle.tracks()
    assert produced.path.stat().st_size > before  # written after the stop began
    found = probe(produced.path, FFMPEG)
    assert found.has_media and not found.damage, found
    assert (found.duration or 0) >= 1.5


def test_a_stop_still_escalates_when_nothing_is_written(tmp_path: Path) -> None:
    """A capture that ignores the stop and writes nothing is still ended
    within the quit + interrupt + terminate bounds (no waiting for a finish)."""
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
              "open(sys.argv[1], 'wb').write(b'x')\n"
              "while True:\n"
              "    sys.stderr.write('frame\\n'); sys.stderr.flush(); time.sleep(0.1)\n")

    class Hung(CommandDriver):
        Settings = CommandDriverSettings

        def command(self, ctx: CaptureContext) -> CaptureCommand:
            target = ctx.directory / "hung.bin"
            return CaptureCommand([sys.executable, "-c", script, str(target)],
                                  [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])

    driver = Hung(input_spec(Hung, {"stop_quit_timeout": 0.2, "stop_interrupt_timeout": 0.3,
                                    "stop_terminate_timeout": 0.5}))
    handle = driver.start(capture_context(driver, tmp_path / "seg"))
    began = time.monotonic()
    handle.stop()
    assert time.monotonic() - began < 0.2 + 0.3 + 0.5 + 1.5
    assert isinstance(handle, CommandCapture) and handle.exit is not None
    assert handle.exit.stopped_by in ("sigterm", "sigkill")

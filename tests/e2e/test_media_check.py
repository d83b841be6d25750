"""Broken media is never reported as a recording: a recording whose only
track holds no frames is ``capture_error`` (and the core is told so), one
whose tracks are partly unusable is ingested without them and says so in its
history."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe import cli
from ocframe.ffmpeg import find_ffmpeg
from ocframe.testing.harness import InProcessAgent, agent, soon, testsrc_input, write_config

pytestmark = pytest.mark.e2e

# A capture program that leaves the given file behind and runs until stopped.
REPLAY_PLUGIN = '''
import sys
from typing import ClassVar
from ocframe import (CaptureCommand, CommandDriver, CommandDriverSettings, CommandOutput,
                     DriverSettings, hookimpl)

SCRIPT = (
    "import shutil, sys, time\\n"
    "shutil.copyfile(sys.argv[1], sys.argv[2])\\n"
    "while True:\\n"
    "    sys.stderr.write('working\\\\n'); sys.stderr.flush(); time.sleep(0.2)\\n"
)


class ReplaySettings(CommandDriverSettings):
    source: str


class ReplayDriver(CommandDriver):
    Settings: ClassVar[type[DriverSettings]] = ReplaySettings

    def command(self, ctx):
        target = ctx.directory / "replay.mkv"
        return CaptureCommand([sys.executable, "-c", SCRIPT, self.settings.source, str(target)],
                              [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])


@hookimpl
def ocframe_driver_types():
    return {"replay": ReplayDriver}
'''


def header_only(path: Path) -> Path:
    """The Matroska header a writer killed before its first frames left."""
    argv = [find_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-re", "-f", "lavfi",
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
    assert 0 < path.stat().st_size < 4096
    return path


@pytest.fixture
def replay_plugin(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "replay_plugin.py").write_text(REPLAY_PLUGIN)
    sys.path.insert(0, str(tmp_path))
    try:
        yield "replay_plugin"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("replay_plugin", None)


def test_no_usable_media_is_a_capture_error_and_partly_usable_is_said(
        opencast_simulator: OpencastSimulator, tmp_path: Path, replay_plugin: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    sim = opencast_simulator
    broken = header_only(tmp_path / "header.mkv")
    replay = {"name": "cam", "driver": "replay", "flavor": "presentation/source",
              "settings": {"source": str(broken), "stop_quit_timeout": 0.5,
                           "stop_interrupt_timeout": 0.5, "stop_terminate_timeout": 0.5}}
    cfg = write_config(
        tmp_path, sim, extra={"plugins": {"modules": [replay_plugin]}},
        agents=[agent("room-empty", [replay], max_restarts=0),
                agent("room-half", [testsrc_input("presenter"), replay], max_restarts=0)])
    empty = sim.add_event(agent="room-empty", start=soon(1), end=soon(4))
    half = sim.add_event(agent="room-half", start=soon(1), end=soon(4))
    with InProcessAgent(cfg) as running:
        store = running.service.store
        ingest = sim.wait_for_ingest(half, timeout=60)
        assert ingest is not None
        assert [t.flavor for t in ingest.tracks] == ["presenter/source"]
        assert sim.wait_for_recording_state(empty, "capture_error", timeout=30)
        assert sim.wait_for_recording_state(half, "upload_finished", timeout=30)
        rec = store.get(empty)
        assert rec is not None and rec.state == "capture_error"
        assert rec.error is not None and rec.error.startswith(
            "no usable media: cam #0: replay.mkv dropped: no readable media in its")
        assert sim.find_ingest(empty) is None
        history = [detail for _, state, detail in store.history(half)
                   if state == "capture_finished"]
        assert history and history[0].startswith("partly usable media: cam #0: replay.mkv"
                                                 " dropped: ")
        (cam,) = [s for s in store.segments(half) if s.input == "cam"]
        assert cam.tracks == [] and "replay.mkv dropped" in (cam.error or "")
        (presenter,) = [s for s in store.segments(half) if s.input == "presenter"]
        assert presenter.tracks  # the good input's track is kept
    assert "capture_error" not in [s for _, s in sim.recording_state_history(half)]
    # What the operator sees.
    assert cli.main(["recordings", "-c", str(cfg), "show", half]) == 0
    shown = capsys.readouterr().out
    assert "capture_finished  partly usable media: cam #0: replay.mkv dropped: " in shown
    assert re.search(r"cam #0: -  error: .*replay\.mkv dropped: no readable media", shown), shown
    assert cli.main(["recordings", "-c", str(cfg), "show", empty]) == 0
    assert "error:     no usable media: cam #0: replay.mkv dropped: " in capsys.readouterr().out


def test_media_much_shorter_than_its_capture_is_ingested_and_noted(
        opencast_simulator: OpencastSimulator, tmp_path: Path, replay_plugin: str) -> None:
    sim = opencast_simulator
    second = tmp_path / "one-second.mkv"
    subprocess.run([find_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi",
                    "-i", "testsrc2=size=160x90:rate=25", "-t", "1", str(second)],
                   check=True, timeout=60)
    replay = {"name": "cam", "driver": "replay", "flavor": "presentation/source",
              "settings": {"source": str(second)}}
    cfg = write_config(tmp_path, sim, extra={"plugins": {"modules": [replay_plugin]}},
                       agents=[agent("room-short", [replay])])
    uid = sim.add_event(agent="room-short", start=soon(1), end=soon(9))
    with InProcessAgent(cfg) as running:
        assert sim.wait_for_ingest(uid, timeout=60)
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
        finished = [d for _, state, d in running.service.store.history(uid)
                    if state == "capture_finished"]
    assert len(finished) == 1
    assert re.fullmatch(r"partly usable media: cam #0: replay\.mkv holds (0\.9|1\.0) s of media"
                        r" for \d+\.\d s captured", finished[0]), finished

"""Recording lifecycle end to end (issue 4): on time, crash-safe, nothing lost."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.ffmpeg import find_ffmpeg
from ocframe.store import RecordingStore
from ocframe.testing.harness import (
    AgentProcess,
    InProcessAgent,
    agent,
    covers_window,
    soon,
    write_config,
)
from ocframe.testing.media import duration


def _holds(running: InProcessAgent, name: str, uids: set[str]) -> Callable[[], bool]:
    scheduler = running.service.agents[name].scheduler
    return lambda: uids <= {e.uid for e in scheduler.events()}


def test_back_to_back_events_both_record_completely(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-b2b")])
    with InProcessAgent(cfg) as running:
        # Scheduled once the agent runs, with room to learn of them before the
        # first starts: how long the agent took to start is no part of the test.
        assert sim.wait_for_agent_state("room-b2b", "idle", timeout=60)
        t0, t1, t2 = soon(4), soon(8), soon(12)
        first = sim.add_event(agent="room-b2b", start=t0, end=t1, title="first")
        second = sim.add_event(agent="room-b2b", start=t1, end=t2, title="second")
        assert sim.wait_for(_holds(running, "room-b2b", {first, second}), timeout=4)
        a = sim.wait_for_ingest(first, timeout=90)
        b = sim.wait_for_ingest(second, timeout=90)
    assert a is not None and b is not None
    for ingest in (a, b):
        assert covers_window(duration(ingest.tracks[0].path), t0, t1, 1.0)


def test_agent_killed_mid_recording_continues_and_ingests_all_segments(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-kill")])
    start, end = soon(1), soon(13)
    uid = sim.add_event(agent="room-kill", start=start, end=end)
    proc = AgentProcess(cfg).start()
    assert sim.wait_for_recording_state(uid, "capturing", timeout=20), proc.log()
    # Killed once the first segment holds media (ffmpeg has written a cluster).
    recordings = tmp_path / "var" / "recordings"
    deadline = time.monotonic() + 30
    while not any(f.stat().st_size > 4096 for f in recordings.rglob("*.mkv")):
        assert time.monotonic() < deadline, proc.log()
        time.sleep(0.05)
    proc.kill()
    killed_at = time.time()
    with AgentProcess(cfg) as proc2:
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None, proc2.log()
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=20)
    store = RecordingStore(tmp_path / "var" / "recordings.db")
    segments = store.segments(uid)
    assert len(segments) >= 2, segments
    assert segments[0].error == "agent stopped during the capture"
    assert all(seg.tracks for seg in segments)
    assert sim.workflows_started(uid) == 1
    assert len(ingest.tracks) == 1  # the segments were joined
    # The restart gap is lost, nothing else: measured from the kill to the
    # restarted agent's first report that it captures again.
    resumed_at = min(t for t, state in sim.recording_state_history(uid)
                     if state == "capturing" and t > killed_at)
    gap = resumed_at - killed_at
    planned = (end - start).total_seconds()
    total = duration(ingest.tracks[0].path)
    # The start may reach back one key frame (2 s) before the window.
    assert planned - gap - 1.5 <= total <= planned + 2.0 + 1.0, (total, gap)
    states = [s for _, s, _ in store.history(uid)]
    assert states[-1] == "upload_finished"


HUNG_DRIVER = '''
import sys
from ocframe import CaptureCommand, CommandDriver, CommandOutput

SCRIPT = (
    "import os, shutil, signal, sys, time\\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\\n"
    "open(sys.argv[1] + '.pid', 'w').write(str(os.getpid()))\\n"
    "shutil.copyfile(sys.argv[2], sys.argv[1])\\n"
    "while True:\\n"
    "    sys.stderr.write('frame\\\\n'); sys.stderr.flush(); time.sleep(0.2)\\n"
)


class HungDriver(CommandDriver):
    def command(self, ctx):
        target = ctx.directory / "hung.mkv"
        return CaptureCommand([sys.executable, "-c", SCRIPT, str(target), MEDIA],
                              [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])
'''


def test_hung_capture_is_killed_within_timeouts_and_next_event_records(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    # Real media: the media check drops a file without frames.
    media = tmp_path / "media.mkv"
    subprocess.run([find_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi",
                    "-i", "testsrc2=size=160x90:rate=25", "-t", "1", str(media)],
                   check=True, timeout=60)
    (tmp_path / "hung_plugin.py").write_text(
        HUNG_DRIVER + f"\nMEDIA = {str(media)!r}\n"
        + "\nfrom ocframe import hookimpl\n\n@hookimpl\ndef ocframe_driver_types():\n"
        + "    return {'hung': HungDriver}\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        cfg = write_config(
            tmp_path, sim,
            extra={"plugins": {"modules": ["hung_plugin"]}},
            agents=[agent("room-hung", [{"name": "cam", "driver": "hung", "settings": {
                "stop_quit_timeout": 0.5, "stop_interrupt_timeout": 0.5,
                "stop_terminate_timeout": 0.5}}])],
        )
        first_end = soon(3)
        first = sim.add_event(agent="room-hung", start=soon(1), end=first_end)
        second = sim.add_event(agent="room-hung", start=first_end, end=soon(5))
        with InProcessAgent(cfg) as running:
            assert sim.wait_for_ingest(first, timeout=60)
            assert sim.wait_for_ingest(second, timeout=60)
            store = running.service.store
            for uid in (first, second):
                assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
        for uid in (first, second):
            assert store.segments(uid)[0].tracks
        # q and SIGINT are ignored: after their 1 s SIGTERM ends it, well
        # before SIGKILL would be due (0.5 s later).
        ended = store.segments(first)[0].ended
        assert ended is not None
        lag = ended - first_end.timestamp()
        assert 1.0 <= lag <= 1.5 + 4.0, lag
        for pid_file in (tmp_path / "var").rglob("hung.mkv.pid"):
            with pytest.raises(ProcessLookupError):
                os.kill(int(pid_file.read_text()), 0)
        assert len(list((tmp_path / "var").rglob("hung.mkv.pid"))) == 2
    finally:
        sys.path.remove(str(tmp_path))


def test_core_down_for_the_whole_event_records_then_ingests(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-down")])
    uid = sim.add_event(agent="room-down", start=soon(3), end=soon(6))
    with InProcessAgent(cfg) as running:
        scheduler = running.service.agents["room-down"].scheduler
        # Down only once the agent holds the event: a logged calendar request may
        # not have reached the agent yet when the server goes down.
        assert sim.wait_for(lambda: uid in {e.uid for e in scheduler.events()}, timeout=15)
        sim.go_down()
        store = running.service.store
        assert sim.wait_for(lambda: (r := store.get(uid)) is not None
                            and r.state == "uploading" and r.attempts >= 1, timeout=30)
        sim.come_up()
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
    assert sim.workflows_started(uid) == 1
    sent = store.get(uid).package.tracks  # type: ignore[union-attr]  # cut to the window
    assert ingest.tracks[0].md5 == hashlib.md5(sent[0].path.read_bytes()).hexdigest()

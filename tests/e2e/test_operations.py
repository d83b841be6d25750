"""Crash during upload, operator commands, systemd notification (issue 4)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ocframe_simulator import OpencastSimulator

from ocframe.store import RecordingStore
from ocframe.testing.harness import (
    AgentProcess,
    InProcessAgent,
    agent,
    soon,
    testsrc_input,
    write_config,
)


def cli(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocframe.cli", *args, "-c", str(cfg)],
                          capture_output=True, text=True, timeout=60)


def test_agent_killed_mid_upload_resumes_and_ingests_once(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent(
        "room-up", [testsrc_input("presenter", width=640, height=360, rate=25)],
        ingest_settings={"rate_limit": 200_000})])
    # ~1.8 MB at 200 kB/s: the simulator reads bodies in 1 MiB blocks, so its
    # spool shows the track about half way through the upload.
    uid = sim.add_event(agent="room-up", start=soon(1), end=soon(9))
    proc = AgentProcess(cfg).start()
    assert sim.wait_for_recording_state(uid, "uploading", timeout=30), proc.log()
    # Killed once the core holds part of the track (its spool file grows).
    spool = sim.storage_dir / "incoming"
    deadline = time.monotonic() + 60
    while not any(f.stat().st_size > 0 for f in spool.glob("*") if f.is_file()):
        assert time.monotonic() < deadline, "no upload arrived; " + proc.log()
        time.sleep(0.05)
    proc.kill()
    # The core saw that upload break off: no request for the track succeeded.
    assert sim.wait_for(lambda: any(r.path == "/ingest/addTrack" for r in sim.requests),
                        timeout=30)
    assert [r.status for r in sim.requests if r.path == "/ingest/addTrack"] != [200]
    assert sim.find_ingest(uid) is None
    with AgentProcess(cfg) as proc2:
        ingest = sim.wait_for_ingest(uid, timeout=90)
        assert ingest is not None, proc2.log()
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
    assert sim.workflows_started(uid) == 1
    store = RecordingStore(tmp_path / "var" / "recordings.db")
    sent = store.get(uid).package.tracks  # type: ignore[union-attr]  # cut to the window
    assert ingest.tracks[0].md5 == hashlib.md5(sent[0].path.read_bytes()).hexdigest()
    assert len(store.attempts(uid)) == 2


def test_recordings_commands_list_show_retry_delete(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-ops")])
    sim.inject_fault(r"/ingest/ingest", "status", status=400)  # permanent: the core refuses
    uid = sim.add_event(agent="room-ops", start=soon(1), end=soon(3))
    with InProcessAgent(cfg) as running:
        store = running.service.store
        assert sim.wait_for(lambda: (r := store.get(uid)) is not None
                            and r.state == "upload_error", timeout=60)
        listing = cli(cfg, "recordings", "list")
        assert uid in listing.stdout and "upload_error" in listing.stdout
        shown = cli(cfg, "recordings", "show", uid)
        assert "HTTP 400" in shown.stdout and "segments:" in shown.stdout
        rec = store.get(uid)
        assert rec is not None and rec.directory.exists()  # kept on disk with its reason
        sim.clear_faults()
        assert cli(cfg, "recordings", "retry", uid).returncode == 0
        assert sim.wait_for_ingest(uid, timeout=60) is not None
        assert sim.wait_for(lambda: store.get(uid).state == "upload_finished",  # type: ignore[union-attr]
                            timeout=30)
    assert cli(cfg, "recordings", "delete", uid).returncode == 0
    assert not rec.directory.exists()
    assert uid not in cli(cfg, "recordings", "list").stdout


def test_systemd_ready_and_watchdog(opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    """READY=1 once running, WATCHDOG=1 every half WATCHDOG_USEC (never a gap
    systemd would kill for), STOPPING=1 on SIGTERM."""
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-sd")])
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(30)
    deadline_s = 2.0
    env = {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": str(int(deadline_s * 1e6))}
    received: list[tuple[float, str]] = []

    def receive() -> str:
        message = sock.recv(4096).decode()
        received.append((time.monotonic(), message))
        return message

    with AgentProcess(cfg, env=env) as proc:
        try:
            while not any(m.startswith("READY=1") for _, m in received):
                receive()
            pings = 0
            while pings < 6:
                pings += receive() == "WATCHDOG=1"
        except TimeoutError:
            raise AssertionError(f"got {received}; log: {proc.log()}") from None
        assert sim.wait_for_agent_state("room-sd", "idle", timeout=30)
    sock.settimeout(5)
    with contextlib.suppress(TimeoutError):
        while "STOPPING=1" not in (m for _, m in received):
            receive()
    sock.close()
    messages = [m for _, m in received]
    ready = next(m for m in messages if m.startswith("READY=1"))
    assert "STATUS=running room-sd" in ready
    assert "STOPPING=1" in messages, messages
    ping_times = [t for t, m in received if m == "WATCHDOG=1"]
    gaps = [b - a for a, b in itertools.pairwise(ping_times)]
    assert len(gaps) >= 5
    # Every gap inside the watchdog's deadline; on average about half of it.
    assert max(gaps) < deadline_s, gaps
    assert 0.35 * deadline_s <= statistics.mean(gaps) <= 0.75 * deadline_s, gaps

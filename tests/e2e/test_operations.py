"""Crash during upload, operator commands, systemd notification (issue 4)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
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
    uid = sim.add_event(agent="room-up", start=soon(1), end=soon(4))
    proc = AgentProcess(cfg).start()
    assert sim.wait_for_recording_state(uid, "uploading", timeout=30), proc.log()
    sim.wait_for(lambda: False, timeout=1.5)  # part of the file is on its way
    proc.kill()
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
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-sd")])
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(20)
    messages: list[str] = []
    env = {"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "1000000"}
    with AgentProcess(cfg, env=env) as proc:
        env_pid = proc.proc.pid if proc.proc else None
        while not ("READY=1" in " ".join(messages) and "WATCHDOG=1" in messages):
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                raise AssertionError(f"got {messages}; log: {proc.log()}") from None
    sock.close()
    assert any(m.startswith("READY=1") for m in messages)
    assert env_pid is not None and os.path.exists(sock_path)

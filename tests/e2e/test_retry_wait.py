"""`ocframe recordings retry ID --wait` follows the upload with a progress bar (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ocframe_simulator import OpencastSimulator

from ocframe.cli_wait import bar
from ocframe.testing.harness import AgentProcess, agent, soon, testsrc_input, write_config


def test_bar() -> None:
    assert bar("uploading", 512 << 10, 2 << 20) == (
        "uploading         [#######.......................]  25% 0.5/2.0 MiB")
    assert bar("capture_finished", None, None).strip() == "capture_finished"


def test_retry_wait_shows_the_upload_until_it_is_ingested(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent(
        "room-wait", [testsrc_input("presenter", width=1280, height=720, rate=25)],
        ingest_settings={"rate_limit": 300_000})])
    # The core refuses the track for good: the retry must send all of it again.
    sim.inject_fault(r"/ingest/addTrack", "status", status=400)
    uid = sim.add_event(agent="room-wait", start=soon(1), end=soon(5))
    with AgentProcess(cfg) as proc:
        assert sim.wait_for_recording_state(uid, "upload_error", timeout=90), proc.log()
        sim.clear_faults()
        result = subprocess.run(
            [sys.executable, "-m", "ocframe.cli", "recordings", "retry", uid, "--wait",
             "-c", str(cfg)], capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr + proc.log()
    lines = result.stdout.splitlines()
    assert "queued for upload" in lines[0]
    progress = [line for line in lines if re.search(r"uploading .*\[#*\.*\] +\d+% ", line)]
    assert progress, result.stdout
    assert lines[-1].startswith("upload_finished")
    assert sim.find_ingest(uid) is not None


def test_retry_wait_without_a_running_agent_says_so(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-off")])
    sim.inject_fault(r"/ingest/ingest", "status", status=400)
    uid = sim.add_event(agent="room-off", start=soon(1), end=soon(3))
    with AgentProcess(cfg) as proc:
        assert sim.wait_for_recording_state(uid, "upload_error", timeout=60), proc.log()
    result = subprocess.run(
        [sys.executable, "-m", "ocframe.cli", "recordings", "retry", uid, "--wait",
         "-c", str(cfg)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no agent is running here" in result.stdout

"""Log lines: JSON lines with fields, and text without a second time stamp
under the journal (issue 13)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.logs import FORMAT, JOURNAL_FORMAT, JsonFormatter, log_fields, under_journal
from ocframe.testing.harness import AgentProcess, agent, soon, write_config


def record(name: str, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_lines_carry_fields_from_the_call_the_context_and_the_logger() -> None:
    fmt = JsonFormatter()
    line = json.loads(fmt.format(record("ocframe.agent.room-1", "recording %s is %s",
                                        "ev\n1", "capturing", recording_id="ev\n1",
                                        state="capturing")))
    assert line["agent"] == "room-1" and line["state"] == "capturing"
    assert line["recording_id"] == "ev\n1" and line["message"] == "recording ev\n1 is capturing"
    assert line["level"] == "WARNING" and line["time"].endswith("+00:00")
    with log_fields(agent="room-2", recording_id="rec-9", input="cam"):
        inner = json.loads(fmt.format(record("ocframe.capture.room-2.cam", "stalled")))
    assert (inner["agent"], inner["recording_id"], inner["input"]) == ("room-2", "rec-9", "cam")
    outside = json.loads(fmt.format(record("ocframe.scheduler", "tick")))
    assert not {"agent", "recording_id", "input", "state"} & set(outside)
    # A hostile title cannot make a second line.
    assert "\n" not in fmt.format(record("ocframe.agent.x", "title %s", "a\n{\"level\": 1}"))


def test_under_the_journal_text_lines_have_no_time_of_their_own(tmp_path: Path) -> None:
    # stderr *is* the journal stream when $JOURNAL_STREAM names its device:inode.
    probe = ("import os, sys; from ocframe.logs import under_journal; "
             "sys.stdout.write(str(under_journal()))")
    err = tmp_path / "stderr"
    with err.open("w") as handle:
        st = os.fstat(handle.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        inside = subprocess.run([sys.executable, "-c", probe], stderr=handle, env=env,
                                capture_output=False, stdout=subprocess.PIPE, text=True)
        other = subprocess.run([sys.executable, "-c", probe], stderr=handle,
                               env={**env, "JOURNAL_STREAM": "1:2"}, stdout=subprocess.PIPE,
                               text=True)
    assert inside.stdout == "True" and other.stdout == "False"
    assert "asctime" in FORMAT and "asctime" not in JOURNAL_FORMAT
    assert not under_journal() or "JOURNAL_STREAM" in os.environ


@pytest.mark.e2e
def test_agent_logs_json_lines_with_recording_fields(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-json")],
                       extra={"log_format": "json"})
    uid = sim.add_event(agent="room-json", start=soon(1), end=soon(3), title="JSON\nlines")
    with AgentProcess(cfg) as proc:
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=60), proc.log()
        proc.stop()
        lines = [json.loads(line) for line in proc.log().splitlines() if line.strip()]
    mine = [x for x in lines if x.get("recording_id") == uid]
    states = [x["state"] for x in mine if "state" in x]
    assert states[:2] == ["capturing", "capture_finished"] and "upload_finished" in states
    assert all(x["agent"] == "room-json" for x in mine)
    assert any(x.get("state") == "capturing" and "recording_id" not in x for x in lines)
    uploads = [x for x in mine if x["logger"].startswith("ocframe.ingest")]
    assert uploads and all(x["agent"] == "room-json" for x in uploads)

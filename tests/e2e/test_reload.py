"""Hot reload (issue 2): invalid edits are refused, valid ones apply without a restart."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import InProcessAgent, agent, soon, testsrc_input, write_config


def test_reload_keeps_running_config_on_invalid_edit_and_applies_valid_one(
    opencast_simulator: OpencastSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-r", [testsrc_input("presenter")])])
    uid = sim.add_event(agent="room-r", start=soon(1), end=soon(7))
    with InProcessAgent(cfg, reload=True) as running:
        assert sim.wait_for(lambda: sim.capabilities("room-r").get("capture.device.names")
                            == "presenter", timeout=15)
        assert sim.wait_for_recording_state(uid, "capturing", timeout=15)
        pid_before = running.service.agents["room-r"].scheduler.runs[uid]

        caplog.set_level(logging.ERROR, logger="ocframe.reload")
        cfg.write_text(cfg.read_text().replace('flavor = "presenter/source"', 'flavor = "x"'))
        assert sim.wait_for(lambda: "configuration change refused" in caplog.text, timeout=10)
        assert running.service.config.agents[0].inputs[0].flavor == "presenter/source"

        # A valid edit, written the way editors do: a temporary file renamed over it.
        posts = sim.capabilities_posts("room-r")
        write_config(tmp_path / "new", sim, agents=[agent("room-r", [
            testsrc_input("presenter"), testsrc_input("slides", "presentation/source")])])
        (tmp_path / "new" / "ocframe.toml").replace(cfg)
        assert sim.wait_for(lambda: sim.capabilities("room-r").get("capture.device.names")
                            == "presenter,slides", timeout=10)
        assert sim.capabilities_posts("room-r") > posts
        # The running recording was not interrupted and keeps its inputs.
        assert running.service.agents["room-r"].scheduler.runs.get(uid) is pid_before
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert ingest is not None
        assert [t.flavor for t in ingest.tracks] == ["presenter/source"]
    segments = running.service.store.segments(uid)
    assert [(s.input, s.segment, s.error) for s in segments] == [("presenter", 0, None)]

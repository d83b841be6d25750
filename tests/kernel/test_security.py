"""Calendar text never reaches a path unsanitised; secrets never reach logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.model import Event, safe_name
from ocframe.testing.harness import InProcessAgent, agent, soon, write_config


@pytest.mark.parametrize("text", ["../../etc/passwd", "..", ".", "", "a/b\\c", "$(rm -rf ~)",
                                  "x" * 500, "tab\tnew\nline", "ümlaut é", "-rf"])
def test_safe_name_is_a_single_harmless_path_component(text: str) -> None:
    name = safe_name(text)
    assert name and "/" not in name and "\\" not in name
    assert name not in (".", "..") and not name.startswith(".")
    assert len(name) <= 80
    assert all(c.isalnum() or c in "._-" for c in name)


def test_hostile_uid_and_title_stay_inside_the_storage_directory(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-sec")])
    uid = sim.add_event(agent="room-sec", start=soon(1), end=soon(3),
                        uid="..\\..\\evil uid; rm -rf ~ $(reboot)", title="$(reboot) ../x")
    with InProcessAgent(cfg) as running:
        assert sim.wait_for_ingest(uid, timeout=60) is not None
        rec = running.service.store.get(uid)
    assert rec is not None
    storage = (tmp_path / "var").resolve()
    assert rec.directory.resolve().is_relative_to(storage)
    for path in storage.rglob("*"):
        assert path.resolve().is_relative_to(storage)


def test_core_password_never_logged(opencast_simulator: OpencastSimulator, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, password="not-the-password-Zq9", agents=[agent("room-pw")])
    with InProcessAgent(cfg):
        assert sim.wait_for(lambda: any(r.status == 401 for r in sim.requests), timeout=15)
        sim.wait_for(lambda: False, timeout=1.0)
    assert "not-the-password-Zq9" not in caplog.text
    assert "401" in caplog.text and "'admin'" in caplog.text


def test_event_model_strips_workflow_prefix_and_keeps_dotted_keys() -> None:
    now = datetime.now(UTC)
    ev = Event("u", now, now + timedelta(seconds=1), properties={
        "org.opencastproject.workflow.config.trim.hold": "true",
        "org.opencastproject.workflow.definition": "fast",
        "capture.device.names": " presenter , slides ,",
    })
    assert ev.workflow_config == {"trim.hold": "true"}
    assert ev.workflow_definition == "fast"
    assert ev.inputs == ["presenter", "slides"]

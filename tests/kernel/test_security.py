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


def _files_outside(root: Path, storage: Path) -> set[Path]:
    return {p for p in root.rglob("*") if not p.resolve().is_relative_to(storage)}


@pytest.mark.parametrize("uid", ["..\\..\\..\\evil uid; rm -rf ~ $(reboot)",
                                 "../../../evil-uid/../../x"])
def test_hostile_uid_and_title_stay_inside_the_storage_directory(
    opencast_simulator: OpencastSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    uid: str,
) -> None:
    """Everything the agent writes lands under its storage directory: watched are
    the whole tree around it (deep enough for any `../` in the uid to land in
    it), the working directory and the home directory."""
    sim = opencast_simulator
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    config_dir = tmp_path / "a" / "b" / "c"
    cfg = write_config(config_dir, sim, agents=[agent("room-sec")])
    storage = (config_dir / "var").resolve()
    before = _files_outside(tmp_path, storage)
    title = "$(reboot) ../../../x"
    sim.add_event(agent="room-sec", start=soon(1), end=soon(3), uid=uid, title=title)
    with InProcessAgent(cfg) as running:
        if "/" in uid:
            # Like Jetty, the simulator refuses an encoded slash in the path: the
            # upload fails and the recording is kept. Its writing is what counts.
            assert sim.wait_for(lambda: any("createMediaPackageWithID" in r.path
                                            for r in sim.requests), timeout=60)
        else:
            assert sim.wait_for_ingest(uid, timeout=60) is not None
        rec = running.service.store.get(uid)
    assert rec is not None and rec.package is not None
    assert rec.directory.resolve().is_relative_to(storage)
    assert _files_outside(tmp_path, storage) == before
    assert list(storage.rglob("*")), "the agent wrote nothing at all"
    for path in storage.rglob("*"):
        assert path.resolve().is_relative_to(storage)
        assert not path.is_symlink()
        assert ".." not in path.relative_to(storage).parts


def test_core_password_never_logged(opencast_simulator: OpencastSimulator, tmp_path: Path,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, password="not-the-password-Zq9", agents=[agent("room-pw")])
    with InProcessAgent(cfg):
        # Several refused attempts, each with its chance to log the password.
        assert sim.wait_for(lambda: sum(r.status == 401 for r in sim.requests) >= 3, timeout=30)
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

"""A test of the kernel loads only the plugins it names: a broken third-party
plugin installed in the same environment cannot fail it."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.config import load_config
from ocframe.plugins import load_plugins
from ocframe.testing.harness import InProcessAgent, agent, only_plugins, soon, write_config

BROKEN = "broken_thirdparty_plugin"


@pytest.fixture
def broken_plugin_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A distribution whose entry points name a module that is not there (a
    half-installed plugin), made visible through a dist-info on sys.path."""
    site = tmp_path / "site"
    dist_info = site / "broken_thirdparty-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-thirdparty\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        f"[ocframe.plugins]\n{BROKEN} = {BROKEN}_missing_module\n\n"
        f"[ocframe.drivers]\nbroken-driver = {BROKEN}_missing_module:Driver\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return BROKEN


def test_a_broken_installed_plugin_is_seen_by_default(
    broken_plugin_installed: str, opencast_simulator: OpencastSimulator, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hazard is real: without isolation the dummy is loaded and fails."""
    cfg = write_config(tmp_path / "cfg", opencast_simulator, agents=[agent("room-1")])
    registry = load_plugins(load_config(cfg))
    assert {p.name for p in registry.problems} == {broken_plugin_installed, "broken-driver"}
    assert any(broken_plugin_installed in r.getMessage() for r in caplog.records
               if r.levelno >= logging.ERROR)


def test_only_named_plugins_load_and_the_agent_runs_without_errors(
    broken_plugin_installed: str, opencast_simulator: OpencastSimulator, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    plugins = only_plugins("testsrc", "multirequest")
    assert broken_plugin_installed in plugins["disabled"]
    assert "testsrc" not in plugins["disabled"] and "multirequest" not in plugins["disabled"]
    cfg = write_config(tmp_path / "cfg", sim, agents=[agent("room-1")],
                       extra={"plugins": plugins})
    registry = load_plugins(load_config(cfg))
    assert registry.problems == []
    assert set(registry.drivers) == {"testsrc"} and set(registry.strategies) == {"multirequest"}
    uid = sim.add_event("room-1", soon(2), soon(4))
    with InProcessAgent(cfg):
        assert sim.wait_for_ingest(uid, timeout=60) is not None
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

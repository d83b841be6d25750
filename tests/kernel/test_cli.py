"""The operator commands: check, config, plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe import cli
from ocframe.testing.harness import agent, write_config

CRASHING_DRIVER = '''
from ocframe import hookimpl
from ocframe_driver_testsrc import TestPatternDriver


class CrashingCheck(TestPatternDriver):
    def check(self):
        raise RuntimeError("probe exploded")


@hookimpl
def ocframe_driver_types():
    return {"crashing-check": CrashingCheck}
'''


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([sys.executable, "-m", "ocframe.cli", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=cwd)


def test_check_fails_when_an_input_check_crashes(opencast_simulator: OpencastSimulator,
                                                 tmp_path: Path) -> None:
    (tmp_path / "crashing_plugin.py").write_text(CRASHING_DRIVER)
    cfg = write_config(tmp_path, opencast_simulator,
                       extra={"plugins": {"modules": ["crashing_plugin"]}},
                       agents=[agent("room-c", [{"name": "cam", "driver": "crashing-check"}])])
    out = run("check", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 1, out.stdout
    assert "check crashed" in out.stdout and "probe exploded" in out.stdout
    assert "some checks FAILED" in out.stdout


def test_check_passes_against_a_reachable_core(opencast_simulator: OpencastSimulator,
                                               tmp_path: Path) -> None:
    cfg = write_config(tmp_path, opencast_simulator, agents=[agent("room-ok")])
    out = run("check", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stdout
    assert "room-ok" in out.stdout and "all checks passed" in out.stdout


def test_config_masks_secrets(opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, opencast_simulator, password="s3cr3t-Pw",
                       agents=[agent("room-m")])
    out = run("config", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 0
    assert "s3cr3t-Pw" not in out.stdout and '"password": "***"' in out.stdout


def test_plugins_lists_problems_of_configured_modules(opencast_simulator: OpencastSimulator,
                                                      tmp_path: Path) -> None:
    cfg = write_config(tmp_path, opencast_simulator,
                       extra={"plugins": {"modules": ["no_such_plugin_module"]}},
                       agents=[agent("room-p")])
    out = run("plugins", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 0
    assert "testsrc" in out.stdout and "multirequest" in out.stdout
    assert "no_such_plugin_module" in out.stdout and "cannot be imported" in out.stdout


def test_check_shows_the_running_agents_loops_and_fails_on_a_failing_one(
        opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    import threading

    from ocframe.health import HealthFile
    from ocframe.loops import LoopSet, SupervisedLoop

    cfg = write_config(tmp_path, opencast_simulator, agents=[agent("room-h")])
    out = run("check", "-c", str(cfg), cwd=tmp_path)
    assert "not running here" in out.stdout and out.returncode == 0, out.stdout

    failed = threading.Event()

    def broken_round() -> None:
        failed.set()
        raise OSError(28, "No space left on device")

    loops = LoopSet()
    loops.add(SupervisedLoop("calendar-room-h", broken_round, stall_after=60.0,
                             backoff_initial=30.0))
    loops.add(SupervisedLoop("scheduler-room-h", lambda: failed.wait(0.1) and None,
                             stall_after=60.0))
    for loop in loops:
        loop.start()
    assert failed.wait(10)
    (tmp_path / "var").mkdir(exist_ok=True)
    health = HealthFile(tmp_path / "var" / "health.json", loops)
    health.write()  # as the running service does every few seconds
    try:
        out = run("check", "-c", str(cfg), cwd=tmp_path)
    finally:
        for loop in loops:
            loop.stop(0.5)
    assert out.returncode == 1, out.stdout
    lines = out.stdout.splitlines()
    calendar = next(line for line in lines if "calendar-room-h" in line)
    assert "FAIL" in calendar and "failing" in calendar
    assert "No space left on device" in calendar
    scheduler = next(line for line in lines if "scheduler-room-h" in line)
    assert " ok " in scheduler
    assert "some checks FAILED" in out.stdout


def test_check_fails_when_the_registry_names_an_untrusted_host(
        opencast_simulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sim = opencast_simulator_factory(ingest_host="127.0.0.1")  # a separate ingest node
    cfg = write_config(tmp_path, sim, agents=[agent("room-t")])
    out = run("check", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 1, out.stdout
    line = next(x for x in out.stdout.splitlines() if "org.opencastproject.ingest" in x)
    assert "FAIL" in line and sim.ingest_url in line and "core.trusted_hosts" in line
    trusted = write_config(tmp_path, sim, agents=[agent("room-t")],
                           extra={"core": {"trusted_hosts": [sim.ingest_url]}})
    out = run("check", "-c", str(trusted), cwd=tmp_path)
    assert out.returncode == 0, out.stdout
    assert f"org.opencastproject.ingest at {sim.ingest_url}/ingest" in out.stdout


@pytest.mark.parametrize("command", ["demo", "simulator"])
def test_moved_commands_name_the_distribution_to_install(
        command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "plugin_commands", dict)  # as if ocframe-simulator were missing
    assert cli.main([command, "--help"]) == 2
    err = capsys.readouterr().err
    assert f"'{command}'" in err and "pip install ocframe-simulator" in err


def test_demo_and_simulator_come_from_the_simulator_distribution() -> None:
    commands = cli.plugin_commands()
    for name in ("demo", "simulator"):
        assert commands[name].dist is not None and commands[name].dist.name == "ocframe-simulator"


def test_plugin_commands_find_the_config_where_ocframe_does() -> None:
    """ocframe.status.storage_directory (public, for plugins' commands) and the
    kernel's commands default to the same file."""
    from ocframe import cli, status

    assert status.DEFAULT_CONFIG == cli.DEFAULT_CONFIG

"""The operator commands: check, config, plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe import cli, hookimpl
from ocframe.model import IngestPackage, Track
from ocframe.testing.harness import InProcessAgent, agent, soon, write_config

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


NO_CORE = SimpleNamespace(url="http://127.0.0.1:9")  # commands that must not need one

BROKEN_PLUGIN = "raise ImportError('libgstreamer-1.0.so.0: cannot open shared object file')\n"


@pytest.mark.parametrize(("input_table", "refused"), [
    ({"name": "cam", "driver": "gstpipe"},
     "agents[0].inputs[0].driver (agent 'room-v', input 'cam'): unknown driver 'gstpipe'"),
    ({"name": "cam", "driver": "testsrc", "settings": {"widht": 640}},
     "agents[0].inputs[0].settings.widht (agent 'room-v', input 'cam'): unknown key;"
     " did you mean 'width'?"),
    ({"name": "cam", "driver": "ipcam",
      "settings": {"url": "rtsp://cam/s", "password": "hunter2"}},
     "agents[0].inputs[0].settings.password (agent 'room-v', input 'cam'): secrets may not"),
], ids=["unknown-driver", "setting-typo", "literal-password"])
def test_config_refuses_what_run_refuses(input_table: dict[str, object], refused: str,
                                         tmp_path: Path) -> None:
    cfg = write_config(tmp_path, NO_CORE, agents=[agent("room-v", [input_table])])
    out = run("config", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert refused in out.stderr and str(cfg) in out.stderr
    assert out.stdout == ""  # no "effective configuration" that would not run
    assert "hunter2" not in out.stderr


def test_check_fails_when_a_plugin_module_the_config_names_does_not_load(
        opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    (tmp_path / "gst_plugin.py").write_text(BROKEN_PLUGIN)
    cfg = write_config(tmp_path, opencast_simulator,
                       extra={"plugins": {"modules": ["gst_plugin"]}}, agents=[agent("room-n")])
    out = run("check", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    line = next(x for x in out.stdout.splitlines() if "gst_plugin" in x)
    assert line.startswith("plugins     FAIL  plugins.modules[0]: plugin module 'gst_plugin'"
                           " failed to load"), out.stdout
    assert "libgstreamer-1.0.so.0" in line
    assert "WARN" not in out.stdout  # a failure, not a warning beside "all checks passed"
    assert "all checks passed" not in out.stdout and "some checks FAILED" in out.stdout
    assert f"config      ok    {cfg}" in out.stdout  # the settings themselves are fine


def test_check_files_a_setting_typo_under_config_with_a_suggestion(
        opencast_simulator: OpencastSimulator, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, opencast_simulator, agents=[agent(
        "room-s", [{"name": "cam", "driver": "testsrc", "settings": {"widht": 640}}])])
    out = run("check", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 2, out.stdout
    assert ("config      FAIL  agents[0].inputs[0].settings.widht (agent 'room-s', input 'cam'):"
            " unknown key; did you mean 'width'?") in out.stdout
    assert "config      ok" not in out.stdout
    assert "plugins     ok" in out.stdout and "plugins     FAIL" not in out.stdout


def test_run_refuses_to_start_without_a_plugin_module_the_config_names(tmp_path: Path) -> None:
    (tmp_path / "gst_plugin.py").write_text(BROKEN_PLUGIN)
    cfg = write_config(tmp_path, NO_CORE, extra={"plugins": {"modules": ["gst_plugin"]}},
                       agents=[agent("room-r")])
    out = run("run", "-c", str(cfg), "--no-reload", cwd=tmp_path)  # would run until killed
    assert out.returncode == 2, out.stderr
    assert (f"ocframe: {cfg}: invalid configuration\n  plugins.modules[0]: plugin module"
            " 'gst_plugin' failed to load: cannot be imported") in out.stderr
    assert "libgstreamer-1.0.so.0" in out.stderr


HOOK_PLUGIN = '''
from ocframe import hookimpl


@hookimpl
def ocframe_pre_ingest(package):
    pass


@hookimpl
def ocframe_capabilities(agent, inputs):
    return {}


def ocframe_state_change(change):  # @hookimpl forgotten
    pass
'''


def test_plugins_lists_each_plugins_hooks_and_warns_of_undecorated_ones(tmp_path: Path) -> None:
    (tmp_path / "journal_plugin.py").write_text(HOOK_PLUGIN)
    cfg = write_config(tmp_path, NO_CORE, extra={"plugins": {"modules": ["journal_plugin"]}},
                       agents=[agent("room-j")])
    out = run("plugins", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = next(i for i, x in enumerate(lines) if x.startswith("  journal_plugin "))
    assert "config: journal_plugin" in lines[at]
    assert lines[at + 1].split() == ["hooks:", "ocframe_capabilities,", "ocframe_pre_ingest"]
    warning = next(x for x in lines if "journal_plugin:ocframe_state_change" in x)
    assert "no @hookimpl" in warning and "never called" in warning


class CoverSheet:
    """A pre_ingest plugin as an integrator writes one: a catalog and an attachment."""

    @hookimpl
    def ocframe_pre_ingest(self, package: IngestPackage, workdir: Path) -> None:
        notes = workdir / "notes.xml"
        notes.write_text("<notes>" + "n" * 300 + "</notes>")
        cover = workdir / "cover.png"
        cover.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 1000)
        package.catalogs.append(Track(notes, "notes/episode", "text/xml"))
        package.attachments.append(Track(cover, "cover/episode", "image/png"))


def test_recordings_show_lists_the_catalogs_and_attachments_pre_ingest_added(
        opencast_simulator: OpencastSimulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-r")])
    uid = sim.add_event(agent="room-r", start=soon(1), end=soon(3))
    with InProcessAgent(cfg, plugins=[CoverSheet()]):
        assert sim.wait_for_ingest(uid, timeout=60)
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=20)
    assert cli.main(["recordings", "-c", str(cfg), "show", uid]) == 0
    out = capsys.readouterr().out
    package = out[out.index("package (after the pre_ingest hooks):"):out.index("uploads:")]
    lines = [x.split() for x in package.splitlines()[1:]]
    # kind, flavor, mime type, path in the recording's directory, size
    cover = ["attachment", "cover/episode", "image/png", "ingest/cover.png", "(1008", "bytes)"]
    assert cover in lines
    assert ["catalog", "notes/episode", "text/xml", "ingest/notes.xml", "(315", "bytes)"] in lines
    assert any(x[0] == "track" for x in lines)  # the recorded media, too

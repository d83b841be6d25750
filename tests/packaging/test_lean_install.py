"""A production install carries no test server.

The kernel, one driver (ipcam) and the default ingest method are built from
these sources and installed, non-editable, into a fresh virtual environment,
as an operator would: no simulator, no werkzeug, no pyftpdlib come along,
yet `ocframe plugins` finds what was installed and `ocframe run` registers
with a core (the simulator, running in this test's environment) and stops
cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import venv
from collections.abc import Callable
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import agent, write_config

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = {
    "ocframe": REPO,
    "ocframe-driver-ipcam": REPO / "drivers" / "ipcam",
    "ocframe-ingest-multirequest": REPO / "plugins" / "ingest-multirequest",
}
TEST_ONLY = {"werkzeug", "pyftpdlib", "ocframe-simulator"}
# Not part of any of the three distributions (the kernel's sources are the
# repository root, beside everything else).
TOP_LEVEL_SKIP = {".git", ".venv", "build", "dist", "tests", "drivers", "plugins", "bench",
                  "docs", "contrib", "scripts", ".pytest_cache", ".ruff_cache", "var"}

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(600)]


def _ignore(top: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        if Path(directory) == top:
            skip |= TOP_LEVEL_SKIP.intersection(names)
        return skip

    return ignore


def _clean_env() -> dict[str, str]:
    # Nothing from this environment may leak into the lean one's imports.
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=_clean_env(), timeout=timeout)


def _install(root: Path) -> Path:
    """A fresh venv with the three distributions; returns its bin directory."""
    # Built from copies: setuptools builds in the source tree, and a build/
    # left there from earlier would put modules deleted since into the wheel.
    sources = []
    for name, path in DISTRIBUTIONS.items():
        copy = root / "src" / name
        shutil.copytree(path, copy, ignore=_ignore(path))
        sources.append(copy)
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    python = bin_dir / "python"
    # Building in the venv itself (no isolated build env per distribution)
    # saves most of the time; pip's configuration and cache are the usual ones.
    out = _run(python, "-m", "pip", "install", "-q", "setuptools>=68", cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr
    out = _run(python, "-m", "pip", "install", "-q", "--no-build-isolation", *sources,
               cwd=root, timeout=500)
    assert out.returncode == 0, out.stderr
    return bin_dir


def test_production_install_is_lean_and_runs(
        tmp_path: Path, opencast_simulator: OpencastSimulator) -> None:
    bin_dir = _install(tmp_path)

    out = _run(bin_dir / "python", "-m", "pip", "list", "--format=json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(out.stdout)}
    assert set(DISTRIBUTIONS) <= installed
    assert not installed & TEST_ONLY, f"test-only packages installed: {installed & TEST_ONLY}"

    out = _run(bin_dir / "python", "-c", "import ocframe_simulator", cwd=tmp_path)
    assert out.returncode != 0 and "No module named 'ocframe_simulator'" in out.stderr

    out = _run(bin_dir / "ocframe", "plugins", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    drivers, _, rest = out.stdout.partition("ingest methods:")
    assert "ipcam" in drivers and "multirequest" in rest.partition("plugins:")[0]
    assert "problems:" not in out.stdout

    out = _run(bin_dir / "ocframe", "demo", cwd=tmp_path)
    assert out.returncode == 2 and "pip install ocframe-simulator" in out.stderr

    camera = {"name": "cam", "driver": "ipcam", "flavor": "presenter/source",
              "settings": {"url": "rtsp://127.0.0.1:9/none"}}
    cfg = write_config(tmp_path / "agent", opencast_simulator,
                       agents=[agent("lean-room", [camera])])
    log_path = tmp_path / "agent.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(bin_dir / "ocframe"), "run", "-c", str(cfg)],
                                stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                                env=_clean_env(), start_new_session=True)
    try:
        registered = opencast_simulator.wait_for(
            lambda: opencast_simulator.agent_state("lean-room") == "idle", timeout=60)
        assert registered, log_path.read_text(errors="replace")
        assert opencast_simulator.wait_for(
            lambda: opencast_simulator.capabilities("lean-room").get("capture.device.names")
            == "cam", timeout=30), log_path.read_text(errors="replace")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

"""``ocframe new-driver`` makes a package that works unchanged: it installs
(a real, non-editable install into a fresh virtual environment beside the
kernel), ``ocframe plugins`` lists it, its own tests (the conformance kit)
pass, and an agent configured with it records and ingests into the simulator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.cli import main
from ocframe.testing.harness import agent, soon, write_config
from ocframe.testing.media import decode

pytestmark = [pytest.mark.packaging, pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


def test_name_is_checked_and_nothing_is_overwritten(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new-driver", "Acme Cam", "--dir", str(tmp_path)]) == 2
    assert "lower-case letters" in capsys.readouterr().err
    assert main(["new-driver", "acme", "--dir", str(tmp_path)]) == 0
    assert main(["new-driver", "acme", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


class Venv:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.bin = path / "bin"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["UV_PYTHON_DOWNLOADS"] = "never"
        self.uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")

    def run(self, *argv: str | Path, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"{argv}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def create(self) -> None:
        if self.uv:
            self.run(self.uv, "venv", "-q", "--python", sys.executable, self.path)
        else:
            self.run(sys.executable, "-m", "venv", self.path)

    def install(self, *targets: str | Path) -> None:
        if self.uv:
            self.run(self.uv, "pip", "install", "-q", "--python", self.bin / "python", *targets,
                     timeout=900)
        else:
            self.run(self.bin / "python", "-m", "pip", "install", "-q", *targets, timeout=1800)


def test_generated_driver_installs_passes_the_kit_and_records(
        tmp_path: Path, opencast_simulator: OpencastSimulator) -> None:
    venv = Venv(tmp_path / "venv")
    venv.create()
    venv.install(ROOT, ROOT / "plugins" / "ingest-multirequest")
    # The installed ocframe (a wheel, not this checkout) carries its templates.
    venv.run(venv.bin / "ocframe", "new-driver", "acme-cam", "--dir", tmp_path)
    package = tmp_path / "ocframe-driver-acme-cam"

    # Lint-clean as generated (an integrator's CI would run a linter first).
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff:
        lint = subprocess.run([ruff, "check", "--isolated", "--select", "E,F,W,I,B,UP",
                               "--line-length", "100", str(package)],
                              capture_output=True, text=True, check=False)
        assert lint.returncode == 0, lint.stdout

    venv.install(f"{package}[test]")

    listed = venv.run(venv.bin / "ocframe", "plugins").stdout
    assert any(line.split()[:2] == ["acme-cam", "ocframe-driver-acme-cam"]
               for line in listed.splitlines()), listed

    # Its own tests, unchanged: the conformance kit and the command test.
    tests = venv.run(venv.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     cwd=package, timeout=600)
    assert "6 passed" in tests.stdout, tests.stdout
    # The kit's pytest plugin (ocframe's pytest11 entry point) marks its checks.
    kit = venv.run(venv.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "--strict-markers", "-m", "conformance", cwd=package, timeout=600)
    assert "5 passed, 1 deselected" in kit.stdout, kit.stdout

    # A real agent with the new driver records and ingests.
    sim = opencast_simulator
    config = write_config(tmp_path / "agent", sim, agents=[agent("room-1", inputs=[
        {"name": "presenter", "driver": "acme-cam", "flavor": "presenter/source",
         "settings": {"input": "testsrc2=size=320x180:rate=15"}},
    ])])
    uid = sim.add_event(agent="room-1", start=soon(2), end=soon(6), title="New driver")
    log = config.parent / "agent.log"
    with log.open("wb") as out:
        agent_process = subprocess.Popen([venv.bin / "ocframe", "run", "-c", config],
                                         stdout=out, stderr=subprocess.STDOUT, env=venv.env)
    try:
        ingest = sim.wait_for_ingest(uid, timeout=90)
        assert ingest is not None, log.read_text(errors="replace")[-3000:]
    finally:
        agent_process.terminate()
        agent_process.wait(30)
    (track,) = ingest.tracks
    assert track.flavor == "presenter/source" and track.mimetype == "video/x-matroska"
    assert track.path is not None and decode(track.path) == {"video", "audio"}

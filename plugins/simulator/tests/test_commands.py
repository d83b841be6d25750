"""What the distribution contributes besides the simulator: `ocframe demo` (the
README's first command, reached through the kernel's CLI), `python -m
ocframe_simulator`, and a pytest plugin that costs nothing at start-up."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests


@pytest.mark.e2e
def test_ocframe_demo_records_and_ingests(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ocframe.cli", "demo", "--seconds", "3", "--lead", "3",
         "--keep", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=240,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "core: agent registered" in out.stdout
    assert "demo succeeded" in out.stdout
    assert "<mediapackage" in out.stdout


def test_ocframe_demo_reports_a_bad_method_like_the_kernel(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ocframe.cli", "demo", "--method", "no-such-method",
         "--keep", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("ocframe: ") and "unknown ingest 'no-such-method'" in out.stderr


def _ignore_sigint() -> None:
    # As a script's background job starts it: SIGINT inherited as ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_python_m_runs_the_simulator_and_stops_on_a_signal(signum: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ocframe_simulator", "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, text=True, preexec_fn=_ignore_sigint)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Opencast simulator listening on http://127.0.0.1:")
        url = line.split()[4]
        answer = requests.get(f"{url}/info/me.json", auth=("admin", "opencast"), timeout=10)
        assert answer.status_code == 200
    finally:
        proc.send_signal(signum)
        try:
            rest, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert rest.splitlines()[-1] == "stopping", rest


def test_pytest_start_up_imports_no_server_code() -> None:
    # What pytest does at start-up: load every pytest11 plugin.
    code = ("import sys, ocframe_simulator.pytest_plugin; "
            "print(sorted(m for m in sys.modules if m.startswith('werkzeug') "
            "or m in ('ocframe_simulator.simulator', 'ocframe_simulator.server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"

"""ocframe.testing's old simulator names: deprecated, still working, and a clear
error where ocframe-simulator is not installed."""

from __future__ import annotations

import importlib
import subprocess
import sys

import ocframe_simulator
import pytest

import ocframe.testing

MOVED = ["FAULT_KINDS", "CalendarRequest", "Element", "FaultHandle", "Ingest",
         "OpencastSimulator", "RequestLog", "ScheduledEvent"]


@pytest.mark.parametrize("name", MOVED)
def test_old_name_warns_and_is_the_simulators(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"ocframe.testing.{name} .*ocframe_simulator"):
        value = getattr(ocframe.testing, name)
    assert value is getattr(ocframe_simulator, name)


def test_from_import_still_works() -> None:
    with pytest.warns(DeprecationWarning):
        from ocframe.testing import OpencastSimulator
    with OpencastSimulator() as sim:
        assert sim.url.startswith("http://127.0.0.1:")


def test_without_the_simulator_the_error_names_the_distribution(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ocframe_simulator", None)  # as if not installed
    with pytest.warns(DeprecationWarning), pytest.raises(ImportError, match="ocframe-simulator"):
        from ocframe.testing import OpencastSimulator  # noqa: F401


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError):
        ocframe.testing.NoSuchThing  # noqa: B018
    assert importlib.import_module("ocframe.testing.harness").write_config


def test_kernel_helpers_import_no_simulator() -> None:
    code = ("import sys, ocframe.testing, ocframe.testing.harness, ocframe.testing.drivers, "
            "ocframe.testing.media; "
            "print([m for m in sys.modules if m.startswith(('ocframe_simulator', 'werkzeug'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_python_m_ocframe_testing_still_runs_the_simulator() -> None:
    out = subprocess.run([sys.executable, "-m", "ocframe.testing", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--schedule" in out.stdout
    assert "deprecated" in out.stderr and "ocframe_simulator" in out.stderr

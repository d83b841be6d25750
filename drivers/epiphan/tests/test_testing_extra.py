"""werkzeug is the [testing] extra: production installs leave it out, so the
driver must work without it and the emulator must say what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

INSTALL = "pip install 'ocframe-driver-epiphan[testing]'"


def without_extra(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where werkzeug cannot be imported."""
    prelude = "import sys\nsys.modules['werkzeug'] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def test_driver_loads_without_the_extra() -> None:
    out = without_extra("""
        from importlib.metadata import entry_points
        drivers = {ep.name: ep for ep in entry_points(group="ocframe.drivers")}
        print(drivers["epiphan"].load().__name__)
        import ocframe_driver_epiphan.testing  # light: the emulator loads on first use
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EpiphanDriver"]


def test_emulator_command_names_the_extra() -> None:
    out = without_extra("""
        from ocframe.cli import main
        sys.exit(main(["pearl-emulator", "--port", "0"]))
    """)
    assert out.returncode == 2, out.stderr
    assert INSTALL in out.stderr


def test_emulator_import_names_the_extra() -> None:
    out = without_extra("""
        try:
            from ocframe_driver_epiphan.testing import PearlEmulator
        except ImportError as exc:
            print(exc)
    """)
    assert out.returncode == 0, out.stderr
    assert INSTALL in out.stdout

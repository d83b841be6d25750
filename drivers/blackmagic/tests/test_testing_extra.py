"""pyftpdlib is the [testing] extra: production installs leave it out, so the
drivers must work without it and the emulator must say what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

INSTALL = "pip install 'ocframe-driver-blackmagic[testing]'"


def without_extra(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where pyftpdlib cannot be imported."""
    prelude = "import sys\nsys.modules['pyftpdlib'] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def test_drivers_load_without_the_extra() -> None:
    out = without_extra("""
        from importlib.metadata import entry_points
        drivers = {ep.name: ep for ep in entry_points(group="ocframe.drivers")}
        print(drivers["hyperdeck"].load().__name__, drivers["decklink"].load().__name__)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["HyperDeckDriver", "DeckLinkDriver"]


def test_emulator_command_names_the_extra() -> None:
    out = without_extra("""
        from ocframe.cli import main
        sys.exit(main(["hyperdeck-emulator", "--port", "0", "--ftp-port", "0"]))
    """)
    assert out.returncode == 2, out.stderr
    assert INSTALL in out.stderr and "--no-ftp" in out.stderr


def test_emulator_without_ftp_needs_no_extra() -> None:
    out = without_extra("""
        from ocframe_driver_blackmagic.testing import HyperDeckEmulator
        with HyperDeckEmulator(port=0, ftp_port=None) as deck:
            print(deck.port > 0)
        try:
            HyperDeckEmulator(port=0, ftp_port=0).start()
        except ImportError as exc:
            print(exc)
    """)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "True"
    assert INSTALL in second

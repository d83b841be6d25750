"""Testing an Epiphan setup without a Pearl: the Pearl emulator (:mod:`.pearl`).

The emulator needs werkzeug, the driver's ``[testing]`` extra
(``pip install 'ocframe-driver-epiphan[testing]'``); the driver does not. So
this package imports the emulator only when one of its names is used, and
``ocframe pearl-emulator`` says what to install when the extra is missing.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pearl import FAULT_KINDS, ArchiveEntry, Faults, InputInfo, PearlEmulator, Recorder

__all__ = [
    "FAULT_KINDS",
    "ArchiveEntry",
    "Faults",
    "InputInfo",
    "PearlEmulator",
    "Recorder",
    "main",
]

INSTALL_TESTING = "pip install 'ocframe-driver-epiphan[testing]'"
_EXTRA_MODULES = {"werkzeug"}


class MissingExtra(ImportError):
    """The emulator's dependencies (the ``[testing]`` extra) are not installed."""


def _pearl() -> ModuleType:
    try:
        from . import pearl
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in _EXTRA_MODULES:
            raise
        raise MissingExtra(
            f"the Pearl emulator needs {missing}, which is not installed: {INSTALL_TESTING}"
        ) from exc
    return pearl


def __getattr__(name: str) -> Any:
    if name in __all__ and name != "main":
        return getattr(_pearl(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """``ocframe pearl-emulator`` and ``python -m ocframe_driver_epiphan.testing``."""
    try:
        pearl = _pearl()
    except MissingExtra as exc:
        print(f"pearl-emulator: {exc}", file=sys.stderr)
        return 2
    result: int = pearl.main(argv)
    return result

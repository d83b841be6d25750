"""The ``command`` driver: any capture a site can describe as a command line.

See README.md for the settings and placeholders; ``ocframe import-pyca``
(:mod:`ocframe_driver_command.pyca`) turns a pyCA configuration into an
ocframe one that uses this driver.
"""

from __future__ import annotations

from .driver import CommandLineCapture, CommandLineDriver, CommandSettings, OutputFile
from .placeholders import FIELDS

__all__ = [
    "FIELDS",
    "CommandLineCapture",
    "CommandLineDriver",
    "CommandSettings",
    "OutputFile",
]

"""Exceptions that cross the boundary between the kernel and plugins.

Drivers and plugins raise these to tell the kernel *what kind* of failure
happened; the kernel decides what to report to the core and whether to retry.
"""

from __future__ import annotations


class OcframeError(Exception):
    """Base of every error ocframe raises on purpose."""


class ConfigError(OcframeError):
    """The configuration is invalid. The message names the file, key and reason."""


class PluginError(OcframeError):
    """A plugin could not be loaded or declared something wrong."""


class CaptureError(OcframeError):
    """A capture could not start or failed while running.

    ``permanent`` faults (hardware gone, misconfiguration) set the agent state
    to ``error`` as the Opencast guide asks; temporary ones leave it ``idle``.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class IngestVeto(OcframeError):
    """Raised by a ``pre_ingest`` hook to refuse an upload, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IngestError(OcframeError):
    """An upload failed. ``retryable`` says whether trying again later may help."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class CoreError(OcframeError):
    """The Opencast core answered something we cannot use, or not at all."""

    def __init__(self, reason: str, *, status: int | None = None, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retryable = retryable


class AuthError(CoreError):
    """Authentication or authorisation failed (401, 403, or a redirect to the login page)."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason, status=status, retryable=False)

__all__ = [
    "AuthError",
    "CaptureError",
    "ConfigError",
    "CoreError",
    "IngestError",
    "IngestVeto",
    "OcframeError",
    "PluginError",
]

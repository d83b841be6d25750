"""Failures talking to a Pearl, before the driver turns them into ``CaptureError``."""

from __future__ import annotations


class PearlError(Exception):
    """The Pearl could not be reached or refused a request.

    ``status`` is the HTTP status (``None`` when there was no answer at all).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def auth_failed(self) -> bool:
        return self.status == 401

    @property
    def transient(self) -> bool:
        """Worth retrying: no answer, or the device said it is busy."""
        return self.status is None or self.status in (502, 503, 504)


class DownloadError(PearlError):
    """A file could not be fetched completely within the allowed attempts."""

"""Settings of a ``driver = "epiphan"`` input (validated from the agent config)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from ocframe import DriverSettings


class EpiphanSettings(DriverSettings):
    """One Pearl recorder (REST API v2.0) or channel (legacy CGI)."""

    url: str = Field(description="Base URL of the Pearl, e.g. https://pearl-101.example.edu")
    user: str = Field("admin", description="HTTP user on the Pearl")
    password: SecretStr = Field(
        SecretStr(""), description='Write a reference: password = "${PEARL_PASSWORD}"'
    )
    verify_tls: bool = Field(True, description="Check the Pearl's HTTPS certificate")
    ca_bundle: Path | None = Field(None, description="CA file for a self-signed Pearl certificate")
    mode: Literal["rest", "legacy"] = Field(
        "rest", description="rest: REST API v2.0; legacy: the CGI API and automatic upload",
    )
    recorder: str = Field("1", description="REST: recorder id (1, m1) or name (HDMI-A)")
    channel: str = Field(
        "1", pattern=r"^m?\d+$", description="legacy: channel number, m1 for a multi-source one"
    )
    upload_dir: Path | None = Field(
        None, description="legacy: directory the Pearl's automatic upload writes into"
    )
    upload_pattern: str = Field("*", description="legacy: glob of uploaded media files")
    upload_stable_seconds: float = Field(
        5.0, gt=0, description="legacy: an upload is done when unchanged this long"
    )
    upload_timeout: float = Field(600.0, gt=0, description="legacy: wait this long for uploads")
    keep_uploads: bool = Field(True, description="legacy: leave the files in upload_dir")
    request_timeout: float = Field(10.0, gt=0, description="seconds per HTTP request")
    poll_interval: float = Field(1.0, gt=0, description="seconds between status polls")
    transition_poll_interval: float = Field(
        0.1, gt=0, description="seconds between status polls while a start or stop is pending"
    )
    start_timeout: float = Field(30.0, gt=0, description="until the recorder reports started")
    stop_timeout: float = Field(30.0, gt=0, description="until the recorder reports stopped")
    start_retries: int = Field(5, ge=0, description="retries of a start answered 503/busy")
    start_retry_backoff: float = Field(
        0.25, ge=0,
        description="seconds before the first retry of a start; doubled for each next one,"
        " up to retry_backoff",
    )
    retry_backoff: float = Field(2.0, ge=0, description="seconds between retries")

    def start_retry_delay(self, retry: int) -> float:
        """Seconds before start retry number ``retry`` (1, 2, ...): sub-second
        at first, since every second waited is a second of lecture missing."""
        return min(self.retry_backoff, self.start_retry_backoff * 2 ** (retry - 1))
    archive_timeout: float = Field(
        300.0, gt=0, description="REST: wait this long for files to finish after stop"
    )
    archive_page_size: int = Field(
        100, ge=1, le=1000, description="REST: entries per archive page",
    )
    download_retries: int = Field(5, ge=0, description="failed download attempts allowed per file")
    download_chunk_size: int = Field(
        64 * 1024, ge=1024, description="bytes per network read; a cut loses at most one"
    )
    clock_tolerance: float = Field(
        5.0, ge=0, description="allowed difference between the Pearl's clock and ours"
    )
    capabilities_ttl: float = Field(300.0, ge=0, description="cache device facts this long")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be http(s)://host[:port]")
        if parts.username or parts.password:
            # Credentials in a URL end up in logs and error messages.
            raise ValueError("put credentials in user/password, not in the url")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_mode(self) -> EpiphanSettings:
        if self.mode == "legacy" and self.upload_dir is None:
            raise ValueError("mode = 'legacy' needs upload_dir (where the Pearl uploads files)")
        return self

    def verify(self) -> bool | str:
        """The ``verify`` argument for requests."""
        if not self.verify_tls:
            return False
        return str(self.ca_bundle) if self.ca_bundle else True

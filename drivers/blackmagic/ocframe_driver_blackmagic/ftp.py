"""Fetching a clip from a deck's FTP server (stdlib ftplib), size-checked and resumable."""

from __future__ import annotations

import ftplib
import logging
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FtpSource:
    host: str
    port: int
    user: str
    password: str
    timeout: float


def fetch(
    source: FtpSource,
    remote: str,
    dest: Path,
    *,
    attempts: int = 3,
    delay: float = 1.0,
    logger: logging.Logger | None = None,
) -> int:
    """Download ``remote`` to ``dest``; returns its size.

    The size is compared with the server's ``SIZE``; a failed attempt is
    resumed (``REST``) from what already arrived. Raises ``OSError`` or
    ``ftplib.Error`` after the last attempt.
    """
    log = logger or logging.getLogger("ocframe.hyperdeck.ftp")
    partial = dest.with_name(dest.name + ".part")
    last: Exception | None = None
    for attempt in range(1, max(1, attempts) + 1):
        try:
            size = _fetch_once(source, remote, partial)
            partial.replace(dest)
            return size
        except (OSError, EOFError, ftplib.Error) as exc:
            last = exc
            log.warning("FTP download of %s failed (attempt %d/%d): %s",
                        remote, attempt, attempts, exc)  # fmt: skip
            if attempt < attempts:
                time.sleep(delay)
    assert last is not None
    raise last


def _fetch_once(source: FtpSource, remote: str, partial: Path) -> int:
    with ftplib.FTP(timeout=source.timeout) as ftp:
        ftp.connect(source.host, source.port)
        ftp.login(source.user, source.password)
        ftp.voidcmd("TYPE I")
        expected = ftp.size(remote)
        offset = partial.stat().st_size if partial.exists() else 0
        if expected is not None and offset > expected:
            offset = 0  # a stale partial from another file: start again
        with partial.open("ab" if offset else "wb") as out:
            ftp.retrbinary(f"RETR {remote}", out.write, blocksize=1 << 16, rest=offset or None)
        got = partial.stat().st_size
        if expected is not None and got != expected:
            raise OSError(f"{remote}: received {got} bytes, server says {expected}")
        return got


def check_login(source: FtpSource) -> str:
    """Log in and out; returns the server's welcome line."""
    with ftplib.FTP(timeout=source.timeout) as ftp:
        welcome = ftp.connect(source.host, source.port)
        ftp.login(source.user, source.password)
        return welcome

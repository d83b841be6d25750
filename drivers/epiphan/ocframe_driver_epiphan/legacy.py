"""The Pearl's legacy CGI API and the upload directory its files arrive in.

Older firmware has no file listing: recordings are pushed by the Pearl's
automatic upload (FTP/SFTP/CIFS) into a directory the agent can read. We find
ours there as new files that appeared after the capture started and wait
until their size stops changing (the upload writes them in place).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import requests

from .errors import PearlError

UNKNOWN = "Unknown parameter"
# Names uploaders use while a transfer is in progress.
_TEMP_SUFFIXES = (".part", ".tmp", ".filepart", ".partial", ".crdownload")


class LegacyClient:
    """``/admin/channel<N>/get_params.cgi`` and ``set_params.cgi`` of one channel."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        user: str,
        password: str,
        verify: bool | str = True,
        timeout: float = 10.0,
    ) -> None:
        self.base = url.rstrip("/")
        self.channel = channel
        self.timeout = timeout
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.verify = verify
        self._user = user

    def close(self) -> None:
        self.session.close()

    def _call(self, script: str, query: str, timeout: float | None) -> dict[str, str]:
        url = f"{self.base}/admin/channel{self.channel}/{script}?{query}"
        try:
            response = self.session.get(url, timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            raise PearlError(f"Pearl at {self.base} unreachable: {exc}") from None
        if response.status_code == 401:
            raise PearlError(
                f"Pearl at {self.base} rejected the credentials of user {self._user!r} (HTTP 401)",
                401,
            )
        if response.status_code == 404:
            raise PearlError(f"Pearl at {self.base} has no channel {self.channel!r}", 404)
        if response.status_code >= 400:
            raise PearlError(
                f"Pearl {script} on channel {self.channel}: HTTP {response.status_code}",
                response.status_code,
            )
        values: dict[str, str] = {}
        for line in response.text.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        unknown = [k for k, v in values.items() if UNKNOWN in v]
        if unknown or (UNKNOWN in response.text and not values):
            raise PearlError(
                f"Pearl channel {self.channel}: unknown parameter {', '.join(unknown) or '?'}",
                400,
            )
        return values

    def get(self, *keys: str, timeout: float | None = None) -> dict[str, str]:
        query = "&".join(requests.utils.quote(k, safe="") for k in keys)
        return self._call("get_params.cgi", query, timeout)

    def set(self, **params: str) -> dict[str, str]:
        query = "&".join(
            f"{requests.utils.quote(k, safe='')}={requests.utils.quote(v, safe='')}"
            for k, v in params.items()
        )
        return self._call("set_params.cgi", query, None)

    def recording(self, *, timeout: float | None = None) -> bool:
        return self.get("rec_enabled", timeout=timeout).get("rec_enabled", "") == "on"


@dataclass(frozen=True)
class FileState:
    size: int
    mtime: float


def scan(directory: Path, pattern: str) -> dict[Path, FileState]:
    """Regular files under ``directory`` matching ``pattern`` (recursive), no temp files."""
    found: dict[Path, FileState] = {}
    if not directory.is_dir():
        return found
    for path in directory.rglob(pattern):
        name = path.name
        if name.startswith(".") or name.lower().endswith(_TEMP_SUFFIXES):
            continue
        try:
            st = path.stat()
        except OSError:
            continue  # vanished or unreadable while we looked
        if path.is_file():
            found[path] = FileState(st.st_size, st.st_mtime)
    return found


def wait_for_uploads(
    directory: Path,
    pattern: str,
    *,
    since: float,
    exclude: Iterable[Path],
    stable_for: float,
    timeout: float,
    poll: float = 0.5,
    logger: logging.Logger | None = None,
) -> list[Path]:
    """New files (not in ``exclude``, mtime >= ``since``) once none has changed
    for ``stable_for`` seconds; ``[]`` if none arrived within ``timeout``."""
    log = logger or logging.getLogger("ocframe_driver_epiphan")
    excluded = set(exclude)
    deadline = time.monotonic() + timeout
    last: dict[Path, FileState] = {}
    changed_at = time.monotonic()
    while True:
        now = time.monotonic()
        current = {
            p: s
            for p, s in scan(directory, pattern).items()
            if p not in excluded and s.mtime >= since
        }
        if current != last:
            last = current
            changed_at = now
        elif (
            current and now - changed_at >= stable_for and all(s.size > 0 for s in current.values())
        ):
            return sorted(current)
        if now >= deadline:
            if current:
                log.warning(
                    "upload of %s still changing at the deadline", ", ".join(map(str, current))
                )
                return sorted(current)
            return []
        time.sleep(poll)

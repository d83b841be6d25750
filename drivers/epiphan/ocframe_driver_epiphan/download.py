"""Downloading one file from a device, in constant memory, surviving cuts.

The file is streamed into ``<dest>.part``; when the connection breaks, the
next attempt asks for the rest with ``Range`` and appends if the device
answers ``206``, or starts over if it answers ``200`` (firmware without
range support). Only a byte count equal to the announced size counts as
done; then the part file is renamed into place.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import requests

from .errors import DownloadError


def download_file(
    session: requests.Session,
    url: str,
    dest: Path,
    *,
    expected_size: int,
    retries: int = 5,
    backoff: float = 1.0,
    chunk_size: int = 64 * 1024,
    timeout: float = 30.0,
    logger: logging.Logger | None = None,
) -> int:
    """Fetch ``url`` into ``dest``; return the byte count (== ``expected_size``)."""
    log = logger or logging.getLogger("ocframe_driver_epiphan")
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    have = 0
    failures = 0
    last_problem = ""
    while True:
        # Byte counts must be those of the file, not of a compressed transfer.
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
                if response.status_code == 401:
                    raise DownloadError(f"{dest.name}: credentials rejected (HTTP 401)")
                if response.status_code == 416 and have == expected_size:
                    pass  # we had everything already
                elif response.status_code == 206 and have:
                    log.info("%s: resuming at byte %d", dest.name, have)
                    if not _range_starts_at(response, have):
                        raise _Restart("device answered a different range")
                    have = _copy(response, part, "ab", chunk_size, have)
                elif response.status_code == 200:
                    if have:
                        log.info("%s: device ignores Range; downloading again", dest.name)
                    have = _copy(response, part, "wb", chunk_size, 0)
                else:
                    raise _Problem(f"HTTP {response.status_code}")
        except _Restart as exc:
            last_problem = str(exc)
            part.unlink(missing_ok=True)
            have = 0
        except (_Problem, requests.RequestException) as exc:
            last_problem = str(exc)
            have = part.stat().st_size if part.exists() else 0
        if have == expected_size:
            part.replace(dest)
            return have
        if have > expected_size:
            last_problem = f"got {have} bytes, more than the announced {expected_size}"
            part.unlink(missing_ok=True)
            have = 0
        elif not last_problem:
            last_problem = f"connection ended after {have} of {expected_size} bytes"
        failures += 1
        if failures > retries:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{dest.name}: incomplete after {failures} attempts "
                f"({have} of {expected_size} bytes): {last_problem}"
            )
        log.warning(
            "%s: download interrupted at %d of %d bytes (%s); retrying",
            dest.name,
            have,
            expected_size,
            last_problem,
        )
        last_problem = ""
        time.sleep(backoff)


class _Problem(Exception):
    pass


class _Restart(Exception):
    pass


def _range_starts_at(response: requests.Response, offset: int) -> bool:
    content_range = response.headers.get("Content-Range", "")
    # "bytes 1000-1999/2000"
    try:
        unit, _, spec = content_range.partition(" ")
        first = int(spec.split("-", 1)[0])
    except ValueError:
        return False
    return unit == "bytes" and first == offset


def _copy(response: requests.Response, part: Path, mode: str, chunk_size: int, have: int) -> int:
    with part.open(mode) as out:
        try:
            for chunk in response.iter_content(chunk_size):
                out.write(chunk)
                have += len(chunk)
        finally:
            out.flush()
    return have

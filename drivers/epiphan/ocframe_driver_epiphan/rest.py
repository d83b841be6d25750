"""A small client for the Pearl REST API v2.0 (``/api/v2.0``).

It knows the envelope (``{"status": "ok", "result": ...}``), turns every
failure into a :class:`PearlError` with the HTTP status, and never puts the
password anywhere but the ``Authorization`` header (so no URL, log line or
exception text carries it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests

from .download import download_file
from .errors import PearlError

API = "/api/v2.0"
STATES = ("disabled", "starting", "started", "stopped", "error")


def parse_created(text: str) -> datetime:
    """``2024-12-11T17:32:30-0500`` (the archive's ``created``) as an aware datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


class PearlClient:
    """One HTTP session to one Pearl."""

    def __init__(
        self,
        url: str,
        *,
        user: str,
        password: str,
        verify: bool | str = True,
        timeout: float = 10.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.base = url.rstrip("/")
        self.timeout = timeout
        self.log = logger or logging.getLogger("ocframe_driver_epiphan")
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.session.verify = verify
        self._user = user
        self._skew: float = 0.0

    def clock_skew(self) -> float:
        """Seconds the Pearl's clock is ahead of ours, from the ``Date`` header
        of its answers; 0 unless clearly off (the header has 1 s resolution)."""
        return self._skew

    def _note_date(self, response: requests.Response) -> None:
        header = response.headers.get("Date")
        if not header:
            return
        try:
            device = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return
        offset = device + 0.5 - time.time()  # +0.5: the header is truncated
        self._skew = offset if abs(offset) > 1.5 else 0.0

    def close(self) -> None:
        self.session.close()

    def _url(self, path: str) -> str:
        return f"{self.base}{API}{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; raise :class:`PearlError` unless it answers 2xx."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self._url(path), **kwargs)
        except requests.RequestException as exc:
            # requests' messages name the URL, never the credentials.
            raise PearlError(f"Pearl at {self.base} unreachable: {exc}") from None
        self._note_date(response)
        if response.status_code == 401:
            response.close()
            raise PearlError(
                f"Pearl at {self.base} rejected the credentials of user {self._user!r} (HTTP 401)",
                401,
            )
        if response.status_code >= 400:
            message = _error_message(response)
            response.close()
            raise PearlError(
                f"Pearl {method} {path}: HTTP {response.status_code} {message}",
                response.status_code,
            )
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The ``result`` of a JSON envelope."""
        response = self.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise PearlError(f"Pearl {method} {path}: answer is not JSON") from None
        if not isinstance(body, dict) or body.get("status") != "ok":
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise PearlError(f"Pearl {method} {path}: {message or body!r}", response.status_code)
        return body.get("result")

    # -- routes ----------------------------------------------------------------

    def recorders(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/recorders"))

    def status(self, rid: str, *, timeout: float | None = None) -> dict[str, Any]:
        result = self.call("GET", f"/recorders/{rid}/status", timeout=timeout or self.timeout)
        if not isinstance(result, dict) or "state" not in result:
            raise PearlError(f"Pearl status of recorder {rid}: unexpected answer {result!r}")
        return result

    def control(self, rid: str, action: str) -> None:
        self.call("POST", f"/recorders/{rid}/control/{action}")

    def inputs(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/inputs"))

    def firmware(self) -> dict[str, Any]:
        return dict(self.call("GET", "/system/firmware"))

    def archive_ids(self, rid: str, *, page_size: int = 100) -> set[str]:
        return {str(e.get("id")) for e in self.archive(rid, page_size=page_size)}

    def archive(self, rid: str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every archive entry of ``rid``, page by page."""
        offset = 0
        while True:
            page = self.call(
                "GET",
                f"/recorders/{rid}/archive/files",
                params={"from": offset, "limit": page_size},
            )
            if not isinstance(page, list):
                raise PearlError(f"Pearl archive of recorder {rid}: unexpected answer")
            yield from page
            if len(page) < page_size:
                return
            offset += len(page)

    def download(
        self,
        rid: str,
        fid: str,
        dest: Path,
        *,
        size: int,
        retries: int,
        backoff: float,
        chunk_size: int,
    ) -> int:
        return download_file(
            self.session,
            self._url(f"/recorders/{rid}/archive/files/{requests.utils.quote(fid, safe='')}"),
            dest,
            expected_size=size,
            retries=retries,
            backoff=backoff,
            chunk_size=chunk_size,
            timeout=self.timeout,
            logger=self.log,
        )


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict):
        return str(body.get("message", ""))
    return ""

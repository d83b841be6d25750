"""Test helpers: agents with the web page against the simulator, and the
page's API as a same-origin browser calls it. Tests only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import requests

from ocframe.testing.harness import InProcessAgent, agent, testsrc_input, write_config

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


class Page:
    """The running page's API, as a same-origin browser would call it."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.auth = auth
        self._token: str | None = None

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url + path, timeout=10, **kw)

    def json(self, path: str) -> Any:
        response = self.get(path)
        response.raise_for_status()
        return response.json()

    def token(self) -> str:
        if self._token is None:
            self._token = self.json("/api/v1/session")["csrf_token"]
        return self._token

    def post(self, path: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, token: bool = True) -> requests.Response:
        h = {"Origin": self.url, "Sec-Fetch-Site": "same-origin"}
        if token:
            h["X-CSRF-Token"] = self.token()
        h.update(headers or {})
        return self.http.post(self.url + path, json=body or {}, headers=h, timeout=10)

    def status(self) -> dict[str, Any]:
        return self.json("/api/v1/status")

    def agent(self, name: str) -> dict[str, Any]:
        return next(a for a in self.status()["agents"] if a["name"] == name)


def web_config(tmp_path: Path, sim: Any, name: str = "room-web",
               web: dict[str, Any] | None = None, inputs: list[dict[str, Any]] | None = None,
               **agent_extra: Any) -> Path:
    inputs = inputs or [testsrc_input("presenter", width=320, height=180, rate=10,
                                      preview_interval=1)]
    return write_config(tmp_path, sim, agents=[agent(name, inputs, **agent_extra)],
                        extra={"plugins": {"settings": {"web": {"port": 0, "refresh": 1,
                                                                **(web or {})}}}})


@contextmanager
def running_page(cfg: Path, auth: tuple[str, str] | None = None
                 ) -> Iterator[tuple[InProcessAgent, Page]]:
    with InProcessAgent(cfg) as running:
        url_file = running.service.config.storage.directory / "web.url"
        url = url_file.read_text().strip()
        yield running, Page(url, auth)

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests
from ocframe_simulator import OpencastSimulator

CA = ("ca", "ca-secret")
ADMIN = ("admin", "opencast")


@pytest.fixture
def sim(opencast_simulator: OpencastSimulator) -> OpencastSimulator:
    return opencast_simulator


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def get(sim: OpencastSimulator) -> Callable[..., requests.Response]:
    def do(path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("auth", CA)
        return requests.get(sim.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    return do


@pytest.fixture
def post(sim: OpencastSimulator) -> Callable[..., requests.Response]:
    def do(path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("auth", CA)
        return requests.post(sim.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    return do


def hours(n: float) -> timedelta:
    return timedelta(hours=n)

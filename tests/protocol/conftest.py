from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.config import CoreConfig
from ocframe.opencast.client import OpencastClient


def make_client(sim: OpencastSimulator, user: str = "ca", password: str = "ca-secret",
                auth: str = "basic", **extra: object) -> OpencastClient:
    core = CoreConfig(url=sim.url, user=user, password=password, auth=auth,  # type: ignore[arg-type]
                      timeout=5.0, **extra)  # type: ignore[arg-type]
    return OpencastClient(core)


@pytest.fixture
def client(opencast_simulator: OpencastSimulator) -> Iterator[OpencastClient]:
    c = make_client(opencast_simulator)
    yield c
    c.close()


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    return tmp_path / "agent"

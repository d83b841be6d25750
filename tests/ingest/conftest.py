"""Strategy jobs against the simulator without an agent (ocframe.testing.ingest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.testing.ingest import StrategyRunner


@pytest.fixture
def runner(opencast_simulator: OpencastSimulator, tmp_path: Path) -> Iterator[StrategyRunner]:
    with StrategyRunner(opencast_simulator, tmp_path) as r:
        yield r

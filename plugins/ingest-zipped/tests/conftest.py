"""Run the strategy against the simulator without an agent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocframe.testing.ingest import StrategyRunner


@pytest.fixture
def runner(opencast_simulator: Any, tmp_path: Path) -> Iterator[StrategyRunner]:
    with StrategyRunner(opencast_simulator, tmp_path) as r:
        yield r

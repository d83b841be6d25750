"""pytest fixtures for the Opencast simulator (registered as the ``ocframe`` pytest11 plugin).

Importing this module has no side effects; servers start only when a fixture is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .simulator import OpencastSimulator

SimulatorFactory = Callable[..., OpencastSimulator]


@pytest.fixture
def opencast_simulator_factory() -> Iterator[SimulatorFactory]:
    """Call with OpencastSimulator's keyword arguments; returns a started simulator."""
    started: list[OpencastSimulator] = []

    def make(**kwargs: Any) -> OpencastSimulator:
        sim = OpencastSimulator(**kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in reversed(started):
        sim.stop()


@pytest.fixture
def opencast_simulator(opencast_simulator_factory: SimulatorFactory) -> OpencastSimulator:
    """A started simulator with default settings, stopped after the test."""
    return opencast_simulator_factory()

"""pytest fixtures for the Opencast simulator (registered as the ``ocframe_simulator``
pytest11 plugin).

pytest imports this module in every run, so it imports no server code: the
simulator is loaded inside the fixtures, when a test asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .simulator import OpencastSimulator

SimulatorFactory = Callable[..., "OpencastSimulator"]


@pytest.fixture
def opencast_simulator_factory() -> Iterator[SimulatorFactory]:
    """Call with OpencastSimulator's keyword arguments; returns a started simulator."""
    from .simulator import OpencastSimulator

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

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_blackmagic.hyperdeck import HyperDeckDriver
from ocframe_driver_blackmagic.testing import HyperDeckEmulator

from ocframe import CaptureContext, InputSpec
from ocframe.testing.drivers import capture_context


@pytest.fixture
def make_deck(tmp_path: Path) -> Iterator[Callable[..., HyperDeckEmulator]]:
    """Start emulated decks on free ports with the given knobs."""
    started: list[HyperDeckEmulator] = []

    def make(**knobs: Any) -> HyperDeckEmulator:
        options: dict[str, Any] = {"video_size": "320x240", "fps": 25}
        options.update(knobs)
        storage = tmp_path / f"deck{len(started)}"
        emulator = HyperDeckEmulator(port=0, ftp_port=0, storage=storage, **options)
        started.append(emulator.start())
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def deck(make_deck: Callable[..., HyperDeckEmulator]) -> HyperDeckEmulator:
    return make_deck()


@pytest.fixture
def make_driver() -> Iterator[Callable[..., HyperDeckDriver]]:
    made: list[HyperDeckDriver] = []

    def make(deck: HyperDeckEmulator, **settings: Any) -> HyperDeckDriver:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": deck.port,
            "ftp_port": deck.ftp_port,
            "reconnect_delay": 0.2,
            "connect_timeout": 2,
            "command_timeout": 2,
        }
        values.update(settings)
        spec = InputSpec(
            name="deck",
            agent="room-101",
            driver="hyperdeck",
            flavor="presenter/source",
            settings=HyperDeckDriver.Settings(**values),
        )
        driver = HyperDeckDriver(spec)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        driver.close()


@pytest.fixture
def make_ctx(tmp_path: Path) -> Callable[..., CaptureContext]:
    def make(
        driver: Any, *, minutes: float = 1, title: str = "Lecture", segment: int = 0
    ) -> CaptureContext:
        return capture_context(driver, tmp_path / f"rec-{segment}", seconds=minutes * 60,
                               segment=segment, title=title, uid="event-1/../x")

    return make

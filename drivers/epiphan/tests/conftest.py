"""Fixtures: an emulated Pearl on loopback and drivers pointed at it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_epiphan import EpiphanDriver
from ocframe_driver_epiphan.testing import PearlEmulator

from ocframe import CaptureContext, Event, InputSpec

PASSWORD = "correct-horse-battery"
FAST: dict[str, Any] = {
    "poll_interval": 0.05,
    "retry_backoff": 0.05,
    "request_timeout": 5.0,
    "start_timeout": 10.0,
    "stop_timeout": 10.0,
    "archive_timeout": 30.0,
    "clock_tolerance": 2.0,
    "upload_stable_seconds": 0.3,
    "upload_timeout": 30.0,
}


@pytest.fixture
def pearl_password() -> str:
    return PASSWORD


@pytest.fixture
def pearl() -> Iterator[PearlEmulator]:
    with PearlEmulator(password=PASSWORD, start_delay=0.2, stop_delay=0.2) as emulator:
        yield emulator


@pytest.fixture
def legacy_pearl(tmp_path: Path) -> Iterator[PearlEmulator]:
    upload = tmp_path / "upload"
    upload.mkdir()
    with PearlEmulator(
        password=PASSWORD,
        start_delay=0.2,
        stop_delay=0.2,
        upload_dir=upload,
        upload_chunk_delay=0.01,
    ) as emulator:
        yield emulator


DriverFactory = Callable[..., EpiphanDriver]


@pytest.fixture
def make_driver() -> DriverFactory:
    def make(emulator: PearlEmulator, **settings: Any) -> EpiphanDriver:
        values = {"url": emulator.url, "password": PASSWORD, **FAST, **settings}
        spec = InputSpec(
            name="presenter",
            agent="room-101",
            driver="epiphan",
            flavor="presenter/source",
            settings=EpiphanDriver.Settings(**values),
        )
        return EpiphanDriver(spec)

    return make


ContextFactory = Callable[[EpiphanDriver], CaptureContext]


@pytest.fixture
def make_ctx(tmp_path: Path) -> ContextFactory:
    count = 0

    def make(driver: EpiphanDriver, segment: int = 0) -> CaptureContext:
        nonlocal count
        count += 1
        now = datetime.now(UTC)
        event = Event(uid=f"event-{count}", start=now, end=now + timedelta(seconds=5))
        directory = tmp_path / f"rec-{count}"
        directory.mkdir()
        return CaptureContext(
            recording_id=event.uid,
            event=event,
            input=driver.spec,
            directory=directory,
            segment=segment,
            scheduled_end=event.end,
            logger=logging.getLogger(f"test.epiphan.{count}"),
        )

    return make

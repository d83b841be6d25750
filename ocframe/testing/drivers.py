"""Helpers for testing a driver through its public contract, without an agent."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..driver import Driver
from ..ffmpeg import find_ffmpeg, find_ffprobe
from ..model import CaptureContext, Event, InputSpec


def input_spec(driver_cls: type[Driver], settings: dict[str, Any] | None = None, *,
               name: str = "cam", agent: str = "test-agent", driver: str = "test",
               flavor: str = "presenter/source") -> InputSpec:
    """An :class:`InputSpec` with validated settings and the usual tools."""
    probe = find_ffprobe()
    tools = {"ffmpeg": find_ffmpeg(), **({"ffprobe": probe} if probe else {})}
    return InputSpec(name, agent, driver, flavor, driver_cls.Settings(**(settings or {})), tools)


def capture_context(driver: Driver, directory: Path, *, seconds: float = 5.0, segment: int = 0,
                    title: str = "test event", uid: str = "event-1",
                    recording_id: str = "rec-1") -> CaptureContext:
    """A :class:`CaptureContext` for an event starting now and lasting ``seconds``."""
    now = datetime.now(UTC)
    event = Event(uid=uid, start=now, end=now + timedelta(seconds=seconds), title=title)
    directory.mkdir(parents=True, exist_ok=True)
    return CaptureContext(
        recording_id=recording_id,
        event=event,
        input=driver.spec,
        directory=directory,
        segment=segment,
        scheduled_end=event.end,
        logger=logging.getLogger(f"test.{driver.spec.driver}"),
    )

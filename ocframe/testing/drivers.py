"""Helpers for testing a driver through its public contract, without an agent."""

from __future__ import annotations

import logging
import re
import time
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


_MEDIA_TIME = re.compile(r"time=(\d+):(\d+):(\d+\.\d+)")


def wait_media_time(handle: Any, seconds: float, deadline: float = 30.0) -> None:
    """Wait until a command capture's ffmpeg reports ``seconds`` of media
    written (its ``time=`` progress), instead of sleeping a guessed time."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        ended = handle.poll()
        if ended is not None:
            raise AssertionError(f"capture ended: {ended}")
        for line in reversed(handle.process.tail(5)):
            found = _MEDIA_TIME.findall(line)
            if found:
                h, m, s = found[-1]
                if int(h) * 3600 + int(m) * 60 + float(s) >= seconds:
                    return
                break
        time.sleep(0.2)
    raise AssertionError("ffmpeg made no progress before the deadline")


def wait_previews(handle: Any, count: int = 2, deadline: float = 30.0) -> list[Any]:
    """Wait until a capture's :meth:`preview` showed ``count`` different
    stills (different times and bytes); returns those previews, the last with
    an audio level if the input has audio. Fails naming what was missing."""
    seen: list[Any] = []
    shown: list[bytes] = []
    end = time.monotonic() + deadline
    while time.monotonic() < end and len(seen) < count:
        ended = handle.poll()
        if ended is not None:
            tail = handle.process.tail(15) if hasattr(handle, "process") else []
            raise AssertionError(f"capture ended: {ended}\n" + "\n".join(tail))
        preview = handle.preview()
        if preview is None:
            raise AssertionError("the capture offers no preview")
        if preview.image is not None and (not seen or preview.image_time != seen[-1].image_time):
            data = preview.image.read_bytes()
            if data[:2] == b"\xff\xd8" and data not in shown:
                seen.append(preview)
                shown.append(data)
        time.sleep(0.2)
    if len(seen) < count:
        raise AssertionError(f"only {len(seen)} of {count} different preview stills came")
    return seen

"""The driver in legacy mode: CGI ``rec_enabled`` and files from the upload directory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from ocframe_driver_epiphan import EpiphanDriver
from ocframe_driver_epiphan.testing import PearlEmulator

from ocframe import CaptureContext, CaptureError

DriverFactory = Callable[..., EpiphanDriver]
ContextFactory = Callable[..., CaptureContext]


def legacy(make_driver: DriverFactory, pearl: PearlEmulator, **settings: object) -> EpiphanDriver:
    channel = str(settings.get("channel", "1"))
    upload_dir = pearl.upload_dir(channel)
    upload_dir.mkdir(parents=True, exist_ok=True)
    return make_driver(pearl, mode="legacy", upload_dir=upload_dir, **settings)


def test_legacy_happy_path(
    legacy_pearl: PearlEmulator, make_driver: DriverFactory, make_ctx: ContextFactory
) -> None:
    driver = legacy(make_driver, legacy_pearl)
    (legacy_pearl.upload_dir("1") / "older-lecture.mp4").write_bytes(b"uploaded last week")
    ctx = make_ctx(driver)
    handle = driver.start(ctx)
    assert legacy_pearl.state("1") in ("starting", "started")
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        assert handle.poll() is None
        time.sleep(0.1)
    handle.stop()
    tracks = handle.tracks()
    produced = legacy_pearl.wait_finished("1")
    assert len(tracks) == 1
    assert tracks[0].path.parent == ctx.directory
    assert tracks[0].path.read_bytes() == produced[0].path.read_bytes()  # type: ignore[union-attr]
    assert tracks[0].flavor == "presenter/source"
    assert tracks[0].mimetype == "video/mp4"
    assert legacy_pearl.request_counts.get("start", 0) == 0  # no REST used


def test_legacy_multichannel(
    legacy_pearl: PearlEmulator, make_driver: DriverFactory, make_ctx: ContextFactory
) -> None:
    driver = legacy(make_driver, legacy_pearl, channel="m1")
    handle = driver.start(make_ctx(driver))
    assert legacy_pearl.state("m1") in ("starting", "started")
    handle.stop()
    produced = legacy_pearl.wait_finished("m1")
    assert handle.tracks()[0].path.read_bytes() == produced[0].path.read_bytes()  # type: ignore[union-attr]


def test_legacy_stop_on_device_is_reported(
    legacy_pearl: PearlEmulator, make_driver: DriverFactory, make_ctx: ContextFactory
) -> None:
    driver = legacy(make_driver, legacy_pearl)
    handle = driver.start(make_ctx(driver))
    legacy_pearl.set_error("1", "Input lost")
    deadline = time.monotonic() + 10
    reason = None
    while reason is None and time.monotonic() < deadline:
        reason = handle.poll()
        time.sleep(0.05)
    assert reason is not None and "stopped recording" in reason


def test_legacy_unknown_channel(
    legacy_pearl: PearlEmulator, make_driver: DriverFactory, make_ctx: ContextFactory
) -> None:
    driver = legacy(make_driver, legacy_pearl, channel="7")
    assert not driver.check()[0].ok
    with pytest.raises(CaptureError, match="no channel") as info:
        driver.start(make_ctx(driver))
    assert info.value.permanent


def test_legacy_wrong_password(
    legacy_pearl: PearlEmulator,
    make_driver: DriverFactory,
    make_ctx: ContextFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "not-the-legacy-password"
    driver = legacy(make_driver, legacy_pearl, password=secret)
    with caplog.at_level(logging.DEBUG):
        results = driver.check()
        with pytest.raises(CaptureError, match="credentials") as info:
            driver.start(make_ctx(driver))
    assert not results[0].ok
    assert info.value.permanent
    assert secret not in caplog.text and secret not in str(info.value)


def test_legacy_no_upload_is_a_capture_error(
    legacy_pearl: PearlEmulator, make_driver: DriverFactory, make_ctx: ContextFactory, tmp_path
) -> None:
    elsewhere = tmp_path / "nothing-arrives-here"
    elsewhere.mkdir()
    driver = make_driver(legacy_pearl, mode="legacy", upload_dir=elsewhere, upload_timeout=1.0)
    handle = driver.start(make_ctx(driver))
    handle.stop()
    with pytest.raises(CaptureError, match="no upload"):
        handle.tracks()

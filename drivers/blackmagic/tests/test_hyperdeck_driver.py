"""The hyperdeck driver against the emulator: real TCP, real FTP, real files."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
from ocframe_driver_blackmagic.hyperdeck import HyperDeckDriver
from ocframe_driver_blackmagic.testing import HyperDeckEmulator

from ocframe import CaptureContext, CaptureError

MakeDriver = Callable[..., HyperDeckDriver]
MakeCtx = Callable[..., CaptureContext]


def record_until(deck: HyperDeckEmulator, seconds: float) -> None:
    """Let the deck record for about ``seconds`` of its own timecode."""
    assert deck.wait_for(lambda d: d.status == "record", 5)
    time.sleep(seconds)


def assert_playable(path: Path) -> None:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    assert sorted(out.stdout.split()) == ["audio", "video"]


def test_record_stop_fetch_byte_identical(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    driver = make_driver(deck)
    ctx = make_ctx(driver, title="Intro to <Physics>; rm -rf /")
    driver.prepare(ctx)
    handle = driver.start(ctx)
    assert handle.poll() is None
    record_until(deck, 1.0)
    assert handle.poll() is None
    handle.stop()
    assert deck.status == "stopped"
    tracks = handle.tracks()
    assert len(tracks) == 1
    track = tracks[0]
    (original,) = deck.clip_files()
    assert track.path.parent == ctx.directory
    assert track.path.read_bytes() == original.read_bytes()
    assert (track.flavor, track.mimetype) == ("presenter/source", "video/quicktime")
    assert track.path.name == "event-1_.._x-0.mov"  # safe_name of the UID, never raw text
    assert_playable(track.path)


def test_clip_name_template_is_sanitised(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    driver = make_driver(deck, clip_name="{title}_{input}_{segment}")
    ctx = make_ctx(driver, title="../../etc/passwd & co", segment=2)
    name = driver.clip_name(ctx)
    assert "/" not in name and " " not in name and not name.startswith(".")
    assert name.endswith("_deck_2")
    with pytest.raises(pydantic.ValidationError):
        HyperDeckDriver.Settings(host="h", clip_name="{title.__class__}")
    with pytest.raises(pydantic.ValidationError):
        HyperDeckDriver.Settings(host="h", colour="red")


def test_same_clip_name_twice_fetches_the_new_clip(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    driver = make_driver(deck)
    fetched = []
    for _ in range(2):
        ctx = make_ctx(driver)
        handle = driver.start(ctx)
        record_until(deck, 0.3)
        handle.stop()
        fetched.append(handle.tracks()[0].path.name)
    assert fetched == ["event-1_.._x-0.mov", "event-1_.._x-0_0001.mov"]


def test_no_disk_fails_before_start(
    make_deck: Callable[..., HyperDeckEmulator], make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    deck = make_deck(no_disk=True)
    driver = make_driver(deck)
    ctx = make_ctx(driver)
    with pytest.raises(CaptureError, match="no disk in slot 1") as err:
        driver.prepare(ctx)
    assert err.value.permanent is False
    with pytest.raises(CaptureError, match="no disk"):
        driver.start(ctx)
    assert deck.status != "record"
    checks = {c.name: c for c in driver.check()}
    assert checks["reachable"].ok and not checks["disk"].ok


def test_disk_full_and_too_little_time(
    make_deck: Callable[..., HyperDeckEmulator], make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    deck = make_deck(recording_time=120)
    driver = make_driver(deck)
    with pytest.raises(CaptureError, match="120 s of recording time left"):
        driver.prepare(make_ctx(driver, minutes=60))
    driver.prepare(make_ctx(driver, minutes=0.5))
    deck.set_disk_full(True)
    with pytest.raises(CaptureError, match="full"):
        driver.prepare(make_ctx(driver))
    with pytest.raises(CaptureError, match="disk is full"):
        driver.start(make_ctx(driver))


def test_connection_dropped_mid_recording(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    driver = make_driver(deck)
    ctx = make_ctx(driver)
    handle = driver.start(ctx)
    record_until(deck, 0.5)
    before = deck.accepted_connections
    assert deck.drop_connections() == 1
    assert deck.connected_clients() == 0
    # The next polls reconnect and find the deck still recording.
    deadline = time.monotonic() + 30
    while deck.accepted_connections == before and time.monotonic() < deadline:
        assert handle.poll() is None
        time.sleep(0.1)
    assert deck.accepted_connections == before + 1, "the driver never reconnected"
    assert deck.connected_clients() == 1
    assert handle.poll() is None
    assert deck.status == "record"
    handle.stop()
    assert deck.status == "stopped"
    track = handle.tracks()[0]
    assert track.path.read_bytes() == deck.clip_files()[0].read_bytes()


def test_connection_dropped_and_stop_reconnects(
    make_deck: Callable[..., HyperDeckEmulator], make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    deck = make_deck(drop_after=0.3)  # the knob a user would use from the command line
    driver = make_driver(deck)
    handle = driver.start(make_ctx(driver))
    assert deck.wait_for(lambda d: d.connected_clients() == 0, 5)
    handle.stop()  # no poll in between: stop itself must reconnect
    assert deck.status == "stopped"
    assert handle.tracks()[0].path.stat().st_size > 0


def test_recording_stopped_on_the_deck_is_reported(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    driver = make_driver(deck)
    handle = driver.start(make_ctx(driver))
    record_until(deck, 0.3)
    deck.set_disk(False)  # the disk is pulled: the deck stops recording
    deadline = time.monotonic() + 5
    reason = None
    while reason is None and time.monotonic() < deadline:
        reason = handle.poll()
        time.sleep(0.05)
    assert reason is not None and "stopped unexpectedly" in reason


def test_second_controller_rejected_with_clear_error(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    other = socket.create_connection(("127.0.0.1", deck.port))
    try:
        assert deck.wait_for(lambda d: d.connected_clients() == 1, 5)
        driver = make_driver(deck, reconnect_attempts=2)
        with pytest.raises(CaptureError, match="another controller") as err:
            driver.prepare(make_ctx(driver))
        assert err.value.permanent is False
        checks = driver.check()
        assert not checks[0].ok and "another controller" in checks[0].detail
    finally:
        other.close()


def test_remote_disabled_until_enabled(
    deck: HyperDeckEmulator, make_driver: MakeDriver, make_ctx: MakeCtx
) -> None:
    assert deck.remote_enabled is False
    driver = make_driver(deck)
    checks = {c.name: c.ok for c in driver.check()}
    assert checks == {"reachable": True, "remote control": True, "disk": True, "ftp": True}
    assert deck.remote_enabled is True  # the driver enabled it


def test_capabilities_from_device_info(deck: HyperDeckEmulator, make_driver: MakeDriver) -> None:
    driver = make_driver(deck)
    caps = driver.capabilities()
    assert caps["model"] == "HyperDeck Studio Mini"
    assert caps["protocol"] == "1.11"
    assert caps["flavor"] == "presenter/source"
    assert driver.capabilities() == caps


def test_unreachable_deck(make_driver: MakeDriver, make_ctx: MakeCtx, deck: Any) -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    driver = make_driver(deck, port=port, reconnect_attempts=1)
    with pytest.raises(CaptureError, match="cannot connect"):
        driver.prepare(make_ctx(driver))
    assert driver.capabilities() == {"flavor": "presenter/source", "driver": "hyperdeck"}

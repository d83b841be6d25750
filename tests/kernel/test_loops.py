"""The supervised-loop primitive every long-lived kernel thread runs on."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from ocframe.loops import LoopSet, SupervisedLoop


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_an_unexpected_error_is_logged_once_counted_and_the_loop_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []
    failing = threading.Event()
    failing.set()

    def step() -> None:
        rounds.append(1)
        if failing.is_set():
            raise OverflowError("date value out of range")
        time.sleep(0.01)

    loop = SupervisedLoop("calendar-x", step, stall_after=5.0, backoff_initial=0.01,
                          backoff_max=0.02)
    loops = LoopSet()
    loops.add(loop)
    with caplog.at_level(logging.INFO, logger="ocframe.loops"):
        loop.start()
        assert wait_until(lambda: loop.health().failures >= 5)
        health = loop.health()
        assert health.state == "failing"
        assert health.last_error == "OverflowError: date value out of range"
        assert loops.alive()  # turning, so the watchdog is fed ...
        assert loops.alive().failing == ["calendar-x"]  # ... but the loop is named
        failing.clear()
        assert wait_until(lambda: loop.health().state == "ok")
        loop.stop()
    errors = [r for r in caplog.records if "calendar-x" in r.getMessage()
              and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "Traceback" in errors[0].getMessage()  # where it came from, once
    assert loop.error_counts()["OverflowError: date value out of range"] >= 5
    assert any("running again" in r.getMessage() for r in caplog.records)
    assert loop.health().state == "stopped" and loop.health().last_round is not None


def test_each_distinct_error_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    errors = [KeyError("a"), ValueError("b"), KeyError("a"), ValueError("b"), KeyError("a")]
    done = threading.Event()

    def step() -> None:
        if errors:
            raise errors.pop(0)
        done.set()
        time.sleep(0.01)

    loop = SupervisedLoop("ingest-0", step, stall_after=5.0, backoff_initial=0.001)
    with caplog.at_level(logging.ERROR, logger="ocframe.loops"):
        loop.start()
        assert done.wait(10)
        loop.stop()
    logged = [r.getMessage().splitlines()[0] for r in caplog.records]
    assert logged == ["ingest-0: unexpected error (the loop goes on): KeyError: 'a'",
                      "ingest-0: unexpected error (the loop goes on): ValueError: b"]
    assert loop.health().errors_total == 5


def test_backoff_doubles_and_is_bounded() -> None:
    loop = SupervisedLoop("x", lambda: None, stall_after=1.0, backoff_initial=0.5,
                          backoff_max=3.0)
    delays = [loop._failed(RuntimeError("e")) for _ in range(6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_a_hanging_round_makes_the_process_not_alive_and_names_the_loop() -> None:
    release = threading.Event()

    def step() -> None:
        release.wait(10)

    hung = SupervisedLoop("reporter-room-1", step, stall_after=0.2, wake=release.set)
    fine = SupervisedLoop("scheduler-room-1", lambda: time.sleep(0.02), stall_after=5.0)
    loops = LoopSet()
    loops.add(hung)
    loops.add(fine)
    hung.start()
    fine.start()
    try:
        assert wait_until(lambda: not loops.alive())
        assert loops.alive().stalled == ["reporter-room-1"]
        assert {h.name: h.state for h in loops.health()} == {
            "reporter-room-1": "stalled", "scheduler-room-1": "ok"}
        release.set()
        assert wait_until(lambda: bool(loops.alive()))
    finally:
        hung.stop()
        fine.stop()


def test_beat_shows_progress_of_a_long_round() -> None:
    stop = threading.Event()
    loop: SupervisedLoop

    def step() -> None:
        for _ in range(30):
            loop.beat()
            if stop.wait(0.02):
                return

    loop = SupervisedLoop("ingest-1", step, stall_after=0.3, wake=stop.set)
    loop.start()
    try:
        for _ in range(20):
            assert loop.health().state in ("ok", "starting")
            time.sleep(0.03)
    finally:
        loop.stop()


def test_stop_is_prompt_and_a_removed_loop_is_forgotten() -> None:
    wake = threading.Event()
    loop = SupervisedLoop("disk-monitor", lambda: wake.wait(60) and None, stall_after=90.0,
                          wake=wake.set)
    loops = LoopSet()
    loops.add(loop)
    loop.start()
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 2
    assert not loop.thread.is_alive()
    loops.remove(loop)
    assert loops.health() == []


def test_health_file_on_a_read_only_disk_is_a_warning_said_once_not_a_loop_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Found by a loaded full run: the store's disk turned read-only and the
    # health-file loop logged a traceback as an unexpected error every round.
    import tempfile

    from ocframe import health

    monkeypatch.setattr(health, "WRITE_INTERVAL", 0.0)
    target = health.HealthFile(tmp_path / "health.json", LoopSet())
    real_mkstemp = tempfile.mkstemp

    def read_only(*args: object, **kwargs: object) -> object:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(health.tempfile, "mkstemp", read_only)
    with caplog.at_level(logging.INFO, logger="ocframe.health"):
        target._round()
        target._round()
        monkeypatch.setattr(health.tempfile, "mkstemp", real_mkstemp)
        target._round()
    said = [r for r in caplog.records if r.name == "ocframe.health"]
    assert [(r.levelno, "Read-only file system" in r.getMessage()) for r in said] == [
        (logging.WARNING, True), (logging.INFO, False)], [r.getMessage() for r in said]
    assert "written again" in said[1].getMessage()
    assert not any(r.exc_info for r in said)
    assert (tmp_path / "health.json").exists()

"""Launching inputs ahead of their window (issue 12): leads learnt per input
and bounded, launches spread over distinct slots, ``capturing`` announced
at the window, ffmpeg's progress placing media on the wall clock."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ocframe.launches import MAX_SHIFT, SLOT, LaunchPlanner, LeadPolicy
from ocframe.model import Event
from ocframe.process import SupervisedProcess
from ocframe.scheduler import Scheduler


def test_the_lead_is_the_slowest_recent_start_with_a_margin_within_the_bound() -> None:
    policy = LeadPolicy(maximum=10.0, default=2.0)
    assert policy.lead([]) == pytest.approx(3.0)  # never measured: the default
    assert policy.lead([0.4, 1.2, 0.8]) == pytest.approx(1.2 * 1.25 + 0.5)
    assert policy.lead([60.0]) == 10.0  # a camera that once took a minute
    assert LeadPolicy(enabled=False).lead([5.0]) == 0.0


def test_launches_at_the_same_moment_take_distinct_slots_earlier_never_later() -> None:
    planner = LaunchPlanner()
    desired = 1_800_000_000.0
    times = [planner.plan(("room", i), desired) for i in range(50)]
    assert all(t <= desired for t in times)
    assert min(times) >= desired - MAX_SHIFT - SLOT
    slots = {round(t / SLOT) for t in times}
    assert len(slots) == 50  # no two launches in one slot
    # Asked again (every scheduler tick): the same answer, nothing taken twice.
    assert [planner.plan(("room", i), desired) for i in range(50)] == times
    assert len(planner) == 50


def test_beyond_the_spread_launches_share_slots_evenly_and_stay_bounded() -> None:
    planner = LaunchPlanner()
    desired = 1_800_000_000.0
    times = [planner.plan(i, desired) for i in range(200)]
    assert min(times) >= desired - MAX_SHIFT - SLOT
    assert max(times) <= desired
    per_slot = Counter(round(t / SLOT) for t in times)
    assert max(per_slot.values()) - min(per_slot.values()) <= 1  # no pile in one slot


def test_forgotten_launches_free_their_slots() -> None:
    planner = LaunchPlanner()
    first = planner.plan("a", 1000.0)
    planner.forget_before(2000.0)
    assert len(planner) == 0
    assert planner.plan("b", 1000.0) == first


class _Run:
    def __init__(self, event: Event, announce_at: datetime | None) -> None:
        self.event = event
        self.stop_requested = threading.Event()
        self.announce_at = announce_at
        self.announced = threading.Event()

    def set_end(self, end: datetime) -> None:
        pass

    def request_stop(self) -> None:
        self.stop_requested.set()

    def announce(self) -> None:
        self.announce_at = None
        self.announced.set()


def test_a_recording_launched_ahead_is_announced_at_its_window() -> None:
    start = datetime.now(UTC) + timedelta(seconds=1.5)
    event = Event(uid="ev-1", start=start, end=start + timedelta(seconds=30))
    runs: list[_Run] = []

    def begin(ev: Event) -> _Run:
        runs.append(_Run(ev, ev.start))
        return runs[-1]

    scheduler = Scheduler("room", start=begin, is_handled=lambda uid: False, preroll=0,
                          postroll=0, begin_at=lambda ev: ev.start - timedelta(seconds=1.2),
                          max_lead=15)
    scheduler.set_events([event])
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not runs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runs, "never launched"
        launched = datetime.now(UTC)
        assert launched < start - timedelta(seconds=0.5)  # ahead of the window
        assert not runs[0].announced.is_set()
        assert runs[0].announced.wait(10)
        assert datetime.now(UTC) >= start  # told at the window, not before
    finally:
        scheduler.stop()


def test_a_launch_ahead_waits_silently_for_the_running_recording(
        caplog: pytest.LogCaptureFixture) -> None:
    """Back to back: the next event's early launch must not cut the running
    recording short, nor be reported as an overlap."""
    now = datetime.now(UTC)
    running = Event(uid="running", start=now - timedelta(seconds=5),
                    end=now + timedelta(seconds=1.0))
    following = Event(uid="next", start=running.end, end=running.end + timedelta(seconds=5))
    started: list[tuple[str, datetime]] = []

    def begin(ev: Event) -> _Run:
        started.append((ev.uid, datetime.now(UTC)))
        return _Run(ev, None)

    scheduler = Scheduler("room", start=begin, is_handled=lambda uid: False, preroll=0,
                          postroll=0, begin_at=lambda ev: ev.start - timedelta(seconds=3),
                          max_lead=15)
    scheduler.set_events([running, following])
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
    assert [uid for uid, _ in started] == ["running", "next"]
    assert started[1][1] >= following.start  # after the running one stopped
    assert "overlaps" not in caplog.text


def test_ffmpeg_progress_places_the_media_on_the_wall_clock() -> None:
    """``time=`` in ffmpeg's progress lines is the media time written: the
    wall clock minus it is where time zero lies."""
    script = ("import sys, time\n"
              "time.sleep(0.3)\n"
              "for i in range(5):\n"
              "    sys.stderr.write(f'frame={i} fps=25 time=00:00:0{i + 2}.00 bitrate=N/A\\r')\n"
              "    sys.stderr.flush(); time.sleep(0.05)\n"
              "time.sleep(30)\n")
    proc = SupervisedProcess([sys.executable, "-c", script], name="fake-ffmpeg")
    before = time.time()
    proc.start()
    try:
        deadline = time.monotonic() + 10
        while proc.media_origin() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        origin = proc.media_origin()
        assert origin is not None
        # Printed about 0.3-0.6 s after the start, claiming 2-6 s of media.
        assert before - 6.5 < origin < before - 1.0, origin - before
        assert proc.launched_at is not None and proc.launched_at >= before
    finally:
        proc.kill()
        proc.exit_info()


def test_after_our_stop_the_origin_is_the_stop_minus_the_last_media_time() -> None:
    """An encoder holds frames back, so early progress lines lag the media;
    the line written after our stop (the encoder flushed) does not."""
    script = ("import signal, sys, time\n"
              "def bye(*_):\n"
              "    sys.stderr.write('frame=99 time=00:00:07.50 bitrate=N/A speed=1x\\n')\n"
              "    sys.stderr.flush(); sys.exit(0)\n"
              "signal.signal(signal.SIGINT, bye)\n"
              "sys.stderr.write('frame=1 time=00:00:00.10 bitrate=N/A\\r'); sys.stderr.flush()\n"
              "time.sleep(30)\n")
    proc = SupervisedProcess([sys.executable, "-c", script], name="fake-encoder",
                             quit_command=None)
    proc.start()
    deadline = time.monotonic() + 10
    while proc.media_origin() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    early = proc.media_origin()
    assert early is not None
    asked = time.time()
    info = proc.stop()
    assert info.stopped_by == "sigint"
    origin = proc.media_origin()
    assert origin is not None and abs(origin - (asked - 7.5)) < 0.5
    assert origin < early  # the early reading lagged

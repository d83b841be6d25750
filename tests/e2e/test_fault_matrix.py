"""The fault matrix (issue 11): whole agents, real ffmpeg, the simulator's faults.

Every case checks the same two things at its end:

- no captured media is lost: what the core received has the MD5 of what was
  recorded (or the recording is still on disk in a state the queue retries);
- every state ends right: in the store, at the core, and the agent's own.

Faults that other tests cover already are not repeated here: a reset in the
middle of a file for every ingest method (tests/ingest/test_e2e_ingest.py), the
core down for a whole event or during a capture (tests/e2e/test_lifecycle.py,
tests/ingest), a restart without network (tests/protocol/test_agent_e2e.py),
a bad calendar answer (ibid.), a kill mid-capture or mid-upload
(tests/e2e/test_lifecycle.py, test_operations.py). docs/reliability.md lists
them all.

Events are two or three seconds long and every wait is for an event, so the
cases run side by side under xdist.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from ocframe_simulator import FaultHandle, OpencastSimulator

from ocframe.model import Event, Track
from ocframe.store import RecordingStore
from ocframe.store_schema import StoreError
from ocframe.testing.harness import (
    AgentProcess,
    InProcessAgent,
    agent,
    covers_window,
    launched_for,
    recorded_for,
    soon,
    write_config,
)
from ocframe.testing.media import duration

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

LIFECYCLE = ("capturing", "capture_finished", "uploading", "upload_finished")
#: Seconds a small request may take: short, so a "slow" fault is a timeout.
CORE_TIMEOUT = 1.0


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def config(tmp: Path, sim: OpencastSimulator, name: str = "room-1", *,
           agent_extra: dict[str, Any] | None = None, **kw: Any) -> Path:
    a = agent(name, calendar={"poll_interval": 0.5}, heartbeat_interval=2.0,
              **(agent_extra or {}))
    # Short backoff: a case waits for the retries, not for the clock.
    extra = {"core": {"timeout": CORE_TIMEOUT},
             "ingest_queue": {"backoff_initial": 0.1, "backoff_max": 0.5}, **kw.pop("extra", {})}
    return write_config(tmp, sim, agents=[a], extra=extra, **kw)


def in_order(history: Sequence[str], expected: Sequence[str] = LIFECYCLE) -> bool:
    """``expected`` is a subsequence of ``history`` (repeats and late
    duplicates in between allowed: a state post that timed out may still
    land after the agent sent it again)."""
    it = iter(history)
    return all(any(s == want for s in it) for want in expected)


def assert_nothing_lost(sim: OpencastSimulator, store: RecordingStore, uid: str) -> None:
    """The core has the recording once, with exactly the bytes on disk."""
    ingest = sim.find_ingest(uid)
    assert ingest is not None, f"{uid} never reached the core"
    assert sim.workflows_started(uid) == 1
    rec = store.get(uid)
    assert rec is not None and rec.package is not None
    on_disk = sorted((t.flavor, md5(t.path)) for t in rec.package.tracks)
    assert sorted((t.flavor, t.md5) for t in ingest.tracks) == on_disk
    segments = store.segments(uid)
    assert segments and all(s.ended is not None for s in segments)
    recorded = [t for s in segments for t in s.tracks]
    if len(recorded) == 1:  # one segment: what the core has is what ffmpeg wrote,
        sent = rec.package.tracks[0].path  # or its stream-copied cut at the window
        if sent != recorded[0].path:  # cut (a full disk may leave it whole)
            assert segments[0].trim_to is not None and sent.parent == rec.directory / "ingest"
            assert duration(sent) <= duration(recorded[0].path)


def assert_states_end_right(sim: OpencastSimulator, store: RecordingStore, uid: str,
                            name: str = "room-1") -> None:
    assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30), \
        sim.recording_state_history(uid)
    rec = store.get(uid)
    assert rec is not None and rec.state == "upload_finished" and rec.error is None
    assert in_order([s for _, s, _ in store.history(uid)])
    assert in_order([s for _, s in sim.recording_state_history(uid)])
    assert sim.wait_for_agent_state(name, "idle", timeout=30)


def assert_states_end_right_after_stop(sim: OpencastSimulator, store: RecordingStore,
                                       uid: str) -> None:
    rec = store.get(uid)
    assert rec is not None and rec.state == "upload_finished" and rec.error is None
    assert in_order([s for _, s, _ in store.history(uid)])
    assert in_order([s for _, s in sim.recording_state_history(uid)])


def assert_healthy(running: InProcessAgent) -> None:
    alive = running.service.alive()
    assert alive and not alive.failing, alive


# -- 500, 503, a reset and a timeout on every endpoint the agent calls --------------

#: One of each, in this order, on the endpoint of the case: the first failing
#: request gets the 500, the next the 503, and so on. A slow answer is a
#: timeout for small requests; uploads wait for it (their read timeout is sized
#: to the body), so it goes last.
def inject_sequence(sim: OpencastSimulator, pattern: str, method: str,
                    reset_after: int) -> list[FaultHandle]:
    return [
        sim.inject_fault(pattern, "status", status=500, times=1, method=method),
        sim.inject_fault(pattern, "status", status=503, times=1, method=method),
        sim.inject_fault(pattern, "reset", after_bytes=reset_after, times=1, method=method),
        sim.inject_fault(pattern, "slow", delay=2 * CORE_TIMEOUT, times=1, method=method),
    ]


#: endpoint -> (path pattern, method, when the faults start, reset after bytes)
ENDPOINTS: dict[str, tuple[str, str, str, int]] = {
    # Asked for capture-admin and the scheduler at start...
    "registry@start": (r"^/services/available", "GET", "start", 0),
    # ...and for ingest before every upload (nothing cached the first time).
    "registry@upload": (r"^/services/available", "GET", "capturing", 0),
    "agent_state": (r"^/capture-admin/agents/[^/]+$", "POST", "start", 0),
    "capabilities": (r"^/capture-admin/agents/[^/]+/configuration$", "POST", "start", 0),
    "recording_state": (r"^/capture-admin/recordings/", "POST", "start", 0),
    # Polls fail while the event records: the recording must not notice.
    "calendar": (r"^/recordings/calendars", "GET", "capturing", 0),
    "createMediaPackage": (r"^/ingest/createMediaPackage", "PUT", "start", 0),
    "addTrack": (r"^/ingest/addTrack$", "POST", "start", 20_000),
    "addCatalog": (r"^/ingest/addCatalog$", "POST", "start", 200),
    "ingest": (r"^/ingest/ingest$", "POST", "start", 0),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_500_503_reset_and_timeout_on_every_endpoint(
        opencast_simulator: OpencastSimulator, tmp_path: Path, endpoint: str) -> None:
    sim = opencast_simulator
    pattern, method, when, reset_after = ENDPOINTS[endpoint]
    cfg = config(tmp_path, sim)
    if endpoint == "addCatalog":  # the calendar's catalogs go in as addCatalog
        cfg = config(tmp_path, sim, agent_extra={"ingest": {
            "method": "multirequest", "legacy_catalogs": True}})
    # Registry faults at start hold up the first calendar for a few seconds.
    lead = 7 if endpoint == "registry@start" else 2
    start, end = soon(lead), soon(lead + 2)
    uid = sim.add_event("room-1", start, end, series_id="series-1")
    faults = inject_sequence(sim, pattern, method, reset_after) if when == "start" else []
    with InProcessAgent(cfg) as running:
        store = running.service.store
        if when == "capturing":
            assert sim.wait_for(lambda: (r := store.get(uid)) is not None
                                and r.state == "capturing", timeout=30)
            faults = inject_sequence(sim, pattern, method, reset_after)
        assert sim.wait_for(lambda: all(f.hits for f in faults), timeout=60), \
            [f.hits for f in faults]
        assert_states_end_right(sim, store, uid)
        assert_nothing_lost(sim, store, uid)
        assert_healthy(running)
        segments = store.segments(uid)
    # Whatever failed, the capture ran once, from start to end, uncut.
    assert len(segments) == 1 and segments[0].error is None
    assert launched_for(start, segments[0].started)
    if endpoint == "addCatalog":
        assert {c.flavor for c in sim.find_ingest(uid).catalogs} == {  # type: ignore[union-attr]
            "dublincore/episode", "dublincore/series"}


# -- credentials ----------------------------------------------------------------------

def test_401_after_a_password_rotation_keeps_the_recording_until_the_secret_is_fixed(
        opencast_simulator: OpencastSimulator, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    cfg = config(tmp_path, sim, user="ca", password="ca-secret")
    uid = sim.add_event("room-1", soon(2), soon(4))
    with InProcessAgent(cfg, reload=True) as running:
        store = running.service.store
        assert sim.wait_for(lambda: (r := store.get(uid)) is not None
                            and r.state == "capturing", timeout=30)
        sim.set_user("ca", "rotated-secret")  # the core's administrator rotates it
        # Every upload attempt is refused; the recording waits, kept and retryable.
        assert sim.wait_for(lambda: len([a for a in store.attempts(uid)
                                         if a["outcome"] == "auth"]) >= 2, timeout=30)
        rec = store.get(uid)
        assert rec is not None and rec.state == "uploading" and rec.directory.is_dir()
        assert store.counted_failures(uid) == 0  # the credentials' fault, not the recording's
        assert all(t.path.stat().st_size > 0 for s in store.segments(uid) for t in s.tracks)
        assert sim.find_ingest(uid) is None
        # A clear error: who was refused, where, and why; never the password.
        refused = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
                   and "'ca' was rejected (401)" in r.getMessage()]
        assert refused, [r.getMessage() for r in caplog.records]
        assert "secret" not in " ".join(refused).replace("secrets", "")
        # The operator puts the new password into the secrets file; the
        # configuration reloads and the upload goes through.
        secrets = tmp_path / "secrets.toml"
        fixed = tmp_path / "secrets.new"
        fixed.write_text('core_password = "rotated-secret"\n')
        fixed.chmod(0o600)
        fixed.replace(secrets)
        assert sim.wait_for_ingest(uid, timeout=30), caplog.text[-3000:]
        assert_states_end_right(sim, store, uid)
        assert_nothing_lost(sim, store, uid)
        assert_healthy(running)


# -- the core away --------------------------------------------------------------------

def until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` (for conditions the simulator cannot signal: it is down)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("when", ["agent_start", "event_start"])
def test_core_down_at_agent_start_or_at_event_start_then_back(
        opencast_simulator: OpencastSimulator, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, when: str) -> None:
    """``agent_start``: a first start with the core away (nothing cached);
    ``event_start``: the core goes away just before the event and is back
    while it records. (Down for a whole event, or from the middle of a
    capture until after an upload failed: tests/e2e/test_lifecycle.py,
    tests/ingest/test_e2e_ingest.py.)"""
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    cfg = config(tmp_path, sim)
    start, end = soon(3), soon(6)
    uid = sim.add_event("room-1", start, end)

    def failed(what: str) -> bool:
        return any(what in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)

    if when == "agent_start":
        sim.go_down()
    with InProcessAgent(cfg) as running:
        store = running.service.store
        scheduler = running.service.agents["room-1"].scheduler
        if when == "agent_start":
            assert until(lambda: failed("calendar:") and failed("cannot report"), 20)
            assert scheduler.events() == []  # nothing to record from, yet
            sim.come_up()
        else:
            assert sim.wait_for(lambda: [e.uid for e in scheduler.events()] == [uid], 15)
            sim.go_down()
            assert until(lambda: (r := store.get(uid)) is not None and r.state == "capturing"
                         and failed("cannot report"), 20)
            sim.come_up()
        assert_states_end_right(sim, store, uid)
        assert_nothing_lost(sim, store, uid)
        assert_healthy(running)
        segments = store.segments(uid)
    assert len(segments) == 1 and segments[0].error is None
    assert launched_for(start, segments[0].started)
    assert sim.capabilities("room-1").get("capture.device.names") == "presenter"


# -- hostile calendars and a schedule that changes ----------------------------------------

BAD_EVENTS = {
    "tokyo-year-1": ("DTSTART;TZID=Asia/Tokyo:00010101T000000", "DTEND:{end}"),
    "backwards": ("DTSTART:{end}", "DTEND:{start}"),
    "zero-length": ("DTSTART:{start}", "DTEND:{start}"),
    "not-a-date": ("DTSTART:tomorrow", "DTEND:{end}"),
    "no-end": ("DTSTART:{start}",),
}


def bad_events(start: str, end: str) -> bytes:
    """Unreadable events that would overlap the good ones, and one without a UID."""
    blocks = ["BEGIN:VEVENT\r\nUID:{}\r\n{}\r\nSUMMARY:bad\r\nLOCATION:room-1\r\nEND:VEVENT"
              .format(uid, "\r\n".join(lines).format(start=start, end=end))
              for uid, lines in BAD_EVENTS.items()]
    blocks.append(f"BEGIN:VEVENT\r\nDTSTART:{start}\r\nDTEND:{end}\r\nEND:VEVENT")
    return ("\r\n".join(blocks) + "\r\n").encode()


def test_bad_events_among_good_ones_cost_only_themselves(
        opencast_simulator: OpencastSimulator, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    sim = opencast_simulator
    t0, t1, t2 = soon(2), soon(4), soon(6)
    first = sim.add_event("room-1", t0, t1, title="first")
    second = sim.add_event("room-1", t1, t2, title="second")
    stamp = "%Y%m%dT%H%M%SZ"
    bad = bad_events(t0.strftime(stamp), t2.strftime(stamp))
    sim.calendar_transform = lambda body: body.replace(b"END:VCALENDAR", bad + b"END:VCALENDAR")
    caplog.set_level(logging.WARNING, logger="ocframe.calendar")
    with InProcessAgent(config(tmp_path, sim)) as running:
        store = running.service.store
        for uid in (first, second):
            assert sim.wait_for_ingest(uid, timeout=60)
            assert_states_end_right(sim, store, uid)
            assert_nothing_lost(sim, store, uid)
        polls = sum(r.path == "/recordings/calendars" for r in sim.requests)
        assert polls >= 3
        assert {r.id for r in store.recordings()} == {first, second}
        assert_healthy(running)
    warned = [r.getMessage() for r in caplog.records]
    for uid in BAD_EVENTS:  # each named once, not once per poll
        assert sum(uid in m for m in warned) == 1, (uid, warned)
    assert sum("has no UID" in m for m in warned) == 1, warned


@pytest.mark.parametrize("change", ["moved", "moved_away", "shortened", "deleted"])
def test_event_moved_shortened_or_deleted_while_recording(
        opencast_simulator: OpencastSimulator, tmp_path: Path, change: str) -> None:
    """A running recording follows a new end (moved a little later: to the
    new end; shortened: it stops then). An event moved to another slot, or
    deleted, while it records is recorded to its end and ingested: the
    calendar's word is not worth a lecture, and the core decides (states of a
    deleted event answer 404, which the agent only logs). Following a move
    away would hold the room until the new end: the next event must record."""
    sim = opencast_simulator
    start, end = soon(2), soon(5)
    uid = sim.add_event("room-1", start, end)
    after = sim.add_event("room-1", end, end + timedelta(seconds=2)) \
        if change == "moved_away" else None
    with InProcessAgent(config(tmp_path, sim)) as running:
        store = running.service.store
        # The core hears "capturing" at the window's start (the capture itself
        # was launched ahead of it): from then on the event is recording.
        assert sim.wait_for_recording_state(uid, "capturing", timeout=30)
        if change == "moved":
            expected_end = end + timedelta(seconds=2)
            sim.update_event(uid, start=start + timedelta(seconds=2), end=expected_end)
        elif change == "moved_away":
            expected_end = end
            sim.update_event(uid, start=start + timedelta(hours=2), end=end + timedelta(hours=2))
        elif change == "shortened":
            expected_end = soon(1)
            sim.update_event(uid, end=expected_end)
        else:
            expected_end = end
            sim.remove_event(uid)
        assert sim.wait_for_ingest(uid, timeout=60)
        assert sim.wait_for(lambda: store.get(uid).state == "upload_finished",  # type: ignore[union-attr]
                            timeout=30)
        assert_nothing_lost(sim, store, uid)
        if change == "deleted":
            assert in_order([s for _, s, _ in store.history(uid)])
            assert sim.wait_for_agent_state("room-1", "idle", timeout=30)
            # The core took no state of an event it no longer has.
            assert {s for _, s in sim.recording_state_history(uid)} <= {"capturing"}
        else:
            assert_states_end_right(sim, store, uid)
        if after is not None:  # the room was free for the next event, on time
            assert sim.wait_for_ingest(after, timeout=60)
            assert_states_end_right(sim, store, after)
            assert_nothing_lost(sim, store, after)
            assert launched_for(end, store.segments(after)[0].started)
        assert_healthy(running)
        (segment,) = store.segments(uid)
        package = store.get(uid).package  # type: ignore[union-attr]
    assert segment.error is None
    assert package is not None
    recorded = duration(package.tracks[0].path)
    assert covers_window(recorded, start, expected_end, 1.5), recorded


# -- disks that fill up or turn read-only ------------------------------------------------

class Mounts:
    """File systems mounted for one test (root only, as in CI) and unmounted after it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.mounted: list[Path] = []

    def mount(self, *args: str, target: Path) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small file system needs root (CI runs as root)")
        target.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount here (a container without CAP_SYS_ADMIN?):"
                        f" {done.stderr.strip()}")
        self.mounted.append(target)
        return target

    def tmpfs(self, target: Path, size: str) -> Path:
        return self.mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", target=target)

    def bind(self, source: Path, target: Path) -> Path:
        source.mkdir(parents=True, exist_ok=True)
        return self.mount("--bind", str(source), target=target)

    def ext4(self, target: Path, size_mib: int = 16) -> Path:
        """A loop-mounted ext4 that turns read-only on an error, like a failing disk."""
        if shutil.which("mkfs.ext4") is None:
            pytest.skip("mkfs.ext4 is not installed (Debian: e2fsprogs)")
        image = self.tmp / f"{target.name}.ext4"
        with image.open("wb") as f:
            f.truncate(size_mib << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
        return self.mount("-o", "loop,errors=remount-ro", str(image), target=target)

    def fail_ext4(self, target: Path) -> None:
        """What the kernel does on an I/O error: the file system goes read-only,
        for open files too."""
        device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(target)],
                                capture_output=True, text=True, check=True).stdout.strip()
        trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
        if not trigger.exists():
            pytest.skip(f"this kernel cannot fail an ext4 on demand ({trigger} is missing)")
        trigger.write_text("ocframe fault matrix\n")

    def repair_ext4(self, target: Path) -> None:
        """What the operator does: unmount, fsck, mount again."""
        image = self.tmp / f"{target.name}.ext4"
        self.unmount(target)
        subprocess.run(["e2fsck", "-f", "-y", str(image)], capture_output=True)
        self.mount("-o", "loop,errors=remount-ro", str(image), target=target)

    def unmount(self, target: Path) -> None:
        # Lazily if a closed agent's last file handle is not gone yet (the
        # file system is read-only: nothing can be lost that way).
        if subprocess.run(["umount", str(target)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(target)], check=True)
        self.mounted.remove(target)

    def unmount_all(self) -> None:
        for target in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(target)], capture_output=True)
        self.mounted.clear()


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[Mounts]:
    m = Mounts(tmp_path)
    try:
        yield m
    finally:
        m.unmount_all()


def fill(directory: Path) -> Path:
    """Write a file until the disk is full."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    assert shutil.disk_usage(directory).free < 65536
    return filler


class KeptFull:
    """A disk kept full: whatever another file frees (a schedule cache's
    checkpoint, a rewritten health file) is taken again at once, so that the
    next write of the store fails however its files move."""

    def __init__(self, directory: Path) -> None:
        self.filler = directory / "filler"
        self._done = threading.Event()
        self._fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._top_up()
        assert shutil.disk_usage(directory).free < 65536
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _top_up(self) -> None:
        for size in (65536, 4096, 512, 1):
            try:
                while os.write(self._fd, b"\0" * size):
                    pass
            except OSError:
                continue

    def _run(self) -> None:
        while not self._done.wait(0.01):
            self._top_up()

    def release(self) -> None:
        self._done.set()
        self._thread.join(5)
        os.close(self._fd)
        self.filler.unlink()


def playable_seconds(path: Path) -> float:
    """Time of the last video packet ffprobe can read (a file cut off by a
    full disk has no duration in its header)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v",
                          "-show_entries", "packet=pts_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, timeout=30).stdout
    times = [float(x) for x in out.split() if x.strip(",").replace(".", "", 1).isdigit()]
    return max(times, default=0.0)


def test_disk_full_during_a_recording_ingests_what_was_written(
        opencast_simulator: OpencastSimulator, tmp_path: Path, mounts: Mounts) -> None:
    """The recordings' disk fills up a few seconds into the event: ffmpeg
    stops with "No space left on device", restarts cannot write either, and
    what was written before is ingested, byte for byte."""
    sim = opencast_simulator
    media = mounts.tmpfs(tmp_path / "var" / "recordings", "192k")
    cfg = config(tmp_path, sim)
    uid = sim.add_event("room-1", soon(2), soon(7))
    with InProcessAgent(cfg) as running:
        store = running.service.store
        assert sim.wait_for_ingest(uid, timeout=60)
        assert_states_end_right(sim, store, uid)
        assert_nothing_lost(sim, store, uid)
        assert_healthy(running)
        segments = store.segments(uid)
    assert shutil.disk_usage(media).free < 64 << 10  # it really was full
    assert "No space left on device" in (segments[0].error or ""), segments[0]
    (track,) = segments[0].tracks
    assert playable_seconds(track.path) >= 1.0  # up to where the disk filled


def test_the_store_disk_full_during_a_recording_is_recovered_once_there_is_space(
        opencast_simulator: OpencastSimulator, tmp_path: Path, mounts: Mounts,
        caplog: pytest.LogCaptureFixture) -> None:
    """The store's disk fills up while a capture runs (the media go to
    another disk): the capture ends on time, the store cannot take its end,
    the agent goes on; once space is freed the recording is finished and
    ingested, without a restart."""
    sim = opencast_simulator
    caplog.set_level(logging.INFO)
    var = mounts.tmpfs(tmp_path / "var", "4m")
    mounts.bind(tmp_path / "media", var / "recordings")
    cfg = config(tmp_path, sim)
    start, end = soon(2), soon(7)
    uid = sim.add_event("room-1", start, end)
    media = tmp_path / "media" / "room-1"
    with InProcessAgent(cfg) as running:
        store = running.service.store
        # Full once the capture runs: its segment is in the store, its file
        # exists, the window has begun (the core heard "capturing"), and the
        # capture has seconds to go (its file may grow only when it ends).
        assert sim.wait_for_recording_state(uid, "capturing", timeout=30)
        assert sim.wait_for(lambda: any(media.glob("*/presenter/*/*.mkv")), 10)
        # The store's write-ahead log reuses its own pages: emptied first, the
        # next write must grow it, and that fails on the full disk.
        with contextlib.closing(sqlite3.connect(var / "recordings.db")) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = KeptFull(var)
        assert sim.wait_for(lambda: "recording store cannot be written" in caplog.text, 30)
        rec = store.get(uid)
        assert rec is not None and rec.state == "capturing"  # kept, to be finished
        assert sim.wait_for_agent_state("room-1", "idle", timeout=15)  # not stuck capturing
        full.release()
        assert sim.wait_for_ingest(uid, timeout=60)
        assert_states_end_right(sim, store, uid)
        assert_nothing_lost(sim, store, uid)
        assert sim.wait_for(lambda: not running.service.alive().failing, timeout=30)
        (segment,) = store.segments(uid)
    assert segment.error == "the store could not be written when the capture ended"
    assert recorded_for(duration(segment.tracks[0].path), start, end, 1.5)


def test_the_store_disk_turned_read_only_keeps_the_recording_and_the_store(
        opencast_simulator: OpencastSimulator, tmp_path: Path, mounts: Mounts) -> None:
    """The store's file system turns read-only during a capture, as the kernel
    does after an I/O error: the capture ends on time and the agent keeps
    running and stops cleanly; a restart on the broken disk is refused with a
    clear error, without touching the store; after the repair the recording
    is ingested. (Processes, so that nothing of the first agent keeps the
    file system busy for the repair.)"""
    sim = opencast_simulator
    var = mounts.ext4(tmp_path / "var")
    mounts.bind(tmp_path / "media", var / "recordings")
    cfg = config(tmp_path, sim)
    start, end = soon(3), soon(6)
    uid = sim.add_event("room-1", start, end)
    with AgentProcess(cfg) as proc:
        assert sim.wait_for_recording_state(uid, "capturing", timeout=30), proc.log()
        mounts.fail_ext4(var)
        assert sim.wait_for(lambda: "recording store cannot be written" in proc.log(), 30)
        assert sim.wait_for_agent_state("room-1", "idle", timeout=15)  # not stuck capturing
        assert proc.stop() == 0, proc.log()
    after = proc.log().split("recording store cannot be written")[-1]
    assert "Traceback" not in after, after
    refused = subprocess.run([sys.executable, "-m", "ocframe.cli", "run", "-c", str(cfg)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "cannot be written (Read-only file system): is its disk full or read-only?" in \
        refused.stdout + refused.stderr, refused
    assert (var / "recordings.db").exists() and not list(var.glob("*.damaged-*"))
    mounts.unmount(var / "recordings")
    mounts.repair_ext4(var)
    mounts.bind(tmp_path / "media", var / "recordings")
    with AgentProcess(cfg) as proc:
        assert sim.wait_for_ingest(uid, timeout=60), proc.log()
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30), proc.log()
    store = RecordingStore(var / "recordings.db")
    assert_states_end_right_after_stop(sim, store, uid)
    assert_nothing_lost(sim, store, uid)
    (segment,) = store.segments(uid)
    store._close_connection()
    assert recorded_for(duration(segment.tracks[0].path), start, end, 1.5)


def test_an_agent_started_on_a_full_store_disk_refuses_and_forgets_nothing(
        opencast_simulator: OpencastSimulator, tmp_path: Path, mounts: Mounts) -> None:
    """A full disk is no damaged store: the agent says what is wrong and
    leaves the store as it is, so the upload waiting in it goes on once there
    is space (it used to be set aside as damaged, and the upload forgotten)."""
    sim = opencast_simulator
    var = mounts.tmpfs(tmp_path / "var", "2m")
    uid = sim.add_event("room-1", soon(-60), soon(-30))
    # A recording the last run could not upload (the core was away).
    store = RecordingStore(var / "recordings.db")
    directory = var / "recordings" / "room-1" / "waiting"
    segment = directory / "presenter" / "segment-000"
    segment.mkdir(parents=True)
    media = segment / "testsrc.mkv"
    media.write_bytes(os.urandom(50_000))
    store.create("room-1", Event(uid, soon(-60), soon(-30), location="room-1"), directory,
                 ["presenter"])
    store.begin_segment(uid, "presenter", 0, segment)
    store.end_segment(uid, "presenter", 0,
                      [Track(media, "presenter/source", "video/x-matroska", (), "presenter", 0)],
                      None)
    store.set_state(uid, "capture_finished")
    store._close_connection()
    filler = fill(var)
    cfg = config(tmp_path, sim)
    with pytest.raises(StoreError, match="full or read-only"):
        InProcessAgent(cfg)
    assert not list(var.glob("recordings.db.damaged-*"))
    filler.unlink()
    with InProcessAgent(cfg) as running:
        store = running.service.store
        assert sim.wait_for_ingest(uid, timeout=30)
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
        assert sim.wait_for(lambda: store.get(uid).state == "upload_finished",  # type: ignore[union-attr]
                            timeout=30)
        assert_nothing_lost(sim, store, uid)
    assert sim.find_ingest(uid).tracks[0].md5 == md5(media)  # type: ignore[union-attr]


# -- killed at every recording state transition --------------------------------------------

@pytest.mark.parametrize("state", ["capturing", "capture_finished", "uploading",
                                   "upload_finished"])
def test_agent_killed_at_every_recording_state_transition(
        opencast_simulator: OpencastSimulator, tmp_path: Path, state: str) -> None:
    """SIGKILL (the agent and its ffmpeg, a power cut as far as processes go)
    just as the core learns of ``state``, then a restart: every recording is
    ingested once, with what was written, and ends ``upload_finished``.

    Uploads are slowed where a state must last: ``uploading`` (the kill comes
    mid-upload) and ``capture_finished`` (a second recording waits behind the
    first one's upload, so it is killed while queued)."""
    sim = opencast_simulator
    slow = state in ("capture_finished", "uploading")
    settings = {"rate_limit": 25_000} if slow else {}
    cfg = config(tmp_path, sim, agent_extra={"ingest": {"method": "multirequest",
                                                        "settings": settings}})
    # Killed while capturing, the restart must come before the end to continue it.
    a_start, a_end = soon(3), soon(9 if state == "capturing" else 6)
    first = sim.add_event("room-1", a_start, a_end, title="first")
    uids = [first]
    if state == "capture_finished":
        uids.append(sim.add_event("room-1", a_end, a_end + timedelta(seconds=2), title="next"))
    target = uids[-1]
    media = tmp_path / "var" / "recordings" / "room-1"

    def recording() -> bool:  # some seconds of the first recording are on disk
        return any(f.stat().st_size > 20_000 for f in media.glob("*/presenter/*/*.mkv"))

    with AgentProcess(cfg) as proc:
        if state == "capturing":
            assert sim.wait_for(lambda: sim.recording_state(target) == state and recording(),
                                timeout=30), proc.log()
        else:
            assert sim.wait_for_recording_state(target, state, timeout=60), proc.log()
        proc.kill()
        if state == "capture_finished":
            assert sim.find_ingest(first) is None  # the first upload was still going
    killed = RecordingStore(tmp_path / "var" / "recordings.db")
    at_kill = {uid: r.state for uid in uids if (r := killed.get(uid)) is not None}
    killed._close_connection()
    assert at_kill[target] == state, at_kill  # the kill came where it was meant to
    cfg = config(tmp_path, sim)  # the slow uplink has served its purpose
    with AgentProcess(cfg) as proc:
        for uid in uids:
            assert sim.wait_for_ingest(uid, timeout=60), proc.log()
            assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30), proc.log()
        if state == "upload_finished":
            # Heard from the new process twice: it had time to upload again, and did not.
            posts = len(sim.agent_state_history("room-1"))
            assert sim.wait_for(lambda: len(sim.agent_state_history("room-1")) >= posts + 2,
                                timeout=15)
        assert sim.wait_for_agent_state("room-1", "idle", timeout=30), proc.log()
        store = RecordingStore(tmp_path / "var" / "recordings.db")
        for uid in uids:
            assert_states_end_right_after_stop(sim, store, uid)
            assert_nothing_lost(sim, store, uid)  # once, byte for byte
        segments = store.segments(first)
        store._close_connection()
    if state == "capturing":  # cut by the kill, continued after the restart
        assert len(segments) == 2 and segments[0].error == "agent stopped during the capture"
    else:
        assert len(segments) == 1 and segments[0].error is None

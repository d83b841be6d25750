"""Rooms: N rooms in one agent process, every lecture starting in the same second.

    .venv/bin/python bench/rooms_bench.py [--rooms 50] [--seconds 30] [--live]
                                          [--out rooms.json]
    .venv/bin/python bench/rooms_bench.py --sweep 10,50,100   # how the cost grows
    .venv/bin/python bench/rooms_bench.py --live --share 10   # the harsher run

One ``ocframe run`` process serves N agents (rooms), each with one IP camera
(the ``ipcam`` driver, real ffmpeg) of its own on a real RTSP server
(GStreamer's rtsp-server, started here under /usr/bin/python3). By default
every camera serves a pre-encoded 320x180 H.264 clip in real time, so the
server costs little and connecting costs what a camera's handshake costs;
``--live`` makes every camera encode its own picture instead, and
``--share K`` gives K rooms the same camera stream (a shared RTSP media). The embedded
simulator is the core. All N events start in the same second, ``--seconds``
long, after a first lecture per room that lets the agent learn its cameras'
start-up times (as it would over a day of lectures).

Printed (and written as JSON to ``--out``), for the lectures starting together:
- rooms complete: ingested once, every track playable with frames;
- seconds of each lecture missing (min/median/max): the window minus what the
  segments' media covered, from each segment's place on the wall clock;
- ingested duration against the window (trimmed to the key frame at or
  before DTSTART, so at least the window);
- timestamps that follow the media: the span of the first 25 video packets of
  each ingested track (a compressed start shows as a span far below 1 s);
- ``capturing`` latency at the core (p50/p99/max) after DTSTART;
- the agent process: peak RSS, CPU seconds, peak threads and open files;
- upload time for all rooms (DTEND to the last ingest).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ocframe_simulator import OpencastSimulator

from ocframe.ffmpeg import find_ffmpeg, find_ffprobe
from ocframe.launches import LatencyRecord
from ocframe.store import RecordingStore
from ocframe.testing.harness import AgentProcess, agent, write_config

SERVER = Path(__file__).with_name("rtsp_rooms_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Results:
    rooms: int
    seconds: float
    live: bool
    share: int = 1
    complete: int = 0
    broken_tracks: list[str] = field(default_factory=list)
    missing_s: list[float] = field(default_factory=list)
    ingested_s: list[float] = field(default_factory=list)
    first_second_span_s: list[float] = field(default_factory=list)
    capturing_latency_ms: list[float] = field(default_factory=list)
    launch_ahead_s: list[float] = field(default_factory=list)
    learnt_start_up_s: list[float] = field(default_factory=list)
    upload_all_s: float = 0.0
    peak_rss_mib: float = 0.0
    cpu_s: float = 0.0
    peak_threads: int = 0
    peak_fds: int = 0
    wall_s: float = 0.0


class Camera:
    """The RTSP server process with N mounts."""

    def __init__(self, rooms: int, clip: Path | None, share: int = 1) -> None:
        self.share = share
        argv = [SYSTEM_PYTHON, str(SERVER), "--cameras", str(-(-rooms // share))]
        argv += ["--clip", str(clip)] if clip else ["--live"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else b""
        if not line.startswith(b"READY "):
            self.stop()
            raise RuntimeError(f"the RTSP server did not start: {line!r}")
        self.port = int(line.split()[1])

    def url(self, k: int) -> str:
        """The stream of room ``k`` (from 1): rooms share cameras ``share`` at a time."""
        return f"rtsp://127.0.0.1:{self.port}/cam{(k - 1) // self.share + 1}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.rss = self.threads = self.fds = 0
        self.cpu = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        proc = Path(f"/proc/{self.pid}")
        while not self.done.wait(0.5):
            try:
                status = dict(line.split(":", 1) for line in
                              (proc / "status").read_text().splitlines() if ":" in line)
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                self.rss = max(self.rss, int(status["VmRSS"].split()[0]))
                self.threads = max(self.threads, int(status["Threads"]))
                self.fds = max(self.fds, len(list((proc / "fd").iterdir())))
                self.cpu = (int(stat[11]) + int(stat[12])) / TICK  # utime + stime
            except (OSError, KeyError, ValueError):
                return


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-bf", "0",
                    "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
                   check=True, timeout=600)


def first_packets_span(path: Path, count: int = 25) -> float | None:
    probe = find_ffprobe()
    if probe is None:
        return None
    out = subprocess.run([probe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "packet=pts_time", "-read_intervals", f"%+#{count}", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, timeout=60).stdout
    times = sorted(float(t) for t in out.split() if t.replace(".", "", 1).isdigit())
    return times[-1] - times[0] if len(times) >= 2 else None


def media_seconds(path: Path) -> float | None:
    probe = find_ffprobe()
    if probe is None:
        return None
    out = subprocess.run([probe, "-v", "error", "-count_packets", "-select_streams", "v:0",
                          "-show_entries", "format=duration:stream=nb_read_packets",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=60)
    try:
        data = json.loads(out.stdout)
        if int(data["streams"][0]["nb_read_packets"]) == 0:
            return None
        return float(data["format"]["duration"])
    except (ValueError, KeyError, IndexError):
        return None


def run(rooms: int, seconds: float, live: bool, work: Path, share: int = 1) -> Results:
    results = Results(rooms=rooms, seconds=seconds, live=live, share=share)
    clip = None
    if not live:
        clip = work / "clip.mp4"
        if not clip.exists():
            make_clip(clip, 300)
    camera = Camera(rooms, clip, share)
    try:
        with OpencastSimulator() as sim:
            names = [f"room-{k:03d}" for k in range(1, rooms + 1)]
            cfg = write_config(work / f"n{rooms}", sim, agents=[
                agent(n, [{"name": "cam", "driver": "ipcam", "flavor": "presenter/source",
                           "settings": {"url": camera.url(k)}}],
                      calendar={"poll_interval": 2.0}, heartbeat_interval=10.0)
                for k, n in enumerate(names, 1)],
                extra={"ingest_queue": {"concurrency": 2}})
            now = datetime.now(UTC).replace(microsecond=0)
            # A first lecture per room teaches the agent its cameras' start-up
            # times; the measured lectures then all start in the same second.
            warm = now + timedelta(seconds=12)
            for n in names:
                sim.add_event(n, warm, warm + timedelta(seconds=6), title="warm-up")
            t0 = warm + timedelta(seconds=6 + 25)
            end = t0 + timedelta(seconds=seconds)
            uids = [sim.add_event(n, t0, end, title=f"{n} lecture") for n in names]
            began = time.time()
            proc = AgentProcess(cfg).start()
            assert proc.proc is not None
            sampler = Sampler(proc.proc.pid)
            sampler.start()
            try:
                sim.wait_for(lambda: all(sim.find_ingest(u) for u in uids),
                             timeout=(end - datetime.now(UTC)).total_seconds() + 120 + 3 * rooms)
                sim.wait_for(lambda: all(sim.recording_state(u) == "upload_finished"
                                         for u in uids), timeout=30)
            finally:
                sampler.done.set()
                sampler.join(5)
                proc.stop(timeout=60)
            results.wall_s = round(time.time() - began, 1)
            results.peak_rss_mib = round(sampler.rss / 1024, 1)
            results.cpu_s = round(sampler.cpu, 1)
            results.peak_threads, results.peak_fds = sampler.threads, sampler.fds
            store = RecordingStore(work / f"n{rooms}" / "var" / "recordings.db",
                                   set_aside_corrupt=False)
            latencies = LatencyRecord(store)
            last_ingest = 0.0
            for uid, name in zip(uids, names, strict=True):
                ingest = sim.find_ingest(uid)
                states = sim.recording_state_history(uid)
                capturing = [at for at, s in states if s == "capturing"]
                if capturing:
                    results.capturing_latency_ms.append((min(capturing) - t0.timestamp()) * 1e3)
                results.learnt_start_up_s += latencies.of(name).get("cam", [])[:1]
                segs = store.segments(uid)
                if segs:
                    results.launch_ahead_s.append(t0.timestamp() - min(s.started for s in segs))
                results.missing_s.append(round(missing(segs, t0, end), 2))
                if ingest is None or sim.workflows_started(uid) != 1:
                    continue
                last_ingest = max(last_ingest, ingest.time)
                good = True
                for track in ingest.tracks:
                    got = media_seconds(Path(track.path))
                    if got is None:
                        good = False
                        results.broken_tracks.append(f"{uid}: {track.flavor}")
                        continue
                    results.ingested_s.append(round(got, 2))
                    span = first_packets_span(Path(track.path))
                    if span is not None:
                        results.first_second_span_s.append(round(span, 3))
                results.complete += good
            results.upload_all_s = round(last_ingest - end.timestamp(), 1)
    finally:
        camera.stop()
    return results


def missing(segments: list[Any], start: datetime, end: datetime) -> float:
    """Seconds of the window no segment's media covers (each segment placed
    on the wall clock by its media origin and its file's duration)."""
    covered: list[tuple[float, float]] = []
    for seg in segments:
        for track in seg.tracks:
            length = media_seconds(Path(track.path))
            origin = seg.media_origin
            if length is not None and origin is not None:
                covered.append((origin, origin + length))
    lo, hi = start.timestamp(), end.timestamp()
    total, cursor = 0.0, lo
    for a, b in sorted(covered):
        if b <= cursor:
            continue
        total += max(0.0, min(a, hi) - cursor)
        cursor = max(cursor, b)
        if cursor >= hi:
            break
    return total + max(0.0, hi - cursor)


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    qs = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 \
        else [values[0]] * 99
    return (f"min {min(values):.2f}  median {statistics.median(values):.2f}"
            f"  p99 {qs[98]:.2f}  max {max(values):.2f}")


def report(r: Results) -> str:
    return "\n".join([
        f"rooms {r.rooms} ({'live-encoded' if r.live else 'pre-encoded'} cameras"
        f"{f', {r.share} rooms per camera' if r.share > 1 else ''}),"
        f" {r.seconds:.0f} s lectures all starting in the same second",
        f"  rooms complete:            {r.complete}/{r.rooms}"
        f"  (tracks empty or broken: {len(r.broken_tracks)})",
        f"  seconds missing:           {spread(r.missing_s)}",
        f"  ingested duration (s):     {spread(r.ingested_s)}",
        f"  first 25 packets span (s): {spread(r.first_second_span_s)}",
        f"  capturing latency (ms):    {spread(r.capturing_latency_ms)}",
        f"  launched ahead (s):        {spread(r.launch_ahead_s)}",
        f"  learnt start-up (s):       {spread(r.learnt_start_up_s)}",
        f"  agent: peak RSS {r.peak_rss_mib} MiB, CPU {r.cpu_s} s, threads {r.peak_threads},"
        f" open files {r.peak_fds}",
        f"  upload of all rooms:       {r.upload_all_s} s after DTEND; wall {r.wall_s} s",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--sweep", help="comma-separated room counts, e.g. 10,50,100")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--share", type=int, default=1, help="rooms per camera stream")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.rooms]
    all_results = []
    with tempfile.TemporaryDirectory(prefix="ocframe-rooms-") as tmp:
        for n in counts:
            r = run(n, args.seconds, args.live, Path(tmp), args.share)
            print(report(r), flush=True)
            all_results.append(asdict(r))
    if args.out:
        args.out.write_text(json.dumps(all_results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start and stop latency of captures, idle and under load (issue 4).

    .venv/bin/python bench/latency_bench.py [--events 50] [--upload-gib 2]

For each of N short events (1 s, 1 s apart) it measures, against the
scheduled instant: *start* = the capture process has been spawned,
*stop* = the capture process has exited after its graceful stop. It runs
the same schedule twice in one process: idle, and with a concurrent
upload of a large file to the same simulator (curl, in a loop) plus every
calendar poll delayed by 5 s. Prints median and worst for each and their
ratio loaded/idle. Targets: median <= 100 ms and worst <= 500 ms under load.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from ocframe_driver_testsrc import TestPatternDriver, TestPatternSettings
from ocframe_simulator import OpencastSimulator

from ocframe import CaptureContext, DriverSettings, hookimpl
from ocframe.driver import CaptureCommand, CommandCapture
from ocframe.testing.harness import agent, write_config

STARTS: dict[str, float] = {}
STOPS: dict[str, float] = {}


class TimedCapture(CommandCapture):
    def begin(self) -> None:
        super().begin()
        STARTS[self.ctx.recording_id] = time.time()

    def stop(self) -> None:
        super().stop()
        STOPS[self.ctx.recording_id] = time.time()


class TimedDriver(TestPatternDriver):
    Settings: ClassVar[type[DriverSettings]] = TestPatternSettings

    def make_handle(self, ctx: CaptureContext, command: CaptureCommand) -> CommandCapture:
        return TimedCapture(ctx, command, self.stop_timeouts())


class BenchPlugin:
    @hookimpl
    def ocframe_driver_types(self) -> dict[str, Any]:
        return {"timed-testsrc": TimedDriver}


def run(
    events: int, loaded: bool, upload_gib: float, workdir: Path
) -> tuple[list[float], list[float]]:
    STARTS.clear()
    STOPS.clear()
    with OpencastSimulator() as sim:
        cfg = write_config(workdir, sim, agents=[agent("bench", [{
            "name": "cam", "driver": "timed-testsrc",
            "settings": {"width": 160, "height": 90, "rate": 10, "audio": False}}])])
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
        schedule = []
        for i in range(events):
            start = t0 + timedelta(seconds=2 * i)
            uid = sim.add_event(agent="bench", start=start, end=start + timedelta(seconds=1))
            schedule.append((uid, start, start + timedelta(seconds=1)))
        stop_load = threading.Event()
        loader = None
        if loaded:
            big = workdir / "big.bin"
            with big.open("wb") as f:
                f.truncate(int(upload_gib * (1 << 30)))
            loader = threading.Thread(target=_upload_loop, args=(sim, big, stop_load), daemon=True)
            loader.start()
            sim.inject_fault(r"/recordings/calendars", "slow", delay=5.0)
        registry_plugins = [BenchPlugin()]
        # The driver type comes from a plugin object, as a config module would offer it.
        from ocframe.config import load_config
        from ocframe.plugins import load_plugins
        from ocframe.service import Service

        config = load_config(cfg)
        reg = load_plugins(config)
        for p in registry_plugins:
            reg.pm.register(p)
        reg._collect_from_hooks()
        service = Service(config, reg)
        service.start()
        try:
            deadline = schedule[-1][2] + timedelta(seconds=20)
            last = schedule[-1][0]
            while last not in STOPS and datetime.now(UTC) < deadline:
                time.sleep(0.2)
        finally:
            stop_load.set()
            service.stop()
            if loader:
                loader.join(30)
    starts = [(STARTS[u] - s.timestamp()) * 1000 for u, s, _ in schedule if u in STARTS]
    print("start latencies (ms):", " ".join(f"{x:.0f}" for x in starts), file=sys.stderr)
    stops = [(STOPS[u] - e.timestamp()) * 1000 for u, _, e in schedule if u in STOPS]
    return starts, stops


def _upload_loop(sim: OpencastSimulator, big: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-u", "admin:opencast",
             "-F", "flavor=presenter/source", "-F", "mediaPackage=<mediapackage/>",
             "-F", f"BODY=@{big}", f"{sim.url}/ingest/addTrack"],
            check=False, timeout=600,
        )


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no data"
    return (f"{name}: n={len(values)} median {statistics.median(values):6.1f} ms"
            f"  worst {max(values):6.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--upload-gib", type=float, default=2.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        idle = run(args.events, False, args.upload_gib, Path(tmp) / "idle")
        load = run(args.events, True, args.upload_gib, Path(tmp) / "load")
    print(summary("idle   start", idle[0]))
    print(summary("idle   stop ", idle[1]))
    print(summary("loaded start", load[0]))
    print(summary("loaded stop ", load[1]))
    ok = (load[0] and load[1] and statistics.median(load[0]) <= 100
          and statistics.median(load[1]) <= 100 and max(load[0]) <= 500 and max(load[1]) <= 500)
    for kind, i in (("start", 0), ("stop", 1)):
        if idle[i] and load[i]:
            print(f"ratio loaded/idle median {kind}: "
                  f"{statistics.median(load[i]) / max(statistics.median(idle[i]), 0.001):.2f}")
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

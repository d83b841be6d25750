"""Soak: many agents in one process through hours of lectures, with faults.

    .venv/bin/python bench/soak.py [--agents 20] [--hours 2] [--lecture-minutes 10]
                                   [--compression 12] [--seed 1] [--out soak.json]

One ``ocframe run`` process serves ``--agents`` rooms. Each room has a day of
back-to-back lectures, ``--hours`` of them, each ``--lecture-minutes`` long,
all rooms starting together (lectures begin on the hour everywhere). Time is
compressed by ``--compression``: lectures, calendar polls, heartbeats, upload
backoff and the core timeout are all that many times shorter, so 2 hours at
12x take 10 minutes. Recording is real (ffmpeg, the testsrc driver, a small
picture) against the embedded simulator, which meanwhile injects random
faults (fixed ``--seed``): 500/503, slow answers (timeouts), resets, cut-off
and mislabelled calendars, login redirects and outages of the whole core.

Reported (and written as JSON to ``--out``):
- recordings scheduled vs ingested (must be equal), each ingested once with
  the MD5 of what was recorded, and every recording ``upload_finished``;
- start/stop latency percentiles: segment start/end in the store (stamped
  just before the capture starts, and after it stopped and its files were
  collected) against the scheduled instants;
- the agent process's RSS, open file descriptors and threads, sampled every
  ``--sample`` seconds (growth between the first and the last quarter);
- loop failures from the health the process writes (``Service.health()``).

The exit status is 0 when nothing was lost and every state ended right.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ocframe_simulator import OpencastSimulator

from ocframe.health import HealthReport, read_health
from ocframe.model import file_md5
from ocframe.store import RecordingStore
from ocframe.testing.harness import AgentProcess, agent, testsrc_input, write_config

#: Endpoints the agent calls, as the simulator's fault patterns see them.
ENDPOINTS = {
    "registry": r"^/services/available",
    "agent_state": r"^/capture-admin/agents/[^/]+$",
    "capabilities": r"^/capture-admin/agents/[^/]+/configuration$",
    "recording_state": r"^/capture-admin/recordings/",
    "calendar": r"^/recordings/calendars",
    "createMediaPackage": r"^/ingest/createMediaPackage",
    "addTrack": r"^/ingest/addTrack$",
    "ingest": r"^/ingest/ingest$",
}


@dataclass
class Options:
    agents: int = 20
    hours: float = 2.0
    lecture_minutes: float = 10.0
    compression: float = 12.0
    seed: int = 1
    #: Mean seconds (real) between two faults; 0: no faults.
    fault_interval: float = 8.0
    #: Seconds (real) before the first lectures, for the process to start.
    lead: float = 15.0
    #: Seconds (real) to wait after the last lecture for the last uploads.
    drain: float = 300.0
    sample: float = 5.0
    workdir: Path | None = None


@dataclass
class Sample:
    t: float
    rss_kib: int
    fds: int
    threads: int
    #: The machine's 1-minute load average (2 cores here, shared with others).
    load: float = 0.0
    loops_not_ok: dict[str, str] = field(default_factory=dict)


@dataclass
class Results:
    options: dict[str, Any]
    scheduled: int = 0
    ingested: int = 0
    ingested_twice: list[str] = field(default_factory=list)
    md5_mismatch: list[str] = field(default_factory=list)
    not_finished: dict[str, str] = field(default_factory=dict)
    start_ms: list[float] = field(default_factory=list)
    stop_ms: list[float] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
    loop_errors: dict[str, int] = field(default_factory=dict)
    loop_last_errors: dict[str, str] = field(default_factory=dict)
    loops_failing_samples: dict[str, int] = field(default_factory=dict)
    loops_ever_stalled: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    agent_exit: int | None = None

    @property
    def ok(self) -> bool:
        return (self.scheduled == self.ingested and not self.ingested_twice
                and not self.md5_mismatch and not self.not_finished
                and not self.loops_ever_stalled and self.agent_exit == 0)


class FaultInjector(threading.Thread):
    """Random faults, one every ``interval`` seconds on average, from a seeded
    generator (the sequence of faults is fixed; their timing against the
    agent's requests is not)."""

    def __init__(self, sim: OpencastSimulator, rng: random.Random, interval: float,
                 core_timeout: float) -> None:
        super().__init__(name="soak-faults", daemon=True)
        self.sim, self.rng, self.interval = sim, rng, interval
        self.core_timeout = core_timeout
        self.stop_event = threading.Event()
        self.counts: dict[str, int] = {}

    def run(self) -> None:
        while not self.stop_event.wait(self.rng.expovariate(1 / self.interval)):
            self.inject()

    def inject(self) -> None:
        rng, sim = self.rng, self.sim
        kind = rng.choices(["500", "503", "slow", "reset", "calendar", "login", "outage"],
                           weights=[4, 3, 2, 3, 2, 1, 1])[0]
        name = rng.choice(sorted(ENDPOINTS))
        pattern = ENDPOINTS[name]
        times = rng.randint(1, 3)
        if kind in ("500", "503"):
            sim.inject_fault(pattern, "status", status=int(kind), times=times)
        elif kind == "slow":
            sim.inject_fault(pattern, "slow", delay=self.core_timeout * 1.5, times=1)
        elif kind == "reset":
            sim.inject_fault(pattern, "reset", after_bytes=rng.randint(0, 50_000), times=1)
        elif kind == "calendar":
            name = "calendar"
            sim.inject_fault(ENDPOINTS[name], rng.choice(["truncated", "wrong_content_type"]),
                             times=1)
        elif kind == "login":
            sim.inject_fault(pattern, "login_redirect", times=1)
        else:
            name = "core"
            sim.go_down()
            self.stop_event.wait(rng.uniform(2.0, 8.0))
            sim.come_up()
        key = f"{kind} {name}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)
        self.sim.clear_faults()
        if not self.sim.is_up:
            self.sim.come_up()


class Sampler(threading.Thread):
    """RSS, descriptors and threads of the agent process, and its loops' health."""

    def __init__(self, pid: int, health: Path, every: float, started: float) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.pid, self.health, self.every, self.started = pid, health, every, started
        self.samples: list[Sample] = []
        self.stalled: set[str] = set()
        self.failing: dict[str, int] = {}  # loop -> samples in which it was failing
        self.last_health: HealthReport | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            try:
                self.samples.append(self.take())
            except OSError:
                return  # the process is gone

    def take(self) -> Sample:
        proc = Path(f"/proc/{self.pid}")
        status = dict(line.split(":", 1) for line in
                      (proc / "status").read_text().splitlines() if ":" in line)
        report = read_health(self.health)
        not_ok = {h.name: h.state for h in report.loops if h.state != "ok"} if report else {}
        self.stalled.update(n for n, s in not_ok.items() if s in ("stalled", "dead"))
        for name in (n for n, s in not_ok.items() if s == "failing"):
            self.failing[name] = self.failing.get(name, 0) + 1
        self.last_health = report or self.last_health
        return Sample(t=round(time.time() - self.started, 1),
                      rss_kib=int(status["VmRSS"].split()[0]),
                      fds=len(list((proc / "fd").iterdir())),
                      threads=int(status["Threads"]),
                      load=float(Path("/proc/loadavg").read_text().split()[0]),
                      loops_not_ok=not_ok)


def schedule(sim: OpencastSimulator, names: list[str], opts: Options,
             t0: datetime) -> list[tuple[str, datetime, datetime]]:
    length = timedelta(seconds=opts.lecture_minutes * 60 / opts.compression)
    slots = max(1, round(opts.hours * 60 / opts.lecture_minutes))
    events = []
    for name in names:
        for k in range(slots):
            start = t0 + k * length
            uid = sim.add_event(name, start, start + length, title=f"{name} lecture {k + 1}")
            events.append((uid, start, start + length))
    return events


def run_soak(opts: Options) -> Results:
    results = Results(options={k: str(v) for k, v in asdict(opts).items()})
    rng = random.Random(opts.seed)
    c = opts.compression
    core_timeout = 30.0 / c
    with tempfile.TemporaryDirectory(prefix="ocframe-soak-") as tmp, OpencastSimulator() as sim:
        work = opts.workdir or Path(tmp)
        names = [f"room-{i:02d}" for i in range(opts.agents)]
        cfg = write_config(work, sim, agents=[
            agent(n, [testsrc_input("cam", width=160, height=90, rate=5, audio=False)],
                  calendar={"poll_interval": 60.0 / c}, heartbeat_interval=60.0 / c,
                  capabilities_interval=600.0 / c)
            for n in names],
            extra={"log_level": "INFO", "core": {"timeout": core_timeout},
                   "storage": {"disk_check_interval": 15.0 / c},
                   "ingest_queue": {"concurrency": 2, "backoff_initial": 30.0 / c,
                                    "backoff_max": 300.0 / c}})
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=opts.lead)
        events = schedule(sim, names, opts, t0)
        results.scheduled = len(events)
        last_end = max(e for _, _, e in events)
        began = time.time()
        proc = AgentProcess(cfg).start()
        assert proc.proc is not None
        sampler = Sampler(proc.proc.pid, work / "var" / "health.json", opts.sample, began)
        sampler.start()
        faults = FaultInjector(sim, rng, opts.fault_interval, core_timeout)
        if opts.fault_interval > 0:
            faults.start()
        try:
            sim.wait_for(lambda: datetime.now(UTC) > last_end, timeout=(
                last_end - datetime.now(UTC)).total_seconds() + 1)
            if faults.is_alive():
                faults.stop()
            uids = [u for u, _, _ in events]
            sim.wait_for(lambda: all(sim.find_ingest(u) for u in uids), timeout=opts.drain)
            # Heard from every agent after the last ingest: its states are sent.
            sim.wait_for(lambda: all(sim.recording_state(u) == "upload_finished"
                                     for u in uids), timeout=60)
        finally:
            if faults.is_alive():
                faults.stop()
            sampler.stop_event.set()
            sampler.join(10)
            results.agent_exit = proc.stop(timeout=60)
        results.wall_seconds = round(time.time() - began, 1)
        results.samples = sampler.samples
        results.loops_ever_stalled = sorted(sampler.stalled)
        results.loops_failing_samples = dict(sorted(sampler.failing.items()))
        results.faults = dict(sorted(faults.counts.items()))
        if sampler.last_health is not None:  # Service.health(), as the process wrote it
            for h in sampler.last_health.loops:
                if h.errors_total:
                    results.loop_errors[h.name] = h.errors_total
                    results.loop_last_errors[h.name] = h.last_error or ""
        collect(results, sim, RecordingStore(work / "var" / "recordings.db",
                                             set_aside_corrupt=False), events)
    return results


def collect(results: Results, sim: OpencastSimulator, store: RecordingStore,
            events: list[tuple[str, datetime, datetime]]) -> None:
    for uid, start, end in events:
        ingest = sim.find_ingest(uid)
        rec = store.get(uid)
        if ingest is not None:
            results.ingested += 1
            if sim.workflows_started(uid) != 1:
                results.ingested_twice.append(uid)
        if rec is None or rec.state != "upload_finished":
            results.not_finished[uid] = rec.state if rec else "never recorded"
        if ingest is not None and rec is not None and rec.package is not None:
            sent = sorted((t.flavor, t.md5) for t in ingest.tracks)
            kept = sorted((t.flavor, file_md5(t.path)) for t in rec.package.tracks)
            if sent != kept:
                results.md5_mismatch.append(uid)
        segments = store.segments(uid)
        if segments:
            results.start_ms.append((min(s.started for s in segments) - start.timestamp()) * 1e3)
            ended = [s.ended for s in segments if s.ended is not None]
            if ended:
                results.stop_ms.append((max(ended) - end.timestamp()) * 1e3)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    qs = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 \
        else [values[0]] * 99
    return {"p50": round(qs[49], 1), "p90": round(qs[89], 1), "p99": round(qs[98], 1),
            "max": round(max(values), 1)}


def growth(samples: list[Sample], attr: str) -> dict[str, float]:
    """First and last quarter medians (after the first sample) and the peak."""
    values = [getattr(s, attr) for s in samples[1:]] or [getattr(s, attr) for s in samples]
    if not values:
        return {}
    q = max(1, len(values) // 4)
    return {"first_quarter": statistics.median(values[:q]),
            "last_quarter": statistics.median(values[-q:]), "peak": max(values),
            "min": min(values)}


def report(r: Results) -> str:
    rss = growth(r.samples, "rss_kib")
    fds = growth(r.samples, "fds")
    threads = growth(r.samples, "threads")
    lines = [
        f"recordings scheduled {r.scheduled}, ingested {r.ingested}"
        f" (twice: {len(r.ingested_twice)}, MD5 mismatches: {len(r.md5_mismatch)},"
        f" not upload_finished: {len(r.not_finished)})",
        f"start latency ms {percentiles(r.start_ms)}",
        f"stop latency ms  {percentiles(r.stop_ms)}",
        f"RSS KiB {rss}",
        f"open fds {fds}",
        f"threads {threads}",
        f"machine load average {growth(r.samples, 'load')}",
        f"faults injected {sum(r.faults.values())}: {r.faults}",
        f"loop errors (Service.health() errors_total) {r.loop_errors} {r.loop_last_errors}",
        f"loops failing (samples) {r.loops_failing_samples}",
        f"loops ever stalled or dead {r.loops_ever_stalled}",
        f"agent exit status {r.agent_exit}, wall {r.wall_seconds} s, samples {len(r.samples)}",
        "OK: nothing lost, every state right" if r.ok else "NOT OK",
    ]
    if r.not_finished:
        lines.append(f"not finished: {r.not_finished}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Options()
    ap.add_argument("--agents", type=int, default=defaults.agents)
    ap.add_argument("--hours", type=float, default=defaults.hours)
    ap.add_argument("--lecture-minutes", type=float, default=defaults.lecture_minutes)
    ap.add_argument("--compression", type=float, default=defaults.compression)
    ap.add_argument("--seed", type=int, default=defaults.seed)
    ap.add_argument("--fault-interval", type=float, default=defaults.fault_interval,
                    help="mean real seconds between faults (0: none)")
    ap.add_argument("--lead", type=float, default=defaults.lead)
    ap.add_argument("--drain", type=float, default=defaults.drain)
    ap.add_argument("--sample", type=float, default=defaults.sample)
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    opts = Options(agents=args.agents, hours=args.hours, lecture_minutes=args.lecture_minutes,
                   compression=args.compression, seed=args.seed,
                   fault_interval=args.fault_interval, lead=args.lead, drain=args.drain,
                   sample=args.sample)
    results = run_soak(opts)
    print(report(results))
    if args.out:
        data = asdict(results)
        data["start_percentiles"] = percentiles(results.start_ms)
        data["stop_percentiles"] = percentiles(results.stop_ms)
        data["ok"] = results.ok
        args.out.write_text(json.dumps(data, indent=1, default=str))
    return 0 if results.ok else 1


if __name__ == "__main__":
    sys.exit(main())

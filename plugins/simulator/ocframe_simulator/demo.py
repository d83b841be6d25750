"""``ocframe demo``: one full schedule -> record -> ingest cycle against the
embedded simulator, told step by step."""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ocframe import ConfigError, StateChange, hookimpl
from ocframe.errors import OcframeError

AGENT = "demo-room"


class _Narrator:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", flush=True)

    @hookimpl
    def ocframe_state_change(self, change: StateChange) -> None:
        rid = change.recording_id
        what = f"recording {rid}" if rid else f"agent {change.agent}"
        detail = f" ({change.detail})" if change.detail else ""
        self.say(f"state: {what} -> {change.new}{detail}")

    @hookimpl
    def ocframe_capture_started(self, input_name: str, segment: int) -> None:
        self.say(f"capture: input {input_name} started (segment {segment})")


def _ffprobe(path: Path) -> dict[str, Any] | None:
    from ocframe.testing.media import probe

    try:
        return probe(path)
    except (RuntimeError, subprocess.SubprocessError, ValueError):
        return None


def _duration_with_ffmpeg(path: Path, ffmpeg: str) -> tuple[float | None, set[str]]:
    """Duration and stream kinds without ffprobe (imageio-ffmpeg ships none)."""
    out = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True,
                         text=True, check=False, timeout=30)
    duration = None
    kinds: set[str] = set()
    for line in out.stderr.splitlines():
        line = line.strip()
        if line.startswith("Duration:"):
            h, m, s = line.split(",")[0].split()[1].split(":")
            duration = int(h) * 3600 + int(m) * 60 + float(s)
        if line.startswith("Stream #") and ": Video:" in line:
            kinds.add("video")
        if line.startswith("Stream #") and ": Audio:" in line:
            kinds.add("audio")
    return duration, kinds


def run_demo(*, seconds: float = 6.0, lead: float = 4.0, method: str = "multirequest",
             keep: str | None = None) -> int:
    from ocframe.testing.harness import InProcessAgent, agent, soon, testsrc_input, write_config

    from .simulator import OpencastSimulator

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    n = _Narrator()
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="ocframe-demo-"))
    ok = False
    with OpencastSimulator(auth="basic") as sim:
        n.say(f"simulator: an Opencast core is listening at {sim.url}")
        cfg = write_config(workdir, sim, user="ca", password="ca-secret", agents=[
            agent(AGENT, [testsrc_input("presenter", "presenter/source", width=640, height=360,
                                        rate=25)], method=method),
        ])
        n.say(f"config: {cfg} (agent {AGENT!r}, capture-agent user 'ca', ingest {method})")
        start = soon(lead)
        end = datetime.fromtimestamp(start.timestamp() + seconds, UTC)
        uid = sim.add_event(agent=AGENT, start=start, end=end, title="ocframe demo lecture",
                            workflow="fast", workflow_config={"straightToPublishing": "true"})
        n.say(f"schedule: event {uid} from {start:%H:%M:%S} to {end:%H:%M:%S} UTC")
        with InProcessAgent(cfg, plugins=[n]) as running:
            if sim.wait_for(lambda: sim.agent_state(AGENT) is not None, timeout=15):
                n.say(f"core: agent registered, state {sim.agent_state(AGENT)}")
            if sim.wait_for(lambda: bool(sim.capabilities(AGENT)), timeout=15):
                caps = sim.capabilities(AGENT)
                n.say(f"core: capabilities received, inputs {caps.get('capture.device.names')}")
            if sim.wait_for(lambda: bool(sim.calendar_requests), timeout=15):
                q = sim.calendar_requests[0].params
                n.say(f"core: calendar polled (agentid={q.get('agentid')}, "
                      f"cutoff={q.get('cutoff')})")
            ingest = sim.wait_for_ingest(uid, timeout=lead + seconds + 120)
            if ingest is None:
                n.say("FAILED: no ingest arrived")
            else:
                sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
                n.say(f"core: workflow {ingest.workflow_definition!r} started for media package "
                      f"{ingest.mediapackage_id} (method {ingest.method})")
                for t in ingest.tracks:
                    n.say(f"  track {t.flavor} {t.mimetype} {t.size} bytes md5 {t.md5}")
                ok = _verify(n, ingest, seconds, running.service.ffmpeg)
                n.say(f"recording states seen by the core: "
                      f"{' -> '.join(s for _, s in sim.recording_state_history(uid))}")
                print("\nmedia package:\n" + ingest.mediapackage_xml)
    if keep:
        n.say(f"recordings kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    n.say("demo " + ("succeeded" if ok else "FAILED"))
    return 0 if ok else 1


def _verify(n: _Narrator, ingest: Any, seconds: float, ffmpeg: str) -> bool:
    if not ingest.tracks:
        n.say("FAILED: the media package has no track")
        return False
    track = ingest.tracks[0]
    info = _ffprobe(Path(track.path))
    duration: float | None
    if info is not None:
        kinds = {s.get("codec_type") for s in info.get("streams", [])}
        duration = float(info.get("format", {}).get("duration", 0))
    else:
        duration, kinds = _duration_with_ffmpeg(Path(track.path), ffmpeg)
    n.say(f"check: ingested file has {', '.join(sorted(k for k in kinds if k))} "
          f"and lasts {duration or 0:.2f} s (scheduled {seconds:.2f} s)")
    good = {"video", "audio"} <= kinds and duration is not None and abs(duration - seconds) <= 1.0
    if not good:
        n.say("FAILED: expected video and audio of the scheduled length (+-1 s)")
    return good


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocframe demo")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the demo event")
    parser.add_argument("--lead", type=float, default=4.0, help="seconds until the event starts")
    parser.add_argument("--method", default="multirequest", help="ingest method")
    parser.add_argument("--keep", help="keep the recordings in this directory")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``ocframe demo`` (an ``ocframe.commands`` entry point)."""
    args = build_parser().parse_args(argv)
    # Plugin commands do not get the kernel's error reporting, and the demo
    # answered a bad --method with one line and status 2 when it was built in.
    try:
        return run_demo(seconds=args.seconds, lead=args.lead, method=args.method, keep=args.keep)
    except ConfigError as exc:
        print(f"ocframe: {exc}", file=sys.stderr)
        return 2
    except OcframeError as exc:
        print(f"ocframe: {exc}", file=sys.stderr)
        return 1

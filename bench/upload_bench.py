"""Upload benchmark: each ingest strategy against ``curl -F``, same file, same run.

    python bench/upload_bench.py [--size 2G] [--methods multirequest,single,zipped,chunked]

A simulator runs in its own process on loopback; a file of random bytes of
``--size`` is uploaded by ``curl -F`` to ``/ingest/addTrack`` and by each
strategy, in ``--rounds`` interleaved rounds, each upload in a fresh child
process whose peak RSS (``ru_maxrss``) is reported. Throughput = file size / wall time of the
whole upload (for the strategies: every request of the method, including
creating the media package, the zipped CRC pass and starting the workflow).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

USER, PASSWORD = "admin", "opencast"

SERVER = r"""
import sys
from ocframe_simulator import OpencastSimulator
sim = OpencastSimulator(storage_dir=sys.argv[1]).start()
# Like the real core, which adds a chunked upload's file to the media package
# within the last chunk's request (no FINALIZING state to poll).
sim.upload_finalize_delay = 0
print(sim.url, flush=True)
sys.stdin.read()
sim.stop()
"""


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def make_file(path: Path, size: int) -> None:
    block = os.urandom(8 << 20)
    with path.open("wb") as handle:
        left = size
        while left:
            n = min(left, len(block))
            handle.write(block[:n])
            left -= n


class _Checkpoint(dict[str, str]):
    def set(self, key: str, value: str) -> None:
        self[key] = value

    def items(self) -> Any:  # type: ignore[override]
        return dict(self)


def child(method: str, url: str, path: Path, settings: dict[str, Any]) -> None:
    """One upload with a strategy, in this (fresh) process; prints JSON."""
    from importlib.metadata import entry_points

    from pydantic import SecretStr

    from ocframe.config import CoreConfig
    from ocframe.ingest import IngestJob
    from ocframe.model import Event, IngestPackage, Track, file_md5
    from ocframe.opencast.client import OpencastClient

    # As the agent does: the kernel hashes the file once when it builds the
    # upload package (after the capture), not during the upload. Timed apart.
    hash_started = time.monotonic()
    md5 = file_md5(path) if settings.get("verify_md5", True) else None
    hash_seconds = time.monotonic() - hash_started

    (ep,) = [e for e in entry_points(group="ocframe.ingest") if e.name == method]
    cls = ep.load()
    client = OpencastClient(CoreConfig(url=url, user=USER, password=SecretStr(PASSWORD),
                                       timeout=60))
    now = datetime.now(UTC)
    event = Event(uid=str(uuid.uuid4()), start=now - timedelta(hours=1), end=now,
                  title="Benchmark", location="bench",
                  properties={"org.opencastproject.workflow.definition": "fast"})
    job = IngestJob(
        recording_id=event.uid, event=event,
        package=IngestPackage(tracks=[Track(path, "presenter/source", "video/mp4", md5=md5)]),
        workflow_definition="fast", workflow_properties={}, link="mediapackage_id",
        legacy_catalogs=False, http=client.ingest_service(), service=client.service,
        checkpoint=_Checkpoint(), progress=lambda s, t: None,
        logger=logging.getLogger("bench"),
    )
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    cls(cls.Settings(**settings)).ingest(job)
    elapsed = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"seconds": elapsed, "maxrss_kib": usage.ru_maxrss, "cpu": cpu,
                      "hash_seconds": hash_seconds}))


def run_child(method: str, url: str, path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, "--url", url, "--file", str(path),
         "--settings", json.dumps(settings)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_curl(url: str, path: Path, tmp: Path) -> dict[str, Any]:
    import requests

    mp = requests.get(f"{url}/ingest/createMediaPackage", auth=(USER, PASSWORD), timeout=30).text
    mp_file = tmp / "mp.xml"
    mp_file.write_text(mp)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["curl", "-sS", "-f", "-o", "/dev/null", "-u", f"{USER}:{PASSWORD}",
         "-F", "flavor=presenter/source", "-F", f"mediaPackage=<{mp_file}",
         "-F", f"BODY=@{path};type=video/mp4", f"{url}/ingest/addTrack"],
    )
    # wait4: the peak RSS of this curl alone.
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, proc.args)
    return {"seconds": elapsed, "maxrss_kib": usage.ru_maxrss,
            "cpu": usage.ru_utime + usage.ru_stime}


def clean(storage: Path) -> None:
    # Uploaded copies go, and dirty pages are flushed, so one run's disk
    # writeback does not slow the next one down.
    for sub in ("mediapackage", "upload", "incoming"):
        shutil.rmtree(storage / sub, ignore_errors=True)
    os.sync()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="2G", help="file size, e.g. 200M or 2G (default 2G)")
    ap.add_argument("--methods", default="multirequest,single,zipped,chunked")
    ap.add_argument("--verify-md5", choices=("on", "off", "both"), default="on",
                    help="the strategies' MD5 check (hashing while sending)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of every row, interleaved (default 3)")
    ap.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.url, args.file, json.loads(args.settings))
        return 0

    size = parse_size(args.size)
    work = Path(args.dir or tempfile.mkdtemp(prefix="upload-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    storage = work / "storage"
    media = work / "media.mp4"
    print(f"making {size / (1 << 20):.0f} MiB of random data in {media} ...", flush=True)
    make_file(media, size)
    os.sync()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(storage)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdin is not None
    url = server.stdout.readline().strip()
    verify = {"on": [True], "off": [False], "both": [True, False]}[args.verify_md5]
    plan: list[tuple[str, str | None, dict[str, Any]]] = [("curl -F (addTrack)", None, {})]
    for method in args.methods.split(","):
        for v in verify:
            label = method + ("" if len(verify) == 1 else f" (md5 {'on' if v else 'off'})")
            plan.append((label, method, {"verify_md5": v}))
    # Rounds: curl, then every strategy, again and again. Each strategy is compared
    # with the curl run of its own round, so load drifting on a shared machine
    # affects both sides of a ratio alike.
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in plan}
    try:
        for round_no in range(args.rounds):
            for label, method, settings in plan:
                r = (run_curl(url, media, work) if method is None
                     else run_child(method, url, media, settings))
                results[label].append(r)
                clean(storage)
                print(f"round {round_no + 1}/{args.rounds} {label:26} {r['seconds']:7.2f} s",
                      flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)

    curl_times = [r["seconds"] for r in results[plan[0][0]]]
    print(f"\nfile: {size / (1 << 20):.0f} MiB, simulator on {url}, {args.rounds} round(s);"
          " medians, vs curl = median (min-max) of the per-round ratios,"
          " CPU = the uploading process's own CPU seconds")
    print(f"{'upload':26} {'seconds':>8} {'MiB/s':>7}  {'vs curl':<17} {'CPU s':>6}"
          f" {'peak RSS MiB':>12}")
    for label, _, _ in plan:
        times = [r["seconds"] for r in results[label]]
        ratios = [c / t for c, t in zip(curl_times, times, strict=True)]
        seconds = statistics.median(times)
        spread = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        rss = max(r["maxrss_kib"] for r in results[label]) / 1024
        cpu = statistics.median(r["cpu"] for r in results[label])
        hashing = statistics.median(r.get("hash_seconds", 0.0) for r in results[label])
        print(f"{label:26} {seconds:8.2f} {size / seconds / (1 << 20):7.0f}  {spread:<17}"
              f" {cpu:6.2f} {rss:12.1f}"
              + (f"   (kernel MD5 before upload: {hashing:.2f} s)" if hashing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

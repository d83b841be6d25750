from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import requests

SIZE = 200 * 1024 * 1024

SERVER = r"""
import resource, sys
from ocframe_simulator import OpencastSimulator
sim = OpencastSimulator(storage_dir=sys.argv[1]).start()
print(sim.url, flush=True)
for line in sys.stdin:
    if line.strip() == "rss":
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
    if line.strip() == "quit":
        break
sim.stop()
"""


@pytest.mark.timeout(120)
def test_200_mib_upload_is_streamed(tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    with open(video, "wb") as handle:
        handle.truncate(SIZE)  # sparse: fast to make, still 200 MiB on the wire
        handle.seek(SIZE - 5)
        handle.write(b"tail!")
    storage = tmp_path / "storage"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(storage)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        url = server.stdout.readline().strip()

        def rss_kib() -> int:
            server.stdin.write("rss\n")
            server.stdin.flush()
            return int(server.stdout.readline())

        auth = ("ca", "ca-secret")
        mp = requests.get(url + "/ingest/createMediaPackage", auth=auth, timeout=10).text
        before = rss_kib()
        with open(video, "rb") as body:
            r = requests.post(url + "/ingest/addTrack", auth=auth, timeout=120, files=[
                ("flavor", (None, "presenter/source")), ("mediaPackage", (None, mp)),
                ("BODY", ("big.mp4", body, "video/mp4"))])
        assert r.status_code == 200
        growth_mib = (rss_kib() - before) / 1024
        assert growth_mib < 40, f"server memory grew by {growth_mib:.0f} MiB"
        stored = [p for p in storage.rglob("big.mp4")]
        assert len(stored) == 1 and stored[0].stat().st_size == SIZE
        assert f"<size>{SIZE}</size>" in r.text
        digest = hashlib.md5()
        with open(video, "rb") as handle:
            while chunk := handle.read(8 * 1024 * 1024):
                digest.update(chunk)
        assert digest.hexdigest() in r.text
        server.stdin.write("quit\n")
        server.stdin.flush()
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()



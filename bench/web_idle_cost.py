"""The web page's idle cost: CPU and RSS the plugin adds to an idle agent.

Runs ``ocframe run`` twice with the same configuration against the
simulator, once with the web plugin disabled (``plugins.disabled``) and once
with it serving a page that a client polls as the browser does (status and
logs every 2 s), and reads the agent's CPU time and RSS from /proc.

    .venv/bin/python bench/web_idle_cost.py [seconds]
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import AgentProcess, agent, testsrc_input, write_config

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(sim: OpencastSimulator, directory: Path, web: bool,
            seconds: float) -> tuple[float, float]:
    plugins: dict[str, object] = {"settings": {"web": {"port": 0}}}
    if not web:
        plugins["disabled"] = ["web"]
    cfg = write_config(directory, sim, agents=[agent("room-idle", [testsrc_input("presenter")])],
                       extra={"plugins": plugins, "log_level": "WARNING"})
    with AgentProcess(cfg) as proc:
        assert proc.proc is not None
        pid = proc.proc.pid
        url_file = directory / "var" / "web.url"
        deadline = time.monotonic() + 30
        while not sim.agent_state("room-idle") and time.monotonic() < deadline:
            time.sleep(0.2)
        stop = threading.Event()
        poller = None
        if web:
            while not url_file.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            url = url_file.read_text().strip()

            def poll() -> None:
                http = requests.Session()
                while not stop.wait(2.0):
                    http.get(url + "/api/v1/status", timeout=10)
                    http.get(url + "/api/v1/logs?limit=40", timeout=10)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
        time.sleep(5)  # settle: imports done, first calendar polled
        before = cpu_seconds(pid)
        time.sleep(seconds)
        cpu = (cpu_seconds(pid) - before) / seconds * 100
        rss = rss_mib(pid)
        stop.set()
        if poller:
            poller.join()
    return cpu, rss


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 40.0
    with tempfile.TemporaryDirectory() as tmp, OpencastSimulator() as sim:
        base = measure(sim, Path(tmp) / "without", False, seconds)
        page = measure(sim, Path(tmp) / "with", True, seconds)
    print(f"without the page: CPU {base[0]:.2f} %, RSS {base[1]:.1f} MiB")
    print(f"with the page polled every 2 s: CPU {page[0]:.2f} %, RSS {page[1]:.1f} MiB")
    print(f"added: CPU {page[0] - base[0]:+.2f} % of one core, RSS {page[1] - base[1]:+.1f} MiB")


if __name__ == "__main__":
    main()

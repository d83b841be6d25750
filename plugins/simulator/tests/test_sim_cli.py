from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from ocframe_simulator.cli import build_parser, log_line


def test_cli_arguments() -> None:
    args = build_parser().parse_args([
        "--port", "0", "--auth", "both", "--user", "x:y:ROLE_ADMIN,ROLE_STUDIO",
        "--schedule", "room-101:60:300:Demo: part 1", "--schedule", "room-2:0:10"])
    assert args.port == 0 and args.auth == "both"
    assert args.user == [("x", "y", {"ROLE_ADMIN", "ROLE_STUDIO"})]
    assert args.schedule == [("room-101", 60.0, 300.0, "Demo: part 1"),
                             ("room-2", 0.0, 10.0, None)]
    assert build_parser().parse_args([]).port == 8080
    assert build_parser().parse_args([]).ingest_host is None
    assert build_parser().parse_args(["--ingest-host", "127.0.0.2"]).ingest_host == "127.0.0.2"


def test_request_log_line_names_the_host(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(ingest_host="127.0.0.2")
    requests.get(sim.ingest_url + "/ingest/createMediaPackage", auth=("ca", "ca-secret"),
                 timeout=10)
    requests.get(sim.url + "/ingest/createMediaPackage", auth=("ca", "ca-secret"), timeout=10)
    lines = [log_line(r) for r in sim.requests]
    ingest_host, core_host = (u.removeprefix("http://") for u in (sim.ingest_url, sim.url))
    assert f" 200 GET {ingest_host}/ingest/createMediaPackage ca/basic " in lines[0]
    assert f" 404 GET {core_host}/ingest/createMediaPackage " in lines[1]


@pytest.mark.parametrize("bad", [["--user", "nopassword"], ["--schedule", "a:x:1"],
                                 ["--schedule", "a:1:0"], ["--auth", "ntlm"]])
def test_cli_rejects(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(bad)


def test_plugin_import_has_no_side_effects(tmp_path: Path) -> None:
    """pytest imports the plugin in every run: in a fresh interpreter, importing it
    loads no server code, starts no thread and writes no file."""
    probe = (
        "import json, os, sys, threading\n"
        "import ocframe_simulator.pytest_plugin as plugin\n"
        "print(json.dumps({'modules': sorted(m for m in sys.modules if m.startswith(\n"
        "    ('werkzeug', 'ocframe_simulator.simulator', 'ocframe_simulator.server',\n"
        "     'ocframe_simulator.endpoints'))),\n"
        "  'threads': threading.active_count(), 'files': os.listdir('.'),\n"
        "  'fixtures': [n for n in ('opencast_simulator', 'opencast_simulator_factory')\n"
        "               if callable(getattr(plugin, n, None))]}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=True)
    seen = json.loads(done.stdout)
    assert seen["modules"] == [], "importing the plugin loaded server code"
    assert seen["threads"] == 1 and seen["files"] == []
    assert seen["fixtures"] == ["opencast_simulator", "opencast_simulator_factory"]
    # The lazy attribute still gives the real class when asked for.
    import ocframe_simulator

    assert ocframe_simulator.OpencastSimulator.__name__ == "OpencastSimulator"

"""`ocframe status`, `ocframe record` and `ocframe upload` against a running
agent, through its page (issue 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator
from ocframe_web.testing import running_page, wait_until, web_config


def ocframe(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120", "TERM": "dumb"}
    env.pop("OCFRAME_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "ocframe.cli", *args, "-c", str(cfg)],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.e2e
def test_status_record_and_upload_from_the_terminal(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    sim = opencast_simulator
    cfg = web_config(tmp_path, sim, "room-cli")
    absent = ocframe(cfg, "status")
    assert absent.returncode == 1 and "no agent with the web page runs here" in absent.stderr
    with running_page(cfg) as (_, page):
        idle = ocframe(cfg, "status")
        assert idle.returncode == 0, idle.stderr
        assert "room-cli" in idle.stdout and "idle" in idle.stdout
        assert "loops: all ok" in idle.stdout

        started = ocframe(cfg, "record", "room-cli", "--duration", "10m", "--title", "Q&A")
        assert started.returncode == 0, started.stderr
        rid = started.stdout.split()[1]
        assert rid.startswith("ocframe-adhoc-")
        wait_until(lambda: page.agent("room-cli")["running"], 20, "the recording")
        capturing = ocframe(cfg, "status")
        assert "capturing" in capturing.stdout and "ad-hoc Q&A" in capturing.stdout

        busy = ocframe(cfg, "record", "room-cli", "--duration", "5m")
        assert busy.returncode == 1 and "is recording" in busy.stderr
        bad = ocframe(cfg, "record", "room-cli", "--duration", "soon")
        assert bad.returncode == 1 and "not a duration" in bad.stderr

        stopped = ocframe(cfg, "record", "room-cli", "--stop", "--wait")
        assert stopped.returncode == 0, stopped.stderr
        assert f"{rid} ingested" in stopped.stdout
        ingest = sim.find_ingest(rid)
        assert ingest is not None and ingest.dublin_core["title"] == ["Q&A"]

        # By hand, again, with a progress bar until it is in.
        again = ocframe(cfg, "upload", rid)
        assert again.returncode == 0, again.stderr
        assert "queued for upload" in again.stdout and f"{rid} ingested" in again.stdout
        assert sim.workflows_started(rid) == 2

        assert "room-cli" in ocframe(cfg, "status", "--json").stdout



def test_titles_cannot_restyle_or_rewrite_the_terminal() -> None:
    import io

    from ocframe_web.cli import render_status
    from rich.console import Console

    hostile = "[bold red]PWNED[/] \x1b[2J\x1b]0;title\x07"
    status = {
        "agents": [{"name": "room[x]", "state": "capturing", "contact_error": None,
                    "last_contact": 0.0, "last_calendar_sync": 0.0, "error": hostile,
                    "running": [], "next_events": [{"uid": "u", "title": hostile,
                                                    "start": "2030-01-01T00:00:00+00:00",
                                                    "end": "2030-01-01T01:00:00+00:00"}]}],
        "recordings": [{"id": "r", "title": hostile, "agent": "room[x]",
                        "state": "upload_error", "upload": None, "error": hostile}],
        "loops": [], "disk": {"free_bytes": None, "low": False},
    }
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=True).print(render_status(status, 0.0))
    text = out.getvalue()
    assert "[bold red]PWNED[/]" in text  # shown as typed, not obeyed
    assert "\x1b[2J" not in text and "\x1b]0;" not in text
    assert "\\x1b[2J" in text

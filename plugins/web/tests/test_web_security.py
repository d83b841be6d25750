"""Off loopback only with a password; no action from another site (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from ocframe_simulator import OpencastSimulator
from ocframe_web.testing import Page, running_page, wait_until, web_config
from werkzeug.security import generate_password_hash


def test_off_loopback_without_a_password_the_agent_refuses_to_start(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    cfg = web_config(tmp_path, opencast_simulator, web={"listen": "0.0.0.0"})
    result = subprocess.run([sys.executable, "-m", "ocframe.cli", "run", "-c", str(cfg)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "[plugins.settings.web] listen = '0.0.0.0' is reachable from other machines" \
        in result.stderr
    assert not (tmp_path / "var" / "web.url").exists()


def test_off_loopback_every_request_needs_the_password(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    cfg = web_config(tmp_path, opencast_simulator, "room-auth",
                     web={"listen": "0.0.0.0", "password_hash": "${web_password_hash}"})
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(secrets.read_text()
                       + f'web_password_hash = "{generate_password_hash("s3cret horse")}"\n')
    with running_page(cfg) as (running, page):
        # It listens on every address; loopback is one of them.
        assert page.url.startswith("http://0.0.0.0:")
        url = page.url.replace("0.0.0.0", "127.0.0.1")
        anonymous = Page(url)
        for path in ("/", "/api/v1/status", "/api/v1/session", "/metrics"):
            response = anonymous.get(path)
            assert response.status_code == 401, path
            assert response.headers["WWW-Authenticate"].startswith("Basic")
        refused = anonymous.post("/api/v1/agents/room-auth/record", {"duration": 30},
                                 token=False)
        assert refused.status_code == 401
        wrong = Page(url, ("operator", "guess"))
        assert wrong.get("/api/v1/status").status_code == 401
        assert wrong.post("/api/v1/agents/room-auth/record", {"duration": 30},
                          token=False).status_code == 401
        assert running.service.store.recordings() == []
        assert not running.service.agents["room-auth"].scheduler.runs

        operator = Page(url, ("operator", "s3cret horse"))
        started = operator.post("/api/v1/agents/room-auth/record",
                                {"duration": "30s", "title": "With a password"})
        assert started.status_code == 201, started.text
        rid = started.json()["recording_id"]
        wait_until(lambda: operator.agent("room-auth")["running"], 20, "the recording")
        assert operator.post("/api/v1/agents/room-auth/stop").json() == {"stopped": [rid]}


def test_cross_site_posts_are_refused(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    cfg = web_config(tmp_path, opencast_simulator, "room-csrf")
    with running_page(cfg) as (running, page):
        record = "/api/v1/agents/room-csrf/record"
        body = {"duration": 30, "title": "forged"}
        # A form or fetch from a hostile page: the browser says where it comes from.
        assert page.post(record, body, {"Origin": "http://evil.example",
                                        "Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert page.post(record, body, {"Sec-Fetch-Site": "same-site"}).status_code == 403
        # An old browser without Sec-Fetch-*: the Origin alone is checked.
        assert page.post(record, body, {"Origin": "http://evil.example",
                                        "Sec-Fetch-Site": ""}).status_code == 403
        assert page.post(record, body, {"Origin": "null"}).status_code == 403
        # Same origin but without the page's token (a guessed request), or a wrong one.
        assert page.post(record, body, token=False).status_code == 403
        assert page.post(record, body, {"X-CSRF-Token": "x" * 43}).status_code == 403
        # DNS rebinding: a hostile name resolving to 127.0.0.1 is same-origin to
        # the browser, but not a name this page answers to.
        port = page.url.rsplit(":", 1)[1]
        rebound = requests.get(page.url + "/api/v1/session", timeout=10,
                               headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 400
        assert "csrf_token" not in rebound.text
        assert running.service.store.recordings() == []
        for path in ("/api/v1/recordings/x/retry", "/api/v1/recordings/x/delete",
                     "/api/v1/agents/room-csrf/stop"):
            assert page.post(path, {}, {"Origin": "http://evil.example"}).status_code == 403

        # The page itself may.
        started = page.post(record, body)
        assert started.status_code == 201, started.text
        assert page.post("/api/v1/agents/room-csrf/stop").status_code == 200


def test_installed_but_not_configured_it_opens_no_port(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    from ocframe.testing.harness import InProcessAgent, agent, write_config

    cfg = write_config(tmp_path, opencast_simulator, agents=[agent("room-none")])
    with InProcessAgent(cfg) as running:
        assert not (running.service.config.storage.directory / "web.url").exists()


def test_a_taken_port_leaves_the_agent_recording_without_a_page(
    opencast_simulator: OpencastSimulator, tmp_path: Path
) -> None:
    import socket

    from ocframe.testing.harness import InProcessAgent

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = web_config(tmp_path, opencast_simulator, "room-taken", web={"port": port})
        with InProcessAgent(cfg) as running:
            assert not (running.service.config.storage.directory / "web.url").exists()
            assert running.service.alive()

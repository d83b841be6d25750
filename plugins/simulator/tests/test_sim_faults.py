from __future__ import annotations

import http.client
import socket
import time

import pytest
import requests
from ocframe_simulator import OpencastSimulator

CA = ("ca", "ca-secret")
CAL = "/recordings/calendars"


def test_status_fault_times(sim: OpencastSimulator) -> None:
    sim.inject_fault(r"^/recordings/", "status", status=503, times=2)
    codes = [requests.get(sim.url + CAL, auth=CA, timeout=5).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert [r.fault for r in sim.requests] == ["status", "status", None]


def test_status_fault_method_filter_and_remove(sim: OpencastSimulator) -> None:
    handle = sim.inject_fault("/capture-admin/agents/", "status", status=500, method="POST")
    r = requests.post(sim.url + "/capture-admin/agents/a", data={"state": "idle"}, auth=CA,
                      timeout=5)
    assert r.status_code == 500 and "HTTP ERROR 500" in r.text
    assert requests.get(sim.url + "/capture-admin/agents/a.json", auth=CA,
                        timeout=5).status_code == 404
    handle.remove()
    assert requests.post(sim.url + "/capture-admin/agents/a", data={"state": "idle"}, auth=CA,
                         timeout=5).status_code == 200


def test_slow_fault(sim: OpencastSimulator) -> None:
    sim.inject_fault(CAL, "slow", delay=0.3, times=1)
    started = time.monotonic()
    assert requests.get(sim.url + CAL, auth=CA, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.exceptions.ReadTimeout):
        sim.inject_fault(CAL, "slow", delay=2, times=1)
        requests.get(sim.url + CAL, auth=CA, timeout=0.3)


def test_reset_fault_drops_connection(sim: OpencastSimulator) -> None:
    sim.inject_fault("/ingest/addTrack", "reset", after_bytes=64 * 1024, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(sim.url + "/ingest/addTrack", auth=CA, timeout=5,
                      files={"BODY": ("a.mp4", b"x" * 1024 * 1024)})
    assert sim.wait_for(lambda: any(r.fault == "reset" for r in sim.requests), timeout=2)
    assert requests.get(sim.url + CAL, auth=CA, timeout=5).status_code == 200


def test_wrong_content_type_fault(sim: OpencastSimulator) -> None:
    sim.inject_fault("/services/", "wrong_content_type")
    r = requests.get(sim.url + "/services/available.json", auth=CA, timeout=5,
                     params={"serviceType": "org.opencastproject.ingest"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "services" in r.json()


def test_truncated_fault(sim: OpencastSimulator) -> None:
    sim.inject_fault(CAL, "truncated", times=1)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(sim.url + CAL, auth=CA, timeout=5)
    host, port = sim.url.removeprefix("http://").split(":")
    sim.inject_fault(CAL, "truncated", times=1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", CAL, headers={"Authorization": "Basic Y2E6Y2Etc2VjcmV0"})
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_login_redirect_fault(sim: OpencastSimulator) -> None:
    sim.inject_fault(CAL, "login_redirect", times=1)
    r = requests.get(sim.url + CAL, auth=CA, timeout=5, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login.html")


def test_clear_faults_and_bad_kind(sim: OpencastSimulator) -> None:
    sim.inject_fault(".*", "status", status=500)
    sim.clear_faults()
    assert requests.get(sim.url + CAL, auth=CA, timeout=5).status_code == 200
    with pytest.raises(ValueError):
        sim.inject_fault(".*", "explode")


def test_go_down_and_come_up(sim: OpencastSimulator, post) -> None:
    post("/capture-admin/agents/a", data={"state": "idle"})
    port = sim.port
    sim.go_down()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sim.url + CAL, auth=CA, timeout=2)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    sim.come_up()
    assert sim.port == port
    assert requests.get(sim.url + CAL, auth=CA, timeout=5).status_code == 200
    assert sim.agent_state("a") == "idle"

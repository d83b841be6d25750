from __future__ import annotations

import requests
from ocframe_simulator import OpencastSimulator


def test_anonymous_is_redirected_to_login(sim: OpencastSimulator) -> None:
    r = requests.get(sim.url + "/recordings/calendars", allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login.html")
    followed = requests.get(sim.url + "/recordings/calendars", timeout=5)
    assert followed.status_code == 200 and followed.url.endswith("/login.html")


def test_basic_wrong_password_and_missing_role(sim: OpencastSimulator) -> None:
    r = requests.get(sim.url + "/recordings/calendars", auth=("ca", "nope"), timeout=5)
    assert r.status_code == 401 and r.text == "unauthorized"
    assert requests.get(sim.url + "/recordings/calendars", auth=("studio", "studio"),
                        timeout=5).status_code == 403
    assert requests.get(sim.url + "/ingest/createMediaPackage", auth=("studio", "studio"),
                        timeout=5).status_code == 200
    assert requests.post(sim.url + "/upload/newjob", auth=("ca", "ca-secret"),
                         timeout=5).status_code == 403
    log = sim.requests[-1]
    assert (log.user, log.auth_scheme, log.status) == ("ca", "basic", 403)


def test_custom_users(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(users={"x": ("y", {"ROLE_CAPTURE_AGENT"})})
    assert requests.get(sim.url + "/recordings/calendars", auth=("x", "y"),
                        timeout=5).status_code == 200
    assert requests.get(sim.url + "/recordings/calendars", auth=("ca", "ca-secret"),
                        timeout=5).status_code == 401


def test_a_password_rotated_on_the_running_core(sim: OpencastSimulator) -> None:
    url = sim.url + "/recordings/calendars"
    sim.set_user("ca", "rotated")
    assert requests.get(url, auth=("ca", "ca-secret"), timeout=5).status_code == 401
    assert requests.get(url, auth=("ca", "rotated"), timeout=5).status_code == 200  # role kept
    sim.set_user("new-ca", "pw", {"ROLE_CAPTURE_AGENT"})
    assert requests.get(url, auth=("new-ca", "pw"), timeout=5).status_code == 200
    assert sim.users["ca"][0] == "rotated"

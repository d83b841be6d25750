from __future__ import annotations

import hashlib
import re

import requests
from requests.auth import HTTPDigestAuth

DIGEST = {"X-Requested-Auth": "Digest"}
SYSTEM = ("opencast_system_account", "CHANGE_ME")


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def challenge(url: str) -> dict[str, str]:
    r = requests.get(url, headers=DIGEST, timeout=5)
    assert r.status_code == 401 and r.text == "unauthorized"
    header = r.headers["WWW-Authenticate"]
    assert header.startswith("Digest ")
    return dict(re.findall(r'(\w+)="?([^",]+)"?', header))


def authorization(params: dict[str, str], uri: str, nc: str = "00000001",
                  user: tuple[str, str] = SYSTEM) -> str:
    ha1 = md5(f"{user[0]}:{params['realm']}:{user[1]}")
    ha2 = md5(f"GET:{uri}")
    response = md5(f"{ha1}:{params['nonce']}:{nc}:abcdef:auth:{ha2}")
    return (f'Digest username="{user[0]}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{response}", qop=auth, nc={nc}, cnonce="abcdef", '
            "algorithm=MD5")


def test_digest_with_requests(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(auth="digest")
    r = requests.get(sim.url + "/recordings/calendars", headers=DIGEST,
                     auth=HTTPDigestAuth(*SYSTEM), timeout=5)
    assert r.status_code == 200 and r.text.startswith("BEGIN:VCALENDAR")
    assert sim.requests[-1].auth_scheme == "digest"
    # Basic is not accepted by a digest-only core.
    assert requests.get(sim.url + "/recordings/calendars", auth=SYSTEM,
                        timeout=5).status_code == 401


def test_digest_challenge_realm_and_qop(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(auth="digest")
    params = challenge(sim.url + "/recordings/calendars")
    assert params["realm"] == "Opencast" and params["qop"] == "auth"


def test_digest_without_header_redirects(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(auth="digest")
    r = requests.get(sim.url + "/recordings/calendars", auth=HTTPDigestAuth(*SYSTEM),
                     allow_redirects=False, timeout=5)
    assert r.status_code == 302


def test_digest_replayed_nc_and_wrong_password(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(auth="both")
    uri = "/recordings/calendars?agentid=a"
    params = challenge(sim.url + uri)
    header = {**DIGEST, "Authorization": authorization(params, uri)}
    assert requests.get(sim.url + uri, headers=header, timeout=5).status_code == 200
    replay = requests.get(sim.url + uri, headers=header, timeout=5)
    assert replay.status_code == 401 and 'stale="true"' not in replay.headers["WWW-Authenticate"]
    header2 = {**DIGEST, "Authorization": authorization(params, uri, nc="00000002")}
    assert requests.get(sim.url + uri, headers=header2, timeout=5).status_code == 200
    wrong = {**DIGEST, "Authorization": authorization(params, uri, "00000003", ("ca", "bad"))}
    assert requests.get(sim.url + uri, headers=wrong, timeout=5).status_code == 401
    # "both" also takes Basic.
    assert requests.get(sim.url + uri, auth=("ca", "ca-secret"), timeout=5).status_code == 200


def test_digest_stale_nonce(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(auth="digest", nonce_lifetime=0.0)
    uri = "/recordings/calendars"
    params = challenge(sim.url + uri)
    r = requests.get(sim.url + uri, headers={**DIGEST, "Authorization": authorization(params, uri)},
                     timeout=5)
    assert r.status_code == 401 and 'stale="true"' in r.headers["WWW-Authenticate"]


def test_digest_basic_only_core_refuses_digest(sim) -> None:
    uri = "/recordings/calendars"
    r = requests.get(sim.url + uri, headers=DIGEST, timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    r = requests.get(sim.url + uri, headers=DIGEST, auth=HTTPDigestAuth(*SYSTEM), timeout=5)
    assert r.status_code == 401


def test_expire_nonces_makes_a_valid_nonce_stale(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(auth="digest")  # the core's 300 s
    assert sim.nonce_lifetime == 300.0
    uri = "/recordings/calendars"
    params = challenge(sim.url + uri)
    ok = requests.get(sim.url + uri, timeout=5,
                      headers={**DIGEST, "Authorization": authorization(params, uri)})
    assert ok.status_code == 200
    sim.expire_nonces()
    r = requests.get(sim.url + uri, timeout=5, headers={
        **DIGEST, "Authorization": authorization(params, uri, nc="00000002")})
    assert r.status_code == 401 and 'stale="true"' in r.headers["WWW-Authenticate"]
    fresh = dict(re.findall(r'(\w+)="?([^",]+)"?', r.headers["WWW-Authenticate"]))
    assert fresh["nonce"] != params["nonce"]
    again = requests.get(sim.url + uri, timeout=5,
                         headers={**DIGEST, "Authorization": authorization(fresh, uri)})
    assert again.status_code == 200

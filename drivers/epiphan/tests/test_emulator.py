"""The emulated Pearl speaks the protocol the hardware documentation describes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta, timezone

import pytest
import requests
from ocframe_driver_epiphan.testing import PearlEmulator

API = "/api/v2.0"


@pytest.fixture
def pearl(pearl_password: str) -> Iterator[PearlEmulator]:
    tz = timezone(timedelta(hours=-5))
    with PearlEmulator(password=pearl_password, start_delay=0.1, stop_delay=0.1, tz=tz) as p:
        yield p


@pytest.fixture
def http(pearl_password: str) -> requests.Session:
    session = requests.Session()
    session.auth = ("admin", pearl_password)
    return session


def wait_state(http: requests.Session, url: str, want: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        result = http.get(url).json()["result"]
        if result["state"] == want:
            return result
        time.sleep(0.02)
    raise AssertionError(f"never reached {want}")


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"{API}/recorders"),
        ("GET", f"{API}/recorders/1/status"),
        ("POST", f"{API}/recorders/1/control/start"),
        ("GET", f"{API}/recorders/1/archive/files"),
        ("GET", f"{API}/inputs"),
        ("GET", f"{API}/system/firmware"),
        ("GET", "/admin/channel1/get_params.cgi?rec_enabled"),
        ("GET", "/admin/channel1/set_params.cgi?rec_enabled=on"),
    ],
)
def test_every_route_needs_basic_auth(pearl: PearlEmulator, method: str, path: str) -> None:
    assert requests.request(method, pearl.url + path).status_code == 401
    wrong = requests.request(method, pearl.url + path, auth=("admin", "nope"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers["WWW-Authenticate"]
    assert pearl.state("1") == "stopped"


def test_async_start_stop_and_archive(pearl: PearlEmulator, http: requests.Session) -> None:
    base = f"{pearl.url}{API}/recorders/1"
    # Long enough that "starting" is seen however loaded the machine is.
    pearl.start_delay = 3.0
    assert http.post(f"{base}/control/start").json() == {"status": "ok", "result": "ok"}
    assert http.get(f"{base}/status").json()["result"]["state"] == "starting"
    wait_state(http, f"{base}/status", "started")
    [entry] = http.get(f"{base}/archive/files").json()["result"]
    assert entry["recording"] is True and entry["recorder"] == "1"
    assert entry["created"].endswith("-0500")
    http.post(f"{base}/control/stop")
    wait_state(http, f"{base}/status", "stopped")
    pearl.wait_finished("1")
    [entry] = http.get(f"{base}/archive/files").json()["result"]
    assert entry["recording"] is False and entry["extension"] == "mp4"
    body = http.get(f"{base}/archive/files/{entry['id']}")
    assert body.headers["Content-Type"] == "application/octet-stream"
    assert len(body.content) == entry["size"]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", "-"],
        input=body.content,
        capture_output=True,
        check=True,
    )
    assert probe.stdout.split() == [b"h264", b"aac"]


def test_range_requests(pearl: PearlEmulator, http: requests.Session) -> None:
    entry = pearl.add_archive_file("1", bytes(range(256)) * 4, created=pearl.device.now())
    url = f"{pearl.url}{API}/recorders/1/archive/files/{entry.id}"
    part = http.get(url, headers={"Range": "bytes=1000-"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == "bytes 1000-1023/1024"
    assert part.content == (bytes(range(256)) * 4)[1000:]
    pearl.faults.range_support = False
    whole = http.get(url, headers={"Range": "bytes=1000-"})
    assert whole.status_code == 200 and len(whole.content) == 1024
    assert "Accept-Ranges" not in whole.headers


def test_paging(pearl: PearlEmulator, http: requests.Session) -> None:
    for i in range(25):
        pearl.add_archive_file("1", b"x", created=pearl.device.now() + timedelta(seconds=i))
    url = f"{pearl.url}{API}/recorders/1/archive/files"
    pages = [http.get(url, params={"from": f, "limit": 10}).json()["result"] for f in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert len({e["id"] for p in pages for e in p}) == 25
    assert http.get(url, params={"from": "x"}).status_code == 400


def test_errors_and_faults(pearl: PearlEmulator, http: requests.Session) -> None:
    missing = http.get(f"{pearl.url}{API}/recorders/9/status")
    assert missing.status_code == 404
    assert missing.json() == {"status": "notfound", "message": "Recorder not found"}
    pearl.faults.fail_next("start", count=2, status=503)
    start = f"{pearl.url}{API}/recorders/1/control/start"
    assert [http.post(start).status_code for _ in range(3)] == [503, 503, 200]
    pearl.faults.fail_next("status", status=409, message="Busy")
    conflict = http.get(f"{pearl.url}{API}/recorders/1/status")
    assert conflict.status_code == 409 and conflict.json()["message"] == "Busy"
    with pytest.raises(ValueError):
        pearl.faults.fail_next("nonsense")


def test_cut_download(pearl: PearlEmulator, http: requests.Session) -> None:
    entry = pearl.add_archive_file("1", b"z" * 100_000, created=pearl.device.now())
    pearl.faults.cut_next_downloads(after_bytes=1000)
    url = f"{pearl.url}{API}/recorders/1/archive/files/{entry.id}"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        http.get(url).content  # noqa: B018 - reading is the point
    assert len(http.get(url).content) == 100_000


def test_legacy_cgi(pearl: PearlEmulator, http: requests.Session) -> None:
    admin = f"{pearl.url}/admin"
    got = http.get(f"{admin}/channel1/get_params.cgi?rec_enabled&framesize&bogus")
    assert got.text.splitlines() == [
        "rec_enabled = ",
        "framesize = 1920x1080",
        "bogus = Unknown parameter",
    ]
    assert http.get(f"{admin}/channel1/set_params.cgi?rec_enabled=on").status_code == 200
    assert pearl.state("1") in ("starting", "started")
    assert "rec_enabled = on" in http.get(f"{admin}/channel1/get_params.cgi?rec_enabled").text
    http.get(f"{admin}/channel1/set_params.cgi?rec_enabled=")
    assert http.get(f"{admin}/channel1/get_params.cgi?rec_enabled").text == "rec_enabled = \n"
    assert http.get(f"{admin}/channelm1/get_params.cgi?rec_enabled").status_code == 200
    assert http.get(f"{admin}/channel5/get_params.cgi?rec_enabled").status_code == 404


def test_command_line(pearl_password: str) -> None:
    env = {**os.environ, "PEARL_EMULATOR_PASSWORD": pearl_password}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocframe_driver_epiphan.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[3]
        assert pearl_password not in " ".join(proc.args)  # type: ignore[arg-type]
        answer = requests.get(f"{url}{API}/system/firmware", auth=("admin", pearl_password))
        assert answer.json()["result"]["product_name"] == "Pearl Mini"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0

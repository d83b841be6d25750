from __future__ import annotations

import base64
import hashlib
import http.client
import io
import re
import time
import zipfile
from datetime import timedelta

import pytest
import requests
from ocframe_simulator import OpencastSimulator

CA = ("ca", "ca-secret")
ADMIN = ("admin", "opencast")


def single(sim: OpencastSimulator, fields: list, wd: str | None = None) -> requests.Response:
    url = f"{sim.url}/ingest/addMediaPackage" + (f"/{wd}" if wd else "")
    return requests.post(url, files=fields, auth=CA, timeout=10)


def test_single_request_ingest(sim: OpencastSimulator, now) -> None:
    uid = sim.add_event("room-101", now, now + timedelta(hours=1), workflow="fast")
    fields = [
        ("title", (None, "Lecture")), ("creator", (None, "Prof")), ("identifier", (None, uid)),
        ("isPartOf", (None, "series-1")), ("straightToPublishing", (None, "true")),
        ("flavor", (None, "presenter/source")), ("BODY", ("a.mp4", b"aaaa", "video/mp4")),
        ("tag", (None, "archive")),
        ("flavor", (None, "presentation/source")), ("BODY", ("b.mp4", b"bbbbbb", "video/mp4")),
    ]
    r = single(sim, fields, wd="fast")
    assert r.status_code == 200 and 'state="RUNNING"' in r.text
    ingest = sim.wait_for_ingest(uid, timeout=1)
    assert ingest is not None and ingest.method == "single" and ingest.mediapackage_id == uid
    assert [(t.flavor, t.size) for t in ingest.tracks] == [("presenter/source", 4),
                                                           ("presentation/source", 6)]
    assert ingest.tracks[1].tags == ["archive"]
    assert ingest.dublin_core["title"] == ["Lecture"] and ingest.properties == {
        "straightToPublishing": "true"}
    assert ingest.catalogs[0].flavor == "dublincore/episode"
    # A workflow for this media package runs already.
    assert single(sim, fields, wd="fast").status_code == 409
    sim.finish_workflow(uid)
    assert single(sim, fields).status_code == 200
    assert sim.ingests[-1].properties == {}  # only the /{wd} form takes properties
    assert sim.workflows_started(uid) == 2


def test_single_request_rejections(sim: OpencastSimulator) -> None:
    no_media = [("title", (None, "x")), ("flavor", (None, "a/b"))]
    assert single(sim, no_media).status_code == 400
    no_title = [("flavor", (None, "a/b")), ("BODY", ("a.mp4", b"a"))]
    assert single(sim, no_title).status_code == 400
    no_flavor = [("title", (None, "x")), ("BODY", ("a.mp4", b"a"))]
    assert single(sim, no_flavor).status_code == 400


MANIFEST = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<mediapackage xmlns="http://mediapackage.opencastproject.org" id="{id}">'
            '<media><track id="t1" type="presenter/source"><mimetype>video/mp4</mimetype>'
            "<url>presenter.mp4</url></track></media><metadata/><attachments/></mediapackage>")


def make_zip(mp_id: str, root: str = "", method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr(root + "manifest.xml", MANIFEST.format(id=mp_id))
        archive.writestr(root + "presenter.mp4", b"zipped-video")
    return buffer.getvalue()


@pytest.mark.parametrize("root", ["", "package/"])
def test_zipped_raw_body(sim: OpencastSimulator, now, root: str) -> None:
    uid = sim.add_event("room-101", now, now + timedelta(hours=1))
    r = requests.post(f"{sim.url}/ingest/addZippedMediaPackage/fast", data=make_zip(uid, root),
                      headers={"Content-Type": "application/zip"}, auth=CA, timeout=10)
    assert r.status_code == 200, r.headers
    ingest = sim.wait_for_ingest(uid, timeout=1)
    assert ingest is not None and ingest.method == "zipped"
    (track,) = ingest.tracks
    assert track.path is not None and track.path.read_bytes() == b"zipped-video"
    assert track.md5 == hashlib.md5(b"zipped-video").hexdigest()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def manifest_with(mp_id: str, *urls: str) -> bytes:
    tracks = "".join(f'<track id="t{i}" type="presenter/source"><mimetype>video/mp4</mimetype>'
                     f"<url>{url}</url></track>" for i, url in enumerate(urls))
    return (f'<?xml version="1.0" encoding="UTF-8"?><mediapackage id="{mp_id}"'
            f' xmlns="http://mediapackage.opencastproject.org"><media>{tracks}</media>'
            "<metadata/><attachments/></mediapackage>").encode()


def post_zip(sim: OpencastSimulator, data: bytes) -> requests.Response:
    return requests.post(f"{sim.url}/ingest/addZippedMediaPackage", data=data, auth=CA,
                         headers={"Content-Type": "application/zip"}, timeout=10)


# (entries, element URLs) the core maps: a URL is the entry's path below the
# one folder all content entries share, if there is such a folder.
ACCEPTED = {
    "flat": ({"a.mp4": b"A", "b.mp4": b"B"}, ["a.mp4", "b.mp4"]),
    "root folder": ({"pkg/a.mp4": b"A", "pkg/sub/b.mp4": b"B"}, ["a.mp4", "sub/b.mp4"]),
    "manifest outside the root": ({"media/a.mp4": b"A"}, ["a.mp4"]),
    "two top folders": ({"media/a.mp4": b"A", "metadata/b.mp4": b"B"},
                        ["media/a.mp4", "metadata/b.mp4"]),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_zipped_element_urls_the_core_maps(sim: OpencastSimulator, case: str) -> None:
    entries, urls = ACCEPTED[case]
    manifest_dir = "pkg/" if case == "root folder" else ""
    data = zip_of({manifest_dir + "manifest.xml": manifest_with("mp-ok", *urls), **entries})
    r = post_zip(sim, data)
    assert r.status_code == 200, r.headers.get("X-Simulator-Reason")
    stored = sorted(t.path.read_bytes() for t in sim.ingests[-1].tracks if t.path)
    assert stored == sorted(entries.values())


REFUSED = {
    # The root folder is implied, never repeated (the core looks up root + URL).
    "url repeats the root folder": ({"pkg/a.mp4": b"A"}, "pkg/a.mp4"),
    "one folder is a root even if the agent meant it otherwise": ({"media/a.mp4": b"A"},
                                                                   "media/a.mp4"),
    "leading slash": ({"a.mp4": b"A", "b.txt": b"B"}, "/a.mp4"),
    "dot segment": ({"a.mp4": b"A", "b.txt": b"B"}, "./a.mp4"),
    "no such entry": ({"a.mp4": b"A", "b.txt": b"B"}, "c.mp4"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_zipped_element_urls_the_core_refuses(sim: OpencastSimulator, case: str) -> None:
    entries, url = REFUSED[case]
    r = post_zip(sim, zip_of({"manifest.xml": manifest_with("mp-bad", url), **entries}))
    assert r.status_code == 400
    assert "unable to map element name" in r.headers["X-Simulator-Reason"]
    assert sim.ingests == [] and sim.workflows_started("mp-bad") == 0


def test_zipped_absolute_url_is_refused_not_fetched(sim: OpencastSimulator, now) -> None:
    """The core maps every URL to a zip entry; it fetches nothing, even from itself."""
    stored = requests.post(f"{sim.url}/ingest/addTrack", auth=CA, timeout=10, files=[
        ("flavor", (None, "presenter/source")),
        ("mediaPackage", (None, manifest_with("mp-src").decode())),  # no tracks yet
        ("BODY", ("a.mp4", b"A"))])
    assert stored.status_code == 200
    url = stored.text.split("<url>")[1].split("</url>")[0]
    assert requests.get(url, auth=("admin", "opencast"), timeout=10).content == b"A"
    before = len(sim.requests)
    r = post_zip(sim, zip_of({"manifest.xml": manifest_with("mp-abs", url), "b.txt": b"B"}))
    assert r.status_code == 400 and "unable to map" in r.headers["X-Simulator-Reason"]
    assert [q.path for q in sim.requests[before:]] == ["/ingest/addZippedMediaPackage"]
    assert sim.workflows_started("mp-abs") == 0


def test_zipped_multipart_and_limit(sim: OpencastSimulator) -> None:
    files = [("workflowDefinitionId", (None, "fast")), ("workflowInstanceId", (None, "wf-1")),
             ("trimHold", (None, "true")), ("BODY", ("mp.zip", make_zip("mp-1")))]
    r = requests.post(f"{sim.url}/ingest/addZippedMediaPackage", files=files, auth=CA, timeout=10)
    assert r.status_code == 200
    ingest = sim.ingests[-1]
    assert ingest.workflow_instance_id == "wf-1" and ingest.properties == {"trimHold": "true"}
    sim.ingest_limit_reached = True
    r = requests.post(f"{sim.url}/ingest/addZippedMediaPackage", data=make_zip("mp-2"),
                      auth=CA, timeout=10)
    assert r.status_code == 503


def test_zipped_bad_packages(sim: OpencastSimulator) -> None:
    url = f"{sim.url}/ingest/addZippedMediaPackage"
    assert requests.post(url, data=b"not a zip", auth=CA, timeout=5).status_code == 400
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("video.mp4", b"x")
    assert requests.post(url, data=buffer.getvalue(), auth=CA, timeout=5).status_code == 400


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zipped_entries_unpacked_once(sim: OpencastSimulator, method: int) -> None:
    """Stored entries are written while they arrive, deflated ones by zipfile;
    either way the spool holds nothing afterwards."""
    files = [("BODY", ("mp.zip", make_zip("mp-z", method=method)))]
    r = requests.post(f"{sim.url}/ingest/addZippedMediaPackage", files=files, auth=CA,
                      timeout=10)
    assert r.status_code == 200
    (track,) = sim.ingests[-1].tracks
    assert track.path is not None and track.path.read_bytes() == b"zipped-video"
    assert track.md5 == hashlib.md5(b"zipped-video").hexdigest() and track.size == 12
    assert list((sim.storage_dir / "incoming").iterdir()) == []


def test_zipped_bad_crc(sim: OpencastSimulator) -> None:
    data = make_zip("mp-c").replace(b"zipped-video", b"zipped-VIDEO")
    r = requests.post(f"{sim.url}/ingest/addZippedMediaPackage", data=data, auth=CA, timeout=5)
    assert r.status_code == 400 and "CRC" in r.headers["X-Simulator-Reason"]
    assert list((sim.storage_dir / "incoming").iterdir()) == []


def broken_off(sim: OpencastSimulator, job: str, chunk: bytes) -> None:
    """Chunk 1 whose connection drops half way through the file data."""
    body = (b"--b\r\nContent-Disposition: form-data; name=\"chunknumber\"\r\n\r\n1\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"filedata\"; filename=\"x\"\r\n\r\n"
            + chunk + b"\r\n--b--\r\n")
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    conn.putrequest("POST", f"/upload/job/{job}")
    conn.putheader("Authorization", "Basic " + base64.b64encode(b"admin:opencast").decode())
    conn.putheader("Content-Type", "multipart/form-data; boundary=b")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    conn.send(body[: len(body) // 2])
    conn.close()


def test_chunked_upload(sim: OpencastSimulator) -> None:
    mp = requests.get(f"{sim.url}/ingest/createMediaPackage", auth=CA, timeout=5).text
    data = bytes(range(256)) * 40  # 10240 bytes: chunks of 4096, 4096, 2048
    r = requests.post(f"{sim.url}/upload/newjob", auth=ADMIN, timeout=5, data={
        "filename": "presenter.mp4", "filesize": len(data), "chunksize": 4096,
        "flavor": "presenter/source", "mediapackage": mp})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    job = r.text.strip()

    def send(number: int, chunk: bytes, order: str = "normal") -> requests.Response:
        fields = [("chunknumber", (None, str(number))), ("filedata", ("blob", chunk))]
        if order == "reversed":
            fields.reverse()
        return requests.post(f"{sim.url}/upload/job/{job}", files=fields, auth=ADMIN, timeout=5)

    assert send(0, data[:4096], "reversed").status_code == 400
    assert send(1, data[4096:8192]).status_code == 400  # wrong order
    assert send(0, data[:4000]).status_code == 400  # wrong size
    assert send(0, data[:4096]).status_code == 200
    status = requests.get(f"{sim.url}/upload/job/{job}.json", auth=ADMIN, timeout=5).json()
    assert status["uploadjob"]["current-chunk"]["number"] == 0
    # Chunks are appended as they arrive: a refused or broken-off one is cut back off.
    assert send(1, data[4096:8192] + b"extra").status_code == 400
    broken_off(sim, job, data[4096:8192])
    assert send(1, data[4096:8192]).status_code == 200
    assert send(2, data[8192:]).status_code == 200
    assert sim.wait_for(lambda: sim.upload_job_states(job)[-1] == "COMPLETE", timeout=5)
    assert "FINALIZING" in sim.upload_job_states(job)
    status = requests.get(f"{sim.url}/upload/job/{job}.json", auth=ADMIN, timeout=5).json()
    payload_mp = status["uploadjob"]["payload"]["mediapackage"]
    assert 'type="presenter/source"' in payload_mp
    assert hashlib.md5(data).hexdigest() in payload_mp
    r = requests.post(f"{sim.url}/ingest/ingest", data={"mediaPackage": payload_mp},
                      auth=ADMIN, timeout=5)
    assert r.status_code == 200
    assert sim.ingests[-1].method == "chunked"
    track = sim.ingests[-1].tracks[0]
    assert track.path is not None and track.path.read_bytes() == data
    assert requests.get(f"{sim.url}/upload/job/nope.json", auth=ADMIN,
                        timeout=5).status_code == 404


def test_wait_for_uses_notifications(sim: OpencastSimulator) -> None:
    started = time.monotonic()
    assert not sim.wait_for(lambda: False, timeout=0.05)
    assert time.monotonic() - started < 1
    assert re.match(r"http://127\.0\.0\.1:\d+$", sim.url)


def test_chunked_upload_finished_within_last_chunk(sim: OpencastSimulator) -> None:
    """With no finalize delay the last chunk's answer is the completed job, as
    from the real core."""
    sim.upload_finalize_delay = 0
    mp = requests.get(f"{sim.url}/ingest/createMediaPackage", auth=CA, timeout=5).text
    r = requests.post(f"{sim.url}/upload/newjob", auth=ADMIN, timeout=5, data={
        "filename": "a.mp4", "filesize": 10, "chunksize": 6, "flavor": "presenter/source",
        "mediapackage": mp})
    job = r.text.strip()
    for number, chunk in enumerate((b"012345", b"6789")):
        r = requests.post(f"{sim.url}/upload/job/{job}", auth=ADMIN, timeout=5, files=[
            ("chunknumber", (None, str(number))), ("filedata", ("blob", chunk))])
        assert r.status_code == 200
    assert 'state="COMPLETE"' in r.text and hashlib.md5(b"0123456789").hexdigest() in r.text
    assert sim.upload_job_states(job)[-2:] == ["FINALIZING", "COMPLETE"]

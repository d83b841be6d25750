from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import requests
from ocframe_simulator import OpencastSimulator

CA = ("ca", "ca-secret")


def mp_id(xml: str) -> str:
    match = re.search(r'<mediapackage[^>]* id="([^"]+)"', xml)
    assert match, xml
    return match.group(1)


def add_track(sim: OpencastSimulator, mp: str, data: bytes = b"video-bytes",
              flavor: str = "presenter/source", endpoint: str = "addTrack",
              extra: dict | None = None) -> requests.Response:
    fields = [("flavor", (None, flavor)), ("tags", (None, "archive,engage")),
              ("mediaPackage", (None, mp))]
    fields += [(k, (None, v)) for k, v in (extra or {}).items()]
    fields.append(("BODY", ("presenter.mp4", data, "video/mp4")))
    return requests.post(f"{sim.url}/ingest/{endpoint}", files=fields, auth=CA, timeout=10)


def test_multi_request_ingest_linked_by_mp_id(sim: OpencastSimulator, now) -> None:
    uid = sim.add_event("room-101", now, now + timedelta(hours=1), workflow="fast",
                        workflow_config={"straightToPublishing": "true"})
    r = requests.put(f"{sim.url}/ingest/createMediaPackageWithID/{uid}", auth=CA, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    assert mp_id(r.text) == uid and 'xmlns="http://mediapackage.opencastproject.org"' in r.text
    data = b"x" * 100_000
    r = add_track(sim, r.text, data)
    assert r.status_code == 200, r.headers
    assert "<mimetype>video/mp4</mimetype>" in r.text
    assert f'<checksum type="md5">{hashlib.md5(data).hexdigest()}</checksum>' in r.text
    assert "<tag>archive</tag><tag>engage</tag>" in r.text
    url = re.search(r"<url>([^<]+)</url>", r.text).group(1)
    assert requests.get(url, auth=("admin", "opencast"), timeout=5).content == data
    r = requests.post(f"{sim.url}/ingest/ingest", auth=CA, timeout=5,
                      data={"mediaPackage": r.text, "trimHold": "false"})
    assert r.status_code == 200
    assert re.search(r'<wf:workflow [^>]*id="\d+"[^>]*state="RUNNING"', r.text)
    assert "<mediapackage" in r.text
    ingest = sim.wait_for_ingest(uid, timeout=1)
    assert ingest is not None and ingest.method == "multi"
    assert ingest.workflow_definition == "fast" and ingest.event_uid == uid
    assert ingest.properties == {"trimHold": "false"}
    assert ingest.configuration == {"straightToPublishing": "true", "trimHold": "false"}
    (track,) = ingest.tracks
    assert track.flavor == "presenter/source" and track.size == len(data)
    assert track.path is not None and track.path.read_bytes() == data
    assert sim.workflows_started(uid) == 1


def test_legacy_link_by_workflow_instance_id(sim: OpencastSimulator, now) -> None:
    uid = sim.add_event("room-101", now, now + timedelta(hours=1), workflow="special")
    mp = requests.get(f"{sim.url}/ingest/createMediaPackage", auth=CA, timeout=5).text
    mp = add_track(sim, mp).text
    r = requests.post(f"{sim.url}/ingest/ingest", auth=CA, timeout=5,
                      data={"mediaPackage": mp, "workflowInstanceId": uid})
    assert r.status_code == 200
    ingest = sim.wait_for_ingest(uid, timeout=1)
    assert ingest is not None and ingest.mediapackage_id != uid
    assert ingest.workflow_definition == "special" and ingest.workflow_instance_id == uid


def test_ingest_with_definition_in_path(sim: OpencastSimulator) -> None:
    mp = requests.get(f"{sim.url}/ingest/createMediaPackage", auth=CA, timeout=5).text
    r = requests.post(f"{sim.url}/ingest/ingest/my-wd", auth=CA, timeout=5,
                      data={"mediaPackage": mp})
    assert r.status_code == 200
    assert sim.ingests[-1].workflow_definition == "my-wd"


@pytest.mark.parametrize("mp", ["", "not xml", "<foo/>", "<mediapackage/>"])
def test_ingest_rejects_bad_mediapackage(sim: OpencastSimulator, mp: str) -> None:
    r = requests.post(f"{sim.url}/ingest/ingest", auth=CA, timeout=5, data={"mediaPackage": mp})
    assert r.status_code == 400


def test_add_element_rejections(sim: OpencastSimulator) -> None:
    mp = requests.get(f"{sim.url}/ingest/createMediaPackage", auth=CA, timeout=5).text
    url = f"{sim.url}/ingest/addTrack"
    # not multipart
    assert requests.post(url, data={"flavor": "a/b", "mediaPackage": mp}, auth=CA,
                         timeout=5).status_code == 400
    # file before flavor
    files = [("mediaPackage", (None, mp)), ("BODY", ("f.mp4", b"x")), ("flavor", (None, "a/b"))]
    assert requests.post(url, files=files, auth=CA, timeout=5).status_code == 400
    # no file
    files = [("flavor", (None, "a/b")), ("mediaPackage", (None, mp))]
    assert requests.post(url, files=files, auth=CA, timeout=5).status_code == 400
    # bad flavor
    assert add_track(sim, mp, flavor="presenter").status_code == 400
    # bad media package
    assert add_track(sim, "<nope").status_code == 400


def test_catalog_attachment_partial_track_and_dc(sim: OpencastSimulator) -> None:
    mp = requests.get(f"{sim.url}/ingest/createMediaPackage", auth=CA, timeout=5).text
    mp = add_track(sim, mp, endpoint="addPartialTrack", extra={"startTime": "1500"}).text
    assert add_track(sim, mp, endpoint="addPartialTrack").status_code == 400  # no startTime
    files = [("flavor", (None, "security/xacml+episode")), ("mediaPackage", (None, mp)),
             ("BODY", ("acl.xml", b"<acl/>", "text/xml"))]
    mp = requests.post(f"{sim.url}/ingest/addAttachment", files=files, auth=CA, timeout=5).text
    files = [("flavor", (None, "captions/vtt")), ("mediaPackage", (None, mp)),
             ("BODY", ("c.vtt", b"WEBVTT"))]
    mp = requests.post(f"{sim.url}/ingest/addCatalog", files=files, auth=CA, timeout=5).text
    dc = ('<dublincore xmlns="http://www.opencastproject.org/xsd/1.0/dublincore/" '
          'xmlns:dcterms="http://purl.org/dc/terms/"><dcterms:title>T</dcterms:title></dublincore>')
    r = requests.post(f"{sim.url}/ingest/addDCCatalog", auth=CA, timeout=5,
                      data={"mediaPackage": mp, "dublinCore": dc})
    assert r.status_code == 200
    mp = r.text
    assert mp.index("<media>") < mp.index("<metadata>") < mp.index("<attachments>")
    requests.post(f"{sim.url}/ingest/ingest", data={"mediaPackage": mp}, auth=CA, timeout=5)
    ingest = sim.ingests[-1]
    assert ingest.tracks[0].start_time == 1500
    assert {c.flavor for c in ingest.catalogs} == {"captions/vtt", "dublincore/episode"}
    assert ingest.attachments[0].flavor == "security/xacml+episode"
    assert ingest.dublin_core["title"] == ["T"]

from __future__ import annotations

import base64
from datetime import timedelta

import icalendar
from ocframe_simulator import OpencastSimulator


def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def attachments(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in unfold(text):
        if line.startswith("ATTACH;"):
            params, _, value = line.partition(":")
            name = params.split("X-APPLE-FILENAME=")[1]
            found[name] = base64.b64decode(value).decode("utf-8")
    return found


def test_calendar_format_and_attachments(sim: OpencastSimulator, get, now) -> None:
    uid = sim.add_event(
        "room-101", now + timedelta(minutes=5), now + timedelta(minutes=65),
        title="Analysis I, part 2; intro\nnew line \\ slash", inputs=["presenter", "audio"],
        workflow="fast", workflow_config={"straightToPublishing": "true", "a.b.c": "x"},
        series_id="series-1", series_title="Maths", description="demo", creator="Prof")
    r = get("/recordings/calendars", params={"agentid": "room-101"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/calendar")
    text = r.text
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[:4] == ["BEGIN:VCALENDAR", "PRODID:Opencast Calendar File 0.5",
                         "VERSION:2.0", "CALSCALE:GREGORIAN"]
    keys = [line.split(":")[0].split(";")[0] for line in lines[5:lines.index("END:VEVENT")]]
    assert keys == ["DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "UID", "LAST-MODIFIED",
                    "DESCRIPTION", "LOCATION", "RELATED-TO", "ATTACH", "ATTACH", "ATTACH"]
    assert "SUMMARY:Analysis I\\, part 2\\; intro\\nnew line \\\\ slash" in lines
    assert f"UID:{uid}" in lines
    att = attachments(text)
    assert set(att) == {"episode.xml", "series.xml",
                        "org.opencastproject.capture.agent.properties"}
    assert f"<dcterms:identifier>{uid}</dcterms:identifier>" in att["episode.xml"]
    assert "<dcterms:spatial>room-101</dcterms:spatial>" in att["episode.xml"]
    assert "<dcterms:isPartOf>series-1</dcterms:isPartOf>" in att["episode.xml"]
    assert "<dcterms:title>Maths</dcterms:title>" in att["series.xml"]
    props = dict(line.split("=", 1) for line in att[
        "org.opencastproject.capture.agent.properties"].splitlines() if "=" in line
        and not line.startswith("#"))
    assert props["capture.device.names"] == "presenter,audio"
    assert props["org.opencastproject.workflow.definition"] == "fast"
    assert props["org.opencastproject.workflow.config.a.b.c"] == "x"
    assert props["event.location"] == "room-101" and props["event.series"] == "series-1"
    cal = icalendar.Calendar.from_ical(text)
    event = next(iter(cal.walk("VEVENT")))
    assert str(event["SUMMARY"]).startswith("Analysis I, part 2; intro")


def test_inputs_key_omitted_when_none(sim: OpencastSimulator, get, now) -> None:
    sim.add_event("room-101", now, now + timedelta(hours=1))
    att = attachments(get("/recordings/calendars", params={"agentid": "room-101"}).text)
    assert "capture.device.names" not in att["org.opencastproject.capture.agent.properties"]
    assert "series.xml" not in att


def test_cutoff_and_one_hour_rule(sim: OpencastSimulator, get, now) -> None:
    soon = sim.add_event("a", now + timedelta(hours=1), now + timedelta(hours=2))
    later = sim.add_event("a", now + timedelta(days=2), now + timedelta(days=2, hours=1))
    recent = sim.add_event("a", now - timedelta(hours=2), now - timedelta(minutes=30))
    old = sim.add_event("a", now - timedelta(hours=3), now - timedelta(minutes=61))
    other = sim.add_event("b", now, now + timedelta(hours=1))
    cutoff = int((now + timedelta(days=1)).timestamp() * 1000)
    text = get("/recordings/calendars", params={"agentid": "a", "cutoff": cutoff}).text
    assert soon in text and recent in text
    assert later not in text and old not in text and other not in text
    everything = get("/recordings/calendars").text
    assert other in everything and later in everything


def test_etag_and_304(sim: OpencastSimulator, get, now) -> None:
    uid = sim.add_event("room-101", now, now + timedelta(hours=1))
    r = get("/recordings/calendars", params={"agentid": "room-101"})
    etag = r.headers["ETag"]
    assert etag.startswith("mod") and '"' not in etag
    r2 = get("/recordings/calendars", params={"agentid": "room-101"},
             headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    quoted = get("/recordings/calendars", params={"agentid": "room-101"},
                 headers={"If-None-Match": f'"{etag}"'})
    assert quoted.status_code == 200
    sim.update_event(uid, title="changed")
    r3 = get("/recordings/calendars", params={"agentid": "room-101"},
             headers={"If-None-Match": etag})
    assert r3.status_code == 200 and r3.headers["ETag"] != etag and "SUMMARY:changed" in r3.text
    assert "ETag" not in get("/recordings/calendars").headers
    log = sim.calendar_requests
    assert [c.status for c in log] == [200, 304, 200, 200, 200]
    assert log[1].if_none_match == etag


def test_remove_event_changes_etag(sim: OpencastSimulator, get, now) -> None:
    uid = sim.add_event("room-101", now, now + timedelta(hours=1))
    etag = get("/recordings/calendars", params={"agentid": "room-101"}).headers["ETag"]
    sim.remove_event(uid)
    r = get("/recordings/calendars", params={"agentid": "room-101"},
            headers={"If-None-Match": etag})
    assert r.status_code == 200 and uid not in r.text


def test_folding_switch(sim: OpencastSimulator, get, now) -> None:
    sim.add_event("room-101", now, now + timedelta(hours=1), title="Ü" * 100)
    assert max(len(x.encode()) for x in get("/recordings/calendars").text.split("\r\n")) > 75
    sim.fold_calendar_lines = True
    text = get("/recordings/calendars").text
    assert max(len(x.encode()) for x in text.split("\r\n")) <= 75
    assert "SUMMARY:" + "Ü" * 100 in unfold(text)
    event = next(iter(icalendar.Calendar.from_ical(text).walk("VEVENT")))
    assert str(event["SUMMARY"]) == "Ü" * 100


def test_shuffle_off_gives_start_order(opencast_simulator_factory, now) -> None:
    import requests

    sim = opencast_simulator_factory(shuffle_events=False)
    uids = [sim.add_event("a", now + timedelta(hours=i), now + timedelta(hours=i, minutes=30))
            for i in (3, 1, 2)]
    text = requests.get(sim.url + "/recordings/calendars", auth=("ca", "ca-secret"),
                        timeout=5).text
    positions = [text.index(u) for u in uids]
    assert positions[1] < positions[2] < positions[0]

from __future__ import annotations

import pytest
import requests
from ocframe_simulator import OpencastSimulator

CA = ("ca", "ca-secret")


def test_registry_single_service_is_an_object(sim: OpencastSimulator, get) -> None:
    r = get("/services/available.json", params={"serviceType": "org.opencastproject.capture.admin"})
    assert r.status_code == 200
    service = r.json()["services"]["service"]
    assert isinstance(service, dict)
    assert service["host"] + service["path"] == sim.url + "/capture-admin"
    assert service["active"] is True and service["error_state_trigger"] == 0


def test_registry_several_services_are_an_array(sim: OpencastSimulator, get) -> None:
    sim.add_service("org.opencastproject.ingest", "http://ingest2.example:8080")
    r = get("/services/available.json", params={"serviceType": "org.opencastproject.ingest"})
    services = r.json()["services"]["service"]
    assert isinstance(services, list) and len(services) == 2


def test_registry_unknown_and_blank_type(get) -> None:
    r = get("/services/available.json", params={"serviceType": "org.example.nothing"})
    assert r.status_code == 200 and r.json() == {"services": ""}
    assert get("/services/available.json", params={"serviceType": " "}).status_code == 400
    assert get("/services/available.json").status_code == 400


def test_registry_xml(sim: OpencastSimulator, get) -> None:
    r = get("/services/available.xml", params={"serviceType": "org.opencastproject.scheduler"})
    assert r.status_code == 200 and "<path>/recordings</path>" in r.text


def test_registry_separate_ingest_host(opencast_simulator_factory) -> None:
    sim = opencast_simulator_factory(ingest_host="127.0.0.1")
    r = requests.get(sim.url + "/services/available.json", auth=CA, timeout=5,
                     params={"serviceType": "org.opencastproject.ingest"})
    service = r.json()["services"]["service"]
    assert service["host"] == sim.ingest_url != sim.url
    created = requests.get(service["host"] + service["path"] + "/createMediaPackage",
                           auth=CA, timeout=5)
    assert created.status_code == 200 and "<mediapackage" in created.text


@pytest.mark.parametrize("ingest_host", ["127.0.0.1", "127.0.0.2"])
def test_each_service_is_served_only_where_the_registry_names_it(
    opencast_simulator_factory, ingest_host: str
) -> None:
    """Two nodes of a distributed core: ingest on one, everything else on the
    other. The wrong node answers 404 as a node without the service would."""
    sim = opencast_simulator_factory(ingest_host=ingest_host)
    core, ingest = sim.url, sim.ingest_url
    assert ingest.startswith(f"http://{ingest_host}:") and ingest != core

    def status(base: str, path: str, method: str = "GET") -> int:
        return requests.request(method, base + path, auth=CA, timeout=5).status_code

    assert status(ingest, "/ingest/createMediaPackage") == 200
    assert status(core, "/ingest/createMediaPackage") == 404
    assert status(core, "/ingest/addTrack", "POST") == 404
    assert status(core, "/capture-admin/agents.json") == 200
    assert status(ingest, "/capture-admin/agents.json") == 404
    assert status(ingest, "/recordings/calendars?agentid=room-101") == 404
    assert status(ingest, "/upload/newjob", "POST") == 404
    for base in (core, ingest):  # every node answers the registry
        assert status(base, "/services/available.json?serviceType=x") == 200
    log = [(r.path, r.status, r.listener, r.host) for r in sim.requests]
    core_host, ingest_addr = core.removeprefix("http://"), ingest.removeprefix("http://")
    assert log[:4] == [
        ("/ingest/createMediaPackage", 200, "ingest", ingest_addr),
        ("/ingest/createMediaPackage", 404, "core", core_host),
        ("/ingest/addTrack", 404, "core", core_host),
        ("/capture-admin/agents.json", 200, "core", core_host),
    ]
    # A misdirected request never takes a fault meant for the right node.
    sim.inject_fault("/ingest/createMediaPackage", "status", status=503, times=1)
    assert status(core, "/ingest/createMediaPackage") == 404
    assert status(ingest, "/ingest/createMediaPackage") == 503


def test_a_service_the_registry_also_lists_on_the_core_is_served_there(
    opencast_simulator_factory,
) -> None:
    sim = opencast_simulator_factory(ingest_host="127.0.0.2")
    sim.add_service("org.opencastproject.ingest", sim.url)
    for base in (sim.ingest_url, sim.url):
        r = requests.get(base + "/ingest/createMediaPackage", auth=CA, timeout=5)
        assert r.status_code == 200


def test_without_an_ingest_node_one_listener_serves_everything(sim: OpencastSimulator,
                                                               get) -> None:
    assert sim.ingest_url == sim.url
    assert get("/ingest/createMediaPackage").status_code == 200
    assert get("/capture-admin/agents.json").status_code == 200
    assert {(r.listener, r.host) for r in sim.requests} == {
        ("core", sim.url.removeprefix("http://"))}


def test_agent_state_and_history(sim: OpencastSimulator, post, get) -> None:
    r = post("/capture-admin/agents/room-101", data={"state": "idle", "address": "http://ca:8000"})
    assert (r.status_code, r.text) == (200, "room-101 set to idle")
    r = post("/capture-admin/agents/room-101", data={"state": "idle"})
    assert (r.status_code, r.text) == (200, "")
    assert sim.agent_state("room-101") == "idle"
    assert sim.agent_address("room-101") == "http://ca:8000"
    assert [s for _, s in sim.agent_state_history("room-101")] == ["idle", "idle"]
    view = get("/capture-admin/agents/room-101.json").json()["agent-state-update"]
    assert view["state"] == "idle" and view["url"] == "http://ca:8000"
    assert isinstance(view["time-since-last-update"], int)


@pytest.mark.parametrize("data", [{}, {"state": "sleeping"}, {"state": "IDLE"}])
def test_agent_state_rejections(post, data) -> None:
    assert post("/capture-admin/agents/room-101", data=data).status_code == 400


def test_agent_unknown_is_404(get) -> None:
    r = get("/capture-admin/agents/nobody.json")
    assert r.status_code == 404
    assert r.text == "The resource you requested does not exist."
    assert r.headers["Content-Type"].startswith("text/plain")


def test_agents_list_jettison(sim: OpencastSimulator, post, get) -> None:
    assert get("/capture-admin/agents.json").json() == {"agents": ""}
    post("/capture-admin/agents/a1", data={"state": "idle"})
    assert isinstance(get("/capture-admin/agents.json").json()["agents"]["agent"], dict)
    post("/capture-admin/agents/a2", data={"state": "capturing"})
    assert len(get("/capture-admin/agents.json").json()["agents"]["agent"]) == 2


def test_configuration_xml_echo(sim: OpencastSimulator, post) -> None:
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
           '<!DOCTYPE properties SYSTEM "http://java.sun.com/dtd/properties.dtd">\n'
           "<properties><comment>Capabilities for room-101</comment>\n"
           '<entry key="capture.device.names">presenter,audio</entry>\n'
           '<entry key="capture.device.presenter.src">/dev/video0</entry></properties>')
    r = post("/capture-admin/agents/room-101/configuration", data={"configuration": xml})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    assert '<entry key="capture.device.names">presenter,audio</entry>' in r.text
    assert sim.capabilities("room-101")["capture.device.presenter.src"] == "/dev/video0"
    assert sim.capabilities_posts("room-101") == 1


def test_configuration_json_echo(sim: OpencastSimulator, post) -> None:
    r = post("/capture-admin/agents/room-101/configuration",
             files={"configuration": (None, '{"capture.device.names": "a,b"}')})
    assert r.status_code == 200 and r.json() == {"capture.device.names": "a,b"}
    assert sim.capabilities("room-101") == {"capture.device.names": "a,b"}


@pytest.mark.parametrize("config", ["", "   ", "<properties", "[1, 2]", '{"a": {"b": 1}}'])
def test_configuration_rejections(post, config) -> None:
    r = post("/capture-admin/agents/room-101/configuration", data={"configuration": config})
    assert r.status_code == 400


def test_recording_states(sim: OpencastSimulator, post, get, now) -> None:
    from datetime import timedelta

    uid = sim.add_event("room-101", now, now + timedelta(hours=1))
    assert post(f"/capture-admin/recordings/{uid}", data={"state": "capturing"}).text == (
        f"{uid} set to capturing")
    assert post(f"/capture-admin/recordings/{uid}", data={"state": "bogus"}).status_code == 400
    assert post("/capture-admin/recordings/not-an-event",
                data={"state": "capturing"}).status_code == 404
    assert sim.wait_for_recording_state(uid, "capturing", timeout=1)
    view = get(f"/capture-admin/recordings/{uid}.json").json()["recording-state-update"]
    assert view["id"] == uid and view["state"] == "capturing"
    assert [s for _, s in sim.recording_state_history(uid)] == ["capturing"]

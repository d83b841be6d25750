"""The client against the simulator: registry forms, auth kinds, bad answers."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator
from ocframe_simulator.auth import DEFAULT_USERS

from ocframe.config import CoreConfig
from ocframe.errors import AuthError, CoreError
from ocframe.opencast.http import FilePart, TextPart
from ocframe.opencast.registry import CAPTURE_ADMIN, INGEST, SCHEDULER
from ocframe.testing.harness import soon

from .conftest import make_client


def test_registry_object_array_and_empty_forms(opencast_simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = opencast_simulator_factory(ingest_host="127.0.0.1")
    # Several ingest hosts: the core lists the least loaded first.
    sim.add_service(INGEST, sim.url)
    client = make_client(sim, trusted_hosts=[sim.ingest_url])  # a separate ingest node
    try:
        assert client.registry.lookup(CAPTURE_ADMIN) == f"{sim.url}/capture-admin"
        assert client.registry.lookup(INGEST) == f"{sim.ingest_url}/ingest"
        with pytest.raises(CoreError, match="no available"):
            client.registry.lookup("org.opencastproject.nothing")
    finally:
        client.close()


def test_registry_overrides_and_ingest_fallback(opencast_simulator: OpencastSimulator) -> None:
    sim = opencast_simulator
    client = make_client(sim, services={SCHEDULER: f"{sim.url}/recordings/"})
    try:
        assert client.registry.lookup(SCHEDULER) == f"{sim.url}/recordings"
        first = client.ingest_service().base_url
        assert first == f"{sim.url}/ingest"
        seen = len(sim.requests)
        sim.inject_fault("^/services/", "status", status=503)
        # Looked up again before every upload; the last good answer when that fails.
        assert client.ingest_service().base_url == first
        again = [r.status for r in sim.requests[seen:]
                 if r.path.startswith("/services/") and "ingest" in r.query]
        assert again and set(again) == {503}
    finally:
        client.close()


def test_basic_is_preemptive(opencast_simulator: OpencastSimulator) -> None:
    sim = opencast_simulator
    client = make_client(sim)
    try:
        client.set_agent_state("room-1", "idle")
        assert sim.agent_state("room-1") == "idle"
        assert all(r.status != 401 for r in sim.requests)
        assert {r.auth_scheme for r in sim.requests} == {"basic"}
    finally:
        client.close()


def test_digest_with_stale_nonce_and_no_double_upload(
    opencast_simulator_factory, tmp_path: Path, caplog: pytest.LogCaptureFixture  # type: ignore[no-untyped-def]
) -> None:
    sim = opencast_simulator_factory(auth="digest")  # the core's nonce lifetime, 300 s
    client = make_client(sim, user="opencast_system_account", password="CHANGE_ME", auth="digest")
    caplog.set_level(logging.INFO)
    try:
        client.set_agent_state("room-1", "idle")
        assert sim.agent_state("room-1") == "idle"
        sim.expire_nonces()  # as 300 s later
        client.set_agent_state("room-1", "capturing")
        assert sim.agent_state("room-1") == "capturing"
        assert any(r.status == 401 for r in sim.requests)  # the stale nonce was refused
        # A large streamed body goes out once, even when the nonce went stale
        # just before it: a fresh one is fetched first.
        media = tmp_path / "big.bin"
        media.write_bytes(b"\0" * (8 << 20))
        ingest = client.ingest_service()
        mp = ingest.get("createMediaPackage").text
        sim.expire_nonces()
        stale_before = sum(r.status == 401 for r in sim.requests)
        answer = ingest.post_multipart("addTrack", [
            TextPart("flavor", "presenter/source"), TextPart("mediaPackage", mp),
            FilePart("BODY", media, "big.bin", "application/octet-stream")])
        assert sum(r.status == 401 for r in sim.requests) > stale_before  # met and handled
        adds = [r for r in sim.requests if r.path == "/ingest/addTrack"]
        assert [r.status for r in adds] == [200]  # the 8 MiB went out once
        assert hashlib.md5(media.read_bytes()).hexdigest() in answer.text
        assert {r.auth_scheme for r in sim.requests if r.status == 200} == {"digest"}
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    finally:
        client.close()


@pytest.mark.parametrize("case", ["wrong_password", "no_role", "login_redirect", "basic_vs_digest"])
def test_auth_failures_name_user_and_endpoint(opencast_simulator_factory, case: str) -> None:  # type: ignore[no-untyped-def]
    users = {**DEFAULT_USERS, "viewer": ("v-pass-123", {"ROLE_USER"})}
    sim = opencast_simulator_factory(auth="digest" if case == "basic_vs_digest" else "basic",
                                     users=users)
    user, password = {"wrong_password": ("ca", "s3cr3t-wrong"), "no_role": ("viewer", "v-pass-123"),
                      "login_redirect": ("ca", "ca-secret"),
                      "basic_vs_digest": ("opencast_system_account", "CHANGE_ME")}[case]
    if case == "login_redirect":
        sim.inject_fault("/capture-admin/", "login_redirect")
    client = make_client(sim, user=user, password=password)
    try:
        with pytest.raises(AuthError) as info:
            client.set_agent_state("room-1", "idle")
    finally:
        client.close()
    reason = info.value.reason
    assert repr(user) in reason and sim.url + "/" in reason  # who, and where
    assert password not in reason
    assert sim.agent_state("room-1") is None


def test_calendar_request_etag_and_304(opencast_simulator: OpencastSimulator) -> None:
    sim = opencast_simulator
    sim.add_event("room-1", soon(60), soon(120))
    client = make_client(sim)
    try:
        cutoff = int((time.time() + 3600) * 1000)
        first = client.fetch_calendar("room-1", cutoff, None)
        assert first.status == 200 and first.body and first.etag == sim.calendar_etag("room-1")
        second = client.fetch_calendar("room-1", cutoff, first.etag)
        assert second.status == 304 and second.body is None and second.etag == first.etag
        req = sim.calendar_requests
        assert req[0].params == {"agentid": "room-1", "cutoff": str(cutoff)}
        assert req[1].if_none_match == first.etag  # verbatim, unquoted
    finally:
        client.close()


@pytest.mark.parametrize("kind", ["truncated", "status", "reset"])
def test_bad_calendar_answers_are_core_errors(opencast_simulator: OpencastSimulator,
                                              kind: str) -> None:
    sim = opencast_simulator
    sim.add_event("room-1", soon(60), soon(120))
    client = make_client(sim)
    try:
        client.registry.lookup(SCHEDULER)
        sim.inject_fault("^/recordings/", kind, status=500, times=1)
        with pytest.raises(CoreError) as info:
            client.fetch_calendar("room-1", int(time.time() * 1000) + 10**6, None)
        assert "/recordings/calendars" in info.value.reason or "calendar" in info.value.reason
        assert client.fetch_calendar("room-1", int(time.time() * 1000) + 10**6, None).body
    finally:
        client.close()


def test_a_calendar_with_a_wrong_content_type_is_still_a_calendar(
    opencast_simulator: OpencastSimulator,
) -> None:
    """Liberal in what we accept: the body decides, not the label."""
    sim = opencast_simulator
    uid = sim.add_event("room-1", soon(60), soon(120))
    client = make_client(sim)
    try:
        sim.inject_fault("^/recordings/", "wrong_content_type", times=1)
        resp = client.fetch_calendar("room-1", int(time.time() * 1000) + 10**6, None)
        assert resp.body is not None and uid.encode() in resp.body
    finally:
        client.close()


@pytest.mark.parametrize("answer, problem", [
    ("http://other-host.invalid:8080/ingest", "neither the configured core nor in"),
    ("http://localhost:8080/ingest", "neither the configured core nor in"),
    ("ftp://oc.example.edu/ingest", "not an http(s) URL"),
    ("javascript:alert(1)", "not an http(s) URL"),
])
def test_the_registry_cannot_send_the_password_to_another_host(
        answer: str, problem: str, caplog: pytest.LogCaptureFixture) -> None:
    from ocframe.opencast.http import CoreSession
    from ocframe.opencast.registry import ServiceRegistry

    core = CoreConfig(url="http://oc.example.edu", password="ca-secret")  # type: ignore[arg-type]
    registry = ServiceRegistry(CoreSession(core))
    with caplog.at_level(logging.ERROR):
        url = registry.vet(INGEST, answer)
        registry.vet(INGEST, answer)
    # The same path on the configured core, which is trusted.
    assert url.startswith("http://oc.example.edu")
    assert problem in registry.refused[INGEST]
    assert sum(problem in r.getMessage() for r in caplog.records) == 1  # once, not per call
    assert "ca-secret" not in caplog.text


def test_an_untrusted_host_gets_no_credentials_even_when_asked_directly(
        opencast_simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = opencast_simulator_factory(ingest_host="127.0.0.1")
    client = make_client(sim)
    try:
        # The registry names the separate ingest node, which nobody trusted.
        assert client.registry.lookup(INGEST) == f"{sim.url}/ingest"
        assert "core.trusted_hosts" in client.registry.refused[INGEST]
        from ocframe.opencast.http import ServiceHttp

        with pytest.raises(AuthError):  # the node wants credentials, and got none
            ServiceHttp(client.session, f"{sim.ingest_url}/ingest").get("createMediaPackage")
        assert sim.requests[-1].path.endswith("createMediaPackage")
        assert sim.requests[-1].user is None
    finally:
        client.close()
    trusted = make_client(sim, trusted_hosts=[sim.ingest_url])
    try:
        assert trusted.registry.lookup(INGEST) == f"{sim.ingest_url}/ingest"
        assert INGEST not in trusted.registry.refused
        trusted.ingest_service().get("createMediaPackage")
        assert sim.requests[-1].user == "ca"
    finally:
        trusted.close()


def test_an_https_core_is_never_downgraded_by_the_registry() -> None:
    from ocframe.opencast.http import CoreSession
    from ocframe.opencast.registry import ServiceRegistry

    core = CoreConfig(url="https://oc.example.edu", password="x",  # type: ignore[arg-type]
                      trusted_hosts=["http://oc.example.edu"])
    registry = ServiceRegistry(CoreSession(core))
    assert registry.vet(INGEST, "http://oc.example.edu/ingest") == \
        "https://oc.example.edu/ingest"
    assert "downgrade" in registry.refused[INGEST]
    assert registry.vet(INGEST, "https://oc.example.edu:443/ingest") == \
        "https://oc.example.edu:443/ingest"
    assert INGEST not in registry.refused


def test_a_password_inside_the_core_url_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must not contain a user or password"):
        CoreConfig(url="https://ca:s3cret@oc.example.edu")


def test_a_calendar_larger_than_the_limit_is_refused_while_it_arrives(
        opencast_simulator: OpencastSimulator, client) -> None:  # type: ignore[no-untyped-def]
    for i in range(40):
        opencast_simulator.add_event("room-1", soon(3600 + i * 60), soon(3650 + i * 60))
    cutoff = int(time.time() * 1000) + 10**8
    whole = client.fetch_calendar("room-1", cutoff, None)
    assert whole.body and len(whole.body) > 20_000
    with pytest.raises(CoreError, match="larger than 0 MiB"):
        client.fetch_calendar("room-1", cutoff, None, max_bytes=20_000)

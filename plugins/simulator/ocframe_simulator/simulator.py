"""An embedded Opencast core, faithful enough to run a capture agent against.

The endpoint handlers live in ``endpoints_admin`` (registry, capture admin,
scheduler) and ``endpoints_ingest`` (ingest, chunked upload, stored files); this
module holds the state, the public API, authentication and fault injection.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .auth import DEFAULT_USERS, Authenticator, required_roles
from .endpoints_admin import AdminEndpoints
from .endpoints_ingest import IngestEndpoints, UploadJob
from .faults import Fault, FaultHandle, FaultRegistry
from .multipart import BodyError
from .records import (
    AgentRecord,
    CalendarRequest,
    Element,
    Ingest,
    RecordingRecord,
    RequestLog,
    ScheduledEvent,
    ServiceEntry,
)
from .responses import SERVICE_PATHS, bad_request, not_found, text_response
from .server import ServerThread, begin_abort, mark_close

#: The listeners a request can arrive on (``RequestLog.listener``).
CORE = "core"
INGEST_NODE = "ingest"

_EVENT_FIELDS = {
    "agent", "start", "end", "title", "inputs", "workflow", "workflow_config", "series_id",
    "series_title", "description", "creator", "extra_properties",
}


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class OpencastSimulator(AdminEndpoints, IngestEndpoints):
    """A running Opencast core for capture agents; see docs/simulator.md."""

    def __init__(
        self,
        auth: str = "basic",
        users: Mapping[str, tuple[str, Iterable[str]]] | None = None,
        storage_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        nonce_lifetime: float = 300.0,
        shuffle_events: bool = True,
        ingest_host: str | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self._auth = Authenticator(auth, users if users is not None else DEFAULT_USERS,
                                   nonce_lifetime)
        self._faults = FaultRegistry()
        self._stopping = threading.Event()
        self.shuffle_events = shuffle_events
        self.fold_calendar_lines = False
        self.ingest_limit_reached = False
        # Minutes-to-offline of the real core is 120; tests may shorten it (seconds).
        self.agent_timeout = 120 * 60.0
        # How long a finished chunked upload stays FINALIZING before COMPLETE.
        self.upload_finalize_delay = 0.05
        self.default_workflow = "fast"
        self.request_listeners: list[Callable[[RequestLog], None]] = []

        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._storage_arg = Path(storage_dir) if storage_dir is not None else None
        self.storage_dir: Path = self._storage_arg or Path(".")

        # Each listener serves only the services the registry places on it, as
        # the nodes of a distributed core do: an agent that ignores the
        # registry's ingest host gets 404s, not a working upload.
        self._server = ServerThread(functools.partial(self._wsgi, listener=CORE), host, port)
        self._ingest_server: ServerThread | None = (
            ServerThread(functools.partial(self._wsgi, listener=INGEST_NODE), ingest_host, 0)
            if ingest_host else None
        )
        self._host = host

        self._agents: dict[str, AgentRecord] = {}
        self._recordings: dict[str, RecordingRecord] = {}
        self._events: dict[str, ScheduledEvent] = {}
        self._agent_modified: dict[str, int] = {}
        self._epoch_ms = int(time.time() * 1000)
        self._calendar_requests: list[CalendarRequest] = []
        self._requests: list[RequestLog] = []
        self._ingests: list[Ingest] = []
        self._elements: dict[str, Element] = {}
        self._running_workflows: dict[str, int] = {}
        self._workflow_ids = itertools.count(1001)
        self._upload_jobs: dict[str, UploadJob] = {}
        self._chunked_elements: set[str] = set()
        self._extra_services: list[ServiceEntry] = []

        self._url_map = Map(self._rules(), strict_slashes=False, merge_slashes=False)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> OpencastSimulator:
        if self._storage_arg is None and self._temp_dir is None:
            self._temp_dir = tempfile.TemporaryDirectory(
                prefix="opencast-sim-", ignore_cleanup_errors=True
            )
            self.storage_dir = Path(self._temp_dir.name)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._server.start()
        if self._ingest_server is not None:
            self._ingest_server.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop()
        if self._ingest_server is not None:
            self._ingest_server.stop()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
            self._temp_dir = None
        self._notify()

    def go_down(self) -> None:
        """Stop listening (the core is unreachable); all state is kept."""
        self._server.stop()
        if self._ingest_server is not None:
            self._ingest_server.stop()

    def come_up(self) -> None:
        """Listen again on the same port(s)."""
        self._server.start()
        if self._ingest_server is not None:
            self._ingest_server.start()

    @property
    def is_up(self) -> bool:
        return self._server.running

    def __enter__(self) -> OpencastSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        host = self._host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self._server.port}"

    @property
    def ingest_url(self) -> str:
        """Where the service registry says ingest lives."""
        if self._ingest_server is None:
            return self.url
        return f"http://{self._ingest_server.host}:{self._ingest_server.port}"

    @property
    def users(self) -> dict[str, tuple[str, frozenset[str]]]:
        return dict(self._auth.users)

    def set_user(self, name: str, password: str, roles: Iterable[str] | None = None) -> None:
        """Add a user or change one's password (and roles, if given), as an
        administrator rotating credentials on a running core would."""
        with self._auth._lock:
            current = self._auth.users.get(name)
            kept = roles if roles is not None else (current[1] if current else ())
            self._auth.users = {**self._auth.users, name: (password, frozenset(kept))}

    @property
    def auth_mode(self) -> str:
        return self._auth.mode

    def expire_nonces(self) -> None:
        """Let every digest nonce handed out so far go stale now, as the core's
        300 s lifetime would: the next request with one gets 401 stale=true."""
        self._auth.expire_nonces()

    @property
    def nonce_lifetime(self) -> float:
        return self._auth.nonce_lifetime

    @nonce_lifetime.setter
    def nonce_lifetime(self, value: float) -> None:
        self._auth.nonce_lifetime = value

    # ------------------------------------------------------------------ schedule

    def _bump_agent(self, agent: str) -> None:
        # ETags are per-agent modification times in ms; keep them strictly
        # increasing so two changes within one millisecond still differ.
        now_ms = int(time.time() * 1000)
        previous = self._agent_modified.get(agent, self._epoch_ms)
        self._agent_modified[agent] = max(now_ms, previous + 1)

    def add_event(
        self,
        agent: str,
        start: datetime,
        end: datetime,
        title: str = "Recording",
        uid: str | None = None,
        inputs: list[str] | None = None,
        workflow: str | None = "fast",
        workflow_config: Mapping[str, Any] | None = None,
        series_id: str | None = None,
        series_title: str | None = None,
        description: str | None = None,
        creator: str | None = None,
        extra_properties: Mapping[str, Any] | None = None,
    ) -> str:
        now = datetime.now(UTC)
        event = ScheduledEvent(
            uid=uid or str(uuid.uuid4()),
            agent=agent,
            start=_utc(start),
            end=_utc(end),
            title=title,
            inputs=list(inputs) if inputs is not None else None,
            workflow=workflow,
            workflow_config={k: str(v) for k, v in (workflow_config or {}).items()},
            series_id=series_id,
            series_title=series_title,
            description=description,
            creator=creator,
            extra_properties={k: str(v) for k, v in (extra_properties or {}).items()},
            created=now,
            last_modified=now,
        )
        if event.end <= event.start:
            raise ValueError("an event must end after it starts")
        with self._lock:
            if event.uid in self._events:
                raise ValueError(f"an event with uid {event.uid} already exists")
            self._events[event.uid] = event
            self._bump_agent(agent)
        self._notify()
        return event.uid

    def update_event(self, uid: str, **changes: Any) -> None:
        unknown = set(changes) - _EVENT_FIELDS
        if unknown:
            raise TypeError(f"cannot change {sorted(unknown)}")
        with self._lock:
            event = self._events[uid]
            old_agent = event.agent
            for key, value in changes.items():
                if key in ("start", "end"):
                    value = _utc(value)
                elif key in ("workflow_config", "extra_properties"):
                    value = {k: str(v) for k, v in (value or {}).items()}
                elif key == "inputs" and value is not None:
                    value = list(value)
                setattr(event, key, value)
            event.last_modified = datetime.now(UTC)
            self._bump_agent(old_agent)
            self._bump_agent(event.agent)
        self._notify()

    def remove_event(self, uid: str) -> None:
        with self._lock:
            event = self._events.pop(uid)
            self._bump_agent(event.agent)
        self._notify()

    def events(self, agent: str | None = None) -> list[ScheduledEvent]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._events.values()
                    if agent is None or e.agent == agent]

    def event(self, uid: str) -> ScheduledEvent | None:
        with self._lock:
            found = self._events.get(uid)
            return copy.deepcopy(found) if found else None

    def calendar_etag(self, agent: str) -> str:
        with self._lock:
            return f"mod{self._agent_modified.get(agent, self._epoch_ms)}"

    # ------------------------------------------------------------------ observation

    def agent_state(self, name: str) -> str | None:
        with self._lock:
            agent = self._agents.get(name)
            return agent.state if agent else None

    def agent_state_history(self, name: str) -> list[tuple[float, str]]:
        with self._lock:
            agent = self._agents.get(name)
            return list(agent.history) if agent else []

    def agent_address(self, name: str) -> str | None:
        with self._lock:
            agent = self._agents.get(name)
            return agent.address if agent else None

    def agents(self) -> list[str]:
        with self._lock:
            return sorted(self._agents)

    def capabilities(self, name: str) -> dict[str, str]:
        with self._lock:
            agent = self._agents.get(name)
            return dict(agent.capabilities) if agent else {}

    def capabilities_posts(self, name: str) -> int:
        with self._lock:
            agent = self._agents.get(name)
            return agent.capabilities_posts if agent else 0

    def recording_state(self, uid: str) -> str | None:
        with self._lock:
            rec = self._recordings.get(uid)
            return rec.state if rec else None

    def recording_state_history(self, uid: str) -> list[tuple[float, str]]:
        with self._lock:
            rec = self._recordings.get(uid)
            return list(rec.history) if rec else []

    @property
    def calendar_requests(self) -> list[CalendarRequest]:
        with self._lock:
            return list(self._calendar_requests)

    @property
    def requests(self) -> list[RequestLog]:
        with self._lock:
            return list(self._requests)

    @property
    def ingests(self) -> list[Ingest]:
        with self._lock:
            return [copy.deepcopy(i) for i in self._ingests]

    def workflows_started(self, mediapackage_id: str) -> int:
        with self._lock:
            return sum(1 for i in self._ingests if i.mediapackage_id == mediapackage_id)

    def finish_workflow(self, mediapackage_id: str) -> None:
        """Let the workflows of this media package end (a new addMediaPackage is then allowed)."""
        with self._lock:
            self._running_workflows.pop(mediapackage_id, None)

    def add_service(self, service_type: str, host: str, path: str | None = None,
                    **attributes: Any) -> None:
        """Register one more service instance (so the registry answers with an array)."""
        with self._lock:
            self._extra_services.append(ServiceEntry(
                service_type, host, path or SERVICE_PATHS.get(service_type, "/"), attributes))

    def reset(self) -> None:
        """Forget agents, recordings, ingests and logs (as after a core reinstall)."""
        with self._lock:
            self._agents.clear()
            self._recordings.clear()
            self._calendar_requests.clear()
            self._requests.clear()
            self._ingests.clear()
            self._running_workflows.clear()
        self._notify()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if predicate():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)

    def wait_for_recording_state(self, uid: str, state: str, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda: self.recording_state(uid) == state, timeout)

    def wait_for_agent_state(self, name: str, state: str, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda: self.agent_state(name) == state, timeout)

    def find_ingest(self, mediapackage_id_or_event_uid: str) -> Ingest | None:
        key = mediapackage_id_or_event_uid
        with self._lock:
            for ingest in self._ingests:
                if key in (ingest.mediapackage_id, ingest.workflow_instance_id, ingest.event_uid):
                    return copy.deepcopy(ingest)
        return None

    def wait_for_ingest(self, mediapackage_id_or_event_uid: str,
                        timeout: float = 30.0) -> Ingest | None:
        found: list[Ingest] = []

        def check() -> bool:
            ingest = self.find_ingest(mediapackage_id_or_event_uid)
            if ingest is not None:
                found.append(ingest)
                return True
            return False

        return found[0] if self.wait_for(check, timeout) else None

    # ------------------------------------------------------------------ faults

    def inject_fault(
        self,
        path_pattern: str,
        kind: str,
        *,
        status: int = 500,
        delay: float = 5.0,
        after_bytes: int = 0,
        times: int | None = None,
        method: str | None = None,
    ) -> FaultHandle:
        return self._faults.add(path_pattern, kind, status=status, delay=delay,
                                after_bytes=after_bytes, times=times, method=method)

    def clear_faults(self) -> None:
        self._faults.clear()

    # ------------------------------------------------------------------ request pipeline

    def _rules(self) -> list[Rule]:
        return [
            Rule("/login.html", endpoint="login_page", methods=["GET"]),
            Rule("/info/me.json", endpoint="info_me", methods=["GET"]),
            *self.admin_rules(),
            *self.ingest_rules(),
        ]

    def _serves(self, listener: str, path: str) -> bool:
        """Whether the registry places the service of ``path`` on ``listener``
        (paths of no service, like the registry itself, are everywhere)."""
        for service_type, prefix in SERVICE_PATHS.items():
            if path == prefix or path.startswith(prefix + "/"):
                here = self.ingest_url if listener == INGEST_NODE else self.url
                return here in {e.host or self.url for e in self._service_entries(service_type)}
        return True

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any], *,
              listener: str = CORE) -> Iterable[bytes]:
        started = time.time()
        request = Request(environ)
        path = request.path
        misdirected = not self._serves(listener, path)
        fault = None if misdirected else self._faults.take(request.method, path)
        log_status = 0
        user: str | None = None
        scheme: str | None = None
        try:
            if misdirected:
                # This node does not run that service; the registry names another.
                response = not_found()
                log_status = response.status_code
                return response(environ, start_response)
            if fault is not None and fault.kind == "reset":
                self._consume(request, fault.after_bytes)
                raise begin_abort(environ)
            if fault is not None and fault.kind == "slow":
                self._stopping.wait(fault.delay)
            if fault is not None and fault.kind in ("status", "login_redirect"):
                response = self._fault_response(request, fault)
            else:
                response, user, scheme = self._authorised_dispatch(request)
            log_status = response.status_code
            if fault is not None and fault.kind == "wrong_content_type":
                response.headers["Content-Type"] = "text/html;charset=utf-8"
            if fault is not None and fault.kind == "truncated":
                body = response.get_data()
                headers = [(k, v) for k, v in response.headers.items()
                           if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
                mark_close(environ)
                start_response(response.status, headers)
                return [body[: len(body) // 2]]
            return response(environ, start_response)
        finally:
            self._log(RequestLog(
                time=started,
                method=request.method,
                path=path,
                query=request.query_string.decode("latin-1"),
                status=log_status,
                user=user,
                auth_scheme=scheme,
                content_type=request.headers.get("Content-Type"),
                duration=time.time() - started,
                fault=fault.kind if fault else None,
                host=request.host,
                listener=listener,
            ))

    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self._requests.append(entry)
        for listener in list(self.request_listeners):
            with contextlib.suppress(Exception):
                listener(entry)
        self._notify()

    @staticmethod
    def _consume(request: Request, count: int) -> None:
        stream = request.stream
        remaining = count
        while remaining > 0:
            chunk = stream.read(min(remaining, 1024 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)

    def _fault_response(self, request: Request, fault: Fault) -> Response:
        if fault.kind == "login_redirect":
            return self._login_redirect(request)
        status = fault.status
        if status == 404:
            return not_found()
        if status == 401:
            return text_response("unauthorized", 401)
        if status >= 500:
            # Jetty's error page, which is what a failing core puts in front of clients.
            reason = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                      504: "Gateway Timeout"}.get(status, "Server Error")
            html = (
                f"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html;"
                f"charset=ISO-8859-1\"/><title>Error {status} {reason}</title></head><body>"
                f"<h2>HTTP ERROR {status} {reason}</h2><p>Problem accessing {request.path}."
                f" Reason:<pre>    {reason}</pre></p></body></html>"
            )
            return Response(html, status=status, mimetype="text/html")
        return Response("", status=status, mimetype="text/plain")

    @staticmethod
    def _login_redirect(request: Request) -> Response:
        response = Response("", status=302)
        response.headers["Location"] = request.host_url + "login.html"
        return response

    def _authorised_dispatch(self, request: Request) -> tuple[Response, str | None, str | None]:
        roles_needed = required_roles(request.method, request.path)
        user: str | None = None
        scheme: str | None = None
        if roles_needed is not None:
            uri = request.full_path if request.query_string else request.path
            outcome = self._auth.authenticate(request.method, uri, request.headers)
            if outcome.kind == "anonymous":
                return self._login_redirect(request), None, None
            if outcome.kind == "challenge":
                response = text_response("unauthorized", 401)
                for challenge in outcome.challenges:
                    response.headers.add("WWW-Authenticate", challenge)
                return response, None, None
            user, scheme = outcome.user, outcome.scheme
            if roles_needed and not (roles_needed & outcome.roles):
                return text_response("", 403), user, scheme
        return self._dispatch(request, user), user, scheme

    def _dispatch(self, request: Request, user: str | None) -> Response:
        adapter = self._url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return not_found()
        except MethodNotAllowed as exc:
            return exc.get_response()  # type: ignore[return-value]
        except HTTPException as exc:
            return exc.get_response()  # type: ignore[return-value]
        handler = getattr(self, f"_ep_{endpoint}")
        try:
            return handler(request, user=user, **args)
        except BodyError as exc:
            return bad_request(str(exc))
        except Exception as exc:
            import traceback

            traceback.print_exc()
            return Response(f"Internal error: {exc}", status=500, mimetype="text/plain")

    # ------------------------------------------------------------------ misc endpoints

    def _ep_login_page(self, request: Request, user: str | None) -> Response:
        return Response(
            "<!DOCTYPE html><html><head><title>Opencast</title></head><body>"
            "<form action=\"j_spring_security_check\" method=\"post\">"
            "<input name=\"j_username\"/><input type=\"password\" name=\"j_password\"/>"
            "</form></body></html>",
            mimetype="text/html",
        )

    def _ep_info_me(self, request: Request, user: str | None) -> Response:
        import json

        roles = sorted(self._auth.users.get(user or "", ("", frozenset()))[1])
        body = {"user": {"username": user, "name": user}, "roles": roles,
                "org": {"id": "mh_default_org"}}
        return Response(json.dumps(body), mimetype="application/json")


__all__ = ["OpencastSimulator"]

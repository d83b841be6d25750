"""Service registry, capture admin and scheduler calendar endpoints."""

from __future__ import annotations

import json
import random
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from . import jettison
from .calendar_render import render_calendar
from .multipart import first_value, read_form
from .records import (
    AgentRecord,
    CalendarRequest,
    RecordingRecord,
    ScheduledEvent,
    ServiceEntry,
)
from .responses import SERVICE_PATHS, bad_request, not_found, text_response, xml_response

AGENT_STATES = ("idle", "shutting_down", "capturing", "uploading", "error", "unknown", "offline")
RECORDING_STATES = (
    "unknown", "capturing", "capture_finished", "capture_error", "manifest", "manifest_error",
    "manifest_finished", "compressing", "compressing_error", "uploading", "upload_finished",
    "upload_error",
)

_SERVICE_STARTED = datetime.now(UTC).astimezone()


def _java_date(moment: datetime) -> str:
    # The registry prints local time with milliseconds and a numeric offset.
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    offset = moment.strftime("%z")
    return text + (offset[:3] + ":" + offset[3:] if offset else "Z")


def _split_format(name: str) -> tuple[str, str]:
    for suffix in (".json", ".xml"):
        if name.endswith(suffix):
            return name[: -len(suffix)], suffix[1:]
    return name, "xml"


def properties_xml(properties: dict[str, str], comment: str | None = None) -> str:
    entries = "".join(
        f"<entry key={quoteattr(k)}>{escape(v)}</entry>\n" for k, v in properties.items()
    )
    comment_el = f"<comment>{escape(comment)}</comment>\n" if comment else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<!DOCTYPE properties SYSTEM "http://java.sun.com/dtd/properties.dtd">\n'
        f"<properties>\n{comment_el}{entries}</properties>\n"
    )


def parse_configuration(text: str) -> tuple[dict[str, str], str] | None:
    """Java properties sent as XML or flat JSON; None when it is neither."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict):
            return None
        result: dict[str, str] = {}
        for key, value in data.items():
            if isinstance(value, dict | list) or value is None:
                return None
            if isinstance(value, bool):
                value = "true" if value else "false"
            result[str(key)] = str(value)
        return result, "json"
    try:
        # Java's DTD reference must not make us fetch anything; ElementTree never does.
        root = ET.fromstring(stripped.encode("utf-8"))
    except ET.ParseError:
        return None
    if root.tag.rsplit("}", 1)[-1] != "properties":
        return None
    result = {}
    for entry in root:
        if entry.tag.rsplit("}", 1)[-1] == "entry" and entry.get("key") is not None:
            result[entry.get("key") or ""] = entry.text or ""
    return result, "xml"


class AdminEndpoints:
    """Mixed into OpencastSimulator; relies on its state attributes."""

    _lock: threading.RLock
    _agents: dict[str, AgentRecord]
    _recordings: dict[str, RecordingRecord]
    _events: dict[str, ScheduledEvent]
    _agent_modified: dict[str, int]
    _epoch_ms: int
    _calendar_requests: list[CalendarRequest]
    _extra_services: list[ServiceEntry]
    storage_dir: Path
    shuffle_events: bool
    fold_calendar_lines: bool
    agent_timeout: float
    #: Tests may set this to rewrite every calendar body before it is sent
    #: (a broken calendar, a core that writes something unusual).
    calendar_transform: Callable[[bytes], bytes] | None = None

    # Provided by OpencastSimulator; declared here for the type checker.
    url: str
    ingest_url: str
    _notify: Callable[[], None]

    def admin_rules(self) -> list[Rule]:
        return [
            Rule("/services/available.<fmt>", endpoint="services_available", methods=["GET"]),
            Rule("/capture-admin/agents.<fmt>", endpoint="agents_list", methods=["GET"]),
            Rule("/capture-admin/agents/<name>", endpoint="agent", methods=["GET", "POST"]),
            Rule("/capture-admin/agents/<name>/configuration",
                 endpoint="agent_configuration", methods=["POST"]),
            Rule("/capture-admin/agents/<name>/configuration.<fmt>",
                 endpoint="agent_configuration_get", methods=["GET"]),
            Rule("/capture-admin/agents/<name>/capabilities.<fmt>",
                 endpoint="agent_configuration_get", methods=["GET"]),
            Rule("/capture-admin/recordings/<rid>", endpoint="recording",
                 methods=["GET", "POST", "DELETE"]),
            Rule("/recordings/calendars", endpoint="calendar", methods=["GET"]),
        ]

    # ------------------------------------------------------------------ registry

    def _service_entries(self, service_type: str) -> list[ServiceEntry]:
        entries: list[ServiceEntry] = []
        if service_type in SERVICE_PATHS:
            host = self.ingest_url if service_type == "org.opencastproject.ingest" else None
            entries.append(ServiceEntry(service_type, host, SERVICE_PATHS[service_type]))
        with self._lock:
            entries += [e for e in self._extra_services if e.type == service_type]
        return entries

    def _service_fields(self, entry: ServiceEntry) -> dict[str, Any]:
        started = _java_date(_SERVICE_STARTED)
        fields: dict[str, Any] = {
            "type": entry.type,
            "host": entry.host or self.url,
            "path": entry.path,
            "active": True,
            "online": True,
            "maintenance": False,
            "jobproducer": entry.type != "org.opencastproject.capture.admin",
            "onlinefrom": started,
            "service_state": "NORMAL",
            "state_changed": started,
            "error_state_trigger": 0,
            "warning_state_trigger": 0,
        }
        fields.update(entry.attributes)
        return fields

    def _ep_services_available(self, request: Request, user: str | None, fmt: str) -> Response:
        if fmt not in ("json", "xml"):
            return not_found()
        service_type = request.args.get("serviceType", "")
        if not service_type.strip():
            return bad_request("serviceType is required")
        services = [self._service_fields(e) for e in self._service_entries(service_type.strip())]
        if fmt == "json":
            items = [{k: jettison.scalar(v) for k, v in s.items()} for s in services]
            return Response(json.dumps(jettison.wrap("services", "service", items)),
                            mimetype="application/json")
        body = "".join(
            "<service>" + "".join(
                f"<{k}>{escape(str(v).lower() if isinstance(v, bool) else str(v))}</{k}>"
                for k, v in s.items()
            ) + "</service>"
            for s in services
        )
        return xml_response(
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<services xmlns="http://serviceregistry.opencastproject.org">{body}</services>'
        )

    # ------------------------------------------------------------------ capture admin

    def _agent_view(self, agent: AgentRecord, now: float) -> dict[str, Any]:
        state = agent.state
        if now - agent.last_heard > self.agent_timeout:
            state = "offline"
        return {
            "name": agent.name,
            "state": state,
            "url": agent.address or "",
            "time-since-last-update": int((now - agent.last_update) * 1000),
        }

    def _agent_json(self, agent: AgentRecord, now: float, *, capabilities: bool) -> dict[str, Any]:
        view: dict[str, Any] = {
            k: jettison.scalar(v) for k, v in self._agent_view(agent, now).items()
        }
        if capabilities:
            items = [{"key": k, "value": jettison.scalar(v)} for k, v in agent.capabilities.items()]
            view["capabilities"] = jettison.wrap("capabilities", "item", items)["capabilities"]
        return view

    def _agent_xml(self, agent: AgentRecord, now: float) -> str:
        view = self._agent_view(agent, now)
        return "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in view.items())

    def _ep_agents_list(self, request: Request, user: str | None, fmt: str) -> Response:
        now = time.time()
        with self._lock:
            agents = [self._agents[name] for name in sorted(self._agents)]
            if fmt == "json":
                items = [self._agent_json(a, now, capabilities=True) for a in agents]
                return Response(json.dumps(jettison.wrap("agents", "agent", items)),
                                mimetype="application/json")
            if fmt != "xml":
                return not_found()
            body = "".join(f"<agent>{self._agent_xml(a, now)}</agent>" for a in agents)
        return xml_response('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                            f"<agents>{body}</agents>")

    def _ep_agent(self, request: Request, user: str | None, name: str) -> Response:
        if request.method == "GET":
            return self._get_agent(name)
        form = read_form(request.stream, request.content_type or "", self.storage_dir / "incoming")
        if form is None:
            return bad_request("form expected")
        state = first_value(form, "state")
        address = first_value(form, "address")
        if not state or state not in AGENT_STATES:
            return bad_request("missing or unknown state")
        now = time.time()
        with self._lock:
            agent = self._agents.get(name)
            created = agent is None
            if agent is None:
                agent = self._agents[name] = AgentRecord(name=name)
            changed = created or agent.state != state
            agent.state = state
            agent.history.append((now, state))
            if address:
                agent.address = address
            if state != "unknown":
                agent.last_heard = now
            if changed:
                agent.last_update = now
        self._notify()
        return text_response(f"{name} set to {state}" if changed else "")

    def _get_agent(self, raw_name: str) -> Response:
        name, fmt = _split_format(raw_name)
        now = time.time()
        with self._lock:
            agent = self._agents.get(name)
            if agent is None:
                return not_found()
            if fmt == "json":
                body = {"agent-state-update": self._agent_json(agent, now, capabilities=False)}
                return Response(json.dumps(body), mimetype="application/json")
            xml = self._agent_xml(agent, now)
        return xml_response('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                            f"<agent-state-update>{xml}</agent-state-update>")

    def _ep_agent_configuration(self, request: Request, user: str | None, name: str) -> Response:
        form = read_form(request.stream, request.content_type or "", self.storage_dir / "incoming")
        if form is None:
            return bad_request("form expected")
        parsed = parse_configuration(first_value(form, "configuration") or "")
        if parsed is None:
            return bad_request("configuration missing or not Java properties as XML/JSON")
        properties, fmt = parsed
        now = time.time()
        with self._lock:
            agent = self._agents.get(name)
            if agent is None:
                agent = self._agents[name] = AgentRecord(name=name, last_update=now)
            agent.capabilities = dict(properties)
            agent.capabilities_posts += 1
            agent.last_heard = now
            stored = dict(agent.capabilities)
        self._notify()
        if fmt == "json":
            return Response(json.dumps(stored), mimetype="application/json")
        return xml_response(properties_xml(stored, f"Capabilities for {name}"))

    def _ep_agent_configuration_get(self, request: Request, user: str | None, name: str,
                                    fmt: str) -> Response:
        with self._lock:
            agent = self._agents.get(name)
            if agent is None:
                return not_found()
            stored = dict(agent.capabilities)
        if fmt == "json":
            return Response(json.dumps(stored), mimetype="application/json")
        if fmt == "xml":
            return xml_response(properties_xml(stored, f"Capabilities for {name}"))
        return not_found()

    def _ep_recording(self, request: Request, user: str | None, rid: str) -> Response:
        if request.method == "GET":
            rec_id, fmt = _split_format(rid)
            with self._lock:
                rec = self._recordings.get(rec_id)
                if rec is None:
                    return not_found()
                view = {"id": rec.id, "state": rec.state,
                        "time-since-last-update": int((time.time() - rec.last_update) * 1000)}
            if fmt == "json":
                body = {"recording-state-update":
                        {k: jettison.scalar(v) for k, v in view.items()}}
                return Response(json.dumps(body), mimetype="application/json")
            inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in view.items())
            return xml_response('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                                f"<recording-state-update>{inner}</recording-state-update>")
        if request.method == "DELETE":
            with self._lock:
                if self._recordings.pop(rid, None) is None:
                    return not_found()
            self._notify()
            return text_response(f"{rid} removed")
        form = read_form(request.stream, request.content_type or "", self.storage_dir / "incoming")
        if form is None:
            return bad_request("form expected")
        state = first_value(form, "state")
        if not state or state not in RECORDING_STATES:
            return bad_request("missing or unknown state")
        now = time.time()
        with self._lock:
            if rid not in self._events:
                return not_found()
            rec = self._recordings.get(rid)
            if rec is None:
                rec = self._recordings[rid] = RecordingRecord(rid, state, now)
            rec.state = state
            rec.last_update = now
            rec.history.append((now, state))
        self._notify()
        return text_response(f"{rid} set to {state}")

    # ------------------------------------------------------------------ calendar

    def _ep_calendar(self, request: Request, user: str | None) -> Response:
        params = dict(request.args.items())
        agent = params.get("agentid") or None
        if_none_match = request.headers.get("If-None-Match")
        now_dt = datetime.now(UTC)
        cutoff: datetime | None = None
        if params.get("cutoff"):
            try:
                cutoff = datetime.fromtimestamp(int(params["cutoff"]) / 1000, UTC)
            except (ValueError, OverflowError, OSError):
                return self._record_calendar(params, if_none_match, bad_request("bad cutoff"), None)
        with self._lock:
            etag = (f"mod{self._agent_modified.get(agent, self._epoch_ms)}"
                    if agent is not None else None)
            if etag is not None and if_none_match == etag:
                response = Response(status=304)
                response.headers["ETag"] = etag
                return self._record_calendar(params, if_none_match, response, etag)
            oldest_end = now_dt - timedelta(hours=1)
            events = [
                e for e in self._events.values()
                if (agent is None or e.agent == agent)
                and e.end >= oldest_end
                and (cutoff is None or e.start <= cutoff)
            ]
            if self.shuffle_events:
                random.shuffle(events)
            else:
                events.sort(key=lambda e: e.start)
            body = render_calendar(events, now_dt, fold=self.fold_calendar_lines)
        payload = body.encode("utf-8")
        transform = self.calendar_transform
        if transform is not None:
            payload = transform(payload)
        response = Response(payload, mimetype="text/calendar")
        response.headers["Content-Type"] = "text/calendar;charset=UTF-8"
        if etag is not None:
            # Unquoted, exactly as the core sends it; werkzeug would quote it.
            response.headers["ETag"] = etag
        return self._record_calendar(params, if_none_match, response, etag)

    def _record_calendar(self, params: dict[str, str], if_none_match: str | None,
                         response: Response, etag: str | None) -> Response:
        with self._lock:
            self._calendar_requests.append(CalendarRequest(
                time=time.time(), params=params, if_none_match=if_none_match,
                status=response.status_code, etag=etag))
        return response

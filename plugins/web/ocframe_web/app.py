"""The WSGI application: the page, its JSON API (``/api/v1``) and ``/metrics``.

Plain werkzeug routing; every answer is small JSON or a file. The page is
static HTML + JS (no build step) that polls ``/api/v1/status``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from importlib import resources
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ocframe.control import ActionRefused, Control
from ocframe.status import StatusView

from .logbuffer import RecentLogs
from .metrics import registry_for
from .security import Guard
from .serialize import to_json

log = logging.getLogger("ocframe.web")

API = "/api/v1"
STATIC = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
#: The lowest level the API reports: digital silence (-inf dBFS) as a number.
SILENCE_DB = -120.0
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]


def parse_duration(text: str | int | float) -> timedelta:
    """``45m``, ``1h30m``, ``90s`` or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=float(text))
    text = str(text)
    if re.fullmatch(r"\s*\d+(\.\d+)?\s*", text):
        return timedelta(seconds=float(text))
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {text[:40]!r} (say 45m, 1h30m or 90s)")
    h, m, s = (int(g or 0) for g in match.groups())
    return timedelta(hours=h, minutes=m, seconds=s)


class WebApp:
    def __init__(self, status: StatusView, control: Control, guard: Guard, logs: RecentLogs,
                 *, refresh: float) -> None:
        self.status = status
        self.control = control
        self.guard = guard
        self.logs = logs
        self.refresh = refresh
        self.metrics = registry_for(status)
        self.url_map = Map([
            Rule("/", endpoint="index", methods=["GET"]),
            Rule("/static/<name>", endpoint="static", methods=["GET"]),
            Rule("/metrics", endpoint="metrics", methods=["GET"]),
            Rule(f"{API}/session", endpoint="session", methods=["GET"]),
            Rule(f"{API}/status", endpoint="status", methods=["GET"]),
            Rule(f"{API}/logs", endpoint="logs", methods=["GET"]),
            Rule(f"{API}/recordings", endpoint="recordings", methods=["GET"]),
            Rule(f"{API}/recordings/<path:rid>/retry", endpoint="retry", methods=["POST"]),
            Rule(f"{API}/recordings/<path:rid>/delete", endpoint="delete", methods=["POST"]),
            Rule(f"{API}/recordings/<path:rid>", endpoint="recording", methods=["GET"]),
            Rule(f"{API}/agents/<agent>/record", endpoint="record", methods=["POST"]),
            Rule(f"{API}/agents/<agent>/stop", endpoint="stop", methods=["POST"]),
            Rule(f"{API}/agents/<agent>/inputs/<input_name>/preview",
                 endpoint="preview", methods=["GET"]),
            Rule(f"{API}/agents/<agent>/inputs/<input_name>/preview.jpg",
                 endpoint="preview_image", methods=["GET"]),
        ])

    # -- WSGI ------------------------------------------------------------------
    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if not self.guard.host_allowed(request):
            return _error(400, "unknown host name: add it to [plugins.settings.web] hostnames")
        user = self.guard.authenticated(request)
        if user is None:
            response = _error(401, "authentication required")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocframe", charset="UTF-8"'
            return response
        if request.method == "POST":
            problem = self.guard.cross_site_problem(request)
            if problem is not None:
                log.warning("web: refused %s %s: %s", request.method, request.path, problem)
                return _error(403, f"refused: {problem}")
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
            response = getattr(self, f"on_{endpoint}")(request, user=user, **args)
        except HTTPException as exc:
            return _error(exc.code or 500, exc.description or exc.name)
        except ActionRefused as exc:
            return _error(409, str(exc))
        except ValueError as exc:
            return _error(400, str(exc))
        _harden(response)
        return response

    # -- pages -------------------------------------------------------------------
    def on_index(self, request: Request, **_: Any) -> Response:
        return self._static("index.html")

    def on_static(self, request: Request, name: str, **_: Any) -> Response:
        return self._static(name)

    def _static(self, name: str) -> Response:
        if name not in STATIC:
            raise NotFound()
        body = resources.files("ocframe_web").joinpath("static", name).read_bytes()
        response = Response(body, content_type=f"{STATIC[name]}; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        return response

    def on_metrics(self, request: Request, **_: Any) -> Response:
        return Response(generate_latest(self.metrics), content_type=CONTENT_TYPE_LATEST)

    # -- reads -------------------------------------------------------------------
    def on_session(self, request: Request, user: str, **_: Any) -> Response:
        return _json({"csrf_token": self.guard.csrf_token, "user": user,
                      "refresh": self.refresh, "api": API})

    def on_status(self, request: Request, **_: Any) -> Response:
        snap = self.status.snapshot()
        body = to_json(snap)
        body["recordings"] = to_json(self.status.recordings(limit=_limit(request, 20)))
        return _json(body)

    def on_logs(self, request: Request, **_: Any) -> Response:
        return _json({"lines": self.logs.lines(_limit(request, 50))})

    def on_recordings(self, request: Request, **_: Any) -> Response:
        agent = request.args.get("agent") or None
        return _json({"recordings": to_json(self.status.recordings(
            agent=agent, limit=_limit(request, 50)))})

    def on_recording(self, request: Request, rid: str, **_: Any) -> Response:
        rec = self.status.recording(rid)
        if rec is None:
            raise NotFound(f"no recording {rid!r}")
        return _json(to_json(rec))

    def on_preview(self, request: Request, agent: str, input_name: str, **_: Any) -> Response:
        preview = self.status.preview(agent, input_name)
        if preview is None:
            raise NotFound("no preview: nothing records on this input, or its driver has none")
        level = preview.audio_level_db
        if level is not None and math.isinf(level):
            level = SILENCE_DB
        return _json({"image_time": preview.image_time, "audio_level_db": level,
                      "audio_time": preview.audio_time,
                      "image": f"{API}/agents/{agent}/inputs/{input_name}/preview.jpg"
                      if preview.image else None})

    def on_preview_image(self, request: Request, agent: str, input_name: str,
                         **_: Any) -> Response:
        preview = self.status.preview(agent, input_name)
        if preview is None or preview.image is None:
            raise NotFound("no preview image yet")
        try:
            body = preview.image.read_bytes()
        except OSError:
            raise NotFound("no preview image yet") from None
        response = Response(body, content_type="image/jpeg")
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- actions -------------------------------------------------------------------
    def on_record(self, request: Request, agent: str, user: str, **_: Any) -> Response:
        data = _body(request)
        duration = parse_duration(data.get("duration", "45m"))
        rid = self.control.start_now(agent, duration, str(data.get("title") or ""),
                                     workflow=data.get("workflow") or None, by=f"web:{user}")
        return _json({"recording_id": rid}, 201)

    def on_stop(self, request: Request, agent: str, user: str, **_: Any) -> Response:
        data = _body(request)
        stopped = self.control.stop_now(agent, data.get("recording_id") or None,
                                        by=f"web:{user}")
        return _json({"stopped": stopped})

    def on_retry(self, request: Request, rid: str, user: str, **_: Any) -> Response:
        self.control.retry(rid, by=f"web:{user}")
        return _json({"queued": rid})

    def on_delete(self, request: Request, rid: str, user: str, **_: Any) -> Response:
        force = bool(_body(request).get("force", False))
        self.control.delete(rid, force=force, by=f"web:{user}")
        return _json({"deleted": rid})


def _body(request: Request) -> dict[str, Any]:
    if not request.data:
        return {}
    try:
        data = json.loads(request.data)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _limit(request: Request, default: int) -> int:
    try:
        return max(1, min(500, int(request.args.get("limit", default))))
    except ValueError:
        return default


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, allow_nan=False), status=status,
                    content_type="application/json")


def _error(status: int, message: str) -> Response:
    response = _json({"error": message}, status)
    _harden(response)
    return response


def _harden(response: Response) -> None:
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Content-Security-Policy",
                 "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self';"
                 " frame-ancestors 'none'")

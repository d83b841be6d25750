"""The HTTP face of the emulated Pearl: REST API v2.0 and the legacy CGI API.

Every route needs HTTP Basic; REST answers are JSON envelopes
(``{"status": "ok", "result": ...}`` or ``{"status": ..., "message": ...}``),
CGI answers are ``key = value`` text lines. Faults from :class:`Faults` are
applied before a route runs.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .device import DeviceError, PearlDevice

API = "/api/v2.0"

#: Fault kinds accepted by :meth:`Faults.fail_next`, one per kind of route.
FAULT_KINDS = (
    "any",
    "recorders",
    "status",
    "start",
    "stop",
    "archive",
    "download",
    "inputs",
    "firmware",
    "legacy",
)


@dataclass
class Faults:
    """Misbehaviour to inject; every field may change while the server runs."""

    latency: float = 0.0  # seconds added before every answer
    download_rate: float | None = None  # bytes per second, None = as fast as possible
    range_support: bool = True
    _failures: dict[str, collections.deque[tuple[int, str]]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque)
    )
    _cuts: collections.deque[int] = field(default_factory=collections.deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, kind: str, count: int = 1, status: int = 503, message: str = "") -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        text = message or {
            400: "Bad request",
            403: "Forbidden",
            404: "Not found",
            409: "Conflict",
            503: "Service unavailable",
        }.get(status, "Error")
        with self._lock:
            self._failures[kind].extend([(status, text)] * count)

    def cut_next_downloads(self, after_bytes: int, count: int = 1) -> None:
        """The next ``count`` downloads close the connection after ``after_bytes``."""
        with self._lock:
            self._cuts.extend([after_bytes] * count)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._cuts.clear()
        self.latency = 0.0
        self.download_rate = None
        self.range_support = True

    def take_failure(self, kind: str) -> tuple[int, str] | None:
        with self._lock:
            for k in (kind, "any"):
                if self._failures[k]:
                    return self._failures[k].popleft()
        return None

    def take_cut(self) -> int | None:
        with self._lock:
            return self._cuts.popleft() if self._cuts else None


def _envelope(result: Any) -> Response:
    return Response(json.dumps({"status": "ok", "result": result}), mimetype="application/json")


def _error(status: int, message: str) -> Response:
    body = {"status": "notfound" if status == 404 else "error", "message": message}
    return Response(json.dumps(body), status=status, mimetype="application/json")


class PearlApp:
    """WSGI application over a :class:`PearlDevice`."""

    url_map = Map(
        [
            Rule(f"{API}/recorders", endpoint="recorders", methods=["GET"]),
            Rule(f"{API}/recorders/<rid>/status", endpoint="status", methods=["GET"]),
            Rule(f"{API}/recorders/<rid>/control/<action>", endpoint="control", methods=["POST"]),
            Rule(f"{API}/recorders/<rid>/archive/files", endpoint="archive", methods=["GET"]),
            Rule(
                f"{API}/recorders/<rid>/archive/files/<fid>",
                endpoint="download",
                methods=["GET"],
            ),
            Rule(f"{API}/inputs", endpoint="inputs", methods=["GET"]),
            Rule(f"{API}/system/firmware", endpoint="firmware", methods=["GET"]),
            Rule("/admin/<channel>/get_params.cgi", endpoint="get_params", methods=["GET"]),
            Rule("/admin/<channel>/set_params.cgi", endpoint="set_params", methods=["GET"]),
        ],
        strict_slashes=False,
    )

    def __init__(self, device: PearlDevice, faults: Faults, user: str, password: str) -> None:
        self.device = device
        self.faults = faults
        self.user = user
        self.password = password
        self.requests: collections.Counter[str] = collections.Counter()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.user, self.password):
            return Response(
                "401 Unauthorized\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Basic realm="Pearl"'},
            )
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            if request.path.startswith("/admin/"):
                return Response("404 Not Found\n", status=404, mimetype="text/plain")
            return _error(404, "Not found")
        except HTTPException as exc:
            return _error(exc.code or 400, exc.description or "Bad request")
        kind = endpoint
        if endpoint == "control":
            kind = args["action"]
        elif endpoint in ("get_params", "set_params"):
            kind = "legacy"
        self.requests[kind] += 1
        if self.faults.latency:
            time.sleep(self.faults.latency)
        failure = self.faults.take_failure(kind)
        if failure is not None:
            status, message = failure
            if kind == "legacy":
                return Response(f"{status} {message}\n", status=status, mimetype="text/plain")
            return _error(status, message)
        try:
            return getattr(self, f"on_{endpoint}")(request, **args)
        except DeviceError as exc:
            if kind == "legacy":
                return Response(f"{exc.status} {exc.message}\n", status=exc.status)
            return _error(exc.status, exc.message)

    # -- REST ------------------------------------------------------------------

    def on_recorders(self, request: Request) -> Response:
        with self.device.lock:
            return _envelope(
                [
                    {"id": r.id, "name": r.name, "multisource": r.multisource}
                    for r in self.device.recorders.values()
                ]
            )

    def on_status(self, request: Request, rid: str) -> Response:
        return _envelope(self.device.status(rid))

    def on_control(self, request: Request, rid: str, action: str) -> Response:
        if action == "start":
            self.device.start(rid)
        elif action == "stop":
            self.device.stop(rid)
        else:
            raise DeviceError(404, f"Unknown control {action}")
        return _envelope("ok")

    def on_archive(self, request: Request, rid: str) -> Response:
        try:
            offset = int(request.args.get("from", "0"))
            limit = int(request.args["limit"]) if "limit" in request.args else None
        except ValueError:
            raise DeviceError(400, "Invalid paging parameters") from None
        if offset < 0 or (limit is not None and limit < 0):
            raise DeviceError(400, "Invalid paging parameters")
        return _envelope(self.device.list_archive(rid, offset, limit))

    def on_inputs(self, request: Request) -> Response:
        return _envelope([i.to_json() for i in self.device.inputs])

    def on_firmware(self, request: Request) -> Response:
        return _envelope(self.device.firmware)

    def on_download(self, request: Request, rid: str, fid: str) -> Response:
        entry = self.device.entry(rid, fid)
        if entry.path is None:
            raise DeviceError(409, "File is being recorded")
        path = entry.path
        total = path.stat().st_size
        start, end = 0, total
        status = 200
        headers = {"Content-Disposition": f'attachment; filename="{entry.id}"'}
        if self.faults.range_support:
            headers["Accept-Ranges"] = "bytes"
            if request.range is not None:
                wanted = request.range.range_for_length(total)
                if wanted is None:
                    return Response(status=416, headers={"Content-Range": f"bytes */{total}"})
                start, end = wanted
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        headers["Content-Length"] = str(end - start)
        cut = self.faults.take_cut()
        return Response(
            self._stream(path, start, end, cut),
            status=status,
            headers=headers,
            mimetype="application/octet-stream",
            direct_passthrough=True,
        )

    def _stream(self, path: Any, start: int, end: int, cut: int | None) -> Iterator[bytes]:
        # Stopping short of Content-Length makes the server close the
        # connection, which a client sees as an incomplete read: a cut cable.
        limit = end if cut is None else min(end, start + cut)
        rate = self.faults.download_rate
        with open(path, "rb") as f:
            f.seek(start)
            pos = start
            while pos < limit:
                chunk = f.read(min(64 * 1024, limit - pos))
                if not chunk:
                    break
                pos += len(chunk)
                yield chunk
                if rate:
                    time.sleep(len(chunk) / rate)

    # -- legacy CGI ------------------------------------------------------------

    def on_get_params(self, request: Request, channel: str) -> Response:
        recorder = self.device.recorder_by_channel(channel)
        lines = []
        with self.device.lock:
            for key in request.args:
                if key in recorder.params:
                    lines.append(f"{key} = {recorder.params[key]}")
                else:
                    lines.append(f"{key} = Unknown parameter")
        return Response("\n".join(lines) + "\n", mimetype="text/plain")

    def on_set_params(self, request: Request, channel: str) -> Response:
        recorder = self.device.recorder_by_channel(channel)
        lines = []
        for key, value in request.args.items():
            if key not in recorder.params:
                lines.append(f"{key} = Unknown parameter")
                continue
            if key == "rec_enabled":
                if value == "on":
                    self.device.start(recorder.id)
                elif value == "":
                    self.device.stop(recorder.id)
                else:
                    lines.append(f"{key} = Invalid value")
                    continue
            else:
                with self.device.lock:
                    recorder.params[key] = value
            lines.append(f"{key} = {value}")
        return Response("\n".join(lines) + "\n", mimetype="text/plain")

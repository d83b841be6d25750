"""Response shapes shared by all endpoints (the core's error bodies are part of the protocol)."""

from __future__ import annotations

from werkzeug.wrappers import Response

NOT_FOUND_TEXT = "The resource you requested does not exist."

SERVICE_PATHS = {
    "org.opencastproject.capture.admin": "/capture-admin",
    "org.opencastproject.scheduler": "/recordings",
    "org.opencastproject.ingest": "/ingest",
    "org.opencastproject.fileupload": "/upload",
}


def text_response(body: str, status: int = 200, mimetype: str = "text/plain") -> Response:
    return Response(body, status=status, mimetype=mimetype)


def xml_response(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def not_found() -> Response:
    return text_response(NOT_FOUND_TEXT, 404)


def bad_request(reason: str = "") -> Response:
    # The core answers most 400s with an empty body; the reason goes in a header
    # so people debugging an agent can see why.
    response = Response("", status=400, mimetype="text/plain")
    if reason:
        response.headers["X-Simulator-Reason"] = reason.replace("\r", " ").replace("\n", " ")[:300]
    return response

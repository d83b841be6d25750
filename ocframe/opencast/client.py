"""The capture agent's side of capture-admin and the scheduler calendar."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

import requests

from ..config import CoreConfig
from ..errors import CoreError
from .http import CoreSession, ServiceHttp
from .registry import CAPTURE_ADMIN, INGEST, SCHEDULER, ServiceRegistry

log = logging.getLogger("ocframe.core")


@dataclass(frozen=True)
class CalendarResponse:
    """A calendar poll's outcome: ``body`` is None for a 304."""

    status: int
    body: bytes | None
    etag: str | None


def properties_xml(props: Mapping[str, str], comment: str) -> str:
    """Java properties as XML, the form capture-admin takes."""
    entries = "".join(
        f'<entry key="{escape(k, {chr(34): "&quot;"})}">{escape(v)}</entry>'
        for k, v in sorted(props.items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        '<!DOCTYPE properties SYSTEM "http://java.sun.com/dtd/properties.dtd">\n'
        f"<properties><comment>{escape(comment)}</comment>{entries}</properties>"
    )


class OpencastClient:
    """Everything a capture agent asks of the core, for any number of agents."""

    def __init__(self, core: CoreConfig) -> None:
        self.config = core
        self.session = CoreSession(core)
        self.registry = ServiceRegistry(self.session)

    def close(self) -> None:
        self.session.close()

    def service(self, service_type: str, *, refresh: bool = False) -> ServiceHttp:
        return ServiceHttp(self.session, self.registry.lookup(service_type, refresh=refresh))

    def ingest_service(self) -> ServiceHttp:
        """Looked up again before every upload; the last good answer if the
        registry cannot be asked."""
        return self.service(INGEST, refresh=True)

    # -- capture-admin -----------------------------------------------------
    def set_agent_state(self, agent: str, state: str, address: str | None = None) -> None:
        fields = {"state": state}
        if address:
            fields["address"] = address
        self.service(CAPTURE_ADMIN).post_form(f"agents/{agent}", fields)

    def set_capabilities(self, agent: str, props: Mapping[str, str], fmt: str = "xml") -> None:
        if fmt == "json":
            payload = json.dumps(dict(props), sort_keys=True)
        else:
            payload = properties_xml(props, f"Capabilities for {agent}")
        self.service(CAPTURE_ADMIN).post_form(
            f"agents/{agent}/configuration", {"configuration": payload}
        )

    def set_recording_state(self, recording_id: str, state: str) -> bool:
        """False when the core does not know the recording (404: not a
        scheduled event, e.g. an unscheduled or deleted one)."""
        try:
            self.service(CAPTURE_ADMIN).post_form(
                f"recordings/{quote(recording_id, safe='')}", {"state": state}
            )
        except CoreError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- calendar ------------------------------------------------------------
    def fetch_calendar(self, agent: str, cutoff_ms: int, etag: str | None,
                       max_bytes: int = 256 << 20) -> CalendarResponse:
        """The agent's calendar, or 304 for the ``etag`` given. A body larger
        than ``max_bytes`` is refused while it arrives (memory is bounded)."""
        headers = {"If-None-Match": etag} if etag else {}
        resp = self.service(SCHEDULER).get(
            "calendars",
            params={"agentid": agent, "cutoff": str(cutoff_ms)},
            headers=headers,
            expect=(200, 304),
            stream=True,
        )
        try:
            if resp.status_code == 304:
                return CalendarResponse(304, None, etag)
            body = bytearray()
            for chunk in resp.iter_content(1 << 20):
                body += chunk
                if len(body) > max_bytes:
                    raise CoreError(f"calendar for {agent} is larger than {max_bytes >> 20} MiB"
                                    " (calendar.max_mib); refused")
        except requests.RequestException as exc:
            raise CoreError(f"calendar for {agent}: {type(exc).__name__}: {exc}") from None
        finally:
            resp.close()
        content = bytes(body)
        ctype = resp.headers.get("Content-Type", "")
        if ctype and "calendar" not in ctype and "text/plain" not in ctype:
            # Liberal in what we accept: a calendar is a calendar whatever its
            # label; anything else (a proxy's HTML error page) is an error.
            if not content.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"BEGIN:VCALENDAR"):
                raise CoreError(f"calendar for {agent}: unexpected Content-Type {ctype!r}")
            log.debug("calendar for %s labelled %r; accepted as a calendar", agent, ctype)
        # ETag kept verbatim: the core compares it as an exact string.
        return CalendarResponse(200, content, resp.headers.get("ETag"))

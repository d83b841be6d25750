"""Plain data the simulator keeps and hands out to tests (always as copies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class ScheduledEvent:
    uid: str
    agent: str
    start: datetime
    end: datetime
    title: str
    inputs: list[str] | None = None
    workflow: str | None = "fast"
    workflow_config: dict[str, str] = field(default_factory=dict)
    series_id: str | None = None
    series_title: str | None = None
    description: str | None = None
    creator: str | None = None
    extra_properties: dict[str, str] = field(default_factory=dict)
    created: datetime | None = None
    last_modified: datetime | None = None

    def capture_properties(self) -> dict[str, str]:
        """The capture agent properties attachment, as key -> value."""
        props: dict[str, str] = {
            "event.title": self.title,
            "event.location": self.agent,
        }
        if self.series_id:
            props["event.series"] = self.series_id
        if self.inputs is not None:
            props["capture.device.names"] = ",".join(self.inputs)
        if self.workflow:
            props["org.opencastproject.workflow.definition"] = self.workflow
        for key, value in self.workflow_config.items():
            props[f"org.opencastproject.workflow.config.{key}"] = str(value)
        props.update({k: str(v) for k, v in self.extra_properties.items()})
        return props


@dataclass
class Element:
    """A media package element the core stored, with the file on disk."""

    kind: str
    id: str
    flavor: str
    mimetype: str | None
    tags: list[str]
    path: Path | None
    size: int | None
    md5: str | None
    filename: str | None
    url: str | None = None
    start_time: int | None = None


@dataclass
class Ingest:
    """One workflow the core started."""

    time: float
    mediapackage_id: str
    workflow_definition: str | None
    workflow_instance_id: str | None
    workflow_id: int
    properties: dict[str, str]
    method: str
    tracks: list[Element]
    catalogs: list[Element]
    attachments: list[Element]
    mediapackage_xml: str
    dublin_core: dict[str, list[str]] = field(default_factory=dict)
    event_uid: str | None = None
    user: str | None = None
    # Workflow configuration after merging the scheduled event's settings.
    configuration: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CalendarRequest:
    time: float
    params: dict[str, str]
    if_none_match: str | None
    status: int
    etag: str | None


@dataclass(frozen=True)
class RequestLog:
    time: float
    method: str
    path: str
    query: str
    status: int
    user: str | None
    auth_scheme: str | None
    content_type: str | None
    duration: float = 0.0
    fault: str | None = None
    #: The Host header the client sent (where it meant to go).
    host: str = ""
    #: Where the request arrived: "core", or "ingest" (the separate ingest node).
    listener: str = "core"


@dataclass
class AgentRecord:
    name: str
    state: str = "unknown"
    address: str | None = None
    last_heard: float = 0.0
    last_update: float = 0.0
    history: list[tuple[float, str]] = field(default_factory=list)
    capabilities: dict[str, str] = field(default_factory=dict)
    capabilities_posts: int = 0


@dataclass
class RecordingRecord:
    id: str
    state: str
    last_update: float
    history: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class ServiceEntry:
    type: str
    host: str | None  # None: this simulator's own URL
    path: str
    attributes: dict[str, Any] = field(default_factory=dict)

"""Plain data passed between the kernel, drivers and plugins.

These classes are part of the public plugin API (see docs/plugin-api.md):
fields may be added in minor releases, never removed or renamed.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

WORKFLOW_DEFINITION_KEY = "org.opencastproject.workflow.definition"
WORKFLOW_CONFIG_PREFIX = "org.opencastproject.workflow.config."
DEVICE_NAMES_KEY = "capture.device.names"


class AgentState(enum.StrEnum):
    """Agent states exactly as the core spells them."""

    IDLE = "idle"
    SHUTTING_DOWN = "shutting_down"
    CAPTURING = "capturing"
    UPLOADING = "uploading"
    ERROR = "error"
    UNKNOWN = "unknown"
    OFFLINE = "offline"


class RecordingState(enum.StrEnum):
    """Recording states exactly as the core spells them."""

    UNKNOWN = "unknown"
    CAPTURING = "capturing"
    CAPTURE_FINISHED = "capture_finished"
    CAPTURE_ERROR = "capture_error"
    MANIFEST = "manifest"
    MANIFEST_ERROR = "manifest_error"
    MANIFEST_FINISHED = "manifest_finished"
    COMPRESSING = "compressing"
    COMPRESSING_ERROR = "compressing_error"
    UPLOADING = "uploading"
    UPLOAD_FINISHED = "upload_finished"
    UPLOAD_ERROR = "upload_error"


def file_md5(path: Path) -> str:
    """Hex MD5 of a file, read in large blocks (hashlib releases the GIL)."""
    digest = hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, *, limit: int = 80) -> str:
    """A file-system-safe name for untrusted text (event titles, UIDs).

    Anything outside ``[A-Za-z0-9._-]`` becomes ``_``; leading dots are
    removed so the result is never ``.``/``..`` or hidden; never empty.
    """
    # Strip dots and underscores together: "../x" must not become ".._x".
    cleaned = _UNSAFE.sub("_", text)[:limit].lstrip("._").rstrip("_")
    return cleaned or "unnamed"


def unique_name(text: str, *, limit: int = 48) -> str:
    """A file-system-safe name that is one-to-one for untrusted text: the
    readable :func:`safe_name` plus a hash of the raw text, so ``lec 1`` and
    ``lec:1`` (both ``lec_1``) or two non-ASCII UIDs never share a name."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return f"{safe_name(text, limit=limit)}-{digest}"


# C0 and C1 controls and the bidirectional overrides that reorder a terminal
# line; newlines and tabs too, since one log record must stay one line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: object, *, limit: int | None = 300) -> str:
    """Untrusted text (titles, UIDs, the core's answers) safe for one log line
    or a terminal: control characters become visible escapes (``\\x1b``,
    ``\\n``), and very long text is cut with an ellipsis."""
    out = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"),
                       str(text))
    return out if limit is None or len(out) <= limit else out[: limit - 1] + "…"


@dataclass(frozen=True)
class Event:
    """One scheduled event from the core's calendar.

    ``properties`` is the decoded capture agent properties attachment;
    ``attachments`` maps an attachment's file name (``episode.xml``,
    ``series.xml``, ...) to its decoded bytes. Nothing here is trusted: use
    :func:`safe_name` before it reaches a path and never pass it to a shell.
    """

    uid: str
    start: datetime
    end: datetime
    title: str = ""
    location: str = ""
    series_id: str | None = None
    description: str | None = None
    last_modified: datetime | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    attachments: Mapping[str, bytes] = field(default_factory=dict)
    #: True for a recording an operator started without a calendar event (an
    #: ad-hoc recording): the core does not know its UID, so no recording
    #: states are reported for it, and its ingest creates a new event.
    unscheduled: bool = False

    @property
    def inputs(self) -> list[str] | None:
        """Inputs selected for this event, or ``None`` when it selects none (= all)."""
        raw = self.properties.get(DEVICE_NAMES_KEY, "")
        names = [n.strip() for n in raw.split(",") if n.strip()]
        return names or None

    @property
    def workflow_definition(self) -> str | None:
        return self.properties.get(WORKFLOW_DEFINITION_KEY) or None

    @property
    def workflow_config(self) -> dict[str, str]:
        """Workflow settings with the prefix stripped; dotted keys are kept whole."""
        n = len(WORKFLOW_CONFIG_PREFIX)
        return {
            k[n:]: v for k, v in self.properties.items() if k.startswith(WORKFLOW_CONFIG_PREFIX)
        }

    @property
    def series_title(self) -> str | None:
        return self.properties.get("event.series.title") or None

    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (attachments as Latin-1 text, lossless for bytes)."""
        return {
            "uid": self.uid,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "title": self.title,
            "location": self.location,
            "series_id": self.series_id,
            "description": self.description,
            "last_modified": self.last_modified.isoformat() if self.last_modified else None,
            "properties": dict(self.properties),
            "attachments": {k: v.decode("latin-1") for k, v in self.attachments.items()},
            "unscheduled": self.unscheduled,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        last_modified = data.get("last_modified")
        return cls(
            uid=data["uid"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            title=data.get("title", ""),
            location=data.get("location", ""),
            series_id=data.get("series_id"),
            description=data.get("description"),
            last_modified=datetime.fromisoformat(last_modified) if last_modified else None,
            properties=data.get("properties", {}),
            attachments={k: v.encode("latin-1") for k, v in data.get("attachments", {}).items()},
            unscheduled=bool(data.get("unscheduled", False)),
        )


@dataclass(frozen=True)
class InputSpec:
    """One configured input of an agent, as a driver instance sees it.

    ``settings`` is an instance of the driver's ``Settings`` model, already
    validated. ``tools`` holds paths of helper programs (``ffmpeg``, ``ffprobe``).
    """

    name: str
    agent: str
    driver: str
    flavor: str
    settings: Any
    tools: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CaptureContext:
    """What a driver needs to capture one segment of one event on one input.

    ``directory`` exists and belongs to this segment alone. ``segment`` counts
    from 0; the kernel starts a new segment when a capture ends before the
    scheduled end (a camera reboot) or after a crash.
    """

    recording_id: str
    event: Event
    input: InputSpec
    directory: Path
    segment: int
    scheduled_end: datetime
    logger: logging.Logger


@dataclass
class Track:
    """A produced media file: ``flavor`` is ``type/subtype`` as Opencast wants it."""

    path: Path
    flavor: str
    mimetype: str
    tags: tuple[str, ...] = ()
    input: str = ""
    segment: int = 0
    #: Hex MD5 of the file, computed once by the kernel when the upload package
    #: is built; strategies verify the core's checksum against it.
    md5: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "flavor": self.flavor,
            "mimetype": self.mimetype,
            "tags": list(self.tags),
            "input": self.input,
            "segment": self.segment,
            "md5": self.md5,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Track:
        return cls(
            path=Path(data["path"]),
            flavor=data["flavor"],
            mimetype=data["mimetype"],
            tags=tuple(data.get("tags", ())),
            input=data.get("input", ""),
            segment=int(data.get("segment", 0)),
            md5=data.get("md5"),
        )


@dataclass
class IngestPackage:
    """What will be uploaded for one recording.

    ``pre_ingest`` hooks may append, replace or remove entries in place.
    ``catalogs`` and ``attachments`` are :class:`Track` objects too (a file
    with a flavor and a mime type).
    """

    tracks: list[Track] = field(default_factory=list)
    catalogs: list[Track] = field(default_factory=list)
    attachments: list[Track] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "tracks": [t.to_json() for t in self.tracks],
            "catalogs": [t.to_json() for t in self.catalogs],
            "attachments": [t.to_json() for t in self.attachments],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IngestPackage:
        return cls(
            tracks=[Track.from_json(t) for t in data.get("tracks", [])],
            catalogs=[Track.from_json(t) for t in data.get("catalogs", [])],
            attachments=[Track.from_json(t) for t in data.get("attachments", [])],
        )


@dataclass(frozen=True)
class CheckResult:
    """One line of a reachability check (``ocframe check``): what, ok, and why."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class StateChange:
    """An agent or recording state transition, for ``state_change`` observers.

    ``recording_id`` is ``None`` for agent state changes.
    """

    agent: str
    old: str | None
    new: str
    recording_id: str | None = None
    detail: str = ""
    at: float = 0.0

__all__ = [
    "DEVICE_NAMES_KEY",
    "WORKFLOW_CONFIG_PREFIX",
    "WORKFLOW_DEFINITION_KEY",
    "AgentState",
    "CaptureContext",
    "CheckResult",
    "Event",
    "IngestPackage",
    "InputSpec",
    "RecordingState",
    "StateChange",
    "Track",
    "file_md5",
    "printable",
    "safe_name",
]

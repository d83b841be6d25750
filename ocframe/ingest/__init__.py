"""The ingest strategy contract: how a recording is uploaded to the core.

A strategy is a class registered under the ``ocframe.ingest`` entry point
group (name = ``ingest.method`` in the config) or offered by the
``ocframe_ingest_strategies`` hook. The kernel makes a fresh instance per
upload attempt with the agent's validated ``ingest.settings`` and calls
:meth:`IngestStrategy.ingest` on an ingest worker thread. The kernel owns
retries, backoff, states and the recording store; a strategy only moves
bytes, using :attr:`IngestJob.checkpoint` to remember what the core already
has so a retry (even after a crash) sends only what is missing.

Besides the contract, this package is the toolkit a strategy is written
with, so that no strategy needs the kernel's internals or another strategy's
distribution:

- here: :class:`ServiceHttp` (authenticated requests to one service of the
  core, errors turned into :class:`ocframe.errors.CoreError`/``AuthError``)
  and the streamed multipart parts (:class:`TextPart`, :class:`FilePart`,
  :class:`StreamPart`, :class:`DigestTap`), whose implementation lives in
  the internal ``ocframe.opencast`` and may move;
- :mod:`ocframe.ingest.support`: settings every strategy accepts, reading and
  verifying the core's media package answers, Dublin Core and workflow
  fields, and the checkpoint steps of a one-request ingest;
- :mod:`ocframe.ingest.elements`: :class:`~ocframe.ingest.elements.ElementByElementIngest`,
  the resumable create / add each element / start the workflow sequence.

Compatibility: all of this is public API; see docs/plugin-api.md.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from ..model import Event, IngestPackage
from ..opencast.http import ServiceHttp
from ..opencast.multipart import DigestTap, FilePart, Part, Segment, StreamPart, TextPart


class StrategySettings(BaseModel):
    """Base of every strategy's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Checkpoint(Protocol):
    """Durable key/value notes of one recording's upload (in the recording
    store): survive crashes and restarts, cleared when the ingest succeeded."""

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def items(self) -> Mapping[str, str]: ...


@dataclass
class IngestJob:
    """Everything a strategy needs for one upload attempt."""

    recording_id: str
    event: Event
    package: IngestPackage
    #: Workflow to start (the event's, else the agent's configured default).
    workflow_definition: str | None
    #: Workflow settings, prefix already stripped (``trimHold=true``).
    workflow_properties: dict[str, str]
    #: ``mediapackage_id`` (media package id = event UID) or ``workflow_instance_id``.
    link: str
    #: Opencast <= 3.x: also ingest the calendar's catalogs unchanged.
    legacy_catalogs: bool
    #: Bound to the ingest service (looked up in the registry for this attempt).
    http: ServiceHttp
    #: Factory for other services (``"org.opencastproject.fileupload"``).
    service: Callable[[str], ServiceHttp]
    checkpoint: Checkpoint
    #: Call with (bytes sent, bytes total) as the upload progresses.
    progress: Callable[[int, int], None]
    logger: logging.Logger
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestResult:
    mediapackage_id: str
    workflow_id: str | None = None
    detail: str = ""


class IngestStrategy(abc.ABC):
    """Base class of every ingest strategy."""

    Settings: ClassVar[type[StrategySettings]] = StrategySettings

    def __init__(self, settings: StrategySettings) -> None:
        self.settings = settings

    @abc.abstractmethod
    def ingest(self, job: IngestJob) -> IngestResult:
        """Upload ``job.package`` and start the workflow. Raise
        :class:`ocframe.errors.IngestError` (``retryable`` as appropriate);
        a :class:`ocframe.errors.CoreError` from the http helpers is retried
        unless it says otherwise."""


__all__ = [
    "Checkpoint",
    "DigestTap",
    "FilePart",
    "IngestJob",
    "IngestResult",
    "IngestStrategy",
    "Part",
    "Segment",
    "ServiceHttp",
    "StrategySettings",
    "StreamPart",
    "TextPart",
]

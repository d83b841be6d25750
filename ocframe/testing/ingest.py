"""Helpers for testing an ingest strategy through its contract, without an agent.

A strategy's tests need :class:`~ocframe.ingest.IngestJob` objects bound to a
core, which only the kernel can build (the core's HTTP session is internal);
:class:`StrategyRunner` makes them against the simulator, with an in-memory
checkpoint, and runs a strategy on them as the kernel's ingest queue does::

    def test_uploads(opencast_simulator, tmp_path):
        with StrategyRunner(opencast_simulator, tmp_path) as runner:
            event = runner.event()
            package = runner.package({"presenter/source": 100_000})
            result = runner.run("zipped", runner.job(event, package))
        assert opencast_simulator.find_ingest(event.uid) is not None
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from ..config import CoreConfig
from ..ingest import IngestJob, IngestResult, IngestStrategy
from ..model import Event, IngestPackage, Track
from ..opencast.client import OpencastClient


class Core(Protocol):
    """What the runner needs of the simulator (``opencast_simulator``)."""

    url: str

    def add_event(self, agent: str, start: datetime, end: datetime, **kwargs: Any) -> str: ...

    def event(self, uid: str) -> Any: ...


class MemoryCheckpoint:
    """The checkpoint contract in memory; ``fail_on`` simulates a crash right
    before a key is written."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.fail_on: Callable[[str, str], bool] | None = None

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.data.get(key, default)

    def set(self, key: str, value: str) -> None:
        if self.fail_on is not None and self.fail_on(key, value):
            raise KeyboardInterrupt(f"crash before writing {key}")
        self.data[key] = value

    def items(self) -> dict[str, str]:
        return dict(self.data)


def md5(path: Path) -> str:
    """The MD5 a test expects the core to report, computed independently of
    the kernel's hashing."""
    return hashlib.md5(path.read_bytes()).hexdigest()


def media_file(path: Path, size: int) -> Path:
    """A file of ``size`` random bytes (incompressible, like video)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def media_package(directory: Path, sizes: dict[str, int], *,
                  mimetype: str = "video/x-matroska") -> IngestPackage:
    """One track per ``{flavor: size}``, tagged ``archive``, without kernel MD5s."""
    tracks = [Track(media_file(directory / f"{flavor.split('/')[0]}.mkv", size), flavor,
                    mimetype, tags=("archive",))
              for flavor, size in sizes.items()]
    return IngestPackage(tracks=tracks)


def strategy_class(method: str) -> type[IngestStrategy]:
    """The strategy installed under ``method`` in the ``ocframe.ingest`` group."""
    found = [e for e in entry_points(group="ocframe.ingest") if e.name == method]
    if len(found) != 1:
        raise LookupError(f"{len(found)} ingest strategies named {method!r} are installed")
    cls: type[IngestStrategy] = found[0].load()
    return cls


class StrategyRunner:
    """Runs strategies against a core like the kernel's ingest queue: one
    checkpoint per runner (so a second ``run`` is a retry), a fresh strategy
    instance per attempt, progress recorded in :attr:`progress`."""

    md5 = staticmethod(md5)

    def __init__(self, sim: Core, tmp: Path) -> None:
        self.sim = sim
        self.tmp = tmp
        self.checkpoint = MemoryCheckpoint()
        self.progress: list[tuple[int, int]] = []
        self._clients: list[OpencastClient] = []

    def event(self, **kw: Any) -> Event:
        """An event of ``room-1`` that ended a minute ago, scheduled in the core
        with workflow ``fast`` (keywords go to ``add_event``)."""
        now = datetime.now(UTC).replace(microsecond=0)
        uid = self.sim.add_event("room-1", now - timedelta(minutes=5), now - timedelta(minutes=1),
                                 title=kw.pop("title", "Analysis I"), **kw)
        ev = self.sim.event(uid)
        assert ev is not None
        return Event(uid=uid, start=now - timedelta(minutes=5), end=now - timedelta(minutes=1),
                     title=ev.title, location="room-1", series_id=kw.get("series_id"),
                     properties={
                         "org.opencastproject.workflow.definition": "fast",
                         **{f"org.opencastproject.workflow.config.{k}": v
                            for k, v in (kw.get("workflow_config") or {}).items()},
                         "event.location": "room-1",
                     })

    def job(self, event: Event, package: IngestPackage, *, link: str = "mediapackage_id",
            user: str = "admin", password: str = "opencast") -> IngestJob:
        """A job for one attempt, with its own connection to the core."""
        client = OpencastClient(CoreConfig(url=self.sim.url, user=user,
                                           password=SecretStr(password)))
        self._clients.append(client)
        return IngestJob(
            recording_id=event.uid, event=event, package=package,
            workflow_definition=event.workflow_definition,
            workflow_properties=event.workflow_config, link=link, legacy_catalogs=False,
            http=client.ingest_service(), service=lambda t: client.service(t),
            checkpoint=self.checkpoint, progress=lambda s, t: self.progress.append((s, t)),
            logger=logging.getLogger("test.ingest"),
        )

    def run(self, method: str, job: IngestJob, **settings: Any) -> IngestResult:
        """One attempt of the installed strategy ``method`` with ``settings``."""
        cls = strategy_class(method)
        return cls(cls.Settings(**settings)).ingest(job)

    def package(self, sizes: dict[str, int]) -> IngestPackage:
        return media_package(self.tmp, sizes)

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def __enter__(self) -> StrategyRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "MemoryCheckpoint",
    "StrategyRunner",
    "md5",
    "media_file",
    "media_package",
    "strategy_class",
]

"""Helpers for ingest tests: strategy jobs against the simulator without an agent."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocframe_simulator import OpencastSimulator
from pydantic import SecretStr

from ocframe.config import CoreConfig
from ocframe.ingest import IngestJob, IngestResult
from ocframe.model import Event, IngestPackage, Track
from ocframe.opencast.client import OpencastClient


class DictCheckpoint:
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
    return hashlib.md5(path.read_bytes()).hexdigest()


def media_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


class Runner:
    """Runs one strategy against the simulator like the kernel's ingest queue."""

    def __init__(self, sim: OpencastSimulator, tmp: Path) -> None:
        self.sim = sim
        self.tmp = tmp
        self.checkpoint = DictCheckpoint()
        self.progress: list[tuple[int, int]] = []
        self._clients: list[OpencastClient] = []

    def event(self, **kw: Any) -> Event:
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
        cls = strategy_class(method)
        return cls(cls.Settings(**settings)).ingest(job)

    def package(self, sizes: dict[str, int]) -> IngestPackage:
        return package(self.tmp, sizes)

    md5 = staticmethod(md5)

    def close(self) -> None:
        for c in self._clients:
            c.close()


def strategy_class(method: str) -> Any:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="ocframe.ingest") if e.name == method]
    return ep.load()


@pytest.fixture
def runner(opencast_simulator: OpencastSimulator, tmp_path: Path) -> Iterator[Runner]:
    r = Runner(opencast_simulator, tmp_path)
    yield r
    r.close()


def package(tmp: Path, sizes: dict[str, int], *, mimetype: str = "video/x-matroska"
            ) -> IngestPackage:
    tracks = [Track(media_file(tmp / f"{flavor.split('/')[0]}.mkv", size), flavor, mimetype,
                    tags=("archive",))
              for flavor, size in sizes.items()]
    return IngestPackage(tracks=tracks)

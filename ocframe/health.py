"""The health of a running agent process, readable from outside it.

The process writes the health of its loops to ``health.json`` in the storage
directory every few seconds (atomically: a reader never sees half a file),
so ``ocframe check`` (run as another process) and monitoring scripts can tell
which loop hangs or keeps failing without asking the process anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loops import LoopHealth, LoopSet, SupervisedLoop

log = logging.getLogger("ocframe.health")

#: Seconds between writes; a file older than STALE_AFTER means no process writes it.
WRITE_INTERVAL = 5.0
STALE_AFTER = 30.0


class HealthFile:
    def __init__(self, path: Path, loops: LoopSet,
                 uploads: Callable[[], dict[str, tuple[int, int]]] | None = None) -> None:
        self.path = path
        self.loops = loops
        #: Bytes sent and total of each upload running now (``recordings retry --wait``).
        self.uploads = uploads
        self.loop = SupervisedLoop("health-file", self._round,
                                   stall_after=WRITE_INTERVAL + 60.0, logger=log)
        #: Why the last write failed (said once), or None.
        self._write_error: str | None = None

    def start(self) -> None:
        # A full or read-only disk must not keep the agent from starting or
        # stopping: the loop tries again and says why.
        with contextlib.suppress(OSError):
            self.write()
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        # No process, no health: a stale file would mislead.
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def _round(self) -> None:
        if self.loop.stopping.wait(WRITE_INTERVAL):
            return
        try:
            self.write()
        except OSError as exc:
            # A full or read-only disk is the disk monitor's and the store's
            # to report; here it only costs readers the file, said once.
            why = f"{exc.strerror or exc}"
            if why != self._write_error:
                log.warning("health file %s cannot be written (%s): `ocframe check` and"
                            " `--wait` cannot see this process until it can", self.path, why)
            self._write_error = why
            return
        if self._write_error is not None:
            log.info("health file %s written again", self.path)
            self._write_error = None

    def write(self) -> None:
        data = {"pid": os.getpid(), "written": time.time(),
                "loops": [h.to_json() for h in self.loops.health()],
                "uploads": {rid: list(p) for rid, p in (self.uploads() if self.uploads
                                                         else {}).items()}}
        fd, tmp = tempfile.mkstemp(prefix=".health-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class HealthReport:
    pid: int
    written: float
    loops: list[LoopHealth]
    #: Recording id -> (bytes sent, total) of the uploads running when written.
    uploads: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return time.time() - self.written > STALE_AFTER


def read_health(path: Path) -> HealthReport | None:
    """The last health a process wrote at ``path``; None if there is none."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        uploads = {str(k): (int(v[0]), int(v[1])) for k, v in data.get("uploads", {}).items()}
        return HealthReport(int(data["pid"]), float(data["written"]),
                            [LoopHealth(**item) for item in data["loops"]], uploads)
    except (OSError, ValueError, KeyError, TypeError):
        return None

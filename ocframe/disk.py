"""Disk space: estimated before each recording, watched while agents run.

Low space is a warning, never a refusal (a partial recording is worth more
than none): it is logged and reported in every agent's capabilities.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable

from .config import StorageConfig
from .driver import Driver
from .loops import SupervisedLoop
from .model import Event

log = logging.getLogger("ocframe.disk")


class DiskMonitor:
    def __init__(self, config: StorageConfig, on_change: Callable[[], None]) -> None:
        self.config = config
        self._on_change = on_change
        self.low = False
        self.loop = SupervisedLoop("disk-monitor", self._round,
                                   stall_after=config.disk_check_interval + 60.0, logger=log)

    def start(self) -> None:
        free = self.free_mib()
        if free is not None and free < self.config.min_free_mib:
            self._set_low(True, free)
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def free_mib(self) -> int | None:
        try:
            return shutil.disk_usage(self.config.directory).free // (1 << 20)
        except OSError:
            return None

    def check_recording(self, agent: str, event: Event, drivers: list[Driver]) -> None:
        """Before a recording: will it fit?"""
        free = self.free_mib()
        if free is None:
            return
        default = self.config.assumed_input_mbit * 1e6 / 8
        rate = sum((d.bytes_per_second() or default) for d in drivers) or default
        need = int(rate * max(event.duration_seconds(), 0) / (1 << 20))
        left = free - need
        if left < self.config.min_free_mib:
            log.warning(
                "%s: recording %s needs about %d MiB; %d MiB free in %s would leave %d MiB"
                " (minimum %d): free space now", agent, event.uid, need, free,
                self.config.directory, left, self.config.min_free_mib,
            )
            self._set_low(True)

    def _round(self) -> None:
        if self.loop.stopping.wait(self.config.disk_check_interval):
            return
        free = self.free_mib()
        if free is not None:
            self._set_low(free < self.config.min_free_mib, free)

    def _set_low(self, low: bool, free: int | None = None) -> None:
        if low == self.low:
            return
        self.low = low
        if low:
            log.warning("disk space low in %s: %s MiB free (minimum %d)", self.config.directory,
                        free if free is not None else "?", self.config.min_free_mib)
        else:
            log.info("disk space in %s is sufficient again", self.config.directory)
        self._on_change()

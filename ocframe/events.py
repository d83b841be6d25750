"""The ocframe-events thread: observer hooks are called here, in order, so a
slow or failing observer never delays a capture or an upload."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from .plugins import PluginRegistry

log = logging.getLogger("ocframe.events")


class EventBus:
    def __init__(self, plugins: PluginRegistry, maxsize: int = 10000) -> None:
        self.plugins = plugins
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="ocframe-events", daemon=True)
        self._thread.start()

    def emit(self, hookname: str, **kwargs: Any) -> None:
        try:
            self._queue.put_nowait((hookname, kwargs))
        except queue.Full:
            # Observers are best effort; capture must never wait for them.
            log.warning("observer queue full; %s dropped", hookname)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            hookname, kwargs = item
            self.plugins.call_each(hookname, **kwargs)

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

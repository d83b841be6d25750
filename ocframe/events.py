"""The ocframe-events loop: observer hooks are called here, in order, so a
slow or failing observer never delays a capture or an upload.

Callers hand over the hook itself (``bus.emit(plugins.hook.ocframe_state_change,
change=...)``), never its name as a string: a misspelled hook then fails at
the call site, in the caller's tests, instead of on this thread later.
"""

from __future__ import annotations

import logging
import queue
from typing import Any

from .loops import SupervisedLoop

log = logging.getLogger("ocframe.events")

_CLOSE = object()

#: How long the loop waits for an event before it completes an idle round.
IDLE_ROUND = 1.0


class EventBus:
    def __init__(self, maxsize: int = 10000) -> None:
        self._queue: queue.Queue[tuple[Any, dict[str, Any]] | None] = queue.Queue(maxsize)
        # An observer may take its time; only one that blocks for minutes is hung.
        self.loop = SupervisedLoop("ocframe-events", self._round, stall_after=300.0,
                                   wake=lambda: self._queue.put(None), logger=log)
        self.loop.start()

    def emit(self, hook: Any, **kwargs: Any) -> None:
        """Queue a call of ``hook`` (a pluggy hook caller) with ``kwargs``."""
        if not callable(hook):
            raise TypeError(f"emit() takes a hook (plugins.hook.<name>), not {hook!r}")
        try:
            self._queue.put_nowait((hook, kwargs))
        except queue.Full:
            # Observers are best effort; capture must never wait for them.
            log.warning("observer queue full; %s dropped", getattr(hook, "name", hook))

    def _round(self) -> None:
        try:
            item = self._queue.get(timeout=IDLE_ROUND)
        except queue.Empty:
            return
        if item is None:
            return
        hook, kwargs = item
        if hook is _CLOSE:
            self.loop.stopping.set()
            return
        hook(**kwargs)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then end the loop."""
        self._queue.put((_CLOSE, {}))
        self.loop.thread.join(timeout)
        self.loop.stop(0)

"""When each capture is launched: early enough that its first media is there
by the start of the recording's window, and spread so that the launches of
rooms starting in the same second do not pile up in one moment.

An input's lead is learnt: every capture reports where its media's time zero
lies on the wall clock, the store keeps the last few launch-to-media times
per input, and the next launch comes that much early (with a margin, within
a bound). What is captured before the window is trimmed at upload without
re-encoding (:mod:`ocframe.trim`), so the early launch costs no extra
seconds at the core.

One planner serves every agent of a process: on the hour, every room of a
box starts at once, and a launch costs CPU (a process, a codec, a camera
handshake). Launches take distinct slots, moved earlier (never later) by up
to :data:`MAX_SHIFT` seconds.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .config import AgentConfig
from .driver import CaptureHandle
from .model import Event, InputSpec
from .store import RecordingStore

#: Seconds between two launches of the same process, where they can be spread.
SLOT = 0.1
#: A launch is moved at most this much earlier to find a free slot; beyond,
#: slots are shared evenly (100 rooms at once: two launches a slot).
MAX_SHIFT = 5.0
#: A recording is begun (its store row, directory and threads) this long
#: before its first launch, so that writing them is never what makes a
#: launch late when a hundred rooms begin at once.
PREPARE_AHEAD = 2.0
#: Launch-to-media times kept per input: enough to ride out one slow start,
#: few enough to follow a camera that got faster or slower.
LATENCY_SAMPLES = 5


@dataclass(frozen=True)
class LeadPolicy:
    """How far ahead of its window an input is launched."""

    #: Learn leads at all (``capture_lead = "auto"``); otherwise none.
    enabled: bool = True
    #: Seconds: the lead never exceeds this, whatever was measured.
    maximum: float = 10.0
    #: Seconds assumed for an input never measured yet.
    default: float = 2.0

    def lead(self, samples: list[float]) -> float:
        """Seconds before the window to launch an input whose recent
        launch-to-media times were ``samples``: the slowest, plus a quarter
        and half a second of margin, within :attr:`maximum`."""
        if not self.enabled:
            return 0.0
        slowest = max(samples) if samples else self.default
        return max(0.0, min(self.maximum, slowest * 1.25 + 0.5))


class LaunchPlanner:
    """Hands out launch times in distinct slots, the same answer each time a
    launch is asked for again (the scheduler asks every tick)."""

    def __init__(self, slot: float = SLOT, max_shift: float = MAX_SHIFT) -> None:
        self.slot = slot
        self.max_shift = max_shift
        self._lock = threading.Lock()
        self._plans: dict[Hashable, tuple[float, int]] = {}  # key -> (time, slot)
        self._taken: dict[int, int] = {}

    def plan(self, key: Hashable, desired: float) -> float:
        """The launch time (UNIX seconds) for ``key``: at or before
        ``desired``, in the latest slot no other launch holds, at most
        ``max_shift`` earlier (when all are held: the latest least held)."""
        with self._lock:
            known = self._plans.get(key)
            if known is not None:
                return known[0]
            last = math.floor(desired / self.slot)
            # The latest of the least taken slots: one launch per slot while
            # they last, then two, ... never a pile in the desired one.
            span = range(last, last - int(self.max_shift / self.slot) - 1, -1)
            chosen = min(span, key=lambda slot: (self._taken.get(slot, 0), last - slot))
            self._taken[chosen] = self._taken.get(chosen, 0) + 1
            at = min(desired, chosen * self.slot)
            self._plans[key] = (at, chosen)
            return at

    def forget_before(self, moment: float) -> None:
        """Drop the plans of launches before ``moment`` (they are done)."""
        with self._lock:
            for key, (at, slot) in list(self._plans.items()):
                if at < moment:
                    del self._plans[key]
                    left = self._taken.get(slot, 0) - 1
                    if left > 0:
                        self._taken[slot] = left
                    else:
                        self._taken.pop(slot, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._plans)


class LatencyRecord:
    """Launch-to-media times per input, kept in the recording store's
    database (table ``input_latency``): what the next lead is learnt from."""

    def __init__(self, store: RecordingStore) -> None:
        self.store = store

    def add(self, agent: str, input_name: str, seconds: float) -> None:
        """Remember one launch-to-media time (the last :data:`LATENCY_SAMPLES`)."""
        samples = [*self.of(agent).get(input_name, []), round(seconds, 3)]
        # The store's own connection and write lock: one database, one writer.
        with self.store._tx() as db:
            db.execute("INSERT OR REPLACE INTO input_latency VALUES (?, ?, ?, ?)",
                       (agent, input_name, json.dumps(samples[-LATENCY_SAMPLES:]), time.time()))

    def of(self, agent: str) -> dict[str, list[float]]:
        """The remembered times of an agent's inputs, by input name."""
        rows = self.store._db().execute(
            "SELECT input, samples_json FROM input_latency WHERE agent = ?", (agent,)).fetchall()
        return {r["input"]: [float(x) for x in json.loads(r["samples_json"])] for r in rows}


def media_origin_of(handle: CaptureHandle | None, log: logging.Logger) -> float | None:
    """A capture's media origin (see ``CaptureHandle.media_origin``), if it
    can tell; a driver's mistake costs the trim, not the recording."""
    if handle is None:
        return None
    try:
        origin = handle.media_origin()
    except Exception:
        log.exception("media_origin failed")
        return None
    return float(origin) if origin is not None and math.isfinite(origin) else None


def learn_latency(store: RecordingStore, spec: InputSpec, seconds: float,
                  log: logging.Logger) -> None:
    """Remember one launch-to-media time of an input for its next lead."""
    # Readings outside this range are a clock step or a driver's mistake.
    if not 0.0 <= seconds <= 120.0:
        return
    try:
        LatencyRecord(store).add(spec.agent, spec.name, seconds)
    except Exception as exc:  # a full store costs the next lead, not this recording
        log.warning("%s: cannot remember its start-up time: %s", spec.name, exc)


class ChosenInputs(Protocol):
    drivers: dict[str, object]

    def chosen(self, event: Event) -> list[str]: ...


class AgentLaunches:
    """One agent's launch plans: asked for every scheduler tick, made once
    per event (and start time), forgotten a day later."""

    def __init__(self, agent: str, config: AgentConfig, planner: LaunchPlanner,
                 latencies: LatencyRecord, inputs: ChosenInputs) -> None:
        self.agent = agent
        self.config = config
        self.planner = planner
        self.latencies = latencies
        self.inputs = inputs
        self._plans: dict[tuple[str, datetime], dict[str, float]] = {}
        self._lock = threading.Lock()

    def configure(self, config: AgentConfig) -> None:
        """A reloaded configuration: inputs and leads may have changed."""
        with self._lock:
            self.config = config
            self._plans.clear()

    def max_lead(self) -> float:
        """The most any recording of this agent is begun ahead of its window."""
        return self.config.max_lead + MAX_SHIFT + PREPARE_AHEAD if self.config.auto_lead else 0.0

    def plan(self, event: Event) -> dict[str, float]:
        """When to launch each input of ``event`` (UNIX seconds): ahead of the
        window by the input's learnt lead, in a slot of its own."""
        key = (event.uid, event.start)
        with self._lock:
            known = self._plans.get(key)
            if known is not None:
                return known
            cfg = self.config
            window = (event.start - timedelta(seconds=cfg.preroll)).timestamp()
            names = [n for n in self.inputs.chosen(event) if n in self.inputs.drivers]
            policy = LeadPolicy(enabled=cfg.auto_lead, maximum=cfg.max_lead)
            plan = dict.fromkeys(names, window)
            if policy.enabled and names:
                samples = self.latencies.of(self.agent)
                plan = {n: self.planner.plan((self.agent, event.uid, window, n),
                                             window - policy.lead(samples.get(n, [])))
                        for n in names}
            # Plans of events long gone are of no use (a calendar runs for months).
            stale = time.time() - 86400
            for old in [k for k, p in self._plans.items() if max(p.values(), default=0) < stale]:
                del self._plans[old]
            self.planner.forget_before(stale)
            self._plans[key] = plan
            return plan

    def begin_at(self, event: Event) -> datetime:
        """When the recording of ``event`` begins: a moment before its first
        input's launch (its inputs then wait for their own)."""
        plan = self.plan(event)
        window = event.start - timedelta(seconds=self.config.preroll)
        if not plan or not self.config.auto_lead:
            return window
        return datetime.fromtimestamp(min(plan.values()) - PREPARE_AHEAD, UTC)

"""``/metrics``: the agent's state for Prometheus, computed at each scrape.

A custom collector on its own registry reads one :class:`ServiceStatus`
snapshot per scrape, so the figures are consistent with each other and
nothing is kept between scrapes. Names follow Prometheus conventions: base
units (seconds, bytes), ``_total`` for counters, enum states as one series per
possible state with value 1 for the current one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from ocframe.model import AgentState, RecordingState
from ocframe.status import StatusView

AGENT_STATES = [s.value for s in AgentState]
RECORDING_STATES = [s.value for s in RecordingState]
LOOP_STATES = ["ok", "failing", "stalled", "dead", "starting", "stopped"]


class StatusCollector(Collector):
    def __init__(self, status: StatusView) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        snap = self.status.snapshot()
        now = time.time()
        agent_state = GaugeMetricFamily(
            "ocframe_agent_state", "The agent's state (1 for the current one)",
            labels=["agent", "state"])
        contact = GaugeMetricFamily(
            "ocframe_core_contact_age_seconds",
            "Seconds since the core last accepted this agent's report", labels=["agent"])
        sync = GaugeMetricFamily(
            "ocframe_calendar_sync_age_seconds",
            "Seconds since the core last answered this agent's calendar request",
            labels=["agent"])
        capturing = GaugeMetricFamily(
            "ocframe_recordings_capturing", "Recordings this agent is capturing now",
            labels=["agent"])
        restarts = CounterMetricFamily(
            "ocframe_capture_restarts", "Captures restarted into a new segment",
            labels=["agent"])
        for agent in snap.agents:
            for state in AGENT_STATES:
                agent_state.add_metric([agent.name, state], 1.0 if agent.state == state else 0.0)
            if agent.last_contact is not None:
                contact.add_metric([agent.name], max(0.0, now - agent.last_contact))
            if agent.last_calendar_sync is not None:
                sync.add_metric([agent.name], max(0.0, now - agent.last_calendar_sync))
            capturing.add_metric([agent.name], float(sum(not r.stopping for r in agent.running)))
            restarts.add_metric([agent.name], float(snap.capture_restarts.get(agent.name, 0)))
        yield from (agent_state, contact, sync, capturing, restarts)

        by_state = GaugeMetricFamily(
            "ocframe_recordings", "Recordings in the store by agent and state",
            labels=["agent", "state"])
        for agent, counts in sorted(snap.recordings_by_state.items()):
            for state in sorted(set(RECORDING_STATES) | set(counts)):
                by_state.add_metric([agent, state], float(counts.get(state, 0)))
        yield by_state

        ingest_age = GaugeMetricFamily(
            "ocframe_last_ingest_age_seconds",
            "Seconds since a recording was last ingested successfully")
        if snap.last_ingest is not None:
            ingest_age.add_metric([], max(0.0, now - snap.last_ingest))
        yield ingest_age
        yield CounterMetricFamily("ocframe_uploaded_bytes", "Bytes sent to the core",
                                  value=float(snap.bytes_uploaded))

        loop_state = GaugeMetricFamily(
            "ocframe_loop_state", "Each supervised loop's state (1 for the current one)",
            labels=["loop", "state"])
        loop_errors = CounterMetricFamily(
            "ocframe_loop_errors", "Rounds of a loop that failed with an unexpected error",
            labels=["loop"])
        for loop in snap.loops:
            for state in LOOP_STATES:
                loop_state.add_metric([loop.name, state], 1.0 if loop.state == state else 0.0)
            loop_errors.add_metric([loop.name], float(loop.errors_total))
        yield loop_state
        yield loop_errors

        disk = snap.disk
        if disk.free_bytes is not None:
            yield GaugeMetricFamily("ocframe_disk_free_bytes",
                                    "Free bytes where recordings are stored",
                                    value=float(disk.free_bytes))
        if disk.total_bytes is not None:
            yield GaugeMetricFamily("ocframe_disk_size_bytes",
                                    "Size of the file system recordings are stored on",
                                    value=float(disk.total_bytes))
        yield GaugeMetricFamily("ocframe_disk_low", "1 while free space is below the minimum",
                                value=1.0 if disk.low else 0.0)


def registry_for(status: StatusView) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return registry

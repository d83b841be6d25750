"""No long-lived thread can die unnoticed: an unexpected error in any loop is
logged once, named by alive()/health() while it lasts, and never stops the
agent from recording what is scheduled."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.loops import SupervisedLoop
from ocframe.testing.harness import InProcessAgent, agent, poll_until, soon, write_config

pytestmark = pytest.mark.e2e


class Fault:
    """Makes a loop's rounds raise until cleared, as a real bug would."""

    def __init__(self, loop: SupervisedLoop, error: Exception) -> None:
        self.loop = loop
        self.error = error
        self.raised = 0
        self.active = threading.Event()
        self.active.set()
        original = loop._step

        def step() -> None:
            if self.active.is_set():
                self.raised += 1
                raise self.error
            original()

        loop._step = step  # type: ignore[method-assign]


def test_an_unexpected_error_in_every_loop_at_once_is_survived(
        opencast_simulator: OpencastSimulator, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path / "agent", sim, agents=[agent("room-1")],
                       extra={"storage": {"disk_check_interval": 0.5}})
    with caplog.at_level(logging.INFO), InProcessAgent(cfg, reload=True) as running:
        service = running.service
        assert sim.wait_for_agent_state("room-1", "idle")
        loops = {loop.name: loop for loop in service.loops}
        assert set(loops) == {
            "scheduler-room-1", "reporter-room-1", "calendar-room-1", "ingest-0",
            "ocframe-events", "disk-monitor", "health-file", "config-reload"}
        # Every loop broken together (harsher than one at a time: no loop can
        # lean on another that still works), each with its own error.
        faults = {name: Fault(loop, OverflowError(f"injected into {name}"))
                  for name, loop in loops.items()}

        seen_failing: set[str] = set()

        def each_failed_twice_then_recovered() -> bool:
            assert service.alive()  # failing, not hung: the watchdog keeps being fed
            health = {h.name: h for h in service.health()}
            for name, fault in faults.items():
                if not fault.active.is_set():
                    continue
                if health[name].state == "failing":
                    assert health[name].last_error == f"OverflowError: {fault.error}"
                    seen_failing.add(name)
                # Cleared as soon as it has failed twice: its backoff stays short.
                if name in seen_failing and fault.raised >= 2:
                    fault.active.clear()
            return (not any(f.active.is_set() for f in faults.values())
                    and all(health[name].state == "ok" for name in faults))

        assert poll_until(each_failed_twice_then_recovered, 60), (
            sorted(seen_failing),
            {h.name: (h.state, faults[h.name].raised) for h in service.health()})
        for name, fault in faults.items():
            logged = [r for r in caplog.records if str(fault.error) in r.getMessage()]
            assert len(logged) == 1, (name, fault.raised, [r.getMessage() for r in logged])
        # Through all of that the agent kept its schedule: this lecture records and
        # is ingested.
        uid = sim.add_event("room-1", soon(2), soon(5))
        assert sim.wait_for_ingest(uid, timeout=90)
        assert not service.alive().failing and service.alive()


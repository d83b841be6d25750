"""Resources a long-running agent must not leak, recording after recording
(found by the soak benchmark, docs/benchmarks-soak.md)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from ocframe_simulator import OpencastSimulator

from ocframe.testing.harness import InProcessAgent, agent, soon, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def open_files(under: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(under)):
                count += 1
        except OSError:
            continue  # closed meanwhile
    return count


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off: what only it would free counts as leaked
    (it may not run for hours in a busy agent)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_recordings_leave_no_open_store_files_behind(
        opencast_simulator: OpencastSimulator, tmp_path: Path, no_gc: None) -> None:
    sim = opencast_simulator
    cfg = write_config(tmp_path, sim, agents=[agent("room-1", calendar={"poll_interval": 0.5})])
    first_start = soon(2)
    uids = [sim.add_event("room-1", first_start + timedelta(seconds=i),
                          first_start + timedelta(seconds=i + 1)) for i in range(5)]
    store_dir = tmp_path / "var"
    with InProcessAgent(cfg):
        assert sim.wait_for_ingest(uids[0], timeout=60)
        after_first = open_files(store_dir)
        for uid in uids[1:]:
            assert sim.wait_for_ingest(uid, timeout=60)
        assert sim.wait_for_agent_state("room-1", "idle", timeout=30)
        after_all = open_files(store_dir)
    # Every thread that ever touched the store had its connection by the first
    # ingest, but the captures' threads, which end: theirs must be closed.
    assert after_all <= after_first, (after_first, after_all)

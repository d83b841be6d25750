"""A whole agent whose input is an emulated HyperDeck, against the Opencast simulator."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_blackmagic.testing import HyperDeckEmulator

from ocframe.testing.harness import InProcessAgent, agent, soon, write_config

pytestmark = pytest.mark.e2e


def hyperdeck_input(deck: HyperDeckEmulator, **settings: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": deck.port,
        "ftp_port": deck.ftp_port,
        "reconnect_delay": 0.3,
    }
    base.update(settings)
    return {"name": "deck", "driver": "hyperdeck", "flavor": "presenter/source",
            "settings": base}  # fmt: skip


def states(sim: Any, uid: str) -> list[str]:
    return [s for _, s in sim.recording_state_history(uid)]


def test_agent_ingests_the_decks_clip_byte_identical(
    opencast_simulator: Any, make_deck: Callable[..., HyperDeckEmulator], tmp_path: Path
) -> None:
    sim = opencast_simulator
    deck = make_deck()
    cfg = write_config(tmp_path / "agent", sim,
                       agents=[agent("room-1", inputs=[hyperdeck_input(deck)])])  # fmt: skip
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(4), title="Deck / test")
    with InProcessAgent(cfg):
        ingest = sim.wait_for_ingest(uid, timeout=60)
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
    assert ingest is not None
    (clip,) = deck.clip_files()
    (track,) = ingest.tracks
    assert track.flavor == "presenter/source"
    assert track.path is not None and track.path.read_bytes() == clip.read_bytes()
    history = states(sim, uid)
    assert "capturing" in history and "capture_finished" in history
    assert "capture_error" not in history
    assert history[-1] == "upload_finished"


def test_no_disk_is_a_capture_error_before_start(
    opencast_simulator: Any, make_deck: Callable[..., HyperDeckEmulator], tmp_path: Path
) -> None:
    sim = opencast_simulator
    deck = make_deck(no_disk=True)
    cfg = write_config(tmp_path / "agent", sim,
                       agents=[agent("room-1", inputs=[hyperdeck_input(deck)])])  # fmt: skip
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(3))
    with InProcessAgent(cfg):
        assert sim.wait_for_recording_state(uid, "capture_error", timeout=30)
    assert deck.clip_files() == []
    assert deck.status != "record"


def test_dropped_connection_mid_recording(
    opencast_simulator: Any,
    make_deck: Callable[..., HyperDeckEmulator],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    sim = opencast_simulator
    deck = make_deck(drop_after=1.0)
    cfg = write_config(tmp_path / "agent", sim,
                       agents=[agent("room-1", inputs=[hyperdeck_input(deck)])])  # fmt: skip
    uid = sim.add_event(agent="room-1", start=soon(1), end=soon(5))
    with InProcessAgent(cfg):
        ingest = sim.wait_for_ingest(uid, timeout=60)
    assert ingest is not None
    (clip,) = deck.clip_files()  # one clip: the recording went on through the drop
    (track,) = ingest.tracks
    assert track.path is not None and track.path.read_bytes() == clip.read_bytes()
    assert "capture_error" not in states(sim, uid)
    assert deck.status == "stopped"  # the agent's stop reached the deck after the drop
    assert "reconnected to HyperDeck" in caplog.text

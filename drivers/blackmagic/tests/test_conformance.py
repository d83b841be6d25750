"""Both Blackmagic drivers pass the driver conformance kit: the HyperDeck
driver against the emulated deck (failing on a deck without a disk), the
DeckLink driver from its test sources with both backends (failing where the
Desktop Video driver is not installed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_blackmagic.testing import HyperDeckEmulator

from ocframe.testing.conformance import DriverConformance


def deck_settings(deck: HyperDeckEmulator) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": deck.port, "ftp_port": deck.ftp_port,
            "reconnect_delay": 0.2, "connect_timeout": 2, "command_timeout": 2}


class TestHyperDeckConformance(DriverConformance):
    driver = "hyperdeck"
    record_seconds = 1.0
    failure_mentions = "no disk"

    @pytest.fixture
    def conformance_settings(self, deck: HyperDeckEmulator) -> dict[str, Any]:
        return deck_settings(deck)

    @pytest.fixture
    def conformance_failing_settings(
            self, make_deck: Callable[..., HyperDeckEmulator]) -> dict[str, Any]:
        return deck_settings(make_deck(no_disk=True))


class DeckLinkConformance(DriverConformance):
    driver = "decklink"
    flavor = "presentation/source"
    # "Desktop Video ... not installed", or no backend at all on a machine without
    # gstreamer1.0-plugins-bad and an ffmpeg built without decklink: both name it.
    failure_mentions = "DeckLink"
    backend = "gstreamer"

    @pytest.fixture
    def conformance_settings(self) -> dict[str, Any]:
        return {"test_source": True, "test_size": "320x240", "backend": self.backend}

    @pytest.fixture
    def conformance_failing_settings(self, tmp_path: Path) -> dict[str, Any]:
        return {"device_root": str(tmp_path / "no-desktop-video"), "backend": self.backend}


class TestDeckLinkGStreamerConformance(DeckLinkConformance):
    backend = "gstreamer"


class TestDeckLinkFfmpegConformance(DeckLinkConformance):
    backend = "ffmpeg"

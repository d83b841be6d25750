"""The example configuration in contrib/ stays valid against the installed plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocframe.config import load_config
from ocframe.plugins import load_plugins

EXAMPLE = Path(__file__).resolve().parents[2] / "contrib" / "ocframe.example.toml"


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OC_PASSWORD", "CAM_PASSWORD", "PEARL_PASSWORD"):
        monkeypatch.setenv(name, "x")
    config = load_config(EXAMPLE)
    load_plugins(config).validate(config)
    assert [a.name for a in config.agents] == ["hall-a", "seminar-2", "aula"]

"""Hook implementations: a journal of state changes and one extra capability.

Writes one JSON line per state change to the file named by the environment
variable OCFRAME_EXAMPLE_JOURNAL (if set).
"""

from __future__ import annotations

import json
import os

from ocframe import StateChange, hookimpl


@hookimpl
def ocframe_state_change(change: StateChange) -> None:
    path = os.environ.get("OCFRAME_EXAMPLE_JOURNAL")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"agent": change.agent, "recording": change.recording_id,
                                "old": change.old, "new": change.new}) + "\n")


@hookimpl
def ocframe_capabilities(agent: str, inputs: list[str]) -> dict[str, str]:
    return {f"capture.device.{inputs[0]}.journal": "enabled"} if inputs else {}

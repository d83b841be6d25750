"""Test helpers for driver and plugin authors (see docs/plugin-api.md).

- :mod:`ocframe.testing.drivers`: test a driver through its contract
  (``input_spec``, ``capture_context``, ``wait_media_time``);
- :mod:`ocframe.testing.media`: what ffprobe says about produced files, and
  whether ffmpeg decodes them;
- :mod:`ocframe.testing.conformance`: the driver conformance kit (a pytest
  base class; docs/driver-conformance.md);
- :mod:`ocframe.testing.harness`: run whole agents against a core.

The Opencast core simulator and its pytest fixtures are the ``ocframe_simulator``
package (distribution ``ocframe-simulator``), so that production installs carry
no test server.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# Names this package exported while it held the simulator. They keep working,
# deprecated, for one minor release (the compatibility promise in
# docs/plugin-api.md), then go.
_MOVED = frozenset({
    "FAULT_KINDS",
    "CalendarRequest",
    "Element",
    "FaultHandle",
    "Ingest",
    "OpencastSimulator",
    "RequestLog",
    "ScheduledEvent",
})


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"ocframe.testing.{name} moved to the ocframe-simulator distribution: "
        f"import it from ocframe_simulator",
        DeprecationWarning,
        stacklevel=2,
    )
    try:
        simulator = importlib.import_module("ocframe_simulator")
    except ModuleNotFoundError as exc:
        if exc.name != "ocframe_simulator":
            raise
        raise ImportError(
            f"ocframe.testing.{name} moved to the ocframe-simulator distribution, which is "
            f"not installed: pip install ocframe-simulator, then import it from "
            f"ocframe_simulator",
            name="ocframe_simulator",
        ) from exc
    return getattr(simulator, name)

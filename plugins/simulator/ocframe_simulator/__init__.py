"""An embedded Opencast core for testing capture agents (see docs/simulator.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .faults import FAULT_KINDS, FaultHandle
from .records import CalendarRequest, Element, Ingest, RequestLog, ScheduledEvent

if TYPE_CHECKING:
    from .simulator import OpencastSimulator

__all__ = [
    "FAULT_KINDS",
    "CalendarRequest",
    "Element",
    "FaultHandle",
    "Ingest",
    "OpencastSimulator",
    "RequestLog",
    "ScheduledEvent",
]


def __getattr__(name: str) -> Any:
    # The server and werkzeug load on first use: pytest imports this package at
    # start-up (for the fixtures), and a test run that uses no simulator should
    # not pay for, or depend on, them.
    if name == "OpencastSimulator":
        from .simulator import OpencastSimulator

        globals()[name] = OpencastSimulator
        return OpencastSimulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

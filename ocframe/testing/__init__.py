"""An embedded Opencast core for testing capture agents (see docs/simulator.md)."""

from .faults import FAULT_KINDS, FaultHandle
from .records import CalendarRequest, Element, Ingest, RequestLog, ScheduledEvent
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

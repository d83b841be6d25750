"""Fault injection: make chosen requests fail the ways a real network and core do."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field

FAULT_KINDS = ("status", "slow", "reset", "wrong_content_type", "truncated", "login_redirect")


@dataclass
class Fault:
    id: int
    pattern: re.Pattern[str]
    kind: str
    status: int = 500
    delay: float = 5.0
    after_bytes: int = 0
    times: int | None = None
    method: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


@dataclass
class FaultHandle:
    """Returned by ``inject_fault``; ``remove()`` switches the fault off."""

    _registry: FaultRegistry = field(repr=False)
    fault: Fault

    @property
    def hits(self) -> int:
        return self.fault.hits

    def remove(self) -> None:
        self._registry.remove(self.fault.id)


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(
        self,
        path_pattern: str,
        kind: str,
        *,
        status: int = 500,
        delay: float = 5.0,
        after_bytes: int = 0,
        times: int | None = None,
        method: str | None = None,
    ) -> FaultHandle:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        if times is not None and times < 1:
            raise ValueError("times must be a positive number or None")
        fault = Fault(
            id=next(self._ids),
            pattern=re.compile(path_pattern),
            kind=kind,
            status=status,
            delay=delay,
            after_bytes=after_bytes,
            times=times,
            method=method,
        )
        with self._lock:
            self._faults.append(fault)
        return FaultHandle(self, fault)

    def remove(self, fault_id: int) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault for this request, counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    if fault.times is not None and fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None

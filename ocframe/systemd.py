"""sd_notify without a dependency: READY, STATUS and the watchdog ping.

The watchdog is fed only while no supervised loop hangs (see
:mod:`ocframe.loops`), so systemd restarts an agent whose clock or other
loop has stopped turning, not one that is merely busy uploading. Loops that
keep failing are named in the unit's STATUS line instead.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("ocframe.systemd")


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify failed: %s", exc)
        return False


def start_watchdog(alive: Callable[[], Any], stop: threading.Event) -> threading.Thread | None:
    """Feed the watchdog every half interval while ``alive()`` is true (a
    :class:`ocframe.loops.Liveness`, whose ``stalled``/``failing`` lists are
    logged and shown in STATUS)."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not os.environ.get("NOTIFY_SOCKET"):
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    interval = int(usec) / 1e6 / 2

    def feed() -> None:
        status = ""
        while not stop.wait(interval):
            now = alive()
            failing = ", ".join(getattr(now, "failing", ()))
            new_status = f"failing: {failing}" if failing else "running"
            if new_status != status:
                notify(f"STATUS={new_status}")
                status = new_status
            if now:
                notify("WATCHDOG=1")
            else:
                log.error("not feeding the systemd watchdog: loop(s) %s hang",
                          ", ".join(getattr(now, "stalled", ())) or "?")

    thread = threading.Thread(target=feed, name="systemd-watchdog", daemon=True)
    thread.start()
    return thread

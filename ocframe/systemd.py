"""sd_notify without a dependency: READY, STATUS and the watchdog ping.

The watchdog is fed only while every scheduler loop is ticking, so systemd
restarts an agent whose clock has stopped, not one that is merely busy
uploading.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

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


def start_watchdog(alive: Callable[[], bool], stop: threading.Event) -> threading.Thread | None:
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not os.environ.get("NOTIFY_SOCKET"):
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    interval = int(usec) / 1e6 / 2

    def feed() -> None:
        while not stop.wait(interval):
            if alive():
                notify("WATCHDOG=1")
            else:
                log.error("scheduler loop is not ticking; not feeding the systemd watchdog")

    thread = threading.Thread(target=feed, name="systemd-watchdog", daemon=True)
    thread.start()
    return thread

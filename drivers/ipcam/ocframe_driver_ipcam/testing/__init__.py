"""Test helpers for IP camera drivers: a real RTSP server (GStreamer), a
camera that accepts TCP and never answers, and an ONVIF/CGI camera stub."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from .camera_stub import CameraStub
from .rtsp import RtspTestServer, unavailable_reason


@contextlib.contextmanager
def silent_camera() -> Iterator[str]:
    """An ``rtsp://`` URL whose server accepts connections and says nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"rtsp://127.0.0.1:{listener.getsockname()[1]}/silent"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


__all__ = ["CameraStub", "RtspTestServer", "silent_camera", "unavailable_reason"]

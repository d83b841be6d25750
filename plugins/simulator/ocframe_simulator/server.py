"""The HTTP server under the simulator: start, stop, go down and come back on the same port.

It also knows how to kill a connection without answering, which a WSGI app cannot
do on its own (used by the ``reset`` fault).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class AbortConnection(Exception):
    """Raised by the app to drop the TCP connection with a RST and no response."""


def begin_abort(environ: dict[str, Any]) -> AbortConnection:
    """Prepare the connection of this request for an abort; raise the result."""
    sock: socket.socket = environ["werkzeug.socket"]
    with contextlib.suppress(OSError):
        # Makes werkzeug's post-request drain of the body return at once.
        sock.shutdown(socket.SHUT_RD)
    return AbortConnection()


def mark_close(environ: dict[str, Any]) -> None:
    handler = environ.get("ocframe.handler")
    if handler is not None:
        handler.close_connection = True


class _Handler(WSGIRequestHandler):
    server: _Server  # type: ignore[assignment]

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ["ocframe.handler"] = self
        return environ

    def run_wsgi(self) -> None:
        self.server.connections.add(self.connection)
        try:
            super().run_wsgi()
        except AbortConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                # Linger 0 turns close() into a RST: the client sees a reset, not an answer.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.rfile.close()
                self.connection.close()
        finally:
            self.server.connections.discard(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The simulator keeps its own request log.
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass


class _Server:
    """Only for typing: the attributes we add to werkzeug's server."""

    connections: set[socket.socket]


class ServerThread:
    def __init__(self, app: Any, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = make_server(
                self.host,
                self.port,
                self.app,
                threaded=True,
                request_handler=_Handler,
                passthrough_errors=True,
            )
            server.connections = set()  # type: ignore[attr-defined]
            self.port = server.server_port
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"opencast-simulator:{self.port}",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Connections already accepted would otherwise keep being served: a core
        # that goes down takes them with it.
        for sock in list(server.connections):  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

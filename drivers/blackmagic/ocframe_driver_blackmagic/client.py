"""A blocking HyperDeck protocol client with a reader thread.

The reader thread parses every block the deck sends and routes it by code:
``5xx`` notifications go to listeners (they may arrive at any time, even
between a command and its reply), everything else is a reply for the one
command in flight. A waiter therefore never mistakes a ``508`` for its answer.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable, Mapping

from .protocol import Block, BlockParser, encode_command

_CLOSED = Block(-1, "connection closed")


class HyperDeckError(Exception):
    """Base of the client's errors."""


class HyperDeckConnectionError(HyperDeckError):
    """Cannot connect, or the connection was lost."""


class HyperDeckRejected(HyperDeckConnectionError):
    """``120 connection rejected``: another controller holds the deck."""


class HyperDeckCommandError(HyperDeckError):
    """The deck answered a command with a ``1xx`` failure."""

    def __init__(self, command: str, block: Block) -> None:
        super().__init__(f"{command!r} failed: {block.code} {block.text}")
        self.command = command
        self.code = block.code
        self.text = block.text


class HyperDeckClient:
    """One TCP connection to a deck. Thread-safe: commands are serialised."""

    def __init__(
        self,
        host: str,
        port: int = 9993,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.log = logger or logging.getLogger("ocframe.hyperdeck.client")
        self.banner: Block | None = None
        self._sock: socket.socket | None = None
        self._replies: queue.Queue[Block] = queue.Queue()
        self._first = threading.Event()
        self._closed = threading.Event()
        self._command_lock = threading.Lock()
        self._listeners: list[Callable[[Block], None]] = []
        self._reader: threading.Thread | None = None

    # -- connection ----------------------------------------------------------
    def connect(self) -> Block:
        """Open the connection and wait for the banner (``500 connection info``)."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise HyperDeckConnectionError(
                f"cannot connect to HyperDeck at {self.host}:{self.port}: {exc}"
            ) from exc
        sock.settimeout(None)  # the reader blocks; waits are bounded by the queues
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._sock = sock
        self._reader = threading.Thread(
            target=self._read, name=f"hyperdeck-{self.host}:{self.port}", daemon=True
        )
        self._reader.start()
        if not self._first.wait(self.connect_timeout) or self.banner is None:
            self.close()
            raise HyperDeckConnectionError(f"HyperDeck at {self.host}:{self.port} sent no greeting")
        banner = self.banner
        if banner.code == 120:
            self.close()
            raise HyperDeckRejected(
                f"HyperDeck at {self.host}:{self.port} rejected the connection (120): "
                "another controller is connected and this model accepts only one"
            )
        if banner.code != 500:
            self.close()
            raise HyperDeckConnectionError(
                f"unexpected greeting from {self.host}:{self.port}: {banner.code} {banner.text}"
            )
        return banner

    @property
    def connected(self) -> bool:
        return self._sock is not None and not self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._replies.put(_CLOSED)

    def add_listener(self, listener: Callable[[Block], None]) -> None:
        """Call ``listener(block)`` (on the reader thread) for every 5xx notification."""
        self._listeners.append(listener)

    # -- commands ------------------------------------------------------------
    def command(
        self,
        name: str,
        params: Mapping[str, object] | None = None,
        *,
        timeout: float | None = None,
    ) -> Block:
        """Send one command and return its reply; ``1xx`` raises
        :class:`HyperDeckCommandError`. A command without an answer in time
        closes the connection: a late reply would otherwise be taken as the
        answer to the next command."""
        data = encode_command(name, params)
        with self._command_lock:
            sock = self._sock
            if sock is None or self._closed.is_set():
                raise HyperDeckConnectionError("not connected")
            self._drain()
            try:
                sock.sendall(data)
            except OSError as exc:
                self.close()
                raise HyperDeckConnectionError(
                    f"connection lost while sending {name!r}: {exc}"
                ) from exc
            try:
                reply = self._replies.get(timeout=timeout or self.command_timeout)
            except queue.Empty:
                self.close()
                raise HyperDeckConnectionError(f"no answer to {name!r} in time") from None
        if reply is _CLOSED:
            raise HyperDeckConnectionError(f"connection lost waiting for the answer to {name!r}")
        if reply.is_error or reply.code == 0:
            raise HyperDeckCommandError(name, reply)
        return reply

    def _drain(self) -> None:
        while True:
            try:
                stale = self._replies.get_nowait()
            except queue.Empty:
                return
            if stale is _CLOSED:
                self._replies.put(_CLOSED)
                return

    # -- reader thread ---------------------------------------------------------
    def _read(self) -> None:
        parser = BlockParser()
        sock = self._sock
        try:
            while sock is not None:
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                for block in parser.feed(data):
                    self._route(block)
        finally:
            if not self._closed.is_set():
                self.log.info("HyperDeck %s:%d closed the connection", self.host, self.port)
            self._first.set()
            self.close()

    def _route(self, block: Block) -> None:
        if not self._first.is_set():
            self.banner = block
            self._first.set()
            return
        if block.is_notification:
            for listener in list(self._listeners):
                try:
                    listener(block)
                except Exception:  # a listener bug must not kill the reader
                    self.log.exception("notification listener failed")
            return
        self._replies.put(block)

"""A HyperDeck emulator: the Ethernet protocol on TCP plus FTP for the clips.

Users point a ``hyperdeck`` input at it to test a setup without a deck;
tests start it in a background thread::

    with HyperDeckEmulator(port=0, ftp_port=0) as deck:
        deck.port, deck.ftp_port      # the real ports
        deck.set_disk(False)          # knobs, safe from any thread

Recording produces a real clip: while the deck records, ffmpeg renders a
test pattern and a tone in real time (so the clip lasts as long as the
recording); ``stop`` finalises it as the ``.mov`` a HyperDeck writes, into
``<storage>/ssd<slot>/``, served by FTP at ``/ssd<slot>/<clip>.mov``. A clip
appears in ``disk list`` only once complete.

Command line: ``ocframe hyperdeck-emulator --help`` or
``python -m ocframe_driver_blackmagic.testing.hyperdeck --help``.

FTP needs pyftpdlib, the driver's ``[testing]`` extra; the protocol side
(``--no-ftp``, ``ftp_port=None``) runs without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..protocol import (
    COMMAND_PARAMS,
    Block,
    Command,
    ProtocolError,
    make_block,
    parse_bool,
    parse_command_line,
    parse_param_line,
    timecode,
)

log = logging.getLogger("ocframe.hyperdeck_emulator")

T = TypeVar("T")

INSTALL_TESTING = "pip install 'ocframe-driver-blackmagic[testing]'"

PROTOCOL_VERSION = "1.11"
# Commands a deck refuses while remote control is disabled.
_NEEDS_REMOTE = {"record", "stop", "slot select"}


@dataclass
class Clip:
    slot: int
    file: str
    duration: float


@dataclass
class _Recorder:
    partial: Path
    started: float
    process: asyncio.Future[asyncio.subprocess.Process]


@dataclass
class _Client:
    writer: asyncio.StreamWriter
    notify: dict[str, bool] = field(default_factory=dict)
    reported_transport: int = -1
    last_command: float = field(default_factory=time.monotonic)
    watchdog: asyncio.Task[None] | None = None

    def send(self, block: Block) -> None:
        if not self.writer.is_closing():
            self.writer.write(block.encode())

    def close(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()  # a dropped link, not a polite close


class HyperDeckEmulator:
    """The emulated deck. Every public method is safe to call from any thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9993,
        ftp_port: int | None = 21,
        storage: Path | None = None,
        model: str = "HyperDeck Studio Mini",
        slots: int = 2,
        single_controller: bool = True,
        remote_enabled: bool = False,
        no_disk: bool = False,
        disk_full: bool = False,
        no_input: bool = False,
        recording_time: int = 36000,
        drop_after: float | None = None,
        early_notify: bool = True,
        video_size: str = "1280x720",
        fps: int = 25,
        ftp_user: str | None = None,
        ftp_password: str | None = None,
        ffmpeg: str | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._requested_ftp_port = ftp_port
        self._own_storage = storage is None
        self.storage = Path(storage or tempfile.mkdtemp(prefix="hyperdeck-"))
        self.model = model
        self.unique_id = uuid.uuid4().hex[:16]
        self.slot_count = slots
        self.single_controller = single_controller
        self.remote_enabled = remote_enabled
        self.disks = {n: n == 1 and not no_disk for n in range(1, slots + 1)}
        self.disk_full = disk_full
        self.no_input = no_input
        self.capacity = recording_time
        self.drop_after = drop_after
        self.early_notify = early_notify
        self.video_size = video_size
        self.fps = fps
        self.ftp_user = ftp_user
        self.ftp_password = ftp_password
        self.ffmpeg = ffmpeg or shutil.which("ffmpeg") or "ffmpeg"

        self.port = 0
        self.ftp_port = 0
        self.status = "preview"
        self.active_slot = 1
        self.clips: list[Clip] = []
        self.recording_name: str | None = None
        self.recording_file: str | None = None
        self._recording_since = 0.0
        self._used: dict[int, float] = dict.fromkeys(self.disks, 0.0)
        self._transport_version = 0
        self._rendering = 0
        self._recorder: _Recorder | None = None
        self._clients: list[_Client] = []
        #: Connections taken as the controller since start (rejected ones not counted).
        self.accepted_connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._ftp: _FtpThread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ API
    def start(self) -> HyperDeckEmulator:
        for slot in self.disks:
            (self.storage / f"ssd{slot}").mkdir(parents=True, exist_ok=True)
        if self._requested_ftp_port is not None:
            self._ftp = _FtpThread(self)
            self._ftp.start()
            self.ftp_port = self._ftp.port
        self._thread = threading.Thread(target=self._run, name="hyperdeck-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            self.stop()
            raise self._startup_error
        log.info(
            "HyperDeck emulator on %s:%d, FTP on port %s, storage %s",
            self.host,
            self.port,
            self.ftp_port or "off",
            self.storage,
        )
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        if self._ftp is not None:
            self._ftp.stop()
        if self._own_storage:
            shutil.rmtree(self.storage, ignore_errors=True)

    def __enter__(self) -> HyperDeckEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_disk(self, present: bool, slot: int = 1) -> None:
        """Insert or remove the disk of ``slot`` (a ``502 slot info`` follows)."""

        def change() -> None:
            self.disks[slot] = present
            if not present and self.status == "record" and slot == self.active_slot:
                self._finish_recording()
            self._notify_slot(slot)

        self._call(change)

    def set_disk_full(self, full: bool) -> None:
        def change() -> None:
            self.disk_full = full
            self._notify_slot(self.active_slot)

        self._call(change)

    def set_no_input(self, no_input: bool) -> None:
        self._call(lambda: setattr(self, "no_input", no_input))

    def set_remote(self, enabled: bool) -> None:
        self._call(lambda: setattr(self, "remote_enabled", enabled))

    def drop_connections(self) -> int:
        """Cut every client's link (as a network failure would); the deck
        keeps doing what it was doing. Returns how many were cut."""

        def cut() -> int:
            clients = list(self._clients)
            # Forgotten at once: the link is gone, so a reconnect must not be
            # refused as a second controller while the handler winds down.
            self._clients.clear()
            for client in clients:
                client.close()
            return len(clients)

        return self._call(cut)

    def connected_clients(self) -> int:
        return self._call(lambda: len(self._clients))

    def wait_for(self, predicate: Callable[[HyperDeckEmulator], bool], timeout: float) -> bool:
        """Poll ``predicate(self)`` on the emulator's loop until true or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._call(lambda: predicate(self)):
                return True
            time.sleep(0.05)
        return False

    def clip_path(self, clip: Clip) -> Path:
        return self.storage / f"ssd{clip.slot}" / clip.file

    def clip_files(self) -> list[Path]:
        return self._call(lambda: [self.clip_path(c) for c in self.clips])

    # ------------------------------------------------------------ internals
    def _call(self, fn: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()
        if threading.current_thread() is self._thread:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _startup(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self._requested_port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.close()
        if self.status == "record":
            self._finish_recording()
        # Let a clip being rendered finish, so a stop() right after a
        # recording still leaves its file.
        deadline = time.monotonic() + 30
        while self._rendering and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        if self.single_controller and self._clients:
            writer.write(Block(120, "connection rejected").encode())
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        self._clients.append(client)
        self.accepted_connections += 1
        client.send(
            make_block(
                500,
                "connection info",
                [("protocol version", PROTOCOL_VERSION), ("model", self.model)],
            )
        )
        pending: Command | None = None
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                client.last_command = time.monotonic()
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                try:
                    if pending is not None:
                        if line.strip():
                            key, value = parse_param_line(pending.name, line)
                            pending.params[key] = value
                            continue
                        command, pending = pending, None
                    else:
                        if not line.strip():
                            continue
                        parsed = parse_command_line(line)
                        if parsed is None:
                            pending = Command(line.split(":", 1)[0].strip().lower())
                            continue
                        command = parsed
                    if command.name == "quit":
                        break
                    self._dispatch(client, command)
                except ProtocolError as exc:
                    pending = None
                    client.send(Block(exc.code, exc.text))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            if client in self._clients:
                self._clients.remove(client)
            if client.watchdog is not None:
                client.watchdog.cancel()
            client.close()

    # -- commands ----------------------------------------------------------
    def _dispatch(self, client: _Client, command: Command) -> None:
        if command.name in _NEEDS_REMOTE and not self.remote_enabled:
            raise ProtocolError(111, "remote control disabled")
        handler = getattr(self, "_cmd_" + command.name.replace(" ", "_"), None)
        if handler is None:
            raise ProtocolError(100, "syntax error")
        handler(client, command.params)

    def _cmd_ping(self, client: _Client, params: dict[str, str]) -> None:
        client.send(Block(200, "ok"))

    def _cmd_help(self, client: _Client, params: dict[str, str]) -> None:
        client.send(make_block(201, "help", [("commands", "see the HyperDeck protocol")]))

    def _cmd_device_info(self, client: _Client, params: dict[str, str]) -> None:
        client.send(
            make_block(
                204,
                "device info",
                [
                    ("protocol version", PROTOCOL_VERSION),
                    ("model", self.model),
                    ("unique id", self.unique_id),
                    ("slot count", self.slot_count),
                    ("software version", "8.0 (emulated)"),
                    ("name", "ocframe emulator"),
                ],
            )
        )

    def _cmd_remote(self, client: _Client, params: dict[str, str]) -> None:
        if not params:
            items = [("enabled", self.remote_enabled), ("override", False)]
            client.send(make_block(210, "remote info", items))
            return
        if "enable" in params:
            self.remote_enabled = parse_bool(params["enable"])
        if "override" in params:
            parse_bool(params["override"])
        client.send(Block(200, "ok"))

    def _cmd_notify(self, client: _Client, params: dict[str, str]) -> None:
        if not params:
            client.send(
                make_block(
                    209,
                    "notify",
                    [(k, client.notify.get(k, False)) for k in COMMAND_PARAMS["notify"]],
                )
            )
            return
        values = {k: parse_bool(v) for k, v in params.items()}
        client.notify.update(values)
        client.send(Block(200, "ok"))

    def _cmd_watchdog(self, client: _Client, params: dict[str, str]) -> None:
        try:
            period = int(params.get("period", ""))
        except ValueError:
            raise ProtocolError(102, "invalid value") from None
        if period < 0:
            raise ProtocolError(102, "invalid value")
        if client.watchdog is not None:
            client.watchdog.cancel()
            client.watchdog = None
        if period:
            client.watchdog = asyncio.ensure_future(self._watch(client, period))
        client.send(Block(200, "ok"))

    async def _watch(self, client: _Client, period: int) -> None:
        while True:
            await asyncio.sleep(0.2)
            if time.monotonic() - client.last_command > period:
                log.info("watchdog: no command for %d s, closing the connection", period)
                client.close()
                return

    def _slot_param(self, params: dict[str, str]) -> int:
        if "slot id" not in params:
            return self.active_slot
        try:
            slot = int(params["slot id"])
        except ValueError:
            raise ProtocolError(102, "invalid value") from None
        if slot not in self.disks:
            raise ProtocolError(102, "invalid value")
        return slot

    def _recording_time(self, slot: int) -> int:
        if not self.disks.get(slot) or self.disk_full:
            return 0
        used = self._used[slot]
        if self.status == "record" and slot == self.active_slot:
            used += time.monotonic() - self._recording_since
        return max(0, int(self.capacity - used))

    def _slot_items(self, slot: int) -> list[tuple[str, object]]:
        mounted = self.disks.get(slot, False)
        return [
            ("slot id", slot),
            ("status", "mounted" if mounted else "empty"),
            ("volume name", f"ssd{slot}" if mounted else ""),
            ("recording time", self._recording_time(slot)),
            ("video format", self._video_format()),
            ("blocked", False),
        ]

    def _cmd_slot_info(self, client: _Client, params: dict[str, str]) -> None:
        client.send(make_block(202, "slot info", self._slot_items(self._slot_param(params))))

    def _cmd_slot_select(self, client: _Client, params: dict[str, str]) -> None:
        slot = self._slot_param(params)
        if self.status == "record":
            raise ProtocolError(150, "invalid state")
        self.active_slot = slot
        self._transport_changed()
        client.send(Block(200, "ok"))

    def _cmd_disk_list(self, client: _Client, params: dict[str, str]) -> None:
        slot = self._slot_param(params)
        items: list[tuple[str, object]] = [("slot id", slot)]
        if self.disks.get(slot):
            for n, clip in enumerate((c for c in self.clips if c.slot == slot), start=1):
                items.append((str(n), self._clip_fields(clip)))
        client.send(make_block(206, "disk list", items))

    def _clip_fields(self, clip: Clip) -> str:
        return f"{clip.file} H.264High {self._video_format()} {timecode(clip.duration, self.fps)}"

    def _cmd_clips_get(self, client: _Client, params: dict[str, str]) -> None:
        clips = [c for c in self.clips if c.slot == self.active_slot and self.disks.get(c.slot)]
        items: list[tuple[str, object]] = [("clip count", len(clips))]
        for n, clip in enumerate(clips, start=1):
            items.append((str(n), f"{clip.file} 00:00:00:00 {timecode(clip.duration, self.fps)}"))
        client.send(make_block(205, "clips info", items))

    def _cmd_clips_count(self, client: _Client, params: dict[str, str]) -> None:
        count = sum(1 for c in self.clips if c.slot == self.active_slot)
        client.send(make_block(214, "clips count", [("clip count", count)]))

    def _transport_items(self) -> list[tuple[str, object]]:
        elapsed = time.monotonic() - self._recording_since if self.status == "record" else 0.0
        tc = timecode(elapsed, self.fps)
        clip_id = len([c for c in self.clips if c.slot == self.active_slot])
        return [
            ("status", self.status),
            ("speed", 0),
            ("slot id", self.active_slot if self.disks.get(self.active_slot) else "none"),
            ("clip id", clip_id + 1 if self.status == "record" else (clip_id or "none")),
            ("single clip", False),
            ("display timecode", tc),
            ("timecode", tc),
            ("video format", self._video_format()),
            ("loop", False),
            ("timeline", 0),
            ("input video format", "none" if self.no_input else self._video_format()),
            ("dynamic range", "Rec709"),
        ]

    def _cmd_transport_info(self, client: _Client, params: dict[str, str]) -> None:
        items = self._transport_items()
        if self.early_notify and client.reported_transport != self._transport_version:
            # Real decks may emit a notification between a command and its
            # reply; doing it on purpose keeps clients honest about routing.
            client.send(make_block(508, "transport info", items))
        client.reported_transport = self._transport_version
        client.send(make_block(208, "transport info", items))

    def _cmd_record(self, client: _Client, params: dict[str, str]) -> None:
        slot = self.active_slot
        if not self.disks.get(slot):
            raise ProtocolError(105, "no disk")
        if self.disk_full or self._recording_time(slot) <= 0:
            raise ProtocolError(104, "disk full")
        if self.no_input:
            raise ProtocolError(110, "no input")
        if self.status == "record":
            raise ProtocolError(150, "invalid state")
        name = params.get("name", "").strip() or f"Clip{len(self.clips) + 1:04d}"
        if "/" in name or name.startswith("."):
            raise ProtocolError(102, "invalid value")
        self.recording_name = name
        self.recording_file = self._unique_file(slot, name)
        self._recording_since = time.monotonic()
        self.status = "record"
        self._start_recorder()
        self._transport_changed()
        client.send(Block(200, "ok"))
        if self.drop_after is not None:
            self._spawn(self._drop_later(self.drop_after, self.recording_file))

    async def _drop_later(self, delay: float, file: str | None) -> None:
        await asyncio.sleep(delay)
        if self.status == "record" and self.recording_file == file:
            log.info("dropping %d client connection(s) mid-recording", len(self._clients))
            for client in list(self._clients):
                client.close()

    def _unique_file(self, slot: int, name: str) -> str:
        taken = {c.file for c in self.clips if c.slot == slot}
        candidate, n = f"{name}.mov", 1
        while candidate in taken or (self.storage / f"ssd{slot}" / candidate).exists():
            candidate = f"{name}_{n:04d}.mov"
            n += 1
        return candidate

    def _cmd_stop(self, client: _Client, params: dict[str, str]) -> None:
        if self.status == "record":
            self._finish_recording()
        elif self.status != "stopped":
            self.status = "stopped"
            self._transport_changed()
        client.send(Block(200, "ok"))

    def _finish_recording(self) -> None:
        # At least a second, like the shortest clip _finalise lets ffmpeg write.
        duration = max(time.monotonic() - self._recording_since, 1.0)
        slot, file = self.active_slot, self.recording_file or "Clip.mov"
        self._used[slot] += duration
        self.status = "stopped"
        self.recording_name = self.recording_file = None
        self._transport_changed()
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            self._rendering += 1
            self._spawn(self._finalise(recorder, Clip(slot, file, duration)))

    def _recorder_argv(self, partial: Path) -> list[str]:
        # Rendered live (-re) while the deck records, so the clip lasts as
        # long as the recording and is ready a moment after ``stop`` however
        # long it was; ``q`` on stdin ends it with a complete file.
        return [
            self.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats", "-y",
            "-re", "-f", "lavfi", "-i", f"testsrc=size={self.video_size}:rate={self.fps}",
            "-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-ac", "2",
            "-f", "mov", str(partial),
        ]  # fmt: skip

    def _start_recorder(self) -> None:
        partial = self.storage / f".recording-{uuid.uuid4().hex}.mov"

        async def launch() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                *self._recorder_argv(partial),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )

        self._recorder = _Recorder(partial, time.monotonic(), asyncio.ensure_future(launch()))

    async def _finalise(self, recorder: _Recorder, clip: Clip) -> None:
        target = self.clip_path(clip)
        try:
            proc = await recorder.process
            # A recording stopped at once still gets a few frames, as on a deck.
            await asyncio.sleep(max(0.0, recorder.started + 1.0 - time.monotonic()))
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.write(b"q")
                    await proc.stdin.drain()
                    proc.stdin.close()
            try:
                _, err = await asyncio.wait_for(proc.communicate(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                log.error("ffmpeg did not finish %s in time", clip.file)
                return
            if proc.returncode != 0 or not recorder.partial.exists():
                log.error("ffmpeg could not record %s: %s", clip.file, err.decode(errors="replace"))
                return
            # Appear in the disk list only once complete: FTP never serves a partial file.
            os.replace(recorder.partial, target)
            self.clips.append(clip)
            self._notify_slot(clip.slot)
        except OSError as exc:
            log.error("cannot run ffmpeg for %s: %s", clip.file, exc)
        finally:
            self._rendering -= 1
            recorder.partial.unlink(missing_ok=True)

    # -- notifications -----------------------------------------------------
    def _transport_changed(self) -> None:
        self._transport_version += 1
        block = make_block(508, "transport info", self._transport_items())
        self._broadcast("transport", [block])

    def _notify_slot(self, slot: int) -> None:
        self._broadcast("slot", [make_block(502, "slot info", self._slot_items(slot))])

    def _broadcast(self, kind: str, blocks: Iterable[Block]) -> None:
        blocks = list(blocks)
        for client in self._clients:
            if client.notify.get(kind):
                for block in blocks:
                    client.send(block)

    def _video_format(self) -> str:
        height = self.video_size.split("x")[-1]
        return f"{height}p{self.fps}"


class _FtpThread:
    """pyftpdlib serving the storage directory, anonymous read-only."""

    def __init__(self, deck: HyperDeckEmulator) -> None:
        try:
            from pyftpdlib.authorizers import DummyAuthorizer
            from pyftpdlib.handlers import FTPHandler
            from pyftpdlib.servers import FTPServer
        except ModuleNotFoundError as exc:
            raise ImportError(
                f"the emulator's FTP server needs pyftpdlib: {INSTALL_TESTING} "
                f"(or run without FTP: ftp_port=None)"
            ) from exc

        authorizer = DummyAuthorizer()
        if deck.ftp_user:
            authorizer.add_user(deck.ftp_user, deck.ftp_password or "", str(deck.storage), "elr")
        else:
            authorizer.add_anonymous(str(deck.storage), perm="elr")
        handler = type("HyperDeckFTPHandler", (FTPHandler,), {})
        handler.authorizer = authorizer
        handler.banner = f"{deck.model} FTP (ocframe emulator)"
        self.server = FTPServer((deck.host, deck._requested_ftp_port or 0), handler)
        self.port: int = self.server.socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hyperdeck-ftp", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        # pyftpdlib's loop is not thread-safe: run it in slices here and close
        # it from this same thread.
        try:
            while not self._stop.is_set():
                # ioloop.loop, not serve_forever: the latter logs a banner per slice.
                self.server.ioloop.loop(timeout=0.1, blocking=False)
        finally:
            self.server.close_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


# ---------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ocframe hyperdeck-emulator",
        description="Emulate a Blackmagic HyperDeck (Ethernet protocol + FTP) for testing.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=9993, help="protocol port (0: any free)")
    p.add_argument(
        "--ftp-port", type=int, default=2121,
        help="FTP port (a real deck uses 21, which needs root; 0: any free)",
    )  # fmt: skip
    p.add_argument("--no-ftp", action="store_true", help="do not serve FTP")
    p.add_argument("--ftp-user", help="require this FTP user instead of anonymous")
    p.add_argument("--ftp-password-env", help="environment variable holding the FTP password")
    p.add_argument("--storage", type=Path, help="where clips go (default: a temporary dir)")
    p.add_argument("--model", default="HyperDeck Studio Mini")
    p.add_argument("--no-disk", action="store_true", help="slot 1 empty: record answers 105")
    p.add_argument("--disk-full", action="store_true", help="record answers 104")
    p.add_argument("--no-input", action="store_true", help="record answers 110")
    p.add_argument("--remote-enabled", action="store_true", help="start with remote enabled")
    p.add_argument(
        "--multi-controller", action="store_true",
        help="accept several connections (default: a second one gets 120)",
    )  # fmt: skip
    p.add_argument("--recording-time", type=int, default=36000, help="disk capacity, seconds")
    p.add_argument(
        "--drop-after", type=float,
        help="cut client connections this many seconds into each recording",
    )  # fmt: skip
    p.add_argument("--video-size", default="1280x720")
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Checked before anything starts: the extra is left out of production
    # installs, and a half-started emulator would have to be torn down again.
    if not args.no_ftp and importlib.util.find_spec("pyftpdlib") is None:
        print(f"hyperdeck-emulator: FTP needs pyftpdlib, which is not installed: "
              f"{INSTALL_TESTING} (or run with --no-ftp)", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("pyftpdlib").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    password = os.environ.get(args.ftp_password_env, "") if args.ftp_password_env else None
    deck = HyperDeckEmulator(
        host=args.host,
        port=args.port,
        ftp_port=None if args.no_ftp else args.ftp_port,
        storage=args.storage,
        model=args.model,
        single_controller=not args.multi_controller,
        remote_enabled=args.remote_enabled,
        no_disk=args.no_disk,
        disk_full=args.disk_full,
        no_input=args.no_input,
        recording_time=args.recording_time,
        drop_after=args.drop_after,
        video_size=args.video_size,
        fps=args.fps,
        ftp_user=args.ftp_user,
        ftp_password=password,
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        deck.start()
    except OSError as exc:
        print(f"cannot start the emulator: {exc}")
        return 1
    print(
        f"HyperDeck emulator listening on {deck.host}:{deck.port}"
        + (f", FTP on port {deck.ftp_port}" if deck.ftp_port else "")
        + f", clips in {deck.storage}",
        flush=True,
    )
    stopping.wait()
    deck.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

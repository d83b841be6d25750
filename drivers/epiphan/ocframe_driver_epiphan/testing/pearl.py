"""An emulated Epiphan Pearl: REST API v2.0, legacy CGI, real media files.

Use it from Python (tests, demos)::

    with PearlEmulator(password="s3cret") as pearl:
        pearl.url          # http://127.0.0.1:PORT
        pearl.faults.fail_next("start", count=2, status=503)
        pearl.faults.cut_next_downloads(after_bytes=10_000)
        pearl.faults.range_support = False

or from the command line: ``ocframe pearl-emulator --port 8080`` (also
``python -m ocframe_driver_epiphan.testing``). The password comes from the
environment (``PEARL_EMULATOR_PASSWORD``), never from the command line, so it
does not show in process listings.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import tempfile
import threading
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import FAULT_KINDS, Faults, PearlApp
from .device import ArchiveEntry, InputInfo, PearlDevice, Recorder

__all__ = [
    "FAULT_KINDS",
    "ArchiveEntry",
    "Faults",
    "InputInfo",
    "PearlEmulator",
    "Recorder",
    "main",
]

log = logging.getLogger("ocframe_driver_epiphan.emulator")

DEFAULT_INPUTS = (
    InputInfo("D2P496187.hdmi-a", "HDMI-A", audio=True, video=True),
    InputInfo("D2P496187.sdi-a", "SDI-A", audio=True, video=True),
    InputInfo("D2P496187.analog-audio", "Analog audio", audio=True, video=False),
)


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to our logger at DEBUG instead of werkzeug's at INFO."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path, code)

    def log_error(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class PearlEmulator:
    """An emulated Pearl served over HTTP on a background thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user: str = "admin",
        password: str = "admin",
        recorders: list[Recorder] | None = None,
        inputs: list[InputInfo] | None = None,
        product_name: str = "Pearl Mini",
        firmware_version: str = "4.24.1",
        start_delay: float = 0.5,
        stop_delay: float = 0.5,
        media_dir: Path | None = None,
        upload_dir: Path | None = None,
        upload_chunk_delay: float = 0.0,
        tz: tzinfo | None = None,
        ffmpeg: str | None = None,
        video_size: str = "320x240",
    ) -> None:
        self._own_media_dir = media_dir is None
        self.media_dir = Path(media_dir or tempfile.mkdtemp(prefix="pearl-emulator-"))
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.faults = Faults()
        self.device = PearlDevice(
            media_dir=self.media_dir,
            recorders=recorders or [Recorder("1", "HDMI-A"), Recorder("m1", "Lecture", True)],
            inputs=list(inputs or DEFAULT_INPUTS),
            firmware={
                "version": firmware_version,
                "product_name": product_name,
                "serial": "D2P496187",
                "build": "4.24.1-0",
            },
            start_delay=start_delay,
            stop_delay=stop_delay,
            upload_dir=upload_dir,
            upload_chunk_delay=upload_chunk_delay,
            tz=tz,
            ffmpeg=ffmpeg,
            video_size=video_size,
        )
        self.app = PearlApp(self.device, self.faults, user, password)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> PearlEmulator:
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pearl-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.device.closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.device.join()
        if self._own_media_dir:
            shutil.rmtree(self.media_dir, ignore_errors=True)

    def __enter__(self) -> PearlEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL of the device (the REST API is under ``/api/v2.0``)."""
        return f"http://{self._host}:{self.port}"

    # -- knobs -----------------------------------------------------------------

    @property
    def start_delay(self) -> float:
        return self.device.start_delay

    @start_delay.setter
    def start_delay(self, value: float) -> None:
        self.device.start_delay = value

    @property
    def stop_delay(self) -> float:
        return self.device.stop_delay

    @stop_delay.setter
    def stop_delay(self, value: float) -> None:
        self.device.stop_delay = value

    def state(self, rid: str = "1") -> str:
        return str(self.device.status(rid)["state"])

    def set_error(self, rid: str, description: str) -> None:
        """The recorder fails now (ends a running recording)."""
        self.device.set_error(rid, description)

    def error_on_next_start(self, rid: str, description: str) -> None:
        """The next start of ``rid`` ends in ``error`` instead of ``started``."""
        self.device.error_on_next_start(rid, description)

    def set_state(self, rid: str, state: str, description: str = "") -> None:
        """Force a state (``disabled`` makes starts answer 409)."""
        self.device.set_state(rid, state, description)

    def add_archive_file(
        self,
        rid: str,
        data: bytes | Path,
        *,
        created: datetime,
        name: str | None = None,
        extension: str = "mp4",
        duration: int = 0,
    ) -> ArchiveEntry:
        """Put a finished file into the archive (recordings made by someone else)."""
        return self.device.add_file(
            rid, data, created=created, name=name, extension=extension, duration=duration
        )

    def archive(self, rid: str = "1") -> list[ArchiveEntry]:
        with self.device.lock:
            return list(self.device.archive[rid])

    def wait_finished(
        self, rid: str = "1", count: int = 1, timeout: float = 60
    ) -> list[ArchiveEntry]:
        return self.device.wait_finished(rid, count, timeout)

    def upload_dir(self, rid: str = "1") -> Path:
        """Where finished files of ``rid`` are uploaded (one folder per channel)."""
        if self.device.upload_dir is None:
            raise RuntimeError("emulator has no upload_dir")
        return self.device.upload_dir_for(rid)

    @property
    def uploaded(self) -> list[Path]:
        with self.device.lock:
            return list(self.device.uploaded)

    @property
    def request_counts(self) -> dict[str, int]:
        return dict(self.app.requests)


def _parse_recorder(text: str) -> Recorder:
    rid, _, name = text.partition(":")
    if not rid or not name:
        raise argparse.ArgumentTypeError(f"expected ID:NAME, got {text!r}")
    return Recorder(rid, name, multisource=rid.startswith("m"))


def _parse_tz(text: str) -> tzinfo:
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pearl-emulator",
        description="Serve an emulated Epiphan Pearl (REST API v2.0 and legacy CGI). "
        "The password is read from $PEARL_EMULATOR_PASSWORD (default: admin).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--user", default="admin")
    parser.add_argument(
        "--recorder",
        action="append",
        type=_parse_recorder,
        metavar="ID:NAME",
        help="a recorder (repeatable; default 1:HDMI-A and m1:Lecture)",
    )
    parser.add_argument("--start-delay", type=float, default=1.0)
    parser.add_argument("--stop-delay", type=float, default=1.0)
    parser.add_argument("--media-dir", type=Path, help="where recordings are kept")
    parser.add_argument(
        "--upload-dir", type=Path, help="copy finished files here (the Pearl's automatic upload)"
    )
    parser.add_argument("--upload-chunk-delay", type=float, default=0.0)
    parser.add_argument("--no-range", action="store_true", help="ignore Range headers")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--download-rate", type=float, help="bytes per second")
    parser.add_argument("--fail-starts", type=int, default=0, help="answer 503 to N starts")
    parser.add_argument(
        "--cut-downloads", type=int, default=0, metavar="BYTES", help="cut the next download"
    )
    parser.add_argument("--timezone", type=_parse_tz, help="UTC offset like -05:00")
    parser.add_argument("--product", default="Pearl Mini")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)

    emulator = PearlEmulator(
        host=args.host,
        port=args.port,
        user=args.user,
        password=os.environ.get("PEARL_EMULATOR_PASSWORD", "admin"),
        recorders=args.recorder,
        product_name=args.product,
        start_delay=args.start_delay,
        stop_delay=args.stop_delay,
        media_dir=args.media_dir,
        upload_dir=args.upload_dir,
        upload_chunk_delay=args.upload_chunk_delay,
        tz=args.timezone,
    )
    emulator.faults.range_support = not args.no_range
    emulator.faults.latency = args.latency
    emulator.faults.download_rate = args.download_rate
    if args.fail_starts:
        emulator.faults.fail_next("start", args.fail_starts, 503)
    if args.cut_downloads:
        emulator.faults.cut_next_downloads(args.cut_downloads)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    emulator.start()
    print(f"Pearl emulator on {emulator.url} (REST at {emulator.url}/api/v2.0)", flush=True)
    try:
        done.wait()
    finally:
        emulator.stop()
    return 0

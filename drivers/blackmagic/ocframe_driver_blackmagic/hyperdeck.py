"""The ``hyperdeck`` driver: record on a Blackmagic HyperDeck, fetch the clip by FTP.

The deck records to its own disk; the agent only commands it over the
Ethernet protocol (TCP 9993) and downloads the clip afterwards. Older decks
accept a single controller, so a driver instance keeps one connection (a
:class:`HyperDeckSession`) shared by its checks and captures, and re-opens
it after a drop.
"""

from __future__ import annotations

import re
import string
import threading
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from ocframe import (
    CaptureContext,
    CaptureError,
    CaptureHandle,
    CheckResult,
    Driver,
    DriverSettings,
    InputSpec,
    Track,
    safe_name,
)

from . import ftp
from .client import (
    HyperDeckClient,
    HyperDeckCommandError,
    HyperDeckConnectionError,
    HyperDeckError,
    HyperDeckRejected,
)
from .protocol import Block, DiskEntry, parse_disk_list

CLIP_FIELDS = ("uid", "title", "input", "agent", "segment", "start", "recording")

# What the deck's failure codes mean for the person reading the agent's log.
_COMMAND_ERRORS = {
    104: "the disk is full",
    105: "no disk in the active slot",
    110: "no video input signal",
    111: "remote control is disabled on the deck (enable it in its setup menu)",
    150: "the deck is in a state that refuses this command",
}


class HyperDeckSettings(DriverSettings):
    host: str = Field(description="the deck's address")
    port: int = Field(9993, ge=1, le=65535, description="the deck's Ethernet protocol port")
    slot: int = Field(1, ge=1, description="slot to record to and fetch from")
    ftp_port: int = Field(21, ge=1, le=65535, description="the deck's FTP port")
    ftp_user: str = Field("anonymous", description="FTP user")
    ftp_password: SecretStr = Field(SecretStr(""), description="FTP password")
    ftp_directory: str = Field("/ssd{slot}", description="where the slot's clips are on FTP")
    clip_name: str = Field(
        "{uid}-{segment}",
        description="clip name template; fields: "
        + ", ".join(CLIP_FIELDS)
        + " (each made file-system safe)",
    )
    connect_timeout: float = Field(5.0, gt=0, description="seconds to connect")
    command_timeout: float = Field(5.0, gt=0, description="seconds per command")
    confirm_timeout: float = Field(10.0, gt=0, description="for record/stop to show in transport")
    clip_timeout: float = Field(60.0, gt=0, description="for the clip to appear after stop")
    ftp_timeout: float = Field(60.0, gt=0, description="seconds per FTP operation")
    ftp_attempts: int = Field(
        3, ge=1, description="FTP attempts per clip; each resumes where the last stopped",
    )
    reconnect_attempts: int = Field(
        5, ge=1, description="reconnections after a dropped connection",
    )
    reconnect_delay: float = Field(1.0, ge=0, description="seconds between reconnections")
    time_margin: float = Field(
        60.0, ge=0, description="recording time required on the disk beyond the event's length"
    )

    @field_validator("clip_name")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        for _, name, spec, conv in string.Formatter().parse(value):
            if name is not None and (name not in CLIP_FIELDS or spec or conv):
                raise ValueError(f"unknown clip name field {{{name}}}; use {CLIP_FIELDS}")
        return value

    @field_validator("ftp_directory")
    @classmethod
    def _directory(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("ftp_directory must be absolute, e.g. /ssd{slot}")
        return value.rstrip("/") or "/"


def _explain(exc: HyperDeckError, what: str) -> CaptureError:
    if isinstance(exc, HyperDeckCommandError):
        reason = _COMMAND_ERRORS.get(exc.code, f"{exc.code} {exc.text}")
        return CaptureError(f"HyperDeck {what}: {reason}", permanent=False)
    return CaptureError(f"HyperDeck {what}: {exc}", permanent=False)


class HyperDeckSession:
    """The driver's connection to its deck, opened on demand and re-opened
    after a drop with bounded attempts."""

    def __init__(self, settings: HyperDeckSettings, logger: Any) -> None:
        self.settings = settings
        self.log = logger
        self._client: HyperDeckClient | None = None
        self._lock = threading.Lock()
        self.transport: dict[str, str] = {}
        self.banner: Block | None = None

    def _open(self) -> HyperDeckClient:
        s = self.settings
        client = HyperDeckClient(
            s.host, s.port, connect_timeout=s.connect_timeout,
            command_timeout=s.command_timeout, logger=self.log,
        )  # fmt: skip
        client.add_listener(self._notified)
        self.banner = client.connect()
        try:
            client.command("remote", {"enable": True})
            client.command("notify", {"transport": True, "slot": True})
        except HyperDeckError:
            client.close()
            raise
        return client

    def _notified(self, block: Block) -> None:
        if block.code == 508:
            old = self.transport.get("status")
            self.transport.update(block.params)
            new = self.transport.get("status")
            if new != old:
                self.log.info("HyperDeck transport: %s -> %s", old, new)
        elif block.code == 502:
            self.log.debug("HyperDeck slot notification: %s", block.params)

    def client(self, attempts: int | None = None) -> HyperDeckClient:
        """A connected client, reconnecting up to ``attempts`` times."""
        with self._lock:
            if self._client is not None and self._client.connected:
                return self._client
            tries = attempts or self.settings.reconnect_attempts
            last: HyperDeckError | None = None
            for attempt in range(tries):
                if attempt:
                    time.sleep(self.settings.reconnect_delay)
                try:
                    self._client = self._open()
                    if last is not None or self.transport:
                        self.log.info("reconnected to HyperDeck %s:%d",
                                      self.settings.host, self.settings.port)  # fmt: skip
                    return self._client
                except HyperDeckCommandError:
                    raise
                except HyperDeckError as exc:
                    last = exc
                    self.log.debug("connecting to HyperDeck failed: %s", exc)
            assert last is not None
            raise last

    def call(
        self, name: str, params: dict[str, object] | None = None, *, attempts: int | None = None
    ) -> Block:
        """A command, re-sent on a fresh connection if the link dropped.
        Only for commands that are safe to repeat."""
        tries = attempts or self.settings.reconnect_attempts
        last: HyperDeckError | None = None
        for attempt in range(tries):
            if attempt:
                time.sleep(self.settings.reconnect_delay)
            try:
                return self.client(attempts=1).command(name, params)
            except (HyperDeckCommandError, HyperDeckRejected):
                raise
            except HyperDeckConnectionError as exc:
                last = exc
        assert last is not None
        raise last

    def transport_info(self, attempts: int | None = None) -> dict[str, str]:
        info = self.call("transport info", attempts=attempts).params
        self.transport.update(info)
        return info

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class HyperDeckDriver(Driver):
    """A HyperDeck recorder as an ocframe input."""

    Settings: ClassVar[type[DriverSettings]] = HyperDeckSettings
    mimetype: ClassVar[str] = "video/quicktime"

    def __init__(self, spec: InputSpec) -> None:
        super().__init__(spec)
        self.settings: HyperDeckSettings = spec.settings
        self.session = HyperDeckSession(self.settings, self.log)
        self._capabilities: dict[str, str] | None = None

    # -- helpers ---------------------------------------------------------------
    def clip_name(self, ctx: CaptureContext) -> str:
        event = ctx.event
        values = {
            "uid": safe_name(event.uid, limit=64),
            "title": safe_name(event.title or "untitled", limit=48),
            "input": safe_name(ctx.input.name),
            "agent": safe_name(ctx.input.agent),
            "segment": str(ctx.segment),
            "start": event.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"),
            "recording": safe_name(ctx.recording_id),
        }
        return safe_name(self.settings.clip_name.format_map(values), limit=100)

    def ftp_source(self) -> ftp.FtpSource:
        s = self.settings
        return ftp.FtpSource(
            s.host, s.ftp_port, s.ftp_user, s.ftp_password.get_secret_value(), s.ftp_timeout
        )

    def ftp_directory(self) -> str:
        return self.settings.ftp_directory.replace("{slot}", str(self.settings.slot))

    def disk_list(self) -> list[DiskEntry]:
        return parse_disk_list(self.session.call("disk list", {"slot id": self.settings.slot}))

    # -- Driver API ------------------------------------------------------------
    def capabilities(self) -> dict[str, str]:
        caps = super().capabilities()
        if self._capabilities is None:
            try:
                info = self.session.call("device info", attempts=1).params
            except HyperDeckError as exc:
                self.log.debug("device info unavailable: %s", exc)
                return caps
            self._capabilities = {
                "model": info.get("model", ""),
                "protocol": info.get("protocol version", ""),
                "firmware": info.get("software version", ""),
                "slots": info.get("slot count", ""),
                "slot": str(self.settings.slot),
            }
        return {**caps, **self._capabilities}

    def check(self) -> list[CheckResult]:
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            self.session.client(attempts=1)
        except HyperDeckCommandError as exc:
            return [
                CheckResult("reachable", True, where),
                CheckResult("remote control", False, str(_explain(exc, "remote enable"))),
            ]
        except HyperDeckError as exc:
            return [CheckResult("reachable", False, str(exc))]
        banner = self.session.banner
        model = banner.params.get("model", "?") if banner else "?"
        results = [
            CheckResult("reachable", True, f"{model} at {where}"),
            CheckResult("remote control", True, "enabled"),
        ]
        try:
            slot = self.session.call("slot info", {"slot id": s.slot}).params
            mounted = slot.get("status") == "mounted"
            detail = (
                f"slot {s.slot}: {slot.get('recording time', '?')} s of recording time left"
                if mounted
                else f"slot {s.slot}: no disk ({slot.get('status')})"
            )
            results.append(CheckResult("disk", mounted, detail))
        except HyperDeckError as exc:
            results.append(CheckResult("disk", False, str(exc)))
        try:
            welcome = ftp.check_login(self.ftp_source())
            results.append(CheckResult("ftp", True, welcome))
        except (OSError, EOFError, ftp.ftplib.Error) as exc:
            results.append(CheckResult("ftp", False, f"FTP {s.host}:{s.ftp_port}: {exc}"))
        return results

    def prepare(self, ctx: CaptureContext) -> None:
        s = self.settings
        try:
            slot = self.session.call("slot info", {"slot id": s.slot}).params
        except HyperDeckError as exc:
            raise _explain(exc, "not ready") from exc
        status = slot.get("status", "?")
        if status != "mounted":
            raise CaptureError(f"HyperDeck has no disk in slot {s.slot} (status: {status})")
        try:
            left = int(slot.get("recording time", "0"))
        except ValueError:
            left = 0
        if left <= 0:
            raise CaptureError(f"HyperDeck disk in slot {s.slot} is full")
        needed = (ctx.scheduled_end - datetime.now(UTC)).total_seconds() + s.time_margin
        if left < needed:
            raise CaptureError(
                f"HyperDeck slot {s.slot} has {left} s of recording time left; "
                f"this event needs {int(needed)} s"
            )

    def start(self, ctx: CaptureContext) -> CaptureHandle:
        s = self.settings
        clip = self.clip_name(ctx)
        try:
            transport = self.session.transport_info()
            if transport.get("status") == "record":
                raise CaptureError(
                    "HyperDeck is already recording (another controller or an earlier "
                    "capture that could not be stopped)"
                )
            if transport.get("slot id") != str(s.slot):
                self.session.call("slot select", {"slot id": s.slot})
            before = {e.file for e in self.disk_list()}
            self._record(clip)
        except HyperDeckError as exc:
            raise _explain(exc, "cannot start recording") from exc
        handle = HyperDeckCapture(self, ctx, clip, before)
        handle.confirm("record")
        ctx.logger.info("HyperDeck %s:%d recording clip %s", s.host, s.port, clip)
        return handle

    def _record(self, clip: str) -> None:
        # ``record`` is not safe to repeat blindly: if the link drops after
        # sending it, ask the deck whether it took before trying again.
        for attempt in range(2):
            try:
                self.session.client().command("record", {"name": clip})
                return
            except HyperDeckCommandError:
                raise
            except HyperDeckConnectionError:
                if self.session.transport_info().get("status") == "record":
                    return  # it took before the link dropped
                if attempt:
                    raise

    def close(self) -> None:
        self.session.close()


class HyperDeckCapture(CaptureHandle):
    """One recording on the deck, from ``record`` to the fetched clip."""

    def __init__(
        self, driver: HyperDeckDriver, ctx: CaptureContext, clip: str, before: set[str]
    ) -> None:
        self.driver = driver
        self.session = driver.session
        self.settings = driver.settings
        self.ctx = ctx
        self.clip = clip
        self.before = before
        self.ended: str | None = None
        self.stopped = False
        self.stop_error: str | None = None
        self._failures = 0
        self._last_progress = time.monotonic()

    def confirm(self, wanted: str) -> None:
        """Wait until the transport shows ``wanted`` (``record``) or stops showing ``record``."""
        deadline = time.monotonic() + self.settings.confirm_timeout
        status = "?"
        while True:
            try:
                status = self.session.transport_info().get("status", "?")
            except HyperDeckError as exc:
                raise _explain(exc, f"did not confirm {wanted}") from exc
            if (status == wanted) if wanted == "record" else (status != "record"):
                return
            if time.monotonic() >= deadline:
                raise CaptureError(f"HyperDeck did not {wanted} (transport status: {status})")
            time.sleep(0.2)

    def poll(self) -> str | None:
        if self.ended or self.stopped:
            return self.ended
        try:
            # One connection attempt per poll keeps poll short; the failures
            # are counted across polls instead.
            status = self.session.transport_info(attempts=1).get("status")
        except HyperDeckError as exc:
            self._failures += 1
            self.ctx.logger.warning("HyperDeck unreachable (%d/%d): %s", self._failures,
                                    self.settings.reconnect_attempts, exc)  # fmt: skip
            if self._failures >= self.settings.reconnect_attempts:
                self.ended = f"lost the connection to the HyperDeck: {exc}"
            return self.ended
        if self._failures:
            self.ctx.logger.info("HyperDeck reachable again; transport status: %s", status)
        self._failures = 0
        if status != "record":
            self.ended = f"HyperDeck recording stopped unexpectedly (transport status: {status})"
            return self.ended
        self._last_progress = time.monotonic()
        return None

    def stalled_for(self) -> float:
        return time.monotonic() - self._last_progress if self._failures else 0.0

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            if self.session.transport_info().get("status") == "record":
                self.session.call("stop")
            self.confirm("stop")
        except (HyperDeckError, CaptureError) as exc:
            self.stop_error = str(exc)
            self.ctx.logger.error("could not stop the HyperDeck: %s", exc)

    def find_clip(self) -> DiskEntry | None:
        pattern = re.compile(rf"^{re.escape(self.clip)}(?:_\d+)?\.[A-Za-z0-9]+$")
        entries = self.driver.disk_list()
        found = [e for e in entries if pattern.match(e.file) and e.file not in self.before]
        return found[-1] if found else None

    def tracks(self) -> list[Track]:
        if not self.stopped or self.stop_error:
            # Ended on its own (or the stop failed): make sure the deck is not
            # still recording into the clip we are about to fetch.
            self.stopped = False
            self.stop()
        deadline = time.monotonic() + self.settings.clip_timeout
        entry: DiskEntry | None = None
        while entry is None:
            try:
                entry = self.find_clip()
            except HyperDeckError as exc:
                if time.monotonic() >= deadline:
                    raise _explain(exc, "cannot list clips") from exc
            if entry is None:
                if time.monotonic() >= deadline:
                    why = f" ({self.stop_error})" if self.stop_error else ""
                    raise CaptureError(f"clip {self.clip} not found on the HyperDeck{why}")
                time.sleep(0.5)
        remote = f"{self.driver.ftp_directory().rstrip('/')}/{entry.file}"
        dest = self.ctx.directory / safe_name(entry.file)
        try:
            size = ftp.fetch(
                self.driver.ftp_source(), remote, dest,
                attempts=self.settings.ftp_attempts, delay=self.settings.reconnect_delay,
                logger=self.ctx.logger,
            )  # fmt: skip
        except (OSError, EOFError, ftp.ftplib.Error) as exc:
            raise CaptureError(f"cannot fetch {remote} from the HyperDeck by FTP: {exc}") from exc
        self.ctx.logger.info("fetched %s (%d bytes, %s)", remote, size, entry.duration)
        return [
            Track(
                path=dest,
                flavor=self.ctx.input.flavor,
                mimetype=self.driver.mimetype,
                input=self.ctx.input.name,
                segment=self.ctx.segment,
            )
        ]

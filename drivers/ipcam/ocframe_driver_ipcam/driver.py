"""The ``ipcam`` driver: RTSP pull with stream copy, ONVIF/vendor PTZ presets."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from ocframe import (
    CaptureCommand,
    CaptureContext,
    CaptureError,
    CaptureHandle,
    CheckResult,
    CommandCapture,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    InputSpec,
    safe_name,
)
from ocframe import ffmpeg as ff

from . import onvif_client, presets
from .rtsp import (
    PROTOCOLS,
    SecretFifo,
    ffconcat_script,
    timeout_option,
    with_credentials,
    without_credentials,
)

CONTAINERS = {"mkv": ("mkv", "matroska", "video/x-matroska"), "ts": ("ts", "mpegts", "video/mp2t")}
# ffmpeg prints this once input and output are open: the camera answered.
_STARTED = re.compile(r"^(Stream mapping:|Press \[q\]|Output #0)")


class IpCamSettings(CommandDriverSettings):
    """Settings of a ``driver = "ipcam"`` input."""

    url: str | None = Field(
        None, description="rtsp://host[:port]/path without credentials; or resolved via ONVIF"
    )
    username: str | None = Field(None, description="user for RTSP, ONVIF and the preset CGIs")
    password: SecretStr | None = Field(None, description="that user's password")
    container: Literal["mkv", "ts"] = Field(
        "mkv", description="file format: mkv, or ts (readable up to a crash)",
    )
    connect_timeout: float = Field(5.0, gt=0, description="socket timeout (s) for RTSP I/O")
    hide_credentials: bool = Field(
        True, description="pass the URL through an ffconcat FIFO so ps never shows it"
    )
    onvif: bool = Field(
        False, description="resolve the stream URL (and move to onvif_preset) over ONVIF",
    )
    onvif_host: str | None = Field(None, description="default: the RTSP URL's host")
    onvif_port: int = Field(80, description="ONVIF HTTP port")
    onvif_profile: str | None = Field(None, description="profile token or name; default first")
    onvif_preset: str | None = Field(None, description="PTZ preset token for GotoPreset")
    preset_vendor: presets.Vendor | None = Field(
        None, description="recall a camera preset over the vendor's HTTP API before recording",
    )
    preset: str | None = Field(None, description="Panasonic/Sony number, Axis preset name")
    preset_base_url: str | None = Field(None, description="default http://<camera host>")
    preset_auth: presets.AuthKind | None = Field(None, description="default per vendor")
    http_timeout: float = Field(5.0, description="seconds per ONVIF or preset request")

    @model_validator(mode="after")
    def _consistent(self) -> IpCamSettings:
        if not self.url and not self.onvif:
            raise ValueError("set 'url' or enable 'onvif' to resolve it")
        if self.url and not self.url.startswith(("rtsp://", "rtsps://")):
            raise ValueError("url must be rtsp:// or rtsps://")
        if self.url and urlsplit(self.url).password:
            raise ValueError("put credentials in username/password, not in the url")
        if self.preset_vendor and not self.preset:
            raise ValueError("preset_vendor needs preset")
        if self.onvif and not (self.onvif_host or self.url):
            raise ValueError("onvif needs onvif_host (or a url to take the host from)")
        return self


class IpCamCapture(CommandCapture):
    """A capture whose credentials FIFO is cleaned up with it."""

    def __init__(
        self,
        ctx: CaptureContext,
        command: CaptureCommand,
        driver: IpCamDriver,
        fifo: SecretFifo | None,
    ) -> None:
        super().__init__(ctx, command, driver.stop_timeouts())
        self.fifo = fifo

    def _cleanup(self) -> None:
        if self.fifo is not None:
            self.fifo.close()
            self.fifo = None

    def poll(self) -> str | None:
        reason = super().poll()
        if reason is not None:
            self._cleanup()
        return reason

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self._cleanup()


class IpCamDriver(CommandDriver):
    Settings: ClassVar[type[IpCamSettings]] = IpCamSettings  # type: ignore[assignment]

    def __init__(self, spec: InputSpec) -> None:
        super().__init__(spec)
        self.ffmpeg = ff.find_ffmpeg(spec.tools.get("ffmpeg"))
        self.ffprobe = ff.find_ffprobe(spec.tools.get("ffprobe"))
        self._resolved_url: str | None = None
        self._lock = threading.Lock()

    # -- settings helpers ---------------------------------------------------
    @property
    def _password(self) -> str | None:
        pw = self.settings.password
        return pw.get_secret_value() if pw is not None else None

    def _camera_host(self) -> str:
        s: IpCamSettings = self.settings
        return s.onvif_host or urlsplit(s.url or self._resolved_url or "").hostname or ""

    def _onvif_target(self) -> onvif_client.OnvifTarget:
        s: IpCamSettings = self.settings
        return onvif_client.OnvifTarget(
            host=self._camera_host(),
            port=s.onvif_port,
            username=s.username,
            password=self._password,
            timeout=max(s.http_timeout * 2, 5.0),
        )

    def stream_url(self) -> str:
        """The RTSP URL (no credentials): configured, or resolved via ONVIF once."""
        s: IpCamSettings = self.settings
        if s.url:
            return s.url
        with self._lock:
            if self._resolved_url is None:
                try:
                    uri = onvif_client.stream_uri(self._onvif_target(), s.onvif_profile)
                except onvif_client.OnvifFailure as exc:
                    raise CaptureError(f"{self.spec.name}: {exc}", permanent=exc.auth) from exc
                # Some cameras embed credentials in the URI they return.
                self._resolved_url = without_credentials(uri)
            return self._resolved_url

    # -- kernel hooks ---------------------------------------------------------
    def capabilities(self) -> dict[str, str]:
        s: IpCamSettings = self.settings
        caps = super().capabilities()
        url = s.url or self._resolved_url
        caps["device"] = without_credentials(url) if url else f"onvif://{self._camera_host()}"
        caps["container"] = s.container
        if s.onvif_preset or s.preset:
            caps["preset"] = s.onvif_preset or s.preset or ""
        return caps

    def prepare(self, ctx: CaptureContext) -> None:
        s: IpCamSettings = self.settings
        self.stream_url()  # an ONVIF camera that cannot give a URI fails here
        # A preset that cannot be recalled still leaves a recording worth making.
        try:
            if s.onvif and s.onvif_preset:
                onvif_client.goto_preset(self._onvif_target(), s.onvif_profile, s.onvif_preset)
                ctx.logger.info("%s: ONVIF preset %s", ctx.input.name, s.onvif_preset)
            elif s.preset_vendor and s.preset:
                answer = presets.recall_preset(
                    self._preset_base_url(),
                    s.preset_vendor,
                    s.preset,
                    auth=self._preset_auth(),
                    timeout=s.http_timeout,
                )
                ctx.logger.info(
                    "%s: %s preset %s: %s", ctx.input.name, s.preset_vendor, s.preset, answer[:80]
                )
        except (onvif_client.OnvifFailure, RuntimeError, ValueError) as exc:
            ctx.logger.warning("%s: preset not recalled: %s", ctx.input.name, exc)

    def _preset_base_url(self) -> str:
        return self.settings.preset_base_url or f"http://{self._camera_host()}"

    def _preset_auth(self) -> Any:
        s: IpCamSettings = self.settings
        kind = s.preset_auth or presets.DEFAULT_AUTH[s.preset_vendor or "axis"]
        return presets.make_auth(kind, s.username, self._password)

    # -- capture ------------------------------------------------------------------
    def _input(self, url: str) -> tuple[dict[str, Any], str, SecretFifo | None, list[str]]:
        """(input options, input target, fifo, secrets to redact)."""
        s: IpCamSettings = self.settings
        secret_url = with_credentials(url, s.username, self._password)
        rtsp_opts = {
            "rtsp_transport": "tcp",
            timeout_option(self.ffmpeg): str(int(s.connect_timeout * 1_000_000)),
            "use_wallclock_as_timestamps": "1",
        }
        redact = [secret_url]
        userinfo = urlsplit(secret_url).netloc.rpartition("@")[0]
        if userinfo:
            redact.append(userinfo + "@")
        # ffmpeg only ever sees the encoded form; the raw password is redacted
        # too unless it is so short that redacting it would mangle every line.
        pw = self._password
        if pw and len(pw) >= 6:
            redact.append(pw)
        if not s.hide_credentials:
            return rtsp_opts, secret_url, None, redact
        fifo = SecretFifo(ffconcat_script(secret_url, rtsp_opts))
        opts = {
            "f": "concat",
            "safe": "0",
            "protocol_whitelist": PROTOCOLS,
            # Not on the concat level too: it would stamp the packets the
            # camera's stream was probed with all at once (0.000, 0.002,
            # 0.002 s...), squeezing the first second. The camera's stream
            # gets wall-clock stamps as they arrive (the options above).
        }
        return opts, str(fifo.path), fifo, redact

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        return self._command(ctx)[0]

    def _command(self, ctx: CaptureContext) -> tuple[CaptureCommand, SecretFifo | None]:
        s: IpCamSettings = self.settings
        ext, fmt, mime = CONTAINERS[s.container]
        opts, target, fifo, redact = self._input(self.stream_url())
        path = ctx.directory / f"{safe_name(ctx.input.name)}.{ext}"
        # Frames reach the disk as they arrive (Matroska in clusters of at most
        # 1 s), not in ffmpeg's output buffer: a capture killed under load
        # loses its trailer, not its last buffer (the header-only and cut-at-
        # 1-MiB files of the shared-camera run); the stop sees the file grow.
        out_opts: dict[str, str] = {"flush_packets": "1"}
        if fmt == "matroska":
            out_opts["cluster_time_limit"] = "1000"
        graph = ff.output(ff.input(target, **opts), str(path), c="copy", map="0", f=fmt,
                          **out_opts)
        graph = graph.global_args("-hide_banner", "-stats_period", "1")
        argv = ff.compile_args(graph.overwrite_output(), self.ffmpeg)
        cmd = CaptureCommand(
            argv=argv, outputs=[CommandOutput(path, ctx.input.flavor, mime)], redact=redact
        )
        return cmd, fifo

    def start(self, ctx: CaptureContext) -> CaptureHandle:
        s: IpCamSettings = self.settings
        command, fifo = self._command(ctx)
        handle = IpCamCapture(ctx, command, self, fifo)
        try:
            handle.begin()
        except CaptureError:
            handle._cleanup()
            raise
        # Wait until the camera answered (ffmpeg opened its output) or ffmpeg
        # gave up: a silent camera is a failed start with a clear reason, not
        # a capture that "ended early" and gets restarted in a loop.
        began = time.monotonic()
        deadline = began + 2 * s.connect_timeout + 5.0
        while time.monotonic() < deadline:
            if handle.process.poll() is not None:
                reason = handle.poll() or ""
                raise CaptureError(self._start_failure(reason, fifo, time.monotonic() - began))
            if any(_STARTED.match(line) for line in handle.process.tail(50)):
                break
            time.sleep(0.05)
        return handle

    def _start_failure(self, reason: str, fifo: SecretFifo | None, elapsed: float) -> str:
        shown = without_credentials(self.stream_url())
        if fifo is not None:
            # ffmpeg names the concat script, not the camera, in its errors.
            reason = reason.replace(str(fifo.path), shown)
        if "Invalid data found" in reason and elapsed >= self.settings.connect_timeout:
            # What the concat demuxer reports when the inner RTSP open timed out.
            reason += f" (no RTSP answer within {self.settings.connect_timeout:g} s)"
        return f"camera {urlsplit(shown).netloc} did not deliver a stream: {reason}"

    # -- check ----------------------------------------------------------------------
    def check(self) -> list[CheckResult]:
        s: IpCamSettings = self.settings
        results: list[CheckResult] = []
        if s.onvif:
            target = self._onvif_target()
            try:
                skew = onvif_client.clock_skew(target)
                results.append(
                    CheckResult(
                        "ONVIF reachable", True, f"{target.host}:{target.port}, clock skew {skew}"
                    )
                )
            except onvif_client.OnvifFailure as exc:
                results.append(CheckResult("ONVIF reachable", False, str(exc)))
                return results
            try:
                tokens = onvif_client.profiles(target)
                results.append(
                    CheckResult("ONVIF credentials accepted", True, f"profiles {', '.join(tokens)}")
                )
            except onvif_client.OnvifFailure as exc:
                results.append(CheckResult("ONVIF credentials accepted", False, str(exc)))
                if not s.url:
                    return results
        try:
            url = self.stream_url()
        except CaptureError as exc:
            results.append(CheckResult("stream URI", False, exc.reason))
            return results
        results.extend(self._probe_stream(url))
        return results

    def _probe_stream(self, url: str) -> list[CheckResult]:
        s: IpCamSettings = self.settings
        if not self.ffprobe:
            return [CheckResult("stream answers", False, "ffprobe not installed")]
        opts, target, fifo, redact = self._input(url)
        argv = [
            self.ffprobe,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name",
            "-of",
            "csv=p=0",
        ]
        for key, value in opts.items():
            argv += [f"-{key}", value]
        argv += ["-i", target]
        wait = 2 * s.connect_timeout + 5.0
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=wait)
            out, err, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired:
            out, err, code = "", f"no answer within {wait:.0f} s", -1
        finally:
            if fifo is not None:
                fifo.close()
        for secret in redact:
            err = err.replace(secret, "***")
        shown = without_credentials(url)
        if code == 0 and out.strip():
            streams = ", ".join(line.replace(",", " ") for line in out.split())
            checks = [CheckResult("stream answers", True, f"{shown}: {streams}")]
            if s.username:
                checks.append(CheckResult("credentials accepted", True, s.username))
            return checks
        if "401" in err:
            return [
                CheckResult("stream answers", True, f"{shown} (asks for credentials)"),
                CheckResult("credentials accepted", False, "401 Unauthorized"),
            ]
        last = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
        return [CheckResult("stream answers", False, f"{shown}: {last}")]

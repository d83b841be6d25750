"""The ``decklink`` driver: record a Blackmagic DeckLink capture card.

Capture runs as one supervised process: ``gst-launch-1.0 -e`` with
``decklinkvideosrc``/``decklinkaudiosrc`` (Debian's gstreamer1.0-plugins-bad)
or, when the installed ffmpeg was built against the DeckLink SDK,
``ffmpeg -f decklink``. Both need Blackmagic's Desktop Video driver at run
time. gst-launch is stopped with SIGINT (``-e`` turns it into an EOS, so the
muxer writes a complete file); ffmpeg with ``q``.

``test_source = true`` swaps the card for live test sources so the whole
start/stop/file path can run on a machine without a card.
"""

from __future__ import annotations

import ctypes.util
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

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
    DriverSettings,
    InputSpec,
    StopTimeouts,
    find_ffmpeg,
    safe_name,
)

NOT_INSTALLED = "Blackmagic Desktop Video driver not installed"

Connection = Literal["auto", "sdi", "hdmi", "optical-sdi", "component", "composite", "svideo"]
AudioConnection = Literal["auto", "embedded", "aes", "analog", "analog-xlr", "analog-rca"]

# ffmpeg's decklink demuxer spells the same inputs differently.
_FFMPEG_VIDEO_INPUT = {
    "sdi": "sdi",
    "hdmi": "hdmi",
    "optical-sdi": "optical_sdi",
    "component": "component",
    "composite": "composite",
    "svideo": "s_video",
}
_FFMPEG_AUDIO_INPUT = {
    "embedded": "embedded",
    "aes": "aes_ebu",
    "analog": "analog",
    "analog-xlr": "analog_xlr",
    "analog-rca": "analog_rca",
}
_MIMETYPES = {"mkv": "video/x-matroska", "mp4": "video/mp4"}


class DeckLinkSettings(CommandDriverSettings):
    device_number: int = Field(0, ge=0, description="DeckLink device (sub-device) index")
    connection: Connection = Field("auto", description="video input connector")
    mode: str = Field("auto", description="video mode: auto, 1080p25, 1080i50, 720p50, ...")
    audio: bool = Field(True, description="record audio")
    audio_channels: Literal[2, 8, 16] = Field(2, description="audio channels (48 kHz)")
    audio_connection: AudioConnection = Field("auto", description="audio input connector")
    backend: Literal["auto", "gstreamer", "ffmpeg"] = Field(
        "auto",
        description="gstreamer, ffmpeg (built with DeckLink), or auto: GStreamer's "
                    "plugin if present, else ffmpeg",
    )
    container: Literal["mkv", "mp4"] = Field("mkv", description="file format of the recording")
    video_bitrate: int = Field(6000, gt=0, description="H.264 bitrate, kbit/s")
    speed_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = (
        Field("veryfast", description="x264 speed preset")
    )
    keyframe_interval: int = Field(50, gt=0, description="frames between key frames")
    audio_codec: Literal["aac", "flac", "pcm"] = Field(
        "aac", description="aac (2 channels), flac (up to 8) or pcm (16; mkv only)",
    )
    audio_bitrate: int = Field(128, gt=0, description="AAC bitrate, kbit/s")
    ffmpeg_device: str | None = Field(
        None, description="device name for ffmpeg -f decklink, e.g. 'DeckLink Mini Recorder'"
    )
    ffmpeg_format_code: str | None = Field(None, description="ffmpeg -format_code, e.g. Hp50")
    test_source: bool = Field(False, description="capture test sources instead of the card")
    test_size: str = Field(
        "1280x720", pattern=r"^\d+x\d+$", description="test source picture size",
    )
    test_rate: int = Field(25, gt=0, description="test source frames per second")
    gst_launch: str = Field("gst-launch-1.0", description="the gst-launch-1.0 program")
    gst_inspect: str = Field("gst-inspect-1.0", description="the gst-inspect-1.0 program")
    device_root: Path = Field(Path("/dev/blackmagic"), description="Desktop Video device nodes")
    startup_check: float = Field(1.0, ge=0, description="seconds a start must survive")

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", value):
            raise ValueError("mode is a GStreamer decklink mode nick such as auto or 1080p25")
        return value

    @field_validator("ffmpeg_format_code")
    @classmethod
    def _format_code(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]{1,4}", value):
            raise ValueError("format codes are up to four letters/digits, e.g. Hp50")
        return value

    @model_validator(mode="after")
    def _codecs(self) -> DeckLinkSettings:
        if self.audio and self.audio_codec == "aac" and self.audio_channels != 2:
            raise ValueError("AAC takes 2 channels here; use audio_codec flac (8) or pcm (16)")
        if self.audio and self.audio_codec == "flac" and self.audio_channels > 8:
            raise ValueError("FLAC takes up to 8 channels; use audio_codec pcm for 16")
        if self.audio and self.audio_codec != "aac" and self.container == "mp4":
            raise ValueError("flac/pcm audio needs container mkv")
        return self


# ---------------------------------------------------------------------------
# Argument lists


def _gst_queue() -> list[str]:
    # Generous time-bounded queues: x264's look-ahead holds video back for a
    # while, and the muxer must not starve the audio branch meanwhile.
    return ["queue", "max-size-buffers=0", "max-size-bytes=0", "max-size-time=5000000000"]


def gst_args(s: DeckLinkSettings, output: Path) -> list[str]:
    """``gst-launch-1.0 -e ...`` capturing to ``output`` (argv[0] included)."""
    width, height = s.test_size.split("x")
    if s.test_source:
        caps = f"video/x-raw,width={width},height={height},framerate={s.test_rate}/1"
        video = ["videotestsrc", "is-live=true", "pattern=smpte", "!", caps]
    else:
        video = ["decklinkvideosrc", f"device-number={s.device_number}",
                 f"connection={s.connection}", f"mode={s.mode}"]  # fmt: skip
    mux = "matroskamux" if s.container == "mkv" else "mp4mux"
    argv = [s.gst_launch, "-e", *video, "!", *_gst_queue(), "!", "videoconvert", "!",
            "x264enc", f"bitrate={s.video_bitrate}", f"speed-preset={s.speed_preset}",
            f"key-int-max={s.keyframe_interval}", "!", "h264parse", "!",
            *_gst_queue(), "!", "mux."]  # fmt: skip
    if s.audio:
        if s.test_source:
            audio = ["audiotestsrc", "is-live=true", "wave=sine", "!",
                     f"audio/x-raw,rate=48000,channels={s.audio_channels}"]  # fmt: skip
        else:
            audio = [
                "decklinkaudiosrc",
                f"device-number={s.device_number}",
                f"channels={s.audio_channels}",
                f"connection={s.audio_connection}",
            ]
        encode = {
            "aac": ["voaacenc", f"bitrate={s.audio_bitrate * 1000}"],
            "flac": ["flacenc"],
            "pcm": ["audio/x-raw,format=S16LE"],
        }[s.audio_codec]
        argv += [*audio, "!", *_gst_queue(), "!", "audioconvert", "!", "audioresample", "!",
                 *encode, "!", *_gst_queue(), "!", "mux."]  # fmt: skip
    argv += [mux, "name=mux", "!", "filesink", f"location={output}"]
    return argv


def ffmpeg_args(s: DeckLinkSettings, ffmpeg: str, output: Path) -> list[str]:
    """``ffmpeg -f decklink ...`` capturing to ``output`` (argv[0] included)."""
    argv = [ffmpeg, "-hide_banner", "-y"]
    if s.test_source:
        argv += ["-re", "-f", "lavfi", "-i", f"testsrc2=size={s.test_size}:rate={s.test_rate}"]
        if s.audio:
            argv += ["-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"]
    else:
        if not s.ffmpeg_device:
            raise CaptureError(
                "the ffmpeg backend needs ffmpeg_device (the card's name, see "
                "ffmpeg -f decklink -list_devices 1 -i dummy)",
                permanent=True,
            )
        argv += ["-f", "decklink"]
        if s.ffmpeg_format_code:
            argv += ["-format_code", s.ffmpeg_format_code]
        if s.connection != "auto":
            argv += ["-video_input", _FFMPEG_VIDEO_INPUT[s.connection]]
        if s.audio and s.audio_connection != "auto":
            argv += ["-audio_input", _FFMPEG_AUDIO_INPUT[s.audio_connection]]
        if s.audio:
            argv += ["-channels", str(s.audio_channels)]
        argv += ["-i", s.ffmpeg_device]
    argv += ["-c:v", "libx264", "-preset", s.speed_preset, "-b:v", f"{s.video_bitrate}k",
             "-g", str(s.keyframe_interval), "-pix_fmt", "yuv420p"]  # fmt: skip
    if s.audio:
        codec = {"aac": ["aac", "-b:a", f"{s.audio_bitrate}k"], "flac": ["flac"],
                 "pcm": ["pcm_s16le"]}[s.audio_codec]  # fmt: skip
        argv += ["-c:a", *codec, "-ac", str(s.audio_channels)]
    else:
        argv += ["-an"]
    argv += [str(output)]
    return argv


# ---------------------------------------------------------------------------
# Probing what this machine can do


@dataclass(frozen=True)
class Probe:
    """What the machine offers: the backend to use, or the problem preventing capture."""

    gstreamer: bool
    ffmpeg: bool
    desktop_video: bool
    device: bool
    backend: str | None
    problem: str | None


def _run(argv: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def gstreamer_has_decklink(gst_inspect: str) -> bool:
    result = _run([gst_inspect, "decklinkvideosrc"])
    return result is not None and result.returncode == 0


def ffmpeg_has_decklink(ffmpeg: str) -> bool:
    result = _run([ffmpeg, "-hide_banner", "-devices"])
    if result is None:
        return False
    return re.search(r"^\s*D\S*\s+decklink\b", result.stdout, re.MULTILINE) is not None


def desktop_video_installed() -> bool:
    """The Desktop Video runtime library both backends load at run time."""
    return ctypes.util.find_library("DeckLinkAPI") is not None or any(
        Path(d, "libDeckLinkAPI.so").exists() for d in ("/usr/lib", "/usr/lib64", "/usr/local/lib")
    )


def device_present(root: Path, number: int) -> bool:
    return any((root / f"{prefix}{number}").exists() for prefix in ("io", "dv"))


def probe(s: DeckLinkSettings, ffmpeg: str) -> Probe:
    gst = gstreamer_has_decklink(s.gst_inspect) if s.backend != "ffmpeg" else False
    ff = ffmpeg_has_decklink(ffmpeg) if s.backend != "gstreamer" else False
    dv = desktop_video_installed() and s.device_root.is_dir()
    dev = dv and device_present(s.device_root, s.device_number)
    backend: str | None
    if s.backend == "auto":
        backend = "gstreamer" if gst else "ffmpeg" if ff else None
    else:
        backend = s.backend if (gst if s.backend == "gstreamer" else ff) else None
    problem: str | None = None
    if s.test_source:
        # Test sources need no card, only the tool.
        backend = s.backend if s.backend != "auto" else "gstreamer"
        if backend == "gstreamer" and shutil.which(s.gst_launch) is None:
            problem = f"{s.gst_launch} not found"
    elif backend is None:
        problem = (
            "no DeckLink capture backend: GStreamer's decklink plugin "
            "(gstreamer1.0-plugins-bad) is missing and ffmpeg was built without decklink"
        )
    elif not dv:
        problem = NOT_INSTALLED
    elif not dev:
        problem = f"DeckLink device {s.device_number} not found under {s.device_root}"
    return Probe(gst, ff, dv, dev, backend, problem)


# ---------------------------------------------------------------------------
# The driver


class DeckLinkCapture(CommandCapture):
    """A capture whose progress is the output file growing: gst-launch
    prints nothing while it records, so its stderr says nothing about stalls."""

    def __init__(
        self, ctx: CaptureContext, command: CaptureCommand, timeouts: StopTimeouts
    ) -> None:
        super().__init__(ctx, command, timeouts)
        self._size = -1
        self._grew = time.monotonic()

    def stalled_for(self) -> float:
        path = self.command.outputs[0].path
        size = path.stat().st_size if path.exists() else 0
        if size != self._size:
            self._size, self._grew = size, time.monotonic()
        return time.monotonic() - self._grew


class DeckLinkDriver(CommandDriver):
    """A DeckLink card input (or its live test sources)."""

    Settings: ClassVar[type[DriverSettings]] = DeckLinkSettings
    mimetype: ClassVar[str] = "video/x-matroska"
    probe_ttl: ClassVar[float] = 60.0

    def __init__(self, spec: InputSpec) -> None:
        super().__init__(spec)
        self.settings: DeckLinkSettings = spec.settings
        self._probe: tuple[float, Probe] | None = None
        self._probe_lock = threading.Lock()

    def ffmpeg(self) -> str:
        return find_ffmpeg(self.spec.tools.get("ffmpeg"))

    def probe(self) -> Probe:
        """The machine's capabilities, cached for :attr:`probe_ttl` seconds."""
        with self._probe_lock:
            now = time.monotonic()
            if self._probe is None or now - self._probe[0] > self.probe_ttl:
                self._probe = (now, probe(self.settings, self.ffmpeg()))
            return self._probe[1]

    def output_path(self, ctx: CaptureContext) -> Path:
        return ctx.directory / f"{safe_name(ctx.input.name)}.{self.settings.container}"

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        found = self.probe()
        if found.problem:
            raise CaptureError(f"DeckLink input {ctx.input.name}: {found.problem}", permanent=True)
        s = self.settings
        output = self.output_path(ctx)
        if found.backend == "ffmpeg":
            return CaptureCommand(
                argv=ffmpeg_args(s, self.ffmpeg(), output),
                outputs=[CommandOutput(output, ctx.input.flavor, _MIMETYPES[s.container])],
            )
        return CaptureCommand(
            argv=gst_args(s, output),
            outputs=[CommandOutput(output, ctx.input.flavor, _MIMETYPES[s.container])],
            # No quit key for gst-launch: the supervisor goes straight to
            # SIGINT, which -e turns into an EOS that finalises the file.
            quit_command=None,
        )

    def start(self, ctx: CaptureContext) -> CaptureHandle:
        handle = DeckLinkCapture(ctx, self.command(ctx), self.stop_timeouts())
        handle.begin()
        # A pipeline that cannot reach PLAYING (no card, bad mode) dies within
        # a moment: that is a failed start, not a capture that ended early.
        deadline = time.monotonic() + self.settings.startup_check
        while time.monotonic() < deadline:
            if handle.process.poll() is not None:
                raise CaptureError(f"DeckLink capture failed to start: {handle.poll()}")
            time.sleep(0.05)
        return handle

    def capabilities(self) -> dict[str, str]:
        caps = super().capabilities()
        found = self.probe()
        s = self.settings
        caps.update(
            {
                "backend": found.backend or "none",
                "device": str(s.device_number),
                "connection": s.connection,
                "mode": s.mode,
                "audio.channels": str(s.audio_channels if s.audio else 0),
                "available": "true" if found.problem is None else "false",
            }
        )
        if found.problem:
            caps["problem"] = found.problem
        if s.test_source:
            caps["test_source"] = "true"
        return caps

    def check(self) -> list[CheckResult]:
        with self._probe_lock:
            self._probe = None  # a check is explicit: probe afresh
        found = self.probe()
        s = self.settings
        results = [
            CheckResult(
                "capture backend",
                found.backend is not None,
                found.backend or "neither GStreamer's decklink plugin nor ffmpeg -f decklink",
            )
        ]
        if s.test_source:
            detail = found.problem or "test sources instead of the card"
            results.append(CheckResult("test source", found.problem is None, detail))
            return results
        results.append(
            CheckResult(
                "Desktop Video driver",
                found.desktop_video,
                "installed" if found.desktop_video else NOT_INSTALLED,
            )
        )
        results.append(
            CheckResult(
                f"DeckLink device {s.device_number}",
                found.device,
                str(s.device_root) if found.device else found.problem or "not found",
            )
        )
        return results

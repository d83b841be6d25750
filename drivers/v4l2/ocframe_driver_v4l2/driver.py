"""The ``v4l2`` driver: one ffmpeg capturing a V4L2 node (plus optional audio)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from ocframe import (
    CaptureCommand,
    CaptureContext,
    CaptureError,
    CheckResult,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    InputSpec,
    safe_name,
)
from ocframe import ffmpeg as ff

from .discovery import DeviceNotFound, Roots, VideoNode, query_capture_capability, resolve
from .formats import FormatProber, ProbeResult

# Which camera-side compressed formats each container takes without re-encoding.
COPYABLE = {
    "mkv": {"mjpeg", "h264", "hevc"},
    "mp4": {"h264", "hevc", "mjpeg"},
    "ts": {"h264", "hevc"},
}
VIDEO_MIME = {"mkv": "video/x-matroska", "mp4": "video/mp4", "ts": "video/mp2t"}
AUDIO_FILE = {
    "mkv": ("mka", "audio/x-matroska"),
    "mp4": ("m4a", "audio/mp4"),
    "ts": ("ts", "video/mp2t"),
}


class V4l2Settings(CommandDriverSettings):
    """Settings of a ``driver = "v4l2"`` input."""

    device: str | None = Field(
        None,
        description="Stable path (/dev/v4l/by-id/...) or sysfs name of the camera; "
        "optional only with source_override",
    )
    input_format: str | None = Field(None, description="-input_format: mjpeg, h264, yuyv422...")
    video_size: str | None = Field(None, pattern=r"^\d+x\d+$", description="e.g. 1920x1080")
    framerate: float | None = Field(
        None, gt=0, description="frames per second to ask the device for (ffmpeg -framerate)",
    )
    timestamps: Literal["default", "abs", "mono2abs"] | None = Field(
        None, description="ffmpeg -timestamps for the device; unset: ffmpeg's default",
    )
    video_codec: Literal["copy", "encode"] = Field(
        "encode", description="copy keeps the camera's MJPEG/H.264 when the container takes it"
    )
    encoder: str = Field("libx264", description="ffmpeg video encoder used when encoding")
    encoder_options: dict[str, str] = Field(
        default_factory=lambda: {"preset": "veryfast"}, description="options of that encoder",
    )
    keyframe_interval: float = Field(
        2.0, gt=0, le=60,
        description="seconds between key frames when encoding: where players seek and where"
        " a start launched ahead of the window is cut at upload",
    )
    container: Literal["mkv", "mp4", "ts"] = Field(
        "mkv", description="file format of the recording",
    )
    audio: Literal["none", "alsa", "pulse"] = Field(
        "none", description="where audio comes from: none, an ALSA device or a PulseAudio source",
    )
    audio_device: str = Field("default", description="ALSA hw:1 / PulseAudio source name")
    audio_mode: Literal["mux", "separate"] = Field(
        "mux", description="mux: audio in the video file; separate: its own file and flavor",
    )
    audio_flavor: str | None = Field(
        None, description="flavor of the separate audio track; default <type>-audio/<subtype>"
    )
    audio_codec: str = Field("aac", description="ffmpeg audio encoder")
    source_override: Literal["testsrc"] | None = Field(
        None, description="replace the device by lavfi testsrc2 (and sine audio): no hardware"
    )
    test_audio: Literal["sine", "device"] = Field(
        "sine", description="with source_override: sine tone, or the real audio device"
    )
    test_size: str = Field(
        "1280x720", pattern=r"^\d+x\d+$", description="test source picture size",
    )
    test_rate: int = Field(30, gt=0, description="test source frames per second")
    sysfs_root: Path | None = Field(
        None, description="where sysfs is (tests); unset: $OCFRAME_V4L2_SYSFS_ROOT or /sys",
    )
    dev_root: Path | None = Field(
        None, description="where device nodes are (tests); unset: $OCFRAME_V4L2_DEV_ROOT or /dev",
    )
    probe_timeout: float = Field(
        10.0, description="seconds to wait for the device's format listing",
    )
    probe_cache_seconds: float = Field(60.0, description="seconds a format listing is reused")


class V4l2Driver(CommandDriver):
    Settings: ClassVar[type[V4l2Settings]] = V4l2Settings  # type: ignore[assignment]
    mimetype: ClassVar[str] = "video/x-matroska"

    def __init__(self, spec: InputSpec) -> None:
        super().__init__(spec)
        s: V4l2Settings = self.settings
        if s.device is None and s.source_override is None:
            raise CaptureError(
                "v4l2: set 'device' (or 'source_override' for a test source)", permanent=True
            )
        self.ffmpeg = ff.find_ffmpeg(spec.tools.get("ffmpeg"))
        self.roots = Roots.from_settings(s.sysfs_root, s.dev_root)
        #: Replace with a RecordedProber in tests.
        self.prober: FormatProber = FormatProber(self.ffmpeg, timeout=s.probe_timeout)
        self._cache: tuple[float, VideoNode, ProbeResult] | None = None
        self._lock = threading.Lock()

    # -- device ---------------------------------------------------------------
    def _is_capture(self, node: VideoNode) -> bool:
        asked = query_capture_capability(node.path)
        return asked if asked is not None else self.prober.probe(node.path).capture

    def resolve_device(self) -> VideoNode:
        """The node to capture from; raises :class:`DeviceNotFound`."""
        assert self.settings.device is not None
        return resolve(self.settings.device, self.roots, self._is_capture)

    def probe(self, *, fresh: bool = False) -> tuple[VideoNode, ProbeResult]:
        """Resolved node and its formats, cached so capabilities() stays fast."""
        with self._lock:
            now = time.monotonic()
            if (
                not fresh
                and self._cache
                and now - self._cache[0] < self.settings.probe_cache_seconds
            ):
                return self._cache[1], self._cache[2]
            node = self.resolve_device()
            result = self.prober.probe(node.path)
            self._cache = (now, node, result)
            return node, result

    # -- reporting --------------------------------------------------------------
    def capabilities(self) -> dict[str, str]:
        s: V4l2Settings = self.settings
        caps = super().capabilities()
        if s.source_override:
            caps.update(
                device=f"lavfi:{s.source_override}", formats="rawvideo", resolutions=s.test_size
            )
            return caps
        assert s.device is not None
        caps["device"] = s.device
        try:
            node, result = self.probe()
        except DeviceNotFound as exc:
            caps["status"] = f"missing: {exc}"
            return caps
        caps["node"] = str(node.path)
        caps["name"] = node.name
        caps["formats"] = ",".join(result.format_names)
        caps["resolutions"] = ",".join(result.resolutions())
        if s.audio != "none":
            caps["audio"] = f"{s.audio}:{s.audio_device}"
            if s.audio_mode == "separate":
                caps["audio_flavor"] = self.audio_flavor()
        return caps

    def check(self) -> list[CheckResult]:
        s: V4l2Settings = self.settings
        if s.source_override:
            return [CheckResult("test source", True, f"lavfi {s.source_override} (no device)")]
        try:
            node, result = self.probe(fresh=True)
        except DeviceNotFound as exc:
            return [CheckResult("device present", False, str(exc))]
        checks = [CheckResult("device present", True, f"{node.path} -> {node.describe()}")]
        if not result.capture:
            checks.append(CheckResult("video capture node", False, result.error or ""))
        elif result.formats:
            fmts = ", ".join(result.format_names)
            checks.append(CheckResult("formats readable", True, f"{fmts} via {result.source}"))
            wanted = s.input_format
            if wanted and wanted not in result.format_names:
                checks.append(CheckResult("input_format offered", False, f"{wanted} not in {fmts}"))
        else:
            checks.append(CheckResult("formats readable", False, result.error or ""))
        return checks

    def audio_flavor(self) -> str:
        if self.settings.audio_flavor:
            return self.settings.audio_flavor
        kind, _, sub = self.spec.flavor.partition("/")
        return f"{kind}-audio/{sub or 'source'}"

    # -- capture ------------------------------------------------------------------
    def _video_input(self) -> tuple[Any, bool]:
        """The ffmpeg input node and whether its video may be stream-copied."""
        s: V4l2Settings = self.settings
        if s.source_override:
            source = f"testsrc2=size={s.test_size}:rate={s.test_rate}"
            # lavfi runs as fast as it can; -re paces it like a live camera.
            return ff.input(source, f="lavfi", re=None), False
        try:
            node = self.resolve_device()
        except DeviceNotFound as exc:
            raise CaptureError(f"{self.spec.name}: {exc}", permanent=True) from exc
        opts: dict[str, Any] = {"f": "v4l2"}
        if s.input_format:
            opts["input_format"] = s.input_format
        if s.video_size:
            # ffmpeg-python formats an input's video_size as "{0}x{1}" of
            # whatever it gets, so it must be a (width, height) pair.
            width, _, height = s.video_size.partition("x")
            opts["video_size"] = (width, height)
        if s.framerate:
            opts["framerate"] = f"{s.framerate:g}"
        if s.timestamps:
            opts["timestamps"] = s.timestamps
        copyable = s.input_format in COPYABLE[s.container]
        return ff.input(str(node.path), **opts), copyable

    def _audio_input(self) -> Any | None:
        s: V4l2Settings = self.settings
        if s.audio == "none":
            return None
        if s.source_override and s.test_audio == "sine":
            return ff.input("sine=frequency=440:sample_rate=48000", f="lavfi", re=None)
        return ff.input(s.audio_device, f=s.audio)

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        s: V4l2Settings = self.settings
        video, copyable = self._video_input()
        audio = self._audio_input()
        vopts: dict[str, Any]
        if s.video_codec == "copy" and copyable:
            vopts = {"c:v": "copy"}
        else:
            if s.video_codec == "copy":
                ctx.logger.warning(
                    "%s: %s cannot be stream-copied into %s; encoding with %s",
                    ctx.input.name,
                    s.input_format or "this source",
                    s.container,
                    s.encoder,
                )
            # Key frames by time, whatever the encoder and the camera's rate;
            # x264's default (every 250 frames) left 10 s that could not be cut.
            vopts = {"c:v": s.encoder,
                     "force_key_frames": f"expr:gte(t,n_forced*{s.keyframe_interval:g})",
                     **s.encoder_options}
        base = safe_name(ctx.input.name)
        video_path = ctx.directory / f"{base}.{s.container}"
        outputs = [CommandOutput(video_path, ctx.input.flavor, VIDEO_MIME[s.container])]
        if audio is None:
            graph = ff.output(video["v"], str(video_path), **vopts)
        elif s.audio_mode == "mux":
            graph = ff.output(
                video["v"], audio["a"], str(video_path), **vopts, **{"c:a": s.audio_codec}
            )
        else:
            ext, mime = AUDIO_FILE[s.container]
            audio_path = ctx.directory / f"{base}-audio.{ext}"
            outputs.append(CommandOutput(audio_path, self.audio_flavor(), mime))
            graph = ff.merge_outputs(
                ff.output(video["v"], str(video_path), **vopts),
                ff.output(audio["a"], str(audio_path), **{"c:a": s.audio_codec}),
            )
        graph = graph.global_args("-hide_banner", "-stats_period", "1")
        graph = graph.overwrite_output()
        argv = ff.compile_args(graph, self.ffmpeg)
        return CaptureCommand(argv=argv, outputs=outputs)

"""The ``testsrc`` driver: a real ffmpeg capture of a test pattern and a tone.

It needs no hardware, so the demo, the tests and anyone trying ocframe can
run the whole schedule -> record -> ingest path with real encoded files.
It is also the smallest example of a command-line driver.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ocframe import (
    CaptureCommand,
    CaptureContext,
    CheckResult,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    DriverSettings,
)
from ocframe import ffmpeg as ff

CONTAINERS = {"mkv": "video/x-matroska", "mp4": "video/mp4", "ts": "video/mp2t"}


class TestPatternSettings(CommandDriverSettings):
    pattern: Literal["testsrc2", "testsrc", "smptebars", "smptehdbars", "rgbtestsrc"] = Field(
        "testsrc2", description="the ffmpeg test source",
    )
    width: int = Field(640, ge=16, le=7680, description="picture width in pixels")
    height: int = Field(360, ge=16, le=4320, description="picture height in pixels")
    rate: int = Field(25, ge=1, le=120, description="frames per second")
    audio: bool = Field(True, description="record a sine tone too")
    tone: int = Field(440, ge=20, le=20000, description="frequency of the tone, Hz")
    container: Literal["mkv", "mp4", "ts"] = Field(
        "mkv", description="file format of the recording",
    )
    preset: str = Field("ultrafast", description="x264 preset")
    file_name: str = Field(
        "testsrc",
        description="base name of the produced file; the extension follows the "
                    "container",
    )


class TestPatternDriver(CommandDriver):
    """Records ``ffmpeg -re -f lavfi`` test sources in real time."""

    Settings: ClassVar[type[DriverSettings]] = TestPatternSettings

    def capabilities(self) -> dict[str, str]:
        s = self.settings
        return {
            **super().capabilities(),
            "src": f"lavfi:{s.pattern}",
            "resolution": f"{s.width}x{s.height}",
            "framerate": str(s.rate),
            "audio": "yes" if s.audio else "no",
        }

    def check(self) -> list[CheckResult]:
        ffmpeg = self.spec.tools.get("ffmpeg", "")
        return [CheckResult("ffmpeg", bool(ffmpeg), ffmpeg or "not found")]

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        s = self.settings
        ffmpeg = self.spec.tools.get("ffmpeg") or ff.find_ffmpeg()
        target = ctx.directory / f"{s.file_name}.{s.container}"
        video = ff.input(f"{s.pattern}=size={s.width}x{s.height}:rate={s.rate}",
                         f="lavfi", re=None)
        streams = [video]
        if s.audio:
            streams.append(ff.input(f"sine=frequency={s.tone}:sample_rate=48000",
                                    f="lavfi", re=None))
        out_opts = {"c:v": "libx264", "preset": s.preset, "pix_fmt": "yuv420p",
                    "g": str(s.rate * 2)}
        if s.audio:
            out_opts.update({"c:a": "aac", "b:a": "96k"})
        if s.container == "mp4":
            out_opts["movflags"] = "+faststart"
        else:
            # Write as we go: after a crash or power cut the file holds all but
            # the last second, instead of nothing.
            out_opts["flush_packets"] = "1"
        if s.container == "mkv":
            out_opts["cluster_time_limit"] = "1000"
        stream = ff.output(*streams, str(target), **out_opts)
        argv = ff.compile_args(stream, ffmpeg)
        # -nostats off: progress lines on stderr are how a stall is noticed.
        argv[1:1] = ["-hide_banner", "-y", "-loglevel", "error", "-stats"]
        return CaptureCommand(
            argv=argv,
            outputs=[CommandOutput(target, ctx.input.flavor, CONTAINERS[s.container])],
        )

"""A complete command-line driver in a few lines: "record the screen".

There is no screen on a test machine, so it records ffmpeg's ``mandelbrot``
source instead; swap the input for ``-f x11grab -i :0.0`` on a real desktop.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ocframe import (
    CaptureCommand,
    CaptureContext,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    DriverSettings,
)


class ScreenSettings(CommandDriverSettings):
    size: str = Field("320x180", description="picture size, WIDTHxHEIGHT")
    rate: int = Field(10, description="frames per second")


class ScreenDriver(CommandDriver):
    Settings: ClassVar[type[DriverSettings]] = ScreenSettings

    def capabilities(self) -> dict[str, str]:
        return {**super().capabilities(), "type": "screen", "resolution": self.settings.size}

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        target = ctx.directory / "screen.mkv"
        ffmpeg = ctx.input.tools["ffmpeg"]
        s = self.settings
        argv = [ffmpeg, "-hide_banner", "-y", "-loglevel", "error", "-stats",
                "-re", "-f", "lavfi", "-i", f"mandelbrot=size={s.size}:rate={s.rate}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(target)]
        return CaptureCommand(argv, [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])

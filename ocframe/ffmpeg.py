"""Finding ffmpeg and building its command lines (public plugin API).

ffmpeg-python (unmaintained since 2019) only builds argument lists here and
is kept behind this module so it can be replaced without touching drivers.
What a driver may rely on: :func:`input`, :func:`output` and
:func:`merge_outputs` take ffmpeg-python's arguments and return a graph that
supports stream selection (``node["v"]``) and ``.overwrite_output()``; the
graph's type is not part of the API, only :func:`compile_args` reads it.
Supervision of the running process is the kernel's (:class:`ocframe.CommandDriver`).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Any

import ffmpeg as ffmpeg_python


@functools.cache
def find_ffmpeg(configured: str | None = None) -> str:
    """The ffmpeg to use: the configured one, the system's, or the binary
    bundled with imageio-ffmpeg (so the demo needs no root)."""
    if configured:
        return configured
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.cache
def find_ffprobe(configured: str | None = None) -> str | None:
    """ffprobe if installed (imageio-ffmpeg bundles none)."""
    return configured or shutil.which("ffprobe")


def compile_args(stream: Any, ffmpeg_path: str) -> list[str]:
    """The argument list for an ffmpeg-python stream graph (``argv[0]`` included)."""
    return list(ffmpeg_python.compile(stream, cmd=ffmpeg_path))


@functools.cache
def ffmpeg_help(ffmpeg_path: str, topic: str) -> str:
    """``ffmpeg -h <topic>`` (e.g. ``demuxer=rtsp``) to pick option names the
    installed build knows; empty on failure."""
    try:
        result = subprocess.run(
            [ffmpeg_path, "-hide_banner", "-h", topic],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout + result.stderr


# Re-exported so drivers build graphs without importing the third-party name.
input = ffmpeg_python.input
output = ffmpeg_python.output
merge_outputs = ffmpeg_python.merge_outputs

__all__ = [
    "compile_args",
    "ffmpeg_help",
    "find_ffmpeg",
    "find_ffprobe",
    "input",
    "merge_outputs",
    "output",
]

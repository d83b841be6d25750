"""Real media files for emulated recordings, made by ffmpeg from test sources.

The files are real (an MP4 with H.264 video and AAC audio) so that whatever
consumes them downstream (ingest, probing, Opencast) sees what a Pearl
would produce, only smaller.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ocframe.ffmpeg import find_ffmpeg


def generate_recording(
    path: Path,
    duration: float,
    *,
    video_size: str = "320x240",
    rate: int = 10,
    ffmpeg: str | None = None,
    timeout: float = 120.0,
) -> None:
    """Write ``duration`` seconds of test pattern and tone to ``path`` (MP4)."""
    duration = max(duration, 0.2)
    argv = [
        find_ffmpeg(ffmpeg),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={video_size}:rate={rate}",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        f"{duration:.3f}",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-f",
        "mp4",
        str(path),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {result.stderr.strip()[-500:]}")

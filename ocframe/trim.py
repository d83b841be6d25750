"""Trimming what an input captured before its recording's window.

Inputs are launched ahead of the window (:mod:`ocframe.launches`) so that
their media is flowing when it starts; at upload, each such segment loses
what lies before the window. The cut is a stream copy (no re-encoding, no
quality lost, seconds of work for an hour): ffmpeg keeps the packets from
the key frame at or before the cut, so a track starts at the window or up
to one key-frame interval before it, never after.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

from .model import Track

log = logging.getLogger("ocframe.trim")

#: Less than this before the window is not worth a pass over the file.
MIN_TRIM = 0.25


def trim_start(track: Track, seconds: float, workdir: Path, ffmpeg: str) -> Track:
    """``track`` without about its first ``seconds``, written into ``workdir``;
    the track itself if it is no audio or video or if ffmpeg fails (the
    lecture is then ingested with its early start rather than not at all)."""
    if seconds < MIN_TRIM or not track.mimetype.startswith(("video/", "audio/")):
        return track
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / f"{track.path.parent.name}-{track.path.stem}-from-window{track.path.suffix}"
    if track.input:
        target = target.with_name(f"{track.input}-{target.name}")
    tmp = target.with_name(f".trimming-{target.name}")
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
           "-ss", f"{seconds:.3f}", "-i", str(track.path),
           "-map", "0", "-c", "copy", "-avoid_negative_ts", "make_zero", str(tmp)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("trimming %s failed (%s); ingesting it with its early start",
                    track.path.name, exc)
        tmp.unlink(missing_ok=True)
        return track
    if result.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        last = result.stderr.strip().splitlines()[-1:] or ["no output"]
        log.warning("trimming %s failed (ffmpeg %d: %s); ingesting it with its early start",
                    track.path.name, result.returncode, last[0])
        tmp.unlink(missing_ok=True)
        return track
    tmp.replace(target)
    return Track(target, track.flavor, track.mimetype, track.tags, track.input, track.segment)

"""Confidence preview: a still and an audio level from a running capture.

An operator wants to see that the camera shows the lecture and the
microphone hears it, without touching the recording. A driver whose capture
is one ffmpeg process adds :func:`preview_args` to its command: a second and
third output that rewrite one small JPEG every few seconds (``-update 1``,
written atomically so a reader never sees half a file) and print the RMS
level of each half second of audio to a small text file (``astats`` +
``ametadata``). The still lags by one interval (ffmpeg encodes a frame when
the next arrives); the recording itself is written as without a preview.
Needs ffmpeg 5.1 or newer (``-fps_mode``). Drivers make it opt-in
(``preview_interval``): ffmpeg's own progress line (``time=``) then reads up
to two intervals ahead, the preview output's time stamps.
:class:`PreviewFiles` reads them back; the driver's
:meth:`ocframe.driver.CaptureHandle.preview` returns that :class:`Preview`.

The outputs share the capture's decoded streams, so the cost is one scaled
frame every ``interval`` seconds and an audio statistic; the level file grows
by about 0.5 MB per hour and lives in the segment directory, which is never
ingested (only declared outputs are).

Public API (docs/plugin-api.md).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

IMAGE_NAME = "preview.jpg"
LEVELS_NAME = "audio-levels.txt"
#: A level older than this is stale (the capture stalled or ended).
STALE_AFTER = 10.0

_LEVEL = re.compile(rb"RMS_level=(-?(?:inf|[0-9.]+))")


@dataclass(frozen=True)
class Preview:
    """The latest confidence preview of one input."""

    #: The latest still (JPEG), rewritten in place; None if none yet.
    image: Path | None
    #: When the still was written (epoch seconds).
    image_time: float | None
    #: RMS level of the last half second of audio in dBFS (``-inf`` is
    #: silence); None if the input has no audio or none was measured yet.
    audio_level_db: float | None
    #: When the level was measured (epoch seconds).
    audio_time: float | None


@dataclass(frozen=True)
class PreviewFiles:
    """Where a capture writes its preview: read with :meth:`read`."""

    image: Path | None
    levels: Path | None

    def read(self) -> Preview:
        image_time = _mtime(self.image)
        level, level_time = None, None
        if self.levels is not None and (level_time := _mtime(self.levels)) is not None:
            level = _last_level(self.levels)
            if level is None:
                level_time = None
        return Preview(self.image if image_time is not None else None, image_time, level,
                       level_time)


def preview_args(directory: Path, *, video: str | None, audio: str | None,
                 interval: float = 2.0, width: int = 320) -> tuple[list[str], PreviewFiles]:
    """ffmpeg arguments to append after a capture's own output, and the files
    they write into ``directory``.

    ``video`` and ``audio`` are ffmpeg stream specifiers of the capture's
    inputs (``"0:v"``, ``"1:a"``); None leaves that part out.
    """
    argv: list[str] = []
    image = levels = None
    if video is not None:
        image = directory / IMAGE_NAME
        # ffmpeg feeds its outputs in step: an output that drops frames (one
        # still every few seconds) holds every other output back, and an
        # encoder emits a frame only when the next one comes. So: the first
        # two frames at once (the recording's file starts without delay), then
        # one per interval, time-stamped two intervals ahead (never the laggard).
        select = (f"select='lt(n\\,2)+gte(t-prev_selected_t\\,{interval:g})',"
                  f"setpts=PTS+{2 * interval:g}/TB,scale={width}:-2")
        argv += ["-map", video, "-vf", select, "-fps_mode", "vfr",
                 "-q:v", "6", "-f", "image2", "-update", "1", "-atomic_writing", "1",
                 str(image)]
    if audio is not None:
        levels = directory / LEVELS_NAME
        # Half-second windows: a meter that moves, a file that grows slowly.
        graph = ("asetnsamples=n=24000:p=0,astats=metadata=1:reset=1,"
                 "ametadata=mode=print:key=lavfi.astats.Overall.RMS_level"
                 f":direct=1:file={_filter_escape(str(levels))}")
        argv += ["-map", audio, "-af", graph, "-f", "null", "-"]
    return argv, PreviewFiles(image, levels)


def _filter_escape(text: str) -> str:
    """A value inside an ffmpeg filter graph, escaped first for the filter's
    option parser, then for the graph parser (paths may hold ``:`` or ``,``)."""
    for special in ("\\", "'", ":"):
        text = text.replace(special, "\\" + special)
    for special in ("\\", "'", "[", "]", ",", ";"):
        text = text.replace(special, "\\" + special)
    return text


def _mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _last_level(path: Path) -> float | None:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 512))
            tail = handle.read()
    except OSError:
        return None
    found = _LEVEL.findall(tail)
    if not found:
        return None
    return float(found[-1])


def fresh(preview: Preview, now: float | None = None) -> bool:
    """The preview was updated within :data:`STALE_AFTER` seconds."""
    now = time.time() if now is None else now
    times = [t for t in (preview.image_time, preview.audio_time) if t is not None]
    return bool(times) and now - max(times) <= STALE_AFTER


__all__ = ["Preview", "PreviewFiles", "fresh", "preview_args"]

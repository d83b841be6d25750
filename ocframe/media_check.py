"""Checking captured media before it is reported as a recording.

Every audio/video track is read once, packet by packet, by ffmpeg (stream
copy into the null muxer: no decoding, a 30 s lecture takes tens of
milliseconds, a two-hour one a few seconds). ffmpeg rather than ffprobe
because ffmpeg is always there (the kernel needs it; imageio-ffmpeg bundles
no ffprobe) and because reading every packet is what finds a cut file: a
container's header states the duration it was *meant* to have.

A track is

- **unusable** when it cannot be opened, has none of the streams its mime
  type promises (``video/*`` needs video, ``audio/*`` audio) or holds no
  frames (the 705-byte Matroska header a killed writer leaves): it is
  dropped from its segment, with a warning;
- **repaired** when it is readable but damaged (ffmpeg reports it ended
  prematurely, as a writer killed before its last buffer reached the disk
  leaves it): its packets are copied losslessly into a well-formed sibling
  file (``NAME.repaired.EXT``) that is ingested instead; the original stays;
- **short** when its media covers clearly less than the wall-clock time from
  its capture's start to its stop (see :data:`SHORT_SECONDS`,
  :data:`SHORT_FRACTION`): kept, and said in the recording's history. Not
  judged for a capture an earlier process ran (recovered after a crash).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .model import Track
from .process import relevant_lines

log = logging.getLogger("ocframe.media_check")

#: A track is "short" when its media lacks more than this many seconds ...
SHORT_SECONDS = 5.0
#: ... and more than this fraction of the time its segment ran (a capture
#: spends its first moments connecting, so some shortfall is normal).
SHORT_FRACTION = 0.1
#: The longest one probe or repair may take (a multi-hour file on a slow disk).
PROBE_TIMEOUT = 900.0

# Probes run when recordings end, and on the hour many end together: at most
# one ffmpeg per core, so the captures starting in that second keep theirs.
_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

_STREAM = re.compile(
    r"^\s*Stream #0:\d+\S*: (Video|Audio|Subtitle|Data|Attachment): (\S+?),?(\s|$)")
_DAMAGE = re.compile(
    r"ended prematurely|truncat|invalid data found|moov atom not found|"
    r"ebml header parsing failed|partial file|error while reading",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MediaProbe:
    """What reading every packet of one file found."""

    path: Path
    size: int
    #: Kinds of the streams the container declares: ``("video", "audio")``.
    streams: tuple[str, ...] = ()
    codecs: tuple[str, ...] = ()
    #: Seconds of media actually read (last packet time), None if none.
    duration: float | None = None
    #: Video frames read (0 for audio-only files).
    frames: int = 0
    #: ffmpeg's lines about damage (``File ended prematurely``).
    damage: tuple[str, ...] = ()
    #: Why the file could not be read at all.
    error: str | None = None

    @property
    def has_media(self) -> bool:
        return self.error is None and (self.frames > 0 or (self.duration or 0.0) > 0.0)


def probe(path: Path, ffmpeg: str) -> MediaProbe:
    """Read ``path`` through ffmpeg's demuxer and report what was in it."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return MediaProbe(path, 0, error="the file is empty or missing")
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "info", "-i", str(path),
           "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "null",
           "-progress", "pipe:1", "-nostats", "-"]
    try:
        with _SLOTS:
            done = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return MediaProbe(path, size, error=f"cannot be read: {exc}")
    return _parse(path, size, done.returncode, done.stdout, done.stderr)


def _parse(path: Path, size: int, returncode: int, progress: str, stderr: str) -> MediaProbe:
    streams: list[str] = []
    codecs: list[str] = []
    damage: list[str] = []
    in_input = False
    for line in stderr.splitlines():
        if line.startswith("Input #0"):
            in_input = True
            continue
        if line.startswith(("Output #", "Stream mapping:")):
            in_input = False
        m = _STREAM.match(line)
        if in_input and m:
            streams.append(m.group(1).lower())
            codecs.append(m.group(2))
        elif _DAMAGE.search(line):
            damage.append(line.strip())
    values: dict[str, str] = {}
    for line in progress.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    frames = _int(values.get("frame"))
    duration = _seconds(values)
    error: str | None = None
    why = relevant_lines(stderr.splitlines(), limit=2)
    said = f" (ffmpeg: {' | '.join(why)})" if why else ""
    if not streams:
        error = f"no readable media in its {size} bytes{said}"
    elif returncode != 0 and not (frames or duration):
        error = f"unreadable, ffmpeg exited with {returncode}{said}"
    return MediaProbe(path, size, tuple(streams), tuple(codecs), duration, frames,
                      tuple(damage), error)


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _seconds(values: dict[str, str]) -> float | None:
    # out_time_us since ffmpeg 4.4; before that out_time_ms held microseconds too.
    for key in ("out_time_us", "out_time_ms"):
        raw = values.get(key, "")
        if raw.lstrip("-").isdigit():
            us = int(raw)
            return us / 1_000_000 if us > 0 else None
    return None


def repair(track_path: Path, ffmpeg: str) -> Path | None:
    """Copy the readable packets of a damaged file into a well-formed sibling
    (``NAME.repaired.EXT``), without re-encoding; None if that failed."""
    target = track_path.with_name(f"{track_path.stem}.repaired{track_path.suffix}")
    tmp = track_path.with_name(f"{track_path.stem}.repairing{track_path.suffix}")
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(track_path),
           "-map", "0:v?", "-map", "0:a?", "-c", "copy", str(tmp)]
    try:
        with _SLOTS:
            done = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                  timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("repairing %s failed: %s", track_path, exc)
        tmp.unlink(missing_ok=True)
        return None
    if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        log.warning("repairing %s failed (ffmpeg %d): %s", track_path, done.returncode,
                    done.stderr.strip().splitlines()[-1:])
        tmp.unlink(missing_ok=True)
        return None
    tmp.replace(target)
    return target


def expected_kinds(mimetype: str) -> set[str]:
    """Stream kinds a file of this mime type must have."""
    top = mimetype.split("/", 1)[0]
    return {top} if top in ("video", "audio") else set()


def is_media(track: Track) -> bool:
    return bool(expected_kinds(track.mimetype))


@dataclass
class SegmentCheck:
    """The outcome for the tracks of one segment."""

    kept: list[Track] = field(default_factory=list)
    #: One line per dropped, repaired or short track, for the history.
    notes: list[str] = field(default_factory=list)
    dropped: int = 0
    changed: bool = False


def check_segment(tracks: Sequence[Track], captured_seconds: float | None,
                  ffmpeg: str, *, label: str) -> SegmentCheck:
    """Probe each media track of one segment; drop, repair or flag it.

    ``captured_seconds`` is how long its capture ran, start to stop (None:
    unknown, not judged);
    ``label`` names the segment in notes (``camera #1``).
    """
    out = SegmentCheck()
    for track in tracks:
        if not is_media(track):
            out.kept.append(track)
            continue
        found = probe(track.path, ffmpeg)
        missing = expected_kinds(track.mimetype) - set(found.streams)
        name = track.path.name
        if found.error or missing or not found.has_media:
            why = (found.error or (f"no {'/'.join(sorted(missing))} stream" if missing else
                   f"no frames ({found.size} bytes)"))
            out.notes.append(f"{label}: {name} dropped: {why}")
            out.dropped += 1
            out.changed = True
            log.warning("%s: %s is not usable media and is not ingested: %s", label, name, why)
            continue
        if found.damage:
            fixed = repair(track.path, ffmpeg)
            again = probe(fixed, ffmpeg) if fixed else None
            if fixed and again and again.has_media and not again.damage:
                out.notes.append(f"{label}: {name} was cut off ({found.damage[0]});"
                                 f" its {_fmt(again.duration)} of media were kept in {fixed.name}")
                log.warning("%s: %s was cut off (%s); ingesting %s (%s)", label, name,
                            found.damage[0], fixed.name, _fmt(again.duration))
                track, found = replace(track, path=fixed), again
                out.changed = True
            else:
                out.notes.append(f"{label}: {name} is damaged ({found.damage[0]})"
                                 " and could not be repaired; ingested as it is")
        if captured_seconds and found.duration is not None:
            lacking = captured_seconds - found.duration
            if lacking > max(SHORT_SECONDS, SHORT_FRACTION * captured_seconds):
                out.notes.append(f"{label}: {track.path.name} holds {_fmt(found.duration)}"
                                 f" of media for {_fmt(captured_seconds)} captured")
        out.kept.append(track)
    return out


def _fmt(seconds: float | None) -> str:
    return "no" if seconds is None else f"{seconds:.1f} s"

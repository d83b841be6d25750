"""Inspecting produced media in tests: what ffprobe says about a file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ..ffmpeg import find_ffmpeg


def probe(path: str | Path) -> dict[str, Any]:
    """ffprobe's JSON for ``path``: ``format.duration`` and each stream's
    ``codec_type``/``codec_name``. Raises RuntimeError without ffprobe."""
    exe = shutil.which("ffprobe")
    if exe is None:
        raise RuntimeError("ffprobe is not installed (Debian: apt-get install ffmpeg)")
    out = subprocess.run(
        [exe, "-v", "error", "-show_entries", "format=duration:stream=codec_type,codec_name",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def duration(path: str | Path) -> float:
    """The media duration in seconds."""
    return float(probe(path)["format"]["duration"])


def stream_kinds(path: str | Path) -> set[str]:
    """``{"video", "audio"}`` and the like."""
    return {s.get("codec_type", "") for s in probe(path).get("streams", [])}


_INPUT_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (Video|Audio|Subtitle|Data|Attachment):",
                           re.MULTILINE)


def decode(path: str | Path, *, timeout: float = 120.0) -> set[str]:
    """Decode every stream of ``path`` to nowhere with ffmpeg (the system's
    or the bundled one, so no ffprobe is needed) and return its stream kinds
    (``{"video", "audio"}``). Raises AssertionError with ffmpeg's own words if
    the file cannot be read or a packet cannot be decoded: a stronger test of
    "playable" than reading the header."""
    ffmpeg = find_ffmpeg()
    done = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "info", "-xerror",
         "-i", str(path), "-map", "0", "-f", "null", "-"],
        capture_output=True, text=True, errors="replace", timeout=timeout,
    )
    header = done.stderr.split("\nOutput #", 1)[0]
    kinds = {m.lower() for m in _INPUT_STREAM.findall(header)}
    if done.returncode != 0 or not kinds:
        last = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise AssertionError(f"{path}: not playable (ffmpeg exit {done.returncode}): {last}")
    return kinds

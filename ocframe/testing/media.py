"""Inspecting produced media in tests: what ffprobe says about a file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any


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

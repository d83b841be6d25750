"""Joining the segments of an input into one track.

A recording restarted after a drop-out or a crash has several segments per
input. They are joined losslessly with ffmpeg's concat demuxer (stream
copy). If joining fails (segments with different codecs or sizes), the
segments are ingested as separate tracks of the same flavor, tagged
``part-N``, and the reason is logged: the media is never dropped.
"""

from __future__ import annotations

import logging
import subprocess
from collections import defaultdict
from pathlib import Path

from .model import Track

log = logging.getLogger("ocframe.segments")


def join_tracks(tracks: list[Track], workdir: Path, ffmpeg: str) -> list[Track]:
    """One track per (input, flavor), joined where there were several segments."""
    groups: dict[tuple[str, str], list[Track]] = defaultdict(list)
    for t in tracks:
        groups[(t.input, t.flavor)].append(t)
    out: list[Track] = []
    for (input_name, flavor), group in groups.items():
        group.sort(key=lambda t: t.segment)
        if len(group) == 1:
            out.append(group[0])
            continue
        joined = workdir / f"{input_name}-{flavor.replace('/', '-')}{group[0].path.suffix}"
        if _concat([t.path for t in group], joined, ffmpeg, workdir):
            out.append(Track(joined, flavor, group[0].mimetype, group[0].tags, input_name, 0))
        else:
            for i, t in enumerate(group):
                out.append(Track(t.path, flavor, t.mimetype, (*t.tags, f"part-{i + 1}"),
                                 input_name, t.segment))
    return out


def _concat(paths: list[Path], target: Path, ffmpeg: str, workdir: Path) -> bool:
    workdir.mkdir(parents=True, exist_ok=True)
    listing = workdir / f"{target.stem}.concat.txt"
    # Paths are ours (recording directories), but quote them as the format asks.
    listing.write_text(
        "ffconcat version 1.0\n"
        + "".join("file '{}'\n".format(str(p).replace("'", r"'\''")) for p in paths)
    )
    tmp = target.with_suffix(".joining" + target.suffix)
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-f", "concat", "-safe", "0",
           "-i", str(listing), "-map", "0", "-c", "copy", str(tmp)]
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("joining %s failed: %s", target.name, exc)
        return False
    if result.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        log.warning("joining %s failed (ffmpeg %d): %s; ingesting the segments separately",
                    target.name, result.returncode, result.stderr.strip().splitlines()[-1:])
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(target)
    return True

"""The confidence preview helper with a real ffmpeg (ocframe.preview)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

from ocframe.ffmpeg import find_ffmpeg
from ocframe.preview import Preview, PreviewFiles, fresh, preview_args


def test_preview_outputs_land_in_a_directory_with_filter_graph_characters(
    tmp_path: Path
) -> None:
    # Characters ffmpeg's filter graph and option parsers treat specially.
    directory = tmp_path / "room:1, lecture's [A];x"
    directory.mkdir()
    extra, files = preview_args(directory, video="0:v", audio="1:a", interval=0.5)
    argv = [find_ffmpeg(), "-hide_banner", "-loglevel", "error",
            "-t", "2", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10",
            "-t", "2", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
            "-map", "0:v", "-map", "1:a", "-f", "null", "-", *extra]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    preview = files.read()
    assert preview.image == directory / "preview.jpg"
    assert preview.image.read_bytes()[:2] == b"\xff\xd8"
    assert preview.audio_level_db is not None and -24 < preview.audio_level_db < -18
    assert fresh(preview)
    assert sorted(p.name for p in directory.iterdir()) == ["audio-levels.txt", "preview.jpg"]


def test_silence_and_missing_files(tmp_path: Path) -> None:
    levels = tmp_path / "audio-levels.txt"
    assert PreviewFiles(tmp_path / "none.jpg", levels).read() == Preview(None, None, None, None)
    levels.write_text("frame:0 pts:0 pts_time:0\nlavfi.astats.Overall.RMS_level=-inf\n")
    preview = PreviewFiles(None, levels).read()
    assert preview.audio_level_db is not None and math.isinf(preview.audio_level_db)
    assert not fresh(Preview(None, None, None, None))

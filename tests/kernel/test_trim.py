"""Trimming what was captured before the window: a stream copy from the key
frame at or before the cut (never after it), and the media kept whole when
ffmpeg cannot cut."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ocframe.ffmpeg import find_ffmpeg
from ocframe.model import Track
from ocframe.testing.media import duration
from ocframe.trim import MIN_TRIM, trim_start

FFMPEG = find_ffmpeg()


@pytest.fixture(scope="module")
def six_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of 10 fps video with a key frame every second, and audio."""
    path = tmp_path_factory.mktemp("trim") / "segment-000" / "presenter.mkv"
    path.parent.mkdir()
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc=size=160x90:rate=10:duration=6",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=6",
                    "-c:v", "libx264", "-g", "10", "-preset", "ultrafast",
                    "-c:a", "aac", str(path)], check=True, timeout=60)
    return path


def test_the_cut_starts_at_the_key_frame_at_or_before_the_window(
        six_seconds: Path, tmp_path: Path) -> None:
    track = Track(six_seconds, "presenter/source", "video/x-matroska", ("archive",),
                  "presenter", 0)
    trimmed = trim_start(track, 2.5, tmp_path, FFMPEG)
    assert trimmed.path != track.path and trimmed.path.parent == tmp_path
    assert (trimmed.flavor, trimmed.tags, trimmed.input) == (
        "presenter/source", ("archive",), "presenter")
    # The key frame at 2.0 s: 4 s left, never less than the 3.5 s after the cut.
    assert 3.5 <= duration(trimmed.path) <= 4.2, duration(trimmed.path)
    assert six_seconds.exists() and duration(six_seconds) >= 5.9  # the original is kept


def test_nothing_worth_cutting_and_non_media_are_left_alone(
        six_seconds: Path, tmp_path: Path) -> None:
    track = Track(six_seconds, "presenter/source", "video/x-matroska")
    assert trim_start(track, MIN_TRIM / 2, tmp_path, FFMPEG) is track
    notes = tmp_path / "notes.txt"
    notes.write_text("slides")
    text = Track(notes, "text/notes", "text/plain")
    assert trim_start(text, 3.0, tmp_path, FFMPEG) is text


def test_a_file_ffmpeg_cannot_cut_is_kept_whole(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken.mkv"
    broken.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 700)  # a header, no frames
    track = Track(broken, "presenter/source", "video/x-matroska")
    assert trim_start(track, 2.0, tmp_path / "out", FFMPEG) is track
    assert "ingesting it with its early start" in caplog.text
    assert not list((tmp_path / "out").glob("*.mkv"))

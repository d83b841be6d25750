"""Fixtures: the fixture tree and tool outputs recorded from real devices."""

from __future__ import annotations

from pathlib import Path

import pytest
from ocframe_driver_v4l2 import RecordedProber
from ocframe_driver_v4l2.testing import Tree, build_tree

RECORDED = Path(__file__).parent / "recorded"


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return build_tree(tmp_path)


@pytest.fixture
def prober() -> RecordedProber:
    return RecordedProber(
        ffmpeg_outputs={
            "video0": (RECORDED / "ffmpeg-c920-video0.txt").read_text(),
            "video1": (RECORDED / "ffmpeg-c920-video1-metadata.txt").read_text(),
        },
        v4l2_ctl_outputs={"video2": (RECORDED / "v4l2-ctl-camlink-video2.txt").read_text()},
    )

"""Test helpers for the v4l2 driver, public so integrators' tests can use them:
a sysfs + /dev fixture tree (a UVC camera with its metadata node and a
capture card), capture contexts, and waits on ffmpeg progress."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocframe import CaptureContext, Driver, InputSpec
from ocframe.testing.drivers import capture_context, wait_media_time  # noqa: F401
from ocframe.testing.media import probe

from ..driver import V4l2Driver
from ..formats import FormatProber

CAMERA = "HD Pro Webcam C920"
CARD = "Cam Link 4K: Cam Link 4K"
BY_ID = "/dev/v4l/by-id/usb-046d_HD_Pro_Webcam_C920_6A3FE10F-video-index0"
BY_PATH = "/dev/v4l/by-path/pci-0000:00:14.0-usb-0:2:1.0-video-index0"


@dataclass
class Tree:
    sysfs: Path
    dev: Path


def build_tree(root: Path) -> Tree:
    """Write the fixture tree under ``root`` (``root/sys``, ``root/dev``)."""
    sysfs, dev = root / "sys", root / "dev"
    for node, name, index in (
        ("video0", CAMERA, 0),
        ("video1", CAMERA, 1),
        ("video2", CARD, 0),
    ):
        d = sysfs / "class" / "video4linux" / node
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "index").write_text(f"{index}\n")
        (dev / node).parent.mkdir(parents=True, exist_ok=True)
        (dev / node).write_bytes(b"")  # stands in for the character device
    by_id = dev / "v4l" / "by-id"
    by_path = dev / "v4l" / "by-path"
    by_id.mkdir(parents=True)
    by_path.mkdir(parents=True)
    (by_id / Path(BY_ID).name).symlink_to("../../video0")
    (by_id / Path(BY_ID).name.replace("index0", "index1")).symlink_to("../../video1")
    (by_id / "usb-Elgato_Cam_Link_4K_0005A1B2-video-index0").symlink_to("../../video2")
    (by_path / Path(BY_PATH).name).symlink_to("../../video0")
    return Tree(sysfs, dev)


def make_driver(
    name: str = "presenter",
    flavor: str = "presenter/source",
    prober: FormatProber | None = None,
    **settings: object,
) -> V4l2Driver:
    spec = InputSpec(
        name=name,
        agent="room-101",
        driver="v4l2",
        flavor=flavor,
        settings=V4l2Driver.Settings(**settings),
    )
    driver = V4l2Driver(spec)
    if prober is not None:
        driver.prober = prober
    return driver


def make_ctx(
    driver: Driver, directory: Path, seconds: float = 5.0, segment: int = 0
) -> CaptureContext:
    return capture_context(driver, directory, seconds=seconds, segment=segment, title="t",
                           uid="ev-1")





def ffprobe(path: Path) -> dict[str, Any]:
    """Streams and duration of a media file, as ffprobe's JSON."""
    return probe(path)

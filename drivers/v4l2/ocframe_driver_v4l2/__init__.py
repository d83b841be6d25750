"""ocframe driver for V4L2 cameras and capture cards, captured with ffmpeg."""

from .discovery import DeviceNotFound, Roots, VideoNode, discover
from .driver import V4l2Driver, V4l2Settings
from .formats import (
    FormatProber,
    ProbeResult,
    RecordedProber,
    VideoFormat,
    parse_ffmpeg_list_formats,
    parse_v4l2_ctl_formats,
)

__all__ = [
    "DeviceNotFound",
    "FormatProber",
    "ProbeResult",
    "RecordedProber",
    "Roots",
    "V4l2Driver",
    "V4l2Settings",
    "VideoFormat",
    "VideoNode",
    "discover",
    "parse_ffmpeg_list_formats",
    "parse_v4l2_ctl_formats",
]

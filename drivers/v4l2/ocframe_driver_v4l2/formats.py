"""What a V4L2 device can deliver, read from the tools that ask it.

Two sources, both plain text: ``ffmpeg -f v4l2 -list_formats all -i DEV``
(always available where we capture) and ``v4l2-ctl --list-formats-ext``
(richer, optional). Parsing is kept apart from running the tools so recorded
outputs can be tested without a camera.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

#: ffmpeg's message for a node that is not a video capture node (the
#: metadata node UVC cameras expose next to the real one).
NOT_CAPTURE = "Not a video capture device"

_FFMPEG_LINE = re.compile(
    r"(?P<kind>Raw|Compressed)\s*:\s*(?P<name>\S+)\s*:\s*(?P<desc>.*?)\s*:\s*(?P<sizes>.*)$"
)
_SIZE = re.compile(r"\b(\d+)x(\d+)\b")

# v4l2-ctl prints FourCCs; capture uses ffmpeg's pixel format names.
FOURCC_TO_FFMPEG = {
    "YUYV": "yuyv422",
    "UYVY": "uyvy422",
    "MJPG": "mjpeg",
    "JPEG": "mjpeg",
    "H264": "h264",
    "HEVC": "hevc",
    "NV12": "nv12",
    "NV21": "nv21",
    "YU12": "yuv420p",
    "YV12": "yuv420p",
    "RGB3": "rgb24",
    "BGR3": "bgr24",
    "GREY": "gray",
}


@dataclass(frozen=True)
class VideoFormat:
    """One pixel/compression format and the frame sizes offered for it."""

    name: str  # ffmpeg's name, usable as -input_format
    compressed: bool
    description: str = ""
    sizes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProbeResult:
    """What probing one node found. ``capture`` is False for metadata nodes."""

    capture: bool
    formats: tuple[VideoFormat, ...] = ()
    error: str | None = None
    source: str = ""

    @property
    def format_names(self) -> list[str]:
        return [f.name for f in self.formats]

    def resolutions(self) -> list[str]:
        """Every frame size of every format, largest first, without repeats."""
        seen = {s for f in self.formats for s in f.sizes}
        return sorted(seen, key=_area, reverse=True)


def _area(size: str) -> tuple[int, int]:
    w, _, h = size.partition("x")
    return (int(w) * int(h), int(w))


def parse_ffmpeg_list_formats(text: str) -> ProbeResult:
    """Parse the stderr of ``ffmpeg -f v4l2 -list_formats all -i DEV``."""
    if NOT_CAPTURE in text:
        return ProbeResult(capture=False, error=NOT_CAPTURE, source="ffmpeg")
    formats: list[VideoFormat] = []
    for line in text.splitlines():
        # ffmpeg prefixes each line with "[video4linux2,v4l2 @ 0x...] ".
        body = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        m = _FFMPEG_LINE.search(body)
        if not m:
            continue
        sizes = tuple(f"{w}x{h}" for w, h in _SIZE.findall(m["sizes"]))
        formats.append(
            VideoFormat(
                name=m["name"],
                compressed=m["kind"] == "Compressed",
                description=m["desc"],
                sizes=sizes,
            )
        )
    if not formats:
        last = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "no output")
        return ProbeResult(capture=True, error=f"no formats listed: {last}", source="ffmpeg")
    return ProbeResult(capture=True, formats=tuple(formats), source="ffmpeg")


_CTL_TYPE = re.compile(r"^\s*Type:\s*(?P<type>.+?)\s*$")
_CTL_FMT = re.compile(r"^\s*\[\d+\]:\s*'(?P<fourcc>[^']+)'\s*\((?P<desc>[^)]*)\)")
_CTL_SIZE = re.compile(r"^\s*Size:\s*\w+\s+(?P<size>\d+x\d+)")


def parse_v4l2_ctl_formats(text: str) -> ProbeResult:
    """Parse ``v4l2-ctl -d DEV --list-formats-ext``."""
    types = [m["type"] for ln in text.splitlines() if (m := _CTL_TYPE.match(ln))]
    if types and not any(t.startswith("Video Capture") for t in types):
        return ProbeResult(capture=False, error=f"node type: {', '.join(types)}", source="v4l2-ctl")
    formats: list[VideoFormat] = []
    current: dict[str, object] | None = None
    for line in text.splitlines():
        if m := _CTL_FMT.match(line):
            if current:
                formats.append(_ctl_format(current))
            fourcc = m["fourcc"].strip()
            current = {"fourcc": fourcc, "desc": m["desc"], "sizes": []}
        elif (m := _CTL_SIZE.match(line)) and current is not None:
            sizes = current["sizes"]
            assert isinstance(sizes, list)
            if m["size"] not in sizes:
                sizes.append(m["size"])
    if current:
        formats.append(_ctl_format(current))
    if not formats:
        return ProbeResult(capture=False, error="no capture formats", source="v4l2-ctl")
    return ProbeResult(capture=True, formats=tuple(formats), source="v4l2-ctl")


def _ctl_format(raw: dict[str, object]) -> VideoFormat:
    fourcc = str(raw["fourcc"])
    desc = str(raw["desc"])
    sizes = raw["sizes"]
    assert isinstance(sizes, list)
    return VideoFormat(
        name=FOURCC_TO_FFMPEG.get(fourcc, fourcc.lower()),
        compressed="compressed" in desc.lower() or fourcc in ("MJPG", "JPEG", "H264", "HEVC"),
        description=desc,
        sizes=tuple(sizes),
    )


@dataclass
class FormatProber:
    """Runs the listing tools. Tests replace it with recorded outputs
    (:class:`RecordedProber`); that is the seam, not a monkeypatch."""

    ffmpeg: str
    v4l2_ctl: str | None = field(default_factory=lambda: shutil.which("v4l2-ctl"))
    timeout: float = 10.0

    def probe(self, device: Path) -> ProbeResult:
        if self.v4l2_ctl:
            text = self._run([self.v4l2_ctl, "-d", str(device), "--list-formats-ext"])
            if text is not None:
                result = parse_v4l2_ctl_formats(text)
                if result.formats or not result.capture:
                    return result
        text = self._run(
            [
                self.ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-f",
                "v4l2",
                "-list_formats",
                "all",
                "-i",
                str(device),
            ]
        )
        if text is None:
            return ProbeResult(capture=False, error="ffmpeg did not answer", source="ffmpeg")
        return parse_ffmpeg_list_formats(text)

    def _run(self, argv: list[str]) -> str | None:
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout + done.stderr


@dataclass
class RecordedProber(FormatProber):
    """A prober answering from recorded tool outputs, keyed by node name
    (``video0``): for tests and for documenting real devices."""

    ffmpeg: str = "ffmpeg"
    v4l2_ctl: str | None = None
    ffmpeg_outputs: dict[str, str] = field(default_factory=dict)
    v4l2_ctl_outputs: dict[str, str] = field(default_factory=dict)

    def probe(self, device: Path) -> ProbeResult:
        node = device.resolve().name
        if node in self.v4l2_ctl_outputs:
            return parse_v4l2_ctl_formats(self.v4l2_ctl_outputs[node])
        if node in self.ffmpeg_outputs:
            return parse_ffmpeg_list_formats(self.ffmpeg_outputs[node])
        return ProbeResult(capture=False, error=f"{device}: No such device", source="recorded")

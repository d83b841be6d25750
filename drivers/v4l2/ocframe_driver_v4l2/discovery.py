"""Finding V4L2 nodes: sysfs for names, /dev/v4l/by-id and by-path for stable paths.

Both roots are configurable (settings, or ``OCFRAME_V4L2_SYSFS_ROOT`` /
``OCFRAME_V4L2_DEV_ROOT``) so tests and the demo point them at a fixture
tree; a configured ``/dev/...`` path is read relative to the dev root.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SYSFS_ENV = "OCFRAME_V4L2_SYSFS_ROOT"
DEV_ENV = "OCFRAME_V4L2_DEV_ROOT"


class DeviceNotFound(LookupError):
    """The configured device is not present; the message says what is."""


@dataclass(frozen=True)
class Roots:
    sysfs: Path
    dev: Path

    @classmethod
    def from_settings(cls, sysfs: Path | None = None, dev: Path | None = None) -> Roots:
        return cls(
            sysfs=Path(sysfs or os.environ.get(SYSFS_ENV) or "/sys"),
            dev=Path(dev or os.environ.get(DEV_ENV) or "/dev"),
        )

    def device_path(self, configured: str) -> Path:
        """Where a configured ``/dev/...`` path lives under the dev root."""
        path = Path(configured)
        if path.is_absolute() and path.parts[:2] == ("/", "dev"):
            return self.dev.joinpath(*path.parts[2:])
        return path


@dataclass(frozen=True)
class VideoNode:
    """One ``videoN`` node as sysfs and /dev/v4l describe it."""

    node: str
    name: str
    index: int
    path: Path
    links: tuple[str, ...] = ()  # stable names, spelled as users configure them

    def describe(self) -> str:
        return f"{self.node} ({self.name})"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _stable_links(roots: Roots) -> dict[str, list[str]]:
    """node name -> ['/dev/v4l/by-id/...', ...]."""
    links: dict[str, list[str]] = {}
    for kind in ("by-id", "by-path"):
        folder = roots.dev / "v4l" / kind
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            target = entry.resolve().name
            links.setdefault(target, []).append(f"/dev/v4l/{kind}/{entry.name}")
    return links


def discover(roots: Roots) -> list[VideoNode]:
    """Every ``videoN`` in sysfs, in node order."""
    base = roots.sysfs / "class" / "video4linux"
    if not base.is_dir():
        return []
    links = _stable_links(roots)
    nodes: list[VideoNode] = []
    for entry in base.iterdir():
        if not entry.name.startswith("video"):
            continue
        index = _read(entry / "index")
        nodes.append(
            VideoNode(
                node=entry.name,
                name=_read(entry / "name") or entry.name,
                index=int(index) if index and index.isascii() and index.isdigit() else 0,
                path=roots.dev / entry.name,
                links=tuple(links.get(entry.name, ())),
            )
        )
    return sorted(nodes, key=lambda n: (len(n.node), n.node))


def resolve(configured: str, roots: Roots, is_capture: Callable[[VideoNode], bool]) -> VideoNode:
    """The node a configured device (a ``/dev`` path or a sysfs name) means.

    A name shared by several nodes (a UVC camera and its metadata node) picks
    the one ``is_capture`` accepts. Raises :class:`DeviceNotFound`.
    """
    nodes = discover(roots)
    if configured.startswith("/"):
        path = roots.device_path(configured)
        if not path.exists():
            raise DeviceNotFound(f"device {configured} is not present")
        node_name = path.resolve().name
        for node in nodes:
            if node.node == node_name:
                return VideoNode(node.node, node.name, node.index, path, node.links)
        return VideoNode(node_name, node_name, 0, path)
    matches = [n for n in nodes if n.name == configured] or [
        n for n in nodes if n.name.casefold() == configured.casefold()
    ]
    if not matches:
        present = ", ".join(n.describe() for n in nodes) or "none"
        raise DeviceNotFound(f"no V4L2 device named {configured!r} (present: {present})")
    capture = [n for n in sorted(matches, key=lambda n: n.index) if n.path.exists()]
    for node in capture:
        if is_capture(node):
            return node
    raise DeviceNotFound(
        f"device {configured!r} has no video capture node "
        f"(nodes: {', '.join(n.node for n in matches)})"
    )


def main(argv: list[str]) -> int:
    """``ocframe v4l2-devices``: list nodes with their stable names."""
    roots = Roots.from_settings()
    nodes = discover(roots)
    if not nodes:
        print(f"no V4L2 devices under {roots.sysfs}/class/video4linux")
        return 1
    for node in nodes:
        print(f"{node.path}\t{node.name}\tindex={node.index}")
        for link in node.links:
            print(f"    {link}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


_VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
_CAP_VIDEO_CAPTURE = 0x00000001
_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_CAP_DEVICE_CAPS = 0x80000000


def query_capture_capability(path: Path) -> bool | None:
    """Ask the kernel (VIDIOC_QUERYCAP) whether a node captures video.

    ``None`` when it cannot be asked (not a character device, as in fixture
    trees, or no permission): the caller falls back to the listing tools.
    """
    import fcntl
    import stat
    import struct

    try:
        if not stat.S_ISCHR(path.stat().st_mode):
            return None
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = bytearray(104)
        fcntl.ioctl(fd, _VIDIOC_QUERYCAP, buf)
    except OSError:
        return None
    finally:
        os.close(fd)
    caps, device_caps = struct.unpack_from("<II", buf, 84)
    effective = device_caps if caps & _CAP_DEVICE_CAPS else caps
    return bool(effective & (_CAP_VIDEO_CAPTURE | _CAP_VIDEO_CAPTURE_MPLANE))

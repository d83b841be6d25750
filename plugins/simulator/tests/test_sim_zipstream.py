"""The simulator's streaming zip unpacker agrees with zipfile on every archive."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile
from pathlib import Path

import pytest
from ocframe_simulator.zipstream import ZipStreamSink

FILES = {
    "manifest.xml": b"<mediapackage/>",
    "media/empty.bin": b"",
    "media/video.mp4": bytes(random.Random(1).randbytes(300_000)),
    "media/dir/": b"",
}


class _Unseekable(io.RawIOBase):
    """Makes zipfile write data descriptors, as a streaming writer does."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer.extend(data)
        return len(data)


def make_zip(method: int = zipfile.ZIP_STORED, *, zip64: bool = False,
             stream: bool = False) -> bytes:
    out: io.BytesIO | _Unseekable = _Unseekable() if stream else io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:  # type: ignore[arg-type]
        for name, data in FILES.items():
            with archive.open(name, "w", force_zip64=zip64) as entry:
                entry.write(data)
    return bytes(out.buffer if isinstance(out, _Unseekable) else out.getvalue())


def feed(data: bytes, spool: Path, seed: int = 0) -> ZipStreamSink:
    sink = ZipStreamSink(spool)
    rng = random.Random(seed)
    pos = 0
    while pos < len(data):
        n = rng.choice([1, 3, 29, 31, 1000, 65536, 1 << 20])
        sink.write(data[pos: pos + n])
        pos += n
    sink.finish()
    return sink


def contents(sink: ZipStreamSink) -> dict[str, bytes]:
    if sink.fallback_path is not None:
        with zipfile.ZipFile(sink.fallback_path) as archive:
            return {n: archive.read(n) for n in archive.namelist()}
    found = {}
    for entry in sink.entries:
        data = entry.stored.path.read_bytes()
        assert entry.stored.size == len(data)
        assert entry.stored.md5 == hashlib.md5(data).hexdigest()
        found[entry.name] = data
    return found


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("zip64", [False, True])
def test_stored_entries_are_streamed(tmp_path: Path, zip64: bool, seed: int) -> None:
    sink = feed(make_zip(zip64=zip64), tmp_path, seed)
    assert sink.fallback_path is None
    assert contents(sink) == FILES
    sink.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["deflated", "descriptors", "prefixed", "bad-crc",
                                  "truncated", "cd-mismatch", "junk"])
def test_other_archives_go_to_zipfile(tmp_path: Path, kind: str) -> None:
    data = {
        "deflated": lambda: make_zip(zipfile.ZIP_DEFLATED),
        "descriptors": lambda: make_zip(stream=True),
        "prefixed": lambda: b"#!/bin/sh\n" + make_zip(),
        "bad-crc": lambda: make_zip().replace(FILES["media/video.mp4"][:50],
                                              b"x" * 50, 1),
        "truncated": lambda: make_zip()[:200_000],
        "cd-mismatch": lambda: make_zip().replace(b"PK\x01\x02", b"PK\x01\x03", 1),
        "junk": lambda: b"not a zip",
    }[kind]()
    sink = feed(data, tmp_path)
    assert sink.fallback_path is not None
    # Reassembled byte for byte: zipfile sees exactly what was sent.
    assert sink.fallback_path.read_bytes() == data
    assert not sink.entries
    sink.discard()
    assert list(tmp_path.iterdir()) == []


def test_kept_entries_survive_discard(tmp_path: Path) -> None:
    sink = feed(make_zip(), tmp_path / "spool")
    video = next(e for e in sink.entries if e.name == "media/video.mp4")
    first, second = sink.keep(video), sink.keep(video)
    assert first.path != second.path
    sink.discard()
    assert first.path.read_bytes() == second.path.read_bytes() == FILES["media/video.mp4"]

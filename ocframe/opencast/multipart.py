"""A streaming ``multipart/form-data`` body with a known length.

``requests``' ``files=`` reads whole files into memory; this body is a
file-like object that http.client reads chunk by chunk, so an upload of any
size uses constant memory. Parts stay in the order given, because the core
reads them in order and stops at the first file part.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # http.client sends whatever read() returns; big chunks are fast


@dataclass(frozen=True)
class TextPart:
    name: str
    value: str


@dataclass(frozen=True)
class FilePart:
    name: str
    path: Path
    filename: str | None = None
    content_type: str = "application/octet-stream"
    #: Send only this byte range of the file (chunked uploads).
    offset: int = 0
    length: int | None = None

    def size(self) -> int:
        total = self.path.stat().st_size
        return self.length if self.length is not None else total - self.offset


Part = TextPart | FilePart


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")


class MultipartBody:
    """File-like ``read()``-able multipart body; ``len()`` is its exact size."""

    def __init__(
        self,
        parts: Sequence[Part],
        *,
        progress: Callable[[int, int], None] | None = None,
        rate_limit: float | None = None,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"ocframe-{uuid.uuid4().hex}"
        self.progress = progress
        self.rate_limit = rate_limit  # bytes per second, None for unlimited
        self._segments: list[bytes | FilePart] = []
        for part in parts:
            if isinstance(part, TextPart):
                self._segments.append(
                    (
                        f"--{self.boundary}\r\n"
                        f'Content-Disposition: form-data; name="{_quote(part.name)}"\r\n'
                        "Content-Type: text/plain; charset=UTF-8\r\n\r\n"
                    ).encode()
                    + part.value.encode("utf-8")
                    + b"\r\n"
                )
            else:
                filename = part.filename or part.path.name
                self._segments.append(
                    (
                        f"--{self.boundary}\r\n"
                        f'Content-Disposition: form-data; name="{_quote(part.name)}";'
                        f' filename="{_quote(filename)}"\r\n'
                        f"Content-Type: {part.content_type}\r\n\r\n"
                    ).encode()
                )
                self._segments.append(part)
                self._segments.append(b"\r\n")
        self._segments.append(f"--{self.boundary}--\r\n".encode())
        self._length = sum(
            s.size() if isinstance(s, FilePart) else len(s) for s in self._segments
        )
        self.seek(0)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._sent

    def seek(self, pos: int, whence: int = 0) -> int:
        # Only rewinding is needed (requests rewinds for an auth retry).
        if pos != 0 or whence != 0:
            raise OSError("MultipartBody can only be rewound to the start")
        self._index = 0
        self._offset = 0
        self._file: BinaryIO | None = None
        self._file_left = 0
        self._sent = 0
        self._started = time.monotonic()
        return 0

    def read(self, size: int = -1) -> bytes:
        while self._index < len(self._segments):
            seg = self._segments[self._index]
            if isinstance(seg, bytes):
                chunk = seg[self._offset :]
                self._index += 1
                self._offset = 0
                if chunk:
                    return self._account(chunk)
                continue
            if self._file is None:
                self._file = seg.path.open("rb", buffering=0)
                self._file.seek(seg.offset)
                self._file_left = seg.size()
                if hasattr(os, "posix_fadvise"):
                    os.posix_fadvise(self._file.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            want = min(CHUNK, self._file_left)
            chunk = self._file.read(want) if want else b""
            if not chunk:
                if self._file_left:
                    raise OSError(f"{seg.path} shrank while it was being uploaded")
                self._file.close()
                self._file = None
                self._index += 1
                continue
            self._file_left -= len(chunk)
            return self._account(chunk)
        return b""

    def _account(self, chunk: bytes) -> bytes:
        self._sent += len(chunk)
        if self.rate_limit:
            ahead = self._sent / self.rate_limit - (time.monotonic() - self._started)
            if ahead > 0:
                time.sleep(ahead)
        if self.progress is not None:
            self.progress(self._sent, self._length)
        return chunk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

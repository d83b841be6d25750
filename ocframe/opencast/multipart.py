"""Streamed request bodies of known length: ``multipart/form-data`` and others.

``requests``' ``files=`` reads whole files into memory; these bodies are
file-like objects that http.client reads chunk by chunk, so an upload of any
size uses constant memory. A body is a list of segments (bytes, or a byte
range of a file) read in order; :class:`MultipartBody` builds one from form
parts, and other formats (a zip built on the fly) reuse :class:`StreamedBody`.
Multipart parts stay in the order given, because the core reads them in
order and stops at the first file part.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20  # http.client sends whatever read() returns; big chunks are fast


class DigestTap:
    """MD5 of the bytes that pass through, computed on a helper thread.

    hashlib releases the GIL on large buffers, so hashing overlaps with the
    socket writes instead of slowing the sender; the bounded queue keeps
    memory constant (at most ``8 * CHUNK`` in flight).
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._md5 = hashlib.md5()
        self._thread: threading.Thread | None = None
        self.size = 0

    def update(self, data: bytes) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="md5-tap", daemon=True)
            self._thread.start()
        self.size += len(data)
        self._queue.put(data)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._md5.update(data)

    def _drain(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def reset(self) -> None:
        """Start over (the body was rewound to be sent again)."""
        self._drain()
        self._md5 = hashlib.md5()
        self.size = 0

    def hexdigest(self) -> str:
        self._drain()
        return self._md5.hexdigest()


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
    #: Gets every byte of this part as it is sent (to verify what the core stored).
    tap: DigestTap | None = field(default=None, compare=False)

    def size(self) -> int:
        total = self.path.stat().st_size
        return self.length if self.length is not None else total - self.offset


@dataclass(frozen=True)
class StreamPart:
    """A file part whose content is other segments (e.g. a zip built on the fly)."""

    name: str
    filename: str
    content_type: str
    segments: Sequence[bytes | FilePart]


Part = TextPart | FilePart | StreamPart
Segment = bytes | FilePart


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")


class StreamedBody:
    """File-like ``read()``-able concatenation of segments; ``len()`` is exact."""

    content_type = "application/octet-stream"

    def __init__(
        self,
        segments: Sequence[Segment],
        *,
        progress: Callable[[int, int], None] | None = None,
        rate_limit: float | None = None,
    ) -> None:
        self.progress = progress
        self.rate_limit = rate_limit  # bytes per second, None for unlimited
        self._segments = list(segments)
        # Sizes are taken once: a file that changes size while it is sent is an error.
        self._sizes = [s.size() if isinstance(s, FilePart) else len(s) for s in self._segments]
        self._length = sum(self._sizes)
        self._file: BinaryIO | None = None
        self._rewind()

    def __len__(self) -> int:
        return self._length

    def tell(self) -> int:
        return self._sent

    def seek(self, pos: int, whence: int = 0) -> int:
        # Only rewinding is needed (requests rewinds for an auth retry).
        if pos != 0 or whence != 0:
            raise OSError("a streamed body can only be rewound to the start")
        if self._sent:
            # Sent again from the start: what the taps saw so far does not count.
            for seg in self._segments:
                if isinstance(seg, FilePart) and seg.tap is not None:
                    seg.tap.reset()
        self._rewind()
        return 0

    def _rewind(self) -> None:
        self.close()
        self._index = 0
        self._file_left = 0
        self._sent = 0
        self._started = time.monotonic()

    def read(self, size: int = -1) -> bytes:
        while self._index < len(self._segments):
            seg = self._segments[self._index]
            if isinstance(seg, bytes):
                self._index += 1
                if seg:
                    return self._account(seg)
                continue
            if self._file is None:
                self._file = seg.path.open("rb", buffering=0)
                self._file.seek(seg.offset)
                self._file_left = self._sizes[self._index]
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
            if seg.tap is not None:
                seg.tap.update(chunk)
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


class MultipartBody(StreamedBody):
    """A ``multipart/form-data`` body streamed from the parts given, in order."""

    def __init__(
        self,
        parts: Sequence[Part],
        *,
        progress: Callable[[int, int], None] | None = None,
        rate_limit: float | None = None,
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"ocframe-{uuid.uuid4().hex}"
        segments: list[Segment] = []
        for part in parts:
            if isinstance(part, TextPart):
                segments.append(
                    (
                        f"--{self.boundary}\r\n"
                        f'Content-Disposition: form-data; name="{_quote(part.name)}"\r\n'
                        "Content-Type: text/plain; charset=UTF-8\r\n\r\n"
                    ).encode()
                    + part.value.encode("utf-8")
                    + b"\r\n"
                )
                continue
            if isinstance(part, FilePart):
                filename, ctype, content = part.filename or part.path.name, part.content_type, [
                    part]
            else:
                filename, ctype, content = part.filename, part.content_type, list(part.segments)
            segments.append(
                (
                    f"--{self.boundary}\r\n"
                    f'Content-Disposition: form-data; name="{_quote(part.name)}";'
                    f' filename="{_quote(filename)}"\r\n'
                    f"Content-Type: {ctype}\r\n\r\n"
                ).encode()
            )
            segments.extend(content)
            segments.append(b"\r\n")
        segments.append(f"--{self.boundary}--\r\n".encode())
        super().__init__(segments, progress=progress, rate_limit=rate_limit)

    @property
    def content_type(self) -> str:  # type: ignore[override]
        return f"multipart/form-data; boundary={self.boundary}"

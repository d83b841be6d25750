"""Streaming request-body parsing: multipart parts go to disk as they arrive.

Uploads can be gigabytes, so file parts are never held in memory; size and MD5
are computed on the way through. Part order is preserved because the core's
rules depend on it (the core stops reading fields at the first file part).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

try:  # SIMD CRC-32, five times faster; installed with the zipped ingest strategy
    from zlib_ng.zlib_ng import crc32
except ImportError:
    from zlib import crc32

# Large reads keep the per-chunk Python overhead negligible next to the socket.
READ_SIZE = 1024 * 1024
MAX_FIELD_SIZE = 64 * 1024 * 1024


class BodyError(ValueError):
    """The body is not what the endpoint accepts (answered with 400)."""


@dataclass
class StoredFile:
    path: Path
    size: int
    md5: str
    filename: str
    content_type: str


class Sink(Protocol):
    """Where an endpoint wants a file part's bytes to go instead of a spool file
    (e.g. unpacked from a zip as they arrive, or appended to an upload job), so
    each byte is written once."""

    def write(self, data: bytes) -> None: ...

    def finish(self) -> None:
        """The part ended (all of it was written)."""

    def discard(self) -> None:
        """Drop whatever the endpoint did not keep; safe to call more than once."""


@dataclass
class Part:
    name: str
    value: str | None = None
    file: StoredFile | None = None
    #: The endpoint's own sink that received this file part (instead of ``file``).
    sink: Any = None

    @property
    def is_file(self) -> bool:
        return self.file is not None or self.sink is not None


# Called with (field name, filename, parts so far) when a file part starts; may
# raise BodyError to refuse the upload before any of it is written.
BeforeFile = Callable[[str, str, Sequence[Part]], None]
# Called right after BeforeFile: the endpoint's sink for this part, or None for a
# spool file. May raise BodyError.
OpenSink = Callable[[str, str, Sequence[Part]], "Sink | None"]


def _new_spool_path(spool_dir: Path) -> Path:
    spool_dir.mkdir(parents=True, exist_ok=True)
    return spool_dir / uuid.uuid4().hex


class HashingWriter:
    """Writes to an open file while a helper thread computes MD5 (and CRC-32).

    hashlib, zlib and file writes all release the GIL on large buffers, so
    hashing in parallel keeps an upload close to disk speed; the bounded queue
    keeps memory constant. With ``after``, hashing continues from that writer's
    MD5 once its thread is done (chunks of one file), while this writer's
    bytes are already written.
    """

    _DONE = b""

    def __init__(self, handle: BinaryIO, digest: Any = None, *, crc: bool = False,
                 after: HashingWriter | None = None) -> None:
        self.handle = handle
        self.size = 0
        self.digest = digest if digest is not None else hashlib.md5()
        self.crc: int | None = 0 if crc else None
        self._after = after
        self._lock = threading.Lock()
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=8)
        self._hasher = threading.Thread(target=self._hash, daemon=True)
        self._hasher.start()

    def _hash(self) -> None:
        if self._after is not None:
            self._after.close()
            self.digest = self._after.digest.copy()
            self._after = None
        digest, crc = self.digest, self.crc
        while True:
            data = self._queue.get()
            if data is self._DONE:
                self.crc = crc
                return
            digest.update(data)
            if crc is not None:
                crc = crc32(data, crc)

    def write(self, data: bytes) -> None:
        if data:
            self.handle.write(data)
            self._queue.put(data)
            self.size += len(data)

    def close_file(self) -> None:
        """All bytes are written; hashing may still go on."""
        if not self.handle.closed:
            self.handle.close()

    def close(self) -> None:
        """Close the file and wait for the hashes (idempotent, thread-safe)."""
        self.close_file()
        with self._lock:
            if self._hasher.is_alive():
                self._queue.put(self._DONE)
                self._hasher.join()


class _FileSink(HashingWriter):
    """A new file written while it is hashed."""

    def __init__(self, path: Path, *, crc: bool = False) -> None:
        self.path = path
        super().__init__(open(path, "wb"), crc=crc)  # noqa: SIM115 - closed in finish()/abort()

    def finish(self) -> tuple[int, str]:
        self.close()
        return self.size, self.digest.hexdigest()

    def abort(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def multipart_boundary(content_type: str) -> bytes | None:
    mimetype, options = parse_options_header(content_type)
    if mimetype != "multipart/form-data" or not options.get("boundary"):
        return None
    return options["boundary"].encode("latin-1")


def parse_multipart(
    stream: BinaryIO,
    boundary: bytes,
    spool_dir: Path,
    before_file: BeforeFile | None = None,
    open_sink: OpenSink | None = None,
) -> list[Part]:
    """Read the whole multipart body; file parts end up as files in ``spool_dir``,
    or in the sink ``open_sink`` returns for them."""
    decoder = MultipartDecoder(boundary)
    parts: list[Part] = []
    current: Part | None = None
    field_buffer = bytearray()
    sink: _FileSink | None = None
    own: Sink | None = None
    headers: Headers | None = None
    finished = False
    try:
        while not finished:
            chunk = stream.read(READ_SIZE)
            decoder.receive_data(chunk if chunk else None)
            while True:
                try:
                    event = decoder.next_event()
                except ValueError as exc:
                    raise BodyError(f"malformed multipart body: {exc}") from exc
                if isinstance(event, NeedData):
                    break
                if isinstance(event, Epilogue):
                    finished = True
                    break
                if isinstance(event, File):
                    if before_file is not None:
                        before_file(event.name, event.filename, parts)
                    current = Part(name=event.name)
                    headers = event.headers
                    own = open_sink(event.name, event.filename, parts) if open_sink else None
                    if own is not None:
                        current.sink = own
                        continue
                    sink = _FileSink(_new_spool_path(spool_dir))
                    current.file = StoredFile(
                        path=sink.path,
                        size=0,
                        md5="",
                        filename=os.path.basename(event.filename.replace("\\", "/")),
                        content_type=headers.get("Content-Type", "application/octet-stream"),
                    )
                elif isinstance(event, Field):
                    current = Part(name=event.name)
                    headers = event.headers
                    field_buffer.clear()
                elif isinstance(event, Data):
                    if current is None:
                        raise BodyError("data outside of a part")
                    if own is not None:
                        own.write(event.data)
                    elif sink is not None:
                        sink.write(event.data)
                    else:
                        field_buffer.extend(event.data)
                        if len(field_buffer) > MAX_FIELD_SIZE:
                            raise BodyError("form field too large")
                    if not event.more_data:
                        if own is not None:
                            own.finish()
                            own = None
                        elif sink is not None and current.file is not None:
                            current.file.size, current.file.md5 = sink.finish()
                            sink = None
                        else:
                            charset = "utf-8"
                            if headers is not None:
                                _, opts = parse_options_header(headers.get("Content-Type", ""))
                                charset = opts.get("charset", "utf-8")
                            try:
                                current.value = bytes(field_buffer).decode(charset)
                            except (UnicodeDecodeError, LookupError):
                                current.value = bytes(field_buffer).decode("latin-1")
                        parts.append(current)
                        current = None
            if not chunk and not finished:
                raise BodyError("multipart body ended early")
    except BaseException:
        if sink is not None:
            sink.abort()
        if own is not None:
            own.discard()
        discard_files(parts)
        raise
    return parts


def parse_urlencoded(stream: BinaryIO) -> list[Part]:
    data = bytearray()
    while True:
        chunk = stream.read(READ_SIZE)
        if not chunk:
            break
        data.extend(chunk)
        if len(data) > MAX_FIELD_SIZE:
            raise BodyError("form too large")
    pairs = parse_qsl(bytes(data).decode("utf-8", "replace"), keep_blank_values=True)
    return [Part(name=k, value=v) for k, v in pairs]


def spool_body(stream: BinaryIO, spool_dir: Path) -> StoredFile:
    """Store a raw request body (e.g. a zip) on disk."""
    sink = _FileSink(_new_spool_path(spool_dir))
    try:
        while True:
            chunk = stream.read(READ_SIZE)
            if not chunk:
                break
            sink.write(chunk)
    except BaseException:
        sink.abort()
        raise
    size, md5 = sink.finish()
    return StoredFile(sink.path, size, md5, "", "application/octet-stream")


def discard_files(parts: Sequence[Part]) -> None:
    for part in parts:
        if part.file is not None:
            part.file.path.unlink(missing_ok=True)
        if part.sink is not None:
            part.sink.discard()


def read_form(stream: BinaryIO, content_type: str, spool_dir: Path) -> list[Part] | None:
    """A small form sent urlencoded or as multipart; None if the body is neither.

    Small file parts are read as text, because tools like ``curl -F k=@file`` send
    plain form values that way.
    """
    mimetype, _ = parse_options_header(content_type or "")
    if mimetype == "application/x-www-form-urlencoded":
        return parse_urlencoded(stream)
    boundary = multipart_boundary(content_type or "")
    if boundary is None:
        return None
    parts = parse_multipart(stream, boundary, spool_dir)
    for part in parts:
        if part.file is not None:
            if part.file.size <= MAX_FIELD_SIZE:
                part.value = part.file.path.read_bytes().decode("utf-8", "replace")
            part.file.path.unlink(missing_ok=True)
            part.file = None
    return parts


def first_value(parts: Sequence[Part], name: str) -> str | None:
    for part in parts:
        if part.name == name and part.value is not None:
            return part.value
    return None

"""Unpacking an uploaded zip while it arrives, so each byte is written once.

A zipped ingest used to be spooled to disk and then extracted (two writes and
two hashes per byte). :class:`ZipStreamSink` instead reads the local headers
as the bytes come in and writes each STORED entry straight to its own spool
file while a helper thread computes its MD5 and CRC-32. The manifest only
names entries, so nothing needs to be known in advance. The central directory
at the end is checked against what was streamed.

Anything this fast path does not handle exactly like :mod:`zipfile` (deflated
or encrypted entries, data descriptors, a CRC that does not match, prefixed
data, a central directory that disagrees with the local headers, a truncated
body) switches to the old way: the raw bytes are reassembled into one spool
file (headers kept in memory, entry data copied back from their files) and
:mod:`zipfile` reads it, so its answers and errors stay the simulator's.
"""

from __future__ import annotations

import shutil
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

from .mediapackage import guess_mimetype
from .multipart import HashingWriter, StoredFile

LOCAL = 0x04034B50
CENTRAL = 0x02014B50
EOCD = 0x06054B50
ZIP64_EOCD = 0x06064B50
ZIP64_LOCATOR = 0x07064B50
LIMIT = 0xFFFFFFFF
# Encrypted, data descriptor, compressed patch, strong encryption: zipfile's concern.
_UNHANDLED_FLAGS = 0x01 | 0x08 | 0x20 | 0x40
_MAX_EXTRACT_VERSION = 63  # zipfile refuses newer entries with its own error
_MAX_TAIL = 16 * 1024 * 1024  # central directory + end records kept in memory
_LOCAL_FIXED = struct.Struct("<IHHHHHIIIHH")
_CENTRAL_FIXED = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD_FIXED = struct.Struct("<IHHHHIIH")
_ZIP64_EOCD_FIXED = struct.Struct("<IQHHIIQQQQ")
_ZIP64_LOCATOR_FIXED = struct.Struct("<IIQI")


class _Fallback(Exception):
    """The fast path cannot vouch for this archive; let zipfile read it."""


@dataclass
class ZipEntry:
    name: str
    offset: int
    crc: int
    size: int
    header: bytes
    stored: StoredFile
    crc_seen: int | None = None


def _decode_name(raw: bytes, flags: int) -> str:
    # As zipfile does: UTF-8 when flagged, else cp437; cut at a NUL.
    name = raw.decode("utf-8") if flags & 0x800 else raw.decode("cp437")
    nul = name.find("\0")
    return name[:nul] if nul >= 0 else name


def _zip64_fields(extra: bytes) -> list[int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == 0x0001:
            body = extra[pos + 4: pos + 4 + size]
            return [v for (v,) in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
        pos += 4 + size
    return []


class ZipStreamSink:
    """Receives a zip body in pieces; see the module docstring."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.entries: list[ZipEntry] = []
        self.received = 0
        self._buffer = bytearray()
        self._offset = 0  # of the next unparsed byte in the archive
        self._writer: HashingWriter | None = None
        self._left = 0  # bytes of the current entry still to come
        self._tail: bytearray | None = None
        self._tail_offset = 0
        self._fallback: HashingWriter | None = None
        self.fallback_path: Path | None = None
        self._kept: set[int] = set()
        self.finished = False

    # ------------------------------------------------------------------ receiving

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.received += len(data)
        if self._fallback is not None:
            self._fallback.write(data)
            return
        # Slices of a memoryview of immutable bytes: no copies on the way to the file.
        view = memoryview(data)
        try:
            while True:
                if self._writer is not None:
                    n = min(self._left, len(view))
                    if n:
                        self._writer.write(view[:n])
                        self._left -= n
                        view = view[n:]
                    if self._left:
                        break  # all of view went to the entry
                    self._end_entry()
                elif not view:
                    break
                elif self._tail is not None:
                    self._tail.extend(view)
                    view = view[len(view):]
                    if len(self._tail) > _MAX_TAIL:
                        raise _Fallback
                else:
                    self._buffer.extend(view)
                    view = view[len(view):]
                    view = memoryview(self._parse_header())
        except _Fallback:
            self._fall_back(bytes(view))

    def _parse_header(self) -> bytes:
        """Consume a local header from the buffer if complete; the bytes after it."""
        buf = self._buffer
        if len(buf) < 4:
            return b""
        (sig,) = struct.unpack_from("<I", buf)
        if sig in (CENTRAL, EOCD, ZIP64_EOCD):
            self._tail = bytearray(buf)
            self._tail_offset = self._offset
            self._buffer = bytearray()
            return b""
        if sig != LOCAL:
            raise _Fallback
        if len(buf) < _LOCAL_FIXED.size:
            return b""
        (_, version, flags, method, _t, _d, crc, csize, usize, name_len,
         extra_len) = _LOCAL_FIXED.unpack_from(buf)
        end = _LOCAL_FIXED.size + name_len + extra_len
        if len(buf) < end:
            return b""
        if flags & _UNHANDLED_FLAGS or method != 0 or version > _MAX_EXTRACT_VERSION:
            raise _Fallback
        raw_name = bytes(buf[_LOCAL_FIXED.size: _LOCAL_FIXED.size + name_len])
        try:
            name = _decode_name(raw_name, flags)
        except UnicodeDecodeError:
            raise _Fallback from None
        if LIMIT in (csize, usize):
            big = _zip64_fields(bytes(buf[_LOCAL_FIXED.size + name_len: end]))
            if len(big) < 2:
                raise _Fallback
            usize, csize = big[0], big[1]
        if csize != usize:
            raise _Fallback
        header = bytes(buf[:end])
        rest = bytes(buf[end:])
        self._buffer = bytearray()
        path = self.spool_dir / uuid.uuid4().hex
        writer = HashingWriter(open(path, "wb"), crc=True)  # noqa: SIM115 - closed in _end_entry
        leaf = name.rsplit("/", 1)[-1]
        self.entries.append(ZipEntry(
            name=name, offset=self._offset, crc=crc, size=usize, header=header,
            stored=StoredFile(path, usize, "", leaf, guess_mimetype(leaf)),
        ))
        self._offset += end + usize
        self._writer, self._left = writer, usize
        return rest

    def _end_entry(self) -> None:
        writer, self._writer = self._writer, None
        assert writer is not None
        writer.close()
        entry = self.entries[-1]
        entry.stored.md5 = writer.digest.hexdigest()
        entry.crc_seen = writer.crc
        if writer.crc != entry.crc:
            raise _Fallback

    def finish(self) -> None:
        """The body ended: check the end records, or hand everything to zipfile."""
        if self.finished:
            return
        self.finished = True
        if self._fallback is not None:
            self._fallback.close()
            return
        try:
            if self._writer is not None or self._tail is None:
                raise _Fallback  # truncated inside an entry, or no end records
            self._verify_tail(bytes(self._tail))
        except _Fallback:
            self._fall_back(b"")
            assert self._fallback is not None
            self._fallback.close()

    # ------------------------------------------------------------------ checking the end

    def _verify_tail(self, tail: bytes) -> None:
        """The central directory must describe exactly the entries streamed."""
        pos = 0
        for entry in self.entries:
            if len(tail) < pos + _CENTRAL_FIXED.size:
                raise _Fallback
            (sig, _made, version, flags, method, _t, _d, crc, csize, usize, name_len,
             extra_len, comment_len, disk, _ia, _ea, offset) = _CENTRAL_FIXED.unpack_from(
                tail, pos)
            if sig != CENTRAL or method != 0 or flags & _UNHANDLED_FLAGS or disk not in (0,
                                                                                         0xFFFF):
                raise _Fallback
            start = pos + _CENTRAL_FIXED.size
            try:
                name = _decode_name(tail[start: start + name_len], flags)
            except UnicodeDecodeError:
                raise _Fallback from None
            big = _zip64_fields(tail[start + name_len: start + name_len + extra_len])
            # zip64 values come in this order, each only when its field is 0xFFFFFFFF.
            for field in ("usize", "csize", "offset"):
                value = {"usize": usize, "csize": csize, "offset": offset}[field]
                if value == LIMIT:
                    if not big:
                        raise _Fallback
                    value = big.pop(0)
                    if field == "usize":
                        usize = value
                    elif field == "csize":
                        csize = value
                    else:
                        offset = value
            if (name, crc, usize, csize, offset) != (entry.name, entry.crc, entry.size,
                                                     entry.size, entry.offset):
                raise _Fallback
            if version > _MAX_EXTRACT_VERSION:
                raise _Fallback
            pos = start + name_len + extra_len + comment_len
        cd_size = pos
        if tail[pos: pos + 4] == struct.pack("<I", CENTRAL):
            raise _Fallback  # more entries listed than streamed
        count, size, offset = len(self.entries), cd_size, self._tail_offset
        if tail[pos: pos + 4] == struct.pack("<I", ZIP64_EOCD):
            if len(tail) < pos + _ZIP64_EOCD_FIXED.size:
                raise _Fallback
            (_, rec_size, _m, _v, _dn, _ds, n_disk, n_total, z_size,
             z_offset) = _ZIP64_EOCD_FIXED.unpack_from(tail, pos)
            if (n_disk, n_total, z_size, z_offset) != (count, count, size, offset):
                raise _Fallback
            locator_at = pos + 12 + rec_size
            if len(tail) < locator_at + _ZIP64_LOCATOR_FIXED.size:
                raise _Fallback
            (sig, _disk, where, _disks) = _ZIP64_LOCATOR_FIXED.unpack_from(tail, locator_at)
            if sig != ZIP64_LOCATOR or where != self._tail_offset + pos:
                raise _Fallback
            pos = locator_at + _ZIP64_LOCATOR_FIXED.size
        if len(tail) < pos + _EOCD_FIXED.size:
            raise _Fallback
        (sig, _disk, _cd_disk, n_disk32, n_total32, size32, offset32,
         comment_len) = _EOCD_FIXED.unpack_from(tail, pos)
        if sig != EOCD or pos + _EOCD_FIXED.size + comment_len != len(tail):
            raise _Fallback
        for have, want, limit in ((n_disk32, count, 0xFFFF), (n_total32, count, 0xFFFF),
                                  (size32, size, LIMIT), (offset32, offset, LIMIT)):
            if have != want and have != min(want, limit):
                raise _Fallback

    # ------------------------------------------------------------------ the slow way

    def _fall_back(self, pending: bytes) -> None:
        """Rebuild the raw bytes received so far into one file; append the rest there."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        path = self.spool_dir / uuid.uuid4().hex
        out = HashingWriter(open(path, "wb"))  # noqa: SIM115 - closed in finish()/discard()
        self._fallback, self.fallback_path = out, path
        for entry in self.entries:
            out.write(entry.header)
            with open(entry.stored.path, "rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)  # type: ignore[misc]
            entry.stored.path.unlink(missing_ok=True)
        self.entries = []
        out.write(bytes(self._buffer) + bytes(self._tail or b"") + pending)
        self._buffer = bytearray()
        self._tail = None

    # ------------------------------------------------------------------ results

    def keep(self, entry: ZipEntry) -> StoredFile:
        """The entry's file, now the caller's (a copy if it was kept before)."""
        index = self.entries.index(entry)
        if index not in self._kept:
            self._kept.add(index)
            return entry.stored
        copy = self.spool_dir / uuid.uuid4().hex
        shutil.copyfile(entry.stored.path, copy)
        s = entry.stored
        return StoredFile(copy, s.size, s.md5, s.filename, s.content_type)

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._fallback is not None:
            self._fallback.close()
        if self.fallback_path is not None:
            self.fallback_path.unlink(missing_ok=True)
        for i, entry in enumerate(self.entries):
            if i not in self._kept:
                entry.stored.path.unlink(missing_ok=True)
        self.entries = []

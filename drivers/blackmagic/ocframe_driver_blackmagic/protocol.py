"""The HyperDeck Ethernet protocol's text format, shared by client and emulator.

Server output is a stream of *blocks*: ``NNN text`` alone, or ``NNN text:``
followed by ``key: value`` lines and a blank line. Client input is a command,
either on one line (``name`` or ``name: key: value key: value``) or in the
multi-line form (``name:``, ``key: value`` lines, blank line). Values may
contain spaces (clip names), so a one-line command can only be split with
the command's known parameter names; :data:`COMMAND_PARAMS` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CRLF = "\r\n"

# Parameters each command accepts (protocol 1.11, the subset we use and emulate).
COMMAND_PARAMS: dict[str, tuple[str, ...]] = {
    "help": (),
    "ping": (),
    "device info": (),
    "transport info": (),
    "stop": (),
    "quit": (),
    "remote": ("enable", "override"),
    "record": ("name",),
    "slot info": ("slot id",),
    "slot select": ("slot id", "video format"),
    "disk list": ("slot id",),
    "clips get": ("clip id", "count", "version"),
    "clips count": (),
    "notify": (
        "transport",
        "slot",
        "remote",
        "configuration",
        "dropped frames",
        "display timecode",
        "timeline position",
        "playrange",
        "cache",
        "dynamic range",
        "slate",
        "clips",
        "disk",
        "device info",
    ),
    "watchdog": ("period",),
}

_BLOCK_HEAD = re.compile(r"^(\d{3}) (.+?)(:?)$")
_KEY_VALUE = re.compile(r"^([^:]+):\s?(.*)$")


class ProtocolError(Exception):
    """Malformed input: the text of a ``1xx`` answer and its code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass
class Block:
    """One server answer or notification."""

    code: int
    text: str
    params: dict[str, str] = field(default_factory=dict)
    #: ``key: value`` lines in order, for blocks with repeated or numbered keys.
    lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_notification(self) -> bool:
        return 500 <= self.code < 600

    @property
    def is_error(self) -> bool:
        return 100 <= self.code < 200

    def encode(self) -> bytes:
        if not self.lines and not self.params:
            return f"{self.code} {self.text}{CRLF}".encode()
        items = self.lines or list(self.params.items())
        body = "".join(f"{k}: {v}{CRLF}" for k, v in items)
        return f"{self.code} {self.text}:{CRLF}{body}{CRLF}".encode()


def make_block(code: int, text: str, items: Iterable[tuple[str, object]] = ()) -> Block:
    lines = [(k, _format_value(v)) for k, v in items]
    return Block(code, text, dict(lines), lines)


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BlockParser:
    """Incremental parser of server output (bytes in, blocks out).

    Accepts CRLF or LF; a partial line waits for more data.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._current: Block | None = None

    def feed(self, data: bytes) -> list[Block]:
        self._buffer += data
        done: list[Block] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                return done
            raw, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            block = self._line(line)
            if block is not None:
                done.append(block)

    def _line(self, line: str) -> Block | None:
        current = self._current
        if current is not None:
            if line == "":
                self._current = None
                return current
            match = _KEY_VALUE.match(line)
            key, value = (match.group(1), match.group(2)) if match else (line, "")
            current.lines.append((key, value))
            current.params[key] = value
            return None
        if line == "":
            return None  # stray blank line between blocks
        match = _BLOCK_HEAD.match(line)
        if match is None:
            # Not a block header: a device would never send this; surface it
            # as a synthetic block so a waiter fails instead of hanging.
            return Block(0, line)
        block = Block(int(match.group(1)), match.group(2))
        if match.group(3):
            self._current = block
            return None
        return block


# ---------------------------------------------------------------------------
# Commands (client side encodes, emulator side parses)


@dataclass
class Command:
    name: str
    params: dict[str, str] = field(default_factory=dict)


def encode_command(name: str, params: Mapping[str, object] | None = None) -> bytes:
    """A one-line command; values must not contain newlines."""
    if not params:
        return f"{name}{CRLF}".encode()
    parts = []
    for key, value in params.items():
        text = _format_value(value)
        if "\n" in text or "\r" in text:
            raise ValueError(f"newline in value of {key!r}")
        parts.append(f"{key}: {text}")
    return f"{name}: {' '.join(parts)}{CRLF}".encode()


def parse_command_line(line: str) -> Command | None:
    """Parse one single-line command.

    Returns ``None`` when the line opens the multi-line form (``name:``
    alone). Raises :class:`ProtocolError` (100 or 101) otherwise on bad input.
    """
    line = line.strip()
    if not line:
        raise ProtocolError(100, "syntax error")
    name, sep, rest = line.partition(":")
    name = name.strip().lower()
    if name not in COMMAND_PARAMS:
        raise ProtocolError(100, "syntax error")
    if not sep:
        return Command(name)
    rest = rest.strip()
    if not rest:
        return None
    return Command(name, split_params(name, rest))


def split_params(name: str, text: str) -> dict[str, str]:
    """Split ``key: value key: value`` using the command's known keys.

    A value runs until the next known key followed by a colon, which lets
    values contain spaces. An unknown ``word:`` at a key position is
    ``101 unsupported parameter``; text that is no key at all is ``100``.
    """
    known = sorted(COMMAND_PARAMS[name], key=len, reverse=True)
    if not known:
        raise ProtocolError(101, "unsupported parameter")
    key_pattern = "|".join(re.escape(k) for k in known)
    splitter = re.compile(rf"(?:^|\s)({key_pattern}):(?:\s|$)", re.IGNORECASE)
    matches = list(splitter.finditer(text))
    if not matches or matches[0].start() != 0:
        head = text.split(":", 1)
        if len(head) == 2 and re.fullmatch(r"[A-Za-z ]+", head[0].strip()):
            raise ProtocolError(101, "unsupported parameter")
        raise ProtocolError(100, "syntax error")
    params: dict[str, str] = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        params[match.group(1).lower()] = text[match.end() : end].strip()
    return params


def parse_param_line(name: str, line: str) -> tuple[str, str]:
    """One ``key: value`` line of the multi-line form."""
    key, sep, value = line.partition(":")
    key = key.strip().lower()
    if not sep:
        raise ProtocolError(100, "syntax error")
    if key not in COMMAND_PARAMS[name]:
        raise ProtocolError(101, "unsupported parameter")
    return key, value.strip()


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ProtocolError(102, "invalid value")


@dataclass(frozen=True)
class DiskEntry:
    """One clip of a ``206 disk list``: ``N: <file> <format> <video format> <duration>``."""

    index: int
    file: str
    format: str
    video_format: str
    duration: str


def parse_disk_list(block: Block) -> list[DiskEntry]:
    entries = []
    for key, value in block.lines:
        if not (key.strip().isascii() and key.strip().isdigit()):
            continue
        # File names may contain spaces; the last three fields never do.
        parts = value.rsplit(" ", 3)
        if len(parts) != 4:
            continue
        entries.append(DiskEntry(int(key), *parts))
    return entries


def timecode(seconds: float, fps: int) -> str:
    frames_total = round(seconds * fps)
    frames = frames_total % fps
    total = frames_total // fps
    return f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}:{frames:02d}"

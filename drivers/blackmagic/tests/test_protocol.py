"""The HyperDeck text format: parsing on both sides, over real TCP where it matters."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from ocframe_driver_blackmagic.client import (
    HyperDeckClient,
    HyperDeckCommandError,
    HyperDeckConnectionError,
    HyperDeckRejected,
)
from ocframe_driver_blackmagic.protocol import (
    Block,
    BlockParser,
    ProtocolError,
    encode_command,
    parse_command_line,
    parse_disk_list,
)
from ocframe_driver_blackmagic.testing import HyperDeckEmulator


def test_parser_accepts_crlf_and_lf_and_split_reads() -> None:
    parser = BlockParser()
    assert parser.feed(b"200 ok\r\n") == [Block(200, "ok")]
    assert parser.feed(b"100 syntax error\n") == [Block(100, "syntax error")]
    assert parser.feed(b"202 slot info:\r\nslot id: 1\r\nstat") == []
    blocks = parser.feed(b"us: mounted\nrecording time: 120\r\n\r\n")
    assert len(blocks) == 1
    assert blocks[0].code == 202
    assert blocks[0].text == "slot info"
    assert blocks[0].params == {"slot id": "1", "status": "mounted", "recording time": "120"}


def test_parser_keeps_interleaved_notification_and_reply_apart() -> None:
    data = (
        b"508 transport info:\r\nstatus: record\r\n\r\n"
        b"208 transport info:\r\nstatus: record\r\nslot id: 1\r\n\r\n"
    )
    blocks = BlockParser().feed(data)
    assert [(b.code, b.is_notification) for b in blocks] == [(508, True), (208, False)]
    assert blocks[1].params["slot id"] == "1"


def test_disk_list_entries_allow_spaces_in_names() -> None:
    block = BlockParser().feed(
        b"206 disk list:\r\nslot id: 1\r\n1: my clip.mov H.264High 1080p25 00:00:05:00\r\n"
        b"2: b.mov ProResHQ 720p50 01:00:00:00\r\n\r\n"
    )[0]
    entries = parse_disk_list(block)
    assert [(e.index, e.file, e.video_format, e.duration) for e in entries] == [
        (1, "my clip.mov", "1080p25", "00:00:05:00"),
        (2, "b.mov", "720p50", "01:00:00:00"),
    ]


def test_disk_list_skips_keys_that_only_look_like_numbers() -> None:
    """'²'.isdigit() is true but int('²') raises: a device answer must not
    crash the parser."""
    block = BlockParser().feed(
        b"206 disk list:\r\nslot id: 1\r\n\xc2\xb2: a.mov H.264 1080p25 00:00:05:00\r\n"
        b"3: c.mov ProResHQ 720p50 00:00:01:00\r\n\r\n"
    )[0]
    assert [e.index for e in parse_disk_list(block)] == [3]


def test_command_lines() -> None:
    assert parse_command_line("transport info").name == "transport info"
    cmd = parse_command_line("record: name: my clip")
    assert cmd is not None and cmd.params == {"name": "my clip"}
    cmd = parse_command_line("notify: transport: true slot: false")
    assert cmd is not None and cmd.params == {"transport": "true", "slot": "false"}
    assert parse_command_line("notify:") is None  # opens the multi-line form
    with pytest.raises(ProtocolError) as err:
        parse_command_line("fly away")
    assert err.value.code == 100
    with pytest.raises(ProtocolError) as err:
        parse_command_line("slot info: drive: 3")
    assert err.value.code == 101
    assert encode_command("slot info", {"slot id": 2}) == b"slot info: slot id: 2\r\n"
    assert encode_command("notify", {"transport": True}) == b"notify: transport: true\r\n"
    with pytest.raises(ValueError):
        encode_command("record", {"name": "a\r\nstop"})


class Raw:
    """A bare socket talking to the emulator, to test the server side exactly."""

    def __init__(self, deck: HyperDeckEmulator) -> None:
        self.sock = socket.create_connection(("127.0.0.1", deck.port), timeout=5)
        self.parser = BlockParser()
        self.blocks: list[Block] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self) -> Block:
        while not self.blocks:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.blocks.extend(self.parser.feed(data))
        return self.blocks.pop(0)

    def raw_banner(self) -> bytes:
        data = b""
        while not data.endswith(b"\r\n\r\n"):
            data += self.sock.recv(4096)
        return data

    def close(self) -> None:
        self.sock.close()


def test_emulator_banner_and_crlf_line_endings(deck: HyperDeckEmulator) -> None:
    raw = Raw(deck)
    banner = raw.raw_banner()
    assert banner.startswith(b"500 connection info:\r\nprotocol version: 1.11\r\nmodel: ")
    raw.send(b"ping\n")  # LF from the client is accepted
    assert raw.next() == Block(200, "ok")
    raw.send(b"ping\r\n")
    assert raw.next() == Block(200, "ok")
    raw.close()


def test_emulator_multiline_command_and_errors(deck: HyperDeckEmulator) -> None:
    raw = Raw(deck)
    raw.raw_banner()
    raw.send(b"notify:\ntransport: true\r\nslot: true\n\n")
    assert raw.next().code == 200
    raw.send(b"notify\n")
    notify = raw.next()
    assert notify.code == 209 and notify.params["transport"] == "true"
    raw.send(b"slot info:\nslot id: 2\n\n")
    slot = raw.next()
    assert (slot.code, slot.params["status"]) == (202, "empty")
    for line, code in [
        (b"dance\n", 100),
        (b"slot info: shoe size: 4\n", 101),
        (b"slot info: slot id: 9\n", 102),
        (b"record: name: x\n", 111),
    ]:
        raw.send(line)
        assert raw.next().code == code, line
    raw.close()


def test_emulator_second_controller_gets_120(deck: HyperDeckEmulator) -> None:
    first = Raw(deck)
    first.raw_banner()
    second = Raw(deck)
    assert second.next() == Block(120, "connection rejected")
    second.close()
    with pytest.raises(HyperDeckRejected, match="another controller"):
        HyperDeckClient("127.0.0.1", deck.port, connect_timeout=2).connect()
    first.close()
    assert deck.wait_for(lambda d: d.connected_clients() == 0, 5)
    client = HyperDeckClient("127.0.0.1", deck.port, connect_timeout=2)
    assert client.connect().params["protocol version"] == "1.11"
    client.close()


def test_client_routes_508_sent_before_208(deck: HyperDeckEmulator) -> None:
    client = HyperDeckClient("127.0.0.1", deck.port, command_timeout=3)
    client.connect()
    notes: list[Block] = []
    seen = threading.Event()

    def listener(block: Block) -> None:
        notes.append(block)
        seen.set()

    client.add_listener(listener)
    with pytest.raises(HyperDeckCommandError) as err:
        client.command("record", {"name": "early"})
    assert err.value.code == 111
    client.command("remote", {"enable": True})
    # Not subscribed, yet the deck sends a 508 right before the 208 because
    # the state changed: the reply must still be the 208.
    client.command("record", {"name": "early"})
    reply = client.command("transport info")
    assert (reply.code, reply.params["status"]) == (208, "record")
    assert seen.wait(3)
    assert notes[0].code == 508 and notes[0].params["status"] == "record"
    client.command("stop")
    client.close()


def test_client_notices_a_dropped_connection(deck: HyperDeckEmulator) -> None:
    client = HyperDeckClient("127.0.0.1", deck.port, command_timeout=3)
    client.connect()
    deck.drop_connections()
    deadline = time.monotonic() + 10
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not client.connected


class _SlowDeck:
    """A deck that greets, holds back its answer to the first command until
    told to send it, and answers every later command at once."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.first_command = threading.Event()
        self.send_late_reply = threading.Event()
        self.late_reply_sent = threading.Event()
        self.commands_after: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.sendall(b"500 connection info:\r\nprotocol version: 1.11\r\n"
                         b"model: HyperDeck Studio\r\n\r\n")
            conn.settimeout(30)
            conn.recv(1024)
            self.first_command.set()
            self.send_late_reply.wait(30)
            try:
                conn.sendall(b"208 transport info:\r\nstatus: record\r\n\r\n")
                self.late_reply_sent.set()
                while data := conn.recv(1024):
                    self.commands_after.append(data)
                    conn.sendall(b"200 ok\r\n")
            except OSError:
                self.late_reply_sent.set()

    def close(self) -> None:
        self.send_late_reply.set()
        self.listener.close()
        self.thread.join(timeout=10)


def test_client_timeout_closes_rather_than_desynchronise() -> None:
    """A command unanswered within command_timeout fails and closes the
    connection, so the late answer can never be taken for the next command's."""
    deck = _SlowDeck()
    try:
        client = HyperDeckClient("127.0.0.1", deck.port, command_timeout=1.0)
        client.connect()
        started = time.monotonic()
        with pytest.raises(HyperDeckConnectionError, match="in time"):
            client.command("transport info")
        waited = time.monotonic() - started
        assert deck.first_command.is_set()
        # It waited its timeout out, no less (the upper bound only catches a hang).
        assert 1.0 <= waited < 20.0
        assert not client.connected
        deck.send_late_reply.set()
        assert deck.late_reply_sent.wait(10)
        with pytest.raises(HyperDeckConnectionError, match="not connected"):
            client.command("play")
        assert deck.commands_after == []
    finally:
        deck.close()


def test_watchdog_closes_a_silent_client(deck: HyperDeckEmulator) -> None:
    client = HyperDeckClient("127.0.0.1", deck.port)
    client.connect()
    client.command("watchdog", {"period": 1})
    deadline = time.monotonic() + 10
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not client.connected

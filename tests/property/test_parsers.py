"""Property-based tests: whatever the core, a config file or a calendar says,
a parser answers with a result or one clear error of its own type, never
another exception, never a hang, and untrusted names never leave their
directory."""

from __future__ import annotations

import contextlib
import json
import re
import string
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ocframe.config import load_config
from ocframe.errors import ConfigError, CoreError
from ocframe.model import Event, printable, safe_name, unique_name
from ocframe.opencast.calendar import CalendarError, CalendarParser
from ocframe.opencast.vevent import EARLIEST, LATEST, parse_properties

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Each example must finish well inside this: a parser that loops on some
# input fails here instead of hanging an agent.
BOUNDED = settings(deadline=2000, max_examples=300,
                   suppress_health_check=[HealthCheck.too_slow])

HOSTILE = st.sampled_from([
    "../", "..\\", "/", ";", ":", '"', "'", "\x00", "\n", "\r\n", "\r", "\t", "\x1b[2J",
    "\u202e", "\ufeff", "$(reboot)", "`id`", "%2F", "\\n", ",", "=", "BEGIN:VEVENT",
    "END:VEVENT", "END:VCALENDAR", " ", "\udcff", "\U0001d54f", "A" * 300,
])
TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=20)), max_size=8).map("".join)


def _clean(text: str) -> str:
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


# -- calendars ------------------------------------------------------------------
PROPERTY_NAMES = st.sampled_from([
    "UID", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "LOCATION", "RELATED-TO",
    "LAST-MODIFIED", "ATTACH", "DTSTAMP", "X-FOO", "BEGIN", "END", "uid", "",
])
PARAMS = st.lists(st.sampled_from([
    ";TZID=Asia/Tokyo", ";TZID=Nowhere/City", ';FMTTYPE="application/text', ";VALUE=BINARY",
    ";ENCODING=BASE64", ";X-APPLE-FILENAME=episode.xml",
    ";X-APPLE-FILENAME=org.opencastproject.capture.agent.properties", ";VALUE=DATE", ";",
]), max_size=3).map("".join)
VALUES = st.one_of(
    st.sampled_from(["20260302T100000Z", "00010101T000000", "99991231T235959Z",
                     "20260230T100000Z", "20260302", "20260302T250000Z", "", "tomorrow",
                     "ZXZlbnQudGl0bGU9eAo=", "=====", "-1"]),
    TEXT,
)
LINE = st.tuples(PROPERTY_NAMES, PARAMS, st.sampled_from([":", ";", ""]), VALUES).map(
    lambda t: f"{t[0]}{t[1]}{t[2]}{t[3]}")


@st.composite
def calendars(draw: Any) -> bytes:
    blocks = []
    for _ in range(draw(st.integers(0, 4))):
        lines = ["BEGIN:VEVENT"]
        if draw(st.booleans()):  # mostly-sane events, so the good path is exercised too
            lines += [f"UID:{draw(TEXT)}", "DTSTART:20260302T100000Z",
                      "DTEND:20260302T110000Z"]
        lines += draw(st.lists(LINE, max_size=8))
        if draw(st.integers(0, 9)):
            lines.append("END:VEVENT")
        blocks.append("\r\n".join(lines))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r\n "]))
    body = newline.join(["BEGIN:VCALENDAR", "VERSION:2.0", *blocks, "END:VCALENDAR"]) + "\r\n"
    return _clean(body).encode("utf-8")


def _check_events(events: list[Event]) -> None:
    for e in events:
        assert isinstance(e.uid, str) and e.uid
        assert EARLIEST <= e.start < e.end <= LATEST
        assert e.start.tzinfo is not None
        dict(e.properties), dict(e.attachments)  # lazily decoded: must not raise either


@BOUNDED
@given(calendars())
def test_calendar_parser_answers_events_or_a_calendar_error(body: bytes) -> None:
    parser = CalendarParser()
    try:
        events = parser.parse(body, now=NOW)
    except CalendarError as exc:
        assert exc.reason
        return
    _check_events(events)
    # Parsing the same body again (the next poll) gives the same answer.
    assert parser.parse(body, now=NOW) == events


@BOUNDED
@given(st.binary(max_size=2000))
def test_calendar_parser_on_arbitrary_bytes(body: bytes) -> None:
    for candidate in (body, b"BEGIN:VCALENDAR\r\n" + body + b"\r\nEND:VCALENDAR\r\n"):
        with contextlib.suppress(CalendarError):
            _check_events(CalendarParser().parse(candidate, now=NOW))


@BOUNDED
@given(st.text(max_size=2000))
def test_capture_agent_properties_parser_never_raises(text: str) -> None:
    props = parse_properties(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in props.items())


# -- untrusted names -------------------------------------------------------------
@BOUNDED
@given(TEXT, TEXT)
def test_uids_never_leave_the_recordings_directory_nor_collide(a: str, b: str) -> None:
    base = Path("/srv/ocframe/recordings/room-1")
    for uid in (a, b):
        name = unique_name(uid)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
        assert not name.startswith(".") and len(name) <= 64
        assert (base / name).resolve().parent == base
        safe = safe_name(uid)
        assert safe and safe not in (".", "..") and "/" not in safe and "\x00" not in safe
    if a != b:
        assert unique_name(a) != unique_name(b)


@BOUNDED
@given(TEXT)
def test_printable_text_has_no_control_characters(text: str) -> None:
    out = printable(text, limit=None)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", out)


# -- the configuration ---------------------------------------------------------------
VALID = {
    "core": {"url": "https://oc.example.edu", "user": "ca"},
    "storage": {"directory": "/tmp/ocframe-property"},
    "agents": [{"name": "room-1", "inputs": [{"name": "cam", "driver": "testsrc"}]}],
}
LEAVES = [("core", "url"), ("core", "auth"), ("core", "timeout"), ("storage", "directory"),
          ("agents", 0, "name"), ("agents", 0, "inputs", 0, "flavor"),
          ("agents", 0, "calendar", "poll_interval"), ("agents", 0, "ingest", "method")]
TOML_VALUES = st.one_of(TEXT, st.integers(), st.floats(allow_nan=True), st.booleans(),
                        st.lists(st.integers(), max_size=3))


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is JSON-compatible for these
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@settings(deadline=2000, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LEAVES), TOML_VALUES)
def test_config_loader_answers_a_config_or_a_config_error(leaf: tuple[Any, ...],
                                                         value: Any) -> None:
    data = json.loads(json.dumps(VALID))
    node = data
    for part in leaf[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})
    node[leaf[-1]] = value
    text = "\n".join(_render_config(data))
    assume("\x00" not in text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ocframe.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            config = load_config(path)
        except ConfigError as exc:
            assert str(path) in str(exc)  # the error names the file
            return
        assert config.agents[0].name


def _render_config(data: dict[str, Any]) -> list[str]:
    lines = ["[core]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in data["core"].items()),
             "[storage]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in data["storage"].items())]
    for agent in data["agents"]:
        scalars = {k: v for k, v in agent.items() if not isinstance(v, dict | list)}
        lines.append("[[agents]]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in scalars.items()))
        for table in ("calendar", "ingest"):
            if isinstance(agent.get(table), dict):
                lines.append(f"[agents.{table}]\n" + "\n".join(
                    f"{k} = {_toml(v)}" for k, v in agent[table].items()))
        for inp in agent["inputs"]:
            lines.append("[[agents.inputs]]\n" + "\n".join(
                f"{k} = {_toml(v)}" for k, v in inp.items()))
    return lines


@BOUNDED
@given(st.text(alphabet=string.printable + "\x00\u202e[]{}=\"'", max_size=400))
def test_config_loader_on_arbitrary_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ocframe.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError):
            load_config(path)


# -- the core's answers ----------------------------------------------------------------
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(
                                ["services", "service", "host", "path", "online", "active",
                                 "maintenance", "type", "x"]), inner, max_size=5)),
    max_leaves=20,
)


class _Answer:
    def __init__(self, body: bytes) -> None:
        self.content = body
        self.headers = {"Content-Type": "application/json"}

    def json(self) -> Any:
        return json.loads(self.content)


class _Core:
    def __init__(self, body: bytes) -> None:
        from ocframe.config import CoreConfig

        self.core = CoreConfig(url="https://oc.example.edu")
        self.body = body

    def request(self, *args: Any, **kwargs: Any) -> _Answer:
        return _Answer(self.body)

    def trusts(self, url: str) -> bool:
        return url.startswith("https://oc.example.edu")


@BOUNDED
@given(st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)))
def test_registry_answers_a_trusted_url_or_a_core_error(body: bytes) -> None:
    from ocframe.opencast.registry import ServiceRegistry

    registry = ServiceRegistry(_Core(body))  # type: ignore[arg-type]
    try:
        url = registry.lookup("org.opencastproject.ingest")
    except CoreError as exc:
        assert exc.reason
        return
    assert url.startswith("https://oc.example.edu")  # never another host

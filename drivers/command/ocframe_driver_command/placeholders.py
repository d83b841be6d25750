"""Placeholders in a site's command line: ``{dir}``, ``{duration}``,
``{event.title}``, ``{secret.NAME}`` ...

Our own substitution rather than ``str.format``: a template may name only the
fields listed in :data:`FIELDS` (``str.format`` would let ``{event.__class__}``
walk objects), and a typo is a configuration error before the first event,
not a failed recording. ``{{`` and ``}}`` stand for literal braces.

Values that come from the calendar are untrusted. They never reach a shell
(the command is an argument list), and :func:`event_text` makes them harmless
as arguments: no control characters, no leading ``-`` (which a program would
read as an option), bounded length. In output file names they also go through
:func:`ocframe.safe_name`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ocframe import CaptureContext, safe_name

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_SECRET = re.compile(r"^secret\.([A-Za-z_][A-Za-z0-9_]*)$")
_OUTPUT = re.compile(r"^output(?:\.(\d+))?$")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

#: Fields a template may name, with what they stand for (README table).
FIELDS: dict[str, str] = {
    "dir": "the directory of this capture (absolute; every output file goes below it)",
    "name": "a file-safe name for this capture: <input>-<segment>",
    "duration": "whole seconds from now to the scheduled end (at least 1)",
    "end": "the scheduled end, UTC, ISO 8601",
    "output": "the path of the first output file; output.N for the N-th (from 0)",
    "input": "the input's name",
    "agent": "the agent's name",
    "flavor": "the input's flavor",
    "segment": "the segment number (0, then 1 after a restart ...)",
    "recording_id": "the recording's id (the event UID)",
    "event.uid": "the event's UID (sanitised)",
    "event.title": "the event's title (sanitised)",
    "event.location": "the event's location (sanitised)",
    "event.series": "the event's series id (sanitised; empty if none)",
    "event.series_title": "the series title (sanitised; empty if none)",
    "event.start": "the event's start, UTC, ISO 8601",
    "secret.NAME": "the secret NAME from the driver's [secrets] table (never logged)",
}


class TemplateError(ValueError):
    """A template names an unknown field or has an unmatched brace."""


def fields_in(template: str) -> list[str]:
    """The field names ``template`` uses, in order; raises :class:`TemplateError`."""
    names: list[str] = []
    for match in _TOKEN.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise TemplateError(f"unmatched {token!r} in {template!r} (write {token * 2} for "
                                f"a literal brace)")
        names.append(match.group(1).strip())
    return names


def check_template(template: str, secrets: Iterable[str], outputs: int) -> None:
    """Raise :class:`TemplateError` if ``template`` names anything unknown."""
    declared = set(secrets)
    for name in fields_in(template):
        secret = _SECRET.match(name)
        if secret:
            if secret.group(1) not in declared:
                raise TemplateError(f"{{{name}}} in {template!r}: no secret "
                                    f"{secret.group(1)!r} in the driver's secrets table")
            continue
        output = _OUTPUT.match(name)
        if output:
            index = int(output.group(1) or 0)
            if index >= outputs:
                raise TemplateError(f"{{{name}}} in {template!r}: there are only {outputs} "
                                    f"output files (numbered from 0)")
            continue
        if name not in FIELDS:
            known = ", ".join(f"{{{f}}}" for f in FIELDS)
            raise TemplateError(f"unknown placeholder {{{name}}} in {template!r}; known: {known}")


def expand(template: str, lookup: Callable[[str], str]) -> str:
    """``template`` with each ``{field}`` replaced by ``lookup(field)``."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        if match.group(1) is None:
            raise TemplateError(f"unmatched {token!r} in {template!r}")
        return lookup(match.group(1).strip())

    return _TOKEN.sub(one, template)


def event_text(value: object, *, limit: int = 200) -> str:
    """Untrusted calendar text made harmless as one program argument."""
    text = _CONTROL.sub(" ", str(value or "")).strip()[:limit]
    return text.lstrip("-").strip()


@dataclass(frozen=True)
class Values:
    """What the placeholders of one capture stand for."""

    plain: Mapping[str, str]
    outputs: tuple[str, ...]
    secrets: Mapping[str, str]

    def lookup(self, name: str) -> str:
        secret = _SECRET.match(name)
        if secret:
            return self.secrets[secret.group(1)]
        output = _OUTPUT.match(name)
        if output:
            return self.outputs[int(output.group(1) or 0)]
        return self.plain[name]

    def for_path(self) -> Values:
        """The same values, each reduced to a file-safe name (for output files);
        ``{dir}`` stays whole, secrets are not offered."""
        plain = {k: (v if k == "dir" else safe_name(v, limit=120)) for k, v in self.plain.items()}
        return Values(plain, (), {})


def capture_values(ctx: CaptureContext, secrets: Mapping[str, str],
                   now: datetime | None = None) -> Values:
    """The values for ``ctx`` (outputs are added once their paths are known)."""
    event = ctx.event
    now = now or datetime.now(UTC)
    remaining = (ctx.scheduled_end - now).total_seconds()
    plain = {
        "dir": str(ctx.directory),
        "name": safe_name(f"{ctx.input.name}-{ctx.segment}"),
        "duration": str(max(1, math.ceil(remaining))),
        "end": ctx.scheduled_end.astimezone(UTC).isoformat(),
        "input": ctx.input.name,
        "agent": ctx.input.agent,
        "flavor": ctx.input.flavor,
        "segment": str(ctx.segment),
        "recording_id": event_text(ctx.recording_id),
        "event.uid": event_text(event.uid),
        "event.title": event_text(event.title),
        "event.location": event_text(event.location),
        "event.series": event_text(event.series_id or ""),
        "event.series_title": event_text(event.series_title or ""),
        "event.start": event.start.astimezone(UTC).isoformat(),
    }
    return Values(plain, (), dict(secrets))

"""The ``command`` driver: a capture described as a command line.

The command is an argument list (or one string split with :mod:`shlex`) and
is never given to a shell. Stop is the kernel's bounded escalation: the
optional quit input and SIGINT, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import mimetypes
import os
import shlex
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ocframe import (
    CaptureCommand,
    CaptureContext,
    CaptureError,
    CheckResult,
    CommandCapture,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    DriverSettings,
    StopTimeouts,
)

from .placeholders import TemplateError, Values, capture_values, check_template, expand

#: Container types the standard library's table lacks or names differently.
_MIME_TYPES = {
    ".mkv": "video/x-matroska",
    ".mka": "audio/x-matroska",
    ".ts": "video/mp2t",
    ".flac": "audio/flac",
    ".h264": "video/h264",
    ".m4a": "audio/mp4",
    ".opus": "audio/ogg",
}


def guess_mimetype(path: str) -> str | None:
    suffix = Path(path).suffix.lower()
    return _MIME_TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0]


class OutputFile(BaseModel):
    """One file the command writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="file the command writes; relative to {dir} or starting "
                                  "with {dir}; placeholders allowed")
    flavor: str | None = Field(None, pattern=r"^[^/\s]+/[^/\s]+$",
                               description="flavor to ingest it as (default: the input's)")
    mimetype: str | None = Field(None, description="mime type (default: from the extension)")
    tags: tuple[str, ...] = Field((), description="tags the track is ingested with")


class CommandSettings(CommandDriverSettings):
    command: list[str] | str = Field(
        description="argument list, or one string split like a POSIX shell would (shlex), "
                    "but never run by one")
    outputs: list[OutputFile] = Field(
        default_factory=lambda: [OutputFile(path="{name}.mkv")], min_length=1,
        description="files the command writes, with flavor and mime type")
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='secrets for {secret.NAME}: each a reference "${NAME}" to the secrets file '
                    "or environment")
    env: dict[str, str] = Field(default_factory=dict,
                                description="extra environment variables for the command")
    progress: Literal["files", "stderr"] = Field(
        "files", description="how progress is seen: output files growing, or the program "
                             "writing to stderr")
    quit_input: str | None = Field(
        None, description='text written to the program\'s stdin to ask it to finish (ffmpeg: '
                          '"q"), besides SIGINT')
    finish_grace: float = Field(
        5.0, ge=0, description="an exit with status 0 this close to the scheduled end is the "
                               "capture's end, not a drop-out")
    start_check: float = Field(0.3, ge=0, le=10,
                               description="seconds a command must survive to count as started")

    @field_validator("command")
    @classmethod
    def _split(cls, value: list[str] | str) -> list[str]:
        argv = shlex.split(value) if isinstance(value, str) else list(value)
        if not argv or not argv[0].strip():
            raise ValueError("the command is empty")
        return argv

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name in value:
            if not name.isidentifier():
                raise ValueError(f"secret name {name!r} must be letters, digits and _")
        return value

    @model_validator(mode="after")
    def _templates(self) -> CommandSettings:
        try:
            for arg in self.command:
                check_template(arg, self.secrets, len(self.outputs))
            for out in self.outputs:
                check_template(out.path, (), 0)
                if out.mimetype is None and guess_mimetype(out.path) is None:
                    raise TemplateError(f"output {out.path!r}: no mime type known for its "
                                        f"extension; set mimetype")
            for value in self.env.values():
                check_template(value, self.secrets, len(self.outputs))
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
        return self


class CommandLineCapture(CommandCapture):
    """One run of the command. Progress is its output files growing (for
    programs that print nothing while they record) or its stderr; an exit
    with status 0 close to the scheduled end is the end of the capture (a
    command that records ``{duration}`` seconds), not a drop-out."""

    def __init__(self, ctx: CaptureContext, command: CaptureCommand, timeouts: StopTimeouts,
                 *, progress: str = "files", finish_grace: float = 5.0) -> None:
        super().__init__(ctx, command, timeouts)
        self.progress = progress
        self.finish_grace = finish_grace
        self._sizes: dict[Path, int] = {}
        self._grew_at = time.monotonic()

    def poll(self) -> str | None:
        reason = super().poll()
        if reason is not None and self.exit is not None and self.exit.returncode == 0:
            left = (self.ctx.scheduled_end - datetime.now(UTC)).total_seconds()
            if left <= self.finish_grace:
                return None  # done: the kernel stops it at the scheduled end
        return reason

    def stalled_for(self) -> float:
        if self.process.poll() is not None:
            return 0.0  # ended: poll() says so, it is not a stall
        if self.progress == "stderr":
            return self.process.seconds_since_output()
        now = time.monotonic()
        for out in self.command.outputs:
            try:
                size = out.path.stat().st_size
            except OSError:
                continue
            if size != self._sizes.get(out.path):
                self._sizes[out.path] = size
                self._grew_at = now
        return now - self._grew_at


class CommandLineDriver(CommandDriver):
    """Runs the configured command for each capture."""

    Settings: ClassVar[type[DriverSettings]] = CommandSettings

    def capabilities(self) -> dict[str, str]:
        s = self.settings
        return {**super().capabilities(), "program": Path(s.command[0]).name,
                "outputs": ",".join(o.flavor or self.spec.flavor for o in s.outputs)}

    def check(self) -> list[CheckResult]:
        program = self.settings.command[0]
        found = shutil.which(program)
        return [CheckResult("program", found is not None, found or f"{program} not found")]

    def command(self, ctx: CaptureContext) -> CaptureCommand:
        s: CommandSettings = self.settings
        secrets = {k: v.get_secret_value() for k, v in s.secrets.items()}
        values = capture_values(ctx, secrets)
        outputs = [self._output(ctx, out, values) for out in s.outputs]
        values = Values(values.plain, tuple(str(o.path) for o in outputs), values.secrets)
        argv = [expand(arg, values.lookup) for arg in s.command]
        env = None
        if s.env:
            env = {**os.environ, **{k: expand(v, values.lookup) for k, v in s.env.items()}}
        quit_input = s.quit_input.encode() if s.quit_input is not None else None
        return CaptureCommand(argv=argv, outputs=outputs, redact=tuple(secrets.values()),
                              quit_command=quit_input, env=env)

    def _output(self, ctx: CaptureContext, out: OutputFile, values: Values) -> CommandOutput:
        raw = expand(out.path, values.for_path().lookup)
        path = Path(raw)
        path = (path if path.is_absolute() else ctx.directory / path).resolve()
        base = ctx.directory.resolve()
        if base not in path.parents:
            raise CaptureError(f"output {out.path!r} expands to {raw!r}, outside the capture "
                               f"directory {base}", permanent=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        mimetype = out.mimetype or guess_mimetype(raw) or "application/octet-stream"
        return CommandOutput(path, out.flavor or ctx.input.flavor, mimetype, out.tags)

    def make_handle(self, ctx: CaptureContext, command: CaptureCommand) -> CommandLineCapture:
        return CommandLineCapture(ctx, command, self.stop_timeouts(),
                                  progress=self.settings.progress,
                                  finish_grace=self.settings.finish_grace)

    def start(self, ctx: CaptureContext) -> CommandLineCapture:
        handle = self.make_handle(ctx, self.command(ctx))
        handle.begin()
        # A command that dies at once (a typo in an option, a missing device)
        # failed to start: say so with its own words, not as an early end.
        deadline = time.monotonic() + self.settings.start_check
        while time.monotonic() < deadline:
            if handle.process.poll() is not None:
                reason = CommandCapture.poll(handle)
                # The last line is in the reason; the ones before it often
                # say what was wrong (ffmpeg: "Unrecognized option ...").
                before = " | ".join(handle.exit.tail[-4:-1]) if handle.exit else ""
                raise CaptureError(f"capture failed to start: {reason}"
                                   + (f" (after: {before})" if before else ""))
            time.sleep(0.05)
        return handle

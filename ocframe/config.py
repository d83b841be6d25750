"""Configuration: one TOML file, ``OCFRAME_*`` environment variables, and a
separate secrets file.

The pydantic models below are the single source of defaults and validation
(docs/configuration-reference.md is generated from them by
:mod:`ocframe.config_reference`). The environment wins over the
file (``OCFRAME_CORE__URL`` overrides ``[core] url``). Secrets never live in
the main file: a secret field there must be a reference ``"${NAME}"``,
resolved from the environment or from the secrets file, whose permissions
are checked because it holds passwords.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .config_hints import error_message
from .config_secrets import (
    check_literal_secret,
    dotted,
    is_literal_secret,
    read_secrets,
    resolve,
    secrets_path,
)
from .errors import ConfigError

_FLAVOR = r"^[^/\s]+/[^/\s]+$"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CoreConfig(_Model):
    """How to reach and authenticate against the Opencast core."""

    url: str = Field("http://localhost:8080",
                     description="base URL of the Opencast core (admin node), http:// or https://,"
                     " without credentials")
    #: ``basic``: any Opencast user with ROLE_CAPTURE_AGENT (managed in the admin UI;
    #: recommended). ``digest``: a digest user such as opencast_system_account.
    auth: Literal["basic", "digest"] = Field(
        "basic", description="\"basic\": an Opencast user with ROLE_CAPTURE_AGENT (recommended);"
        " \"digest\": a digest user such as opencast_system_account")
    user: str = Field("admin", description="the Opencast user the agent logs in as")
    password: SecretStr | None = Field(None, description="that user's password")
    #: Verify TLS certificates (always, unless ``insecure``).
    ca_bundle: Path | None = Field(
        None, description="CA certificates (PEM) to verify the core's TLS certificate with;"
        " unset: the system's")
    insecure: bool = Field(False, description="do not verify TLS certificates (tests only)")
    timeout: float = Field(30.0, gt=0, description="seconds for small requests")
    #: Per-service overrides of the service registry: service type -> base URL.
    services: dict[str, str] = Field(
        default_factory=dict, description="service type -> base URL, used instead of what"
        " the core's service registry says")
    #: Further origins (``https://ingest.example.edu``) that may receive the
    #: credentials, e.g. a separate ingest node the service registry names.
    #: The origin of ``url`` and of every ``services`` entry is always trusted.
    trusted_hosts: list[str] = Field(
        default_factory=list, description="further origins (https://ingest.example.edu) that"
        " may receive the credentials besides url and services")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("services")
    @classmethod
    def _services(cls, v: dict[str, str]) -> dict[str, str]:
        return {k: _http_url(u) for k, u in v.items()}

    @field_validator("trusted_hosts")
    @classmethod
    def _trusted(cls, v: list[str]) -> list[str]:
        return [_http_url(u) for u in v]


def _http_url(v: str) -> str:
    if not re.match(r"^https?://[^/\s]+", v):
        raise ValueError("must be an http:// or https:// URL")
    if "@" in v.split("/", 3)[2]:
        # It would be logged, printed by `ocframe config` and sent to every
        # host: credentials belong in core.user and core.password.
        raise ValueError("must not contain a user or password (use core.user and"
                         " core.password = \"${NAME}\")")
    return v.rstrip("/")


class IngestConfig(_Model):
    """How an agent uploads its recordings."""

    method: str = Field("multirequest", description="the ingest method (`ocframe plugins`"
                        " lists those installed); see Ingest method settings below")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="the ingest method's settings")
    workflow: str | None = Field(None, description="workflow used when an event names none")
    #: ``mediapackage_id``: media package id = event UID (current cores).
    #: ``workflow_instance_id``: legacy link through ``workflowInstanceId``.
    link: Literal["mediapackage_id", "workflow_instance_id"] = Field(
        "mediapackage_id", description="how an ingest names its event: the media package id"
        " is the event UID (current cores), or workflowInstanceId (legacy)")
    legacy_catalogs: bool = Field(False, description="Opencast 3.x and older: ingest the"
                                  " calendar's episode and series catalogs unchanged")
    delete_after_upload: bool = Field(False, description="delete a recording's files once"
                                      " the core confirmed the ingest")


class InputConfig(_Model):
    """One input of an agent: a camera, a screen grabber, a microphone."""

    name: str = Field(pattern=_NAME, description="the input's name, told to the core as a"
                      " capture device")
    driver: str = Field(description="the driver (`ocframe plugins` lists those installed);"
                        " see Driver settings below")
    flavor: str = Field("presenter/source", pattern=_FLAVOR,
                        description="flavor of the recorded track, type/subtype")
    settings: dict[str, Any] = Field(default_factory=dict, description="the driver's settings")


class CalendarConfig(_Model):
    poll_interval: float = Field(60.0, gt=0, description="seconds between calendar polls")
    lookahead: float = Field(14 * 86400.0, gt=0,
                             description="seconds ahead to fetch events for (the cutoff)")
    #: Longer events are cut to this length (with a warning): an event that
    #: runs until 9999 would record until the disk is full and hold the room.
    max_event_hours: float = Field(8.0, gt=0, description="hours: longer events are cut to"
                                   " this length")
    #: A larger calendar is refused as it arrives (10,000 events are ~30 MiB).
    max_mib: int = Field(256, gt=0, description="MiB: a larger calendar is refused")


class AgentConfig(_Model):
    """One capture agent (a room). One process may run many."""

    name: str = Field(pattern=_NAME, description="the agent's name in Opencast (the"
                      " capture agent id)")
    address: str | None = Field(None, description="URL of this agent's own web interface,"
                                " told to the core")
    inputs: list[InputConfig] = Field(min_length=1, description="the inputs it records")
    ingest: IngestConfig = Field(default_factory=IngestConfig,
                                 description="how it uploads recordings")
    calendar: CalendarConfig = Field(default_factory=CalendarConfig,
                                     description="how it reads its schedule")
    preroll: float = Field(0.0, ge=0, description="seconds to start before DTSTART")
    postroll: float = Field(0.0, ge=0, description="seconds to stop after DTEND")
    auto_lead: bool = Field(True, description="launch each input ahead of the window by its"
                            " learnt start-up time; what comes before the window is trimmed"
                            " at upload without re-encoding")
    max_lead: float = Field(10.0, ge=0, le=120, description="seconds an input is launched"
                            " ahead, at most (plus up to 5 s to spread the launches of rooms"
                            " starting together)")
    heartbeat_interval: float = Field(60.0, gt=0,
                                      description="seconds between state posts to the core")
    capabilities_interval: float = Field(
        600.0, gt=0, description="seconds between capability posts to the core")
    capabilities_format: Literal["xml", "json"] = Field(
        "xml", description="how capabilities are sent to the core")
    max_restarts: int = Field(20, ge=0, description="restarts of a capture that ends early,"
                              " at most, per recording")
    stall_timeout: float = Field(30.0, ge=0, description="seconds without progress after"
                                 " which a capture is restarted (0: never)")

    @model_validator(mode="after")
    def _unique_inputs(self) -> AgentConfig:
        seen: set[str] = set()
        for i in self.inputs:
            if i.name in seen:
                raise ValueError(f"input name {i.name!r} is used twice")
            seen.add(i.name)
        return self


class StorageConfig(_Model):
    directory: Path = Field(Path("/var/lib/ocframe"), description="where recordings, the"
                            " recording store and the schedule cache live")
    min_free_mib: int = Field(2048, ge=0, description="MiB free below which the agent warns"
                              " (and says so in its capabilities)")
    assumed_input_mbit: float = Field(8.0, gt=0, description="Mbit/s per input, to estimate"
                                      " a recording's size when its driver cannot say")
    disk_check_interval: float = Field(15.0, gt=0,
                                       description="seconds between free-space checks")


class IngestQueueConfig(_Model):
    concurrency: int = Field(1, ge=1, le=16, description="uploads running at once")
    max_attempts: int = Field(12, ge=1, description="attempts of an ingest before it is"
                              " left failed for an operator")
    backoff_initial: float = Field(30.0, gt=0,
                                   description="seconds before the first retry; doubles")
    backoff_max: float = Field(3600.0, gt=0, description="seconds between retries, at most")


class PluginsConfig(_Model):
    modules: list[str] = Field(default_factory=list, description="further plugin modules to"
                               " load (importable names), besides installed plugins")
    disabled: list[str] = Field(default_factory=list,
                                description="installed plugins (entry point names) not to load")


class ToolsConfig(_Model):
    ffmpeg: str | None = Field(None, description="the ffmpeg program; unset: found on PATH")
    ffprobe: str | None = Field(None, description="the ffprobe program; unset: found on PATH")


class OcframeConfig(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="OCFRAME_", env_nested_delimiter="__", extra="forbid"
    )

    core: CoreConfig = Field(default_factory=CoreConfig, description="the Opencast core")
    storage: StorageConfig = Field(default_factory=StorageConfig,
                                   description="local storage")
    ingest_queue: IngestQueueConfig = Field(default_factory=IngestQueueConfig,
                                            description="the upload queue")
    plugins: PluginsConfig = Field(default_factory=PluginsConfig,
                                   description="which plugins load")
    tools: ToolsConfig = Field(default_factory=ToolsConfig, description="external programs")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    secrets_file: Path | None = Field(None, description="the secrets file; unset: secrets.toml"
                                      " beside the configuration file")
    agents: list[AgentConfig] = Field(min_length=1, description="the capture agents (rooms)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: an operator's override beats the file.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _unique_agents(self) -> OcframeConfig:
        names = [a.name for a in self.agents]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"agent names must be unique: {', '.join(sorted(dupes))}")
        return self

    # Filled by load_config: where the config came from and which raw values
    # were secret references (so drivers' SecretStr fields can be checked).
    _source: Path | None = None
    _secret_refs: frozenset[tuple[Any, ...]] = frozenset()
    _raw: dict[str, Any] = {}

    @property
    def source(self) -> Path | None:
        return self._source

    def agent(self, name: str) -> AgentConfig:
        for a in self.agents:
            if a.name == name:
                return a
        raise KeyError(name)

    def masked(self) -> dict[str, Any]:
        """The effective configuration as plain data with every secret masked."""
        return _mask(self.model_dump(mode="json"))


def _mask(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _mask(v, k) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask(v, key) for v in data]
    if data and _is_secret_key(key):
        return "***"
    return data


def _is_secret_key(key: str) -> bool:
    k = key.lower()
    return any(word in k for word in ("password", "secret", "token", "passphrase"))


# ---------------------------------------------------------------------------
# Loading


def load_config(path: Path | str) -> OcframeConfig:
    """Read, resolve and validate a config file. Raises :class:`ConfigError`
    naming the file, the key and the reason."""
    path = Path(path)
    env = os.environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc

    secrets_file = secrets_path(raw, path, env)
    secrets = read_secrets(secrets_file) if secrets_file else {}
    if isinstance(secrets.get("core"), dict):
        core = raw.setdefault("core", {})
        if isinstance(core, dict):
            for k, v in secrets["core"].items():
                core.setdefault(k, f"${{__secrets_core_{k}}}")
                secrets[f"__secrets_core_{k}"] = v
    refs: set[tuple[Any, ...]] = set()
    resolved = resolve(raw, (), env, secrets, refs, path)
    check_literal_secret(raw, refs, ("core", "password"), path)
    try:
        config = OcframeConfig(**resolved)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, resolved)) from None
    config._source = path
    config._secret_refs = frozenset(refs)
    config._raw = raw
    return config


def literal_driver_secrets(config: OcframeConfig, agent_index: int, input_index: int,
                           secret_fields: list[str]) -> list[str]:
    """The driver's secret settings (SecretStr fields, ``table.key`` for a
    table of secrets) written literally in the file, which is refused (see
    :data:`ocframe.config_secrets.LITERAL_SECRET`)."""
    where = ("agents", agent_index, "inputs", input_index, "settings")
    return [f for f in secret_fields
            if is_literal_secret(config._raw, config._secret_refs, (*where, *f.split(".")))]


def _describe(path: Path, exc: ValidationError, data: dict[str, Any]) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        lines.append(f"  {dotted(loc) or '(top level)'}{_agent_hint(loc, data)}:"
                     f" {error_message(err, OcframeConfig)}")
    return "\n".join(lines)


def _agent_hint(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """`` (agent 'room-1', input 'cam')`` for a key inside an agent's table."""
    if len(loc) >= 2 and loc[0] == "agents" and isinstance(loc[1], int):
        try:
            agent = data["agents"][loc[1]]
            hint = f"agent {agent['name']!r}"
        except (KeyError, IndexError, TypeError):
            return ""
        if len(loc) >= 4 and loc[2] == "inputs" and isinstance(loc[3], int):
            with contextlib.suppress(KeyError, IndexError, TypeError):
                hint += f", input {agent['inputs'][loc[3]]['name']!r}"
        return f" ({hint})"
    return ""


def iter_inputs(config: OcframeConfig) -> Iterator[tuple[int, AgentConfig, int, InputConfig]]:
    for ai, agent in enumerate(config.agents):
        for ii, inp in enumerate(agent.inputs):
            yield ai, agent, ii, inp

"""Hook specifications: the broadcast points where any plugin may take part.

A plugin is a module or object with functions decorated ``@ocframe.hookimpl``
whose names match the specifications below; it is found through the
``ocframe.plugins`` entry point group or named in the config
(``plugins.modules``). Arguments are passed by keyword and a hook
implementation may accept any subset of them (pluggy's rule), so new
arguments can be added without breaking existing plugins.

Threads: hooks are never called on the scheduler's thread, so a slow plugin
cannot delay a capture. Each specification says where it runs.

Isolation: the kernel calls hooks as attributes (``pm.hook.ocframe_state_change``)
and guards each implementation on its own: an exception is logged with the
plugin's name and counts as "no result", so one broken plugin neither hides
the others nor stops a kernel thread (``ocframe_pre_ingest`` is the
exception, see there). Wrapper implementations (``wrapper=True``,
``hookwrapper=True``) are refused when the plugin loads: implementations are
independent and must not depend on running around each other.

Debugging a plugin: ``ocframe run --trace-hooks`` (or ``OCFRAME_TRACE_HOOKS=1``)
logs every hook call with its arguments and results on the ``ocframe.hooks``
logger.

Compatibility promise: within a major version, hooks are only added; a
hook's existing arguments keep their names and meaning; return values keep
their types. A hook that must change gets a new name and the old one is
kept, deprecated, for at least one minor release.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .driver import Driver
    from .ingest import IngestStrategy
    from .model import Event, IngestPackage, StateChange, Track

PROJECT = "ocframe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ocframe_driver_types() -> Mapping[str, type[Driver]] | None:  # type: ignore[empty-body]
    """Offer driver classes by name, as an alternative to the
    ``ocframe.drivers`` entry point group (handy for plugins named in the
    config). Called once at start and again after a config reload, on the
    main thread. Return ``{"name": DriverClass}``. Two plugins offering the
    same name is a startup error naming both."""


@hookspec
def ocframe_ingest_strategies() -> Mapping[str, type[IngestStrategy]] | None:  # type: ignore[empty-body]
    """Offer ingest strategy classes by method name, as an alternative to the
    ``ocframe.ingest`` entry point group. Same rules as ocframe_driver_types."""


@hookspec
def ocframe_capabilities(agent: str, inputs: list[str]) -> Mapping[str, str] | None:  # type: ignore[empty-body]
    """Add keys to the capabilities the agent ``agent`` sends to the core.

    Called on the agent's core-communication thread whenever capabilities are
    computed (start, reload, periodically). Return full keys, normally
    ``capture.device.<input>.<what>`` for one of ``inputs``; values are
    strings. ``capture.device.names`` is the kernel's and cannot be
    overridden. Exceptions are logged with the plugin's name and ignored.
    """


@hookspec
def ocframe_capture_started(
    agent: str, recording_id: str, event: Event, input_name: str, segment: int
) -> None:
    """An input started capturing a segment (observers only). Called on the
    ocframe-events thread in order; exceptions are logged and ignored."""


@hookspec
def ocframe_capture_stopped(
    agent: str,
    recording_id: str,
    event: Event,
    input_name: str,
    segment: int,
    tracks: list[Track],
    error: str | None,
) -> None:
    """An input's segment ended: ``tracks`` it produced, or ``error``
    explaining why it produced none. ocframe-events thread; exceptions are
    logged and ignored."""


@hookspec
def ocframe_pre_ingest(
    agent: str, recording_id: str, event: Event, package: IngestPackage, workdir: Any
) -> None:
    """Adjust what will be uploaded, once per recording before its first
    upload attempt, on an ingest worker thread (it may take long: a
    transcode is fine).

    Mutate ``package`` in place: add, replace or remove tracks, add catalogs
    or attachments. New files belong in ``workdir`` (a ``Path`` inside the
    recording's directory), so they live as long as the recording. The
    resulting package is stored, so retries and restarts reuse it.

    Raise :class:`ocframe.errors.IngestVeto` to refuse the upload: the
    recording goes to ``upload_error`` with the reason and stays on disk.
    Any other exception is treated as a failed attempt (retried later), its
    reason naming the plugin; implementations after the failing one are not
    called in that attempt.
    """


@hookspec
def ocframe_state_change(change: StateChange) -> None:
    """An agent or recording state changed (``change.recording_id`` is None
    for agent states). Observers only: monitoring, LEDs, chat messages.
    Called on the ocframe-events thread in the order the changes happened;
    exceptions are logged and ignored."""


@hookspec
def ocframe_config_reloaded(old: Any, new: Any) -> None:
    """The configuration file changed and the new one was applied. ``old``
    and ``new`` are :class:`ocframe.config.OcframeConfig`. Called on the
    ``config-reload`` loop after the swap; exceptions are logged and ignored."""


@hookspec
def ocframe_service_started(status: Any, control: Any, config: Any) -> None:
    """The agent process is running (its agents, uploads and loops started):
    attach a status page, a room panel, a metrics exporter.

    ``status`` is an :class:`ocframe.status.StatusView` (what the process is
    doing, read-only), ``control`` an :class:`ocframe.control.Control` (start
    or stop a recording now, retry or delete one) and ``config`` the
    :class:`ocframe.config.OcframeConfig` (a plugin's own settings are in
    ``config.plugins.settings[<name>]``). Keep them for the life of the
    process. Called once, on the thread that started the process (the main
    thread under ``ocframe run``), before it reports being ready: start your
    own threads and return within a second or two; nothing is returned.
    Raise :class:`ocframe.errors.PluginError` to refuse to start the process
    (a setting that would be unsafe, such as a page reachable from the network
    without a password): ``ocframe run`` ends naming the plugin and reason.
    Any other exception is logged with the plugin's name and ignored."""


@hookspec
def ocframe_service_stopping(status: Any) -> None:
    """The process is about to stop its agents (SIGTERM, the end of a test):
    stop serving and end your threads within a few seconds. ``status`` is the
    :class:`ocframe.status.StatusView` ``ocframe_service_started`` was given
    (one process may run several services in tests). Called once on the
    thread that stops the process; exceptions are logged and ignored."""

# hookspec marks the kernel's specifications; plugins only need hookimpl.
__all__ = [
    "PROJECT",
    "hookimpl",
    "ocframe_capabilities",
    "ocframe_capture_started",
    "ocframe_capture_stopped",
    "ocframe_config_reloaded",
    "ocframe_driver_types",
    "ocframe_ingest_strategies",
    "ocframe_pre_ingest",
    "ocframe_service_started",
    "ocframe_service_stopping",
    "ocframe_state_change",
]

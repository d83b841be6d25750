"""Finding and loading plugins, drivers and ingest strategies.

Entry point groups (documented in docs/plugin-api.md):

- ``ocframe.drivers``: name -> :class:`ocframe.Driver` subclass
- ``ocframe.ingest``: name -> :class:`ocframe.ingest.IngestStrategy` subclass
- ``ocframe.plugins``: name -> module or object with ``@hookimpl`` functions
- ``ocframe.commands``: name -> ``main(argv) -> int`` for ``ocframe <name>``

A plugin that fails to load is recorded with its reason and skipped; the
agent only refuses to start when a configured input or agent needs it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from . import hookspecs
from .driver import Driver
from .errors import PluginError
from .ingest import IngestStrategy

log = logging.getLogger("ocframe.plugins")

GROUP_DRIVERS = "ocframe.drivers"
GROUP_INGEST = "ocframe.ingest"
GROUP_PLUGINS = "ocframe.plugins"
GROUP_COMMANDS = "ocframe.commands"


@dataclass(frozen=True)
class Loaded:
    """Something a plugin provided, and where it came from."""

    kind: str  # "driver", "ingest", "plugin"
    name: str
    obj: Any
    origin: str  # distribution name and version, or "config: module"


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str
    origin: str
    reason: str


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else ep.value


class PluginRegistry:
    """Owns the pluggy manager and the tables of drivers and strategies."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.drivers: dict[str, Loaded] = {}
        self.strategies: dict[str, Loaded] = {}
        self.plugins: dict[str, Loaded] = {}
        self.problems: list[Problem] = []

    @property
    def hook(self) -> Any:
        return self.pm.hook

    # -- loading -----------------------------------------------------------
    def load(self, modules: list[str] | None = None, disabled: list[str] | None = None) -> None:
        skip = set(disabled or ())
        for ep in entry_points(group=GROUP_PLUGINS):
            if ep.name not in skip:
                self._load_plugin(ep.name, _origin(ep), ep.load)
        for mod in modules or ():
            self._load_plugin(mod, f"config: {mod}", lambda m=mod: importlib.import_module(m))
        for ep in entry_points(group=GROUP_DRIVERS):
            if ep.name not in skip:
                self._load_class("driver", ep.name, _origin(ep), ep.load, Driver, self.drivers)
        for ep in entry_points(group=GROUP_INGEST):
            if ep.name not in skip:
                self._load_class(
                    "ingest", ep.name, _origin(ep), ep.load, IngestStrategy, self.strategies
                )
        self._collect_from_hooks()

    def _load_plugin(self, name: str, origin: str, loader: Callable[[], Any]) -> None:
        try:
            obj = loader()
        except Exception as exc:
            self._problem("plugin", name, origin, f"cannot be imported: {exc!r}")
            return
        wrong = [
            attr
            for attr in dir(obj)
            if attr.startswith("ocframe_") and not hasattr(hookspecs, attr)
        ]
        if wrong:
            self._problem("plugin", name, origin, f"declares unknown hook(s): {', '.join(wrong)}")
            return
        try:
            self.pm.register(obj, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._problem("plugin", name, origin, f"declares a wrong hook: {exc}")
            return
        self.plugins[name] = Loaded("plugin", name, obj, origin)

    def _load_class(
        self,
        kind: str,
        name: str,
        origin: str,
        loader: Callable[[], Any],
        base: type,
        table: dict[str, Loaded],
    ) -> None:
        try:
            cls = loader()
        except Exception as exc:
            self._problem(kind, name, origin, f"cannot be imported: {exc!r}")
            return
        if not (inspect.isclass(cls) and issubclass(cls, base)):
            self._problem(kind, name, origin, f"{cls!r} is not a subclass of {base.__name__}")
            return
        if name in table:
            self._problem(
                kind, name, origin, f"name already provided by {table[name].origin}; ignored"
            )
            return
        table[name] = Loaded(kind, name, cls, origin)

    def _collect_from_hooks(self) -> None:
        for hookname, kind, base, table in (
            ("ocframe_driver_types", "driver", Driver, self.drivers),
            ("ocframe_ingest_strategies", "ingest", IngestStrategy, self.strategies),
        ):
            for impl in getattr(self.pm.hook, hookname).get_hookimpls():
                origin = self.plugins.get(impl.plugin_name, None)
                where = origin.origin if origin else impl.plugin_name
                try:
                    offered = impl.function() or {}
                except Exception as exc:
                    self._problem(kind, impl.plugin_name, where, f"{hookname} failed: {exc!r}")
                    continue
                for name, cls in dict(offered).items():
                    self._load_class(kind, name, where, lambda c=cls: c, base, table)

    def _problem(self, kind: str, name: str, origin: str, reason: str) -> None:
        self.problems.append(Problem(kind, name, origin, reason))
        log.error("%s %r (%s) was not loaded: %s", kind, name, origin, reason)

    # -- lookup ------------------------------------------------------------
    def driver(self, name: str) -> type[Driver]:
        return self._get("driver", name, self.drivers)

    def strategy(self, name: str) -> type[IngestStrategy]:
        return self._get("ingest", name, self.strategies)

    def _get(self, kind: str, name: str, table: dict[str, Loaded]) -> Any:
        if name in table:
            return table[name].obj
        for p in self.problems:
            if p.kind == kind and p.name == name:
                raise PluginError(f"{kind} {name!r} ({p.origin}) failed to load: {p.reason}")
        known = ", ".join(sorted(table)) or "none installed"
        raise PluginError(f"unknown {kind} {name!r} (available: {known})")

    # -- calling hooks -----------------------------------------------------
    def call_each(
        self, hookname: str, *, propagate: tuple[type[BaseException], ...] = (), **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call every implementation of a hook on its own, so one failing
        plugin neither hides the others nor reaches the caller (unless its
        exception type is in ``propagate``). Returns (plugin, result) pairs."""
        results: list[tuple[str, Any]] = []
        hook = getattr(self.pm.hook, hookname)
        for impl in reversed(hook.get_hookimpls()):
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            try:
                results.append((impl.plugin_name, impl.function(**args)))
            except propagate:
                raise
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hookname)
        return results


def commands() -> dict[str, EntryPoint]:
    """Subcommands contributed by installed distributions."""
    return {ep.name: ep for ep in entry_points(group=GROUP_COMMANDS)}

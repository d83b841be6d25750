"""Finding and loading plugins, drivers and ingest strategies.

Entry point groups (documented in docs/plugin-api.md):

- ``ocframe.drivers``: name -> :class:`ocframe.Driver` subclass
- ``ocframe.ingest``: name -> :class:`ocframe.ingest.IngestStrategy` subclass
- ``ocframe.plugins``: name -> module or object with ``@hookimpl`` functions
- ``ocframe.commands``: name -> ``main(argv) -> int`` for ``ocframe <name>``

A plugin that fails to load is recorded with its reason and skipped; the
agent only refuses to start when the config names it: an input's driver, an
agent's ingest method, a module in ``plugins.modules``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy
from pydantic import SecretStr, ValidationError

from . import hookspecs
from .config import OcframeConfig, iter_inputs, literal_driver_secrets
from .config_hints import error_message
from .config_secrets import LITERAL_SECRET
from .driver import Driver
from .errors import ConfigError, IngestVeto, PluginError
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


@dataclass(frozen=True)
class Invalid:
    """One thing wrong with a configuration, found against what is installed."""

    where: str  # the key and whose it is: "agents[0].inputs[1].driver (agent 'room-1', ...)"
    reason: str
    #: A plugin the config names (driver, ingest method, module) is not loaded;
    #: otherwise the settings are wrong.
    missing_plugin: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


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
        #: Loaded, but probably not as its author meant (see :meth:`register`).
        self.warnings: list[Problem] = []

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
        self.register(obj, name, origin)

    def register(self, obj: Any, name: str, origin: str = "") -> bool:
        """Register a hook plugin (a module or object with ``@hookimpl``
        functions). Each implementation is guarded (see :func:`_guarded`);
        a plugin with an unknown or wrong hook, or with a wrapper
        implementation, is refused and recorded as a problem."""
        origin = origin or name
        marker = f"{hookspecs.PROJECT}_impl"
        # Only functions count: `import ocframe_driver_x` in a plugin module
        # is no hook, nor is a constant.
        named_like_hooks = [
            attr for attr in dir(obj)
            if attr.startswith("ocframe_") and callable(getattr(obj, attr, None))
        ]
        wrong = [attr for attr in named_like_hooks if not hasattr(hookspecs, attr)]
        if wrong:
            self._problem("plugin", name, origin, f"declares unknown hook(s): {', '.join(wrong)}")
            return False
        wrappers = [
            attr for attr in named_like_hooks
            if any(_impl_opts(obj, attr, marker).get(k) for k in ("wrapper", "hookwrapper"))
        ]
        if wrappers:
            self._problem(
                "plugin", name, origin,
                f"declares wrapper implementation(s) of {', '.join(wrappers)}: ocframe calls"
                " every implementation on its own, so hooks take no wrappers; drop"
                " wrapper=True/hookwrapper=True")
            return False
        try:
            self.pm.register(_GuardedPlugin(obj, name, marker), name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._problem("plugin", name, origin, f"declares a wrong hook: {exc}")
            return False
        self.plugins[name] = Loaded("plugin", name, obj, origin)
        for attr in named_like_hooks:
            if not hasattr(getattr(obj, attr), marker):
                # pluggy passes over an undecorated function without a word:
                # its author would wait for calls that never come.
                self._warn("plugin", name, origin,
                           f"{_qualified(obj, attr)} is named like a hook but has no"
                           " @hookimpl, so it is never called: decorate it with"
                           " @ocframe.hookimpl")
        return True

    def hooks_of(self, name: str) -> list[str]:
        """The hooks the registered plugin ``name`` implements."""
        plugin = self.pm.get_plugin(name)
        callers = self.pm.get_hookcallers(plugin) if plugin is not None else None
        return sorted(caller.name for caller in callers or ())

    def enable_tracing(self, write: Callable[[str], None] | None = None) -> None:
        """Log every hook call with its arguments and results (pluggy's
        tracing), for integrators debugging a plugin. ``ocframe run
        --trace-hooks`` or ``OCFRAME_TRACE_HOOKS=1`` switch it on."""
        trace_log = logging.getLogger("ocframe.hooks")
        self.pm.trace.root.setwriter(write or (lambda text: trace_log.info("%s", text.rstrip())))
        self.pm.enable_tracing()

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
                    offered = _unguarded(impl.function)() or {}
                except Exception as exc:
                    self._problem(kind, impl.plugin_name, where, f"{hookname} failed: {exc!r}")
                    continue
                for name, cls in dict(offered).items():
                    self._load_class(kind, name, where, lambda c=cls: c, base, table)

    def _problem(self, kind: str, name: str, origin: str, reason: str) -> None:
        self.problems.append(Problem(kind, name, origin, reason))
        log.error("%s %r (%s) was not loaded: %s", kind, name, origin, reason)

    def _warn(self, kind: str, name: str, origin: str, reason: str) -> None:
        self.warnings.append(Problem(kind, name, origin, reason))
        log.warning("%s %r (%s): %s", kind, name, origin, reason)

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

    # -- validation --------------------------------------------------------
    def validate(self, config: OcframeConfig) -> None:
        """Refuse a config that names a plugin that is not loaded, or whose
        drivers' or ingest methods' settings are wrong, before anything
        starts. Raises :class:`ConfigError` listing every problem."""
        invalid = self.config_problems(config)
        if invalid:
            source = config.source or Path("<config>")
            raise ConfigError(f"{source}: invalid configuration\n  "
                              + "\n  ".join(str(i) for i in invalid))

    def named_in(self, config: OcframeConfig) -> set[tuple[str, str]]:
        """``(kind, name)`` of every plugin ``config`` names, which must load."""
        named = {("plugin", module) for module in config.plugins.modules}
        named |= {("driver", inp.driver) for _, _, _, inp in iter_inputs(config)}
        named |= {("ingest", agent.ingest.method) for agent in config.agents}
        return named

    def config_problems(self, config: OcframeConfig) -> list[Invalid]:
        """Everything :meth:`validate` refuses, one entry each."""
        invalid: list[Invalid] = []
        for mi, module in enumerate(config.plugins.modules):
            if module not in self.plugins:
                reasons = [p.reason for p in self.problems
                           if p.kind == "plugin" and p.name == module]
                why = (f"failed to load: {reasons[0]}" if reasons else
                       "is not loaded (plugin modules are loaded when the agent starts:"
                       " restart it)")
                invalid.append(Invalid(f"plugins.modules[{mi}]",
                                       f"plugin module {module!r} {why}", missing_plugin=True))
        for ai, agent, ii, inp in iter_inputs(config):
            where = f"agents[{ai}].inputs[{ii}]"
            whose = f"(agent {agent.name!r}, input {inp.name!r})"
            try:
                cls = self.driver(inp.driver)
            except PluginError as exc:
                invalid.append(Invalid(f"{where}.driver {whose}", str(exc), missing_plugin=True))
                continue
            try:
                cls.Settings(**inp.settings)
            except ValidationError as exc:
                for err in exc.errors():
                    key = ".".join(str(p) for p in err["loc"])
                    invalid.append(Invalid(f"{where}.settings.{key} {whose}",
                                           error_message(err, cls.Settings)))
                continue
            secret_fields = [
                name for name, f in cls.Settings.model_fields.items()
                if f.annotation is SecretStr or f.annotation == SecretStr | None
            ]
            # A table of secrets (a driver's ``{secret.NAME}``): each value too.
            secret_fields += [
                f"{name}.{key}" for name, f in cls.Settings.model_fields.items()
                if f.annotation == dict[str, SecretStr]
                for key in (inp.settings.get(name) or {})
            ]
            for fname in literal_driver_secrets(config, ai, ii, secret_fields):
                invalid.append(Invalid(f"{where}.settings.{fname} {whose}", LITERAL_SECRET))
        for ai, agent in enumerate(config.agents):
            method = agent.ingest.method
            whose = f"(agent {agent.name!r}, ingest method {method!r})"
            try:
                scls = self.strategy(method)
            except PluginError as exc:
                invalid.append(Invalid(f"agents[{ai}].ingest.method (agent {agent.name!r})",
                                       str(exc), missing_plugin=True))
                continue
            try:
                scls.Settings(**agent.ingest.settings)
            except ValidationError as exc:
                for err in exc.errors():
                    key = ".".join(str(p) for p in err["loc"])
                    invalid.append(Invalid(f"agents[{ai}].ingest.settings.{key} {whose}",
                                           error_message(err, scls.Settings)))
        return invalid


def load_plugins(config: OcframeConfig) -> PluginRegistry:
    """A registry with every installed plugin and the config's own modules."""
    registry = PluginRegistry()
    registry.load(config.plugins.modules, config.plugins.disabled)
    if os.environ.get("OCFRAME_TRACE_HOOKS", "").lower() in ("1", "true", "yes"):
        registry.enable_tracing()
    return registry


#: Hooks whose exceptions reach the kernel: a pre-ingest plugin's veto ends
#: the upload, any other failure fails the attempt (docs in hookspecs).
_PROPAGATE: dict[str, tuple[type[BaseException], ...]] = {"ocframe_pre_ingest": (Exception,)}


def _qualified(obj: Any, attr: str) -> str:
    """``module:function`` (or ``module:Class.method``) for a plugin's attribute."""
    if inspect.ismodule(obj):
        return f"{obj.__name__}:{attr}"
    return f"{type(obj).__module__}:{type(obj).__qualname__}.{attr}"


def _impl_opts(obj: Any, attr: str, marker: str) -> dict[str, Any]:
    opts = getattr(getattr(obj, attr, None), marker, None)
    return opts if isinstance(opts, dict) else {}


def _unguarded(function: Callable[..., Any]) -> Callable[..., Any]:
    return getattr(function, "__ocframe_unguarded__", function)


def _guarded(function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
    """One implementation, isolated: its exception is logged with the
    plugin's name and becomes "no result", so one broken plugin neither
    hides the others nor reaches a kernel thread. Hooks in ``_PROPAGATE``
    let their exceptions through, named after the plugin."""
    propagate = _PROPAGATE.get(hook, ())

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except IngestVeto:
            raise
        except propagate as exc:
            raise PluginError(f"plugin {plugin} failed in {hook}: {exc!r}") from exc
        except Exception:
            log.exception("plugin %s failed in %s (ignored)", plugin, hook)
            return None

    guarded.__ocframe_unguarded__ = function  # type: ignore[attr-defined]
    return guarded


class _GuardedPlugin:
    """What is registered with pluggy in a plugin's place: its hook
    implementations, each wrapped by :func:`_guarded`, with their markers."""

    def __init__(self, obj: Any, name: str, marker: str) -> None:
        self.__wrapped_plugin__ = obj
        for attr in dir(obj):
            function = getattr(obj, attr, None)
            if attr.startswith("ocframe_") and callable(function) and hasattr(function, marker):
                setattr(self, attr, _guarded(function, name, attr))

    def __repr__(self) -> str:
        return f"<plugin {self.__wrapped_plugin__!r}>"


def commands() -> dict[str, EntryPoint]:
    """Subcommands contributed by installed distributions."""
    return {ep.name: ep for ep in entry_points(group=GROUP_COMMANDS)}

"""The ``ocframe`` command."""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from . import scaffold
from .config import load_config
from .errors import ConfigError, CoreError, OcframeError, PluginError
from .plugins import commands as plugin_commands
from .version import __version__

DEFAULT_CONFIG = "/etc/ocframe/ocframe.toml"
# Commands that left the kernel for an optional distribution: without it,
# name what to install rather than let argparse list the other commands.
MOVED_COMMANDS = {"demo": "ocframe-simulator", "simulator": "ocframe-simulator",
                  "import-pyca": "ocframe-driver-command"}


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("OCFRAME_CONFIG") or DEFAULT_CONFIG)


def _setup_logging(level: str, log_format: str = "text") -> None:
    from .logs import setup_logging

    setup_logging(level, log_format)


def cmd_run(args: argparse.Namespace) -> int:
    from .plugins import load_plugins
    from .reload import ConfigWatcher
    from .service import Service
    from .systemd import notify, start_watchdog

    # Recordings, the store and the health file are nobody else's business;
    # the systemd unit sets UMask= too, this covers every other way to start.
    os.umask(os.umask(0o027) | 0o027)
    path = _config_path(args)
    config = load_config(path)
    _setup_logging(args.log_level or config.log_level, args.log_format or config.log_format)
    plugins = load_plugins(config)
    if args.trace_hooks:
        plugins.enable_tracing()
    service = Service(config, plugins)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    service.start()
    watcher = None
    if not args.no_reload:
        watcher = ConfigWatcher(path, service.apply_config)
        service.loops.add(watcher.loop)
        watcher.start()
    start_watchdog(service.alive, stop)
    notify("READY=1\nSTATUS=running " + ", ".join(service.agents))
    logging.getLogger("ocframe").info(
        "ocframe %s running agent(s) %s against %s", __version__, ", ".join(service.agents),
        config.core.url,
    )
    stop.wait()
    notify("STOPPING=1")
    if watcher:
        watcher.stop()
    service.stop()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .opencast.registry import CAPTURE_ADMIN, INGEST, SCHEDULER
    from .plugins import load_plugins

    path = _config_path(args)
    ok = True
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"config      FAIL  {exc}")
        return 2
    plugins = load_plugins(config)
    # Settings are only known once the drivers and ingest methods are loaded:
    # the config is "ok" when they accepted theirs, and a plugin the config
    # names that did not load fails the check rather than being a warning.
    invalid = plugins.config_problems(config)
    wrong_settings = [i for i in invalid if not i.missing_plugin]
    missing = [i for i in invalid if i.missing_plugin]
    for i in wrong_settings:
        print(f"config      FAIL  {i}")
    if not wrong_settings:
        print(f"config      ok    {path}")
    named = plugins.named_in(config)
    for p in plugins.problems:
        if (p.kind, p.name) not in named:
            print(f"plugin      WARN  {p.kind} {p.name} ({p.origin}): {p.reason}")
    for p in plugins.warnings:
        print(f"plugin      WARN  {p.kind} {p.name} ({p.origin}): {p.reason}")
    for i in missing:
        print(f"plugins     FAIL  {i}")
    if not missing:
        print("plugins     ok    every plugin the config names is loaded")
    if invalid:
        print()
        print(f"some checks FAILED: {path} is refused by `ocframe run`")
        return 2
    from .opencast.client import OpencastClient

    client = OpencastClient(config.core)
    for stype in (CAPTURE_ADMIN, SCHEDULER, INGEST):
        try:
            url = client.registry.lookup(stype)
            refused = client.registry.refused.get(stype)
            if refused:
                ok = False
                print(f"core        FAIL  {refused}")
            else:
                print(f"core        ok    {stype} at {url}")
        except CoreError as exc:
            ok = False
            print(f"core        FAIL  {stype}: {exc.reason}")
    for agent in config.agents:
        try:
            client.fetch_calendar(agent.name, int(time.time() * 1000), None)
            print(f"core        ok    user {config.core.user!r} may read {agent.name}'s calendar")
        except CoreError as exc:
            ok = False
            print(f"core        FAIL  {exc.reason}")
    client.close()
    from .ffmpeg import find_ffmpeg, find_ffprobe
    from .model import InputSpec

    tools = {"ffmpeg": find_ffmpeg(config.tools.ffmpeg)}
    probe = find_ffprobe(config.tools.ffprobe)
    if probe:
        tools["ffprobe"] = probe
    rows: list[tuple[str, str, str, str, str]] = []
    for agent in config.agents:
        for inp in agent.inputs:
            cls = plugins.driver(inp.driver)
            spec = InputSpec(inp.name, agent.name, inp.driver, inp.flavor,
                             cls.Settings(**inp.settings), tools)
            try:
                results = cls(spec).check()
            except Exception as exc:  # a check must report, not crash
                results = []
                ok = False
                rows.append((agent.name, inp.name, inp.driver, "FAIL", f"check crashed: {exc!r}"))
            for result in results:
                rows.append((agent.name, inp.name, inp.driver, "ok" if result.ok else "FAIL",
                             f"{result.name}: {result.detail}" if result.detail else result.name))
                ok = ok and result.ok
    if rows:
        widths = [max(len(row[i]) for row in [*rows, ("agent", "input", "driver", "", "")])
                  for i in range(4)]
        print()
        print(f"{'agent':<{widths[0]}}  {'input':<{widths[1]}}  {'driver':<{widths[2]}}  "
              f"{'':<{widths[3]}}  check")
        for row in rows:
            print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  "
                  f"{row[3]:<{widths[3]}}  {row[4]}")
    ok = _print_health(config.storage.directory / "health.json") and ok
    print()
    print("all checks passed" if ok else "some checks FAILED")
    return 0 if ok else 1


def _print_health(path: Path) -> bool:
    """The running agent's loops, as it last wrote them; False if any hangs
    or keeps failing."""
    from .health import read_health

    report = read_health(path)
    print()
    if report is None:
        print("agent       --    not running here (no health report in the storage directory)")
        return True
    when = time.strftime("%H:%M:%S", time.localtime(report.written))
    if report.stale:
        print(f"agent       WARN  process {report.pid} last reported its health at {when};"
              " is it still running?")
        return True
    ok = True
    print(f"agent       ok    process {report.pid}, health reported at {when}")
    for h in report.loops:
        last = time.strftime("%H:%M:%S", time.localtime(h.last_round)) if h.last_round else "-"
        bad = h.state in ("failing", "stalled", "dead")
        ok = ok and not bad
        detail = f"  {h.failures} failed round(s), last: {h.last_error}" if bad else ""
        print(f"loop        {'FAIL' if bad else 'ok':<4}  {h.name:<24} {h.state:<8} last round"
              f" {last}{detail}")
    return ok


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import PluginRegistry

    reg = PluginRegistry()
    modules: list[str] = []
    if args.config:
        try:
            modules = load_config(Path(args.config)).plugins.modules
        except ConfigError as exc:
            print(f"(config not read: {exc})", file=sys.stderr)
    reg.load(modules)
    for title, table in (("drivers", reg.drivers), ("ingest methods", reg.strategies),
                         ("plugins", reg.plugins)):
        print(f"{title}:")
        for name, loaded in sorted(table.items()):
            obj = loaded.obj
            where = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
            if inspect.ismodule(obj):
                where = obj.__name__
            print(f"  {name:<16} {loaded.origin:<36} {where.strip('.')}")
            if loaded.kind == "plugin":
                print(f"  {'':<16} hooks: {', '.join(reg.hooks_of(name)) or '(none)'}")
        if not table:
            print("  (none)")
    cmds = plugin_commands()
    print("commands:")
    for name, ep in sorted(cmds.items()):
        origin = f"{ep.dist.name} {ep.dist.version}" if ep.dist else ""
        print(f"  {name:<16} {origin:<36} {ep.value}")
    if not cmds:
        print("  (none)")
    if reg.problems:
        print("problems:")
        for p in reg.problems:
            print(f"  {p.kind} {p.name} ({p.origin}): {p.reason}")
    if reg.warnings:
        print("warnings:")
        for p in reg.warnings:
            print(f"  {p.kind} {p.name} ({p.origin}): {p.reason}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from .plugins import load_plugins

    config = load_config(_config_path(args))
    # What `run` would refuse is no effective configuration: validated the
    # same way (drivers' and ingest methods' settings, named plugins).
    load_plugins(config).validate(config)
    print(json.dumps(config.masked(), indent=2))
    return 0


def cmd_recordings(args: argparse.Namespace) -> int:
    from .cli_recordings import recordings_command

    return recordings_command(args, load_config(_config_path(args)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocframe", description="Opencast capture agent")
    parser.add_argument("--version", action="version", version=f"ocframe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-c", "--config", help=f"config file (default $OCFRAME_CONFIG or "
                                              f"{DEFAULT_CONFIG})")
        return p

    p = with_config(sub.add_parser("run", help="run the agent(s)"))
    p.add_argument("--log-level")
    p.add_argument("--log-format", choices=["text", "json"],
                   help="json: one object per line with agent, recording_id, input, state")
    p.add_argument("--no-reload", action="store_true", help="do not watch the config file")
    p.add_argument("--trace-hooks", action="store_true",
                   help="log every plugin hook call (also OCFRAME_TRACE_HOOKS=1)")
    with_config(sub.add_parser("check", help="validate config, plugins, core and inputs"))
    with_config(sub.add_parser("plugins", help="list drivers, ingest methods and plugins"))
    with_config(sub.add_parser("config", help="print the effective config, secrets masked"))
    p = with_config(sub.add_parser("recordings", help="list, show, retry or delete recordings"))
    p.add_argument("action", choices=["list", "show", "retry", "delete"])
    p.add_argument("id", nargs="?")
    p.add_argument("--force", action="store_true")
    p.add_argument("--wait", action="store_true",
                   help="retry: follow the upload to its end with a progress bar")
    scaffold.add_parser(sub)
    for name in plugin_commands():
        sub.add_parser(name, help="(plugin command)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = plugin_commands()
    if argv and argv[0] in extra:
        return int(extra[argv[0]].load()(argv[1:]) or 0)
    if argv and argv[0] in MOVED_COMMANDS:
        dist = MOVED_COMMANDS[argv[0]]
        print(f"ocframe: the '{argv[0]}' command comes with the {dist} distribution, which is "
              f"not installed: pip install {dist}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    handlers = {
        "run": cmd_run, "check": cmd_check, "plugins": cmd_plugins, "config": cmd_config,
        "recordings": cmd_recordings, "new-driver": scaffold.cmd_new_driver,
    }
    try:
        return handlers[args.command](args)
    except ConfigError as exc:
        print(f"ocframe: {exc}", file=sys.stderr)
        return 2
    except (PluginError, OcframeError) as exc:
        print(f"ocframe: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

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
from .config import OcframeConfig, load_config
from .errors import ConfigError, CoreError, OcframeError, PluginError
from .model import IngestPackage
from .plugins import commands as plugin_commands
from .version import __version__

DEFAULT_CONFIG = "/etc/ocframe/ocframe.toml"
# Commands that left the kernel for an optional distribution: without it,
# name what to install rather than let argparse list the other commands.
MOVED_COMMANDS = {"demo": "ocframe-simulator", "simulator": "ocframe-simulator",
                  "import-pyca": "ocframe-driver-command"}


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config or os.environ.get("OCFRAME_CONFIG") or DEFAULT_CONFIG)


def _setup_logging(level: str) -> None:
    from .logs import setup_logging

    setup_logging(level)


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
    _setup_logging(args.log_level or config.log_level)
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
    from .model import RecordingState
    from .model import printable as p
    from .store import RecordingStore

    # Ids, titles and reasons come from the calendar and the core: printed
    # through printable(), a title cannot rewrite the operator's terminal.
    config: OcframeConfig = load_config(_config_path(args))
    store = RecordingStore(config.storage.directory / "recordings.db", set_aside_corrupt=False)
    if args.action == "list":
        recs = store.recordings()
        for r in recs:
            print(f"{p(r.id, limit=60):<40} {r.agent:<14} {r.state:<17}"
                  f" {r.event.start:%Y-%m-%d %H:%M} {p(r.event.title, limit=40)}")
        if not recs:
            print("no recordings")
        return 0
    if not args.id:
        print("a recording id is required", file=sys.stderr)
        return 2
    rec = store.get(args.id)
    if rec is None:
        print(f"no recording {p(args.id)!r}", file=sys.stderr)
        return 1
    if args.action == "show":
        print(f"id:        {p(rec.id)}\nagent:     {rec.agent}\n"
              f"title:     {p(rec.event.title)}")
        print(f"scheduled: {rec.event.start.isoformat()} - {rec.event.end.isoformat()}")
        print(f"state:     {rec.state}\ndirectory: {rec.directory}")
        if rec.error:
            print(f"error:     {p(rec.error, limit=None)}")
        print("segments:")
        for s in store.segments(rec.id):
            files = ", ".join(f"{t.path.name} ({t.flavor})" for t in s.tracks) or "-"
            error = f"  error: {p(s.error, limit=None)}" if s.error else ""
            print(f"  {s.input} #{s.segment}: {p(files, limit=None)}{error}")
        print("states:")
        for at, state, detail in store.history(rec.id):
            print(f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(at))} {state}"
                  f"{'  ' + p(detail, limit=None) if detail else ''}")
        _print_package(rec.package, rec.directory)
        print("uploads:")
        for a in store.attempts(rec.id):
            outcome = a["outcome"] or "running"
            print(f"  #{a['attempt']} {a['method']} {outcome} {p(a['detail'] or '', limit=None)}")
        return 0
    if args.action == "retry":
        if rec.state == RecordingState.CAPTURING:
            print("still capturing; it will be uploaded when it ends", file=sys.stderr)
            return 1
        store.reset_attempts(rec.id)
        store.set_state(rec.id, RecordingState.CAPTURE_FINISHED, "operator asked to re-ingest")
        print(f"{p(rec.id)} queued for upload; a running agent picks it up within seconds")
        return 0
    if args.action == "delete":
        if rec.state not in (RecordingState.UPLOAD_FINISHED, RecordingState.UPLOAD_ERROR,
                             RecordingState.CAPTURE_ERROR) and not args.force:
            print(f"{p(rec.id)} is {rec.state}, not yet ingested; add --force to delete it anyway",
                  file=sys.stderr)
            return 1
        store.delete(rec.id)
        print(f"{p(rec.id)} deleted with its files")
        return 0
    return 2


def _print_package(package: IngestPackage | None, directory: Path) -> None:
    """What the upload sends, as the ``pre_ingest`` hooks left it; paths
    inside the recording's directory relative to it."""
    from .model import printable as p

    if package is None:
        print("package:   not built yet (when the upload starts, after the pre_ingest hooks)")
        return
    print("package (after the pre_ingest hooks):")
    for kind, elements in (("track", package.tracks), ("catalog", package.catalogs),
                           ("attachment", package.attachments)):
        for e in elements:
            try:
                size = f"{e.path.stat().st_size} bytes"
            except OSError:
                size = "missing"
            shown = e.path.relative_to(directory) if e.path.is_relative_to(directory) else e.path
            print(f"  {kind:<10} {p(e.flavor)} {p(e.mimetype)} {p(str(shown), limit=None)}"
                  f" ({size})")


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

"""Command line: run the simulator stand-alone.

Used by `ocframe simulator` and `python -m ocframe_simulator`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta

from .auth import AUTH_MODES, DEFAULT_USERS
from .records import RequestLog
from .simulator import OpencastSimulator


def _user(value: str) -> tuple[str, str, set[str]]:
    parts = value.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD:ROLE[,ROLE]")
    name, password, roles = parts
    return name, password, {r.strip() for r in roles.split(",") if r.strip()}


def _schedule(value: str) -> tuple[str, float, float, str | None]:
    parts = value.split(":", 3)
    if len(parts) < 3:
        raise argparse.ArgumentTypeError("expected AGENT:START_IN_SECONDS:DURATION_SECONDS[:TITLE]")
    try:
        start_in, duration = float(parts[1]), float(parts[2])
    except ValueError as exc:
        raise argparse.ArgumentTypeError("start and duration must be numbers") from exc
    if duration <= 0:
        raise argparse.ArgumentTypeError("duration must be positive")
    return parts[0], start_in, duration, parts[3] if len(parts) == 4 else None


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Run an embedded Opencast core for capture agents.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--ingest-host", metavar="ADDRESS",
                        help="serve ingest only on a second listener at this address (a"
                             " distributed core); the service registry names it")
    parser.add_argument("--auth", choices=AUTH_MODES, default="basic")
    parser.add_argument("--user", type=_user, action="append", default=[],
                        metavar="NAME:PASSWORD:ROLE[,ROLE]",
                        help="replaces the default users; repeatable")
    parser.add_argument("--storage", metavar="DIR", help="keep uploads here (default: temporary)")
    parser.add_argument("--schedule", type=_schedule, action="append", default=[],
                        metavar="AGENT:START_IN_SECONDS:DURATION_SECONDS[:TITLE]",
                        help="schedule an event; repeatable")
    parser.add_argument("--fold", action="store_true", help="fold calendar lines at 75 octets")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    return parser


def log_line(entry: RequestLog) -> str:
    """One request as the CLI prints it, with the host the client addressed."""
    stamp = datetime.fromtimestamp(entry.time).strftime("%H:%M:%S")
    query = f"?{entry.query}" if entry.query else ""
    who = f"{entry.user}/{entry.auth_scheme}" if entry.user else "-"
    fault = f" fault={entry.fault}" if entry.fault else ""
    return (f"{stamp} {entry.status or 'RST'} {entry.method} {entry.host}{entry.path}{query}"
            f" {who} {entry.duration * 1000:.0f}ms{fault}")


def _log_line(entry: RequestLog) -> None:
    print(log_line(entry), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    users = ({name: (pw, roles) for name, pw, roles in args.user}
             if args.user else DEFAULT_USERS)
    sim = OpencastSimulator(auth=args.auth, users=users, storage_dir=args.storage,
                            host=args.host, port=args.port, ingest_host=args.ingest_host)
    sim.fold_calendar_lines = args.fold
    if not args.quiet:
        sim.request_listeners.append(_log_line)
    stop = threading.Event()
    # Set before anything else: a SIGINT ignored by whoever started us (a
    # script's background job inherits that) or a SIGTERM (systemd, docker
    # stop) must still stop the simulator cleanly, as they stop the agent.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        sim.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    print(f"Opencast simulator listening on {sim.url} (auth: {args.auth})")
    if sim.ingest_url != sim.url:
        print(f"  ingest on {sim.ingest_url}")
    for name, (password, roles) in sim.users.items():
        print(f"  user {name}:{password} {','.join(sorted(roles))}")
    for agent, start_in, duration, title in args.schedule:
        start = now + timedelta(seconds=start_in)
        uid = sim.add_event(agent, start, start + timedelta(seconds=duration),
                            title=title or f"Recording for {agent}")
        print(f"  scheduled {uid} on {agent} at {start:%H:%M:%S}Z for {duration:g}s")
    print(f"  uploads stored in {sim.storage_dir}", flush=True)
    try:
        stop.wait()
        print("stopping", flush=True)
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``ocframe status``, ``ocframe record``, ``ocframe upload`` and
``ocframe web-password``: the running agent from a terminal.

They talk to the agent's own page (its address is in ``<storage>/web.url``,
written while it runs), through the same API and the same checks as the
browser: a password when the page has one (``$OCFRAME_WEB_PASSWORD`` or a
prompt), the page's token on every action.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from datetime import datetime
from typing import Any

import requests
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text
from werkzeug.security import generate_password_hash

from ocframe.errors import ConfigError
from ocframe.model import printable
from ocframe.status import storage_directory

from .app import parse_duration
from .plugin import URL_FILE

ENV_PASSWORD = "OCFRAME_WEB_PASSWORD"
DONE = {"upload_finished", "upload_error", "capture_error"}


class CommandError(Exception):
    """Said to the operator as it is; the command exits with 1."""


class AgentPage:
    """The running agent's API, as its page calls it."""

    def __init__(self, config: str | None, user: str) -> None:
        try:
            storage = storage_directory(config)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        try:
            self.url = (storage / URL_FILE).read_text().strip()
        except OSError:
            raise CommandError(f"no agent with the web page runs here (no {URL_FILE} in"
                               f" {storage}): is `ocframe run` running, with ocframe-web"
                               " installed?") from None
        self.url = self.url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")
        self.http = requests.Session()
        self.user = user
        self._token: str | None = None

    def _send(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self.http.request(method, self.url + "/api/v1" + path, timeout=15, **kw)
            if response.status_code == 401 and self.http.auth is None:
                password = os.environ.get(ENV_PASSWORD) or getpass.getpass(
                    f"password of {self.user} for {self.url}: ")
                self.http.auth = (self.user, password)
                response = self.http.request(method, self.url + "/api/v1" + path, timeout=15,
                                             **kw)
        except requests.RequestException as exc:
            raise CommandError(f"the agent at {self.url} does not answer: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not response.ok:
            raise CommandError(data.get("error") or f"{response.status_code} {response.reason}")
        return data

    def get(self, path: str) -> Any:
        return self._send("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        if self._token is None:
            self._token = self.get("/session")["csrf_token"]
        return self._send("POST", path, json=body,
                          headers={"X-CSRF-Token": self._token, "Origin": self.url})


# -- ocframe status ------------------------------------------------------------------

def _ago(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "never"
    seconds = max(0.0, now - epoch)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


STATE_STYLE = {"idle": "green", "capturing": "bold blue", "uploading": "cyan", "error": "bold red",
               "upload_finished": "green", "upload_error": "bold red",
               "capture_error": "bold red", "capture_finished": "yellow"}


def safe(text: str, style: str = "") -> Text:
    """Untrusted text (titles, errors from the calendar and the core) for the
    terminal: never read as rich markup, control characters shown escaped."""
    return Text(printable(text), style=style)


def render_status(status: dict[str, Any], now: float) -> Group:
    parts: list[Any] = []
    for agent in status["agents"]:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="dim")
        table.add_column()
        table.add_row("state", Text(agent["state"], style=STATE_STYLE.get(agent["state"], "")))
        contact = agent["contact_error"] or f"last contact {_ago(agent['last_contact'], now)}"
        table.add_row("core", safe(contact, "red" if agent["contact_error"] else ""))
        table.add_row("calendar", _ago(agent["last_calendar_sync"], now))
        if agent["error"]:
            table.add_row("error", safe(agent["error"], "red"))
        for run in agent["running"]:
            start = datetime.fromisoformat(run["start"]).timestamp()
            end = datetime.fromisoformat(run["end"]).timestamp()
            kind = "ad-hoc " if run["unscheduled"] else ""
            table.add_row("recording", safe(
                f"{kind}{run['title']} ({_span(now - start)} of {_span(end - start)})", "bold"))
            for inp in run["inputs"]:
                table.add_row("", safe(f"{inp['name']}: segment {inp['segment']}"
                                       + ("" if inp["capturing_since"] else ", waiting")))
        for event in agent["next_events"][:3]:
            start = datetime.fromisoformat(event["start"])
            table.add_row("next", safe(f"{start.astimezone():%a %H:%M} {event['title']}"
                                       f" (in {_span(start.timestamp() - now)})"))
        parts.append(Panel(table, title=safe(agent["name"]), title_align="left", expand=False))
    recordings = Table("recording", "agent", "state", "upload", "error", title="recordings",
                       title_justify="left")
    for rec in status["recordings"][:10]:
        upload = rec["upload"]
        progress = (f"{upload['sent'] / max(upload['total'], 1):.0%}" if upload else "")
        recordings.add_row(safe(rec["title"] or rec["id"]), safe(rec["agent"]),
                           safe(rec["state"], STATE_STYLE.get(rec["state"], "")),
                           progress, safe(rec["error"] or "", "red"))
    parts.append(recordings)
    bad = [f"{loop['name']} {loop['state']}" for loop in status["loops"] if loop["state"] != "ok"]
    disk = status["disk"]
    free = f"{disk['free_bytes'] / 2**30:.1f} GiB free" if disk["free_bytes"] is not None else "?"
    parts.append(Text(f"disk: {free}{' (LOW)' if disk['low'] else ''} · loops: "
                      + (", ".join(bad) if bad else "all ok")))
    return Group(*parts)


def status_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ocframe status",
                                     description="what the running agent does, at a glance")
    _common(parser)
    parser.add_argument("--json", action="store_true", help="the raw /api/v1/status answer")
    args = parser.parse_args(argv)
    return _run(lambda: _status(args))


def _status(args: argparse.Namespace) -> int:
    page = AgentPage(args.config, args.user)
    status = page.get("/status")
    if args.json:
        import json

        print(json.dumps(status, indent=2))
    else:
        Console().print(render_status(status, time.time()))
    return 0


# -- ocframe record / upload -----------------------------------------------------------

def record_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ocframe record", description="start an ad-hoc recording now (or stop one)")
    _common(parser)
    parser.add_argument("agent")
    parser.add_argument("--duration", default="45m", help="45m, 1h30m, 90s (default 45m)")
    parser.add_argument("--title", default="")
    parser.add_argument("--workflow", help="workflow definition (default: the agent's)")
    parser.add_argument("--stop", action="store_true", help="stop the running recording now")
    parser.add_argument("--wait", action="store_true",
                        help="stay until it is ingested, with a progress bar")
    args = parser.parse_args(argv)
    return _run(lambda: _record(args))


def _record(args: argparse.Namespace) -> int:
    page = AgentPage(args.config, args.user)
    agent = args.agent
    if args.stop:
        stopped = page.post(f"/agents/{agent}/stop", {})["stopped"]
        print(f"stopped {', '.join(stopped)}; it is uploaded now")
        rid = stopped[0]
    else:
        try:
            duration = parse_duration(args.duration)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        rid = page.post(f"/agents/{agent}/record", {
            "duration": duration.total_seconds(), "title": args.title,
            **({"workflow": args.workflow} if args.workflow else {})})["recording_id"]
        print(f"recording {rid} on {agent} for {duration}; stop it with"
              f" `ocframe record {agent} --stop`")
    return _follow(page, rid) if args.wait else 0


def upload_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ocframe upload",
        description="upload a recording again now, through the running agent, and show its"
                    " progress (offline: `ocframe recordings retry`)")
    _common(parser)
    parser.add_argument("recording_id")
    parser.add_argument("--no-wait", action="store_true", help="queue it and return")
    args = parser.parse_args(argv)
    return _run(lambda: _upload(args))


def _upload(args: argparse.Namespace) -> int:
    page = AgentPage(args.config, args.user)
    page.post(f"/recordings/{args.recording_id}/retry", {})
    print(f"{args.recording_id} queued for upload")
    return 0 if args.no_wait else _follow(page, args.recording_id)


def _follow(page: AgentPage, rid: str) -> int:
    """Show the recording's capture, then its upload, until it is done."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("waiting", total=None)
        while True:
            rec = page.get(f"/recordings/{rid}")
            state = rec["state"]
            upload = rec["upload"]
            if upload:
                progress.update(task, description="uploading", total=upload["total"],
                                completed=upload["sent"])
            else:
                progress.update(task, description=state)
            if state in DONE:
                break
            time.sleep(0.5)
        if state == "upload_finished":
            progress.update(task, completed=progress.tasks[0].total or 1,
                            total=progress.tasks[0].total or 1)
    if state != "upload_finished":
        print(f"{rid}: {state}: {rec['error'] or ''}", file=sys.stderr)
        return 1
    print(f"{rid} ingested")
    return 0


# -- ocframe web-password ----------------------------------------------------------------

def password_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ocframe web-password",
        description="make the password hash for [plugins.settings.web] password_hash")
    parser.parse_args(argv)
    first = getpass.getpass("new password for the status page: ")
    if len(first) < 10:
        print("use at least 10 characters", file=sys.stderr)
        return 1
    if getpass.getpass("again: ") != first:
        print("the passwords differ", file=sys.stderr)
        return 1
    print(generate_password_hash(first))
    print("put it in the secrets file as web_password_hash = \"...\" and set"
          ' password_hash = "${web_password_hash}" under [plugins.settings.web]',
          file=sys.stderr)
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", help="config file (default $OCFRAME_CONFIG or"
                                               " /etc/ocframe/ocframe.toml)")
    parser.add_argument("--user", default="operator", help="the page's user (default operator)")


def _run(action: Any) -> int:
    try:
        return int(action())
    except CommandError as exc:
        print(f"ocframe: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


"""``ocframe import-pyca PYCA.conf [-o ocframe.toml]``: a pyCA configuration
as an ocframe one, capturing with the command driver.

pyCA's file is ConfigObj-style INI (``key = 'value'``, lists as
``'a', 'b'``), read here with :mod:`configparser` and a small value parser.
What converts, and to what, is :data:`CONVERSIONS`; every other key ends in the
report as having no equivalent, so nothing is dropped silently. The password
never appears in the output or the report: the config refers to
``${core_password}`` and the report says where to put it (``--write-secrets``
writes that file, mode 600).
"""

from __future__ import annotations

import argparse
import configparser
import json
import math
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .driver import guess_mimetype

#: pyCA placeholders and ours.
PLACEHOLDERS = {"time": "{duration}", "dir": "{dir}", "name": "{name}", "previewdir": "{dir}"}
_PYCA_FIELD = re.compile(r"\{\{(\w+)\}\}|[{}]")
_LIST_ITEM = re.compile(r"""\s*('(?:[^'])*'|"(?:[^"])*"|[^,]*?)\s*(?:,|$)""")
SECRET_NAME = "core_password"

#: (section, key) -> what it became; shown in the report.
CONVERSIONS = {
    ("agent", "name"): "agents[0].name",
    ("agent", "update_frequency"): "agents[0].calendar.poll_interval (seconds)",
    ("agent", "cal_lookahead"): "agents[0].calendar.lookahead (days -> seconds)",
    ("capture", "directory"): "storage.directory",
    ("capture", "command"): "agents[0].inputs[0].settings.command (split into arguments, no shell)",
    ("capture", "flavors"): "agents[0].inputs[0].settings.outputs[].flavor",
    ("capture", "files"): "agents[0].inputs[0].settings.outputs[].path",
    ("server", "url"): "core.url",
    ("server", "username"): "core.user (auth = digest, as pyCA)",
    ("server", "password"): f"the secrets file: {SECRET_NAME}",
    ("server", "insecure"): "core.insecure",
    ("server", "certificate"): "core.ca_bundle",
    ("ui", "url"): "agents[0].address",
    ("ingest", "delete_after_upload"): "agents[0].ingest.delete_after_upload",
}

#: Keys ocframe deliberately has no equivalent for, with why.
NO_EQUIVALENT = {
    ("agent", "backup_mode"): "no backup mode: ocframe always registers the agent and "
                              "ingests its recordings",
    ("agent", "ignore_timezone"): "ocframe works in UTC as the core's calendar does",
    ("agent", "database"): "ocframe keeps its own store in storage.directory",
    ("capture", "preview_dir"): "no confidence-monitoring previews",
    ("capture", "preview"): "no confidence-monitoring previews",
    ("capture", "sources"): "one input per command; add [[agents.inputs]] for more",
    ("capture", "names"): "inputs are named in [[agents.inputs]]",
    ("ui", "username"): "ocframe has no web interface of its own",
    ("ui", "password"): "ocframe has no web interface of its own",
    ("ui", "refresh_rate"): "ocframe has no web interface of its own",
}


class PycaError(ValueError):
    """The pyCA file cannot be converted; the message says why."""


@dataclass
class Conversion:
    config: dict[str, Any]
    password: str | None
    converted: list[str] = field(default_factory=list)
    unconverted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_value(raw: str) -> str:
    """One ConfigObj scalar: quotes removed."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return raw


def parse_list(raw: str) -> list[str]:
    """A ConfigObj list (``'a', 'b'``) or a single value as a one-item list."""
    items = [parse_value(m.group(1)) for m in _LIST_ITEM.finditer(raw.strip()) if m.group(1)]
    return [i for i in items if i]


def parse_bool(raw: str) -> bool:
    value = parse_value(raw).lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0", ""):
        return False
    raise PycaError(f"{raw!r} is not a boolean")


def convert_template(text: str, where: str, notes: list[str]) -> str:
    """pyCA's ``{{dir}}`` placeholders as ours; other braces made literal."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0) * 2  # a literal brace in our syntax
        if name not in PLACEHOLDERS:
            raise PycaError(f"{where}: unknown pyCA placeholder {{{{{name}}}}}")
        if name == "previewdir":
            notes.append(f"{where}: {{{{previewdir}}}} became the capture directory; previews "
                         f"are neither ingested nor shown")
        return PLACEHOLDERS[name]

    return _PYCA_FIELD.sub(one, text)


def read_pyca(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#",),
                                       strict=True)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise PycaError(f"{path}: cannot read it as a pyCA configuration: {exc}") from exc
    return parser


def convert(parser: configparser.ConfigParser, source: str = "pyca.conf") -> Conversion:
    """The ocframe configuration (as data) for a pyCA one, with the report."""

    def get(section: str, key: str) -> str | None:
        if parser.has_option(section, key):
            return parser.get(section, key)
        return None

    done: set[tuple[str, str]] = set()
    notes: list[str] = []

    def take(section: str, key: str) -> str | None:
        value = get(section, key)
        if value is not None:
            done.add((section, key))
        return value

    name = parse_value(take("agent", "name") or "'pyca'")
    agent: dict[str, Any] = {"name": name}
    calendar: dict[str, Any] = {}
    if (freq := take("agent", "update_frequency")) is not None:
        calendar["poll_interval"] = float(parse_value(freq))
    if (days := take("agent", "cal_lookahead")) is not None:
        n = float(parse_value(days))
        if n <= 0:
            notes.append("agent.cal_lookahead = 0 (everything): ocframe asks for 366 days")
            n = 366
        calendar["lookahead"] = n * 86400.0
    if calendar:
        agent["calendar"] = calendar
    if (ui_url := take("ui", "url")) is not None:
        agent["address"] = parse_value(ui_url)

    command_raw = take("capture", "command")
    if command_raw is None:
        raise PycaError(f"{source}: [capture] command is missing: nothing to record with")
    try:
        argv = shlex.split(parse_value(command_raw))
    except ValueError as exc:
        raise PycaError(f"{source}: [capture] command cannot be split: {exc}") from exc
    command = [convert_template(arg, "capture.command", notes) for arg in argv]
    if "{duration}" not in " ".join(command):
        notes.append("capture.command has no {{time}}: ocframe stops it at the scheduled end "
                     "(SIGINT, then SIGTERM, then SIGKILL)")

    files = parse_list(take("capture", "files") or "'{{dir}}/{{name}}.mp4'")
    flavors = parse_list(take("capture", "flavors") or "'presenter/source'")
    if len(flavors) != len(files):
        raise PycaError(f"{source}: [capture] has {len(files)} files but {len(flavors)} "
                        f"flavors; pyCA pairs them one to one")
    outputs: list[dict[str, Any]] = []
    for path, flavor in zip(files, flavors, strict=True):
        out: dict[str, Any] = {"path": convert_template(path, "capture.files", notes),
                               "flavor": flavor}
        if guess_mimetype(path) is None:
            out["mimetype"] = "application/octet-stream"
            notes.append(f"capture.files {path!r}: no mime type known for its extension; "
                         f"set outputs[].mimetype")
        outputs.append(out)

    agent["inputs"] = [{
        "name": "capture", "driver": "command", "flavor": flavors[0],
        "settings": {"command": command, "outputs": outputs},
    }]
    agent["ingest"] = {"method": "multirequest"}
    if (delete := take("ingest", "delete_after_upload")) is not None:
        agent["ingest"]["delete_after_upload"] = parse_bool(delete)

    core: dict[str, Any] = {"url": parse_value(take("server", "url")
                                               or "'http://localhost:8080'"), "auth": "digest"}
    if (user := take("server", "username")) is not None:
        core["user"] = parse_value(user)
    password_raw = take("server", "password")
    password = parse_value(password_raw) if password_raw is not None else None
    if password:
        core["password"] = "${" + SECRET_NAME + "}"
    if (insecure := take("server", "insecure")) is not None and parse_bool(insecure):
        core["insecure"] = True
        notes.append("server.insecure = true: TLS certificates are not checked; prefer "
                     "certificate (core.ca_bundle)")
    if (cert := take("server", "certificate")) is not None and parse_value(cert):
        core["ca_bundle"] = parse_value(cert)

    config: dict[str, Any] = {"core": core}
    if (directory := take("capture", "directory")) is not None:
        config["storage"] = {"directory": str(Path(parse_value(directory)).expanduser())}
    config["agents"] = [agent]

    result = Conversion(config=config, password=password, notes=notes)
    for section in parser.sections():
        for key in parser.options(section):
            where = (section, key)
            if where in done:
                result.converted.append(f"{section}.{key} -> {CONVERSIONS.get(where, '?')}")
            elif where in NO_EQUIVALENT:
                result.unconverted.append(f"{section}.{key}: {NO_EQUIVALENT[where]}")
            else:
                result.unconverted.append(f"{section}.{key}: unknown to this converter")
    if name and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
        raise PycaError(f"{source}: agent name {name!r} is not a valid ocframe agent name")
    return result


# -- writing ------------------------------------------------------------------

def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(int(value)) if float(value).is_integer() and math.isfinite(value) else repr(
            value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r}")


def _key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else json.dumps(key)


def render(conv: Conversion, source: str) -> str:
    """The ocframe.toml text, with comments an operator can follow."""
    c = conv.config
    agent = c["agents"][0]
    inp = agent["inputs"][0]
    lines = [f"# Converted from {source} by `ocframe import-pyca`; see "
             f"docs/migrating-from-pyca.md.", ""]
    lines += ["[core]", *(f"{_key(k)} = {_toml(v)}" for k, v in c["core"].items()), ""]
    if "storage" in c:
        lines += ["[storage]", *(f"{_key(k)} = {_toml(v)}" for k, v in c["storage"].items()),
                  ""]
    lines += ["[[agents]]"]
    lines += [f"{_key(k)} = {_toml(v)}" for k, v in agent.items()
              if k not in ("inputs", "ingest", "calendar")]
    if "calendar" in agent:
        lines += ["", "[agents.calendar]",
                  *(f"{_key(k)} = {_toml(v)}" for k, v in agent["calendar"].items())]
    lines += ["", "[agents.ingest]",
              *(f"{_key(k)} = {_toml(v)}" for k, v in agent["ingest"].items())]
    lines += ["", "# pyCA's capture command, run by the command driver (never by a shell).",
              "[[agents.inputs]]",
              *(f"{_key(k)} = {_toml(v)}" for k, v in inp.items() if k != "settings"),
              "", "[agents.inputs.settings]", "command = ["]
    lines += [f"  {_toml(arg)}," for arg in inp["settings"]["command"]]
    lines += ["]", "outputs = ["]
    lines += [f"  {_toml(out)}," for out in inp["settings"]["outputs"]]
    lines += ["]", ""]
    text = "\n".join(lines)
    tomllib.loads(text)  # never hand out a file that does not parse
    return text


def report(conv: Conversion, output: str, secrets_written: Path | None) -> str:
    out = ["converted:"]
    out += [f"  {line}" for line in conv.converted] or ["  (nothing)"]
    out += ["no equivalent in ocframe (not converted):"]
    out += [f"  {line}" for line in conv.unconverted] or ["  (nothing)"]
    if conv.notes:
        out += ["notes:", *(f"  {n}" for n in conv.notes)]
    if conv.password:
        if secrets_written:
            out += [f"the core password is in {secrets_written} (mode 600) as {SECRET_NAME}"]
        else:
            out += [f"the core password is not copied: put {SECRET_NAME} = \"...\" into "
                    f"secrets.toml beside {output} (chmod 600), or set {SECRET_NAME} in the "
                    f"environment (or rerun with --write-secrets)"]
    out += [f"next: ocframe check -c {output}"]
    return "\n".join(out)


def write_secrets(path: Path, password: str) -> None:
    """``core_password = "..."`` into a new file readable by its owner only."""
    fd = path.open("x", encoding="utf-8")  # never overwrite an operator's secrets
    with fd:
        path.chmod(0o600)
        fd.write(f"{SECRET_NAME} = {_toml(password)}\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ocframe import-pyca",
        description="Convert a pyCA configuration into an ocframe configuration that captures "
                    "with the command driver; reports what has no equivalent.")
    parser.add_argument("pyca_conf", type=Path, help="pyCA's configuration (e.g. /etc/pyca.conf)")
    parser.add_argument("-o", "--output", type=Path,
                        help="write the ocframe configuration here (default: print it)")
    parser.add_argument("--force", action="store_true", help="overwrite --output")
    parser.add_argument("--write-secrets", action="store_true",
                        help="write the core password into secrets.toml beside --output "
                             "(mode 600; refused if it exists)")
    args = parser.parse_args(argv)
    try:
        conv = convert(read_pyca(args.pyca_conf), str(args.pyca_conf))
        text = render(conv, str(args.pyca_conf))
    except PycaError as exc:
        print(f"ocframe import-pyca: {exc}", file=sys.stderr)
        return 2
    secrets_path: Path | None = None
    if args.output is None:
        if args.write_secrets:
            print("ocframe import-pyca: --write-secrets needs --output", file=sys.stderr)
            return 2
        sys.stdout.write(text)
        target = "ocframe.toml"
    else:
        if args.output.exists() and not args.force:
            print(f"ocframe import-pyca: {args.output} exists; add --force to replace it",
                  file=sys.stderr)
            return 2
        if args.write_secrets and conv.password:
            secrets_path = args.output.parent / "secrets.toml"
            try:
                write_secrets(secrets_path, conv.password)
            except FileExistsError:
                print(f"ocframe import-pyca: {secrets_path} exists; add {SECRET_NAME} to it "
                      f"yourself", file=sys.stderr)
                return 2
        args.output.write_text(text, encoding="utf-8")
        target = str(args.output)
        print(f"wrote {args.output}", file=sys.stderr)
    print(report(conv, target, secrets_path), file=sys.stderr)
    return 0

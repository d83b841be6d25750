"""Secrets in the configuration: ``"${NAME}"`` references and the secrets file.

A secret never stands in the main config file: a secret field there must
be a reference, resolved from the environment or from the secrets file
(``secrets.toml`` beside the config, or ``secrets_file``), which must not be
readable by other users because it holds passwords.
"""

from __future__ import annotations

import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def secrets_path(raw: dict[str, Any], config_path: Path, env: Mapping[str, str]) -> Path | None:
    value = env.get("OCFRAME_SECRETS_FILE") or raw.get("secrets_file")
    if value:
        p = Path(value)
        return p if p.is_absolute() else config_path.parent / p
    default = config_path.parent / "secrets.toml"
    return default if default.exists() else None


def read_secrets(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: secrets file cannot be read: {exc}") from exc
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(
            f"{path}: secrets file is readable by other users (mode {stat.S_IMODE(mode):o});"
            f" run: chmod 600 {path}"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: secrets file is not valid TOML: {exc}") from exc


def resolve(
    node: Any,
    where: tuple[Any, ...],
    env: Mapping[str, str],
    secrets: Mapping[str, Any],
    refs: set[tuple[Any, ...]],
    path: Path,
) -> Any:
    if isinstance(node, dict):
        return {k: resolve(v, (*where, k), env, secrets, refs, path) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, (*where, i), env, secrets, refs, path) for i, v in enumerate(node)]
    if isinstance(node, str):
        m = _REF.match(node)
        if m:
            name = m.group(1)
            refs.add(where)
            if name in env:
                return env[name]
            if name in secrets and isinstance(secrets[name], str | int | float):
                return str(secrets[name])
            raise ConfigError(
                f"{path}: {dotted(where)}: ${{{name}}} is set neither in the environment"
                " nor in the secrets file"
            )
    return node


#: Why a secret written in the config file is refused, and what to write instead.
LITERAL_SECRET = ('secrets may not be written in the config file; write "${NAME}" and set'
                  " NAME in the environment or the secrets file")


def is_literal_secret(raw: dict[str, Any], refs: set[tuple[Any, ...]] | frozenset[tuple[Any, ...]],
                      where: tuple[Any, ...]) -> bool:
    """The value at ``where`` in the file is a secret written out, not a reference."""
    node: Any = raw
    for part in where:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return node not in (None, "") and where not in refs


def check_literal_secret(
    raw: dict[str, Any],
    refs: set[tuple[Any, ...]],
    where: tuple[Any, ...],
    path: Path,
) -> None:
    if is_literal_secret(raw, refs, where):
        raise ConfigError(f"{path}: {dotted(where)}: {LITERAL_SECRET}")


def dotted(where: tuple[Any, ...]) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

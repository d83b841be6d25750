"""Running whole agents against the simulator, for tests and the demo.

``write_config`` writes a real config file (as a user would) pointing at a
simulator; ``AgentProcess`` runs ``ocframe run`` as a child process (so
tests can kill it), ``InProcessAgent`` runs a :class:`ocframe.service.Service`
in this process (fast, and hooks can be observed directly).

Example::

    def test_records(opencast_simulator, tmp_path):
        cfg = write_config(tmp_path, opencast_simulator, agents=[agent("room-1")])
        uid = opencast_simulator.add_event(agent="room-1", start=soon(2), end=soon(6))
        with InProcessAgent(cfg):
            assert opencast_simulator.wait_for_ingest(uid, timeout=60)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from ..launches import LeadPolicy


class Core(Protocol):
    """Where the agent finds its core: an ``ocframe_simulator.OpencastSimulator``
    or anything else with a base URL. The harness does not import the simulator,
    which lives in its own distribution (ocframe-simulator)."""

    @property
    def url(self) -> str: ...


def soon(seconds: float) -> datetime:
    """A UTC instant ``seconds`` from now, whole-second aligned like the core's calendar."""
    t = datetime.now(UTC) + timedelta(seconds=seconds)
    return t.replace(microsecond=0) + timedelta(seconds=1)


def poll_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Whether ``predicate()`` became true within ``timeout`` seconds, asked
    every ``interval``. For conditions inside the agent: the simulator's
    ``wait_for`` only looks again when the core hears something, which a
    broken or quiet agent may not say for a long while."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def launched_for(start: datetime, started: float, tolerance: float = 2.0) -> bool:
    """Whether a capture whose segment began at ``started`` (UNIX seconds) was
    launched on time for a window starting at ``start``: no later than
    ``tolerance`` after it, and no earlier than the lead of an input never
    measured (an agent's first recording) before it."""
    lead = LeadPolicy().lead([])
    return start.timestamp() - lead - tolerance <= started <= start.timestamp() + tolerance


def recorded_for(seconds: float, start: datetime, end: datetime, tolerance: float) -> bool:
    """Whether a segment's own file (not trimmed for upload) of ``seconds``
    covers the window from ``start`` to ``end``: at least the window, at
    most the window plus the lead of an input never measured."""
    window = (end - start).total_seconds()
    return window - tolerance <= seconds <= window + LeadPolicy().lead([]) + tolerance


def covers_window(seconds: float, start: datetime, end: datetime, tolerance: float,
                  keyframe_interval: float = 2.0) -> bool:
    """Whether an ingested track of ``seconds`` covers the window from
    ``start`` to ``end``: cut at the key frame at or before the window's start
    (see :mod:`ocframe.trim`), so at least the window and at most one
    ``keyframe_interval`` (the testsrc driver's: 2 s) longer."""
    window = (end - start).total_seconds()
    return window - tolerance <= seconds <= window + keyframe_interval + tolerance


def agent(
    name: str,
    inputs: list[dict[str, Any]] | None = None,
    *,
    method: str = "multirequest",
    ingest_settings: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An ``[[agents]]`` table; by default one testsrc input with a small picture."""
    return {
        "name": name,
        "inputs": inputs or [testsrc_input("presenter")],
        "ingest": {"method": method, "settings": ingest_settings or {}},
        "calendar": {"poll_interval": 1.0},
        "heartbeat_interval": 5.0,
        **extra,
    }


def testsrc_input(name: str, flavor: str = "presenter/source", **settings: Any) -> dict[str, Any]:
    base = {"width": 320, "height": 180, "rate": 15}
    base.update(settings)
    return {"name": name, "driver": "testsrc", "flavor": flavor, "settings": base}


testsrc_input.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _toml_value(k)


def to_toml(data: dict[str, Any]) -> str:
    """A small TOML writer (tables, arrays of tables, inline values): enough for configs."""
    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any], array: bool = False) -> None:
        scalars = {k: v for k, v in d.items()
                   if not isinstance(v, dict) and not _is_table_list(v)}
        if prefix:
            lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_key(k)} = {_toml_value(v)}")
        for k, v in d.items():
            if isinstance(v, dict):
                lines.append("")
                table(f"{prefix}.{_key(k)}" if prefix else _key(k), v)
            elif _is_table_list(v):
                for item in v:
                    lines.append("")
                    table(f"{prefix}.{_key(k)}" if prefix else _key(k), item, array=True)

    table("", data)
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # never hand out a file we cannot read back
    return text


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def only_plugins(*names: str) -> dict[str, Any]:
    """A ``[plugins]`` table loading only the installed plugins, drivers and
    ingest methods named (entry point names); every other one installed is
    disabled before it is imported. A test then depends on what it names, not
    on what else the environment holds: a half-installed third-party plugin
    cannot log an error into it.

    ``write_config(..., extra={"plugins": only_plugins("testsrc", "multirequest")})``
    """
    from importlib.metadata import entry_points

    from ..plugins import GROUP_DRIVERS, GROUP_INGEST, GROUP_PLUGINS

    installed = {ep.name for group in (GROUP_PLUGINS, GROUP_DRIVERS, GROUP_INGEST)
                 for ep in entry_points(group=group)}
    return {"disabled": sorted(installed - set(names))}


def write_config(
    directory: Path,
    sim: Core,
    *,
    agents: list[dict[str, Any]],
    user: str = "admin",
    password: str = "opencast",
    auth: str = "basic",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``ocframe.toml`` and a ``secrets.toml`` (mode 600) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    secrets = directory / "secrets.toml"
    secrets.write_text(f"core_password = {_toml_value(password)}\n")
    secrets.chmod(0o600)
    data: dict[str, Any] = {
        "log_level": "INFO",
        "core": {"url": sim.url, "auth": auth, "user": user, "password": "${core_password}"},
        "storage": {"directory": str(directory / "var"), "min_free_mib": 1},
        "ingest_queue": {"backoff_initial": 0.5, "backoff_max": 2.0},
    }
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k].update(v)
        else:
            data[k] = v
    data["agents"] = agents
    path = directory / "ocframe.toml"
    path.write_text(to_toml(data))
    return path


class InProcessAgent:
    """A :class:`ocframe.service.Service` started in this process."""

    def __init__(self, config_path: Path, *, reload: bool = False,
                 plugins: Sequence[Any] = ()) -> None:
        from ..config import load_config
        from ..plugins import load_plugins
        from ..service import Service

        self.config_path = config_path
        config = load_config(config_path)
        registry = load_plugins(config)
        for i, p in enumerate(plugins):
            registry.register(p, f"test-plugin-{i}")
        self.service = Service(config, registry)
        self._watcher = None
        if reload:
            from ..reload import ConfigWatcher

            self._watcher = ConfigWatcher(config_path, self.service.apply_config, debounce=0.2)
            self.service.loops.add(self._watcher.loop)

    def __enter__(self) -> InProcessAgent:
        self.service.start()
        if self._watcher:
            self._watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._watcher:
            self._watcher.stop()
        self.service.stop()


class AgentProcess:
    """``ocframe run`` as a child process; stdout+stderr go to ``log_path``."""

    def __init__(self, config_path: Path, *, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.log_path = config_path.parent / "agent.log"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocframe.cli", "run", "-c", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL the agent and everything it started (a power cut, as far as
        processes go)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> AgentProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()

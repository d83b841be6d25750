"""Hot reload of the configuration file with watchdog.

Editors save by writing a temporary file and renaming it over the original,
so the watch is on the directory and reacts to any event naming the file
(modified, created, moved onto it), or the secrets file it uses: a password
fixed there applies like any other change. Events are debounced: one reload after
the writes settle, on the ``config-reload`` supervised loop (watchdog's own
thread only notes that the file changed). An invalid file is logged and the
running configuration kept.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .config import OcframeConfig, load_config
from .config_secrets import secrets_path
from .errors import ConfigError
from .loops import SupervisedLoop

log = logging.getLogger("ocframe.reload")


class ConfigWatcher(FileSystemEventHandler):
    def __init__(
        self,
        path: Path,
        apply: Callable[[OcframeConfig], None],
        *,
        debounce: float = 0.5,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path.resolve()
        self.apply = apply
        self.debounce = debounce
        self.on_error = on_error
        self._changed = threading.Event()
        self._changed_at = 0.0
        self._observer = Observer()
        self._secrets: Path | None = None
        self._last_text: str | None = self._read()
        self.loop = SupervisedLoop("config-reload", self._round, stall_after=120.0,
                                   wake=self._changed.set, logger=log)

    def _read(self) -> str | None:
        """The config file's text and its secrets file's (a change of either
        is a change); None while the config file cannot be read."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return text  # load_config will say what is wrong
        self._secrets = secrets_path(raw, self.path, os.environ)
        if self._secrets is None:  # the default place, should one appear there
            self._secrets = self.path.parent / "secrets.toml"
        try:
            return text + "\0" + self._secrets.read_text(encoding="utf-8")
        except OSError:
            return text

    def start(self) -> None:
        self._observer.schedule(self, str(self.path.parent), recursive=False)
        secrets = self._secrets.resolve().parent if self._secrets else self.path.parent
        if secrets != self.path.parent and secrets.is_dir():
            self._observer.schedule(self, str(secrets), recursive=False)
        self._observer.daemon = True
        self._observer.start()
        self.loop.start()

    def stop(self) -> None:
        self._observer.stop()
        self.loop.stop()

    def on_any_event(self, event: FileSystemEvent) -> None:
        names = {str(event.src_path), str(getattr(event, "dest_path", "") or "")}
        watched = {str(self.path)}
        if self._secrets is not None:
            watched.add(str(self._secrets.resolve()))
        if watched.isdisjoint(str(Path(n).resolve()) for n in names if n):
            return
        self._changed_at = time.monotonic()
        self._changed.set()

    def _round(self) -> None:
        if not self._changed.wait(timeout=1.0) or self.loop.stopping.is_set():
            return
        quiet = time.monotonic() - self._changed_at
        if quiet < self.debounce:
            self.loop.stopping.wait(self.debounce - quiet)  # let the writes settle
            return
        self._changed.clear()
        self.reload()

    def reload(self) -> None:
        text = self._read()
        if text is None or text == self._last_text:
            return  # gone for a moment mid-rename, or touched without change
        try:
            new = load_config(self.path)
            self.apply(new)
        except ConfigError as exc:
            log.error("configuration change refused, keeping the running one:\n%s", exc)
            if self.on_error:
                self.on_error(str(exc))
            self._last_text = text
            return
        self._last_text = text

"""The hook implementations: serve the page while the agent process runs."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from waitress.server import create_server

from ocframe.control import Control
from ocframe.hookspecs import hookimpl
from ocframe.status import StatusView

from .app import WebApp
from .logbuffer import RecentLogs
from .security import Guard
from .settings import WebSettings, load_settings

log = logging.getLogger("ocframe.web")

#: Where the running page's address is written, for ``ocframe status``.
URL_FILE = "web.url"


class WebServer:
    """One page for one agent process: waitress on its own thread."""

    def __init__(self, status: StatusView, control: Control, settings: WebSettings,
                 storage: Path) -> None:
        self.settings = settings
        self.logs = RecentLogs(settings.log_lines)
        guard = Guard(user=settings.user, password_hash=settings.hash(),
                      hostnames=[settings.listen, *settings.hostnames])
        self.app = WebApp(status, control, guard, self.logs, refresh=settings.refresh)
        # A page asks for status, logs and previews at once, and a scrape may come
        # meanwhile; each request is small work.
        self.server = create_server(self.app, host=settings.listen, port=settings.port,
                                    threads=4, ident="ocframe",
                                    clear_untrusted_proxy_headers=True)
        # "Task queue depth is 1" whenever requests wait a moment: not an operator's news.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        port = self.server.effective_port  # type: ignore[union-attr]
        host = settings.listen if ":" not in settings.listen else f"[{settings.listen}]"
        self.url = f"http://{host}:{port}"
        self.url_file = storage / URL_FILE
        self.thread = threading.Thread(target=self._serve, name="web", daemon=True)

    def start(self) -> None:
        logging.getLogger().addHandler(self.logs)
        self.thread.start()
        self.url_file.write_text(self.url + "\n")
        log.info("web: status page at %s%s", self.url,
                 "" if self.settings.hash() is None else " (password required)")

    def _serve(self) -> None:
        try:
            self.server.run()
        except Exception:
            log.exception("web: the server failed; the page is gone, recording goes on")

    def stop(self) -> None:
        logging.getLogger().removeHandler(self.logs)
        with contextlib.suppress(OSError):  # already gone, or another agent's now
            if self.url_file.read_text().strip() == self.url:
                self.url_file.unlink()
        # Requests in flight finish first; then the socket closes and run() ends.
        self.server.task_dispatcher.shutdown()  # type: ignore[union-attr]
        self.server.close()
        self.thread.join(5)


class WebPlugin:
    def __init__(self) -> None:
        self._servers: dict[int, WebServer] = {}
        self._lock = threading.Lock()

    @hookimpl
    def ocframe_service_started(self, status: StatusView, control: Control, config: Any) -> None:
        settings = load_settings(config)
        if settings is None:
            log.debug("web: no [plugins.settings.web] in the config; no page")
            return
        storage = Path(config.storage.directory)
        try:
            server = WebServer(status, control, settings, storage)
        except OSError as exc:
            # The page is for operators; recording must not wait for it.
            log.error("web: no status page: cannot listen on %s:%d (%s)", settings.listen,
                      settings.port, exc.strerror)
            return
        with self._lock:
            self._servers[id(status)] = server
        server.start()

    @hookimpl
    def ocframe_service_stopping(self, status: StatusView) -> None:
        with self._lock:
            server = self._servers.pop(id(status), None)
        if server is not None:
            server.stop()

    def server_for(self, status: StatusView) -> WebServer | None:
        """The page serving ``status`` (tests, embedding)."""
        with self._lock:
            return self._servers.get(id(status))


plugin = WebPlugin()

__all__ = ["URL_FILE", "WebPlugin", "WebServer", "plugin"]

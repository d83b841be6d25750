"""The service registry: where each core service lives."""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..errors import CoreError
from .http import CoreSession
from .jettison import as_list, as_str

log = logging.getLogger("ocframe.core.registry")

CAPTURE_ADMIN = "org.opencastproject.capture.admin"
SCHEDULER = "org.opencastproject.scheduler"
INGEST = "org.opencastproject.ingest"
FILE_UPLOAD = "org.opencastproject.fileupload"


class ServiceRegistry:
    """Looks services up, honours configured overrides, and remembers the
    last good answer for when the registry cannot be asked."""

    def __init__(self, core: CoreSession) -> None:
        self.core = core
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def lookup(self, service_type: str, *, refresh: bool = False) -> str:
        override = self.core.core.services.get(service_type)
        if override:
            return override.rstrip("/")
        with self._lock:
            cached = self._known.get(service_type)
        if cached and not refresh:
            return cached
        try:
            url = self._ask(service_type)
        except CoreError as exc:
            if cached:
                log.warning("service registry unavailable (%s); using %s", exc.reason, cached)
                return cached
            raise
        with self._lock:
            self._known[service_type] = url
        return url

    def _ask(self, service_type: str) -> str:
        resp = self.core.request(
            "GET",
            f"{self.core.core.url}/services/available.json",
            params={"serviceType": service_type},
        )
        try:
            data: Any = resp.json()
        except ValueError:
            raise CoreError(
                f"service registry: answer for {service_type} is not JSON"
                f" (Content-Type {resp.headers.get('Content-Type')!r})"
            ) from None
        services = data.get("services") if isinstance(data, dict) else None
        entries = as_list(services.get("service") if isinstance(services, dict) else None)
        for entry in entries:  # the core sorts them least loaded first
            if not isinstance(entry, dict):
                continue
            # The core filters these already; a proxy or an older core may not.
            if not _flag(entry.get("online"), True) or not _flag(entry.get("active"), True):
                continue
            if _flag(entry.get("maintenance"), False):
                continue
            host, path = as_str(entry.get("host")), as_str(entry.get("path"))
            if host:
                return f"{host.rstrip('/')}/{path.strip('/')}".rstrip("/")
        raise CoreError(f"service registry: no available {service_type} service")


def _flag(value: Any, default: bool) -> bool:
    """A boolean as Jettison gives it (true, "true") or as XML text."""
    if value is None or value == "":
        return default
    return as_str(value).strip().lower() == "true"

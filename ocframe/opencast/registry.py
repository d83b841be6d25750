"""The service registry: where each core service lives.

The registry's answer is checked before it is used: a URL that is not
http(s), that would downgrade an https core to http, or that names a host
the operator did not trust (``core.url``, ``core.services``,
``core.trusted_hosts``) is refused with a clear error, and the service is
reached at the same path on the configured core instead (it is what a
core with a wrong ``server.url``, often ``http://localhost:8080``, means).
``refused`` keeps the reason, so ``ocframe check`` fails on it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit

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
        #: Service type -> why the registry's answer was not used.
        self.refused: dict[str, str] = {}

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
                return self.vet(service_type, f"{host.rstrip('/')}/{path.strip('/')}".rstrip("/"))
        raise CoreError(f"service registry: no available {service_type} service")

    def vet(self, service_type: str, url: str) -> str:
        """``url`` if it is safe to send credentials there, else the same
        path on the configured core (and the reason in ``refused``)."""
        core_url = self.core.core.url
        parts, core = urlsplit(url), urlsplit(core_url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            problem = "is not an http(s) URL"
        elif core.scheme == "https" and parts.scheme.lower() == "http":
            problem = "would downgrade the https core to plain http"
        elif not self.core.trusts(url):
            problem = ("is neither the configured core nor in core.trusted_hosts, so it would"
                       " get the password")
        else:
            self.refused.pop(service_type, None)
            return url
        fallback = f"{core.scheme}://{core.netloc}/{parts.path.strip('/')}".rstrip("/")
        reason = (f"the service registry names {url!r} for {service_type}, which {problem};"
                  f" using {fallback} instead (fix Opencast's server.url, or add the host to"
                  " core.trusted_hosts if it is yours)")
        if self.refused.get(service_type) != reason:
            log.error("%s", reason)
        self.refused[service_type] = reason
        return fallback


def _flag(value: Any, default: bool) -> bool:
    """A boolean as Jettison gives it (true, "true") or as XML text."""
    if value is None or value == "":
        return default
    return as_str(value).strip().lower() == "true"

"""Who may read the page and act through it.

- **Host check**: only the configured names reach the app (DNS rebinding
  would otherwise let a hostile page read the API as same-origin).
- **Authentication**: HTTP basic with a werkzeug password hash whenever one
  is configured (always, off loopback); compared in constant time.
- **Cross-site requests**: every POST must come from our own origin
  (``Sec-Fetch-Site`` when the browser sends it, else ``Origin``/``Referer``
  matching the host) *and* carry the process's token in ``X-CSRF-Token``,
  which only a same-origin reader of ``/api/v1/session`` can know; a custom
  header also forces a CORS preflight we never grant.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from werkzeug.security import check_password_hash
from werkzeug.wrappers import Request

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


class Guard:
    def __init__(self, *, user: str, password_hash: str | None, hostnames: list[str]) -> None:
        self.user = user
        self.password_hash = password_hash
        self.hostnames = {h.lower() for h in (*LOOPBACK_NAMES, *hostnames)}
        #: The token every POST carries; new with every process.
        self.csrf_token = secrets.token_urlsafe(32)

    def host_allowed(self, request: Request) -> bool:
        host = (request.host or "").lower()
        name = host[: host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
        return name in self.hostnames

    def authenticated(self, request: Request) -> str | None:
        """The user name if the request may proceed, else None."""
        if self.password_hash is None:
            return "local operator"
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username or auth.password is None:
            return None
        user_ok = hmac.compare_digest(auth.username.encode(), self.user.encode())
        password_ok = check_password_hash(self.password_hash, auth.password)
        return auth.username if user_ok and password_ok else None

    def cross_site_problem(self, request: Request) -> str | None:
        """Why a POST must be refused as cross-site, or None."""
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return f"cross-site request (Sec-Fetch-Site: {site})"
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin is not None:
            if origin == "null":
                return "request from an opaque origin"
            parts = urlsplit(origin)
            if parts.netloc.lower() != (request.host or "").lower():
                return "request from another origin"
        token = request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(token.encode(), self.csrf_token.encode()):
            return "missing or wrong X-CSRF-Token"
        return None

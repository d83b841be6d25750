"""HTTP to the core: one session per core, authentication, and turning the
core's answers into clear errors.

Redirects are never followed: the core answers an unauthenticated request
with a 302 to its login page, and following it would look like success.

Credentials go only to trusted origins (the configured core URL, service
overrides, ``core.trusted_hosts``): the service registry's answer decides
where requests go, and a core whose ``server.url`` is ``http://localhost``
or some other host must not receive the password in clear text.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from ..config import CoreConfig
from ..errors import AuthError, CoreError
from ..version import __version__
from .multipart import FilePart, MultipartBody, Part, TextPart

log = logging.getLogger("ocframe.core")

# Timeouts for uploads: connect quickly, but the core may take long to answer
# after a large body (it stores the file before replying).
UPLOAD_READ_TIMEOUT_MIN = 300.0
UPLOAD_READ_SECONDS_PER_GIB = 120.0


class CoreSession:
    """A pooled, authenticated HTTP session to one Opencast core."""

    def __init__(self, core: CoreConfig) -> None:
        self.core = core
        self.session = requests.Session()
        # Every agent's reporter, calendar poller and uploads share this pool;
        # urllib3's default of 10 would drop connections on a box with many rooms.
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=64)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"ocframe/{__version__}"
        # Not max_redirects = 0: requests then raises TooManyRedirects even
        # with allow_redirects=False, hiding the login redirect from raise_for.
        if core.insecure:
            log.warning(
                "TLS CERTIFICATE VERIFICATION IS OFF for %s (core.insecure = true):"
                " anyone on the network can impersonate the core", core.url
            )
            self.session.verify = False
        elif core.ca_bundle:
            self.session.verify = str(core.ca_bundle)
        self.auth: AuthBase
        self.set_credentials(core)
        # Not session.auth: that would go to whatever host a request names.
        self.trusted = {origin(core.url)}
        self.trusted.update(origin(u) for u in core.services.values())
        self.trusted.update(origin(u) for u in core.trusted_hosts)
        self._lock = threading.Lock()

    def set_credentials(self, core: CoreConfig) -> None:
        """Authenticate as ``core`` says (user, password, kind) from the next
        request on: a password rotated on the core is fixed by a reload,
        without a restart that would cut running recordings."""
        self.core = self.core.model_copy(
            update={"user": core.user, "password": core.password, "auth": core.auth})
        password = core.password.get_secret_value() if core.password else ""
        if core.auth == "digest":
            self.session.headers["X-Requested-Auth"] = "Digest"
            self.auth = HTTPDigestAuth(core.user, password)
        else:
            self.session.headers.pop("X-Requested-Auth", None)
            self.auth = HTTPBasicAuth(core.user, password)

    def trusts(self, url: str) -> bool:
        """May ``url`` receive the credentials?"""
        return origin(url) in self.trusted

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float | tuple[float, float] | None = None,
        expect: Sequence[int] = range(200, 300),
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request; return the response if its status is in ``expect``
        (any 2xx by default: a core answering 201 or 204 has not failed).

        Raises :class:`AuthError` for 401/403/login redirects (naming the user
        and endpoint, never the password) and :class:`CoreError` otherwise.
        """
        endpoint = url.split("?", 1)[0]
        # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the
        # environment override a session's verify, which would silently drop
        # core.ca_bundle and core.insecure.
        kwargs.setdefault("verify", self.session.verify)
        try:
            resp = self.session.request(
                method,
                url,
                timeout=timeout or self.core.timeout,
                allow_redirects=False,
                auth=self.auth if self.trusts(url) else _NoAuth(),
                **kwargs,
            )
        except requests.exceptions.SSLError as exc:
            raise CoreError(
                f"{method} {endpoint}: TLS verification failed ({exc.__class__.__name__});"
                " set core.ca_bundle for a private CA", retryable=True
            ) from None
        except requests.RequestException as exc:
            raise CoreError(f"{method} {endpoint}: {_short(exc)}") from None
        if resp.status_code in expect:
            return resp
        self.raise_for(resp, method, endpoint)
        raise AssertionError("unreachable")

    def raise_for(self, resp: requests.Response, method: str, endpoint: str) -> None:
        status = resp.status_code
        user = self.core.user
        if 300 <= status < 400:
            location = resp.headers.get("Location", "")
            if "login" in location.lower():
                raise AuthError(
                    f"{method} {endpoint}: the core redirected to its login page, so user"
                    f" {user!r} was not authenticated (core.auth = {self.core.auth!r};"
                    " a digest user needs core.auth = 'digest', an admin-UI user 'basic')",
                    status=status,
                )
            raise CoreError(f"{method} {endpoint}: unexpected redirect to {location}",
                            status=status)
        if status == 401:
            raise AuthError(
                f"{method} {endpoint}: user {user!r} was rejected (401): wrong user or password,"
                f" or not a {self.core.auth} user",
                status=status,
            )
        if status == 403:
            raise AuthError(
                f"{method} {endpoint}: user {user!r} lacks the role for this endpoint (403);"
                " capture agents need ROLE_CAPTURE_AGENT (or ROLE_ADMIN)",
                status=status,
            )
        body = _gist(resp)
        raise CoreError(
            f"{method} {endpoint}: HTTP {status}{': ' + body if body else ''}",
            status=status,
            retryable=status >= 500 or status in (408, 429),
        )


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, ports made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


class _NoAuth(AuthBase):
    """Explicitly none (``auth=None`` would let a session default apply)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


def _gist(resp: requests.Response) -> str:
    """The useful part of an error body in one short line (a proxy's or
    Jetty's HTML error page shrinks to its title)."""
    if not resp.content:
        return ""
    text = resp.text
    if "html" in resp.headers.get("Content-Type", "") or text.lstrip().startswith("<"):
        m = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = m.group(1) if m else re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:200]


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 wraps the root cause several times; the last part is the useful one.
    if "Caused by" in text:
        text = text.rsplit("Caused by", 1)[1].strip(" ()'\"")
    return f"{exc.__class__.__name__}: {text[:200]}"


class ServiceHttp:
    """HTTP helpers bound to one service's base URL (what ingest strategies get).

    Public through :mod:`ocframe.ingest`; ``core`` (the shared session) is not.
    """

    def __init__(self, core: CoreSession, base_url: str) -> None:
        self.core = core
        self.base_url = base_url.rstrip("/")

    @property
    def timeout(self) -> float:
        """The configured timeout of ordinary requests (``core.timeout``), so a
        strategy can lengthen only the read half of one request."""
        return self.core.core.timeout

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.core.request("GET", self.url(path), **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.core.request("PUT", self.url(path), **kwargs)

    def post_form(
        self, path: str, fields: Sequence[tuple[str, str]] | Mapping[str, str], **kwargs: Any
    ) -> requests.Response:
        return self.core.request("POST", self.url(path), data=fields, **kwargs)

    def post_multipart(
        self,
        path: str,
        parts: Sequence[Part],
        *,
        progress: Callable[[int, int], None] | None = None,
        rate_limit: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """POST a streamed multipart body; parts are sent in the order given."""
        body = MultipartBody(parts, progress=progress, rate_limit=rate_limit)
        try:
            return self.post_body(path, body, body.content_type, len(body), **kwargs)
        finally:
            body.close()

    def post_body(
        self, path: str, body: Any, content_type: str, length: int, **kwargs: Any
    ) -> requests.Response:
        """POST any file-like body of known length, with a timeout sized to it."""
        self.prime_auth()
        headers = {"Content-Type": content_type, "Content-Length": str(length)}
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", upload_timeout(length, self.core.core.timeout))
        return self.core.request("POST", self.url(path), data=body, headers=headers, **kwargs)

    def prime_auth(self) -> None:
        """With Digest, get a fresh nonce with a cheap request first, so a
        large body is not sent once unauthenticated and once again."""
        if self.core.core.auth == "digest":
            with contextlib.suppress(CoreError):
                self.core.request("GET", self.url("/"), expect=range(100, 600))


def upload_timeout(length: int, connect: float) -> tuple[float, float]:
    """(connect, read) timeouts for a body of ``length`` bytes."""
    read = max(UPLOAD_READ_TIMEOUT_MIN, UPLOAD_READ_SECONDS_PER_GIB * length / (1 << 30))
    return (connect, read)


__all__ = ["CoreSession", "FilePart", "ServiceHttp", "TextPart", "upload_timeout"]

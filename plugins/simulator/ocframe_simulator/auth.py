"""Authentication and authorisation as the Opencast core's Spring Security setup does it.

Basic credentials are accepted pre-emptively. Digest is only negotiated when the
client asks for it with ``X-Requested-Auth: Digest`` (without that header the core
redirects anonymous requests to its login page, which clients must not mistake for
success).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

REALM = "Opencast"

ROLE_ADMIN = "ROLE_ADMIN"
ROLE_CAPTURE_AGENT = "ROLE_CAPTURE_AGENT"
ROLE_STUDIO = "ROLE_STUDIO"

AUTH_MODES = ("basic", "digest", "both")

DEFAULT_USERS: dict[str, tuple[str, set[str]]] = {
    "admin": ("opencast", {ROLE_ADMIN}),
    "ca": ("ca-secret", {ROLE_CAPTURE_AGENT}),
    "studio": ("studio", {ROLE_STUDIO}),
    "opencast_system_account": ("CHANGE_ME", {ROLE_ADMIN}),
}

# Paths anyone may fetch: the login page an anonymous request is redirected to.
PUBLIC_PATHS = ("/login.html",)


def required_roles(method: str, path: str) -> frozenset[str] | None:
    """Roles of which the user needs one for this request.

    None means public, an empty set means any authenticated user.
    """
    if path in PUBLIC_PATHS:
        return None
    if path.startswith("/info/me"):
        return frozenset()  # any authenticated user may ask who they are
    if method in ("GET", "HEAD") and path.startswith("/services/available"):
        # Agents must find their endpoints; the core's security config allows this
        # explicitly, although everything else under /services is admin-only.
        return frozenset({ROLE_CAPTURE_AGENT, ROLE_ADMIN, ROLE_STUDIO})
    if path.startswith("/capture-admin/") or path == "/capture-admin":
        return frozenset({ROLE_CAPTURE_AGENT, ROLE_ADMIN})
    if method in ("GET", "HEAD") and (path.startswith("/recordings/") or path == "/recordings"):
        return frozenset({ROLE_CAPTURE_AGENT, ROLE_ADMIN})
    if path.startswith("/ingest/") or path == "/ingest":
        return frozenset({ROLE_CAPTURE_AGENT, ROLE_ADMIN, ROLE_STUDIO})
    return frozenset({ROLE_ADMIN})


@dataclass(frozen=True)
class AuthOutcome:
    """Result of checking one request's credentials.

    ``kind`` is one of ``ok``, ``anonymous`` (redirect to login), ``challenge``
    (401 with WWW-Authenticate headers in ``challenges``).
    """

    kind: str
    user: str | None = None
    scheme: str | None = None
    roles: frozenset[str] = frozenset()
    challenges: tuple[str, ...] = ()


@dataclass
class _Nonce:
    created: float
    seen_nc: set[int] = field(default_factory=set)


_DIGEST_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_digest_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in _DIGEST_PARAM.finditer(value):
        key, quoted, token = match.groups()
        params[key.lower()] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
        )
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class Authenticator:
    """Checks credentials; keeps the digest nonces it handed out."""

    def __init__(
        self,
        mode: str,
        users: Mapping[str, tuple[str, Iterable[str]]],
        nonce_lifetime: float = 300.0,
    ) -> None:
        if mode not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, not {mode!r}")
        self.mode = mode
        self.users = {name: (pw, frozenset(roles)) for name, (pw, roles) in users.items()}
        self.nonce_lifetime = nonce_lifetime
        self._nonces: dict[str, _Nonce] = {}
        self._lock = threading.Lock()

    @property
    def basic_enabled(self) -> bool:
        return self.mode in ("basic", "both")

    @property
    def digest_enabled(self) -> bool:
        return self.mode in ("digest", "both")

    def expire_nonces(self) -> None:
        """Treat every nonce handed out so far as past its lifetime."""
        with self._lock:
            for record in self._nonces.values():
                record.created = float("-inf")

    def _new_nonce(self) -> str:
        now = time.time()
        nonce = base64.b64encode(f"{now:.3f}:{secrets.token_hex(16)}".encode()).decode()
        with self._lock:
            # Forget long-expired nonces so a long-running simulator does not grow.
            cutoff = now - max(self.nonce_lifetime * 4, 60.0)
            for key in [k for k, v in self._nonces.items() if v.created < cutoff]:
                del self._nonces[key]
            self._nonces[nonce] = _Nonce(created=now)
        return nonce

    def challenges(self, *, digest_requested: bool, stale: bool = False) -> tuple[str, ...]:
        result: list[str] = []
        if self.digest_enabled and digest_requested:
            stale_part = ', stale="true"' if stale else ""
            result.append(
                f'Digest realm="{REALM}", qop="auth", nonce="{self._new_nonce()}", '
                f'algorithm=MD5{stale_part}'
            )
        if self.basic_enabled:
            result.append(f'Basic realm="{REALM}"')
        if not result:
            # Digest-only core asked without the Digest header: still say how to log in.
            result.append(
                f'Digest realm="{REALM}", qop="auth", nonce="{self._new_nonce()}", algorithm=MD5'
            )
        return tuple(result)

    def authenticate(
        self, method: str, request_uri: str, headers: Mapping[str, str]
    ) -> AuthOutcome:
        digest_requested = headers.get("X-Requested-Auth", "").strip().lower() == "digest"
        authorization = headers.get("Authorization", "")
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()

        if scheme == "basic":
            if not self.basic_enabled:
                return AuthOutcome("challenge", challenges=self.challenges(digest_requested=True))
            return self._basic(credentials, digest_requested)
        if scheme == "digest" and digest_requested:
            if not self.digest_enabled:
                return AuthOutcome("challenge", challenges=self.challenges(digest_requested=False))
            return self._digest(method, request_uri, credentials)
        if digest_requested:
            return AuthOutcome("challenge", challenges=self.challenges(digest_requested=True))
        return AuthOutcome("anonymous")

    def _basic(self, credentials: str, digest_requested: bool) -> AuthOutcome:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        name, sep, password = decoded.partition(":")
        entry = self.users.get(name)
        if not sep or entry is None or not secrets.compare_digest(entry[0], password):
            return AuthOutcome(
                "challenge", challenges=self.challenges(digest_requested=digest_requested)
            )
        return AuthOutcome("ok", user=name, scheme="basic", roles=entry[1])

    def _digest(self, method: str, request_uri: str, credentials: str) -> AuthOutcome:
        params = parse_digest_params(credentials)
        fail = AuthOutcome("challenge", challenges=self.challenges(digest_requested=True))
        required = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if any(key not in params for key in required):
            return fail
        if params["realm"] != REALM or params["qop"] != "auth":
            return fail
        if params.get("algorithm", "MD5").upper() != "MD5":
            return fail
        if params["uri"] != request_uri and params["uri"] != request_uri.split("?", 1)[0]:
            return fail
        entry = self.users.get(params["username"])
        if entry is None:
            return fail
        try:
            nc = int(params["nc"], 16)
        except ValueError:
            return fail
        nonce = params["nonce"]
        ha1 = _md5(f"{params['username']}:{REALM}:{entry[0]}")
        ha2 = _md5(f"{method}:{params['uri']}")
        expected = _md5(f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        if not secrets.compare_digest(expected, params["response"].lower()):
            return fail
        with self._lock:
            record = self._nonces.get(nonce)
            replayed = False
            if record is None:
                unknown = True
                expired = False
            else:
                unknown = False
                expired = time.time() - record.created > self.nonce_lifetime
                replayed = nc in record.seen_nc
                if not expired and not replayed:
                    record.seen_nc.add(nc)
        if unknown or expired:
            # A correct response to a nonce we no longer honour: the client only
            # has to retry with the fresh nonce, which is what stale=true says.
            return AuthOutcome(
                "challenge", challenges=self.challenges(digest_requested=True, stale=True)
            )
        if replayed:
            return fail
        return AuthOutcome("ok", user=params["username"], scheme="digest", roles=entry[1])

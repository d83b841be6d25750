"""The web plugin's settings: ``[plugins.settings.web]`` in the agent's config.

The page is served when that table is there (it may be empty): installing
the plugin alone opens no port. Loopback by default. Any other address
needs a password: a hash made by
``ocframe web-password``, given as ``password_hash = "${web_password_hash}"``
(resolved from the secrets file or the environment) or in the environment
as ``OCFRAME_WEB_PASSWORD_HASH``; without one the agent refuses to start.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ocframe.errors import PluginError

ENV_HASH = "OCFRAME_WEB_PASSWORD_HASH"


class WebSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Address to listen on; loopback unless a password is set.
    listen: str = "127.0.0.1"
    #: TCP port; 0 picks a free one (tests), written to ``<storage>/web.url``.
    port: int = Field(8080, ge=0, le=65535)
    #: User name for HTTP basic authentication.
    user: str = Field("operator", min_length=1, max_length=64)
    #: werkzeug password hash (``ocframe web-password``); required off loopback.
    password_hash: SecretStr | None = None
    #: Host names (``Host`` header) the page answers to besides the listen
    #: address and localhost: the name operators type. Others get 400, so a
    #: hostile page cannot reach the API through DNS rebinding.
    hostnames: list[str] = Field(default_factory=list)
    #: Seconds between the page's refreshes.
    refresh: float = Field(2.0, ge=0.5, le=60)
    #: Log lines kept for the page.
    log_lines: int = Field(200, ge=0, le=5000)

    def loopback(self) -> bool:
        if self.listen == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.listen).is_loopback
        except ValueError:
            return False

    def hash(self) -> str | None:
        env = os.environ.get(ENV_HASH)
        if env:
            return env
        return self.password_hash.get_secret_value() if self.password_hash else None


def load_settings(config: Any) -> WebSettings | None:
    """The validated settings from an :class:`ocframe.config.OcframeConfig`,
    None when the config has no ``[plugins.settings.web]`` (the page is off);
    :class:`PluginError` naming the key when they are wrong or unsafe."""
    plugins = getattr(config, "plugins", None)
    tables: Mapping[str, Any] = getattr(plugins, "settings", {}) if plugins is not None else {}
    if "web" not in tables:
        return None
    raw: Mapping[str, Any] = tables["web"]
    try:
        settings = WebSettings(**raw)
    except ValidationError as exc:
        raise PluginError(f"[plugins.settings.web]: {exc}") from None
    if not settings.loopback() and not settings.hash():
        raise PluginError(
            f"[plugins.settings.web] listen = {settings.listen!r} is reachable from other"
            " machines: set a password (password_hash from `ocframe web-password`, as a"
            f" secret reference, or {ENV_HASH}) or listen on 127.0.0.1")
    hashed = settings.hash()
    if hashed is not None and "$" not in hashed:
        raise PluginError("[plugins.settings.web] password_hash is not a password hash;"
                          " make one with `ocframe web-password`")
    return settings

"""PTZ preset recall over vendor HTTP APIs (cameras without ONVIF PTZ).

- Panasonic AW: ``GET /cgi-bin/aw_ptz?cmd=%23R{NN}&res=1``; presets are
  numbered from 1 in the UI and from 00 on the wire, ``#`` is sent as ``%23``.
- Sony: ``GET /command/presetposition.cgi?PresetCall=N``.
- Axis: ``GET /axis-cgi/com/ptz.cgi?gotoserverpresetname=NAME``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

import requests
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

Vendor = Literal["panasonic", "sony", "axis"]
AuthKind = Literal["none", "basic", "digest"]

#: The authentication each vendor's firmware uses by default.
DEFAULT_AUTH: dict[str, AuthKind] = {"panasonic": "basic", "sony": "digest", "axis": "digest"}


def preset_path(vendor: Vendor, preset: str) -> str:
    """The request path and query that recalls ``preset`` (already encoded)."""
    if vendor == "panasonic":
        number = int(preset)
        if not 1 <= number <= 100:
            raise ValueError(f"Panasonic presets are 1..100, not {preset}")
        return f"/cgi-bin/aw_ptz?cmd=%23R{number - 1:02d}&res=1"
    if vendor == "sony":
        return f"/command/presetposition.cgi?PresetCall={int(preset)}"
    return f"/axis-cgi/com/ptz.cgi?gotoserverpresetname={quote(preset, safe='')}"


def make_auth(kind: AuthKind, username: str | None, password: str | None) -> AuthBase | None:
    if kind == "none" or not username:
        return None
    if kind == "basic":
        return HTTPBasicAuth(username, password or "")
    return HTTPDigestAuth(username, password or "")


def recall_preset(
    base_url: str,
    vendor: Vendor,
    preset: str,
    *,
    auth: AuthBase | None,
    timeout: float = 5.0,
) -> str:
    """Send the recall; returns the camera's answer. Raises ``RuntimeError``."""
    url = base_url.rstrip("/") + preset_path(vendor, preset)
    try:
        resp = requests.get(url, auth=auth, timeout=timeout)
    except requests.RequestException as exc:
        raise RuntimeError(f"{vendor} preset {preset}: {type(exc).__name__}") from exc
    if resp.status_code == 401:
        raise RuntimeError(f"{vendor} preset {preset}: credentials rejected (401)")
    if resp.status_code >= 400:
        raise RuntimeError(f"{vendor} preset {preset}: HTTP {resp.status_code}")
    return resp.text.strip()

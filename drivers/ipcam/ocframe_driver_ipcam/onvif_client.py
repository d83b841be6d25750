"""ONVIF calls the driver needs, through onvif-zeep-async.

The library ships its WSDLs (works offline), signs requests with a
WS-Security UsernameToken PasswordDigest and, with ``adjust_time``, reads
the camera clock with an unauthenticated GetSystemDateAndTime first so the
token's ``Created`` matches the camera's clock. It is asyncio-only; the
driver calls it from kernel worker threads, so each call runs its own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class OnvifFailure(RuntimeError):
    """An ONVIF call failed; ``auth`` says the camera refused the credentials."""

    def __init__(self, reason: str, *, auth: bool = False) -> None:
        super().__init__(reason)
        self.auth = auth


@dataclass(frozen=True)
class OnvifTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    timeout: float = 10.0


async def _with_camera(
    target: OnvifTarget, work: Callable[[Any], Awaitable[T]], discover: bool = True
) -> T:
    from onvif import ONVIFCamera

    cam = ONVIFCamera(target.host, target.port, target.username, target.password, adjust_time=True)
    try:
        if discover:
            await cam.update_xaddrs()  # GetSystemDateAndTime first, then GetServices
        return await work(cam)
    finally:
        await cam.close()


def _run(target: OnvifTarget, work: Callable[[Any], Awaitable[T]], discover: bool = True) -> T:
    from onvif.exceptions import ONVIFAuthError, ONVIFError
    from zeep.exceptions import Fault

    async def bounded() -> T:
        return await asyncio.wait_for(_with_camera(target, work, discover), target.timeout)

    try:
        return asyncio.run(bounded())
    except TimeoutError as exc:
        raise OnvifFailure(f"ONVIF {target.host}:{target.port} timed out") from exc
    except ONVIFAuthError as exc:
        raise OnvifFailure(f"ONVIF credentials rejected: {exc}", auth=True) from exc
    except Fault as exc:
        refused = "NotAuthorized" in str(exc.code) or "authoriz" in str(exc).lower()
        raise OnvifFailure(f"ONVIF fault: {exc}", auth=refused) from exc
    except ONVIFError as exc:
        text = str(exc)
        raise OnvifFailure(f"ONVIF error: {text}", auth="401" in text or "uthori" in text) from exc
    except OSError as exc:
        raise OnvifFailure(f"ONVIF {target.host}:{target.port}: {exc}") from exc


def _pick_profile(profiles: list[Any], wanted: str | None) -> Any:
    if not profiles:
        raise OnvifFailure("camera has no media profiles")
    if wanted is None:
        return profiles[0]
    for profile in profiles:
        if wanted in (profile.token, getattr(profile, "Name", None)):
            return profile
    names = ", ".join(f"{p.token} ({getattr(p, 'Name', '')})" for p in profiles)
    raise OnvifFailure(f"no ONVIF profile {wanted!r} (have {names})")


def stream_uri(target: OnvifTarget, profile: str | None) -> str:
    """GetProfiles, then GetStreamUri (RTP-Unicast over RTSP) of the chosen one."""

    async def work(cam: Any) -> str:
        media = await cam.create_media_service()
        chosen = _pick_profile(await media.GetProfiles(), profile)
        answer = await media.GetStreamUri(
            {
                "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                "ProfileToken": chosen.token,
            }
        )
        return str(answer.Uri)

    return _run(target, work)


def goto_preset(target: OnvifTarget, profile: str | None, preset: str) -> None:
    """PTZ GotoPreset (``preset`` is the preset token) on the chosen profile."""

    async def work(cam: Any) -> None:
        media = await cam.create_media_service()
        chosen = _pick_profile(await media.GetProfiles(), profile)
        ptz = await cam.create_ptz_service()
        await ptz.GotoPreset({"ProfileToken": chosen.token, "PresetToken": preset})

    _run(target, work)


def clock_skew(target: OnvifTarget) -> timedelta:
    """Camera clock minus ours (GetSystemDateAndTime needs no credentials)."""

    async def work(cam: Any) -> timedelta:
        devicemgmt = await cam.create_devicemgmt_service()
        answer = await devicemgmt.authless_GetSystemDateAndTime()
        d, t = answer.UTCDateTime.Date, answer.UTCDateTime.Time
        camera = datetime(d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second, tzinfo=UTC)
        return camera - datetime.now(UTC)

    return _run(target, work, discover=False)


def profiles(target: OnvifTarget) -> list[str]:
    """Profile tokens (an authenticated call: proves the credentials)."""

    async def work(cam: Any) -> list[str]:
        media = await cam.create_media_service()
        return [p.token for p in await media.GetProfiles()]

    return _run(target, work)

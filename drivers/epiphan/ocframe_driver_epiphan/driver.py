"""The ``epiphan`` driver: an Epiphan Pearl recorder steered over HTTP.

REST mode starts and stops a recorder through API v2.0 and downloads the
files of the capture from the Pearl's archive; legacy mode flips
``rec_enabled`` through the CGI API and takes the files the Pearl's
automatic upload puts into a local directory.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from ocframe import CaptureContext, CaptureError, CaptureHandle, CheckResult, Driver, InputSpec

from .capture import LegacyCapture, RestCapture, wait_for_state
from .errors import PearlError
from .legacy import LegacyClient, scan
from .rest import PearlClient
from .settings import EpiphanSettings


class EpiphanDriver(Driver):
    Settings: ClassVar[type[EpiphanSettings]] = EpiphanSettings  # type: ignore[assignment]
    mimetype: ClassVar[str] = "video/mp4"

    def __init__(self, spec: InputSpec) -> None:
        super().__init__(spec)
        self.settings: EpiphanSettings = spec.settings
        # Start and stop of one recorder must not interleave (back-to-back
        # events: the next start waits until the previous stop is done).
        self._transition = threading.Lock()
        self._cache_lock = threading.Lock()
        self._caps: tuple[float, dict[str, str]] | None = None
        self._recorder: tuple[str, str] | None = None  # (id, name)
        # Files already handed to a capture, so a later one cannot take them.
        self._claimed_ids: set[str] = set()
        self._claimed_paths: set[Path] = set()
        self._last_rest: RestCapture | None = None

    # -- clients ---------------------------------------------------------------

    def _rest(self) -> PearlClient:
        s = self.settings
        return PearlClient(
            s.url,
            user=s.user,
            password=s.password.get_secret_value(),
            verify=s.verify(),
            timeout=s.request_timeout,
            logger=self.log,
        )

    def _legacy(self) -> LegacyClient:
        s = self.settings
        return LegacyClient(
            s.url,
            s.channel,
            user=s.user,
            password=s.password.get_secret_value(),
            verify=s.verify(),
            timeout=s.request_timeout,
        )

    def _resolve_recorder(self, client: PearlClient) -> tuple[str, str]:
        """The configured recorder as (id, name); by id first, then by name."""
        if self._recorder is not None:
            return self._recorder
        wanted = self.settings.recorder
        recorders = client.recorders()
        for key in ("id", "name"):
            for r in recorders:
                if str(r.get(key)) == wanted:
                    self._recorder = (str(r["id"]), str(r.get("name", r["id"])))
                    return self._recorder
        known = ", ".join(f"{r.get('id')} ({r.get('name')})" for r in recorders) or "none"
        raise CaptureError(f"the Pearl has no recorder {wanted!r}; it has: {known}", permanent=True)

    # -- facts -----------------------------------------------------------------

    def capabilities(self) -> dict[str, str]:
        caps = super().capabilities()
        caps["mode"] = self.settings.mode
        if self.settings.mode == "legacy":
            caps["channel"] = self.settings.channel
            return caps
        with self._cache_lock:
            cached = self._caps
            if cached and time.monotonic() - cached[0] < self.settings.capabilities_ttl:
                return {**caps, **cached[1]}
        facts: dict[str, str] = {}
        client = self._rest()
        try:
            firmware = client.firmware()
            facts["device"] = str(firmware.get("product_name", ""))
            facts["firmware"] = str(firmware.get("version", ""))
            inputs = client.inputs()
            facts["inputs"] = ",".join(str(i.get("name", i.get("id"))) for i in inputs)
            facts["audio"] = str(any(i.get("audio") for i in inputs)).lower()
            facts["video"] = str(any(i.get("video") for i in inputs)).lower()
            facts["recorder"] = self._resolve_recorder(client)[1]
        except (PearlError, CaptureError) as exc:
            # Remember the failure too, so an unreachable Pearl is not asked on
            # every call; retry sooner than after a success.
            self.log.warning("Pearl capabilities unavailable: %s", exc)
            facts = {"reachable": "false"}
            with self._cache_lock:
                self._caps = (
                    time.monotonic() - max(0.0, self.settings.capabilities_ttl - 30.0),
                    facts,
                )
            return {**caps, **facts}
        finally:
            client.close()
        with self._cache_lock:
            self._caps = (time.monotonic(), facts)
        return {**caps, **facts}

    def check(self) -> list[CheckResult]:
        if self.settings.mode == "legacy":
            return self._check_legacy()
        results: list[CheckResult] = []
        client = self._rest()
        try:
            try:
                firmware = client.firmware()
            except PearlError as exc:
                results.append(CheckResult("Pearl reachable", exc.status is not None, exc.message))
                if exc.status is not None:
                    results.append(CheckResult("credentials accepted", False, exc.message))
                return results
            results.append(CheckResult("Pearl reachable", True, self.settings.url))
            results.append(CheckResult("credentials accepted", True, self.settings.user))
            results.append(
                CheckResult(
                    "firmware",
                    True,
                    f"{firmware.get('product_name', '?')} {firmware.get('version', '?')}",
                )
            )
            try:
                rid, name = self._resolve_recorder(client)
                status = client.status(rid)
                results.append(
                    CheckResult("recorder", True, f"{rid} ({name}), state {status.get('state')}")
                )
            except (PearlError, CaptureError) as exc:
                results.append(CheckResult("recorder", False, str(exc)))
        finally:
            client.close()
        return results

    def _check_legacy(self) -> list[CheckResult]:
        results: list[CheckResult] = []
        client = self._legacy()
        try:
            client.get("rec_enabled")
            results.append(
                CheckResult("Pearl channel", True, f"channel{self.settings.channel} answers")
            )
        except PearlError as exc:
            results.append(CheckResult("Pearl channel", False, exc.message))
        finally:
            client.close()
        upload_dir = self.settings.upload_dir
        ok = upload_dir is not None and upload_dir.is_dir()
        results.append(CheckResult("upload directory", ok, str(upload_dir)))
        return results

    # -- capture ---------------------------------------------------------------

    def start(self, ctx: CaptureContext) -> CaptureHandle:
        if self.settings.mode == "legacy":
            return self._start_legacy(ctx)
        return self._start_rest(ctx)

    def _start_rest(self, ctx: CaptureContext) -> CaptureHandle:
        s = self.settings
        client = self._rest()
        with self._transition:
            try:
                rid, name = self._resolve_recorder(client)
                started = datetime.now(UTC)
                status = client.status(rid)
                if status.get("state") == "started":
                    # Our own earlier capture (before an agent restart) or
                    # someone else: keep it, and count its file as ours.
                    running_for = float(status.get("duration") or 0)
                    ctx.logger.warning(
                        "Pearl recorder %s was already recording for %.0fs; taking it over "
                        "(is the Pearl's own Opencast/CMS mode off?)",
                        name,
                        running_for,
                    )
                    started -= timedelta(seconds=running_for)
                    before = None
                    since = None  # its file began before we knew of it
                else:
                    before = self._archive_snapshot(client, rid, ctx)
                    requested = time.time()
                    self._request_start(client, rid, name, ctx)
                    not_yet = [requested]
                    try:
                        wait_for_state(
                            client,
                            rid,
                            "started",
                            timeout=s.start_timeout,
                            interval=s.transition_poll_interval,
                            fail_on=("error", "disabled"),
                            not_yet=not_yet,
                        )
                    except CaptureError:
                        self._abandon(client, rid)
                        raise
                    since = not_yet[-1]
            except PearlError as exc:
                client.close()
                raise CaptureError(exc.message, permanent=exc.auth_failed) from None
            except CaptureError:
                client.close()
                raise
            handle = RestCapture(
                ctx, s, client, rid, name, started, self._transition, self._claimed_ids
            )
            handle.before = before
            handle.recording_since = since
            previous, self._last_rest = self._last_rest, handle
            if previous is not None and previous.stopped is not None:
                previous.successor_before = before
        ctx.logger.info("Pearl recorder %s started", name)
        return handle

    def _archive_snapshot(
        self, client: PearlClient, rid: str, ctx: CaptureContext
    ) -> set[str] | None:
        """Ids in the archive before we start: none of them can be ours."""
        try:
            return client.archive_ids(rid, page_size=self.settings.archive_page_size)
        except PearlError as exc:
            if exc.auth_failed:
                raise
            ctx.logger.warning("cannot list the Pearl archive (%s); using times only", exc.message)
            return None

    def _request_start(self, client: PearlClient, rid: str, name: str, ctx: CaptureContext) -> None:
        s = self.settings
        attempt = 0
        while True:
            try:
                client.control(rid, "start")
                return
            except PearlError as exc:
                if exc.status == 409:
                    raise CaptureError(
                        f"Pearl recorder {name!r} refused to start: {exc.message}"
                    ) from None
                if not exc.transient:
                    raise
                if attempt >= s.start_retries:
                    raise CaptureError(
                        f"Pearl recorder {name!r} did not accept start after "
                        f"{attempt + 1} attempts: {exc.message}"
                    ) from None
                attempt += 1
                ctx.logger.warning(
                    "Pearl start refused (%s); retry %d of %d",
                    exc.message,
                    attempt,
                    s.start_retries,
                )
                time.sleep(s.start_retry_delay(attempt))

    def _abandon(self, client: PearlClient, rid: str) -> None:
        """A start that timed out may still succeed later; do not leave the
        Pearl recording unattended."""
        try:
            client.control(rid, "stop")
        except PearlError as exc:
            self.log.warning("could not cancel the failed start: %s", exc.message)

    def _start_legacy(self, ctx: CaptureContext) -> CaptureHandle:
        s = self.settings
        assert s.upload_dir is not None
        client = self._legacy()
        with self._transition:
            before = set(scan(s.upload_dir, s.upload_pattern))
            started = time.time()
            try:
                if client.recording():
                    ctx.logger.warning(
                        "Pearl channel %s was already recording; taking it over "
                        "(is the Pearl's own Opencast/CMS mode off?)",
                        s.channel,
                    )
                else:
                    self._legacy_start_with_retries(client, ctx)
                    deadline = time.monotonic() + s.start_timeout
                    while not client.recording():
                        if time.monotonic() >= deadline:
                            raise CaptureError(
                                f"Pearl channel {s.channel} did not start "
                                f"within {s.start_timeout:g}s"
                            )
                        time.sleep(s.transition_poll_interval)
            except PearlError as exc:
                client.close()
                raise CaptureError(exc.message, permanent=exc.status in (401, 404)) from None
            except CaptureError:
                client.close()
                raise
        ctx.logger.info("Pearl channel %s started", s.channel)
        return LegacyCapture(ctx, s, client, started, before, self._transition, self._claimed_paths)

    def _legacy_start_with_retries(self, client: LegacyClient, ctx: CaptureContext) -> None:
        s = self.settings
        for attempt in range(s.start_retries + 1):
            try:
                client.set(rec_enabled="on")
                return
            except PearlError as exc:
                if not exc.transient or attempt >= s.start_retries:
                    raise
                ctx.logger.warning("Pearl start refused (%s); retrying", exc.message)
                time.sleep(s.start_retry_delay(attempt + 1))

    def close(self) -> None:
        with self._cache_lock:
            self._caps = None

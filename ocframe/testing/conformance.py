"""The driver conformance kit: does a driver keep the contract of
:mod:`ocframe.driver`? (docs/driver-conformance.md)

A driver's tests subclass :class:`DriverConformance` and say how to make the
driver record and how to make it fail; pytest then runs the contract's checks
against it::

    from ocframe.testing.conformance import DriverConformance

    class TestConformance(DriverConformance):
        driver = "testsrc"                      # entry point name, or the class
        settings = {"width": 320, "height": 180}
        failing_settings = {"preset": "no-such-preset"}

Settings that need a running emulator come from fixtures instead: override
the ``conformance_settings`` / ``conformance_failing_settings`` fixtures in
the subclass (they may use any fixture of the driver's own conftest).

The module is also a pytest plugin (entry point ``pytest11``, loaded wherever
ocframe and pytest are installed): it registers the ``conformance`` marker
that every check carries, so ``pytest -m conformance`` runs just the kit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from ..driver import CaptureHandle, Driver, DriverSettings
from ..errors import CaptureError
from ..model import CaptureContext, CheckResult, Track
from .drivers import capture_context, input_spec
from .media import decode

DRIVER_GROUP = "ocframe.drivers"
_FLAVOR = re.compile(r"^[^/\s]+/[^/\s]+$")
_MIMETYPE = re.compile(r"^[a-z]+/[A-Za-z0-9.+-]+$")
_CAPABILITY_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: the ocframe driver conformance kit (ocframe.testing.conformance)")


def load_driver(driver: str | type[Driver]) -> type[Driver]:
    """The driver class, from an ``ocframe.drivers`` entry point name or as given."""
    if not isinstance(driver, str):
        return driver
    found = entry_points(group=DRIVER_GROUP, name=driver)
    if not found:
        raise AssertionError(f"no {DRIVER_GROUP!r} entry point named {driver!r} is installed "
                             f"(is the driver's distribution installed?)")
    cls = next(iter(found)).load()
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise AssertionError(f"entry point {driver!r} names {cls!r}, not a Driver subclass")
    return cls


@pytest.mark.conformance
class DriverConformance:
    """The contract's checks. Subclass as ``Test...`` and set the class
    attributes below (or override the fixtures)."""

    #: Entry point name (checked to be installed) or the driver class.
    driver: ClassVar[str | type[Driver] | None] = None
    #: Settings with which the driver records.
    settings: ClassVar[dict[str, Any]] = {}
    #: Settings with which a capture fails (a device that is not there).
    failing_settings: ClassVar[dict[str, Any] | None] = None
    #: A word or phrase the failure's message must contain to be useful.
    failure_mentions: ClassVar[str | None] = None
    flavor: ClassVar[str] = "presenter/source"
    input_name: ClassVar[str] = "cam"
    #: Seconds of recording before a capture is stopped.
    record_seconds: ClassVar[float] = 2.0
    #: How long the scheduled event lasts (the driver may use it for a duration).
    event_seconds: ClassVar[float] = 30.0
    #: ``start`` must return within this many seconds.
    start_bound: ClassVar[float] = 5.0
    #: ``stop`` must return within this many seconds.
    stop_bound: ClassVar[float] = 15.0
    #: ``tracks`` (which may download from a device) must return within this.
    tracks_bound: ClassVar[float] = 60.0
    #: How long a failing capture may take to say so (start, poll or tracks).
    failure_bound: ClassVar[float] = 30.0
    #: Check tracks whose mime type is audio/* or video/* by decoding them.
    check_playable: ClassVar[bool] = True

    # -- what the driver author may override ------------------------------
    @pytest.fixture
    def conformance_settings(self) -> dict[str, Any]:
        return dict(self.settings)

    @pytest.fixture
    def conformance_failing_settings(self) -> dict[str, Any] | None:
        return None if self.failing_settings is None else dict(self.failing_settings)

    def wait_recording(self, handle: CaptureHandle, seconds: float) -> None:
        """Let the capture record ``seconds``; fail if it ends meanwhile.
        Override to wait on a better signal (ffmpeg's progress, a device)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ended = handle.poll()
            if ended is not None:
                pytest.fail(f"the capture ended on its own after start: {ended}")
            time.sleep(0.1)

    # -- plumbing ------------------------------------------------------------
    @pytest.fixture
    def driver_class(self) -> type[Driver]:
        if self.driver is None:
            pytest.fail(f"{type(self).__name__}: set `driver` to the entry point name or class")
        return load_driver(self.driver)

    @pytest.fixture
    def make_driver(self, driver_class: type[Driver]) -> Iterator[Any]:
        made: list[Driver] = []
        name = self.driver if isinstance(self.driver, str) else driver_class.__name__.lower()

        def make(settings: dict[str, Any]) -> Driver:
            spec = input_spec(driver_class, settings, name=self.input_name, driver=name,
                              flavor=self.flavor)
            driver = driver_class(spec)
            made.append(driver)
            return driver

        yield make
        for driver in made:
            driver.close()

    def _context(self, driver: Driver, directory: Path, n: int) -> CaptureContext:
        return capture_context(driver, directory, seconds=self.event_seconds,
                               uid=f"conformance-{n}", recording_id=f"conformance-{n}",
                               title=f"Conformance {n}")

    def _start(self, driver: Driver, ctx: CaptureContext) -> CaptureHandle:
        driver.prepare(ctx)
        began = time.monotonic()
        handle = driver.start(ctx)
        took = time.monotonic() - began
        assert isinstance(handle, CaptureHandle), f"start returned {handle!r}, not a CaptureHandle"
        assert took <= self.start_bound, (
            f"start took {took:.1f} s; it must return within {self.start_bound} s "
            f"(start the capture and return; poll() reports how it goes)")
        return handle

    def _stop(self, handle: CaptureHandle) -> None:
        began = time.monotonic()
        handle.stop()
        took = time.monotonic() - began
        assert took <= self.stop_bound, (
            f"stop took {took:.1f} s; it must end the capture within {self.stop_bound} s")
        exit_info = getattr(handle, "exit", None)
        stopped_by = getattr(exit_info, "stopped_by", None)
        assert stopped_by not in ("sigterm", "sigkill"), (
            f"the capture ignored the graceful stop and needed {stopped_by}: its files may "
            f"lack trailers")

    def _tracks(self, handle: CaptureHandle, ctx: CaptureContext) -> list[Track]:
        began = time.monotonic()
        tracks = handle.tracks()
        took = time.monotonic() - began
        assert took <= self.tracks_bound, f"tracks took {took:.1f} s (bound {self.tracks_bound})"
        assert isinstance(tracks, list) and tracks, f"tracks() returned {tracks!r}: no tracks"
        for track in tracks:
            self.check_track(track, ctx)
        return tracks

    def check_track(self, track: Track, ctx: CaptureContext) -> None:
        """One reported track: exists, non-empty, flavored, typed, playable."""
        assert isinstance(track, Track), f"{track!r} is not an ocframe.Track"
        path = Path(track.path)
        assert path.is_file(), f"reported track {path} does not exist"
        assert path.stat().st_size > 0, f"reported track {path} is empty"
        assert _FLAVOR.match(track.flavor or ""), (
            f"{path.name}: flavor {track.flavor!r} is not type/subtype")
        assert _MIMETYPE.match(track.mimetype or ""), (
            f"{path.name}: mime type {track.mimetype!r} is not type/subtype")
        assert track.input == ctx.input.name, (
            f"{path.name}: input {track.input!r}, expected {ctx.input.name!r}")
        assert track.segment == ctx.segment, (
            f"{path.name}: segment {track.segment}, expected {ctx.segment}")
        if self.check_playable and track.mimetype.split("/")[0] in ("video", "audio"):
            kinds = decode(path)
            if track.mimetype.startswith("video/"):
                assert "video" in kinds or "audio" in kinds, f"{path.name}: streams {kinds}"
            else:
                assert "audio" in kinds, f"{path.name} ({track.mimetype}) has no audio: {kinds}"

    # -- the checks ----------------------------------------------------------
    def test_settings_refuse_unknown_keys(self, driver_class: type[Driver],
                                          conformance_settings: dict[str, Any]) -> None:
        assert issubclass(driver_class.Settings, DriverSettings), (
            "Settings must derive from ocframe.DriverSettings (unknown keys are errors)")
        driver_class.Settings(**conformance_settings)
        with pytest.raises(ValidationError) as refused:
            driver_class.Settings(**conformance_settings, conformance_no_such_key=1)
        assert "conformance_no_such_key" in str(refused.value)

    def test_capabilities_have_the_right_shape(self, make_driver: Any,
                                               conformance_settings: dict[str, Any]) -> None:
        driver = make_driver(conformance_settings)
        caps = driver.capabilities()
        assert isinstance(caps, dict) and caps, f"capabilities() returned {caps!r}"
        for key, value in caps.items():
            assert isinstance(key, str) and _CAPABILITY_KEY.match(key), (
                f"capability key {key!r}: letters, digits, '.', '_' and '-' only")
            assert not key.startswith("capture.device."), (
                f"capability key {key!r}: without the capture.device.<input>. prefix "
                f"(the kernel adds it)")
            assert isinstance(value, str), f"capability {key}: {value!r} is not a string"
            assert "\n" not in value, f"capability {key}: a value of one line"
        began = time.monotonic()
        again = driver.capabilities()
        took = time.monotonic() - began
        assert took < 2.0, f"capabilities() took {took:.1f} s the second time (cache probes)"
        assert again.keys() == caps.keys()
        results = driver.check()
        assert isinstance(results, list) and results, "check() returned no results"
        assert all(isinstance(r, CheckResult) for r in results), f"check() returned {results!r}"

    def test_records_starts_promptly_and_stops_gracefully(
            self, make_driver: Any, conformance_settings: dict[str, Any],
            tmp_path: Path) -> None:
        driver = make_driver(conformance_settings)
        ctx = self._context(driver, tmp_path / "capture", 1)
        handle = self._start(driver, ctx)
        try:
            self.wait_recording(handle, self.record_seconds)
        finally:
            self._stop(handle)
        self._tracks(handle, ctx)

    def test_back_to_back_captures_overlap(self, make_driver: Any,
                                           conformance_settings: dict[str, Any],
                                           tmp_path: Path) -> None:
        """The previous capture collects its files while the next one runs,
        on the same driver instance (back-to-back events)."""
        driver = make_driver(conformance_settings)
        first_ctx = self._context(driver, tmp_path / "first", 1)
        first = self._start(driver, first_ctx)
        try:
            self.wait_recording(first, self.record_seconds)
        finally:
            self._stop(first)
        second_ctx = self._context(driver, tmp_path / "second", 2)
        second = self._start(driver, second_ctx)
        try:
            first_tracks = self._tracks(first, first_ctx)
            self.wait_recording(second, self.record_seconds)
        finally:
            self._stop(second)
        second_tracks = self._tracks(second, second_ctx)
        first_paths = {Path(t.path).resolve() for t in first_tracks}
        second_paths = {Path(t.path).resolve() for t in second_tracks}
        assert not first_paths & second_paths, (
            f"both captures reported the same files: {first_paths & second_paths}")
        for track in first_tracks:
            assert Path(track.path).stat().st_size > 0, f"{track.path} was emptied by the next"

    def test_failure_is_a_capture_error_with_a_useful_message(
            self, make_driver: Any, conformance_failing_settings: dict[str, Any] | None,
            tmp_path: Path) -> None:
        if conformance_failing_settings is None:
            pytest.fail(f"{type(self).__name__}: set `failing_settings` (or override the "
                        f"conformance_failing_settings fixture) to settings that make a "
                        f"capture fail")
        driver = make_driver(conformance_failing_settings)
        ctx = self._context(driver, tmp_path / "failing", 1)
        error = self._failure(driver, ctx)
        message = str(error)
        assert len(message.strip()) >= 10, f"CaptureError message {message!r} says too little"
        assert "Traceback" not in message, "the message is a traceback, not a reason"
        if self.failure_mentions:
            assert self.failure_mentions.lower() in message.lower(), (
                f"the failure's message should mention {self.failure_mentions!r}: {message!r}")

    def _failure(self, driver: Driver, ctx: CaptureContext) -> CaptureError:
        """Run a capture that must fail; the CaptureError it fails with, from
        prepare, start, or (after it ended or was stopped) tracks."""
        deadline = time.monotonic() + self.failure_bound
        try:
            driver.prepare(ctx)
            handle = driver.start(ctx)
        except CaptureError as exc:
            return exc
        except Exception as exc:
            pytest.fail(f"a failing capture raised {type(exc).__name__}: {exc}; drivers raise "
                        f"ocframe.CaptureError so the kernel can report it")
        try:
            while handle.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            self._stop(handle)
        try:
            tracks = handle.tracks()
        except CaptureError as exc:
            return exc
        except Exception as exc:
            pytest.fail(f"tracks() of a failed capture raised {type(exc).__name__}: {exc}; "
                        f"drivers raise ocframe.CaptureError")
        pytest.fail(f"the failing settings produced tracks {tracks!r}: pick settings that fail, "
                    f"or the driver hides a failure")

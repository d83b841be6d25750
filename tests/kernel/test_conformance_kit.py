"""The conformance kit fails drivers that break the contract, each with a
message that says what is wrong (and passes a driver that keeps it).

The drivers below are real ffmpeg drivers with one fault each; the kit runs
against them in a child pytest, as a driver author's CI would run it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

DRIVERS = '''
from __future__ import annotations

import time
from typing import Any, ClassVar

from pydantic import BaseModel

from ocframe import (CaptureCommand, CaptureError, CommandDriver, CommandDriverSettings,
                     CommandOutput, DriverSettings)
from ocframe.testing.conformance import DriverConformance


class Settings(CommandDriverSettings):
    size: str = "160x120"
    fail: bool = False


class Good(CommandDriver):
    Settings: ClassVar[type[DriverSettings]] = Settings

    def command(self, ctx: Any) -> CaptureCommand:
        target = ctx.directory / "out.mkv"
        extra = ["-bogus-option"] if self.settings.fail else []
        argv = [self.spec.tools["ffmpeg"], "-hide_banner", "-y", *extra, "-re", "-f", "lavfi",
                "-i", f"testsrc2=size={self.settings.size}:rate=10", "-c:v", "libx264",
                "-preset", "ultrafast", "-flush_packets", "1", str(target)]
        return CaptureCommand(argv, [CommandOutput(target, ctx.input.flavor, "video/x-matroska")])


class LaxSettings(BaseModel):  # not a DriverSettings: typos pass silently
    size: str = "160x120"
    fail: bool = False


class Lax(Good):
    Settings: ClassVar[Any] = LaxSettings


class PrefixedCapabilities(Good):
    def capabilities(self) -> dict[str, str]:
        return {"capture.device.cam.src": "lavfi"}


class SlowStart(Good):
    def start(self, ctx: Any) -> Any:
        time.sleep(6)
        return super().start(ctx)


class SharedState(Good):
    """Keeps the capture in the driver: the next start replaces the previous."""

    def start(self, ctx: Any) -> Any:
        self.current = super().start(ctx)
        return self

    def poll(self) -> Any:
        return self.current.poll()

    def stop(self) -> None:
        self.current.stop()

    def tracks(self) -> Any:
        return self.current.tracks()


class WrongError(Good):
    def start(self, ctx: Any) -> Any:
        if self.settings.fail:
            raise RuntimeError("boom")
        return super().start(ctx)


class WrongMime(Good):
    def command(self, ctx: Any) -> CaptureCommand:
        cmd = super().command(ctx)
        out = cmd.outputs[0]
        return CaptureCommand(cmd.argv, [CommandOutput(out.path, "presenter", "matroska")])


class Kit(DriverConformance):
    settings = {"size": "160x120"}
    failing_settings = {"fail": True}
    record_seconds = 1.0
    start_bound = 3.0


class TestGood(Kit):
    driver = Good
    failure_mentions = "ffmpeg exited"


class TestLax(Kit):
    driver = Lax


class TestPrefixedCapabilities(Kit):
    driver = PrefixedCapabilities


class TestSlowStart(Kit):
    driver = SlowStart


class TestSharedState(Kit):
    driver = SharedState


class TestWrongError(Kit):
    driver = WrongError


class TestWrongMime(Kit):
    driver = WrongMime


class TestNotInstalled(Kit):
    driver = "no-such-driver-entry-point"
'''


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each kit check's outcome (``passed``/``failed``) and failure text."""
    directory = tmp_path_factory.mktemp("kit")
    (directory / "test_drivers.py").write_text(DRIVERS)
    done = subprocess.run(
        # Three workers: the kit mostly waits on tiny captures (160x120 at 10 fps).
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "3", "-rA",
         "--tb=line", "-q", "--rootdir", str(directory), str(directory / "test_drivers.py")],
        capture_output=True, text=True, cwd=directory, timeout=600,
    )
    results: dict[str, str] = {}
    for line in done.stdout.splitlines():
        found = re.match(r"^(PASSED|FAILED|ERROR) \S*::(\w+)::(\w+)(?: - (.*))?$", line)
        if found:
            kind, cls, test, why = found.groups()
            results[f"{cls}.{test}"] = f"{kind.lower()} {why or ''}".strip()
    assert results, done.stdout[-3000:] + done.stderr[-2000:]
    results["_output"] = done.stdout
    return results


def test_a_driver_that_keeps_the_contract_passes(outcome: dict[str, str]) -> None:
    good = {k: v for k, v in outcome.items() if k.startswith("TestGood.")}
    assert len(good) == 5 and all(v == "passed" for v in good.values()), good


@pytest.mark.parametrize(("check", "says"), [
    ("TestLax.test_settings_refuse_unknown_keys", "derive from ocframe.DriverSettings"),
    ("TestPrefixedCapabilities.test_capabilities_have_the_right_shape",
     "without the capture.device.<input>. prefix"),
    ("TestSlowStart.test_records_starts_promptly_and_stops_gracefully", "start took"),
    ("TestSharedState.test_back_to_back_captures_overlap", "not a CaptureHandle"),
    ("TestWrongError.test_failure_is_a_capture_error_with_a_useful_message",
     "raised RuntimeError: boom"),
    ("TestWrongMime.test_records_starts_promptly_and_stops_gracefully", "is not type/subtype"),
    ("TestNotInstalled.test_settings_refuse_unknown_keys", "no 'ocframe.drivers' entry point"),
])
def test_a_broken_contract_fails_with_a_reason(outcome: dict[str, str], check: str,
                                               says: str) -> None:
    result = outcome.get(check, "missing")
    assert result.startswith(("failed", "error")), f"{check}: {result}"
    assert says in outcome["_output"].split(check, 1)[-1], (check, result)

"""The testsrc driver passes the driver conformance kit."""

from __future__ import annotations

from ocframe.testing.conformance import DriverConformance


class TestTestsrcConformance(DriverConformance):
    driver = "testsrc"
    settings = {"width": 160, "height": 120, "rate": 10}
    # libx264 refuses an unknown preset: ffmpeg exits before recording anything.
    failing_settings = {"width": 160, "height": 120, "rate": 10, "preset": "no-such-preset"}
    failure_mentions = "ffmpeg"

"""The command driver passes the driver conformance kit, running real ffmpeg
commands: one that prints nothing while it records two files, and one with
an option ffmpeg does not know."""

from __future__ import annotations

from ocframe_driver_command import CommandLineDriver

from ocframe.testing.conformance import DriverConformance
from ocframe.testing.drivers import input_spec

FFMPEG = input_spec(CommandLineDriver, {"command": ["true"]}).tools["ffmpeg"]
RECORD = [
    FFMPEG, "-nostats", "-loglevel", "error", "-y", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-map", "0:v", "-c:v", "libx264", "-preset", "ultrafast", "-flush_packets", "1",
    "-cluster_time_limit", "500", "{output.0}",
    "-map", "1:a", "-c:a", "flac", "{output.1}",
]


class TestCommandConformance(DriverConformance):
    driver = "command"
    settings = {
        "command": RECORD,
        "outputs": [{"path": "{name}.mkv"},
                    {"path": "{name}-audio.flac", "flavor": "presenter-audio/source"}],
    }
    failing_settings = {"command": [FFMPEG, "-hide_banner", "-bogus-option", "{output}"],
                        "start_check": 5.0}
    failure_mentions = "bogus-option"

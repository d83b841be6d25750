"""ocframe: a plugin-based framework for Opencast capture agents.

The public plugin API is what this module exports; see docs/plugin-api.md.
"""

from .driver import (
    CaptureCommand,
    CaptureHandle,
    CommandCapture,
    CommandDriver,
    CommandDriverSettings,
    CommandOutput,
    Driver,
    DriverSettings,
)
from .errors import CaptureError, ConfigError, IngestError, IngestVeto, PluginError
from .ffmpeg import find_ffmpeg, find_ffprobe
from .hookspecs import hookimpl
from .model import (
    AgentState,
    CaptureContext,
    CheckResult,
    Event,
    IngestPackage,
    InputSpec,
    RecordingState,
    StateChange,
    Track,
    file_md5,
    safe_name,
)
from .process import StopTimeouts
from .version import __version__

__all__ = [
    "AgentState",
    "CaptureCommand",
    "CaptureContext",
    "CaptureError",
    "CaptureHandle",
    "CheckResult",
    "CommandCapture",
    "CommandDriver",
    "CommandDriverSettings",
    "CommandOutput",
    "ConfigError",
    "Driver",
    "DriverSettings",
    "Event",
    "IngestError",
    "IngestPackage",
    "IngestVeto",
    "InputSpec",
    "PluginError",
    "RecordingState",
    "StateChange",
    "StopTimeouts",
    "Track",
    "__version__",
    "file_md5",
    "find_ffmpeg",
    "find_ffprobe",
    "hookimpl",
    "safe_name",
]

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
    safe_name,
)

__version__ = "0.1.0"

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
    "Track",
    "__version__",
    "hookimpl",
    "safe_name",
]

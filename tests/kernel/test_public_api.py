"""The public plugin API (docs/plugin-api.md): what each public module
exports, and the behaviour of the parts that are not contracts of their own
(errors, the ffmpeg wrapper). The ingest toolkit has tests/ingest/test_toolkit.py.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from ocframe_layout import PUBLIC_MODULES, ROOT

# What plugins may rely on today. A release may add names; removing or
# renaming one breaks plugins and needs the deprecation path of the promise.
PROMISED: dict[str, set[str]] = {
    "ocframe": {
        "AgentState", "CaptureCommand", "CaptureContext", "CaptureError", "CaptureHandle",
        "CheckResult", "CommandCapture", "CommandDriver", "CommandDriverSettings",
        "CommandOutput", "ConfigError", "Driver", "DriverSettings", "Event", "IngestError",
        "IngestPackage", "IngestVeto", "InputSpec", "PluginError", "RecordingState",
        "StateChange", "StopTimeouts", "Track", "file_md5", "find_ffmpeg", "find_ffprobe",
        "hookimpl", "safe_name",
    },
    "ocframe.driver": {
        "CaptureCommand", "CaptureHandle", "CommandCapture", "CommandDriver",
        "CommandDriverSettings", "CommandOutput", "Driver", "DriverSettings",
    },
    "ocframe.errors": {
        "AuthError", "CaptureError", "ConfigError", "CoreError", "IngestError", "IngestVeto",
        "OcframeError", "PluginError",
    },
    "ocframe.ffmpeg": {
        "compile_args", "ffmpeg_help", "find_ffmpeg", "find_ffprobe", "input",
        "merge_outputs", "output",
    },
    "ocframe.hookspecs": {"hookimpl"},
    "ocframe.ingest": {
        "Checkpoint", "DigestTap", "FilePart", "IngestJob", "IngestResult", "IngestStrategy",
        "Part", "Segment", "ServiceHttp", "StrategySettings", "StreamPart", "TextPart",
    },
    "ocframe.ingest.elements": {"ElementByElementIngest"},
    "ocframe.ingest.support": {
        "MPElement", "UploadSettings", "dublin_core_fields", "earlier_result",
        "element_lists", "expected_md5", "finish_one_request", "iso", "new_element",
        "parse_answer", "tap_for", "verify_element", "verify_tracks", "workflow_fields",
        "workflow_id", "xml_text",
    },
    "ocframe.model": {
        "AgentState", "CaptureContext", "CheckResult", "Event", "IngestPackage", "InputSpec",
        "RecordingState", "StateChange", "Track", "file_md5", "safe_name",
    },
}


def test_every_public_module_is_listed_here() -> None:
    assert set(PROMISED) == set(PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_exports_what_it_promises(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} must declare __all__"
    assert len(exported) == len(set(exported))
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"
    assert PROMISED[name] <= set(exported), f"{name} dropped {PROMISED[name] - set(exported)}"


def test_docs_name_every_public_module() -> None:
    """The one rule plugin authors read ("import only these") matches the check."""
    text = (ROOT / "docs" / "plugin-api.md").read_text()
    rule = text[text.index("## Public modules"):]
    rule = rule[:rule.index("\n## ", 3)]
    named = set(re.findall(r"`(ocframe(?:\.\w+)*)`", rule))
    assert set(PUBLIC_MODULES) <= named
    assert "ocframe.testing" in named


def test_public_names_are_the_same_objects_everywhere() -> None:
    """A name exported twice (``ocframe`` and a submodule) is one object, so
    ``isinstance`` and ``except`` work whichever import a plugin uses."""
    import ocframe

    for name in PUBLIC_MODULES[1:]:
        module = importlib.import_module(name)
        for attr in set(module.__all__) & set(ocframe.__all__):
            assert getattr(module, attr) is getattr(ocframe, attr), f"{name}.{attr}"


# -- ocframe.errors -----------------------------------------------------------

def test_errors_tell_the_kernel_what_kind_of_failure() -> None:
    from ocframe.errors import (
        AuthError,
        CaptureError,
        CoreError,
        IngestError,
        IngestVeto,
        OcframeError,
    )

    assert IngestError("x").retryable and not IngestError("x", retryable=False).retryable
    assert CaptureError("gone", permanent=True).permanent and not CaptureError("x").permanent
    core = CoreError("busy", status=503)
    assert (core.reason, core.status, core.retryable) == ("busy", 503, True)
    auth = AuthError("denied", status=403)
    assert isinstance(auth, CoreError) and not auth.retryable and auth.status == 403
    assert IngestVeto("no").reason == "no"
    for cls in (AuthError, CaptureError, CoreError, IngestError, IngestVeto):
        assert issubclass(cls, OcframeError)


# -- ocframe.ffmpeg -----------------------------------------------------------

def test_ffmpeg_wrapper_builds_argument_lists() -> None:
    from ocframe import ffmpeg as ff

    graph = ff.output(ff.input("testsrc=size=320x180", f="lavfi", re=None), "out.mkv",
                      c="copy").overwrite_output()
    assert ff.compile_args(graph, "/opt/ffmpeg") == [
        "/opt/ffmpeg", "-f", "lavfi", "-re", "-i", "testsrc=size=320x180", "-c", "copy",
        "out.mkv", "-y"]
    source = ff.input("in.mkv")
    both = ff.merge_outputs(ff.output(source["v"], "video.mkv"),
                            ff.output(source["a"], "audio.mka", **{"c:a": "flac"}))
    assert ff.compile_args(both, "ffmpeg") == [
        "ffmpeg", "-i", "in.mkv", "-map", "0:v", "video.mkv", "-map", "0:a", "-c:a", "flac",
        "audio.mka"]


def test_ffmpeg_locator_prefers_the_configured_binary() -> None:
    from ocframe.ffmpeg import find_ffmpeg, find_ffprobe

    assert find_ffmpeg("/opt/ffmpeg/bin/ffmpeg") == "/opt/ffmpeg/bin/ffmpeg"
    assert find_ffprobe("/opt/ffmpeg/bin/ffprobe") == "/opt/ffmpeg/bin/ffprobe"
    found = Path(find_ffmpeg())  # the system's, else the one imageio-ffmpeg bundles
    assert found.is_file()


def test_ffmpeg_help_is_empty_when_ffmpeg_cannot_run(tmp_path: Path) -> None:
    from ocframe.ffmpeg import ffmpeg_help, find_ffmpeg

    assert ffmpeg_help(str(tmp_path / "no-ffmpeg"), "demuxer=rtsp") == ""
    assert "rtsp" in ffmpeg_help(find_ffmpeg(), "demuxer=rtsp").lower()

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import pytest

from ocframe import hookimpl
from ocframe.errors import PluginError
from ocframe.plugins import PluginRegistry


def _module(name: str, **attrs: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    return mod


def test_broken_plugins_are_reported_not_fatal() -> None:
    @hookimpl
    def ocframe_state_chnage(change: object) -> None:  # a typo in the hook name
        pass

    _module("ocframe_test_typo", ocframe_state_chnage=ocframe_state_chnage)
    reg = PluginRegistry()
    reg.load(["ocframe_test_missing_module", "ocframe_test_typo"])
    reasons = {p.name: p.reason for p in reg.problems}
    assert "cannot be imported" in reasons["ocframe_test_missing_module"]
    assert "unknown hook" in reasons["ocframe_test_typo"]
    assert "testsrc" in reg.drivers  # the rest still loads


def test_wrong_hook_signature_is_reported() -> None:
    @hookimpl
    def ocframe_state_change(change: object, extra_arg: object) -> None:
        pass

    _module("ocframe_test_badsig", ocframe_state_change=ocframe_state_change)
    reg = PluginRegistry()
    reg.load(["ocframe_test_badsig"])
    assert any(p.name == "ocframe_test_badsig" and "wrong hook" in p.reason for p in reg.problems)


def test_unknown_driver_names_what_is_available() -> None:
    reg = PluginRegistry()
    reg.load()
    with pytest.raises(PluginError, match=r"unknown driver 'nope' \(available: .*testsrc"):
        reg.driver("nope")


def test_failing_observer_does_not_stop_others() -> None:
    seen: list[str] = []

    class Bad:
        @hookimpl
        def ocframe_state_change(self, change: object) -> None:
            raise RuntimeError("boom")

    class Good:
        @hookimpl
        def ocframe_state_change(self, change: object) -> None:
            seen.append("good")

    reg = PluginRegistry()
    reg.register(Bad(), "bad")
    reg.register(Good(), "good")
    reg.hook.ocframe_state_change(change=object())
    assert seen == ["good"]


def test_wrapper_implementations_are_refused_with_a_clear_reason() -> None:
    class Wrapping:
        @hookimpl(wrapper=True)
        def ocframe_state_change(self, change: object):  # type: ignore[no-untyped-def]
            return (yield)

    class OldStyle:
        @hookimpl(hookwrapper=True)
        def ocframe_capabilities(self, agent: str):  # type: ignore[no-untyped-def]
            yield

    reg = PluginRegistry()
    assert not reg.register(Wrapping(), "wrapping")
    assert not reg.register(OldStyle(), "old-style")
    reasons = {p.name: p.reason for p in reg.problems}
    assert "wrapper implementation(s) of ocframe_state_change" in reasons["wrapping"]
    assert "wrapper implementation(s) of ocframe_capabilities" in reasons["old-style"]
    assert reg.hook.ocframe_state_change.get_hookimpls() == []


def test_hooks_are_called_as_attributes_and_a_typo_fails_at_the_call_site() -> None:
    reg = PluginRegistry()
    with pytest.raises(AttributeError):
        reg.hook.ocframe_state_chnage  # noqa: B018 - the attribute access is the test
    from ocframe.events import EventBus

    bus = EventBus()
    try:
        with pytest.raises(TypeError, match="takes a hook"):
            bus.emit("ocframe_state_change", change=object())  # type: ignore[arg-type]
    finally:
        bus.close()


def test_observer_results_and_failures_through_the_events_loop() -> None:
    from ocframe.events import EventBus

    seen: list[object] = []

    class Bad:
        @hookimpl
        def ocframe_state_change(self, change: object) -> None:
            raise RuntimeError("observer bug")

    class Good:
        @hookimpl
        def ocframe_state_change(self, change: object) -> None:
            seen.append(change)

    reg = PluginRegistry()
    reg.register(Bad(), "bad")
    reg.register(Good(), "good")
    bus = EventBus()
    for i in range(3):
        bus.emit(reg.hook.ocframe_state_change, change=i)
    bus.close()
    assert seen == [0, 1, 2]  # in order, the broken observer beside it changes nothing
    assert bus.loop.health().errors_total == 0  # guarded per plugin, not a loop failure


def test_pre_ingest_failures_reach_the_kernel_named_after_the_plugin(tmp_path: Path) -> None:
    from ocframe.errors import IngestVeto, PluginError

    class Vetoing:
        @hookimpl
        def ocframe_pre_ingest(self, recording_id: str) -> None:
            raise IngestVeto(f"{recording_id} has no consent form")

    class Crashing:
        @hookimpl
        def ocframe_pre_ingest(self, recording_id: str) -> None:
            raise OSError("transcoder missing")

    reg = PluginRegistry()
    reg.register(Vetoing(), "consent")
    with pytest.raises(IngestVeto, match="rec-1 has no consent form"):
        reg.hook.ocframe_pre_ingest(agent="a", recording_id="rec-1", event=None,
                                    package=None, workdir=tmp_path)
    reg = PluginRegistry()
    reg.register(Crashing(), "transcode")
    with pytest.raises(PluginError, match="plugin transcode failed in ocframe_pre_ingest"):
        reg.hook.ocframe_pre_ingest(agent="a", recording_id="rec-1", event=None,
                                    package=None, workdir=tmp_path)


def test_hook_tracing_logs_each_call_for_plugin_authors(
        caplog: pytest.LogCaptureFixture) -> None:
    class Caps:
        @hookimpl
        def ocframe_capabilities(self, agent: str) -> dict[str, str]:
            return {"capture.device.x.resolution": "1920x1080"}

    reg = PluginRegistry()
    reg.register(Caps(), "caps")
    reg.enable_tracing()
    with caplog.at_level(logging.INFO, logger="ocframe.hooks"):
        result = reg.hook.ocframe_capabilities(agent="room-1", inputs=["x"])
    assert result == [{"capture.device.x.resolution": "1920x1080"}]
    traced = "\n".join(r.getMessage() for r in caplog.records if r.name == "ocframe.hooks")
    assert "ocframe_capabilities" in traced and "room-1" in traced
    assert "1920x1080" in traced  # the result, too


def test_tracing_is_switched_on_by_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    from ocframe.config import OcframeConfig
    from ocframe.plugins import load_plugins

    config = OcframeConfig.model_validate({
        "core": {"url": "http://127.0.0.1:9"}, "storage": {"directory": str(tmp_path)},
        "agents": [{"name": "a", "inputs": [{"name": "i", "driver": "testsrc"}]}]})

    def traced_calls() -> int:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="ocframe.hooks"):
            load_plugins(config).hook.ocframe_capabilities(agent="a", inputs=["i"])
        return sum("ocframe_capabilities" in r.getMessage() for r in caplog.records)

    monkeypatch.setenv("OCFRAME_TRACE_HOOKS", "1")
    assert traced_calls() >= 1
    monkeypatch.delenv("OCFRAME_TRACE_HOOKS")
    assert traced_calls() == 0


def test_a_hook_named_function_without_hookimpl_is_warned_naming_it(
        caplog: pytest.LogCaptureFixture) -> None:
    def ocframe_pre_ingest(package: object) -> None:  # @hookimpl forgotten
        pass

    @hookimpl
    def ocframe_state_change(change: object) -> None:
        pass

    _module("ocframe_test_undecorated", ocframe_pre_ingest=ocframe_pre_ingest,
            ocframe_state_change=ocframe_state_change)
    reg = PluginRegistry()
    with caplog.at_level(logging.WARNING, logger="ocframe.plugins"):
        reg.load(["ocframe_test_undecorated"])
    assert "ocframe_test_undecorated" in reg.plugins  # loaded: its decorated hook works
    assert reg.hooks_of("ocframe_test_undecorated") == ["ocframe_state_change"]
    [warning] = [w for w in reg.warnings if w.name == "ocframe_test_undecorated"]
    assert "ocframe_test_undecorated:ocframe_pre_ingest" in warning.reason
    assert "no @hookimpl" in warning.reason
    assert "ocframe_test_undecorated:ocframe_pre_ingest" in caplog.text

    class Journal:
        def ocframe_state_change(self, change: object) -> None:
            pass

    reg.register(Journal(), "journal")
    assert any(f"{__name__}:{Journal.__qualname__}.ocframe_state_change" in w.reason
               for w in reg.warnings if w.name == "journal")


def test_an_imported_ocframe_module_is_no_unknown_hook() -> None:
    import ocframe_driver_testsrc

    @hookimpl
    def ocframe_state_change(change: object) -> None:
        pass

    # `import ocframe_driver_testsrc` in a plugin module: an attribute named
    # ocframe_*, but a module, not a hook; nor is a constant.
    _module("ocframe_test_imports", ocframe_driver_testsrc=ocframe_driver_testsrc,
            ocframe_TIMEOUT=5, ocframe_state_change=ocframe_state_change)
    reg = PluginRegistry()
    reg.load(["ocframe_test_imports"])
    assert not [p for p in reg.problems if p.name == "ocframe_test_imports"]
    assert not [w for w in reg.warnings if w.name == "ocframe_test_imports"]
    assert reg.hooks_of("ocframe_test_imports") == ["ocframe_state_change"]


def test_a_plugin_module_named_only_by_a_reload_asks_for_a_restart(tmp_path: Path) -> None:
    from ocframe.config import OcframeConfig
    from ocframe.errors import ConfigError

    def config(modules: list[str]) -> OcframeConfig:
        return OcframeConfig.model_validate({
            "storage": {"directory": str(tmp_path)}, "plugins": {"modules": modules},
            "agents": [{"name": "a", "inputs": [{"name": "i", "driver": "testsrc"}]}]})

    reg = PluginRegistry()
    reg.load([])  # as the running agent loaded them at its start
    reg.validate(config([]))
    # Plugin modules load at start only: applying the edit would silently run without it.
    with pytest.raises(ConfigError, match=r"plugins\.modules\[0\]: plugin module 'journal'"
                                          r" is not loaded \(.*restart it\)"):
        reg.validate(config(["journal"]))

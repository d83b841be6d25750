from __future__ import annotations

import sys
import types

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
    reg.pm.register(Bad())
    reg.pm.register(Good())
    reg.call_each("ocframe_state_change", change=object())
    assert seen == ["good"]

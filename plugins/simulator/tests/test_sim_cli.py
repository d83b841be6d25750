from __future__ import annotations

import importlib

import pytest
from ocframe_simulator.cli import build_parser


def test_cli_arguments() -> None:
    args = build_parser().parse_args([
        "--port", "0", "--auth", "both", "--user", "x:y:ROLE_ADMIN,ROLE_STUDIO",
        "--schedule", "room-101:60:300:Demo: part 1", "--schedule", "room-2:0:10"])
    assert args.port == 0 and args.auth == "both"
    assert args.user == [("x", "y", {"ROLE_ADMIN", "ROLE_STUDIO"})]
    assert args.schedule == [("room-101", 60.0, 300.0, "Demo: part 1"),
                             ("room-2", 0.0, 10.0, None)]
    assert build_parser().parse_args([]).port == 8080


@pytest.mark.parametrize("bad", [["--user", "nopassword"], ["--schedule", "a:x:1"],
                                 ["--schedule", "a:1:0"], ["--auth", "ntlm"]])
def test_cli_rejects(bad: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(bad)


def test_plugin_import_has_no_side_effects() -> None:
    module = importlib.import_module("ocframe_simulator.pytest_plugin")
    assert hasattr(module, "opencast_simulator")

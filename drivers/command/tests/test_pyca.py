"""``ocframe import-pyca``: a pyCA configuration becomes an ocframe one that
records and ingests, with a report of what has no equivalent."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ocframe_driver_command.pyca import convert, main, read_pyca

from ocframe import find_ffmpeg
from ocframe.testing.harness import AgentProcess, soon
from ocframe.testing.media import decode

FIXTURE = Path(__file__).parent / "data" / "pyca-hall-b.conf"


def converted(tmp_path: Path, conf: Path, *extra: str) -> tuple[dict[str, Any], str]:
    out = tmp_path / "ocframe.toml"
    done = subprocess.run([sys.executable, "-m", "ocframe.cli", "import-pyca", str(conf), "-o",
                           str(out), *extra], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return tomllib.loads(out.read_text()), done.stderr


def test_conversion_of_every_key_and_the_report(tmp_path: Path) -> None:
    config, report = converted(tmp_path, FIXTURE)
    assert config["core"] == {"url": "http://opencast.example.edu:8080", "auth": "digest",
                              "user": "opencast_system_account",
                              "password": "${core_password}"}
    assert config["storage"] == {"directory": "recordings"}
    (agent,) = config["agents"]
    assert agent["name"] == "hall-b" and agent["address"] == "http://hall-b.example.edu:5000"
    assert agent["calendar"] == {"poll_interval": 2, "lookahead": 3 * 86400}
    (inp,) = agent["inputs"]
    assert inp["driver"] == "command" and inp["flavor"] == "presentation/source"
    command = inp["settings"]["command"]
    assert command[0] == "ffmpeg"
    assert "sine=frequency=330:sample_rate=48000" in command  # pyCA's quotes, split as pyCA
    assert command[command.index("-t") + 1] == "{duration}"
    assert "{dir}/{name}.mkv" in command and "{dir}/{name}-mic.flac" in command
    assert inp["settings"]["outputs"] == [
        {"path": "{dir}/{name}.mkv", "flavor": "presentation/source"},
        {"path": "{dir}/{name}-mic.flac", "flavor": "presenter-audio/source"},
    ]
    # The password is neither in the config nor in the report.
    assert "CHANGE_ME" not in (tmp_path / "ocframe.toml").read_text()
    assert "CHANGE_ME" not in report and "hall-b-ui" not in report
    assert "put core_password" in report
    for line in ("agent.backup_mode: no backup mode",
                 "capture.preview_dir: no confidence-monitoring previews",
                 "capture.preview: no confidence-monitoring previews",
                 "ui.password: ocframe has no web interface",
                 "capture.command -> agents[0].inputs[0].settings.command",
                 "server.password -> the secrets file: core_password"):
        assert line in report, report


def test_unknown_keys_are_reported_and_errors_name_the_problem(tmp_path: Path) -> None:
    conf = tmp_path / "pyca.conf"
    conf.write_text("[agent]\nname = 'x'\nfuture_option = 1\n[capture]\n"
                    "command = 'arecord -d {{time}} {{dir}}/{{name}}.wav {literal}'\n"
                    "files = '{{dir}}/{{name}}.wav'\n")
    result = convert(read_pyca(conf))
    assert "agent.future_option: unknown to this converter" in result.unconverted
    settings = result.config["agents"][0]["inputs"][0]["settings"]
    assert settings["command"][-1] == "{{literal}}"  # a literal brace stays literal
    conf.write_text("[capture]\ncommand = 'x'\nfiles = 'a.mp4', 'b.mp4'\nflavors = 'p/s'\n")
    assert main([str(conf)]) == 2
    conf.write_text("[capture]\ncommand = 'x {{when}}'\n")
    assert main([str(conf)]) == 2
    assert main([str(tmp_path / "missing.conf")]) == 2


def test_write_secrets_makes_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    _, report = converted(tmp_path, FIXTURE, "--write-secrets")
    secrets = tmp_path / "secrets.toml"
    assert tomllib.loads(secrets.read_text()) == {"core_password": "CHANGE_ME"}
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "CHANGE_ME" not in report
    assert main([str(FIXTURE), "-o", str(tmp_path / "ocframe.toml")]) == 2  # exists
    assert main([str(FIXTURE), "-o", str(tmp_path / "ocframe.toml"), "--force",
                 "--write-secrets"]) == 2  # secrets.toml exists


@pytest.mark.e2e
def test_converted_agent_records_and_ingests(
        tmp_path: Path, opencast_simulator_factory: Callable[..., Any]) -> None:
    """pyCA's digest user against a digest-only core, pyCA's own command."""
    sim = opencast_simulator_factory(auth="digest")
    conf = tmp_path / "pyca.conf"
    text = FIXTURE.read_text().replace("http://opencast.example.edu:8080", sim.url)
    # Where the system has no ffmpeg, the bundled one (pyCA would need it on PATH).
    text = text.replace("command          = 'ffmpeg ", f"command          = '{find_ffmpeg()} ")
    text = text.replace("'./recordings'", repr(str(tmp_path / "var")))
    conf.write_text(text)
    config, _ = converted(tmp_path, conf, "--write-secrets")
    assert config["core"]["auth"] == "digest"

    uid = sim.add_event(agent="hall-b", start=soon(2), end=soon(6), title="Converted from pyCA")
    with AgentProcess(tmp_path / "ocframe.toml", env={"OCFRAME_LOG_LEVEL": "INFO"}) as agent:
        ingest = sim.wait_for_ingest(uid, timeout=90)
        assert ingest is not None, agent.log()[-3000:]
        assert sim.wait_for_recording_state(uid, "upload_finished", timeout=30)
    assert "CHANGE_ME" not in agent.log()
    flavors = {t.flavor: t for t in ingest.tracks}
    assert set(flavors) == {"presentation/source", "presenter-audio/source"}
    assert decode(flavors["presentation/source"].path) == {"video"}
    assert decode(flavors["presenter-audio/source"].path) == {"audio"}
    assert flavors["presenter-audio/source"].mimetype == "audio/flac"
    # The command ended itself at the scheduled end: no drop-out was reported.
    assert "ended before the scheduled end" not in agent.log()
    assert os.path.isdir(tmp_path / "var")

"""A driver's table of secrets (``dict[str, SecretStr]``, like the command
driver's ``secrets``) takes references only: a literal value in the config is
refused naming the key, as for a single secret setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from ocframe_driver_command import CommandLineDriver

from ocframe import ConfigError
from ocframe.config import load_config
from ocframe.plugins import load_plugins


def _config(tmp_path: Path, secrets_table: str) -> Path:
    (tmp_path / "secrets.toml").write_text('cam_token = "from-the-secrets-file"\n'
                                           'core_password = "pw"\n')
    (tmp_path / "secrets.toml").chmod(0o600)
    path = tmp_path / "ocframe.toml"
    path.write_text(f"""
[core]
url = "http://127.0.0.1:9"
password = "${{core_password}}"
[storage]
directory = "{tmp_path / 'var'}"
[[agents]]
name = "room-1"
[[agents.inputs]]
name = "cam"
driver = "command"
[agents.inputs.settings]
command = ["ffmpeg", "-i", "rtsp://cam/{{secret.token}}", "{{output}}"]
secrets = {secrets_table}
""")
    return path


def test_secrets_must_be_references_not_literals(tmp_path: Path) -> None:
    literal = load_config(_config(tmp_path, '{ token = "written-in-the-config" }'))
    with pytest.raises(ConfigError,
                       match=r"settings\.secrets\.token .*: secrets may not be written"):
        load_plugins(literal).validate(literal)
    referenced = load_config(_config(tmp_path, '{ token = "${cam_token}" }'))
    load_plugins(referenced).validate(referenced)
    settings = referenced.agents[0].inputs[0].settings
    assert CommandLineDriver.Settings(**settings).secrets["token"].get_secret_value() == (
        "from-the-secrets-file")
    assert "from-the-secrets-file" not in str(referenced.masked())

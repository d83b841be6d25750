from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ocframe.config import load_config
from ocframe.errors import ConfigError

GOOD = """
[core]
url = "https://oc.example.edu"
user = "ca"
password = "${OC_PW}"

[[agents]]
name = "room-1"
[[agents.inputs]]
name = "presenter"
driver = "testsrc"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ocframe.toml"
    p.write_text(text)
    return p


def test_valid_config_with_env_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OC_PW", "s3cret")
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.core.password is not None
    assert cfg.core.password.get_secret_value() == "s3cret"
    assert cfg.agents[0].ingest.method == "multirequest"
    assert "s3cret" not in str(cfg.masked())


def test_environment_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OC_PW", "x")
    monkeypatch.setenv("OCFRAME_CORE__URL", "https://other.example.edu/")
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.core.url == "https://other.example.edu"


def test_invalid_value_names_file_key_and_reason(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OC_PW", "x")
    p = write(tmp_path, GOOD.replace('driver = "testsrc"', 'driver = "testsrc"\nflavor = "bad"'))
    with pytest.raises(ConfigError) as err:
        load_config(p)
    text = str(err.value)
    assert str(p) in text and "agents[0].inputs[0].flavor" in text and "room-1" in text


def test_literal_password_is_refused(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace('"${OC_PW}"', '"plain"'))
    with pytest.raises(ConfigError, match=r"core\.password: secrets may not be written"):
        load_config(p)


def test_secrets_file_must_not_be_world_readable(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('OC_PW = "pw"\n')
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        load_config(write(tmp_path, GOOD))
    secrets.chmod(0o600)
    assert load_config(write(tmp_path, GOOD)).core.password is not None


def test_unknown_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OC_PW", "x")
    with pytest.raises(ConfigError, match=r"core\.usr"):
        load_config(write(tmp_path, GOOD.replace('user = "ca"', 'usr = "ca"')))


def test_run_refuses_invalid_config_with_nonzero_exit(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace('name = "room-1"', 'name = "bad name!"'))
    out = subprocess.run([sys.executable, "-m", "ocframe.cli", "run", "-c", str(p)],
                         capture_output=True, text=True, timeout=60,
                         env={"OC_PW": "x", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2
    assert "agents[0].name" in out.stderr and str(p) in out.stderr


def test_unknown_driver_setting_is_refused_at_start(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD + "[agents.inputs.settings]\nwidht = 640\n")
    out = subprocess.run([sys.executable, "-m", "ocframe.cli", "check", "-c", str(p)],
                         capture_output=True, text=True, timeout=60,
                         env={"OC_PW": "x", "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    assert "agents[0].inputs[0].settings.widht" in out.stdout


def test_literal_driver_password_is_refused(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from ocframe.plugins import load_plugins

    monkeypatch.setenv("OC_PW", "x")
    text = GOOD.replace('driver = "testsrc"', 'driver = "ipcam"\n'
                        'settings = { url = "rtsp://cam/s", password = "hunter2" }')
    config = load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match=r"agents\[0\]\.inputs\[0\]\.settings\.password"):
        load_plugins(config).validate(config)
    monkeypatch.setenv("CAM_PW", "hunter2")
    config = load_config(write(tmp_path, text.replace('"hunter2"', '"${CAM_PW}"')))
    load_plugins(config).validate(config)


def test_a_key_typo_says_what_was_meant_and_whose_input(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OC_PW", "x")
    p = write(tmp_path, GOOD.replace('driver = "testsrc"', 'driver = "testsrc"\nflavr = "a/b"'))
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert ("agents[0].inputs[0].flavr (agent 'room-1', input 'presenter'): unknown key;"
            " did you mean 'flavor'?") in str(err.value)
    with pytest.raises(ConfigError, match=r"core\.usr: unknown key; did you mean 'user'"):
        load_config(write(tmp_path, GOOD.replace('user = "ca"', 'usr = "ca"')))
    # Nothing close: every key that may be written there, to choose from.
    with pytest.raises(ConfigError, match=r"storage\.zzz: unknown key; valid keys: "
                                          r"assumed_input_mbit, directory, disk_check_interval"):
        load_config(write(tmp_path, GOOD + '\n[storage]\nzzz = 1\n'))


def test_driver_and_ingest_setting_typos_say_what_was_meant_and_whose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ocframe.plugins import load_plugins

    monkeypatch.setenv("OC_PW", "x")
    text = GOOD + ('[agents.inputs.settings]\nwidht = 640\n'
                   '[agents.ingest]\nmethod = "chunked"\nsettings = { chunk_sise = 2048 }\n')
    config = load_config(write(tmp_path, text))
    with pytest.raises(ConfigError) as err:
        load_plugins(config).validate(config)
    text = str(err.value)
    assert ("agents[0].inputs[0].settings.widht (agent 'room-1', input 'presenter'):"
            " unknown key; did you mean 'width'?") in text
    assert ("agents[0].ingest.settings.chunk_sise (agent 'room-1', ingest method 'chunked'):"
            " unknown key; did you mean 'chunk_size'") in text


def test_model_at_follows_lists_and_optional_fields() -> None:
    from ocframe.config import AgentConfig, InputConfig, OcframeConfig, StorageConfig
    from ocframe.config_hints import model_at

    assert model_at(OcframeConfig, ("agents", 2)) is AgentConfig
    assert model_at(OcframeConfig, ("agents", 0, "inputs", 1)) is InputConfig
    assert model_at(OcframeConfig, ("storage",)) is StorageConfig
    # Into a free-form table (a driver's settings): no model to suggest from.
    assert model_at(OcframeConfig, ("agents", 0, "inputs", 0, "settings")) is None
    assert model_at(OcframeConfig, ("nope",)) is None

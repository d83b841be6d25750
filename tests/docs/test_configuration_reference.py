"""docs/configuration-reference.md is what the configuration models say, and
every key an operator can write has a description."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field, SecretStr

from ocframe import config_reference as ref
from ocframe.toml_form import allowed_text, default_text, toml_type, toml_value

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_matches_the_models() -> None:
    committed = (ROOT / ref.REFERENCE_PATH).read_text(encoding="utf-8")
    assert committed == ref.render(), (
        "docs/configuration-reference.md is out of date: run "
        "python -m ocframe.config_reference -o docs/configuration-reference.md")


def test_check_mode_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text(ref.render().replace("`log_level`", "`log_levl`"), encoding="utf-8")
    assert ref.main(["--check", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    stale.write_text(ref.render(), encoding="utf-8")
    assert ref.main(["--check", str(stale)]) == 0


def test_every_configuration_key_has_a_description() -> None:
    assert ref.undescribed() == []


def test_installed_drivers_and_methods_are_in_the_reference() -> None:
    text = ref.render()
    for dist in sorted(ROOT.glob("drivers/*/pyproject.toml")):
        # The entry point names of each driver distribution in this repository.
        eps = tomllib.loads(dist.read_text(encoding="utf-8"))["project"]["entry-points"]
        for name in eps.get("ocframe.drivers", {}):
            assert f'### `driver = "{name}"`' in text
    for method in ("multirequest", "single", "zipped", "chunked"):
        assert f'### `method = "{method}"`' in text


def test_no_python_reprs_reach_operators() -> None:
    text = "\n".join(line for line in ref.render().splitlines() if line.startswith("|"))
    for python in ("PosixPath(", "SecretStr", "Gt(", "Ge(", "Literal", "None", "'(table)'",
                   "pydantic", "typing."):
        assert python not in text, python


class _Sample(BaseModel):
    name: str = Field(pattern=r"^[a-z]+$", description="a name")
    auth: Literal["basic", "digest"] = "basic"
    password: SecretStr | None = None
    directory: Path = Path("/var/lib/x")
    limit: float = Field(30.0, gt=0)
    count: int = Field(1, ge=1, le=16)
    hosts: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=lambda: {"A": "b c"})
    on: bool = True
    items: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)


def test_toml_types() -> None:
    f = _Sample.model_fields
    assert toml_type(f["name"].annotation) == "string"
    assert toml_type(f["auth"].annotation) == 'one of "basic", "digest"'
    assert toml_type(f["password"].annotation) == "secret reference"
    assert toml_type(f["directory"].annotation) == "path"
    assert toml_type(f["limit"].annotation) == "float"
    assert toml_type(f["count"].annotation) == "integer"
    assert toml_type(f["hosts"].annotation) == "array of strings"
    assert toml_type(f["env"].annotation) == "table of strings"
    assert toml_type(f["on"].annotation) == "boolean"


def test_defaults_are_written_as_toml() -> None:
    f = _Sample.model_fields
    assert default_text(f["name"]) == "required"
    assert default_text(f["auth"]) == '`"basic"`'
    assert default_text(f["password"]) == "unset"
    assert default_text(f["directory"]) == '`"/var/lib/x"`'
    assert default_text(f["limit"]) == "`30.0`"
    assert default_text(f["hosts"]) == "`[]`"
    assert default_text(f["env"]) == '`{ A = "b c" }`'
    assert default_text(f["on"]) == "`true`"
    assert default_text(f["items"]) == "`[1, 2]`"
    assert toml_value('say "hi"\n') == r'"say \"hi\"\n"'


def test_constraints_are_words() -> None:
    f = _Sample.model_fields
    assert allowed_text(f["limit"]) == "> 0"
    assert allowed_text(f["count"]) == "≥ 1, ≤ 16"
    assert allowed_text(f["items"]) == "at least 1 item"
    assert allowed_text(f["name"]) == "matches `^[a-z]+$`"

"""The driver author's guide works as written: the files in its titled code
blocks make a package whose own tests pass, importing only public API."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "driver-guide.md"
# ```lang title="path" ... ``` (three or more backticks; the closing fence matches).
_BLOCK = re.compile(r'^(`{3,})\w*\s+title="([^"]+)"\n(.*?)^\1$', re.S | re.M)


def guide_files() -> dict[str, str]:
    return {path: body for _, path, body in _BLOCK.findall(GUIDE.read_text(encoding="utf-8"))}


def test_the_guide_names_every_file_of_the_package() -> None:
    assert set(guide_files()) == {
        "pyproject.toml", "README.md", "ocframe_driver_streamrec/__init__.py",
        "tests/conftest.py", "tests/test_streamrec.py", "tests/test_agent.py",
    }


def test_the_guide_imports_only_public_modules() -> None:
    public = {"ocframe", "ocframe.driver", "ocframe.model", "ocframe.errors", "ocframe.ffmpeg",
              "ocframe.hookspecs", "ocframe.testing.drivers", "ocframe.testing.media",
              "ocframe.testing", "ocframe_driver_streamrec"}
    for path, body in guide_files().items():
        for module in re.findall(r"^\s*(?:from|import) (ocframe[\w.]*)", body, re.M):
            assert module in public, f"{path} imports {module}"


@pytest.mark.timeout(240)
def test_the_guides_driver_passes_its_own_tests(tmp_path: Path) -> None:
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is needed to inspect the recorded media (Debian: ffmpeg)")
    package = tmp_path / "ocframe-driver-streamrec"
    for path, body in guide_files().items():
        target = package / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    # Without installing it (that would add a driver to this environment):
    # the tests that need no agent, with the package on the path.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(package), "-c", str(package / "pyproject.toml"),
         "tests/test_streamrec.py"],
        cwd=package, capture_output=True, text=True, timeout=200,
        env={"PYTHONPATH": str(package), "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout

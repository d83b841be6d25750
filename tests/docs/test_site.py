"""The documentation site builds with ``mkdocs build --strict``: a broken
link, a page left out of the navigation or a stale configuration reference
fails it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocs", reason="the docs tools are the [docs] extra (scripts/setup.sh)")


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
         "-d", str(site)],
        capture_output=True, text=True, timeout=240, cwd=config.parent,
        # mkdocs-material's banner about mkdocs 2 is noise in a test's output.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.mark.timeout(300)
def test_site_builds_strictly_with_every_driver_page(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stdout + done.stderr
    for readme in ROOT.glob("drivers/*/README.md"):
        page = site / "drivers" / f"{readme.parent.name}.html"
        assert page.is_file(), f"no page for {readme}"
    assert (site / "configuration-reference.html").is_file()
    assert (site / "driver-guide.html").is_file()


def _copy_site_sources(tmp_path: Path) -> Path:
    """The site's sources in a scratch folder, to break them on purpose."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs",
                    ignore=shutil.ignore_patterns("example_plugin", "__pycache__"))
    for readme in ROOT.glob("drivers/*/README.md"):
        target = copy / readme.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(readme, target)
    (copy / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "docs_hooks.py", copy / "scripts")
    shutil.copy(ROOT / "mkdocs.yml", copy)
    return copy


@pytest.mark.timeout(300)
def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    copy = _copy_site_sources(tmp_path)
    page = copy / "docs" / "operating.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [gone](no-such-page.md).\n",
                    encoding="utf-8")
    done = build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stdout + done.stderr


@pytest.mark.timeout(300)
def test_a_stale_configuration_reference_fails_the_build(tmp_path: Path) -> None:
    copy = _copy_site_sources(tmp_path)
    reference = copy / "docs" / "configuration-reference.md"
    reference.write_text(reference.read_text(encoding="utf-8").replace(
        "| `log_level` |", "| `log_levl` |"), encoding="utf-8")
    done = build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "configuration-reference.md differs" in done.stdout + done.stderr


def test_readme_links_are_rewritten_for_the_driver_pages() -> None:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    text = ("[a](../../docs/ingest.md#chunked) [b](../ipcam/README.md) [c](tests/test_x.py)"
            " [d](https://example.org/x.md) [e](#settings)")
    assert hooks.rewrite_readme_links(text, "v4l2", {"ipcam", "v4l2"}) == (
        "[a](../ingest.md#chunked) [b](ipcam.md) [c](tests/test_x.py)"
        " [d](https://example.org/x.md) [e](#settings)")

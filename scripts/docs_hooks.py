"""mkdocs hooks for the docs site (mkdocs.yml names this file).

- Each driver's page is its distribution's README (``drivers/NAME/README.md``),
  published as ``drivers/NAME.md`` so the README stays the one place a
  driver's settings and limits are written; relative links are rewritten to
  the site's layout.
- The configuration reference page is regenerated from the models at build
  time; if the committed docs/configuration-reference.md differs, the build
  warns, which fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = get_plugin_logger("ocframe")

REFERENCE = "configuration-reference.md"
# [text](target) with a relative target (no scheme, not an anchor).
_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def driver_readmes(root: Path) -> dict[str, Path]:
    return {p.parent.name: p for p in sorted(root.glob("drivers/*/README.md"))}


def rewrite_readme_links(markdown: str, name: str, drivers: set[str]) -> str:
    """Links as written from drivers/NAME/README.md, made relative to the
    page drivers/NAME.md (``../../docs/x.md`` -> ``../x.md``,
    ``../other/README.md`` -> ``other.md``). Links to files outside the docs
    are left alone, so the strict build reports them."""

    def fix(match: re.Match[str]) -> str:
        target = match.group(1)
        path, _, anchor = target.partition("#")
        anchor = f"#{anchor}" if anchor else ""
        if path.startswith("../../docs/"):
            return f"]({'../' + path.removeprefix('../../docs/')}{anchor})"
        other = re.fullmatch(r"\.\./([^/]+)/README\.md", path)
        if other and other.group(1) in drivers:
            return f"]({other.group(1)}.md{anchor})"
        return match.group(0)

    return _LINK.sub(fix, markdown)


def on_files(files: Files, config: MkDocsConfig, **kwargs: Any) -> Files:
    readmes = driver_readmes(_root(config))
    for name, readme in readmes.items():
        content = rewrite_readme_links(readme.read_text(encoding="utf-8"), name, set(readmes))
        files.append(File.generated(config, f"drivers/{name}.md", content=content))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, **kwargs: Any) -> str:
    if page.file.src_uri != REFERENCE:
        return markdown
    # Imported here: only this page needs the kernel and the installed plugins.
    from ocframe.config_reference import render

    generated = render()
    if generated != markdown:
        log.warning("docs/%s differs from the configuration models: regenerate it with "
                    "python -m ocframe.config_reference -o docs/%s", REFERENCE, REFERENCE)
    return generated

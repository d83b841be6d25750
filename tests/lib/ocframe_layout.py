"""What the repository holds and what plugins may import, for the tests that
check the plugin rules (tests/kernel/test_plugin_imports.py,
tests/packaging/).

Distributions are found from their pyproject.toml files, so a new driver or
plugin folder is covered without editing any list here.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Where distributions other than the kernel live (one folder each).
DISTRIBUTION_GLOBS = ("drivers/*/pyproject.toml", "plugins/*/pyproject.toml",
                      "docs/example_plugin/pyproject.toml")

#: The kernel modules a plugin may import (docs/plugin-api.md); only the names
#: in each one's ``__all__``.
PUBLIC_MODULES = (
    "ocframe",
    "ocframe.driver",
    "ocframe.errors",
    "ocframe.ffmpeg",
    "ocframe.hookspecs",
    "ocframe.ingest",
    "ocframe.ingest.elements",
    "ocframe.ingest.support",
    "ocframe.model",
    "ocframe.status",
    "ocframe.control",
    "ocframe.preview",
)

#: Test tooling: open to a plugin's tests and its testing/ helpers (emulators,
#: stubs), each with its submodules. The simulator is its own distribution.
TEST_ONLY_PACKAGES = ("ocframe.testing", "ocframe_simulator")
SIMULATOR_DISTRIBUTION = "ocframe-simulator"

_NOT_SOURCE = {"build", "dist", ".venv", "__pycache__", ".eggs"}


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(requirement: str) -> tuple[str, tuple[str, ...]]:
    """``ocframe-driver-x[testing]>=0.1; python_version>'3'`` -> (name, extras)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    extras = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return canonical(match.group(1)), extras


def requirement_name(requirement: str) -> str:
    return parse_requirement(requirement)[0]


@dataclass(frozen=True)
class Distribution:
    name: str
    path: Path
    #: Top-level import packages (and single-file modules) it installs.
    packages: tuple[str, ...]
    dependencies: tuple[str, ...]
    #: ``[project.optional-dependencies]``; ``test`` is what its tests need.
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def test_requirements(self) -> tuple[str, ...]:
        return self.extras.get("test", ())

    @property
    def tests(self) -> Path:
        return self.path / "tests"

    def source_files(self) -> list[Path]:
        return sorted(p for p in self.path.rglob("*.py")
                      if not _NOT_SOURCE.intersection(p.relative_to(self.path).parts)
                      and not any(part.endswith(".egg-info") for part in p.parts))


def read_distribution(pyproject: Path) -> Distribution:
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    folder = pyproject.parent
    return Distribution(
        name=canonical(project["name"]),
        path=folder,
        packages=_packages(folder, data.get("tool", {}).get("setuptools", {})),
        dependencies=tuple(project.get("dependencies", ())),
        extras={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
    )


def _packages(folder: Path, setuptools: dict[str, object]) -> tuple[str, ...]:
    """The top-level names a distribution installs, as setuptools would find them."""
    candidates = sorted(p.name for p in folder.iterdir()
                        if (p / "__init__.py").is_file() and p.name not in ("tests", "build"))
    modules = setuptools.get("py-modules")
    found: list[str] = [str(m) for m in modules] if isinstance(modules, list) else []
    packages = setuptools.get("packages")
    if isinstance(packages, list):
        return tuple(sorted({*found, *(str(p).split(".")[0] for p in packages)}))
    include = ["*"]
    if isinstance(packages, dict):
        find = packages.get("find", {})
        if isinstance(find, dict) and isinstance(find.get("include"), list):
            include = [str(pattern) for pattern in find["include"]]
    found += [name for name in candidates
              if any(fnmatch.fnmatchcase(name, pattern) for pattern in include)]
    return tuple(sorted(set(found)))


def kernel_distribution(root: Path = ROOT) -> Distribution:
    return read_distribution(root / "pyproject.toml")


def find_distributions(root: Path = ROOT) -> list[Distribution]:
    """Every distribution under drivers/, plugins/ and docs/example_plugin/."""
    files = sorted({p for pattern in DISTRIBUTION_GLOBS for p in root.glob(pattern)})
    return [read_distribution(p) for p in files]

"""``ocframe new-driver NAME``: a working driver package to start from.

The files are templates shipped as package data (``ocframe/templates/driver``),
filled in with :class:`string.Template` (``$$name``; no code runs). A
``__module__`` folder takes the package's module name and ``.tmpl`` is
dropped from file names.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from .version import __version__

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_MODULE_DIR = "__module__"


@dataclass(frozen=True)
class DriverNames:
    """Every name the package needs, derived from the driver's name."""

    name: str  # the entry point name: ``driver = "<name>"`` in a config
    distribution: str
    module: str
    cls: str
    settings_cls: str

    @classmethod
    def of(cls, name: str) -> DriverNames:
        if not _NAME.match(name) or len(name) > 40:
            raise ValueError(
                f"driver name {name!r}: use lower-case letters, digits and single dashes, "
                f"starting with a letter (e.g. 'acme-recorder'), at most 40 characters")
        camel = "".join(part.capitalize() for part in name.split("-"))
        return cls(
            name=name,
            distribution=f"ocframe-driver-{name}",
            module=f"ocframe_driver_{name.replace('-', '_')}",
            cls=f"{camel}Driver",
            settings_cls=f"{camel}Settings",
        )

    def substitutions(self) -> dict[str, str]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "module": self.module,
            "cls": self.cls,
            "settings_cls": self.settings_cls,
            "ocframe_version": _release(__version__),
        }


def _release(version: str) -> str:
    """``0.1.0.dev3+g12ab`` -> ``0.1``: the lower bound a new package needs."""
    parts = re.findall(r"\d+", version)[:2]
    return ".".join(parts) if parts else "0.1"


def _files(node: Traversable, relative: Path) -> list[tuple[Path, Traversable]]:
    found: list[tuple[Path, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        if child.is_dir():
            found += _files(child, relative / child.name)
        elif child.name.endswith(".tmpl"):
            found.append((relative / child.name.removesuffix(".tmpl"), child))
    return found


def create_driver_package(name: str, parent: Path) -> Path:
    """Write the package for driver ``name`` into ``parent/ocframe-driver-<name>``
    and return that folder. Refuses to overwrite an existing folder."""
    names = DriverNames.of(name)
    target = parent / names.distribution
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose another --dir or name")
    values = names.substitutions()
    templates = resources.files("ocframe.templates").joinpath("driver")
    written: list[Path] = []
    for relative, template in _files(templates, Path()):
        parts = [names.module if p == _MODULE_DIR else p for p in relative.parts]
        path = target.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template.read_text(encoding="utf-8")).substitute(values),
                        encoding="utf-8")
        written.append(path)
    if not written:
        raise RuntimeError("the driver templates are missing from this ocframe installation")
    return target


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("new-driver", help="create a driver package to start from",
                       description="Create ocframe-driver-NAME: pyproject with its entry point, "
                                   "settings, a working ffmpeg driver, README and tests "
                                   "running the driver conformance kit.")
    p.add_argument("name", help="the driver's name, as configs will write driver = NAME")
    p.add_argument("--dir", default=".", help="folder to create the package in (default: .)")


def cmd_new_driver(args: argparse.Namespace) -> int:
    try:
        target = create_driver_package(args.name, Path(args.dir))
    except (ValueError, FileExistsError) as exc:
        print(f"ocframe new-driver: {exc}", file=sys.stderr)
        return 2
    names = DriverNames.of(args.name)
    print(f"created {target}\n"
          f"  driver = \"{names.name}\"  ({names.module}.{names.cls})\n"
          f"next:\n"
          f"  pip install -e '{target}[test]'\n"
          f"  ocframe plugins      # lists {names.name}\n"
          f"  pytest {target}      # the conformance kit")
    return 0

"""Our own plugins keep the promise of docs/plugin-api.md: they import only
the public kernel modules (and only what those export), and no plugin
imports another one's package, so each installs and works with the kernel
alone. Tests and testing/ helpers may also use the test tooling
(``ocframe.testing``, the simulator).

Every Python file of every distribution found under drivers/, plugins/ and
docs/example_plugin/ is parsed, never imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from ocframe_layout import (
    PUBLIC_MODULES,
    ROOT,
    TEST_ONLY_PACKAGES,
    Distribution,
    find_distributions,
    read_distribution,
)

KERNEL = "ocframe"
TEST_DIRECTORIES = {"tests", "testing"}


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class KernelIndex:
    """The kernel's modules and their ``__all__``, read from its source."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root

    def source(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def is_module(self, module: str) -> bool:
        return self.source(module) is not None

    def exports(self, module: str) -> set[str] | None:
        """Names in the module's literal ``__all__``; None if it has none."""
        path = self.source(module)
        if path is None:
            return None
        for node in ast.parse(path.read_text(), str(path)).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                value = ast.literal_eval(node.value)  # type: ignore[union-attr]
                return {str(name) for name in value}
        return None


@dataclass(frozen=True)
class Import:
    line: int
    module: str
    names: tuple[str, ...] = ()


def imports_of(tree: ast.AST) -> Iterator[Import]:
    """Absolute imports, including ``importlib.import_module("x")`` with a
    literal name. Relative imports stay inside the file's own package."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield Import(node.lineno, node.module, tuple(a.name for a in node.names))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and _dotted(node.func) in ("importlib.import_module", "import_module",
                                         "__import__")):
            yield Import(node.lineno, node.args[0].value)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


#: Distributions that are test tooling as a whole (the simulator and its demo
#: run agents against a fake core; nothing of them runs in production).
TEST_TOOL_DISTRIBUTIONS = {"ocframe-simulator"}


def is_test_code(dist: Distribution, path: Path) -> bool:
    """Tests, and emulators and stubs under a testing/ package (or testing.py)."""
    parts = path.relative_to(dist.path).parts
    return (dist.name in TEST_TOOL_DISTRIBUTIONS
            or bool(TEST_DIRECTORIES.intersection(parts[:-1]))
            or path.name in ("conftest.py", "testing.py") or path.name.startswith("test_"))


def _within(module: str, packages: Sequence[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


class ImportChecker:
    def __init__(self, distributions: Sequence[Distribution],
                 kernel: KernelIndex | None = None) -> None:
        self.kernel = kernel or KernelIndex()
        self.owner = {pkg: d.name for d in distributions for pkg in d.packages}

    def check(self, dist: Distribution) -> list[Violation]:
        found: list[Violation] = []
        for path in dist.source_files():
            found += self.check_file(dist, path)
        return found

    def check_file(self, dist: Distribution, path: Path) -> list[Violation]:
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError as exc:
            return [Violation(path, exc.lineno or 0, f"cannot parse: {exc.msg}")]
        test = is_test_code(dist, path)
        found: list[Violation] = []
        for imp in imports_of(tree):
            for module, names in self._resolve(imp):
                reason = self._judge(dist, module, names, test)
                if reason:
                    found.append(Violation(path, imp.line, reason))
        return found

    def _resolve(self, imp: Import) -> Iterator[tuple[str, tuple[str, ...]]]:
        """``from ocframe import ffmpeg`` imports the module ``ocframe.ffmpeg``."""
        if imp.module.split(".")[0] != KERNEL:
            yield imp.module, imp.names
            return
        names: list[str] = []
        for name in imp.names:
            if self.kernel.is_module(f"{imp.module}.{name}"):
                yield f"{imp.module}.{name}", ()
            else:
                names.append(name)
        if names or not imp.names:
            yield imp.module, tuple(names)

    def _judge(self, dist: Distribution, module: str, names: tuple[str, ...],
               test: bool) -> str | None:
        top = module.split(".")[0]
        if top in dist.packages:
            return None
        if _within(module, TEST_ONLY_PACKAGES):
            if test:
                return None
            return (f"imports {module}, which is test tooling: only tests and testing/"
                    " helpers may use it")
        if top == KERNEL:
            if module not in PUBLIC_MODULES:
                return (f"imports the internal kernel module {module}; plugins may import"
                        f" only {', '.join(PUBLIC_MODULES)} (docs/plugin-api.md)")
            exported = self.kernel.exports(module)
            if exported is None:
                return f"imports from {module}, which declares no __all__ (nothing public)"
            if "*" in names:
                return f"imports * from {module}: name what the plugin uses"
            hidden = [n for n in names if n not in exported]
            if hidden:
                return (f"imports {', '.join(hidden)} from {module}, which does not export"
                        " (not in its __all__): internal")
            return None
        if top in self.owner:
            return (f"imports {module} from the distribution {self.owner[top]}: a plugin"
                    " must not need another plugin (shared code belongs in the kernel's"
                    " public API)")
        return None


DISTRIBUTIONS = find_distributions()


def test_every_distribution_folder_is_found() -> None:
    """The check below covers what is really there (and not nothing)."""
    folders = {p.parent for pattern in ("drivers/*/pyproject.toml", "plugins/*/pyproject.toml")
               for p in ROOT.glob(pattern)}
    assert folders and folders <= {d.path for d in DISTRIBUTIONS}
    for dist in DISTRIBUTIONS:
        assert dist.packages, f"{dist.name}: no package found from {dist.path}/pyproject.toml"
        assert dist.source_files(), dist.name


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_imports_only_public_api_and_no_other_plugin(dist: Distribution) -> None:
    problems = ImportChecker(DISTRIBUTIONS).check(dist)
    assert not problems, f"{dist.name} breaks the plugin import rules:\n" + "\n".join(
        str(p.path.relative_to(ROOT)) + f":{p.line}: {p.reason}" for p in problems)


# -- the checker itself -------------------------------------------------------

def make_distribution(root: Path, folder: str, package: str, files: dict[str, str]
                      ) -> Distribution:
    base = root / folder
    (base / package).mkdir(parents=True)
    (base / package / "__init__.py").write_text("")
    (base / "pyproject.toml").write_text(
        f'[project]\nname = "{package.replace("_", "-")}"\nversion = "0"\n'
        f'[tool.setuptools.packages.find]\ninclude = ["{package}*"]\n')
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return read_distribution(base / "pyproject.toml")


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Distribution, ImportChecker]:
    other = make_distribution(tmp_path, "plugins/other", "ocframe_other", {})
    code = {
        "ocframe_bad/driver.py": (
            "from ocframe import CaptureError, ffmpeg as ff\n"      # 1 ok
            "from ocframe.ingest import ServiceHttp\n"              # 2 ok
            "from ocframe.process import StopTimeouts\n"            # 3 internal module
            "from ocframe import process\n"                         # 4 internal submodule
            "import ocframe.opencast.http\n"                        # 5 internal
            "from ocframe.driver import SupervisedProcess\n"        # 6 not exported
            "from ocframe_other import helper\n"                    # 7 another plugin
            "from ocframe.testing.harness import soon\n"            # 8 test tooling
            "import importlib\n"                                    # 9
            "importlib.import_module('ocframe.store')\n"            # 10 internal
            "from ocframe_simulator import OpencastSimulator\n"     # 11 test tooling
            "from .sibling import thing\n"                          # 12 own package
            "import ocframe_bad.sibling\n"                          # 13 own package
        ),
        "ocframe_bad/testing/emulator.py": (
            "from ocframe.testing.drivers import capture_context\n"  # 1 ok here
            "from ocframe_simulator import OpencastSimulator\n"       # 2 ok here
            "from ocframe.config import load_config\n"                # 3 still internal
        ),
        "tests/test_bad.py": (
            "from ocframe.testing.harness import soon\n"            # 1 ok
            "import ocframe_other.tools\n"                          # 2 another plugin
        ),
    }
    bad = make_distribution(tmp_path, "drivers/bad", "ocframe_bad", code)
    return bad, ImportChecker([bad, other])


def test_checker_catches_planted_imports(planted: tuple[Distribution, ImportChecker]) -> None:
    dist, checker = planted
    found = {(p.path.relative_to(dist.path).as_posix(), p.line) for p in checker.check(dist)}
    assert found == {
        ("ocframe_bad/driver.py", 3), ("ocframe_bad/driver.py", 4),
        ("ocframe_bad/driver.py", 5), ("ocframe_bad/driver.py", 6),
        ("ocframe_bad/driver.py", 7), ("ocframe_bad/driver.py", 8),
        ("ocframe_bad/driver.py", 10), ("ocframe_bad/driver.py", 11),
        ("ocframe_bad/testing/emulator.py", 3),
        ("tests/test_bad.py", 2),
    }


def test_checker_names_file_line_and_reason(planted: tuple[Distribution, ImportChecker]
                                            ) -> None:
    dist, checker = planted
    by_line = {(p.path.name, p.line): str(p) for p in checker.check(dist)}
    assert by_line[("driver.py", 3)].endswith(
        "driver.py:3: imports the internal kernel module ocframe.process; plugins may import"
        " only " + ", ".join(PUBLIC_MODULES) + " (docs/plugin-api.md)")
    assert "SupervisedProcess" in by_line[("driver.py", 6)]
    assert "distribution ocframe-other" in by_line[("driver.py", 7)]
    assert "test tooling" in by_line[("driver.py", 8)]


def test_checker_finds_the_planted_import_in_a_real_distribution(tmp_path: Path) -> None:
    """A copy of a real driver passes until one internal import is added."""
    import shutil

    source = next(d for d in DISTRIBUTIONS if d.name == "ocframe-driver-testsrc")
    copy = tmp_path / "drivers" / "testsrc"
    shutil.copytree(source.path, copy, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    dist = read_distribution(copy / "pyproject.toml")
    checker = ImportChecker([dist])
    assert checker.check(dist) == []
    module = copy / "ocframe_driver_testsrc" / "__init__.py"
    lines = module.read_text().splitlines()
    module.write_text("\n".join([*lines, "from ocframe.runtime import Service  # planted"]))
    (problem,) = checker.check(dist)
    assert (problem.path, problem.line) == (module, len(lines) + 1)
    assert "ocframe.runtime" in problem.reason

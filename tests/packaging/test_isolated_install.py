"""Each plugin distribution installs beside the kernel alone and passes its
own tests there (all collected, the end-to-end ones not run again).

For every distribution under drivers/, plugins/ and docs/example_plugin/, a
fresh virtual environment gets the kernel, that distribution, what its
``test`` extra names (repository distributions from their folders, the rest
from the package index) and, as a test tool, the simulator distribution if
the repository has one; nothing else from this repository. Then its entry
points must load and its tests/ must pass. A plugin that imports another one
it does not declare, or forgets a dependency, fails here naming itself.

Installs are real (non-editable) builds, as ``pip install`` would make them,
with uv for speed (about 5 s per distribution once uv's cache is warm); the
stdlib venv and pip stand in when uv is missing. Deselect with
``-m "not packaging"`` while working on something else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from ocframe_layout import (
    SIMULATOR_DISTRIBUTION,
    Distribution,
    find_distributions,
    kernel_distribution,
    parse_requirement,
    requirement_name,
)

DISTRIBUTIONS = find_distributions()
KERNEL = kernel_distribution()
TEST_TIMEOUT = 900  # seconds for one distribution's tests (the slowest take ~1.5 min)


@dataclass
class InstallPlan:
    """What goes into the venv of one distribution."""

    #: Repository distributions, installed from their folders, with the extras
    #: asked for (a driver's tests may need its own ``testing`` extra).
    local: dict[str, tuple[Distribution, set[str]]] = field(default_factory=dict)
    #: Third-party requirements of the extras, from the package index.
    requirements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return set(self.local)

    def targets(self) -> list[str]:
        """Installer arguments: folders (``path[extra]``), then requirements."""
        folders = [f"{d.path}[{','.join(sorted(extras))}]" if extras else str(d.path)
                   for d, extras in self.local.values()]
        return folders + self.requirements


def install_plan(dist: Distribution, others: list[Distribution] = DISTRIBUTIONS,
                 kernel: Distribution = KERNEL) -> InstallPlan:
    by_name = {d.name: d for d in [kernel, *others]}
    plan = InstallPlan()

    def add(local: Distribution, extras: tuple[str, ...] = ()) -> None:
        _, chosen = plan.local.setdefault(local.name, (local, set()))
        # Its repository dependencies come from their folders, never the index.
        for requirement in local.dependencies:
            needed = by_name.get(requirement_name(requirement))
            if needed is not None and needed.name not in plan.local:
                add(needed)
        for extra in extras:
            if extra not in chosen:
                chosen.add(extra)
                for requirement in local.extras.get(extra, ()):
                    require(local, requirement)

    def require(owner: Distribution, requirement: str) -> None:
        name, extras = parse_requirement(requirement)
        if name in by_name:
            add(by_name[name], extras)
        elif name == SIMULATOR_DISTRIBUTION:
            plan.notes.append(f"{name} is not in this repository yet: the kernel still"
                              " carries the simulator")
        elif name.startswith("ocframe"):
            raise ValueError(f"{owner.name} names {name}, which is no distribution of"
                             " this repository")
        elif requirement not in plan.requirements:
            plan.requirements.append(requirement)

    add(kernel)
    add(dist)
    simulator = by_name.get(SIMULATOR_DISTRIBUTION)
    if simulator is not None:
        add(simulator)  # the test tool, whether or not the extra names it
    for requirement in dist.test_requirements:
        require(dist, requirement)
    return plan


# -- fast checks of the declarations -----------------------------------------

@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_runtime_dependencies_are_the_kernel_alone(dist: Distribution) -> None:
    """From this repository a plugin needs only the kernel to run; anything
    else (an ingest method for an end-to-end test) belongs in its test extra."""
    ours = {d.name for d in DISTRIBUTIONS} | {KERNEL.name, SIMULATOR_DISTRIBUTION}
    needed = {requirement_name(r) for r in dist.dependencies} & ours
    assert needed == {KERNEL.name}, f"{dist.name} needs {sorted(needed)} to run"


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_declares_its_tests_and_what_they_need(dist: Distribution) -> None:
    assert dist.tests.is_dir(), f"{dist.name} has no tests/ of its own"
    assert "pytest" in {requirement_name(r) for r in dist.test_requirements}, (
        f"{dist.name}: its [test] extra must name pytest")
    install_plan(dist)  # names only distributions that exist


def test_plan_installs_the_repository_distributions_a_test_extra_names() -> None:
    zipped = next(d for d in DISTRIBUTIONS if d.name == "ocframe-ingest-zipped")
    plan = install_plan(zipped)
    expected = {"ocframe", "ocframe-ingest-zipped", "ocframe-driver-testsrc"}
    if any(d.name == SIMULATOR_DISTRIBUTION for d in DISTRIBUTIONS):
        expected.add(SIMULATOR_DISTRIBUTION)
        assert not plan.notes
    else:
        assert plan.notes and SIMULATOR_DISTRIBUTION in plan.notes[0]
    assert plan.names == expected
    assert {requirement_name(r) for r in plan.requirements} == {"pytest", "pytest-timeout"}


def test_plan_refuses_a_test_extra_naming_an_unknown_plugin(tmp_path: Path) -> None:
    fake = Distribution("ocframe-driver-x", tmp_path, ("ocframe_driver_x",), ("ocframe",),
                        {"test": ("pytest", "ocframe-ingest-nonesuch")})
    with pytest.raises(ValueError, match="ocframe-ingest-nonesuch"):
        install_plan(fake)


def test_plan_follows_extras_of_repository_distributions(tmp_path: Path) -> None:
    """A driver whose emulator needs its own ``testing`` extra names itself."""
    fake = Distribution(
        "ocframe-driver-x", tmp_path, ("ocframe_driver_x",), ("ocframe",),
        {"test": ("pytest", "ocframe-driver-x[testing]", "ocframe-ingest-multirequest"),
         "testing": ("pyftpdlib>=1.5", "ocframe-driver-testsrc")})
    plan = install_plan(fake, [*DISTRIBUTIONS, fake])
    assert plan.local["ocframe-driver-x"][1] == {"testing"}
    assert {"ocframe", "ocframe-driver-x", "ocframe-ingest-multirequest",
            "ocframe-driver-testsrc"} <= plan.names
    assert plan.requirements == ["pytest", "pyftpdlib>=1.5"]
    assert f"{tmp_path}[testing]" in plan.targets()


# -- the isolated install and test run ----------------------------------------

class Environment:
    """A fresh virtual environment, made with uv if installed, else venv + pip."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"
        self.uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        self.env["PATH"] = f"{path / 'bin'}{os.pathsep}{self.env.get('PATH', '')}"
        # Never fetch an interpreter: the venv uses the one running the tests.
        self.env["UV_PYTHON_DOWNLOADS"] = "never"

    def run(self, argv: list[str], *, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, cwd=cwd or self.path.parent, env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=False)

    def create(self) -> str | None:
        """None, or why no environment could be made."""
        if self.uv:
            argv = [self.uv, "venv", "-q", "--python", sys.executable, str(self.path)]
        else:
            argv = [sys.executable, "-m", "venv", str(self.path)]
        try:
            done = self.run(argv, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{argv[0]}: {exc}"
        if done.returncode or not self.python.exists():
            return (done.stderr or done.stdout).strip()[-500:] or "no interpreter in the venv"
        return None

    def install(self, plan: InstallPlan) -> subprocess.CompletedProcess[str]:
        targets = plan.targets()
        if self.uv:
            # Folders named on the command line are always rebuilt: no stale wheel.
            return self.run([self.uv, "pip", "install", "-q", "--python", str(self.python),
                             *targets], timeout=900)
        return self.run([str(self.python), "-m", "pip", "install", "-q", *targets],
                        timeout=1800)

    def python_json(self, code: str, *args: str) -> object:
        done = self.run([str(self.python), "-c", code, *args])
        if done.returncode:
            raise AssertionError(tail(done.stderr))
        return json.loads(done.stdout)


INSTALLED = """
import importlib.metadata as m, json, re
print(json.dumps(sorted(re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
                        for d in m.distributions())))
"""

# Loads every entry point the distribution declares, as the kernel would.
LOAD_ENTRY_POINTS = """
import importlib.metadata as m, json, re, sys
name = sys.argv[1]
failed, loaded = [], []
for dist in m.distributions():
    if re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower() != name:
        continue
    for ep in dist.entry_points:
        if not ep.group.startswith("ocframe."):
            continue
        try:
            ep.load()
            loaded.append(f"{ep.group}:{ep.name}")
        except Exception as exc:
            failed.append(f"{ep.group}:{ep.name} = {ep.value}: {exc!r}")
print(json.dumps({"loaded": loaded, "failed": failed}))
"""


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@pytest.mark.packaging
@pytest.mark.timeout(TEST_TIMEOUT + 600)
@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_installs_alone_and_passes_its_tests(dist: Distribution) -> None:
    plan = install_plan(dist)
    with tempfile.TemporaryDirectory(prefix=f"isolated-{dist.name}-") as scratch:
        env = Environment(Path(scratch) / "venv")
        problem = env.create()
        if problem:
            pytest.skip(f"cannot create a virtual environment here: {problem}")
        started = time.monotonic()
        done = env.install(plan)
        assert done.returncode == 0, (
            f"{dist.name} does not install beside the kernel alone"
            f" ({', '.join(sorted(plan.names))} + {plan.requirements}):\n"
            + tail(done.stderr + done.stdout))
        ours = {d.name for d in DISTRIBUTIONS} | {KERNEL.name, SIMULATOR_DISTRIBUTION}
        installed = set(env.python_json(INSTALLED)) & ours  # type: ignore[arg-type]
        assert installed == plan.names, (
            f"{dist.name}: the venv holds {sorted(installed)} from this repository,"
            f" expected {sorted(plan.names)}")
        result = env.python_json(LOAD_ENTRY_POINTS, dist.name)
        assert isinstance(result, dict) and result["loaded"] and not result["failed"], (
            f"{dist.name}: entry points fail to load with only the kernel installed:"
            f" {result}")
        installed_in = time.monotonic() - started
        # Every test module is collected (imported) here, so an undeclared
        # import fails; the end-to-end tests are not run a second time: the
        # whole suite runs them, with the same code, and they are half its time.
        run = env.run([str(env.python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "-m", "not e2e", f"--basetemp={Path(scratch) / 'pytest'}",
                       str(dist.tests)],
                      cwd=Path(scratch), timeout=TEST_TIMEOUT)
        assert run.returncode == 0, (
            f"{dist.name}: its tests fail in a venv with only the kernel and its declared"
            f" test dependencies ({', '.join(sorted(plan.names))}; exit {run.returncode};"
            f" {'; '.join(plan.notes)}):\n" + tail(run.stdout + run.stderr))
        print(f"{dist.name}: installed in {installed_in:.0f} s, tests:"
              f" {tail(run.stdout, 1)}")

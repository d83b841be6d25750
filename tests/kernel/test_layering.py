"""Kernel imports go one way: down the layers of docs/architecture.md, no cycles.

Every import counts, type-only ones (``if TYPE_CHECKING:``) and imports
inside functions included: a cycle hidden behind either is still a cycle a
reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KERNEL = Path(__file__).resolve().parents[2] / "ocframe"

#: The layering documented in docs/architecture.md, bottom first. A module
#: may import modules of its own layer or below. A module is placed by its
#: longest listed prefix (``ocframe.ingest`` covers ``ocframe.ingest.*``).
LAYERS: list[tuple[str, list[str]]] = [
    ("foundation", ["ocframe.errors", "ocframe.model", "ocframe.version", "ocframe.loops",
                    "ocframe.process", "ocframe.ffmpeg", "ocframe.systemd",
                    "ocframe.opencast.multipart", "ocframe.opencast.jettison",
                    "ocframe.opencast.ical", "ocframe.opencast", "ocframe.logs"]),
    ("configuration", ["ocframe.config_secrets", "ocframe.config_hints", "ocframe.config"]),
    ("core client", ["ocframe.opencast.http", "ocframe.opencast.registry",
                     "ocframe.opencast.client", "ocframe.opencast.vevent",
                     "ocframe.opencast.calendar"]),
    ("contracts", ["ocframe.driver", "ocframe.ingest", "ocframe.hookspecs"]),
    ("registry and storage", ["ocframe.plugins", "ocframe.store_schema", "ocframe.store",
                              "ocframe.schedule", "ocframe.segments", "ocframe.trim",
                              "ocframe.launches", "ocframe.media_check"]),
    ("stations", ["ocframe.events", "ocframe.scheduler", "ocframe.capture", "ocframe.reporter",
                  "ocframe.uploader", "ocframe.calendar_poll", "ocframe.disk",
                  "ocframe.inputs", "ocframe.health"]),
    ("agent", ["ocframe.recordings", "ocframe.recovery", "ocframe.runtime"]),
    ("process", ["ocframe.service", "ocframe.reload"]),
    ("surface", ["ocframe.cli", "ocframe.testing", "ocframe"]),
]


def layer_of(module: str) -> int:
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and (
                    best is None or len(name) > best[1]):
                best = (index, len(name))
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to docs/architecture.md and"
                             " to LAYERS in this test")
    return best[0]


def kernel_modules() -> dict[str, Path]:
    modules = {}
    for path in KERNEL.rglob("*.py"):
        parts = path.relative_to(KERNEL.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "ocframe":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in known else target, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((a.name, node.lineno) for a in node.names
                         if a.name.split(".")[0] == "ocframe")
    return [(t, line) for t, line in found if t != name]


def import_graph() -> dict[str, list[tuple[str, int]]]:
    modules = kernel_modules()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def test_every_kernel_module_is_in_a_documented_layer() -> None:
    missing = []
    for name in kernel_modules():
        try:
            layer_of(name)
        except AssertionError:
            missing.append(name)
    assert not missing, f"not in any layer: {missing}"


def test_no_kernel_module_imports_a_layer_above_its_own() -> None:
    upward = []
    for name, deps in import_graph().items():
        mine = layer_of(name)
        for target, line in deps:
            if target == "ocframe" and name != "ocframe":
                upward.append(f"{name}:{line} imports the package facade 'ocframe'")
            elif layer_of(target) > mine:
                upward.append(f"{name}:{line} ({LAYERS[mine][0]}) imports {target}"
                              f" ({LAYERS[layer_of(target)][0]})")
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_no_import_cycle_among_kernel_modules() -> None:
    graph = {name: sorted({t for t, _ in deps}) for name, deps in import_graph().items()}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


@pytest.mark.parametrize("graph, expected", [
    ({"a": ["b"], "b": ["c"], "c": []}, []),
    ({"a": ["b"], "b": ["a"], "c": ["a"]}, [["a", "b"]]),
])
def test_the_cycle_finder_finds_planted_cycles(graph: dict[str, list[str]],
                                               expected: list[list[str]]) -> None:
    assert find_cycles(graph) == expected


def test_size_limits_of_the_issue_hold() -> None:
    """A kernel a newcomer can read: no module over 400 lines outside the
    test helpers, and the agent wiring stays thin."""
    too_long = {
        name: n for name, path in kernel_modules().items()
        if not name.startswith("ocframe.testing")
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not too_long, too_long
    runtime = (KERNEL / "runtime.py").read_text(encoding="utf-8")
    agent_runtime = runtime[runtime.index("class AgentRuntime"):]
    assert len(agent_runtime.splitlines()) < 150

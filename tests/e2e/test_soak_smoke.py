"""The soak benchmark, short (bench/soak.py; the long run is in
docs/benchmarks-soak.md): three agents in one process, a compressed quarter
hour of back-to-back lectures, random faults from a fixed seed. Nothing may
be lost, every state must end right, no loop may hang."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def load_soak() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "soak.py"
    spec = importlib.util.spec_from_file_location("ocframe_bench_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_soak_smoke(tmp_path: Path) -> None:
    soak = load_soak()
    results = soak.run_soak(soak.Options(
        agents=3, hours=0.25, lecture_minutes=5, compression=30, seed=7, fault_interval=3.0,
        lead=6.0, drain=120.0, sample=2.0, workdir=tmp_path))
    summary = soak.report(results)
    assert results.scheduled == 9 and sum(results.faults.values()) >= 3, summary
    assert results.ok, summary

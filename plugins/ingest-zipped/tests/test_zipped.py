"""Zipped ingest against the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocframe.errors import IngestError

Runner = Any


def test_zipped_503_is_retryable(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 10_000})
    runner.sim.ingest_limit_reached = True
    with pytest.raises(IngestError) as err:
        runner.run("zipped", runner.job(ev, pkg))
    assert err.value.retryable and "503" in err.value.reason
    runner.sim.ingest_limit_reached = False
    runner.run("zipped", runner.job(ev, pkg))
    assert runner.sim.workflows_started(ev.uid) == 1


def test_zipped_zip64(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 100_000})
    runner.run("zipped", runner.job(ev, pkg), force_zip64=True)
    ingest = runner.sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.tracks[0].md5 == runner.md5(pkg.tracks[0].path)

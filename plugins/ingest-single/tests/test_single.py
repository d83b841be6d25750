"""Single-request ingest against the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocframe.errors import IngestError

Runner = Any


def test_single_409_without_earlier_attempt_is_retryable(runner: Runner, tmp_path: Path) -> None:
    ev = runner.event()
    pkg = runner.package({"presenter/source": 10_000})
    runner.run("single", runner.job(ev, pkg))
    runner.checkpoint.data.clear()
    with pytest.raises(IngestError) as err:
        runner.run("single", runner.job(ev, pkg))
    assert err.value.retryable and "409" in err.value.reason


def test_single_workflow_definition_is_one_quoted_path_segment(runner: Runner,
                                                               tmp_path: Path) -> None:
    """The definition may come from the calendar; '?' and '#' must not end the path."""
    ev = runner.event(title="Lecture\x1b[31m\x00 one")
    pkg = runner.package({"presenter/source": 10_000})
    job = runner.job(ev, pkg)
    job.workflow_definition = "fast?x=1#y z"
    runner.run("single", job)
    ingest = runner.sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.workflow_definition == "fast?x=1#y z"
    assert ingest.dublin_core["title"] == ["Lecture [31m  one"]

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


def test_zipped_manifest_carries_a_title_with_control_characters(runner: Runner,
                                                                tmp_path: Path) -> None:
    """XML cannot carry most control characters even escaped: the manifest
    used to be invalid and the upload failed for good."""
    ev = runner.event(title="Lecture\x1b[31m\x00 one\x0b")
    pkg = runner.package({"presenter/source": 10_000})
    runner.run("zipped", runner.job(ev, pkg))
    ingest = runner.sim.find_ingest(ev.uid)
    assert ingest is not None and runner.sim.workflows_started(ev.uid) == 1
    assert ingest.tracks[0].md5 == runner.md5(pkg.tracks[0].path)


def test_zipped_workflow_definition_is_one_quoted_path_segment(runner: Runner,
                                                               tmp_path: Path) -> None:
    """The definition may come from the calendar; '?' and '#' must not end the path."""
    ev = runner.event()
    pkg = runner.package({"presenter/source": 10_000})
    job = runner.job(ev, pkg)
    job.workflow_definition = "fast?x=1#y z"
    runner.run("zipped", job)
    ingest = runner.sim.find_ingest(ev.uid)
    assert ingest is not None and ingest.workflow_definition == "fast?x=1#y z"

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

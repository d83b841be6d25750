"""Status data classes as JSON (the API's documented shapes, docs/web.md)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any


def to_json(value: Any) -> Any:
    """Dataclasses as objects, datetimes in ISO 8601, paths as text; infinite
    levels (silence) as None, since JSON has no infinity."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

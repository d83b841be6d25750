"""JSON the way JAXB + Jettison ("mapped" convention) renders it in the core."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")


def scalar(value: Any) -> Any:
    """Jettison turns strings that look like numbers or booleans into JSON scalars."""
    if isinstance(value, str):
        if value in ("true", "false"):
            return value == "true"
        if _NUMBER.match(value):
            return float(value) if "." in value else int(value)
    return value


def collection(items: Sequence[Any]) -> Any:
    """One item becomes an object, several an array, none the empty string."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return list(items)


def wrap(wrapper: str, element: str, items: Sequence[Any]) -> dict[str, Any]:
    inner = collection(items)
    return {wrapper: inner if inner == "" else {element: inner}}

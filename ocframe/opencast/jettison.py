"""Normalising the core's JAXB/Jettison JSON.

One repeated element comes out as an object, several as an array, none as
the empty string; number- and boolean-looking strings come out as numbers
and booleans.
"""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list[Any]:
    """A repeated element as a list, whatever shape Jettison gave it."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_str(value: Any) -> str:
    """A scalar as the string the core meant (``0`` -> ``"0"``, ``true`` -> ``"true"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)

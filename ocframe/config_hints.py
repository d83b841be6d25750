"""What a validation error tells the person who wrote the configuration.

pydantic says "Extra inputs are not permitted" for a key the model does not
know; whoever made the typo wants the key that was meant. The model that
refused the key is found by following the error's location through the
field annotations, and its field names are compared with the unknown key.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails


def error_message(err: ErrorDetails, model: type[BaseModel]) -> str:
    """pydantic's message for ``err``, raised validating ``model``; for an
    unknown key, the closest valid keys instead (or all of them)."""
    loc = tuple(err["loc"])
    if err["type"] != "extra_forbidden" or not loc or not isinstance(loc[-1], str):
        return err["msg"]
    owner = model_at(model, loc[:-1])
    if owner is None:
        return err["msg"]
    known = field_keys(owner)
    close = difflib.get_close_matches(loc[-1], known, n=3, cutoff=0.6)
    if close:
        return "unknown key; did you mean " + " or ".join(repr(k) for k in close) + "?"
    return "unknown key; valid keys: " + ", ".join(sorted(known))


def field_keys(model: type[BaseModel]) -> list[str]:
    """The keys a user may write for ``model`` (a field's alias if it has one)."""
    return [f.alias or name for name, f in model.model_fields.items()]


def model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model validating the value at ``loc`` inside ``model``, following
    fields, list items and dict values. ``None`` where the location leaves
    the models (a ``dict[str, Any]`` such as a driver's settings table)."""
    annotation: Any = model
    for part in loc:
        annotation = _step(_unwrap_optional(annotation), part)
        if annotation is None:
            return None
    annotation = _unwrap_optional(annotation)
    return annotation if _is_model(annotation) else None


def _step(annotation: Any, part: str | int) -> Any:
    if _is_model(annotation):
        if not isinstance(part, str):
            return None
        fields = annotation.model_fields
        field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        return field.annotation if field is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple, set, frozenset, Sequence) and isinstance(part, int) and args:
        return args[0]
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    return None


def _unwrap_optional(annotation: Any) -> Any:
    """``X | None`` is validated as ``X``."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)

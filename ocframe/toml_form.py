"""How a configuration key is written in TOML, in words for operators: its
type (``string``, ``one of "basic", "digest"``, ``array of strings``), a value
as TOML (``"/var/lib/ocframe"``, ``true``, ``{ A = "b" }``) and a field's
constraints (``> 0``, ``at least 1 item``). Used by
:mod:`ocframe.config_reference`.
"""

from __future__ import annotations

import enum
import json
import math
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import PurePath
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

# bool before int: a bool is an int to Python, not to TOML.
_SCALARS: dict[type, str] = {
    bool: "boolean",
    str: "string",
    int: "integer",
    float: "float",
    SecretStr: "secret reference",
}


def strip_optional(annotation: Any) -> Any:
    if _is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def list_model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = strip_optional(annotation)
    if typing.get_origin(annotation) in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        if args:
            return model_of(args[0])
    return None


def toml_type(annotation: Any) -> str:
    """How an operator writes a value of ``annotation`` in TOML."""
    annotation = strip_optional(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return toml_type(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(toml_value(v) for v in typing.get_args(annotation))
    if _is_union(annotation):
        return " or ".join(toml_type(a) for a in typing.get_args(annotation)
                           if a is not type(None))
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return "one of " + ", ".join(toml_value(m.value) for m in annotation)
        if issubclass(annotation, PurePath):
            return "path"
        if issubclass(annotation, BaseModel):
            return "table"
        for kind, name in _SCALARS.items():
            if issubclass(annotation, kind):
                return name
    origin = typing.get_origin(annotation)
    if origin in (dict, typing.Mapping) or annotation is dict:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is not Any:
            return f"table of {_plural(toml_type(args[1]))}"
        return "table"
    if origin in (list, tuple, set, frozenset, Sequence) or annotation in (list, tuple):
        args = {a for a in typing.get_args(annotation) if a is not Ellipsis}
        return f"array of {_plural(toml_type(args.pop()))}" if len(args) == 1 else "array"
    raise TypeError(f"no TOML type for {annotation!r}")


def _plural(kind: str) -> str:
    if kind.startswith("one of "):
        return f"({kind})"
    if kind == "secret reference":
        return "secret references"
    if kind.endswith(("table", "string", "integer", "float", "boolean", "path", "array")):
        return kind + "s"
    return kind


def toml_value(value: Any) -> str:
    """``value`` as it is written in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return toml_value(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, SecretStr):
        return toml_value(value.get_secret_value())
    if isinstance(value, PurePath):
        return toml_value(str(value))
    if isinstance(value, str):
        # JSON's escapes are TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, BaseModel):
        return toml_value(value.model_dump())
    if isinstance(value, dict):
        # TOML has no null: a key left unset is simply not written.
        items = {k: v for k, v in value.items() if v is not None}
        if not items:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in items.items()) + " }"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "see below"
    text = toml_value(value)
    return f"`{text}`"


def allowed_text(field: FieldInfo) -> str:
    """The field's constraints in words (``> 0``, ``at least 1 item``)."""
    words: list[str] = []
    for item in field.metadata:
        words.extend(_constraint(item))
    return ", ".join(words)


def _constraint(item: Any) -> Iterator[str]:
    if isinstance(item, annotated_types.Gt):
        yield f"> {toml_value(item.gt)}"
    elif isinstance(item, annotated_types.Ge):
        yield f"≥ {toml_value(item.ge)}"
    elif isinstance(item, annotated_types.Lt):
        yield f"< {toml_value(item.lt)}"
    elif isinstance(item, annotated_types.Le):
        yield f"≤ {toml_value(item.le)}"
    elif isinstance(item, annotated_types.MinLen):
        yield f"at least {item.min_length} {'item' if item.min_length == 1 else 'items'}"
    elif isinstance(item, annotated_types.MaxLen):
        yield f"at most {item.max_length} items"
    elif isinstance(getattr(item, "pattern", None), str):
        yield f"matches `{item.pattern}`"

"""The configuration reference, generated from the pydantic models.

Every key of the kernel's configuration (:mod:`ocframe.config`) and of the
settings of every installed driver and ingest strategy (found through their
entry points) is written as one table row: its TOML type, its default as it
would be written in TOML, what values are allowed and the field's
``description``. docs/configuration-reference.md is this module's output;
a test fails when the committed file and the models disagree, and the docs
site build regenerates the page (scripts/docs_hooks.py).

    python -m ocframe.config_reference            # print the reference
    python -m ocframe.config_reference -o FILE    # write it
    python -m ocframe.config_reference --check FILE
"""

from __future__ import annotations

import argparse
import enum
import json
import math
import sys
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path, PurePath
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from .config import OcframeConfig
from .plugins import GROUP_DRIVERS, GROUP_INGEST

#: Where the committed reference lives, relative to the repository root.
REFERENCE_PATH = Path("docs/configuration-reference.md")

# bool before int: a bool is an int to Python, not to TOML.
_SCALARS: dict[type, str] = {
    bool: "boolean",
    str: "string",
    int: "integer",
    float: "float",
    SecretStr: "secret reference",
}


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    allowed: str
    description: str


@dataclass(frozen=True)
class Section:
    """One TOML table (``[core]``) or array of tables (``[[agents]]``)."""

    header: str
    intro: str
    rows: list[Row]


# ---------------------------------------------------------------------------
# Types


def _strip_optional(annotation: Any) -> Any:
    if _is_union(annotation):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_model_of(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip_optional(annotation)
    if typing.get_origin(annotation) in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        if args:
            return _model_of(args[0])
    return None


def toml_type(annotation: Any) -> str:
    """How an operator writes a value of ``annotation`` in TOML."""
    annotation = _strip_optional(annotation)
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
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if not args:
            return "array"
        if len(set(args)) > 1:
            return "array of " + ", ".join(toml_type(a) for a in args)
        return f"array of {_plural(toml_type(args[0]))}"
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
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
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
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


# ---------------------------------------------------------------------------
# Fields


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
    else:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            yield f"matches `{pattern}`"
        for attr, fmt in (("gt", "> {}"), ("ge", "≥ {}"), ("lt", "< {}"), ("le", "≤ {}")):
            bound = getattr(item, attr, None)
            if bound is not None:
                yield fmt.format(toml_value(bound))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _own_fields_first(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    """A model's fields, its own before those it inherits (a driver's keys
    before the ones every command-line driver shares)."""

    def depth(name: str) -> int:
        for index, cls in enumerate(model.__mro__):
            if name in getattr(cls, "__annotations__", {}):
                return index
        return len(model.__mro__)

    fields = list(model.model_fields.items())
    return sorted(fields, key=lambda item: depth(item[0]))  # stable: keeps declaration order


def _rows(model: type[BaseModel]) -> list[Row]:
    rows = []
    for name, field in _own_fields_first(model):
        if _list_model_of(field.annotation) is not None:
            kind = "array of tables"
        else:
            kind = toml_type(field.annotation)
        rows.append(Row(name, kind, default_text(field), allowed_text(field),
                        field.description or ""))
    return rows


def _sections(model: type[BaseModel], header: str, intro: str) -> Iterator[Section]:
    """``model``'s own keys, then each nested table in declaration order."""
    yield Section(header, intro, _rows(model))
    prefix = header.strip("[]")
    for name, field in model.model_fields.items():
        nested = _model_of(field.annotation)
        many = _list_model_of(field.annotation)
        path = f"{prefix}.{name}" if prefix else name
        if nested is not None:
            yield from _sections(nested, f"[{path}]", _doc(nested))
        elif many is not None:
            yield from _sections(many, f"[[{path}]]", _doc(many))


def _doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    # pydantic models inherit BaseModel's docstring when they have none.
    if doc == BaseModel.__doc__ or not doc.strip():
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def kernel_sections() -> list[Section]:
    top = list(_sections(OcframeConfig, "", ""))
    top[0] = Section("Top level", "Keys outside any table.",
                     [r for r in top[0].rows if r.type not in ("table", "array of tables")])
    return top


@dataclass(frozen=True)
class PluginSettings:
    group: str
    name: str
    distribution: str
    model: type[BaseModel]


def plugin_settings(group: str) -> list[PluginSettings]:
    """The settings model of every installed plugin class in ``group``.

    A plugin that cannot be loaded is an error: a reference missing it
    would be silently incomplete."""
    found = []
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        cls = ep.load()
        model = getattr(cls, "Settings", None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{group} entry point {ep.name!r}: {cls!r} has no Settings model")
        dist = ep.dist.name if ep.dist is not None else "?"
        found.append(PluginSettings(group, ep.name, dist, model))
    return found


# ---------------------------------------------------------------------------
# Markdown

_HEAD = """\
# Configuration reference

<!-- Generated by `python -m ocframe.config_reference -o docs/configuration-reference.md`
from the pydantic models; do not edit by hand (a test compares this file with the models). -->

Every key of the configuration file, with its TOML type, its default as written in TOML
("required": no default; "unset": absent unless you set it), the values allowed and what
it does. How the file is read, secrets and reloading: [Configuration](configuration.md).

A *secret reference* is written `"${NAME}"` and resolved from the environment or the
secrets file; a literal secret in the configuration file is refused.
"""


def _table(rows: Iterable[Row]) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r.key}` | {_cell(r.type)} | {_cell(r.default)} | "
                     f"{_cell(r.allowed)} | {_cell(r.description)} |")
    return lines


def _section_lines(section: Section, level: str = "##") -> list[str]:
    title = f"`{section.header}`" if section.header.startswith("[") else section.header
    lines = ["", f"{level} {title}", ""]
    if section.intro:
        lines += [section.intro, ""]
    lines += _table(section.rows)
    return lines


def _plugin_lines(found: list[PluginSettings], table: str, selector: str) -> list[str]:
    lines: list[str] = []
    for p in found:
        lines += ["", f"### `{selector} = \"{p.name}\"`", "",
                  f"Distribution `{p.distribution}`. Keys of `{table}`."]
        intro = _doc(p.model)
        if intro:
            lines += ["", intro]
        lines += [""]
        lines += _table(_rows(p.model))
    return lines


def render() -> str:
    lines = [_HEAD.rstrip("\n")]
    for section in kernel_sections():
        lines += _section_lines(section)
    lines += ["", "## Driver settings", "",
              "Each input's `[agents.inputs.settings]` table is checked by the settings model of",
              "its driver; unknown keys are errors. Installed drivers:"]
    lines += _plugin_lines(plugin_settings(GROUP_DRIVERS), "[agents.inputs.settings]", "driver")
    lines += ["", "## Ingest method settings", "",
              "An agent's `[agents.ingest.settings]` table is checked by the settings model of",
              "its ingest method (`ingest.method`); unknown keys are errors. Installed methods:"]
    lines += _plugin_lines(plugin_settings(GROUP_INGEST), "[agents.ingest.settings]", "method")
    return "\n".join(lines) + "\n"


def undescribed() -> list[str]:
    """``model.field`` for every field that has no description."""
    models: list[type[BaseModel]] = [OcframeConfig]
    models += [p.model for group in (GROUP_DRIVERS, GROUP_INGEST) for p in plugin_settings(group)]
    missing: list[str] = []
    seen: set[type[BaseModel]] = set()
    while models:
        model = models.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            nested = _model_of(field.annotation) or _list_model_of(field.annotation)
            if nested is not None:
                models.append(nested)
            elif not field.description:
                missing.append(f"{model.__module__}.{model.__qualname__}.{name}")
    return sorted(missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ocframe.config_reference",
        description="Write the configuration reference (Markdown) from the models.")
    parser.add_argument("-o", "--output", type=Path, help="write to this file (default: print)")
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="exit 1 if FILE differs from what the models give")
    args = parser.parse_args(argv)
    text = render()
    if args.check is not None:
        try:
            current = args.check.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"{args.check}: {exc}", file=sys.stderr)
            return 1
        if current != text:
            print(f"{args.check} is out of date: run python -m ocframe.config_reference -o "
                  f"{args.check}", file=sys.stderr)
            return 1
        return 0
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

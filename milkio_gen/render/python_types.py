"""JSON Schema to Python types: the declarations and type expressions of generated clients.

What clients send (params) becomes `TypedDict`s, so a dict literal is checked key by key;
what they receive (chunks, results, fail data) becomes pydantic models, validated on arrival.
A definition used both ways gets both: the model keeps the app's name, the `TypedDict` takes
an `Input` suffix. Templates only lay out what this module decides.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

from pydantic import BaseModel

from .type_target import Side, TypeTarget

__all__ = [
    "Declaration",
    "PyAlias",
    "PyEnum",
    "PyField",
    "PyModel",
    "PyTypedDict",
    "PythonTypes",
    "python_identifier",
]

RESERVED_NAMES = frozenset(
    {
        "Annotated", "Any", "ApiSpec", "AsyncClient", "AsyncClientCore", "AsyncHeadersFunction",
        "AsyncStreamCall", "Base64Bytes", "BaseModel", "Client", "ClientCore", "ConfigDict",
        "Decimal", "Enum", "ExecuteResult", "Fail", "Failure", "Field", "HeadersFunction",
        "IntEnum", "Literal", "Mapping", "Retry",
        "NotRequired", "StreamCall", "StreamResult", "StreamTimeouts", "StrEnum", "Success",
        "TypeAlias", "TypeAliasType", "TypedDict", "UUID", "date", "datetime", "httpx",
        "overload", "time", "timedelta",
    }
)  # fmt: skip

_MODEL_ATTRIBUTES = frozenset(dir(BaseModel))
_STRING_FORMATS = {
    "date-time": "datetime",
    "date": "date",
    "time": "time",
    "duration": "timedelta",
    "uuid": "UUID",
    "uuid1": "UUID",
    "uuid3": "UUID",
    "uuid4": "UUID",
    "uuid5": "UUID",
    "binary": "bytes",
    "decimal": "Decimal",
    "base64": "Base64Bytes",
}
_PRIMITIVES = {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}


def python_identifier(text: str) -> str:
    """A valid, non-keyword identifier close to `text`."""
    name = re.sub(r"\W", "_", text.replace("-", "_"))
    if not name or name[0].isdigit():
        name = f"_{name}"
    return f"{name}_" if keyword.iskeyword(name) else name


def python_literal(value: Any) -> str:
    """Python source for a JSON value."""
    if isinstance(value, dict):
        pairs = cast(dict[str, Any], value).items()
        return "{" + ", ".join(f"{python_literal(k)}: {python_literal(v)}" for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_literal(item) for item in cast(list[Any], value)) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return repr(value)


@dataclass(frozen=True, slots=True)
class PyField:
    name: str
    """The attribute (model) or key (TypedDict)."""
    wire_name: str
    type: str
    required: bool
    default: str | None = None
    doc: str | None = None

    @property
    def aliased(self) -> bool:
        return self.name != self.wire_name


@dataclass(frozen=True, slots=True)
class PyModel:
    macro = "model"
    name: str
    doc: str | None
    fields: tuple[PyField, ...]


@dataclass(frozen=True, slots=True)
class PyTypedDict:
    macro = "typed_dict"
    name: str
    doc: str | None
    fields: tuple[PyField, ...]

    @property
    def functional(self) -> bool:
        """Keys that are not identifiers need `TypedDict("Name", {...})`."""
        return any(
            not f.wire_name.isidentifier() or keyword.iskeyword(f.wire_name) for f in self.fields
        )


@dataclass(frozen=True, slots=True)
class PyEnum:
    macro = "enum"
    name: str
    doc: str | None
    base: str
    members: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PyAlias:
    macro = "alias"
    name: str
    doc: str | None
    expression: str
    recursive: bool = False
    """Refers to itself, so it is written as `TypeAliasType` with a lazy value."""


Declaration = PyModel | PyTypedDict | PyEnum | PyAlias


class PythonTypes(TypeTarget):
    """Python types: `TypedDict`s for input, pydantic models for output."""

    reserved = RESERVED_NAMES

    def identifier(self, text: str) -> str:
        return python_identifier(text)

    def declarations(self) -> list[Declaration]:
        """Enums, then classes, in name order, then aliases, each after those it uses."""
        made = [self._declare(ref, side) for (ref, side) in self.planned]
        classes = sorted(
            (d for d in made if d.macro != "alias"), key=lambda d: (d.macro != "enum", d.name)
        )
        aliases = [d for d in made if isinstance(d, PyAlias)]
        return [*classes, *order_aliases(aliases)]

    def _declare(self, ref: str, side: Side) -> Declaration:
        schema = self.defs[ref]
        name = self.planned_name(ref, side)
        doc = schema.get("description")
        if "properties" in schema or (
            schema.get("type") == "object" and "additionalProperties" not in schema
        ):
            fields = tuple(self._fields(schema, side))
            if side == "input":
                return PyTypedDict(name, doc, fields)
            return PyModel(name, doc, _unshadowed(fields))
        if "enum" in schema:
            return PyEnum(name, doc, _enum_base(schema["enum"]), _enum_members(schema["enum"]))
        return PyAlias(name, doc, self.type_of(schema, side))

    def _fields(self, schema: dict[str, Any], side: Side) -> Iterator[PyField]:
        required = set(schema.get("required", ()))
        taken: set[str] = set()
        for wire_name, property_schema in schema.get("properties", {}).items():
            type_ = self.type_of(property_schema, side)
            is_required = wire_name in required
            default = None
            if side == "output" and not is_required:
                # A key the server may leave out (a TypedDict's): absent reads as None.
                type_ = type_ if type_.endswith("| None") or type_ == "None" else f"{type_} | None"
                default = "None"
            elif side == "output" and (default := _default_source(property_schema)) is not None:
                is_required = False  # the server sends it; the default serves code that builds one
            name = wire_name if side == "input" else _attribute_name(wire_name, taken)
            taken.add(name)
            doc = property_schema.get("description")
            yield PyField(name, wire_name, type_, is_required, default, doc)

    def type_of(self, schema: dict[str, Any], side: Side) -> str:
        """The Python type expression of a schema."""
        if "$ref" in schema:
            return self.name_of(schema["$ref"].removeprefix("#/$defs/"), side)
        if "const" in schema:
            return f"Literal[{python_literal(schema['const'])}]"
        if "enum" in schema:
            return "Literal[" + ", ".join(python_literal(v) for v in schema["enum"]) + "]"
        for key in ("anyOf", "oneOf"):
            if key in schema:
                union = _union([self.type_of(option, side) for option in schema[key]])
                discriminator = schema.get("discriminator", {}).get("propertyName")
                if discriminator and side == "output":
                    return f'Annotated[{union}, Field(discriminator="{discriminator}")]'
                return union
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = cast(list[str], kind)
            return _union([self.type_of({**schema, "type": one}, side) for one in kinds])
        if kind == "string":
            return _STRING_FORMATS.get(schema.get("format", ""), "str")
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "array":
            return self._array(schema, side)
        if kind == "object":
            values = schema.get("additionalProperties")
            value_type = self.type_of(_object(values), side) if isinstance(values, dict) else "Any"
            return f"dict[str, {value_type}]"
        return "Any"

    def _array(self, schema: dict[str, Any], side: Side) -> str:
        if "prefixItems" in schema:
            items = [self.type_of(item, side) for item in schema["prefixItems"]]
            if isinstance(schema.get("items"), dict):
                return (
                    f"tuple[{', '.join(items)}, *tuple[{self.type_of(schema['items'], side)}, ...]]"
                )
            return f"tuple[{', '.join(items)}]" if items else "tuple[()]"
        items = schema.get("items")
        item_type = self.type_of(_object(items), side) if isinstance(items, dict) else "Any"
        return f"set[{item_type}]" if schema.get("uniqueItems") else f"list[{item_type}]"


def _object(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value)


def _union(types: list[str]) -> str:
    unique = list(dict.fromkeys(types))
    # `None` last, as people write it.
    unique.sort(key=lambda t: t == "None")
    return " | ".join(unique)


def _default_source(schema: dict[str, Any]) -> str | None:
    """The default as Python source, when it is a literal the field's type accepts as is."""
    if "default" not in schema:
        return None
    value = schema["default"]
    plain = schema.get("type") in ("string", "integer", "number", "boolean")
    if value is None or value in ([], {}) or (plain and "format" not in schema):
        return python_literal(value)
    return None


def _attribute_name(wire_name: str, taken: set[str]) -> str:
    """A model attribute for a wire name: pydantic keeps `_x` private and `model_*` its own."""
    name = python_identifier(wire_name)
    if name.startswith("_") or name in _MODEL_ATTRIBUTES:
        name = f"{name.lstrip('_')}_"
    if not name[:1].isalpha():
        name = f"f_{name}"
    while name in taken:
        name = f"{name}_"
    return name


def order_aliases(aliases: list[PyAlias]) -> list[PyAlias]:
    """Each alias after the aliases it uses; those in a cycle become lazy `TypeAliasType`s."""
    by_name = {alias.name: alias for alias in sorted(aliases, key=lambda a: a.name)}
    uses = {
        name: set(re.findall(r"[A-Za-z_]\w*", alias.expression)) & set(by_name)
        for name, alias in by_name.items()
    }
    ordered: list[PyAlias] = []
    state: dict[str, str] = {}
    cyclic: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cyclic.update(trail[trail.index(name) :])
            return
        state[name] = "visiting"
        for used in sorted(uses[name]):
            visit(used, [*trail, name])
        state[name] = "done"
        ordered.append(by_name[name])

    for name in by_name:
        visit(name, [])
    return [replace(alias, recursive=alias.name in cyclic) for alias in ordered]


def _unshadowed(fields: tuple[PyField, ...]) -> tuple[PyField, ...]:
    """Pydantic reads annotations in the class namespace, where a field with a value (a
    default, or `Field(alias=...)`) hides a type of the same name: `date: date | None = None`
    cannot be evaluated. Such fields get another attribute name, keeping their wire name."""
    names_in_types = {word for one in fields for word in re.findall(r"[A-Za-z_]\w*", one.type)}
    return tuple(
        replace(one, name=f"{one.name}_")
        if (one.aliased or not one.required) and one.name in names_in_types
        else one
        for one in fields
    )


def _enum_base(values: list[Any]) -> str:
    if all(isinstance(value, str) for value in values):
        return "StrEnum"
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return "IntEnum"
    return "Enum"


def _enum_members(values: list[Any]) -> tuple[tuple[str, str], ...]:
    members: list[tuple[str, str]] = []
    taken: set[str] = set()
    for value in values:
        if isinstance(value, str):
            base = re.sub(r"\W", "_", value.replace("-", "_")).upper().strip("_") or "EMPTY"
        else:
            base = "VALUE_" + re.sub(r"\W", "_", repr(value).replace("-", "MINUS_"))
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"VALUE_{base}"
        name, counter = base, 2
        while name in taken:
            name, counter = f"{base}_{counter}", counter + 1
        taken.add(name)
        members.append((name, python_literal(value)))
    return tuple(members)

"""JSON Schemas of every type the APIs use, with one shared `$defs` and readable names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from pydantic import TypeAdapter
from pydantic.errors import PydanticInvalidForJsonSchema, PydanticUserError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = ["SchemaRequest", "SchemaSet", "TypeNotCarried", "build_schemas"]

SchemaKey = tuple[str, str]
"""What a schema is for, such as `("params", "chat/send")`."""


@dataclass(frozen=True, slots=True)
class SchemaRequest:
    key: SchemaKey
    mode: JsonSchemaMode
    """`validation` for what clients send (params), `serialization` for what they receive."""
    type: Any


@dataclass(frozen=True, slots=True)
class SchemaSet:
    schemas: dict[SchemaKey, dict[str, Any]]
    defs: dict[str, dict[str, Any]]


class TypeNotCarried(Exception):
    """A type that has no JSON Schema, so no client could be typed from it."""

    def __init__(self, key: SchemaKey, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


class _Generator(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        # Titles made from field names repeat the name; leave them out of the manifest.
        return False

    def decimal_schema(self, schema: Any) -> JsonSchemaValue:
        # A decimal travels as a string; the format tells clients to read it back as one.
        json_schema = super().decimal_schema(schema)
        string = {
            **next(s for s in json_schema.get("anyOf", [json_schema]) if s.get("type") == "string")
        }
        return {**string, "format": "decimal"}

    def field_is_required(self, field: Any, total: bool) -> bool:
        # The server sends every field of a model or dataclass, defaults included, so clients
        # may count on them; only a TypedDict's missing keys stay missing.
        if self.mode == "serialization" and field["type"] != "typed-dict-field":
            return True
        return super().field_is_required(field, total)


def core_schema_of(request: SchemaRequest) -> CoreSchema:
    try:
        return TypeAdapter(request.type).core_schema
    except (PydanticUserError, TypeError, NameError) as error:
        raise TypeNotCarried(request.key, _first_sentence(error)) from error


def _first_sentence(error: Exception) -> str:
    """Pydantic's own advice (such as `arbitrary_types_allowed`) does not apply here."""
    return str(error).split("\n")[0].split(". ")[0].rstrip(".")


def build_schemas(requests: list[SchemaRequest], app: str) -> SchemaSet:
    """Schemas for every request, sharing definitions; raises `TypeNotCarried` per bad type."""
    inputs: list[tuple[SchemaKey, JsonSchemaMode, CoreSchema]] = [
        (request.key, request.mode, core_schema_of(request)) for request in requests
    ]
    try:
        generated, defs = _Generator(ref_template="#/$defs/{model}").generate_definitions(inputs)
    except PydanticInvalidForJsonSchema as error:
        # Find which request holds the type, so the error names the API.
        for key, mode, schema in inputs:
            try:
                _Generator().generate(schema, mode=mode)
            except PydanticInvalidForJsonSchema as single:
                raise TypeNotCarried(key, _first_sentence(single)) from error
        raise
    renames = _readable_names(sorted(defs), app)
    schemas = {key: _rename_refs(schema, renames) for (key, _), schema in generated.items()}
    readable_defs = {renames[name]: _rename_refs(schema, renames) for name, schema in defs.items()}
    return SchemaSet(schemas, dict(sorted(readable_defs.items())))


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def _readable_names(names: list[str], app: str) -> dict[str, str]:
    """`examples__app__chat__send__Params` -> `ChatSendParams`, `Page_Item_` -> `PageItem`."""
    renames: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        # Pydantic splits a type whose two modes differ into `X-Input` and `X-Output`; what
        # clients receive keeps the plain name.
        dotted = name.removesuffix("-Output").replace("__", ".").replace(f"{app}.", "")
        readable = _pascal(dotted) or "Type"
        candidate, counter = readable, 2
        while candidate in taken:
            candidate, counter = f"{readable}{counter}", counter + 1
        taken.add(candidate)
        renames[name] = candidate
    return renames


def _rename_refs(schema: JsonSchemaValue, renames: dict[str, str]) -> Any:
    """Rewrite every `#/$defs/<name>` string: `$ref`s and discriminator mappings alike."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in cast(dict[str, Any], value).items()}
        if isinstance(value, list):
            return [walk(item) for item in cast(list[Any], value)]
        if isinstance(value, str) and value.startswith("#/$defs/"):
            return "#/$defs/" + renames.get(value.removeprefix("#/$defs/"), value[8:])
        return value

    return walk(schema)

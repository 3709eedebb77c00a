"""JSON Schema to TypeScript types: the declarations of the generated `client.ts`.

Objects become interfaces, with optional properties for what a client may leave out of its
params, and for the keys a TypedDict the server sends may lack. Enums become
unions of literals, datetimes `Date`, ints `number` (`bigint` for `BigInt` fields).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from .type_target import Schema, Side, TypeTarget

__all__ = ["TsAlias", "TsInterface", "TsProperty", "TypeScriptTypes", "ts_identifier"]

RESERVED_NAMES = frozenset(
    {
        "AbortController", "AbortSignal", "Apis", "Array", "AsyncGenerator", "BigInt", "Boolean",
        "CallOptions", "Client", "ClientHeaders", "ClientOptions", "Date", "Error",
        "ExecuteOptions", "ExecuteResult", "Fail", "Failure", "Headers", "HeadersFailed", "JSON",
        "Map", "Number", "Object",
        "ParsedEvent", "PlainPath", "Promise", "ReadableStream", "Record", "Request", "Response",
        "Retry", "Set", "StreamTimeouts",
        "StreamCall", "StreamPath", "StreamResult", "String", "Success", "Symbol", "TextDecoder",
        "TextEncoder", "URL",
    }
)  # fmt: skip

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def ts_identifier(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_$]", "_", text)
    return name if name[:1].isalpha() or name[:1] in "_$" else f"T{name}"


def property_key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else json.dumps(name)


@dataclass(frozen=True, slots=True)
class TsProperty:
    key: str
    """As written in the interface: the name, quoted when it is not an identifier."""
    type: str
    optional: bool
    doc: str | None


@dataclass(frozen=True, slots=True)
class TsInterface:
    macro = "interface"
    name: str
    doc: str | None
    properties: tuple[TsProperty, ...]


@dataclass(frozen=True, slots=True)
class TsAlias:
    macro = "alias"
    name: str
    doc: str | None
    expression: str


TsDeclaration = TsInterface | TsAlias


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _union(types: list[str]) -> str:
    unique = list(dict.fromkeys(types))
    unique.sort(key=lambda t: t == "null")
    return " | ".join(unique)


def _element(type_: str) -> str:
    """An array's element type, in parentheses when it is a union."""
    return f"({type_})" if " | " in type_ else type_


class TypeScriptTypes(TypeTarget):
    """TypeScript types: interfaces and aliases, the same shapes for both sides where possible."""

    reserved = RESERVED_NAMES

    def identifier(self, text: str) -> str:
        return ts_identifier(text)

    def declarations(self) -> list[TsDeclaration]:
        made = [self._declare(ref, side) for (ref, side) in self.planned]
        return sorted(made, key=lambda declaration: declaration.name)

    def _declare(self, ref: str, side: Side) -> TsDeclaration:
        schema = self.defs[ref]
        name = self.planned_name(ref, side)
        doc = schema.get("description")
        if "properties" in schema or (
            schema.get("type") == "object" and "additionalProperties" not in schema
        ):
            return TsInterface(name, doc, tuple(self._properties(schema, side)))
        return TsAlias(name, doc, self.type_of(schema, side))

    def _properties(self, schema: Schema, side: Side) -> Iterator[TsProperty]:
        required = set(schema.get("required", ()))
        for wire_name, property_schema in schema.get("properties", {}).items():
            # Output schemas require what the server always sends; the rest may be missing.
            optional = wire_name not in required
            yield TsProperty(
                property_key(wire_name),
                self.type_of(property_schema, side),
                optional,
                property_schema.get("description"),
            )

    def type_of(self, schema: Schema, side: Side) -> str:
        if "$ref" in schema:
            return self.name_of(schema["$ref"].removeprefix("#/$defs/"), side)
        if "const" in schema:
            return _literal(schema["const"])
        if "enum" in schema:
            return _union([_literal(value) for value in schema["enum"]])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return _union([self.type_of(option, side) for option in schema[key]])
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_of(schema["allOf"][0], side)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = cast(list[str], kind)
            return _union([self.type_of({**schema, "type": one}, side) for one in kinds])
        if kind == "string":
            return "Date" if schema.get("format") == "date-time" else "string"
        if kind == "integer":
            return "bigint" if schema.get("format") == "bigint" else "number"
        if kind in ("number", "boolean", "null"):
            return cast(str, kind)
        if kind == "array":
            return self._array(schema, side)
        if kind == "object":
            values = schema.get("additionalProperties")
            value_type = (
                self.type_of(cast(Schema, values), side) if isinstance(values, dict) else "unknown"
            )
            return f"{{ [key: string]: {value_type} }}"
        return "unknown"

    def _array(self, schema: Schema, side: Side) -> str:
        if "prefixItems" in schema:
            items = [self.type_of(item, side) for item in schema["prefixItems"]]
            rest = schema.get("items")
            if isinstance(rest, dict):
                items.append(f"...{_element(self.type_of(cast(Schema, rest), side))}[]")
            return f"[{', '.join(items)}]"
        items = schema.get("items")
        item_type = (
            self.type_of(cast(Schema, items), side) if isinstance(items, dict) else "unknown"
        )
        return f"{_element(item_type)}[]"

"""TSON, the JSON superset of the wire protocol, written and read by type.

Values JSON cannot carry travel as strings with a `t!<type>:` prefix: `t!Date:` before the
ISO text of a datetime, `t!bigint:` before an int beyond JavaScript's safe range. Which
values get a prefix, or lose one, is decided by the declared type's JSON Schema, never by the
text: a `str` field may hold `"t!Date:..."` and stay a string. Everything else keeps
pydantic's JSON semantics, and values whose type holds no datetime and no int take
pydantic's fast path untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, cast

import orjson
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

__all__ = ["MAX_SAFE_INTEGER", "Tson", "TsonPlan"]

T = TypeVar("T")

MAX_SAFE_INTEGER = 2**53 - 1
"""JavaScript's `Number.MAX_SAFE_INTEGER`: ints beyond it travel as `t!bigint:`."""

DATE = "t!Date:"
BIGINT = "t!bigint:"
MARKER = b'"t!'

Direction = Literal["send", "receive"]
Transform = Callable[[Any], Any]
Schema = dict[str, Any]

_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1  # what orjson can write as a number


def _send_date(value: Any) -> Any:
    return DATE + value if type(value) is str else value


def _receive_date(value: Any) -> Any:
    return value[len(DATE) :] if type(value) is str and value.startswith(DATE) else value


def _text_receiver(*prefixes: str) -> Transform:
    """Milkio's clients send URLs and byte arrays as prefixed text; the type wants the text."""

    def receive(value: Any) -> Any:
        if type(value) is str:
            for prefix in prefixes:
                if value.startswith(prefix):
                    return value[len(prefix) :]
        return value

    return receive


_RECEIVE_TEXT = {
    "uri": _text_receiver("t!URL:"),
    "binary": _text_receiver("t!Uint8Array:", "t!ArrayBuffer:"),
}


def _send_int(value: Any) -> Any:
    if type(value) is int and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return f"{BIGINT}{value}"
    return value


def _receive_int(value: Any) -> Any:
    if type(value) is str and value.startswith(BIGINT):
        try:
            return int(value[len(BIGINT) :])
        except ValueError:
            return value  # left for pydantic to report, with its location
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


class TsonPlan:
    """A function per schema that adds (send) or strips (receive) the TSON of a JSON value.

    Compiled once from a JSON Schema and its `$defs`; `transform` is None when the schema holds
    nothing TSON carries, so callers can skip the walk.
    """

    def __init__(self, schema: Schema, defs: dict[str, Schema], direction: Direction) -> None:
        self._defs = defs
        self._direction = direction
        self._date = _send_date if direction == "send" else _receive_date
        self._int = _send_int if direction == "send" else _receive_int
        self._needs: dict[str, bool] = {}
        self._compiled: dict[str, Transform] = {}
        self.transform = self._compile(schema)

    # What needs a walk: datetimes and ints, anywhere below.
    def _has_tson(self, schema: Any, visiting: frozenset[str] = frozenset()) -> bool:
        if not isinstance(schema, dict):
            return False
        node = cast(Schema, schema)
        if "$ref" in node:
            name = _ref_name(node["$ref"])
            if name not in self._needs:
                if name in visiting:
                    return False
                self._needs[name] = self._has_tson(self._defs[name], visiting | {name})
            return self._needs[name]
        kinds = node.get("type")
        kinds = cast(list[str], kinds) if isinstance(kinds, list) else [kinds]
        if "integer" in kinds or (node.get("format") == "date-time" and "string" in kinds):
            return True
        if self._direction == "receive" and node.get("format") in _RECEIVE_TEXT:
            return True
        return any(
            self._has_tson(child, visiting)
            for key, value in node.items()
            if key not in ("default", "examples", "const", "enum", "discriminator")
            for child in (cast(list[Any], value) if isinstance(value, list) else [value])
        )

    def _compile(self, schema: Schema) -> Transform | None:
        if not self._has_tson(schema):
            return None
        if "$ref" in schema:
            name = _ref_name(schema["$ref"])
            if name not in self._compiled:
                self._compiled[name] = _identity  # a placeholder while recursing
                self._compiled[name] = self._compile(self._defs[name]) or _identity
            compiled = self._compiled
            return lambda value: compiled[name](value)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(schema, cast(list[Schema], schema[key]))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self._compile(schema["allOf"][0])
        kinds = schema.get("type")
        kinds = cast(list[str], kinds) if isinstance(kinds, list) else [kinds]
        if schema.get("format") == "date-time" and "string" in kinds:
            return self._date
        if self._direction == "receive" and schema.get("format") in _RECEIVE_TEXT:
            return _RECEIVE_TEXT[schema["format"]]
        if "integer" in kinds:
            return self._int
        if "array" in kinds:
            return self._array(schema)
        return self._object(schema)

    def _object(self, schema: Schema) -> Transform | None:
        properties = {
            name: transform
            for name, sub in cast(dict[str, Schema], schema.get("properties", {})).items()
            if (transform := self._compile(sub)) is not None
        }
        extra = schema.get("additionalProperties")
        rest = self._compile(cast(Schema, extra)) if isinstance(extra, dict) else None
        if not properties and rest is None:
            return None

        def walk_object(value: Any) -> Any:
            if type(value) is not dict:
                return value
            items = cast(dict[str, Any], value)
            result = dict(items)
            for name, item in items.items():
                transform = properties.get(name, rest)
                if transform is not None:
                    result[name] = transform(item)
            return result

        return walk_object

    def _array(self, schema: Schema) -> Transform | None:
        positional = [self._compile(item) for item in schema.get("prefixItems", ())]
        items = schema.get("items")
        each = self._compile(cast(Schema, items)) if isinstance(items, dict) else None
        if each is None and not any(positional):
            return None

        def walk_array(value: Any) -> Any:
            if type(value) is not list:
                return value
            result = list(cast(list[Any], value))
            for index, item in enumerate(result):
                transform = positional[index] if index < len(positional) else each
                if transform is not None:
                    result[index] = transform(item)
            return result

        return walk_array

    def _union(self, schema: Schema, options: list[Schema]) -> Transform | None:
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, dict) and "mapping" in discriminator:
            field = cast(str, discriminator["propertyName"])
            mapping = cast(dict[str, str], discriminator["mapping"])
            by_tag = {tag: self._compile({"$ref": ref}) for tag, ref in mapping.items()}

            def walk_tagged(value: Any) -> Any:
                if type(value) is not dict:
                    return value
                tag = cast(dict[str, Any], value).get(field)
                transform = by_tag.get(tag) if isinstance(tag, str) else None
                return transform(value) if transform is not None else cast(Any, value)

            return walk_tagged
        # Otherwise the value's JSON kind picks the option; a datetime beside a plain string
        # cannot be told apart when sending, so it is sent as the string it already is.
        by_kind: dict[str, Transform | None] = {}
        for option in options:
            transform = self._compile(option)
            for kind in self._kinds(option):
                if kind not in by_kind or by_kind[kind] is None:
                    by_kind[kind] = transform
                elif self._direction == "send" and kind == "string" and transform is None:
                    by_kind[kind] = None
        if self._direction == "send" and any(
            "string" in self._kinds(o) and self._compile(o) is None for o in options
        ):
            by_kind["string"] = None

        receiving = self._direction == "receive"

        def walk_union(value: Any) -> Any:
            kind = _json_kind(value)
            if receiving and kind == "string" and value.startswith(BIGINT):
                kind = "integer"  # an int of the union, sent as TSON text
            transform = by_kind.get(kind)
            if transform is None and type(value) is int:
                transform = by_kind.get("number")
            return transform(value) if transform is not None else value

        return walk_union

    def _kinds(self, schema: Schema, depth: int = 0) -> set[str]:
        if depth > 20:
            return set()
        if "$ref" in schema:
            return self._kinds(self._defs[_ref_name(schema["$ref"])], depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = cast(list[Schema], schema[key])
                return {kind for option in options for kind in self._kinds(option, depth + 1)}
        kinds = schema.get("type")
        if isinstance(kinds, list):
            return set(cast(list[str], kinds))
        if isinstance(kinds, str):
            return {kinds}
        if "properties" in schema:
            return {"object"}
        if "enum" in schema or "const" in schema:
            values = schema.get("enum", [schema.get("const")])
            return {_json_kind(value) for value in cast(list[Any], values)}
        return {"string", "integer", "number", "boolean", "null", "object", "array"}


def _identity(value: Any) -> Any:
    return value


def _ref_name(ref: str) -> str:
    return ref.removeprefix("#/$defs/")


def _json_number(value: int) -> Any:
    # orjson cannot write integers outside 64 bits: those go in pre-serialized.
    return value if _INT64_MIN <= value <= _UINT64_MAX else orjson.Fragment(str(value).encode())


def _writable(value: Any) -> Any:
    if type(value) is int:
        return _json_number(value)
    if type(value) is dict:
        return {k: _writable(v) for k, v in cast(dict[str, Any], value).items()}
    if type(value) is list:
        return [_writable(v) for v in cast(list[Any], value)]
    return value


class Tson(Generic[T]):
    """The TSON codec of one type: `dumps` a value to bytes, `loads` bytes to a value.

    What is TSON is read from the type's JSON Schema: its serialization schema for what is
    sent, its validation schema for what is received.
    """

    __slots__ = ("_adapter", "_receive", "_send")

    def __init__(self, type_: Any) -> None:
        self._adapter = TypeAdapter[T](type_)
        self._send = self._plan("serialization", "send")
        self._receive = self._plan("validation", "receive")

    def _plan(self, mode: JsonSchemaMode, direction: Direction) -> Transform | None:
        schema = self._adapter.json_schema(mode=mode, ref_template="#/$defs/{model}")
        defs = cast(dict[str, Schema], schema.pop("$defs", {}))
        return TsonPlan(schema, defs, direction).transform

    @property
    def adapter(self) -> TypeAdapter[T]:
        return self._adapter

    def dumps(self, value: T, *, check: bool = True) -> bytes:
        """TSON bytes of `value`; with `check`, a value not of the type raises."""
        warnings = "error" if check else "none"
        if self._send is None:
            return self._adapter.dump_json(value, by_alias=True, warnings=warnings)
        data = self._adapter.dump_python(value, mode="json", by_alias=True, warnings=warnings)
        return orjson.dumps(self._send(data))

    def loads(self, data: bytes) -> T:
        """Validate TSON bytes into the type; raises `pydantic.ValidationError`."""
        if self._receive is None or MARKER not in data:
            return self._adapter.validate_json(data)
        plain = self._receive(orjson.loads(data))
        return self._adapter.validate_json(orjson.dumps(_writable(plain)))

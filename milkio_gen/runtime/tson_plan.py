"""TSON plans: where in a value, by its JSON Schema, TSON strings go.

A plan is plain JSON, the same for every language: the Python runtime compiles it into
functions, the TypeScript client embeds it and interprets it. Nodes:

- `"date"`: a datetime (`t!Date:`); `"int"`: an int, TSON beyond the safe range;
  `"bigint"`: an int always sent as `t!bigint:`; `"url"`, `"bytes"`: text Milkio's clients
  send with `t!URL:`, `t!Uint8Array:` prefixes;
- `{"object": {name: plan}, "rest": plan}`, `{"array": plan}`,
  `{"tuple": [plan | null], "rest": plan}`;
- `{"union": {json kind: plan}, "plainString": true}` picks by the value's JSON kind;
  `plainString` says a plain string is an option too, so a string is sent as it is;
- `{"tagged": field, "cases": {tag: plan}}` picks by a discriminator field;
- `{"ref": name}` points into the plan's `defs`, for recursive types.

A schema with nothing TSON carries has no plan (`None`): its values are taken as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

__all__ = ["Plan", "PlanSet", "build_plans"]

Plan = str | dict[str, Any]
Schema = dict[str, Any]

_ALL_KINDS = ("string", "integer", "number", "boolean", "null", "object", "array")
_TEXT_FORMATS = {"uri": "url", "binary": "bytes"}


@dataclass
class PlanSet:
    """Plans for several schemas that share one set of `$defs`."""

    defs: dict[str, Plan] = field(default_factory=dict[str, Plan])


def _ref_name(ref: str) -> str:
    return ref.removeprefix("#/$defs/")


def _kinds_of(schema: Schema) -> list[str]:
    kinds = schema.get("type")
    if isinstance(kinds, list):
        return cast(list[str], kinds)
    return [kinds] if isinstance(kinds, str) else []


class _Builder:
    def __init__(self, defs: dict[str, Schema], plans: PlanSet) -> None:
        self._defs = defs
        self._plans = plans
        self._relevant: dict[str, bool] = {}

    def relevant(self, schema: Any, visiting: frozenset[str] = frozenset()) -> bool:
        """Whether anything below `schema` is TSON."""
        if not isinstance(schema, dict):
            return False
        node = cast(Schema, schema)
        if "$ref" in node:
            name = _ref_name(node["$ref"])
            if name not in self._relevant:
                if name in visiting:
                    return False
                self._relevant[name] = self.relevant(self._defs[name], visiting | {name})
            return self._relevant[name]
        kinds = _kinds_of(node)
        if "integer" in kinds or ("string" in kinds and node.get("format") in _LEAF_FORMATS):
            return True
        return any(
            self.relevant(child, visiting)
            for key, value in node.items()
            if key not in ("default", "examples", "const", "enum", "discriminator")
            for child in (cast(list[Any], value) if isinstance(value, list) else [value])
        )

    def plan(self, schema: Schema) -> Plan | None:
        if not self.relevant(schema):
            return None
        if "$ref" in schema:
            name = _ref_name(schema["$ref"])
            if name not in self._plans.defs:
                self._plans.defs[name] = "pending"  # breaks the cycle of recursive types
                self._plans.defs[name] = self.plan(self._defs[name]) or {"object": {}}
            return {"ref": name}
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(schema, cast(list[Schema], schema[key]))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.plan(schema["allOf"][0])
        kinds = _kinds_of(schema)
        if "string" in kinds and schema.get("format") in _LEAF_FORMATS:
            return _LEAF_FORMATS[schema["format"]]
        if "integer" in kinds:
            return "bigint" if schema.get("format") == "bigint" else "int"
        if "array" in kinds:
            return self._array(schema)
        return self._object(schema)

    def _object(self, schema: Schema) -> Plan | None:
        properties = {
            name: plan
            for name, sub in cast(dict[str, Schema], schema.get("properties", {})).items()
            if (plan := self.plan(sub)) is not None
        }
        extra = schema.get("additionalProperties")
        rest = self.plan(cast(Schema, extra)) if isinstance(extra, dict) else None
        if not properties and rest is None:
            return None
        return {"object": properties, **({"rest": rest} if rest is not None else {})}

    def _array(self, schema: Schema) -> Plan | None:
        items = schema.get("items")
        each = self.plan(cast(Schema, items)) if isinstance(items, dict) else None
        if "prefixItems" in schema:
            positional = [self.plan(item) for item in schema["prefixItems"]]
            if each is None and not any(positional):
                return None
            return {"tuple": positional, **({"rest": each} if each is not None else {})}
        return None if each is None else {"array": each}

    def _union(self, schema: Schema, options: list[Schema]) -> Plan | None:
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, dict) and "mapping" in discriminator:
            mapping = cast(dict[str, str], discriminator["mapping"])
            cases = {
                tag: plan for tag, ref in mapping.items() if (plan := self.plan({"$ref": ref}))
            }
            return {"tagged": discriminator["propertyName"], "cases": cases} if cases else None
        by_kind: dict[str, Plan] = {}
        plain_string = False
        for option in options:
            plan = self.plan(option)
            for kind in self._kinds(option):
                if plan is not None:
                    by_kind.setdefault(kind, plan)
                elif kind == "string":
                    plain_string = True
        if not by_kind:
            return None
        return {"union": by_kind, **({"plainString": True} if plain_string else {})}

    def _kinds(self, schema: Schema, depth: int = 0) -> list[str]:
        if depth > 32:
            return []
        if "$ref" in schema:
            return self._kinds(self._defs[_ref_name(schema["$ref"])], depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = cast(list[Schema], schema[key])
                return list(dict.fromkeys(k for o in options for k in self._kinds(o, depth + 1)))
        if kinds := _kinds_of(schema):
            return kinds
        if "properties" in schema:
            return ["object"]
        if "enum" in schema or "const" in schema:
            values = cast(list[Any], schema.get("enum", [schema.get("const")]))
            return list(dict.fromkeys(json_kind(value) for value in values))
        return list(_ALL_KINDS)


_LEAF_FORMATS = {"date-time": "date", **_TEXT_FORMATS}


def json_kind(value: Any) -> str:
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


def build_plans(
    schemas: dict[str, Schema], defs: dict[str, Schema]
) -> tuple[dict[str, Plan | None], PlanSet]:
    """A plan for each named schema, and the `defs` their `ref`s point into."""
    plans = PlanSet()
    builder = _Builder(defs, plans)
    return {name: builder.plan(schema) for name, schema in schemas.items()}, plans

"""The APIs in the app's OpenAPI document: params, result envelopes and event streams.

Litestar writes its OpenAPI document from the routes it answers itself and leaves ASGI route
handlers out, so it would leave out every API. `ApiDocs`, a Litestar plugin, sees each API
route as the app registers it, at its full path (under the prefix of every router above it),
and adds the paths and the schemas they use to the document Litestar writes, in
`/schema/openapi.json` and wherever else it is served or exported. `create_app` adds it.

What is described is the wire, as docs/protocol.md has it: every answer has status 200 and
says in its body whether the call succeeded; values JSON cannot carry travel as TSON text.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, cast

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import OpenAPI
from litestar.plugins import InitPlugin, ReceiveRoutePlugin
from litestar.routes import ASGIRoute

from ...fails import BUILTIN_FAIL_CODES, FailCode, FailCodes
from ..tson import MAX_SAFE_INTEGER
from .binding import API_ROUTE, ApiBinding, ApiRoute

if TYPE_CHECKING:
    from litestar.config.app import AppConfig
    from litestar.routes import BaseRoute

__all__ = ["API_ROUTE", "ApiDocs", "ApiRoute", "Description", "OpenAPIVersion", "describe_apis"]

Schema = dict[str, Any]
OpenAPIVersion = Literal["3.1", "3.2"]


class ApiDocs(InitPlugin, ReceiveRoutePlugin):
    """Adds every API of the app to its OpenAPI document (`/schema/openapi.json`).

    `create_app` adds it; an app of your own that mounts the generated `router` adds it too:

    ```python
    app = Litestar(
        route_handlers=[Router("/rpc", route_handlers=[router])],
        plugins=[ApiDocs()],
    )
    ```

    `openapi_version="3.2"` describes each stream's events with `itemSchema`, as OpenAPI 3.2
    (and FastAPI) do, and labels the document 3.2.0; by default the document stays OpenAPI
    3.1, with the events described by `schema` (docs/openapi.md says why).
    """

    def __init__(self, *, openapi_version: OpenAPIVersion = "3.1") -> None:
        self.openapi_version: OpenAPIVersion = openapi_version
        self._routes: dict[str, ApiRoute] = {}
        self._description: Description | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        config = app_config.openapi_config
        if config is not None:
            app_config.openapi_config = _documenting(config, self)
        return app_config

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, ASGIRoute):
            return
        api = route.route_handler.opt.get(API_ROUTE)
        if isinstance(api, ApiRoute) and _in_schema(route):
            self._routes[route.path_format or "/"] = api
            self._description = None

    def describe(self) -> Description:
        """The paths and schemas of every API route the app has registered."""
        if self._description is None:
            self._description = describe_apis(self._routes, openapi_version=self.openapi_version)
        return self._description


def _in_schema(route: ASGIRoute) -> bool:
    """`include_in_schema` as Litestar reads it for its own handlers: the nearest layer that
    sets it (`Router(..., include_in_schema=False)` hides the APIs under it)."""
    handler = route.route_handler
    settings = [
        value
        for layer in handler.ownership_layers
        if isinstance(value := getattr(layer, "include_in_schema", None), bool)
    ]
    return settings[-1] if settings else True


class _DocumentsApis(OpenAPIConfig):
    """The app's OpenAPI config, making a document that holds the APIs too."""

    api_docs: ApiDocs

    def to_openapi_schema(self) -> OpenAPI:
        document = super().to_openapi_schema()
        documented = _Document(
            **{field.name: getattr(document, field.name) for field in fields(document)}
        )
        documented.api_docs = self.api_docs
        return documented


class _Document(OpenAPI):
    """Litestar's document, with the APIs merged in when it is written out."""

    api_docs: ApiDocs

    def to_schema(self) -> dict[str, Any]:
        document = super().to_schema()
        description = self.api_docs.describe()
        if description.openapi is not None:
            document["openapi"] = description.openapi
        if description.paths:
            document["paths"] = {**document.get("paths", {}), **description.paths}
        components = document.setdefault("components", {})
        schemas = {**components.get("schemas", {}), **description.schemas}
        components["schemas"] = dict(sorted(schemas.items()))
        return document


def _documenting(config: OpenAPIConfig, api_docs: ApiDocs) -> OpenAPIConfig:
    """A copy of `config` whose documents hold the APIs.

    A copy, so that a config shared between apps (Litestar's default is one) stays as it is;
    made without `__init__`, which would set up its render plugins again (and warn about the
    options Litestar deprecates, which it fills in itself).
    """
    base = type(config)
    if issubclass(base, _DocumentsApis) or base is OpenAPIConfig:
        cls = _DocumentsApis if base is OpenAPIConfig else base
    else:
        cls = type(base.__name__, (_DocumentsApis, base), {})
    documenting = cast(_DocumentsApis, cls.__new__(cls))
    documenting.__dict__.update(vars(config))
    documenting.api_docs = api_docs
    return documenting


@dataclass(frozen=True, slots=True)
class Description:
    """What the APIs add to an OpenAPI document."""

    paths: dict[str, Schema]
    schemas: dict[str, Schema]
    """`components.schemas`: the types of params, results, chunks and fail data, and the
    protocol's envelopes (named `milkio.*`)."""
    openapi: str | None = None
    """The document's `openapi` version, when the APIs need another than Litestar's."""


# -- the description -------------------------------------------------------------------------

_COMPONENTS = "#/components/schemas/"
_EXECUTE_ID = "milkio.ExecuteId"
_FAIL = "milkio.Fail"
_FAIL_ENVELOPE = "milkio.FailEnvelope"
_HANDSHAKE = "milkio.Handshake"
_CLIENT_ONLY_CODES = frozenset({"NETWORK_ERROR"})
"""Built-in codes only a client makes: the server never sends them."""

_DATE_PATTERN = (
    r"^t!Date:[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?$"
)
_BIGINT_PATTERN = r"^t!bigint:-?[0-9]+$"
_ANNOTATIONS = ("title", "description", "default", "examples", "deprecated")


def _ref(name: str) -> Schema:
    return {"$ref": _COMPONENTS + name}


def describe_apis(
    routes: Mapping[str, ApiRoute], *, openapi_version: OpenAPIVersion = "3.1"
) -> Description:
    """The OpenAPI paths of `routes` (by full path) and the component schemas they use."""
    if not routes:
        return Description({}, {})
    bindings = list({id(api.binding): api.binding for api in routes.values()}.values())
    fail_codes = _fail_codes(api.fail_codes for api in routes.values())
    types = _Types(bindings, fail_codes)
    schemas = {**types.components, **_protocol_schemas(fail_codes, types)}
    operation_ids: set[str] = set()
    paths: dict[str, Schema] = {}
    for path in sorted(routes):
        binding = routes[path].binding
        index = bindings.index(binding)
        operation = {
            "operationId": _operation_id(path, operation_ids),
            **_operation(binding, types.params.get(index), types.outputs[index], openapi_version),
        }
        paths[path] = {"post": operation}
    openapi = "3.2.0" if openapi_version == "3.2" else None
    return Description(paths, dict(sorted(schemas.items())), openapi)


def _fail_codes(declared: Iterable[FailCodes | None]) -> list[FailCode[Any]]:
    codes = {
        code: fail for code, fail in BUILTIN_FAIL_CODES.items() if code not in _CLIENT_ONLY_CODES
    }
    for fail_codes in declared:
        for fail in fail_codes or ():
            codes.setdefault(fail.code, fail)
    return list(codes.values())


class _Types:
    """The JSON Schemas of every type the APIs use, as the wire carries them: params as the
    server reads them, results, chunks and fail data as it sends them (TSON where it applies)."""

    def __init__(self, bindings: list[ApiBinding], fail_codes: list[FailCode[Any]]) -> None:
        from ...extract.schemas import SchemaRequest, build_schemas

        requests: list[SchemaRequest] = []
        for index, binding in enumerate(bindings):
            if binding.signature.params_type is not None:
                requests.append(
                    SchemaRequest(
                        ("params", str(index)), "validation", binding.signature.params_type
                    )
                )
            requests.append(
                SchemaRequest(
                    ("output", str(index)), "serialization", binding.signature.output_type
                )
            )
        for fail in fail_codes:
            requests.append(SchemaRequest(("fail", fail.code), "serialization", fail.data_type))
        built = build_schemas(requests, _common_package(bindings))

        received = {key: schema for key, schema in built.schemas.items() if key[0] == "params"}
        sent = {
            key: _as_sent(schema) for key, schema in built.schemas.items() if key[0] != "params"
        }
        sent_defs = {name: _as_sent(schema) for name, schema in built.defs.items()}
        # A type the server both reads and sends, holding TSON, is described twice: as sent
        # under its own name, as read under `<name>Input` (pydantic's own split names it so).
        read_names = _reachable(received.values(), built.defs)
        sent_names = _reachable(sent.values(), built.defs)
        tson = {name for name in built.defs if sent_defs[name] != built.defs[name]}
        renames: dict[str, str] = {}
        taken = set(built.defs)
        for name in sorted(read_names & sent_names):
            if _reachable([{"$ref": f"#/$defs/{name}"}], built.defs) & tson:
                renames[name] = _unique(f"{name}Input", taken)

        components: dict[str, Schema] = {}
        for name in sorted(sent_names):
            components[name] = sent_defs[name]
        for name in sorted(read_names):
            components[renames.get(name, name)] = _renamed(built.defs[name], renames)
        self.components = {name: _to_components(schema) for name, schema in components.items()}
        self.params = {
            int(key[1]): _to_components(_renamed(schema, renames))
            for key, schema in received.items()
        }
        self.outputs = {
            int(key[1]): _to_components(schema)
            for key, schema in sent.items()
            if key[0] == "output"
        }
        self.fail_data = {
            key[1]: _to_components(schema) for key, schema in sent.items() if key[0] == "fail"
        }


def _common_package(bindings: list[ApiBinding]) -> str:
    """The package the actions share, whose name pydantic's qualified type names drop."""
    common = bindings[0].function.__module__.split(".")
    for binding in bindings[1:]:
        parts = binding.function.__module__.split(".")
        while common != parts[: len(common)]:
            common.pop()
    return ".".join(common) if common else "\0"


def _unique(name: str, taken: set[str]) -> str:
    candidate, counter = name, 2
    while candidate in taken:
        candidate, counter = f"{name}{counter}", counter + 1
    taken.add(candidate)
    return candidate


# Keywords whose values are schemas, lists of schemas, or maps of names to schemas.
_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_MANY = ("prefixItems", "anyOf", "oneOf", "allOf")
_NAMED = ("properties", "patternProperties", "dependentSchemas", "$defs")


def _map_schemas(schema: Any, change: Callable[[Any], Any]) -> Any:
    """`schema` with `change` applied to each schema directly below it."""
    if not isinstance(schema, dict):
        return schema
    node = cast(Schema, schema)
    result = dict(node)
    for key in _ONE:
        if isinstance(node.get(key), dict):
            result[key] = change(node[key])
    for key in _MANY:
        if isinstance(node.get(key), list):
            result[key] = [change(item) for item in cast(list[Any], node[key])]
    for key in _NAMED:
        if isinstance(node.get(key), dict):
            result[key] = {name: change(item) for name, item in cast(Schema, node[key]).items()}
    return result


def _as_sent(schema: Any) -> Any:
    """`schema` as the server writes its values: the leaves TSON plans mark (a datetime, an int
    that may pass 2**53, a `BigInt`) become the TSON text they travel as."""
    if not isinstance(schema, dict):
        return schema
    node = cast(Schema, schema)
    if "$ref" in node:
        return node
    kinds: Any = node.get("type")
    kinds = cast(list[str], kinds) if isinstance(kinds, list) else [kinds]
    if "string" in kinds and node.get("format") == "date-time":
        return {**{k: v for k, v in node.items() if k != "format"}, "pattern": _DATE_PATTERN}
    if "integer" in kinds:
        bigint = {"type": "string", "pattern": _BIGINT_PATTERN}
        if node.get("format") == "bigint":
            return {**{k: v for k, v in node.items() if k in _ANNOTATIONS}, **bigint}
        if _may_pass_safe_range(node):
            annotations = {k: v for k, v in node.items() if k in _ANNOTATIONS}
            number = {k: v for k, v in node.items() if k not in _ANNOTATIONS}
            return {**annotations, "anyOf": [number, bigint]}
        return node
    return _map_schemas(node, _as_sent)


def _may_pass_safe_range(node: Schema) -> bool:
    values = node.get("enum", [node["const"]] if "const" in node else None)
    if isinstance(values, list):
        return any(
            isinstance(v, int) and abs(v) > MAX_SAFE_INTEGER for v in cast(list[Any], values)
        )
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    if isinstance(low, int | float) and isinstance(high, int | float):
        return low < -MAX_SAFE_INTEGER or high > MAX_SAFE_INTEGER
    return True


def _refs_in(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        node = cast(Schema, schema)
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.removeprefix("#/$defs/"))
        for value in node.values():
            found |= _refs_in(value)
    elif isinstance(schema, list):
        for item in cast(list[Any], schema):
            found |= _refs_in(item)
    return found


def _reachable(schemas: Iterable[Any], defs: Mapping[str, Schema]) -> set[str]:
    seen: set[str] = set()
    pending: set[str] = set()
    for schema in schemas:
        pending |= _refs_in(schema)
    while pending:
        name = pending.pop()
        if name not in seen and name in defs:
            seen.add(name)
            pending |= _refs_in(defs[name])
    return seen


def _rewrite_refs(schema: Any, rewrite: Callable[[str], str]) -> Any:
    """Every `#/$defs/...` string (`$ref`s and discriminator mappings) through `rewrite`."""
    if isinstance(schema, dict):
        return {key: _rewrite_refs(value, rewrite) for key, value in cast(Schema, schema).items()}
    if isinstance(schema, list):
        return [_rewrite_refs(item, rewrite) for item in cast(list[Any], schema)]
    if isinstance(schema, str) and schema.startswith("#/$defs/"):
        return rewrite(schema.removeprefix("#/$defs/"))
    return schema


def _renamed(schema: Any, renames: Mapping[str, str]) -> Any:
    return _rewrite_refs(schema, lambda name: f"#/$defs/{renames.get(name, name)}")


def _to_components(schema: Any) -> Any:
    return _rewrite_refs(schema, lambda name: _COMPONENTS + name)


# -- the protocol ----------------------------------------------------------------------------


def _protocol_schemas(fail_codes: list[FailCode[Any]], types: _Types) -> dict[str, Schema]:
    mapping = {fail.code: _COMPONENTS + _fail_name(fail.code) for fail in fail_codes}
    schemas: dict[str, Schema] = {
        _EXECUTE_ID: {
            "type": "string",
            "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$",
            "description": "Identifies the call (a ULID): in the server's log lines of it too.",
        },
        _FAIL: {
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "code", "mapping": mapping},
            "description": "A fail: its code, a message made from its data, and its data, "
            "typed by the code.",
        },
        _FAIL_ENVELOPE: _envelope(success=False, payload={"fail": _ref(_FAIL)}),
        _HANDSHAKE: {
            **_envelope(success=True, payload={"data": {"const": "$"}}),
            "description": "The first event of a stream (after `@`): the call has started.",
        },
    }
    for fail in fail_codes:
        schemas[_fail_name(fail.code)] = {
            "type": "object",
            "properties": {
                "code": {"const": fail.code},
                "message": {"type": "string"},
                "data": types.fail_data[fail.code],
            },
            "required": ["code", "message", "data"],
            **({"description": inspect.cleandoc(fail.doc)} if fail.doc else {}),
            "x-milkio-retryable": fail.retryable,
        }
    return schemas


def _fail_name(code: str) -> str:
    return f"{_FAIL}.{code}"


def _envelope(*, success: bool, payload: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {"executeId": _ref(_EXECUTE_ID), "success": {"const": success}, **payload},
        "required": ["executeId", "success", *payload],
    }


def _operation(
    binding: ApiBinding, params: Schema | None, output: Schema, version: OpenAPIVersion
) -> Schema:
    doc = inspect.getdoc(binding.function)
    operation: Schema = {
        "summary": binding.path,
        **({"description": doc} if doc else {}),
        "x-milkio-kind": "stream" if binding.is_stream else "plain",
        "x-milkio-path": binding.path,
    }
    if params is not None:
        operation["requestBody"] = {
            "description": "The params, as JSON (TSON: a datetime may also come as `t!Date:` "
            "and its ISO text, an int as `t!bigint:` and its digits).",
            "required": not _takes_an_empty_body(binding),
            "content": {"application/json": {"schema": params}},
        }
    if binding.is_stream:
        operation["responses"] = _stream_responses(binding, output, version)
    else:
        operation["responses"] = _plain_responses(output)
    return operation


def _plain_responses(result: Schema) -> Schema:
    return {
        "200": {
            "description": "The result envelope: `success` with the result in `data`, or a "
            "fail. Every answer has status 200.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            _envelope(success=True, payload={"data": result}),
                            _ref(_FAIL_ENVELOPE),
                        ]
                    }
                }
            },
        }
    }


def _takes_an_empty_body(binding: ApiBinding) -> bool:
    try:
        binding.parse_params(b"")
    except Exception:
        return False
    return True


def _stream_responses(binding: ApiBinding, chunk: Schema, version: OpenAPIVersion) -> Schema:
    envelope = {
        "type": "string",
        "pattern": "^@",
        "description": "`@` and a result envelope: the handshake first, and a fail that ends "
        "the stream, if one does.",
        "x-milkio-envelope": {"oneOf": [_ref(_HANDSHAKE), _ref(_FAIL_ENVELOPE)]},
    }
    chunk_data = {"type": "string", "contentMediaType": "application/json", "contentSchema": chunk}
    event: Schema = {
        "type": "object",
        "properties": {"data": {"anyOf": [envelope, chunk_data]}},
        "required": ["data"],
    }
    if binding.signature.tracked:
        event["properties"]["id"] = {
            "type": "string",
            "description": "The chunk's id: a client that reconnects sends the last one it got "
            "as `Last-Event-ID`, and the stream resumes after it.",
        }
    events = {"itemSchema" if version == "3.2" else "schema": event}
    return {
        "200": {
            "description": (
                "An event stream: the handshake (`@` and a success envelope), one event per "
                "chunk, and `@` and a fail envelope if the stream fails. Asked without "
                "`Accept: text/event-stream`, the API answers a `CALL_KIND_MISMATCH` fail as "
                "JSON."
            ),
            "content": {
                "text/event-stream": events,
                "application/json": {"schema": _ref(_FAIL_ENVELOPE)},
            },
        }
    }


def _operation_id(path: str, taken: set[str]) -> str:
    return _unique(re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "root", taken)

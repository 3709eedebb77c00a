"""From an app package to a validated manifest, or to every error found on the way."""

from __future__ import annotations

import inspect
from typing import Any

from ..fails import BUILTIN_FAIL_CODES, FailCode
from ..manifest import ApiEntry, ChannelEntry, FailCodeEntry, Manifest, PythonRef, SourceRef
from ..progress import SILENT, Progress
from ..signature import ApiSignature, SignatureError, read_signature
from .carried import Uncarried, find_uncarried
from .discover import FoundApi, discover
from .errors import BuildError, BuildFailed
from .schemas import SchemaKey, SchemaRequest, SchemaSet, TypeNotCarried, build_schemas

__all__ = ["extract"]


def _requests_for(api: FoundApi, signature: ApiSignature) -> list[SchemaRequest]:
    requests: list[SchemaRequest] = []
    if signature.params_type is not None:
        requests.append(SchemaRequest(("params", api.path), "validation", signature.params_type))
    role = "chunk" if signature.kind == "stream" else "result"
    requests.append(SchemaRequest((role, api.path), "serialization", signature.output_type))
    return requests


def _collect_schemas(
    requests: list[SchemaRequest], app: str, errors: list[BuildError], where: dict[SchemaKey, Any]
) -> SchemaSet:
    """Build all schemas; a type that cannot be carried is reported and left out, then retried."""
    remaining = list(requests)
    while True:
        try:
            return build_schemas(remaining, app)
        except TypeNotCarried as bad:
            role, name = bad.key
            errors.append(
                BuildError(
                    f"its {role} type cannot be carried to clients: {bad.reason}",
                    "use a pydantic model, TypedDict, dataclass or a standard type "
                    "(str, int, float, bool, datetime, list, dict[str, T], Literal, Enum, ...)",
                    where.get(bad.key),
                    name,
                )
            )
            remaining = [request for request in remaining if request.key != bad.key]


def extract(app: str, progress: Progress = SILENT) -> Manifest:
    """Import `app` and describe every API in it; raise `BuildFailed` with all errors."""
    progress.phase("import the app")
    discovery = discover(app, progress)
    progress.phase("describe the APIs")
    errors = list(discovery.errors)

    signatures: dict[str, ApiSignature] = {}
    for api in discovery.apis:
        try:
            signature = read_signature(api.definition.function)
        except SignatureError as error:
            errors.append(BuildError(error.problem, error.fix, error.location, api.path))
            continue
        problems = _uncarried(signature)
        for problem in problems:
            errors.append(
                BuildError(
                    f"{problem.where} {problem.problem}", problem.fix, api.location, api.path
                )
            )
        if not problems:
            signatures[api.path] = signature

    fail_codes: list[FailCode[Any]] = list(BUILTIN_FAIL_CODES.values())
    if discovery.fail_codes is not None:
        fail_codes += sorted(discovery.fail_codes.fail_codes, key=lambda fail: fail.code)

    requests: list[SchemaRequest] = []
    where: dict[SchemaKey, Any] = {}
    for api in discovery.apis:
        if api.path in signatures:
            for request in _requests_for(api, signatures[api.path]):
                requests.append(request)
                where[request.key] = api.location
    for fail in fail_codes:
        requests.append(SchemaRequest(("fail data", fail.code), "serialization", fail.data_type))
    for found in discovery.channels:
        key: SchemaKey = ("message", found.channel.name)
        problems = find_uncarried(found.channel.message_type, "message")
        for problem in problems:
            errors.append(
                BuildError(
                    f"channel {found.channel.name!r}: {problem.where} {problem.problem}",
                    problem.fix,
                    found.location,
                )
            )
        if not problems:
            requests.append(SchemaRequest(key, "serialization", found.channel.message_type))
            where[key] = found.location

    schema_set = _collect_schemas(requests, app, errors, where)
    if errors:
        raise BuildFailed(errors)

    apis = [_api_entry(api, signatures[api.path], schema_set.schemas) for api in discovery.apis]
    found_codes = discovery.fail_codes
    return Manifest(
        app=app,
        fail_codes_python=PythonRef(module=found_codes.module, name=found_codes.name)
        if found_codes
        else None,
        apis=apis,
        fail_codes=[
            FailCodeEntry(
                code=fail.code,
                builtin=fail.builtin,
                retryable=fail.retryable,
                doc=inspect.cleandoc(fail.doc) if fail.doc else None,
                data=schema_set.schemas[("fail data", fail.code)],
            )
            for fail in fail_codes
        ],
        channels=[
            ChannelEntry(
                name=found.channel.name,
                python=PythonRef(module=found.module, name=found.name),
                source=SourceRef(file=found.location.file, line=found.location.line),
                message=schema_set.schemas[("message", found.channel.name)],
            )
            for found in discovery.channels
        ],
        defs=schema_set.defs,
    )


def _uncarried(signature: ApiSignature) -> list[Uncarried]:
    output = "chunk" if signature.kind == "stream" else "result"
    found = find_uncarried(signature.output_type, output)
    if signature.params_type is not None:
        found = find_uncarried(signature.params_type, "params") + found
    return found


def _api_entry(
    api: FoundApi, signature: ApiSignature, schemas: dict[SchemaKey, dict[str, Any]]
) -> ApiEntry:
    output = schemas[("chunk" if signature.kind == "stream" else "result", api.path)]
    doc = inspect.getdoc(api.definition.function)
    return ApiEntry(
        path=api.path,
        kind=signature.kind,
        doc=doc,
        meta=dict(api.definition.meta),
        python=PythonRef(module=api.module, name=api.name),
        source=SourceRef(file=api.location.file, line=api.location.line) if api.location else None,
        params=schemas.get(("params", api.path)),
        chunk=output if signature.kind == "stream" else None,
        result=output if signature.kind == "plain" else None,
        tracked=signature.tracked,
    )

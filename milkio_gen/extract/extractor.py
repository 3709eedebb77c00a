"""From an app package to a validated manifest, or to every error found on the way."""

from __future__ import annotations

import inspect
from typing import Any

from ..context import Context
from ..fails import BUILTIN_FAIL_CODES, FailCode
from ..hooks import Hooks
from ..manifest import (
    ApiEntry,
    ChannelEntry,
    FailCodeEntry,
    HookEntry,
    Manifest,
    PythonRef,
    SourceRef,
)
from ..meta import ApiMeta, MetaError, validate_meta
from ..progress import SILENT, Progress
from ..signature import ApiSignature, SignatureError, read_signature, source_location
from .carried import Uncarried, find_uncarried
from .discover import FoundApi, FoundHooks, discover
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

    found_hooks = discovery.hooks
    hooks: Hooks[Any] = found_hooks.hooks if found_hooks else Hooks()
    hook_entries = _hook_entries(found_hooks, errors)
    metas: dict[str, ApiMeta] = {}
    signatures: dict[str, ApiSignature] = {}
    for api in discovery.apis:
        try:
            metas[api.path] = validate_meta(hooks.meta_type, api.definition.meta)
        except MetaError as error:
            for problem in error.problems:
                errors.append(
                    BuildError(
                        f"its meta is not a valid {hooks.meta_type.__name__}: {problem}",
                        _meta_fix(hooks, found_hooks),
                        api.location,
                        api.path,
                    )
                )
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
        context_type = signature.context_type
        if context_type is not None and not issubclass(hooks.context_type, context_type):
            errors.append(
                BuildError(
                    f"it takes `context: {context_type.__name__}`, but the app's hooks make "
                    f"`{hooks.context_type.__name__}` contexts",
                    f"annotate `context: {hooks.context_type.__name__}` (or a base of it), or "
                    "declare the hooks with `Hooks(context=...)` of that class",
                    api.location,
                    api.path,
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

    apis = [
        _api_entry(api, signatures[api.path], metas[api.path], schema_set.schemas)
        for api in discovery.apis
    ]
    found_codes = discovery.fail_codes
    return Manifest(
        app=app,
        fail_codes_python=PythonRef(module=found_codes.module, name=found_codes.name)
        if found_codes
        else None,
        hooks_python=PythonRef(module=found_hooks.module, name=found_hooks.name)
        if found_hooks
        else None,
        hooks=hook_entries,
        meta=hooks.meta_type.model_json_schema(),
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


_HOOK_ARITY = {"before_execute": 1, "on_chunk": 2, "after_execute": 2}
_HOOK_TAKES = {
    "before_execute": "(context)",
    "on_chunk": "(context, chunk)",
    "after_execute": "(context, outcome)",
}


def _hook_entries(found: FoundHooks | None, errors: list[BuildError]) -> list[HookEntry]:
    """The hooks in the order each kind runs; misplaced or misshapen ones are errors."""
    if found is None:
        return []
    hooks = found.hooks
    if not issubclass(hooks.context_type, Context):
        errors.append(
            BuildError(
                f"`Hooks(context={hooks.context_type!r})` is not a context class",
                "give a subclass of `Context[Meta]`",
            )
        )
    entries: list[HookEntry] = []
    for kind in ("before_execute", "on_chunk", "after_execute"):
        for hook in hooks.of_kind(kind):
            location = source_location(hook.function)
            name = getattr(hook.function, "__qualname__", repr(hook.function))
            if hook.registered_in != hooks.defined_in:
                errors.append(
                    BuildError(
                        f"hook {name} is registered in {hook.registered_in}, not in "
                        f"{hooks.defined_in}, where the hooks are declared",
                        f"register it in {hooks.defined_in} (`{found.name}.{kind}({name})`), so "
                        "that the order hooks run in is the order written there",
                        location,
                    )
                )
            if not _takes(hook.function, _HOOK_ARITY[kind]):
                errors.append(
                    BuildError(
                        f"{kind} hook {name} cannot be called as {name}{_HOOK_TAKES[kind]}",
                        f"take {_HOOK_TAKES[kind]}",
                        location,
                    )
                )
            entries.append(
                HookEntry(
                    kind=kind,
                    python=PythonRef(module=hook.function.__module__, name=name),
                    source=SourceRef(file=location.file, line=location.line) if location else None,
                )
            )
    return entries


def _takes(function: Any, count: int) -> bool:
    try:
        inspect.signature(function).bind(*range(count))
    except (TypeError, ValueError):
        return False
    return True


def _meta_fix(hooks: Hooks[Any], found: FoundHooks | None) -> str:
    fields = ", ".join(sorted(hooks.meta_type.model_fields)) or "none"
    if found is None:
        return (
            f"use the keys of ApiMeta ({fields}), or declare a meta model of the app's own: "
            "`class Meta(ApiMeta)` with `class AppContext(Context[Meta])` and "
            "`hooks = Hooks(context=AppContext)`"
        )
    return f"use the fields of {hooks.meta_type.__name__} ({fields}), or add the key to it"


def _api_entry(
    api: FoundApi,
    signature: ApiSignature,
    meta: ApiMeta,
    schemas: dict[SchemaKey, dict[str, Any]],
) -> ApiEntry:
    output = schemas[("chunk" if signature.kind == "stream" else "result", api.path)]
    doc = inspect.getdoc(api.definition.function)
    return ApiEntry(
        path=api.path,
        kind=signature.kind,
        doc=doc,
        meta=meta.model_dump(mode="json", exclude_unset=True),
        python=PythonRef(module=api.module, name=api.name),
        source=SourceRef(file=api.location.file, line=api.location.line) if api.location else None,
        params=schemas.get(("params", api.path)),
        chunk=output if signature.kind == "stream" else None,
        result=output if signature.kind == "plain" else None,
        tracked=signature.tracked,
    )

"""The plan of the generated `client.ts`: its types, its API tree, its fails and TSON plans."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..manifest import Manifest
from ..runtime.tson_plan import Plan, build_plans
from .api_tree import ApiNode, build_tree
from .typescript_types import TsDeclaration, TypeScriptTypes

__all__ = ["TsApi", "TsFail", "TsNode", "TypeScriptPlan", "plan_typescript"]

_CLIENT_MEMBERS = frozenset({"execute", "executeStream"})


def _camel(segment: str) -> str:
    parts = [part for part in re.split(r"[^A-Za-z0-9$]+", segment) if part]
    name = (
        "".join([parts[0], *(part[:1].upper() + part[1:] for part in parts[1:])])
        if parts
        else "api"
    )
    if name[:1].isdigit():
        name = f"api{name}"
    return f"{name}_" if name in _CLIENT_MEMBERS else name


def _pascal(text: str) -> str:
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
    return name if name[:1].isalpha() else f"Code{name}"


@dataclass(frozen=True, slots=True)
class TsApi:
    path: str
    kind: str
    params_type: str | None
    output_type: str
    doc: str | None
    source: str | None


TsNode = ApiNode[TsApi]


@dataclass(frozen=True, slots=True)
class TsFail:
    code: str
    type_name: str
    doc: str | None
    data_type: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class TypeScriptPlan:
    app: str
    source: str
    digest: str
    """The first 16 hex digits of the manifest's sha256, named in every header."""
    declarations: list[TsDeclaration]
    apis: list[TsApi]
    root: TsNode
    fails: list[TsFail]
    plans: dict[str, Plan]
    """TSON plans: of what clients receive by API path and by `fail:<code>`, of what they
    send by `params:<path>`."""
    plan_defs: dict[str, Plan]

    @property
    def plain_apis(self) -> list[TsApi]:
        return [api for api in self.apis if api.kind == "plain"]

    @property
    def stream_apis(self) -> list[TsApi]:
        return [api for api in self.apis if api.kind == "stream"]

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def plan_typescript(manifest: Manifest, source: str, digest: str) -> TypeScriptPlan:
    types = TypeScriptTypes(manifest.defs)
    types.plan_manifest(manifest)

    apis = [
        TsApi(
            path=entry.path,
            kind=entry.kind,
            params_type=None if entry.params is None else types.type_of(entry.params, "input"),
            output_type=types.type_of(entry.chunk or entry.result or {}, "output"),
            doc=entry.doc,
            source=f"{entry.source.file}:{entry.source.line}" if entry.source else None,
        )
        for entry in manifest.apis
    ]
    fails = [
        TsFail(
            code=fail.code,
            type_name=types.claim(_pascal(fail.code.lower()).removesuffix("Fail") + "Fail"),
            doc=fail.doc,
            data_type=types.type_of(fail.data, "output"),
            retryable=fail.retryable,
        )
        for fail in manifest.fail_codes
    ]
    schemas = {entry.path: entry.chunk or entry.result or {} for entry in manifest.apis}
    schemas.update({f"params:{e.path}": e.params for e in manifest.apis if e.params is not None})
    schemas.update({f"fail:{fail.code}": fail.data for fail in manifest.fail_codes})
    plans, plan_set = build_plans(schemas, manifest.defs)
    root = build_tree(((api.path, api) for api in apis), _camel, numbered="")
    return TypeScriptPlan(
        app=manifest.app,
        source=source,
        digest=digest,
        declarations=types.declarations(),
        apis=apis,
        root=root,
        fails=fails,
        plans={name: plan for name, plan in plans.items() if plan is not None},
        plan_defs=dict(sorted(plan_set.defs.items())),
    )

"""The plan of a generated Python package: its types, its API tree and its fail types."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

from ..manifest import ApiEntry, Manifest
from ..runtime.client import AsyncClientCore, ClientCore
from .api_tree import ApiNode, build_tree
from .python_types import Declaration, PyAlias, PythonTypes, order_aliases

__all__ = ["PyApi", "PyFail", "PyNode", "PythonPlan", "plan_python"]

# Names the client classes use for themselves: an API must not shadow them.
_CLIENT_MEMBERS = frozenset(
    {*dir(AsyncClientCore), *dir(ClientCore), "base_url", "codec", "headers", "http", "timeout"}
)


def _pascal(text: str, prefix: str = "Api") -> str:
    """A class name from any text; one that would start with a digit gets `prefix`."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)
    return name if name[:1].isalpha() else f"{prefix}{name}"


def _accessor(segment: str) -> str:
    """The attribute of a path segment: `your-stream-api` -> `your_stream_api`."""
    name = re.sub(r"\W", "_", segment.replace("-", "_"))
    if name[:1].isdigit():
        name = f"api_{name}"
    if name.startswith("_"):
        name = f"{name.lstrip('_') or 'api'}_"
    if keyword.iskeyword(name) or name in _CLIENT_MEMBERS:
        name = f"{name}_"
    return name


@dataclass(frozen=True, slots=True)
class PyApi:
    path: str
    kind: str
    spec_name: str
    params_type: str | None
    output_type: str
    doc: str | None
    source: str | None
    module: str
    function: str


PyNode = ApiNode[PyApi]


@dataclass(frozen=True, slots=True)
class PyFail:
    code: str
    class_name: str
    doc: str | None
    data_type: str
    data_default: str | None
    retryable: bool


@dataclass(frozen=True, slots=True)
class PythonPlan:
    app: str
    source: str
    digest: str
    """The first 16 hex digits of the manifest's sha256, named in every header."""
    declarations: list[Declaration]
    apis: list[PyApi]
    root: PyNode
    fails: list[PyFail]
    fail_codes_python: Any
    hooks_python: Any

    @property
    def plain_apis(self) -> list[PyApi]:
        return [api for api in self.apis if api.kind == "plain"]

    @property
    def stream_apis(self) -> list[PyApi]:
        return [api for api in self.apis if api.kind == "stream"]

    @property
    def exports(self) -> list[str]:
        """What `client.py` re-exports: the clients, the results and every type."""
        names = ["AsyncClient", "Client", "ExecuteResult", "Fail", "Failure", "Retry"]
        names += ["StreamResult", "StreamTimeouts"]
        names += [
            "Success",
            *(d.name for d in self.declarations),
            *(f.class_name for f in self.fails),
        ]
        return sorted(names)

    @property
    def nodes(self) -> list[PyNode]:
        return [node for node in self.root.walk() if node is not self.root]


def plan_python(manifest: Manifest, source: str, digest: str) -> PythonPlan:
    types = PythonTypes(manifest.defs)
    types.plan_manifest(manifest)

    spec_names: set[str] = set()
    aliases: list[PyAlias] = []
    apis = [_api(entry, types, spec_names, aliases) for entry in manifest.apis]
    fails = [
        PyFail(
            code=fail.code,
            class_name=types.claim(
                _pascal(fail.code.lower(), "Code").removesuffix("Fail") + "Fail"
            ),
            doc=fail.doc,
            data_type=types.type_of(fail.data, "output"),
            data_default="None" if fail.data.get("type") == "null" else None,
            retryable=fail.retryable,
        )
        for fail in manifest.fail_codes
    ]
    root = build_tree(((api.path, api) for api in apis), _accessor)
    for node in root.walk():
        if node is not root:
            name = _pascal(node.path)
            suffix = ("" if name.endswith("Api") else "Api") if node.api else "Apis"
            node.class_name = types.claim(name + suffix, twin_prefix="Async")
    return PythonPlan(
        app=manifest.app,
        source=source,
        digest=digest,
        declarations=[*types.declarations(), *order_aliases(aliases)],
        apis=apis,
        root=root,
        fails=fails,
        fail_codes_python=manifest.fail_codes_python,
        hooks_python=manifest.hooks_python,
    )


_INLINE = frozenset({"str", "int", "float", "bool", "None", "bytes", "Any"})


def _root_type(
    expression: str, name: str, types: PythonTypes, aliases: list[PyAlias], doc: str
) -> str:
    """A root type as the client names it: an alias in `models.py` unless it is a plain name."""
    if expression in _INLINE or expression in types.declared_names:
        return expression
    alias = types.claim(name)
    aliases.append(PyAlias(alias, doc, expression))
    return alias


def _api(
    entry: ApiEntry, types: PythonTypes, spec_names: set[str], aliases: list[PyAlias]
) -> PyApi:
    base = "_SPEC_" + re.sub(r"\W", "_", entry.path.replace("-", "_")).upper()
    spec_name, counter = base, 2
    while spec_name in spec_names:
        spec_name, counter = f"{base}_{counter}", counter + 1
    spec_names.add(spec_name)
    output = entry.chunk if entry.kind == "stream" else entry.result
    pascal = _pascal(entry.path)
    params_type = None
    if entry.params is not None:
        params_type = _root_type(
            types.type_of(entry.params, "input"),
            f"{pascal}Params",
            types,
            aliases,
            f"The params of `{entry.path}`.",
        )
    role = "Chunk" if entry.kind == "stream" else "Result"
    output_type = _root_type(
        types.type_of(output or {}, "output"),
        f"{pascal}{role}",
        types,
        aliases,
        f"A chunk of `{entry.path}`."
        if entry.kind == "stream"
        else f"The result of `{entry.path}`.",
    )
    return PyApi(
        path=entry.path,
        kind=entry.kind,
        spec_name=spec_name,
        params_type=params_type,
        output_type=output_type,
        doc=entry.doc,
        source=f"{entry.source.file}:{entry.source.line}" if entry.source else None,
        module=entry.python.module,
        function=entry.python.name,
    )

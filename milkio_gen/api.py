"""`define_api`: marks an async function of the app package as an API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .meta import ApiMeta

__all__ = ["ApiDefinition", "define_api", "get_definition"]

FunctionT = TypeVar("FunctionT", bound=Callable[..., Any])

_ATTRIBUTE = "__milkio_api__"


@dataclass(frozen=True, slots=True)
class ApiDefinition:
    """What `define_api` recorded about one function."""

    function: Callable[..., Any]
    meta: ApiMeta | Mapping[str, Any] = field(default_factory=dict[str, Any])
    path: str | None = None


def define_api(
    *, meta: ApiMeta | Mapping[str, Any] | None = None, path: str | None = None
) -> Callable[[FunctionT], FunctionT]:
    """Mark an `async def` as an API: returning a value makes a plain API, `yield` a stream.

    ```python
    @define_api(meta={})
    async def action(params: Params, context: Context) -> AsyncIterator[str]:
        yield f"Hello, {params.name}!"
    ```

    Args:
        meta: what hooks and the server read about the API (`{"auth": "user"}`, or the
            app's meta model itself, `Meta(auth="user")`, which an editor checks as you
            type); the build checks it against the app's meta model (`ApiMeta` unless the
            app declares its own) and records it in the manifest.
        path: the API's path; by default the module path under the app package in
            kebab-case, plus `/<function>` when the function is not named `action`.

    The function is returned unchanged, so tests can still call it directly.
    """

    def mark(function: FunctionT) -> FunctionT:
        given = meta if isinstance(meta, ApiMeta) else dict(meta or {})
        setattr(function, _ATTRIBUTE, ApiDefinition(function, given, path))
        return function

    return mark


def get_definition(candidate: object) -> ApiDefinition | None:
    """The definition `define_api` attached to `candidate`, if any."""
    definition = getattr(candidate, _ATTRIBUTE, None)
    return definition if isinstance(definition, ApiDefinition) else None

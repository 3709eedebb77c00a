"""Litestar's dependency injection, for actions: `await context.dependency("db")`.

An API is served by an ASGI route handler, whose function Litestar does not give
dependencies to. The dependencies declared on the app, its routers and the handler are
still resolved for it here, by Litestar's own machinery: the same `Provide` objects, their
own dependencies and reserved names (`state`, `request`, `headers`...), their cache, and
the cleanup of generator dependencies once the call has ended.

This reaches into `litestar._kwargs` and `litestar._signature`, which Litestar 2 does not
document; `tests/test_litestar_app.py` pins the behaviour.
"""

from __future__ import annotations

import inspect
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from litestar._kwargs import KwargsModel
from litestar._signature import SignatureModel
from litestar.di import NamedDependency
from litestar.utils.signature import ParsedSignature

if TYPE_CHECKING:
    from litestar import Request
    from litestar.handlers import BaseRouteHandler

__all__ = ["resolve_dependency"]

_MODELS = "milkio_gen.dependency_models"
"""Where a route handler keeps, in its `opt`, what each dependency name needs resolved."""


async def resolve_dependency(
    request: Request[Any, Any, Any], name: str, cleanups: AsyncExitStack
) -> Any:
    """The value of the dependency `name` for `request`; generator dependencies are
    cleaned up when `cleanups` closes. Raises `LookupError` for a name nobody provides."""
    handler = request.scope["route_handler"]
    models: dict[str, KwargsModel] = handler.opt.setdefault(_MODELS, {})
    model = models.get(name)
    if model is None:
        model = models[name] = _model_for(handler, name)
    kwargs = await model.to_kwargs(request)  # pyright: ignore[reportUnknownMemberType]
    cleanup = await model.resolve_dependencies(request, kwargs)  # pyright: ignore[reportUnknownMemberType]
    await cleanups.enter_async_context(cleanup)  # pyright: ignore[reportArgumentType]
    return kwargs[name]


def _model_for(handler: BaseRouteHandler, name: str) -> KwargsModel:
    """What Litestar would resolve for a handler function taking the one argument `name`."""
    dependencies = handler.resolve_dependencies()
    if name not in dependencies:
        declared = ", ".join(sorted(dependencies)) or "none"
        raise LookupError(
            f"no dependency {name!r} is declared for this API (declared: {declared}); add "
            f"`dependencies={{{name!r}: Provide(...)}}` to the app or a router above the APIs"
        )
    annotation = NamedDependency[Any]
    signature = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)]
    )
    parsed = ParsedSignature.from_signature(signature, {name: annotation})  # pyright: ignore[reportArgumentType]

    def needs(**_: Any) -> None: ...

    signature_model = SignatureModel.create(  # pyright: ignore[reportUnknownMemberType]
        dependency_name_set=handler.dependency_name_set,
        fn=needs,
        parsed_signature=parsed,
        type_decoders=handler.resolve_type_decoders(),
    )
    return KwargsModel.create_for_signature_model(
        signature_model=signature_model,
        parsed_signature=parsed,
        dependencies=dependencies,
        path_parameters=set(),
        layered_parameters=handler.resolve_layered_parameters(),
    )

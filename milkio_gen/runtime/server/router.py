"""Litestar glue: one ASGI route per API, speaking Milkio's protocol."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from litestar import Litestar, Request, Response, Router
from litestar.config.compression import CompressionConfig
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.exceptions.responses import (
    create_exception_response,  # pyright: ignore[reportUnknownVariableType]
)
from litestar.handlers import ASGIRouteHandler
from litestar.middleware.base import DefineMiddleware
from litestar.types import Receive, Scope, Send

from ...fails import FailCodes
from ...hooks import Hooks
from ...meta import ApiMeta
from ...server_settings import ServerSettings
from .binding import API_ROUTE, ApiBinding, ApiRoute
from .execute import Executor
from .observe import logging_config
from .openapi import ApiDocs

if TYPE_CHECKING:
    from ...channels import Broker, ChannelSettings
    from ...http_settings import HttpSettings

__all__ = ["SKIP_COMPRESSION", "ServerSettings", "bind", "create_app", "create_router"]

_SERVER = "milkio_gen.server"
_APIS_ONLY = "milkio_gen.apis"
_EXECUTOR = "milkio_gen.executor"
"""Where a router made by `create_router` keeps its server and its API routes, in its `opt`."""


SKIP_COMPRESSION = "skip_compression"
"""The `opt` key set on the handlers of stream APIs: give it as the `exclude_opt_key` of an
app's `CompressionConfig` so that its compression leaves event streams alone."""


def bind(path: str, function: Callable[..., Any]) -> ApiBinding:
    """Pair an API path with its action; generated servers list one `bind` per API."""
    return ApiBinding.create(path, function)


@dataclass(frozen=True, slots=True)
class ApiSet:
    """An app's APIs, with what serving them takes: the app's fail codes and hooks. The
    generated server's `apis`, so that `create_router(apis, settings=...)` needs no more."""

    bindings: Sequence[ApiBinding]
    fail_codes: FailCodes | None = None
    hooks: Hooks[Any] | None = None

    def __iter__(self) -> Iterator[ApiBinding]:
        return iter(self.bindings)

    def __len__(self) -> int:
        return len(self.bindings)


def create_router(
    apis: ApiSet | Iterable[ApiBinding],
    *,
    fail_codes: FailCodes | None = None,
    hooks: Hooks[Any] | None = None,
    path: str = "/",
    settings: ServerSettings | None = None,
    catch_unknown_paths: bool = True,
) -> Router:
    """A Litestar router serving `apis` under `path`, to mount into any Litestar app under a
    prefix of its own (`Router("/rpc", route_handlers=[router])`).

    With `catch_unknown_paths`, any other POST under `path` answers `NOT_FOUND` in the
    protocol's form rather than Litestar's 404 page. That takes a mount, which Litestar
    matches before other routes: `create_app` serves the APIs at the root beside other routes
    without it.

    `fail_codes` and `hooks` default to those of an `ApiSet`. The hooks run around every
    execute, make its context (of their context class) and give every API's `meta` its type.
    """
    if isinstance(apis, ApiSet):
        fail_codes = fail_codes or apis.fail_codes
        hooks = hooks or apis.hooks
    server = Executor(fail_codes, settings or ServerSettings(), hooks)
    meta_type = hooks.meta_type if hooks else ApiMeta
    bindings = [binding.with_meta_type(meta_type) for binding in apis]
    handlers = [
        _route(server, binding, f"/{binding.path}", fail_codes=fail_codes) for binding in bindings
    ]
    routes = list(handlers)
    if catch_unknown_paths:
        routes.append(_route(server, None, "/", is_mount=True))
    opt = {
        _SERVER: server if catch_unknown_paths else None,
        _APIS_ONLY: handlers,
        _EXECUTOR: server,
    }
    # A rate limit's refusal (Litestar's middleware, on the app or a router) in the protocol.
    refusals: dict[Any, Any] = {TooManyRequestsException: server.rate_limited}
    return Router(path=path, route_handlers=routes, opt=opt, exception_handlers=refusals)


def _route(
    server: Executor,
    binding: ApiBinding | None,
    path: str,
    *,
    is_mount: bool = False,
    fail_codes: FailCodes | None = None,
):
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        await server.handle(binding, scope, receive, send)

    name = f"milkio:{binding.path}" if binding else "milkio:not-found"
    opt: dict[str, Any] = {}
    if binding is not None:
        opt[API_ROUTE] = ApiRoute(binding, fail_codes)  # what `ApiDocs` describes it from
        if binding.is_stream:
            # A compressor holds bytes back until its block fills: an event stream must skip it.
            opt[SKIP_COMPRESSION] = True
    return ASGIRouteHandler(path=path, name=name, is_mount=is_mount, copy_scope=False, opt=opt)(
        handle
    )


def create_app(
    router: Router,
    *,
    channels: Broker | ChannelSettings | None = None,
    http: HttpSettings | None = None,
    **litestar_options: Any,
) -> Litestar:
    """A Litestar app serving `router`, with a channels broker (`channels`, or one built from
    `ChannelSettings()`, which reads the environment), and the CORS and served directories of
    `http` (or of `HttpSettings()`). Other options go to `Litestar(...)`, except that a
    `compression_config` without an `exclude_opt_key` gets `SKIP_COMPRESSION`, so that event
    streams are never compressed, and without a `logging_config` every line logged during a
    call is led by its execute id (`observe.logging_config()`). The APIs are in the app's
    OpenAPI document (`/schema/openapi.json`), through an `ApiDocs` plugin, unless `plugins`
    hold one already."""
    from ...channels.broker import Broker
    from ...channels.settings import ChannelSettings
    from ...http_settings import HttpSettings

    compression = litestar_options.get("compression_config")
    if isinstance(compression, CompressionConfig) and compression.exclude_opt_key is None:
        litestar_options["compression_config"] = dataclasses.replace(
            compression, exclude_opt_key=SKIP_COMPRESSION
        )
    broker = channels if isinstance(channels, Broker) else Broker(channels or ChannelSettings())
    plugins = [*litestar_options.pop("plugins", []), broker]
    if not any(isinstance(plugin, ApiDocs) for plugin in plugins):
        plugins.append(ApiDocs())
    http = http or HttpSettings()
    litestar_options.setdefault("cors_config", http.cors_config())
    litestar_options.setdefault("logging_config", logging_config())
    if _APIS_ONLY in router.opt:
        # The router's catch-all mount would hide the pages and routes beside it: the APIs go
        # without it, and a POST to a path no route has gets `NOT_FOUND` from a 404 handler,
        # unless the app handles its 404s itself.
        server = router.opt.get(_SERVER)
        router = Router(
            path=router.path,
            route_handlers=router.opt[_APIS_ONLY],
            opt=router.opt,
            exception_handlers=router.exception_handlers,  # pyright: ignore[reportUnknownMemberType]
            middleware=_rate_limit(router.opt[_EXECUTOR].settings),
        )
        handlers_of_errors = dict(litestar_options.pop("exception_handlers", None) or {})
        handled = {404, NotFoundException, HTTPException, Exception} & handlers_of_errors.keys()
        if isinstance(server, Executor) and not handled:
            handlers_of_errors[NotFoundException] = _not_found(server, router.path)
        litestar_options["exception_handlers"] = handlers_of_errors
    handlers = [router, *http.static_routers(), *litestar_options.pop("route_handlers", [])]
    return Litestar(route_handlers=handlers, plugins=plugins, **litestar_options)


def _rate_limit(settings: ServerSettings) -> list[DefineMiddleware]:
    """Litestar's rate-limit middleware for the API router, when the settings set a limit."""
    from litestar.middleware.rate_limit import RateLimitConfig

    if settings.rate_limit is None:
        return []
    return [RateLimitConfig(rate_limit=settings.rate_limit).middleware]


def _not_found(
    server: Executor, prefix: str
) -> Callable[[Request[Any, Any, Any], NotFoundException], Response[Any]]:
    """A POST under `prefix` to a path no route has gets the protocol's `NOT_FOUND`; any
    other 404 (a page that is not there, a route of the app's own that raised it) gets
    Litestar's answer."""
    under = prefix.rstrip("/") + "/"

    def answer(request: Request[Any, Any, Any], error: NotFoundException) -> Response[Any]:
        unrouted = "route_handler" not in cast(dict[str, Any], request.scope)
        if unrouted and request.method == "POST" and request.url.path.startswith(under):
            return server.unknown_path(request)
        return cast(Response[Any], create_exception_response(request, error))

    return answer

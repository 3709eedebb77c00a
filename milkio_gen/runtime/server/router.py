"""Litestar glue: one ASGI route per API, speaking Milkio's protocol."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from litestar import Litestar, Request, Response, Router
from litestar.config.compression import CompressionConfig
from litestar.exceptions import HTTPException, NotFoundException
from litestar.exceptions.responses import (
    create_exception_response,  # pyright: ignore[reportUnknownVariableType]
)
from litestar.handlers import ASGIRouteHandler
from litestar.types import HTTPResponseStartEvent, Receive, Scope, Send

from ...context import Context
from ...fails import FailCodes, Reject
from .. import sse
from ..wire import ENVELOPE_PREFIX, HANDSHAKE_DATA, fail_envelope, success_envelope
from .binding import ApiBinding, Fail, FailBook, ParamsRejected
from .execute_id import new_execute_id
from .stream import StopReason, StreamLimits, StreamPump

if TYPE_CHECKING:
    from ...channels import Broker, ChannelSettings
    from ...http_settings import HttpSettings

__all__ = ["SKIP_COMPRESSION", "ServerSettings", "bind", "create_app", "create_router"]

logger = logging.getLogger("milkio_gen.server")

_SERVER = "milkio_gen.server"
_APIS_ONLY = "milkio_gen.apis"
"""Where a router made by `create_router` keeps its server and its API routes, in its `opt`."""
_JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache")]
_STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


SKIP_COMPRESSION = "skip_compression"
"""The `opt` key set on the handlers of stream APIs: give it as the `exclude_opt_key` of an
app's `CompressionConfig` so that its compression leaves event streams alone."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the server treats requests and streams."""

    max_body_size: int = 1024 * 1024
    """Largest request body accepted, in bytes; larger ones fail with `PAYLOAD_TOO_LARGE`."""
    stream_buffer_events: int = 256
    """Events a stream may hold ahead of the client before the action is paused."""
    stream_buffer_bytes: int = 64 * 1024
    """Bytes a stream may hold ahead of the client before the action is paused; an event
    larger than this still goes, alone."""
    ping_interval: float | None = 15.0
    """Seconds of silence on a stream after which a `: ping` comment is sent, so proxies
    and load balancers do not close it as idle. None: never."""
    send_timeout: float | None = 30.0
    """Seconds a send may wait on a client that stopped reading; then it is disconnected and
    the action cancelled. None: wait forever."""


def bind(path: str, function: Callable[..., Any]) -> ApiBinding:
    """Pair an API path with its action; generated servers list one `bind` per API."""
    return ApiBinding.create(path, function)


class _BodyTooLarge(Exception):
    pass


class _ApiServer:
    def __init__(self, fail_codes: FailCodes | None, settings: ServerSettings) -> None:
        self.fails = FailBook(fail_codes)
        self.settings = settings

    async def handle(self, binding: ApiBinding | None, scope: Scope, receive: Receive, send: Send):
        execute_id = new_execute_id()
        wants_stream = _accepts_event_stream(scope)
        respond = self._respond_stream if wants_stream else self._respond_json

        if scope["type"] != "http" or scope["method"] != "POST":
            return await respond(send, execute_id, self.fails.make("NOT_ALLOW_METHOD"))
        if binding is None:
            return await respond(send, execute_id, self.fails.make("NOT_FOUND"))
        try:
            body = await _read_body(receive, self.settings.max_body_size)
        except _BodyTooLarge:
            limit = {"limit": self.settings.max_body_size}
            return await respond(send, execute_id, self.fails.make("PAYLOAD_TOO_LARGE", limit))
        if binding.is_stream != wants_stream:
            return await respond(send, execute_id, self._kind_mismatch(binding))
        try:
            params = binding.parse_params(body)
        except ParamsRejected as rejected:
            return await respond(
                send, execute_id, self.fails.make("TYPE_SAFE_ERROR", rejected.data)
            )

        context = Context(
            execute_id=execute_id,
            path=binding.path,
            meta=binding.meta,
            scope=scope,
            receive=receive,
        )
        if not binding.is_stream:
            try:
                data = binding.encode_output(await binding.call(params, context))
            except Exception as error:
                return await respond(send, execute_id, self._fail_for(error, binding, execute_id))
            finally:
                await context.close_subscriptions()
            body = success_envelope(execute_id, data)
            return await _send_response(send, _JSON_HEADERS, body)

        try:
            chunks = binding.call(params, context)
        except Exception as error:
            return await respond(send, execute_id, self._fail_for(error, binding, execute_id))

        def envelope(fail: Fail) -> bytes:
            return ENVELOPE_PREFIX + fail_envelope(execute_id, fail.code, fail.message, fail.data)

        def on_stop(reason: StopReason) -> bytes | None:
            context.stop_reason = reason
            if reason == "deadline":
                return envelope(self.fails.make("STREAM_DEADLINE", {"seconds": max_duration}))
            if reason == "shutdown":
                return envelope(self.fails.make("SERVER_SHUTTING_DOWN"))
            return None

        max_duration = binding.max_duration
        pump = StreamPump(
            chunks,
            send=send,
            receive=receive,
            encode_chunk=binding.encode_output,
            on_error=lambda error: envelope(self._fail_for(error, binding, execute_id)),
            on_stop=on_stop,
            limits=StreamLimits(
                buffer_events=self.settings.stream_buffer_events,
                buffer_bytes=self.settings.stream_buffer_bytes,
                ping_interval=self.settings.ping_interval,
                send_timeout=self.settings.send_timeout,
                max_duration=max_duration,
            ),
        )
        # Framed at once: orjson's own result would hold about 4 KiB for the stream's life.
        handshake = sse.encode_event(ENVELOPE_PREFIX + success_envelope(execute_id, HANDSHAKE_DATA))
        try:
            await pump.run(_start(_STREAM_HEADERS), handshake)
        finally:
            await context.close_subscriptions()

    def _fail_for(self, error: BaseException, binding: ApiBinding, execute_id: str) -> Fail:
        """The fail an exception of the action becomes; anything unexpected is logged, not sent."""
        if isinstance(error, Reject):
            try:
                return self.fails.make(error.code, error.data)
            except Exception:
                logger.exception(
                    "[%s] %s rejected with an undeclared code or wrong data: %r",
                    execute_id,
                    binding.path,
                    error.code,
                )
                return self.fails.make("INTERNAL_SERVER_ERROR")
        logger.error(
            "[%s] %s raised",
            execute_id,
            binding.path,
            exc_info=error,
            extra={"execute_id": execute_id},
        )
        return self.fails.make("INTERNAL_SERVER_ERROR")

    def _kind_mismatch(self, binding: ApiBinding) -> Fail:
        if binding.is_stream:
            data = {
                "expected": "stream",
                "hint": f"'{binding.path}' is a stream API: send 'Accept: text/event-stream' "
                "(execute_stream in the clients)",
            }
        else:
            data = {
                "expected": "plain",
                "hint": f"'{binding.path}' is a plain API: do not send "
                "'Accept: text/event-stream' (execute in the clients)",
            }
        return self.fails.make("CALL_KIND_MISMATCH", data)

    def unknown_path(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """`NOT_FOUND` for a call to a path no API has, as a plain or a stream call expects."""
        execute_id = new_execute_id()
        fail = self.fails.make("NOT_FOUND")
        body = fail_envelope(execute_id, fail.code, fail.message, fail.data)
        if _accepts_event_stream(request.scope):
            headers, body = _STREAM_HEADERS, sse.encode_event(ENVELOPE_PREFIX + body)
        else:
            headers = _JSON_HEADERS
        named = {name.decode(): value.decode() for name, value in headers}
        return Response(body, media_type=named.pop("content-type"), headers=named)

    async def _respond_json(self, send: Send, execute_id: str, fail: Fail) -> None:
        body = fail_envelope(execute_id, fail.code, fail.message, fail.data)
        await _send_response(send, _JSON_HEADERS, body)

    async def _respond_stream(self, send: Send, execute_id: str, fail: Fail) -> None:
        envelope = fail_envelope(execute_id, fail.code, fail.message, fail.data)
        await _send_response(send, _STREAM_HEADERS, sse.encode_event(ENVELOPE_PREFIX + envelope))


def _accepts_event_stream(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept" and b"text/event-stream" in value:
            return True
    return False


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _start(headers: list[tuple[bytes, bytes]]) -> HTTPResponseStartEvent:
    return {"type": "http.response.start", "status": 200, "headers": headers}


async def _send_response(send: Send, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(_start([*headers, (b"content-length", str(len(body)).encode())]))
    await send({"type": "http.response.body", "body": body, "more_body": False})


def create_router(
    apis: Iterable[ApiBinding],
    *,
    fail_codes: FailCodes | None = None,
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
    """
    server = _ApiServer(fail_codes, settings or ServerSettings())
    handlers = [_route(server, binding, f"/{binding.path}") for binding in apis]
    routes = list(handlers)
    if catch_unknown_paths:
        routes.append(_route(server, None, "/", is_mount=True))
    opt = {_SERVER: server if catch_unknown_paths else None, _APIS_ONLY: handlers}
    return Router(path=path, route_handlers=routes, opt=opt)


def _route(server: _ApiServer, binding: ApiBinding | None, path: str, *, is_mount: bool = False):
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        await server.handle(binding, scope, receive, send)

    name = f"milkio:{binding.path}" if binding else "milkio:not-found"
    # A compressor holds bytes back until its block fills: an event stream must skip it.
    opt = {SKIP_COMPRESSION: True} if binding is not None and binding.is_stream else {}
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
    streams are never compressed."""
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
    http = http or HttpSettings()
    litestar_options.setdefault("cors_config", http.cors_config())
    if _APIS_ONLY in router.opt:
        # The router's catch-all mount would hide the pages and routes beside it: the APIs go
        # without it, and a POST to a path no route has gets `NOT_FOUND` from a 404 handler,
        # unless the app handles its 404s itself.
        server = router.opt.get(_SERVER)
        router = Router(path=router.path, route_handlers=router.opt[_APIS_ONLY], opt=router.opt)
        handlers_of_errors = dict(litestar_options.pop("exception_handlers", None) or {})
        handled = {404, NotFoundException, HTTPException, Exception} & handlers_of_errors.keys()
        if isinstance(server, _ApiServer) and not handled:
            handlers_of_errors[NotFoundException] = _not_found(server, router.path)
        litestar_options["exception_handlers"] = handlers_of_errors
    handlers = [router, *http.static_routers(), *litestar_options.pop("route_handlers", [])]
    return Litestar(route_handlers=handlers, plugins=plugins, **litestar_options)


def _not_found(
    server: _ApiServer, prefix: str
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

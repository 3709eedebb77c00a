"""One execute, from request to answer: hooks, params, the action, and the line that logs it.

The order of a call: the method and path; the call kind (plain or stream) against the API's;
then the app's `before_execute` hooks, so a caller they refuse learns nothing of the params;
the body and the params; the action (each chunk through the `on_chunk` hooks); and once the
answer is complete, the `after_execute` hooks and one log line.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from litestar import Request, Response
from litestar.exceptions import TooManyRequestsException
from litestar.types import HTTPResponseStartEvent, Receive, Scope, Send

from ...context import Context, current_execute_id
from ...fails import FailCodes, Reject
from ...hooks import Hooks, Outcome, RegisteredHook
from .. import sse
from ..wire import ENVELOPE_PREFIX, HANDSHAKE_DATA, fail_envelope, success_envelope
from .binding import ApiBinding, Fail, FailBook, ParamsRejected
from .execute_id import new_execute_id
from .observe import log_execute, traced_send
from .stream import StopReason, StreamLimits, StreamPump

if TYPE_CHECKING:
    from ...server_settings import ServerSettings

__all__ = ["Executor", "accepts_event_stream"]

logger = logging.getLogger("milkio_gen.server")

JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache")]
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


class _BodyTooLarge(Exception):
    pass


class _Call:
    """What one execute has come to so far, for its outcome."""

    __slots__ = (
        "execute_id",
        "fail_code",
        "params",
        "path",
        "pump",
        "result",
        "started",
        "stop_reason",
        "wants_stream",
    )

    def __init__(self, execute_id: str, path: str) -> None:
        self.execute_id = execute_id
        self.path = path
        self.wants_stream = False
        self.params: Any = None
        self.started = time.perf_counter()
        self.fail_code: str | None = None
        self.pump: StreamPump | None = None
        self.stop_reason: StopReason | None = None
        self.result: Any = None

    def outcome(self) -> Outcome:
        ended = "stopped" if self.stop_reason else "fail" if self.fail_code else "success"
        return Outcome(
            outcome=ended,
            duration=time.perf_counter() - self.started,
            chunks=self.pump.chunks if self.pump else 0,
            fail_code=self.fail_code,
            stop_reason=self.stop_reason,
            result=self.result,
        )


class Executor:
    """Serves the executes of one router's APIs."""

    def __init__(
        self, fail_codes: FailCodes | None, settings: ServerSettings, hooks: Hooks[Any] | None
    ) -> None:
        self.fails = FailBook(fail_codes)
        self.settings = settings
        hooks = hooks or Hooks()
        self.context_type: type[Context[Any]] = hooks.context_type
        self._before = hooks.of_kind("before_execute")
        self._on_chunk = hooks.of_kind("on_chunk")
        self._after = hooks.of_kind("after_execute")
        cap = settings.max_streams_per_client
        self._streams_per_client = None if cap is None else _StreamCount(cap)

    async def handle(
        self, binding: ApiBinding | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        path: str = binding.path if binding else scope["path"].lstrip("/")
        call = _Call(new_execute_id(), path)
        # Every log line written while the call runs can then name it (`ExecuteIdFilter`).
        token = current_execute_id.set(call.execute_id)
        send = traced_send(send, call.execute_id, path, call.outcome)
        context: Context[Any] | None = None
        try:
            context = await self._execute(call, binding, scope, receive, send)
        finally:
            outcome = call.outcome()
            if context is not None:
                await self._run_after(context, outcome, call)
            log_execute(call.execute_id, call.path, outcome)
            current_execute_id.reset(token)

    async def _execute(
        self,
        call: _Call,
        binding: ApiBinding | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> Context[Any] | None:
        """Answer the call; returns its context once it has one (hooks then saw it)."""
        call.wants_stream = accepts_event_stream(scope)
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._refuse(call, send, self.fails.make("NOT_ALLOW_METHOD"))
            return None
        if binding is None:
            await self._refuse(call, send, self.fails.make("NOT_FOUND"))
            return None
        if binding.is_stream != call.wants_stream:
            await self._refuse(call, send, self._kind_mismatch(binding))
            return None
        if not binding.is_stream or self._streams_per_client is None:
            return await self._run(call, binding, scope, receive, send)
        client = _client_address(scope)
        if not self._streams_per_client.open(client):
            limit = {"limit": self._streams_per_client.limit}
            await self._refuse(call, send, self.fails.make("TOO_MANY_STREAMS", limit))
            return None
        try:
            return await self._run(call, binding, scope, receive, send)
        finally:
            self._streams_per_client.close(client)

    async def _run(
        self, call: _Call, binding: ApiBinding, scope: Scope, receive: Receive, send: Send
    ) -> Context[Any]:
        context = self.context_type(
            execute_id=call.execute_id,
            path=binding.path,
            meta=binding.meta,
            scope=scope,
            receive=receive,
        )
        try:
            refused = await self._run_before(context, call)
            if refused is None:
                refused = await self._read_params(call, binding, scope, receive)
            if refused is not None:
                await self._refuse(call, send, refused)
                return context
            params = call.params

            if not binding.is_stream:
                try:
                    result = await binding.call(params, context)
                    data = binding.encode_output(result)
                except Exception as error:
                    fail = self._fail_for(error, binding.path, call.execute_id)
                    await self._refuse(call, send, fail)
                    return context
                call.result = result
                await _send_response(send, JSON_HEADERS, success_envelope(call.execute_id, data))
                return context

            try:
                chunks = binding.call(params, context)
            except Exception as error:
                await self._refuse(call, send, self._fail_for(error, binding.path, call.execute_id))
                return context
            await self._stream(call, binding, context, chunks, receive, send)
            return context
        finally:
            await context.close()

    async def _read_params(
        self, call: _Call, binding: ApiBinding, scope: Scope, receive: Receive
    ) -> Fail | None:
        """Read the body into `call.params`; or the fail that refuses it."""
        try:
            body = await _read_body(receive, self.settings.max_body_size)
        except _BodyTooLarge:
            return self.fails.make("PAYLOAD_TOO_LARGE", {"limit": self.settings.max_body_size})
        if body:
            received = _content_type(scope)
            if not _is_json(received):
                data = {"received": received or "no content type", "expected": "application/json"}
                return self.fails.make("UNSUPPORTED_MEDIA_TYPE", data)
        try:
            call.params = binding.parse_params(body)
        except ParamsRejected as rejected:
            return self.fails.make("TYPE_SAFE_ERROR", rejected.data)
        return None

    async def _refuse(self, call: _Call, send: Send, fail: Fail) -> None:
        """Answer with `fail` alone, as a plain call or a stream call expects it."""
        call.fail_code = fail.code
        envelope = fail_envelope(call.execute_id, fail.code, fail.message, fail.data)
        if call.wants_stream:
            event = sse.encode_event(ENVELOPE_PREFIX + envelope)
            await _send_response(send, STREAM_HEADERS, event)
        else:
            await _send_response(send, JSON_HEADERS, envelope)

    async def _stream(
        self,
        call: _Call,
        binding: ApiBinding,
        context: Context[Any],
        chunks: Any,
        receive: Receive,
        send: Send,
    ) -> None:
        execute_id = call.execute_id
        max_duration = binding.max_duration

        def closing(fail: Fail) -> bytes:
            call.fail_code = fail.code
            return ENVELOPE_PREFIX + fail_envelope(execute_id, fail.code, fail.message, fail.data)

        def on_stop(reason: StopReason) -> bytes | None:
            context.stop_reason = call.stop_reason = reason
            if reason == "deadline":
                return closing(self.fails.make("STREAM_DEADLINE", {"seconds": max_duration}))
            if reason == "shutdown":
                return closing(self.fails.make("SERVER_SHUTTING_DOWN"))
            return None

        pump = call.pump = StreamPump(
            chunks,
            send=send,
            receive=receive,
            encode_chunk=binding.encode_output,
            on_chunk=self._chunk_hooks(context),
            on_error=lambda error: closing(self._fail_for(error, binding.path, execute_id)),
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
        await pump.run(_start(STREAM_HEADERS), handshake)

    async def _run_before(self, context: Context[Any], call: _Call) -> Fail | None:
        """The fail a `before_execute` hook ended the call with, if one did."""
        for hook in self._before:
            try:
                await _maybe_await(hook.function(context))
            except Exception as error:
                return self._fail_for(error, call.path, call.execute_id, hook)
        return None

    def _chunk_hooks(self, context: Context[Any]) -> Callable[[Any], Any] | None:
        hooks = self._on_chunk
        if not hooks:
            return None
        if len(hooks) == 1:
            only = hooks[0].function
            return lambda chunk: only(context, chunk)

        async def run_all(chunk: Any) -> None:
            for hook in hooks:
                await _maybe_await(hook.function(context, chunk))

        return run_all

    async def _run_after(self, context: Context[Any], outcome: Outcome, call: _Call) -> None:
        for hook in self._after:
            try:
                await _maybe_await(hook.function(context, outcome))
            except Exception:
                logger.exception(
                    "[%s] %s: after_execute hook %s raised",
                    call.execute_id,
                    call.path,
                    getattr(hook.function, "__qualname__", hook.function),
                    extra={"execute_id": call.execute_id},
                )

    def _fail_for(
        self,
        error: BaseException,
        path: str,
        execute_id: str,
        hook: RegisteredHook | None = None,
    ) -> Fail:
        """The fail an exception of the action or a hook becomes; anything unexpected is
        logged, not sent."""
        if isinstance(error, Reject):
            try:
                return self.fails.make(error.code, error.data)
            except Exception:
                logger.exception(
                    "[%s] %s rejected with an undeclared code or wrong data: %r",
                    execute_id,
                    path,
                    error.code,
                    extra={"execute_id": execute_id},
                )
                return self.fails.make("INTERNAL_SERVER_ERROR")
        raiser = (
            f"{hook.kind} hook {getattr(hook.function, '__qualname__', '?')}"
            if hook
            else "the action"
        )
        logger.error(
            "[%s] %s: %s raised",
            execute_id,
            path,
            raiser,
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
        return self._refusal(request, self.fails.make("NOT_FOUND"))

    def rate_limited(
        self, request: Request[Any, Any, Any], error: TooManyRequestsException
    ) -> Response[bytes]:
        """The retryable `TOO_MANY_REQUESTS` for a call Litestar's rate limit refused, with
        its `RateLimit-*` headers and a `Retry-After`."""
        headers = dict(error.headers or {})
        reset = headers.get("RateLimit-Reset", "")
        retry_after = max(int(reset), 1) if reset.isdigit() else None
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        fail = self.fails.make("TOO_MANY_REQUESTS", {"retry_after": retry_after})
        return self._refusal(request, fail, headers)

    def _refusal(
        self, request: Request[Any, Any, Any], fail: Fail, extra: dict[str, str] | None = None
    ) -> Response[bytes]:
        """`fail` as the answer to a call that never reached its API's execute."""
        execute_id = new_execute_id()
        body = fail_envelope(execute_id, fail.code, fail.message, fail.data)
        if accepts_event_stream(request.scope):
            headers, body = STREAM_HEADERS, sse.encode_event(ENVELOPE_PREFIX + body)
        else:
            headers = JSON_HEADERS
        log_execute(
            execute_id,
            request.url.path.lstrip("/"),
            Outcome(outcome="fail", duration=0.0, fail_code=fail.code),
        )
        named = {name.decode(): value.decode() for name, value in headers}
        named.update(extra or {})
        return Response(body, media_type=named.pop("content-type"), headers=named)


class _StreamCount:
    """Open streams by client address, against a cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open(self, client: str) -> bool:
        """Count one more stream of `client`, unless it holds `limit` already."""
        count = self._open.get(client, 0)
        if count >= self.limit:
            return False
        self._open[client] = count + 1
        return True

    def close(self, client: str) -> None:
        count = self._open.pop(client) - 1
        if count:
            self._open[client] = count


def _client_address(scope: Scope) -> str:
    client = cast("dict[str, Any]", scope).get("client")  # optional in ASGI
    return str(client[0]) if client else ""


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1")
    return ""


def _is_json(content_type: str) -> bool:
    """`application/json` or a `+json` type, whatever its parameters (`charset=utf-8`)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None and inspect.isawaitable(value):
        await value


def accepts_event_stream(scope: Scope) -> bool:
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

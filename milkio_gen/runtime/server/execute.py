"""One execute, from request to answer: hooks, params, the action, and the line that logs it.

The order of a call: the method and path; the call kind (plain or stream) and the content
type, read from the headers alone; the cap of streams per client; then the app's
`before_execute` hooks, so a caller they refuse learns nothing of the params; the body and
the params; the action (each chunk through the `on_chunk` hooks). Once the answer is
complete, whatever ended it, come the `after_execute` hooks, the cleanup of the call's
dependencies and subscriptions, and one log line.
"""

from __future__ import annotations

import asyncio
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
from .binding import API_ROUTE, ApiBinding, ApiRoute, Fail, FailBook, ParamsRejected
from .execute_id import new_execute_id
from .observe import SpanNotes, log_execute
from .stream import StopReason, StreamLimits, StreamPump

if TYPE_CHECKING:
    from ...server_settings import ServerSettings

__all__ = ["CallEnded", "Executor", "accepts_event_stream"]

logger = logging.getLogger("milkio_gen.server")

JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-cache")]
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


class CallEnded(Exception):
    """What a call's generator dependencies are thrown when it ended with a fail that is no
    exception of its own (a refusal, bad params) or the server stopped its stream, so that a
    dependency that commits after its `yield` rolls back instead."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


class _HookFailed(Exception):
    """An `on_chunk` hook's exception, carried out of the stream with the hook that raised."""

    def __init__(self, hook: RegisteredHook, error: Exception) -> None:
        super().__init__(error)
        self.hook = hook
        self.error = error


class _Call:
    """What one execute has come to so far, for its outcome."""

    __slots__ = (
        "context",
        "counted",
        "error",
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
        self.started = time.perf_counter()
        self.wants_stream = False
        self.context: Context[Any] | None = None
        self.counted: str | None = None
        """The client address whose open streams count this one."""
        self.params: Any = None
        self.fail_code: str | None = None
        self.error: BaseException | None = None
        """What ended the call without success, for its dependencies' cleanup."""
        self.pump: StreamPump | None = None
        self.stop_reason: StopReason | None = None
        self.result: Any = None

    def outcome(self) -> Outcome:
        status = "stopped" if self.stop_reason else "fail" if self.fail_code else "success"
        return Outcome(
            status=status,
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
        span = SpanNotes.of_request(call.execute_id, path)
        if span is not None:
            send = span.wrap(send, call.outcome)
        try:
            # A stream runs from here, not from the calls that prepared it: an idle stream
            # holds every suspended frame, thousands at once.
            pump = await self._execute(call, binding, scope, receive, send)
            if pump is not None:
                handshake = ENVELOPE_PREFIX + success_envelope(call.execute_id, HANDSHAKE_DATA)
                # Framed at once: orjson's own result would hold 4 KiB for the stream's life.
                await pump.run(_start(STREAM_HEADERS), sse.encode_event(handshake))
        except asyncio.CancelledError:
            call.stop_reason = call.stop_reason or "shutdown"  # the server gave up on it
            call.error = call.error or CallEnded("the server stopped the call")
            raise
        except Exception as error:
            # Past the action's own errors, which are fails already: a bug, or a send that
            # failed; the client may have part of an answer, so nothing more is sent.
            logger.exception(
                "[%s] %s: the call failed",
                call.execute_id,
                path,
                extra={"execute_id": call.execute_id},
            )
            call.fail_code = call.fail_code or "INTERNAL_SERVER_ERROR"
            call.error = call.error or error
        finally:
            if call.counted is not None and self._streams_per_client is not None:
                self._streams_per_client.close(call.counted)
            try:
                await self._finish(call)
            finally:
                outcome = call.outcome()
                if span is not None:
                    span.note(outcome)
                log_execute(call.execute_id, call.path, outcome)
                current_execute_id.reset(token)

    async def _finish(self, call: _Call) -> None:
        """The after hooks, then what the call holds: its dependencies and subscriptions."""
        context = call.context
        if context is None:
            return
        try:
            outcome = call.outcome()
            for hook in self._after:
                try:
                    await _maybe_await(hook.function(context, outcome))
                except Exception:
                    self._log_hook_error(call, hook)
        finally:
            error = call.error
            if error is None and call.fail_code is not None:
                error = CallEnded(f"the call failed with {call.fail_code}")
            elif error is None and call.stop_reason is not None:
                error = CallEnded(f"the server stopped the stream: {call.stop_reason}")
            try:
                await context.close(error)
            except Exception:
                logger.exception(
                    "[%s] %s: cleaning up the call's dependencies raised",
                    call.execute_id,
                    call.path,
                    extra={"execute_id": call.execute_id},
                )

    async def _execute(
        self,
        call: _Call,
        binding: ApiBinding | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> StreamPump | None:
        """Answer the call, or make the stream that will (`handle` runs it)."""
        call.wants_stream = accepts_event_stream(scope)
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self._refuse(call, send, self.fails.make("NOT_ALLOW_METHOD"))
        if binding is None:
            return await self._refuse(call, send, self.fails.make("NOT_FOUND"))
        if binding.is_stream != call.wants_stream:
            return await self._refuse(call, send, self._kind_mismatch(binding))
        # A form or a text post is what a page of another site may send without asking the
        # browser first: refused before any hook runs, body or not.
        received = _content_type(scope)
        if received and not _is_json(received):
            data = {"received": received, "expected": "application/json"}
            return await self._refuse(call, send, self.fails.make("UNSUPPORTED_MEDIA_TYPE", data))
        if binding.is_stream and self._streams_per_client is not None:
            client = _client_address(scope)
            if not self._streams_per_client.open(client):
                limit = {"limit": self._streams_per_client.limit}
                return await self._refuse(call, send, self.fails.make("TOO_MANY_STREAMS", limit))
            call.counted = client  # `handle` lets it go when the call ends
        return await self._run(call, binding, scope, receive, send)

    async def _run(
        self, call: _Call, binding: ApiBinding, scope: Scope, receive: Receive, send: Send
    ) -> StreamPump | None:
        try:
            context = call.context = self.context_type(
                execute_id=call.execute_id,
                path=binding.path,
                meta=binding.meta,
                scope=scope,
                receive=receive,
            )
        except Exception as error:
            return await self._refuse(call, send, self._fail_for(error, call))
        refused = await self._run_before(context, call)
        if refused is None:
            refused = await self._read_params(call, binding, receive)
        if refused is not None:
            return await self._refuse(call, send, refused)

        if not binding.is_stream:
            try:
                result = await binding.call(call.params, context)
                data = binding.encode_output(result)
            except asyncio.CancelledError as error:
                if _cancelled_from_outside():
                    raise
                return await self._refuse(call, send, self._fail_for(error, call))
            except Exception as error:
                return await self._refuse(call, send, self._fail_for(error, call))
            call.result = result
            return await _send_response(send, JSON_HEADERS, success_envelope(call.execute_id, data))

        try:
            chunks = binding.call(call.params, context)
        except Exception as error:
            return await self._refuse(call, send, self._fail_for(error, call))
        return self._stream(call, binding, context, chunks, receive, send)

    async def _read_params(self, call: _Call, binding: ApiBinding, receive: Receive) -> Fail | None:
        """Read the body into `call.params`; or the fail that refuses it."""
        settings = self.settings
        try:
            body = await _read_body(receive, settings.max_body_size, settings.body_timeout)
        except _BodyTooLarge:
            return self.fails.make("PAYLOAD_TOO_LARGE", {"limit": settings.max_body_size})
        except _BodyTooSlow:
            return self.fails.make("REQUEST_TIMEOUT", {"seconds": settings.body_timeout})
        try:
            call.params = binding.parse_params(body)
        except ParamsRejected as rejected:
            return self.fails.make("TYPE_SAFE_ERROR", rejected.data)
        except Exception as error:  # a validator of the app's that raised something odd
            return self._fail_for(error, call)
        return None

    async def _refuse(self, call: _Call, send: Send, fail: Fail) -> None:
        """Answer with `fail` alone, as a plain call or a stream call expects it."""
        call.fail_code = fail.code
        headers, body = _refusal(call.execute_id, fail, stream=call.wants_stream)
        await _send_response(send, headers, body)

    def _stream(
        self,
        call: _Call,
        binding: ApiBinding,
        context: Context[Any],
        chunks: Any,
        receive: Receive,
        send: Send,
    ) -> StreamPump:
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
            on_error=lambda error: closing(self._fail_for(error, call)),
            on_stop=on_stop,
            limits=StreamLimits(
                buffer_events=self.settings.stream_buffer_events,
                buffer_bytes=self.settings.stream_buffer_bytes,
                ping_interval=self.settings.ping_interval,
                send_timeout=self.settings.send_timeout,
                max_duration=max_duration,
            ),
        )
        return pump

    async def _run_before(self, context: Context[Any], call: _Call) -> Fail | None:
        """The fail a `before_execute` hook ended the call with, if one did."""
        for hook in self._before:
            try:
                await _maybe_await(hook.function(context))
            except Exception as error:
                return self._fail_for(error, call, hook)
        return None

    def _chunk_hooks(self, context: Context[Any]) -> Callable[[Any], Any] | None:
        """One callable for the `on_chunk` hooks; a plain function when none is async, so a
        chunk costs no coroutine. What a hook raises leaves tagged with the hook."""
        hooks = self._on_chunk
        if not hooks:
            return None
        if not any(inspect.iscoroutinefunction(hook.function) for hook in hooks):

            def run_sync(chunk: Any) -> None:
                for hook in hooks:
                    try:
                        hook.function(context, chunk)
                    except Exception as error:
                        raise _HookFailed(hook, error) from error

            return run_sync

        # Which to await is known now, not asked of each result: a chunk is microseconds.
        plan = [(hook, inspect.iscoroutinefunction(hook.function)) for hook in hooks]

        async def run_all(chunk: Any) -> None:
            for hook, is_async in plan:
                try:
                    if is_async:
                        await hook.function(context, chunk)
                    else:
                        hook.function(context, chunk)
                except Exception as error:
                    raise _HookFailed(hook, error) from error

        return run_all

    def _fail_for(
        self, error: BaseException, call: _Call, hook: RegisteredHook | None = None
    ) -> Fail:
        """The fail an exception of the action or a hook becomes; anything unexpected is
        logged, not sent."""
        if isinstance(error, _HookFailed):
            error, hook = error.error, error.hook
        call.error = error
        execute_id = call.execute_id
        if isinstance(error, Reject):
            try:
                return self.fails.make(error.code, error.data)
            except Exception:
                logger.exception(
                    "[%s] %s rejected with an undeclared code or wrong data: %r",
                    execute_id,
                    call.path,
                    error.code,
                    extra={"execute_id": execute_id},
                )
                return self.fails.make("INTERNAL_SERVER_ERROR")
        raiser = "the action"
        if hook is not None:
            raiser = f"{hook.kind} hook {getattr(hook.function, '__qualname__', '?')}"
        logger.error(
            "[%s] %s: %s raised",
            execute_id,
            call.path,
            raiser,
            exc_info=error,
            extra={"execute_id": execute_id},
        )
        return self.fails.make("INTERNAL_SERVER_ERROR")

    def _log_hook_error(self, call: _Call, hook: RegisteredHook) -> None:
        logger.exception(
            "[%s] %s: after_execute hook %s raised",
            call.execute_id,
            call.path,
            getattr(hook.function, "__qualname__", hook.function),
            extra={"execute_id": call.execute_id},
        )

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
        return self._refusal_response(request, self.fails.make("NOT_FOUND"))

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
        return self._refusal_response(request, fail, headers)

    def _refusal_response(
        self, request: Request[Any, Any, Any], fail: Fail, extra: dict[str, str] | None = None
    ) -> Response[bytes]:
        """`fail` as the answer to a call refused before its execute began (by a 404, by a
        middleware), logged as an execute is."""
        execute_id = new_execute_id()
        headers, body = _refusal(execute_id, fail, stream=accepts_event_stream(request.scope))
        log_execute(
            execute_id,
            _api_path(request),
            Outcome(status="fail", duration=0.0, fail_code=fail.code),
        )
        named = {name.decode(): value.decode() for name, value in headers}
        named.update(extra or {})
        return Response(body, media_type=named.pop("content-type"), headers=named)


def _refusal(
    execute_id: str, fail: Fail, *, stream: bool
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of an answer that is `fail` alone: a stream of its envelope for a
    stream call, the envelope for a plain one."""
    envelope = fail_envelope(execute_id, fail.code, fail.message, fail.data)
    if stream:
        return STREAM_HEADERS, sse.encode_event(ENVELOPE_PREFIX + envelope)
    return JSON_HEADERS, envelope


def _api_path(request: Request[Any, Any, Any]) -> str:
    """The API a request was routed to, else the path it asked for."""
    handler = cast("dict[str, Any]", request.scope).get("route_handler")
    route = getattr(handler, "opt", {}).get(API_ROUTE) if handler is not None else None
    if isinstance(route, ApiRoute):
        return route.binding.path
    return request.url.path.strip("/")


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


def _cancelled_from_outside() -> bool:
    """Whether the running task is being cancelled (a shutdown), rather than the action's own
    `await` having been cancelled by something it started."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _maybe_await(value: Awaitable[None] | None) -> None:
    if value is not None and inspect.isawaitable(value):
        await value


def accepts_event_stream(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept" and b"text/event-stream" in value:
            return True
    return False


async def _read_body(receive: Receive, limit: int, seconds: float | None) -> bytes:
    """The whole body, refused past `limit` bytes or when it takes over `seconds` to arrive
    (a client trickling it holds a connection as a slow head would)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
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
    except TimeoutError:
        raise _BodyTooSlow from None


def _start(headers: list[tuple[bytes, bytes]]) -> HTTPResponseStartEvent:
    return {"type": "http.response.start", "status": 200, "headers": headers}


async def _send_response(send: Send, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(_start([*headers, (b"content-length", str(len(body)).encode())]))
    await send({"type": "http.response.body", "body": body, "more_body": False})

"""The async client core on httpx, which generated `AsyncClient`s extend with typed methods."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import time
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from ..sse import ServerSentEvent, SSEDecoder
from .base import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    AsyncHeadersFunction,
    ClientBase,
    HeadersFailed,
    StreamCallBase,
    StreamTimeouts,
    Timeout,
    returned_headers,
)
from .protocol import NO_CHUNK
from .results import ExecuteResult
from .retry import Retry
from .spec import ApiSpec

__all__ = ["AsyncClientCore", "AsyncStreamCall"]

ChunkT = TypeVar("ChunkT")
FailT = TypeVar("FailT")


def _is_running(generator: AsyncGenerator[Any, None]) -> bool:
    """Whether a task is inside the generator now: then it cannot be closed, only its socket."""
    return bool(getattr(generator, "ag_running", False))


class AsyncStreamCall(StreamCallBase[ChunkT, FailT, AsyncGenerator[ChunkT, None]]):
    """A stream call: `stream` yields typed chunks, `get_result()` tells how it ended.

    The request is sent when `stream` is first iterated. Breaking out of the loop, calling
    `await call.stream.aclose()` or leaving `async with ... as call:` closes the connection,
    which stops the action on the server.
    """

    _client: AsyncClientCore[FailT]

    @property
    def stream(self) -> AsyncGenerator[ChunkT, None]:
        return self._stream_from(self._run)

    @functools.cached_property
    def _woken(self) -> asyncio.Event:
        return asyncio.Event()

    async def aclose(self) -> None:
        """Stop the stream and close its connection, also while another task reads it."""
        self._stopping = True
        self._woken.set()
        current = self._current()
        if current is not None and not _is_running(current):
            await current.aclose()
        elif self._response is not None:
            await self._response.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[ChunkT, None]:
        reader = self._reader
        attempt = 0
        while not self._stopping:
            received = reader.chunks
            # The events of a read come as one batch: one generator step per read, not per
            # chunk; each is decoded only as it is given out, so that the last id is the
            # caller's last chunk's.
            async with contextlib.aclosing(self._try()) as batches:
                async for events in batches:
                    for event in events:
                        chunk = reader.on_event(event)
                        if chunk is not NO_CHUNK:
                            yield chunk
                        if reader.ended:
                            break
            if self._reader.chunks > received:
                attempt = 0  # the try made progress: the tries in a row start again
            delay = self._next_try_delay(attempt)
            if delay is None:
                return
            # A stop during the wait ends the call at once.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._woken.wait()
            attempt += 1
            self._reader.begin_try()

    async def _try(self) -> AsyncGenerator[list[ServerSentEvent], None]:
        http, reader = self._client.http, self._reader
        self._begin_reading()
        try:
            # The handshake's deadline bounds the headers function too: one that hangs ends
            # the try as a server that does not answer would.
            async with asyncio.timeout_at(_loop_time(self._deadline())):
                client_headers = await _made_headers(self._client.headers)
                if self._stopping:
                    return  # stopped while the headers were made: nothing to send
                request = self._request(http, client_headers)
                response = self._response = await http.send(request, stream=True)
        except TimeoutError:
            reader.on_timeout(self._deadline_reason())
            return
        except HeadersFailed as error:
            reader.on_headers_failed(error)
            return
        except httpx.HTTPError as error:
            self._on_read_error(error)
            return
        try:
            if self._stopping or not self._check_response(response):
                return
            decoder = SSEDecoder()
            raw_reads = response.aiter_raw().__aiter__()
            while True:
                try:
                    async with asyncio.timeout_at(_loop_time(self._deadline())):
                        raw = await anext(raw_reads)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    reader.on_timeout(self._deadline_reason())
                    return
                events = decoder.feed(raw)
                if events:
                    yield events
                    self._moved()  # the caller's time with the chunks is not the server's
                    if reader.ended:
                        return
            reader.on_end(truncated=decoder.has_pending())
        except Exception as error:
            self._on_read_error(error)
        finally:
            self._response = None
            await response.aclose()


@functools.cache
def _import_the_async_backend() -> None:
    """httpx imports anyio's asyncio backend on its first request, which costs a fresh
    process about 25 ms; a client pays it when it is made instead."""
    with contextlib.suppress(ImportError):  # a private module of anyio: only a head start
        importlib.import_module("anyio._backends._asyncio")


async def _made_headers(headers: Mapping[str, str] | AsyncHeadersFunction) -> Mapping[str, str]:
    """The client's headers for one try: a function makes them anew each time."""
    if not callable(headers):
        return headers
    try:
        made = headers()
        return returned_headers(made if isinstance(made, Mapping) else await made)
    except Exception as error:
        raise HeadersFailed(error) from error


def _loop_time(deadline: tuple[float, str] | None) -> float | None:
    """A monotonic deadline on the event loop's clock, which may differ (uvloop)."""
    if deadline is None:
        return None
    return asyncio.get_running_loop().time() + deadline[0] - time.monotonic()


class AsyncClientCore(ClientBase[FailT]):
    """Connection, defaults and the calls by spec; generated clients add the typed surface."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        fail_type: Any,
        headers: Mapping[str, str] | AsyncHeadersFunction | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        retry: Retry | None = None,
        retryable_codes: frozenset[str] = frozenset(),
        stream_timeouts: StreamTimeouts | None = None,
    ) -> None:
        super().__init__(
            base_url,
            fail_type=fail_type,
            timeout=timeout,
            retry=retry,
            retryable_codes=retryable_codes,
            stream_timeouts=stream_timeouts,
        )
        self.headers: Mapping[str, str] | AsyncHeadersFunction = (
            headers if callable(headers) else dict(headers or {})
        )
        """Sent with every call: a mapping, or a function called before every try."""
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=timeout)
        _import_the_async_backend()

    async def execute_spec(
        self,
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: Timeout | None,  # noqa: ASYNC109 - per call, as Milkio's client
        retry: Retry | None = None,
    ) -> ExecuteResult[ChunkT, FailT]:
        retry = retry or self.retry
        attempt = 0
        while True:
            outcome: httpx.Response | httpx.HTTPError | HeadersFailed
            try:
                own = await _made_headers(self.headers)
                request = self._plain_request(self.http, spec, params, (own, headers), timeout)
                outcome = await self.http.send(request)
                result = self._plain_result(outcome, spec)
            except (httpx.HTTPError, HeadersFailed) as error:
                outcome, result = error, self._network_error(error)
            delay = self._plain_retry_delay(retry, attempt, outcome, result)
            if delay is None:
                return result
            await asyncio.sleep(delay)
            attempt += 1

    def execute_stream_spec(
        self,
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: Timeout | None,
        retry: Retry | None = None,
    ) -> AsyncStreamCall[ChunkT, FailT]:
        return AsyncStreamCall(self, spec, params, headers, timeout, retry)

    async def aclose(self) -> None:
        """Close the connections, if the client made its httpx client itself."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

"""The sync client core on httpx: the twin of `async_client`, for code without an event loop."""

from __future__ import annotations

import contextlib
import functools
import inspect
import socket
import threading
import time
from collections.abc import Callable, Generator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from ..sse import SSEDecoder
from .base import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    ClientBase,
    HeadersFailed,
    HeadersFunction,
    StreamCallBase,
    StreamTimeouts,
    Timeout,
    returned_headers,
)
from .protocol import NO_CHUNK
from .results import ExecuteResult
from .retry import Retry
from .spec import ApiSpec

__all__ = ["ClientCore", "StreamCall"]

ChunkT = TypeVar("ChunkT")
FailT = TypeVar("FailT")


def _interrupt(response: httpx.Response) -> None:
    """Wake a thread blocked reading `response`: closing a socket does not, shutting it does."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    else:
        response.close()


class StreamCall(StreamCallBase[ChunkT, FailT, Generator[ChunkT, None, None]]):
    """A stream call: `stream` yields typed chunks, `get_result()` tells how it ended.

    The request is sent when `stream` is first iterated. Breaking out of the loop, calling
    `call.stream.close()` or leaving `with ... as call:` closes the connection, which stops
    the action on the server.
    """

    _client: ClientCore[FailT]

    @property
    def stream(self) -> Generator[ChunkT, None, None]:
        return self._stream_from(self._run)

    @functools.cached_property
    def _woken(self) -> threading.Event:
        return threading.Event()

    def close(self) -> None:
        """Stop the stream and close its connection, also while another thread reads it."""
        self._stopping = True
        self._woken.set()
        current = self._current()
        if current is not None and inspect.getgeneratorstate(current) != inspect.GEN_RUNNING:
            current.close()
        elif self._response is not None:
            _interrupt(self._response)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> Generator[ChunkT, None, None]:
        attempt = 0
        while not self._stopping:
            received = self._reader.chunks
            yield from self._try()
            if self._reader.chunks > received:
                attempt = 0  # the try made progress: the tries in a row start again
            delay = self._next_try_delay(attempt)
            if delay is None:
                return
            self._woken.wait(delay)  # a stop during the wait ends the call at once
            attempt += 1
            self._reader.begin_try()

    def _try(self) -> Generator[ChunkT, None, None]:
        http, reader = self._client.http, self._reader
        self._begin_reading()
        try:
            client_headers = _made_headers(self._client.headers)
        except HeadersFailed as error:
            reader.on_headers_failed(error)
            return
        if self._stopping:
            return  # stopped while the headers were made: nothing to send
        request = self._request(http, client_headers)
        deadline = self._deadline()
        if deadline is not None:
            # Until the headers come, a socket read timeout is the only bound a sync read has.
            request.extensions["timeout"] = {
                **request.extensions.get("timeout", {}),
                "read": max(0.0, deadline[0] - time.monotonic()),
            }
        try:
            response = self._response = http.send(request, stream=True)
        except httpx.ReadTimeout:
            reader.on_timeout(self._deadline_reason())
            return
        except httpx.HTTPError as error:
            self._on_read_error(error)
            return
        # The body's reads start later and read the timeout then: from here the watchdog
        # bounds them, counting chunks, not bytes (pings).
        request.extensions["timeout"] = {**request.extensions.get("timeout", {}), "read": None}
        watchdog = _Watchdog(self._deadline, response)
        try:
            if self._stopping or not self._check_response(response):
                return
            decoder = SSEDecoder()
            for raw in response.iter_raw():
                for event in decoder.feed(raw):
                    self._moved()
                    handshaken = reader.result is not None
                    chunk = reader.on_event(event)
                    if not handshaken:
                        watchdog.poke()  # after the handshake, a nearer deadline may apply
                    if chunk is not NO_CHUNK:
                        yield chunk
                        self._moved()  # the caller's time with a chunk is not the server's
                    if reader.ended:
                        return
            reader.on_end(truncated=decoder.has_pending())
        except Exception as error:
            if watchdog.fired is None:
                self._on_read_error(error)
        finally:
            watchdog.stop()
            if watchdog.fired is not None:
                reader.on_timeout(watchdog.fired)
            self._response = None
            response.close()


def _made_headers(headers: Mapping[str, str] | HeadersFunction) -> Mapping[str, str]:
    """The client's headers for one try: a function makes them anew each time."""
    if not callable(headers):
        return headers
    try:
        made: object = headers()
        if inspect.isawaitable(made):
            if inspect.iscoroutine(made):
                made.close()  # so that no warning says it was never awaited
            raise TypeError("it is async: give it to an AsyncClient, or make it sync")
        return returned_headers(made)
    except Exception as error:
        raise HeadersFailed(error) from error


class _Watchdog:
    """Ends a read that blocks past the stream's deadline: a sync read has no deadline of its
    own, and a socket read timeout would count keep-alive pings as chunks."""

    def __init__(
        self, deadline: Callable[[], tuple[float, str] | None], response: httpx.Response
    ) -> None:
        self._deadline = deadline
        self._response = response
        self._done = threading.Event()
        self._wake = threading.Event()
        self.fired: str | None = None
        if deadline() is not None:
            threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._done.is_set():
            deadline = self._deadline()
            if deadline is None:
                return
            wait = deadline[0] - time.monotonic()
            if wait <= 0:
                self.fired = deadline[1]
                _interrupt(self._response)
                return
            self._wake.wait(wait)
            self._wake.clear()

    def poke(self) -> None:
        """The deadline may have come nearer: look again."""
        self._wake.set()

    def stop(self) -> None:
        self._done.set()
        self._wake.set()


class ClientCore(ClientBase[FailT]):
    """Connection, defaults and the calls by spec; generated clients add the typed surface."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        fail_type: Any,
        headers: Mapping[str, str] | HeadersFunction | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        retry: Retry | None = None,
        retryable_codes: frozenset[str] = frozenset(),
        stream_timeouts: StreamTimeouts | None = None,
    ) -> None:
        if inspect.iscoroutinefunction(headers):
            raise TypeError("Client takes a sync headers function; an async one needs AsyncClient")
        super().__init__(
            base_url,
            fail_type=fail_type,
            timeout=timeout,
            retry=retry,
            retryable_codes=retryable_codes,
            stream_timeouts=stream_timeouts,
        )
        self.headers: Mapping[str, str] | HeadersFunction = (
            headers if callable(headers) else dict(headers or {})
        )
        """Sent with every call: a mapping, or a function called before every try."""
        self._owns_http = http_client is None
        self.http = http_client or httpx.Client(timeout=timeout)

    def execute_spec(
        self,
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: Timeout | None,
        retry: Retry | None = None,
    ) -> ExecuteResult[ChunkT, FailT]:
        retry = retry or self.retry
        attempt = 0
        while True:
            outcome: httpx.Response | httpx.HTTPError | HeadersFailed
            try:
                own = _made_headers(self.headers)
                request = self._plain_request(self.http, spec, params, (own, headers), timeout)
                outcome = self.http.send(request)
                result = self._plain_result(outcome, spec)
            except (httpx.HTTPError, HeadersFailed) as error:
                outcome, result = error, self._network_error(error)
            delay = self._plain_retry_delay(retry, attempt, outcome, result)
            if delay is None:
                return result
            time.sleep(delay)
            attempt += 1

    def execute_stream_spec(
        self,
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: Timeout | None,
        retry: Retry | None = None,
    ) -> StreamCall[ChunkT, FailT]:
        return StreamCall(self, spec, params, headers, timeout, retry)

    def close(self) -> None:
        """Close the connections, if the client made its httpx client itself."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

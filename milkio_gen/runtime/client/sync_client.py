"""The sync client core on httpx: the twin of `async_client`, for code without an event loop."""

from __future__ import annotations

import contextlib
import inspect
import socket
import time
from collections.abc import Generator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from ..sse import SSEDecoder
from .base import (
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    ClientBase,
    StreamCallBase,
    StreamTimeouts,
    Timeout,
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

    def close(self) -> None:
        """Stop the stream and close its connection, also while another thread reads it."""
        self._stopping = True
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
        while True:
            received = self._reader.chunks
            yield from self._try()
            if self._reader.chunks > received:
                attempt = 0  # the try made progress: the tries in a row start again
            delay = self._next_try_delay(attempt)
            if delay is None:
                return
            time.sleep(delay)
            attempt += 1
            self._reader.begin_try()

    def _try(self) -> Generator[ChunkT, None, None]:
        http, reader = self._client.http, self._reader
        self._begin_reading()
        try:
            response = self._response = http.send(self._request(http), stream=True)
        except httpx.HTTPError as error:
            self._on_read_error(error)
            return
        try:
            if not self._check_response(response):
                return
            decoder = SSEDecoder()
            for raw in response.iter_raw():
                # Reads cannot be given a deadline each here: a silence past the read timeout
                # raises, and pings arriving past a deadline end the stream.
                deadline = self._deadline()
                if deadline is not None and time.monotonic() > deadline[0]:
                    reader.on_timeout(deadline[1])
                    return
                for event in decoder.feed(raw):
                    self._moved()
                    chunk = reader.on_event(event)
                    if chunk is not NO_CHUNK:
                        yield chunk
                    if reader.ended:
                        return
            reader.on_end(truncated=decoder.has_pending())
        except Exception as error:
            self._on_read_error(error)
        finally:
            self._response = None
            response.close()


class ClientCore(ClientBase[FailT]):
    """Connection, defaults and the calls by spec; generated clients add the typed surface."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        fail_type: Any,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        retry: Retry | None = None,
        retryable_codes: frozenset[str] = frozenset(),
        stream_timeouts: StreamTimeouts | None = None,
    ) -> None:
        super().__init__(
            base_url,
            fail_type=fail_type,
            headers=headers,
            timeout=timeout,
            retry=retry,
            retryable_codes=retryable_codes,
            stream_timeouts=stream_timeouts,
        )
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
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = self.http.send(
                    self._plain_request(self.http, spec, params, headers, timeout)
                )
                result = self._plain_result(outcome, spec)
            except httpx.HTTPError as error:
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

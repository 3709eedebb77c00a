"""The async client core on httpx, which generated `AsyncClient`s extend with typed methods."""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from ..sse import SSEDecoder
from .protocol import JSON_ACCEPT, NO_CHUNK, STREAM_ACCEPT, Codec, StreamReader
from .results import ExecuteResult, StreamResult
from .spec import ApiSpec

__all__ = ["AsyncClientCore", "AsyncStreamCall"]

ChunkT = TypeVar("ChunkT")
FailT = TypeVar("FailT")

DEFAULT_BASE_URL = "http://127.0.0.1:9000"
DEFAULT_TIMEOUT = 30.0


def stream_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    """A stream may stay silent for as long as the server likes: no read timeout."""
    base = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
    return httpx.Timeout(connect=base.connect, read=None, write=base.write, pool=base.pool)


class AsyncStreamCall(Generic[ChunkT, FailT]):
    """A stream call: `stream` yields typed chunks, `get_result()` tells how it ended.

    The request is sent when `stream` is first iterated. Breaking out of the loop, calling
    `await call.stream.aclose()` or leaving `async with ... as call:` closes the connection,
    which stops the action on the server.
    """

    def __init__(
        self,
        client: AsyncClientCore[FailT],
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
    ) -> None:
        self._client = client
        self._spec = spec
        self._params = params
        self._headers = headers
        self._timeout = timeout
        self._reader = StreamReader[ChunkT, FailT](client.codec, spec)
        # Only the loop holds the generator, so `break` lets it be collected and closed.
        self._stream: weakref.ref[AsyncGenerator[ChunkT, None]] | None = None
        self._started = False

    @property
    def stream(self) -> AsyncGenerator[ChunkT, None]:
        current = self._stream() if self._stream else None
        if current is not None:
            return current
        if self._started:
            raise RuntimeError("this call's stream was already consumed; start a new call")
        generator = self._run()
        self._stream = weakref.ref(generator)
        return generator

    def get_result(self) -> StreamResult[FailT]:
        """The result known so far: success after the handshake, else the fail that ended it."""
        if self._reader.result is None:
            raise RuntimeError("no result yet: iterate `call.stream` first")
        return self._reader.result

    async def aclose(self) -> None:
        """Stop the stream and close its connection."""
        current = self._stream() if self._stream else None
        if current is not None:
            await current.aclose()

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
        self._started = True
        client, reader = self._client, self._reader
        request = client.http.build_request(
            "POST",
            client.url(self._spec.path),
            content=client.codec.request_body(self._params),
            headers=client.codec.request_headers(STREAM_ACCEPT, client.headers, self._headers),
            timeout=stream_timeout(self._timeout or client.timeout),
        )
        try:
            response = await client.http.send(request, stream=True)
        except httpx.HTTPError as error:
            reader.on_network_error(error)
            return
        try:
            content_type = response.headers.get("content-type", "")
            unexpected = client.codec.unexpected_response(
                response.status_code, content_type, STREAM_ACCEPT
            )
            if unexpected is not None:
                reader.result, reader.ended = unexpected, True
                return
            decoder = SSEDecoder()
            async for raw in response.aiter_raw():
                for event in decoder.feed(raw):
                    chunk = reader.on_event(event)
                    if chunk is not NO_CHUNK:
                        yield chunk
                    if reader.ended:
                        return
            reader.on_end(truncated=decoder.has_pending())
        except httpx.HTTPError as error:
            reader.on_network_error(error)
        finally:
            await response.aclose()


class AsyncClientCore(Generic[FailT]):
    """Connection, defaults and the untyped calls; generated clients add the typed surface."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        fail_type: Any,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.codec = Codec[FailT](fail_type)
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=timeout)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    async def execute_spec(
        self,
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,  # noqa: ASYNC109 - per call, as Milkio's client
    ) -> ExecuteResult[ChunkT, FailT]:
        try:
            response = await self.http.post(
                self.url(spec.path),
                content=self.codec.request_body(params),
                headers=self.codec.request_headers(JSON_ACCEPT, self.headers, headers),
                timeout=timeout or self.timeout,
            )
        except httpx.HTTPError as error:
            return self.codec.network_error(f"{type(error).__name__}: {error}".rstrip(": "))
        unexpected = self.codec.unexpected_response(
            response.status_code, response.headers.get("content-type", ""), JSON_ACCEPT
        )
        return unexpected or self.codec.plain_result(spec, response.content)

    def execute_stream_spec(
        self,
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
    ) -> AsyncStreamCall[ChunkT, FailT]:
        return AsyncStreamCall(self, spec, params, headers, timeout)

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

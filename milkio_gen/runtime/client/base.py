"""What the async client and its sync twin share: settings, requests, and stream bookkeeping."""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, cast

import httpx

from .protocol import JSON_ACCEPT, STREAM_ACCEPT, Codec, StreamReader
from .results import ExecuteResult, Failure, StreamResult
from .retry import RETRY_STATUSES, Retry, retry_after
from .spec import ApiSpec

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "AsyncHeadersFunction",
    "ClientBase",
    "HeadersFailed",
    "HeadersFunction",
    "StreamCallBase",
    "StreamTimeouts",
    "returned_headers",
]

ChunkT = TypeVar("ChunkT")
FailT = TypeVar("FailT")
GeneratorT = TypeVar("GeneratorT")

DEFAULT_BASE_URL = "http://127.0.0.1:9000"
DEFAULT_TIMEOUT = 30.0

Timeout = float | httpx.Timeout

HeadersFunction: TypeAlias = Callable[[], Mapping[str, str]]
"""Makes a `Client`'s headers anew before every request, reconnect and retry."""

AsyncHeadersFunction: TypeAlias = Callable[[], Awaitable[Mapping[str, str]] | Mapping[str, str]]
"""Makes an `AsyncClient`'s headers anew before every request, reconnect and retry: an
`async def`, or a plain function."""


class HeadersFailed(Exception):
    """The client's headers function raised: the request was not sent, and the call ends with a
    `NETWORK_ERROR` that says why."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"the headers function failed: {_error_text(error)}")


def returned_headers(made: object) -> Mapping[str, str]:
    """What a headers function returned, checked at run time: code that is not type-checked
    may return anything."""
    if not isinstance(made, Mapping):
        raise TypeError(f"it returned {type(made).__name__}, not a mapping of headers")
    return cast(Mapping[str, str], made)


def _stream_timeout(timeout: Timeout, read: float | None) -> httpx.Timeout:
    """A stream's reads wait as `StreamTimeouts` say, not as long as a plain call's."""
    base = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")


@dataclass(frozen=True, slots=True)
class StreamTimeouts:
    """How long a stream may keep its client waiting; each end is a retryable NETWORK_ERROR.

    Args:
        handshake: seconds from the request to the handshake (Milkio's default, 6).
        idle: seconds between two chunks; keep-alive pings do not count as chunks.
        total: seconds for the whole call, retries included.
    """

    handshake: float | None = 6.0
    idle: float | None = None
    total: float | None = None


class ClientBase(Generic[FailT]):
    """Base URL, timeout and retries, and how requests and answers are made and read; each
    twin keeps its own `headers`, whose functions are sync or async as the twin is."""

    def __init__(
        self,
        base_url: str,
        *,
        fail_type: Any,
        timeout: Timeout,
        retry: Retry | None = None,
        retryable_codes: frozenset[str] = frozenset(),
        stream_timeouts: StreamTimeouts | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self.stream_timeouts = stream_timeouts or StreamTimeouts()
        self.codec = Codec[FailT](fail_type, retryable_codes)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _plain_request(
        self,
        http: httpx.Client | httpx.AsyncClient,
        spec: ApiSpec[Any],
        params: Any,
        headers: tuple[Mapping[str, str], Mapping[str, str] | None],
        timeout: Timeout | None,
    ) -> httpx.Request:
        """`headers`: the client's, for this try, and the call's own."""
        return http.build_request(
            "POST",
            self.url(spec.path),
            content=self.codec.request_body(spec, params),
            headers=self.codec.request_headers(JSON_ACCEPT, *headers),
            timeout=timeout or self.timeout,
        )

    def _plain_result(
        self, response: httpx.Response, spec: ApiSpec[ChunkT]
    ) -> ExecuteResult[ChunkT, FailT]:
        unexpected = self.codec.unexpected_response(
            response.status_code, response.headers.get("content-type", ""), JSON_ACCEPT
        )
        if unexpected is not None:  # a `Failure` is falsy: `or` would read past it
            return unexpected
        return self.codec.plain_result(spec, response.content)

    def _plain_retry_delay(
        self,
        retry: Retry | None,
        attempt: int,
        outcome: httpx.Response | httpx.HTTPError | HeadersFailed,
        result: ExecuteResult[Any, FailT],
    ) -> float | None:
        """Seconds before making a plain call again, or None when its result stands.

        A plain call may have changed something, so it is made again only when it surely never
        ran (no headers to send, no connection, a 502/503/504), or when its fail says calling
        again may work.
        """
        if retry is None or attempt + 1 >= retry.attempts:
            return None
        if isinstance(outcome, Exception):
            never_sent = HeadersFailed | httpx.ConnectError | httpx.ConnectTimeout
            return retry.delay(attempt) if isinstance(outcome, never_sent) else None
        # Not a 504: the gateway gave up waiting, but the action may have run.
        if outcome.status_code in RETRY_STATUSES - {504}:
            return retry.delay(attempt, retry_after(outcome))
        server_fail = isinstance(result, Failure) and result.execute_id is not None
        if server_fail and self.codec.retryable(cast(Failure[FailT], result)):
            # A rate limit's fail says, in `Retry-After`, when calling again can succeed.
            return retry.delay(attempt, retry_after(outcome))
        return None

    def _network_error(self, error: BaseException) -> Failure[FailT]:
        if isinstance(error, HeadersFailed):
            return self.codec.network_error(str(error))
        return self.codec.network_error(_error_text(error))


class StreamCallBase(Generic[ChunkT, FailT, GeneratorT]):
    """A stream call's state, shared by both twins; each twin writes only its read loop."""

    def __init__(
        self,
        client: ClientBase[FailT],
        spec: ApiSpec[ChunkT],
        params: Any,
        headers: Mapping[str, str] | None,
        timeout: Timeout | None,
        retry: Retry | None = None,
    ) -> None:
        self._client = client
        self._spec = spec
        self._params = params
        self._headers = headers
        self._timeout = timeout
        self._retry = retry or client.retry
        self._reader = StreamReader[ChunkT, FailT](client.codec, spec)
        # Only the loop holds the generator, so `break` lets it be collected, which closes it.
        self._stream: weakref.ref[GeneratorT] | None = None
        self._started = False
        # Set while the response is open, so a stop from another task can close it.
        self._response: httpx.Response | None = None
        self._stopping = False
        self._timeouts = client.stream_timeouts
        self._call_started: float | None = None
        self._last_activity = 0.0

    def _current(self) -> GeneratorT | None:
        return self._stream() if self._stream else None

    def _stream_from(self, make: Callable[[], GeneratorT]) -> GeneratorT:
        current = self._current()
        if current is not None:
            return current
        if self._started:
            raise RuntimeError("this call's stream was already consumed; start a new call")
        generator = make()
        self._stream = weakref.ref(generator)
        return generator

    @property
    def last_event_id(self) -> str | None:
        """The id of the last event with one (a `Tracked` chunk), to resume after it."""
        return self._reader.last_event_id

    def get_result(self) -> StreamResult[FailT]:
        """The result known so far: success after the handshake, else the fail that ended it."""
        if self._reader.result is None:
            raise RuntimeError("no result yet: iterate `call.stream` first")
        return self._reader.result

    def _request(
        self, http: httpx.Client | httpx.AsyncClient, client_headers: Mapping[str, str]
    ) -> httpx.Request:
        """This try's request; `client_headers` are the client's, made for this try."""
        self._started = True
        client = self._client
        resume = self._reader.last_event_id
        return http.build_request(
            "POST",
            client.url(self._spec.path),
            content=client.codec.request_body(self._spec, self._params),
            headers=client.codec.request_headers(
                STREAM_ACCEPT,
                client_headers,
                self._headers,
                # Events are read as they come, undecoded: a proxy must not compress them.
                {"accept-encoding": "identity"},
                None if resume is None else {"last-event-id": resume},
            ),
            timeout=_stream_timeout(
                self._timeout or client.timeout,
                # Each read waits as long as the stream's deadline says, not a fixed time.
                read=None,
            ),
        )

    def _begin_reading(self) -> None:
        now = time.monotonic()
        if self._call_started is None:
            self._call_started = now
        self._last_activity = now

    def _deadline(self) -> tuple[float, str] | None:
        """The nearest moment the stream must have moved by (monotonic time), and what it
        means when it has not."""
        limits = self._timeouts
        found: list[tuple[float, str]] = []
        if self._reader.result is None and limits.handshake is not None:
            found.append(
                (
                    self._last_activity + limits.handshake,
                    f"no handshake within {limits.handshake:g}s",
                )
            )
        elif limits.idle is not None:
            found.append((self._last_activity + limits.idle, f"no chunk for {limits.idle:g}s"))
        if limits.total is not None and self._call_started is not None:
            found.append(
                (self._call_started + limits.total, f"the call ran past its {limits.total:g}s")
            )
        return min(found) if found else None

    def _deadline_reason(self) -> str:
        deadline = self._deadline()
        return deadline[1] if deadline else "timed out"

    def _moved(self) -> None:
        self._last_activity = time.monotonic()

    def _next_try_delay(self, attempt: int) -> float | None:
        """Seconds before the stream is tried again, or None when the call has ended."""
        retry = self._retry
        if self._stopping or retry is None or attempt + 1 >= retry.attempts:
            return None
        if not self._reader.may_retry():
            return None
        delay = retry.delay(attempt, self._reader.retry_after)
        total = self._timeouts.total
        if total is not None and self._call_started is not None:
            left = self._call_started + total - time.monotonic()
            if left <= delay:
                return None  # the next try would start past the call's total time
        return delay

    def _check_response(self, response: httpx.Response) -> bool:
        """Whether the answer is an event stream; if not, the stream ends with a fail."""
        # A proxy's 503 or a rate limit's fail may say when calling again can succeed.
        self._reader.retry_after = retry_after(response)
        unexpected = self._client.codec.unexpected_response(
            response.status_code, response.headers.get("content-type", ""), STREAM_ACCEPT
        )
        if unexpected is not None:
            self._reader.result, self._reader.ended = unexpected, True
        return unexpected is None

    def _on_read_error(self, error: Exception) -> None:
        """A read failed: the stop we asked for, or a broken connection."""
        if self._stopping:
            self._reader.ended = True
        elif isinstance(error, httpx.HTTPError):
            self._reader.on_network_error(error)
        else:
            raise error

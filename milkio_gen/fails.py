"""Fail codes: the typed ways an API can fail, built-in and declared by the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_type_hints

from pydantic import BaseModel

__all__ = [
    "BUILTIN_FAIL_CODES",
    "FailCode",
    "FailCodes",
    "Reject",
    "SubscriptionOverflowData",
    "TypeSafeErrorData",
]

DataT = TypeVar("DataT")


class Reject(Exception):
    """Raised by an action to end its call with an app fail code.

    ```python
    raise Reject("OUT_OF_STOCK", OutOfStock(item="tea", available=0))
    ```
    """

    def __init__(self, code: str, data: Any = None) -> None:
        super().__init__(code, data)
        self.code = code
        self.data = data


@dataclass(frozen=True, slots=True)
class FailCode(Generic[DataT]):
    """One fail code: its name, the type of its data and how its message is made."""

    code: str
    data_type: Any
    message: Callable[[DataT], str]
    doc: str | None = None
    builtin: bool = False
    retryable: bool = False
    """Whether calling again may succeed: clients with retries retry these, and no others."""

    def reject(self, data: DataT) -> Reject:
        """A typed `Reject` for this code: `raise OUT_OF_STOCK.reject(OutOfStock(...))`."""
        return Reject(self.code, data)


class FailCodes:
    """The app's own fail codes, declared once, in one module of the app package.

    ```python
    fail_codes = FailCodes()

    @fail_codes.code("OUT_OF_STOCK")
    def out_of_stock(data: OutOfStock) -> str:
        return f"Only {data.available} left of {data.item}"
    ```
    The data type is read from the function's parameter annotation.
    """

    def __init__(self) -> None:
        self._codes: dict[str, FailCode[Any]] = {}

    def code(
        self, code: str, *, retryable: bool = False
    ) -> Callable[[Callable[[DataT], str]], FailCode[DataT]]:
        """Declare `code`; `retryable` says calling again may succeed (clients retry those)."""

        def register(message: Callable[[DataT], str]) -> FailCode[DataT]:
            if code in self._codes or code in BUILTIN_FAIL_CODES:
                raise ValueError(f"fail code {code!r} is declared twice")
            hints = get_type_hints(message)
            parameters = [name for name in hints if name != "return"]
            data_type: Any = hints[parameters[0]] if parameters else type(None)
            fail_code = FailCode(code, data_type, message, message.__doc__, retryable=retryable)
            self._codes[code] = fail_code
            return fail_code

        return register

    def __iter__(self) -> Iterator[FailCode[Any]]:
        return iter(self._codes.values())

    def __len__(self) -> int:
        return len(self._codes)

    def get(self, code: str) -> FailCode[Any] | None:
        return self._codes.get(code)


class TypeSafeErrorData(BaseModel):
    """Where the params failed validation: the first error, as Milkio reports it."""

    path: str
    expected: str
    value: Any = None


class CallKindMismatchData(BaseModel):
    """How the API must be called instead."""

    expected: str
    hint: str


class StreamDeadlineData(BaseModel):
    """The API's maximum duration, in seconds."""

    seconds: float


class PayloadTooLargeData(BaseModel):
    """The request body limit, in bytes."""

    limit: int


class UnsupportedMediaTypeData(BaseModel):
    """The content type the request had, and the one the server reads."""

    received: str
    expected: str


class RequestTimeoutData(BaseModel):
    """Seconds the body may take to arrive."""

    seconds: float


class TooManyStreamsData(BaseModel):
    """The cap of streams one client may hold open at once."""

    limit: int


class TooManyRequestsData(BaseModel):
    """Seconds to wait before calling again, when the server knows."""

    retry_after: int | None = None


class SubscriptionOverflowData(BaseModel):
    """The subscriber's backlog limit, in messages."""

    backlog: int


def _fixed(text: str) -> Callable[[Any], str]:
    return lambda _data: text


def _builtin(
    code: str,
    data_type: Any,
    message: Callable[[Any], str],
    doc: str,
    *,
    retryable: bool = False,
) -> FailCode[Any]:
    return FailCode(code, data_type, message, doc, builtin=True, retryable=retryable)


BUILTIN_FAIL_CODES: Mapping[str, FailCode[Any]] = {
    fail.code: fail
    for fail in (
        _builtin("NOT_FOUND", None, _fixed("Not Found"), "No API has this path."),
        _builtin(
            "TYPE_SAFE_ERROR",
            TypeSafeErrorData,
            lambda data: (
                f"Parameter Error: The current value is '{data.value}', "
                f"which does not meet '{data.expected}' requirements"
            ),
            "The params (or a chunk, when made on the client) do not match their type.",
        ),
        _builtin(
            "INTERNAL_SERVER_ERROR",
            None,
            _fixed("Internal Server Error"),
            "The action raised; details are in the server log under the execute id.",
        ),
        _builtin("BUSINESS_FAIL", str, lambda data: str(data), "A fail with a free message."),
        _builtin(
            "NETWORK_ERROR",
            str,
            _fixed("Network Error"),
            "Made on the client (`from_client`): the connection failed or broke.",
            retryable=True,
        ),
        _builtin(
            "NOT_ALLOW_METHOD", None, _fixed("Not Allow Method"), "APIs are called with POST."
        ),
        _builtin(
            "CALL_KIND_MISMATCH",
            CallKindMismatchData,
            lambda data: data.hint,
            "A stream API called as a plain one, or the other way round.",
        ),
        _builtin(
            "STREAM_DEADLINE",
            StreamDeadlineData,
            lambda data: (
                f"The stream reached its maximum duration of {data.seconds:g}s: "
                "call again to continue"
            ),
            "A stream ran for its API's `max_duration`; calling again continues it.",
            retryable=True,
        ),
        _builtin(
            "SERVER_SHUTTING_DOWN",
            None,
            _fixed("The server is shutting down: call again"),
            "The server stopped the stream to shut down; another instance will answer.",
            retryable=True,
        ),
        _builtin(
            "SUBSCRIPTION_OVERFLOW",
            SubscriptionOverflowData,
            lambda data: (
                f"More than {data.backlog} messages waited for this client: call again to resume"
            ),
            "The client fell too far behind a subscription; calling again resumes it.",
            retryable=True,
        ),
        _builtin(
            "CHANNELS_UNAVAILABLE",
            str,
            _fixed("The message broker is unreachable: call again"),
            "The server could not reach its channels broker (Redis); the detail is the error.",
            retryable=True,
        ),
        _builtin(
            "PAYLOAD_TOO_LARGE",
            PayloadTooLargeData,
            lambda data: f"Request body larger than {data.limit} bytes",
            "The request body is over the server's limit.",
        ),
        _builtin(
            "UNSUPPORTED_MEDIA_TYPE",
            UnsupportedMediaTypeData,
            lambda data: f"The body is read as {data.expected}, not {data.received}",
            "The request's `Content-Type` is not JSON; a form post is refused, so a page of "
            "another site cannot call the API with the user's cookies.",
        ),
        _builtin(
            "REQUEST_TIMEOUT",
            RequestTimeoutData,
            lambda data: f"The request's body took over {data.seconds:g}s to arrive",
            "The request's body arrived slower than the server waits for one.",
        ),
        _builtin(
            "TOO_MANY_STREAMS",
            TooManyStreamsData,
            lambda data: (
                f"This client already holds {data.limit} open streams: close one, or call "
                "again later"
            ),
            "The client holds as many open streams as the server allows one client.",
            retryable=True,
        ),
        _builtin(
            "TOO_MANY_REQUESTS",
            TooManyRequestsData,
            lambda data: (
                "Too many requests: call again later"
                + (f", in {data.retry_after}s" if data.retry_after is not None else "")
            ),
            "The server's rate limit for this client is spent; `retry_after` says for how long.",
            retryable=True,
        ),
    )
}

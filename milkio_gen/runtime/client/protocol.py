"""The client side of the protocol, without I/O: requests, envelopes and a stream's states.

The async and sync clients feed it what they read and get back chunks and results.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar, cast

from pydantic import ValidationError

from .. import exact_json
from ..sse import ServerSentEvent
from ..tson import Tson
from ..type_safe import type_safe_error
from ..wire import ENVELOPE_PREFIX
from .results import ExecuteResult, Failure, StreamResult, Success
from .spec import ApiSpec

__all__ = ["NO_CHUNK", "Codec", "StreamReader"]

ChunkT = TypeVar("ChunkT")
FailT = TypeVar("FailT")

NO_CHUNK: Any = object()
"""What `StreamReader.on_event` returns for an event that carries no chunk."""

JSON_ACCEPT = "application/json"
STREAM_ACCEPT = "text/event-stream"


def load_envelope(data: bytes) -> dict[str, Any] | None:
    """A result envelope as a dict (its TSON still encoded), or None when it is not one."""
    try:
        envelope = exact_json.loads(data)
    except ValueError:  # json.JSONDecodeError, orjson's included
        return None
    return cast(dict[str, Any], envelope) if isinstance(envelope, dict) else None


class Codec(Generic[FailT]):
    """Encodes requests and decodes answers for one app's fail type."""

    def __init__(self, fail_type: Any, retryable_codes: frozenset[str] = frozenset()) -> None:
        self._fail: Tson[FailT] = Tson(fail_type)
        self._fail.prepare()  # at construction, so that a first call does not pay for it
        self._retryable_codes = retryable_codes

    def retryable(self, failure: Failure[FailT]) -> bool:
        """A fail the client made (the connection) or one the app marks retryable."""
        fail: Any = failure.fail
        return bool(fail.from_client and fail.code == "NETWORK_ERROR") or (
            fail.code in self._retryable_codes
        )

    @staticmethod
    def request_body(spec: ApiSpec[Any], params: Any) -> bytes:
        """Params are not checked here: the server does, and says what is wrong."""
        if params is None:
            return b""
        return spec.params.dumps(params, check=False)

    @staticmethod
    def request_headers(accept: str, *headers: Mapping[str, str] | None) -> dict[str, str]:
        """Each mapping's headers replace the previous ones', whatever the case of their names:
        a header is sent once."""
        merged = {"content-type": "application/json", "accept": accept}
        for extra in headers:
            if extra:
                merged.update((name.lower(), value) for name, value in extra.items())
        return merged

    def client_fail(self, code: str, data: Any) -> Failure[FailT]:
        message = "Network Error" if code == "NETWORK_ERROR" else "Type Safe Error"
        fail = {"code": code, "message": message, "data": data, "from_client": True}
        return Failure(self._fail.adapter.validate_python(fail), None)

    def network_error(self, detail: str) -> Failure[FailT]:
        return self.client_fail("NETWORK_ERROR", detail)

    def unexpected_response(
        self, status: int, content_type: str, accept: str
    ) -> Failure[FailT] | None:
        """A fail when the answer is not the protocol's (a proxy's error page, say)."""
        if status != 200:
            return self.network_error(f"the server answered HTTP {status}")
        if not content_type.startswith(accept):
            return self.network_error(
                f"the server answered {content_type or 'no content type'}, not {accept}"
            )
        return None

    def fail_from(self, envelope: Mapping[str, Any]) -> Failure[FailT]:
        execute_id = envelope.get("executeId")
        try:
            fail = self._fail.loads(exact_json.dumps(envelope["fail"]))
        except (KeyError, ValidationError):
            return self.network_error(f"the server sent an unknown fail: {envelope.get('fail')!r}")
        return Failure(fail, execute_id if isinstance(execute_id, str) else None)

    def plain_result(self, spec: ApiSpec[ChunkT], body: bytes) -> ExecuteResult[ChunkT, FailT]:
        envelope = load_envelope(body)
        if envelope is None:
            return self.network_error("the server sent a body that is not a result envelope")
        if envelope.get("success") is not True:
            return self.fail_from(envelope)
        try:
            data = spec.output.loads(exact_json.dumps(envelope.get("data")))
        except ValidationError as error:
            detail = type_safe_error(error.errors()[0], "$result").model_dump()
            return self.client_fail("TYPE_SAFE_ERROR", detail)
        return Success(data, str(envelope.get("executeId", "")))


class StreamReader(Generic[ChunkT, FailT]):
    """One stream's state: waiting for the handshake, streaming, then ended with a result."""

    __slots__ = (
        "_codec",
        "_output",
        "chunks",
        "ended",
        "last_event_id",
        "result",
        "retry_after",
    )

    def __init__(self, codec: Codec[FailT], spec: ApiSpec[ChunkT]) -> None:
        self._codec = codec
        self._output = spec.output
        self.result: StreamResult[FailT] | None = None
        self.ended = False
        self.last_event_id: str | None = None
        self.chunks = 0
        """Chunks given to the caller, over every try."""
        self.retry_after: float | None = None

    def begin_try(self) -> None:
        """A new try of the same call: a new handshake is due; what was received stays."""
        self.result = None
        self.ended = False
        self.retry_after = None

    def may_retry(self) -> bool:
        """Whether the try that ended may be made again without losing or repeating a chunk."""
        result = self.result
        if not isinstance(result, Failure) or not self._codec.retryable(result):
            return False
        return self.chunks == 0 or self.last_event_id is not None

    def on_event(self, event: ServerSentEvent) -> ChunkT:
        """The chunk an event carries, or `NO_CHUNK`; sets `ended` when the stream must stop."""
        data = event.data
        if data.startswith(ENVELOPE_PREFIX):
            self._on_envelope(data[1:])
            return NO_CHUNK
        if self.result is None:
            self._end(self._codec.network_error("the server sent a chunk before its handshake"))
            return NO_CHUNK
        try:
            chunk = self._output.loads(data)
            self.chunks += 1
            # Only a chunk with an id of its own can be resumed after; one without one cannot.
            self.last_event_id = event.id if event.own_id else None
            return chunk
        except ValidationError as error:
            detail = type_safe_error(error.errors()[0], "$chunk").model_dump()
            self._end(self._codec.client_fail("TYPE_SAFE_ERROR", detail))
        except ValueError:
            self._end(self._codec.network_error("the server sent a chunk that is not JSON"))
        return NO_CHUNK

    def _on_envelope(self, data: bytes) -> None:
        envelope = load_envelope(data)
        if envelope is None:
            self._end(self._codec.network_error("the server sent a malformed result envelope"))
        elif envelope.get("success") is True:
            self.result = Success(None, str(envelope.get("executeId", "")))
        else:
            self._end(self._codec.fail_from(envelope))

    def on_end(self, *, truncated: bool) -> None:
        """The body ended: cleanly after the handshake, or in the middle of something."""
        if self.ended:
            return
        if self.result is None:
            self._end(self._codec.network_error("the stream ended before its handshake"))
        elif truncated:
            self._end(self._codec.network_error("the stream ended in the middle of an event"))
        self.ended = True

    def on_timeout(self, why: str) -> None:
        self._end(self._codec.network_error(why))

    def on_headers_failed(self, error: Exception) -> None:
        """The client's headers function raised: this try sent nothing."""
        self._end(self._codec.network_error(str(error)))

    def on_network_error(self, error: BaseException) -> None:
        if not self.ended:
            self._end(self._codec.network_error(f"{type(error).__name__}: {error}".rstrip(": ")))

    def _end(self, result: Failure[FailT]) -> None:
        self.result = result
        self.ended = True

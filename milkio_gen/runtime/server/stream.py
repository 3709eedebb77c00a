"""The stream pump: runs an action's generator and sends its chunks as Server-Sent Events.

Three tasks share one bounded buffer:
- the producer advances the generator and appends encoded events; when the buffer is full it
  waits for room, which is both the backpressure and the point where an action that never
  awaits can still be cancelled;
- the sender (the request's own task) sends everything buffered in one ASGI message, so a fast
  action costs one send per batch while a slow one still gets each event out at once;
- the watcher waits for `http.disconnect` and cancels the producer, at whatever `await` the
  action is suspended in, so its `finally` runs promptly.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from litestar.types import HTTPResponseStartEvent, Message, Receive, Send

from ...tracked import Tracked
from .. import sse

__all__ = ["EventBuffer", "StopReason", "StreamLimits", "StreamPump", "stop_open_streams"]

logger = logging.getLogger("milkio_gen.server")


class EventBuffer:
    """Encoded events waiting to be sent: at most `limit` of them and, unless a single event
    is larger, at most `limit_bytes` bytes."""

    __slots__ = (
        "_closed",
        "_events",
        "_limit",
        "_limit_bytes",
        "_reader",
        "_writer",
        "chunks",
        "failed",
        "held_bytes",
    )

    def __init__(self, limit: int, limit_bytes: int) -> None:
        self._events: list[bytes] = []
        self._limit = limit
        self._limit_bytes = limit_bytes
        self.held_bytes = 0
        """Bytes waiting to be sent."""
        self._closed = False
        # The sender waiting for events and the producer waiting for room, each a future made
        # only while it waits: an idle stream holds no more than it must, thousands at once.
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self.chunks = 0
        """Chunk events put so far."""
        self.failed = False
        """Whether the last event is a fail envelope."""

    @property
    def idle(self) -> bool:
        """Nothing waits to be sent."""
        return not self._events

    @property
    def full(self) -> bool:
        events = self._events
        return len(events) >= self._limit or (bool(events) and self.held_bytes >= self._limit_bytes)

    async def put(self, event: bytes) -> None:
        while self.full and not self._closed:
            self._writer = asyncio.get_running_loop().create_future()
            try:
                await self._writer
            finally:
                self._writer = None
        self.put_nowait(event)

    def put_nowait(self, event: bytes) -> None:
        """Add an event now, over the limit if need be: for a caller that checked `full`."""
        if self._closed:
            return  # the stream has ended: what the action yields now goes nowhere
        self._events.append(event)
        self.held_bytes += len(event)
        self.chunks += 1
        _wake(self._reader)

    def put_ping(self, comment: bytes) -> None:
        """A keep-alive comment: not a chunk, never held back by the limit."""
        if not self._closed:
            self._events.append(comment)
            self.held_bytes += len(comment)
            _wake(self._reader)

    def put_last(self, event: bytes) -> None:
        """The closing fail envelope, unless the stream already ended: then no more events."""
        if self._closed:
            return
        self._events.append(event)
        self.held_bytes += len(event)
        self.failed = True
        self.close()

    def close(self) -> None:
        self._closed = True
        _wake(self._reader)
        _wake(self._writer)

    async def take_all(self) -> bytes | None:
        """Everything buffered, joined; `None` once closed and drained."""
        while not self._events:
            if self._closed:
                return None
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        batch = b"".join(self._events) if len(self._events) > 1 else self._events[0]
        self._events.clear()
        self.held_bytes = 0
        _wake(self._writer)
        return batch


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


StopReason = Literal["disconnected", "deadline", "send_timeout", "shutdown"]
"""Why the server stopped an action before it ended by itself."""


@dataclass(frozen=True, slots=True)
class StreamLimits:
    buffer_events: int
    """Events a stream may hold ahead of the client before the action is paused."""
    buffer_bytes: int
    """Bytes a stream may hold ahead of the client before the action is paused (one event
    larger than this is still let through, alone)."""
    ping_interval: float | None
    """Seconds of silence after which a `: ping` comment keeps proxies from closing the stream."""
    send_timeout: float | None
    """Seconds a send may wait on a client that stopped reading before it is disconnected."""
    max_duration: float | None
    """Seconds after which the stream ends with a retryable fail."""


def _event(item: Any, encode_chunk: Callable[[Any], bytes]) -> bytes:
    if type(item) is Tracked:
        tracked = cast("Tracked[Any]", item)
        return sse.encode_event(encode_chunk(tracked.chunk), event_id=tracked.id)
    return sse.encode_event(encode_chunk(item))


OnChunk = Callable[[Any], Awaitable[None] | None]
"""Called with each chunk (the chunk inside a `Tracked`) before it is encoded; what it
raises ends the stream as the action's own error would."""


async def _produce(
    chunks: AsyncIterator[Any],
    buffer: EventBuffer,
    encode_chunk: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    on_chunk: OnChunk | None,
) -> None:
    try:
        async with contextlib.aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                if on_chunk is not None:
                    seen = on_chunk(
                        cast("Tracked[Any]", chunk).chunk if type(chunk) is Tracked else chunk
                    )
                    if seen is not None and inspect.isawaitable(seen):
                        await seen
                event = _event(chunk, encode_chunk)
                if buffer.full:
                    await buffer.put(event)  # waits for room
                else:
                    buffer.put_nowait(event)  # no coroutine for the common case
    except asyncio.CancelledError as error:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # stopped by the pump
        # The action's own await was cancelled by something else: a failure of the action.
        buffer.put_last(sse.encode_event(on_error(error)))
    except Exception as error:
        buffer.put_last(sse.encode_event(on_error(error)))
    finally:
        buffer.close()


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


_OPEN: weakref.WeakSet[StreamPump] = weakref.WeakSet()
_shutting_down = False


def stop_open_streams() -> int:
    """Stop every open stream of this process for a shutdown: each sends its client the
    retryable `SERVER_SHUTTING_DOWN` fail and its action is cancelled; a stream that starts
    afterwards stops at once. Returns how many were open."""
    global _shutting_down
    _shutting_down = True
    pumps = list(_OPEN)
    for pump in pumps:
        pump.stop("shutdown")
    return len(pumps)


class StreamPump:
    """One stream: runs its action, sends its events, and stops it for any reason."""

    def __init__(
        self,
        chunks: AsyncIterator[Any],
        *,
        send: Send,
        receive: Receive,
        encode_chunk: Callable[[Any], bytes],
        on_error: Callable[[BaseException], bytes],
        on_stop: Callable[[StopReason], bytes | None],
        limits: StreamLimits,
        on_chunk: OnChunk | None = None,
    ) -> None:
        self._chunks = chunks
        self._on_chunk = on_chunk
        self._send = send
        self._receive = receive
        self._encode_chunk = encode_chunk
        self._on_error = on_error
        self._on_stop = on_stop
        self._limits = limits
        self._buffer = EventBuffer(limits.buffer_events, limits.buffer_bytes)
        self._producer: asyncio.Task[None] | None = None
        self._last_send = 0.0
        self._sending_since: float | None = None
        """When the send in progress began; None between sends."""
        self._tick_timer: asyncio.TimerHandle | None = None
        self._sender: asyncio.Task[Any] | None = None
        self._send_timed_out = False
        self.stop_reason: StopReason | None = None

    @property
    def chunks(self) -> int:
        """Chunks the action has yielded into the stream so far."""
        return self._buffer.chunks

    @property
    def held_bytes(self) -> int:
        """Bytes of events this stream holds ahead of its client, not yet sent."""
        return self._buffer.held_bytes

    def stop(self, reason: StopReason) -> None:
        """End the action, at whatever `await` it is in; a deadline or shutdown says so."""
        if self.stop_reason is not None or self._producer is None or self._producer.done():
            return
        self.stop_reason = reason
        closing = self._on_stop(reason)
        self._producer.cancel()
        if closing is None:
            self._buffer.close()
        else:
            self._buffer.put_last(sse.encode_event(closing))

    async def run(self, start: HTTPResponseStartEvent, handshake: bytes) -> None:
        """Send the handshake, then the events, until the stream ends; returns once the
        action's generator is closed, whatever ended it."""
        loop = asyncio.get_running_loop()
        buffer = self._buffer
        producer = self._producer = loop.create_task(
            _produce(self._chunks, buffer, self._encode_chunk, self._on_error, self._on_chunk)
        )
        _OPEN.add(self)
        watcher = loop.create_task(_wait_for_disconnect(self._receive))
        watcher.add_done_callback(lambda _: self.stop("disconnected"))
        helpers: list[asyncio.Task[None] | asyncio.TimerHandle] = [watcher]
        if self._limits.max_duration is not None:
            helpers.append(loop.call_later(self._limits.max_duration, self.stop, "deadline"))
        self._sender = asyncio.current_task()
        self._tick_later()
        try:
            # One step for the action: if it fails at once, the answer is that fail alone.
            await asyncio.sleep(0)
            if _shutting_down:
                self.stop("shutdown")
            failed_at_once = producer.done() and buffer.failed and buffer.chunks == 0
            await self._timed_send(start)
            if not failed_at_once:
                # What the action's first step made ready goes with the handshake, in one write.
                first = handshake if buffer.idle else handshake + (await buffer.take_all() or b"")
                await self._timed_send(
                    {"type": "http.response.body", "body": first, "more_body": True}
                )
            while (batch := await buffer.take_all()) is not None:
                await self._timed_send(
                    {"type": "http.response.body", "body": batch, "more_body": True}
                )
            await self._timed_send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            sender = self._sender
            # The tick's cancel alone is a send timeout; one more (the server's) is a shutdown.
            if self._send_timed_out and sender is not None and sender.uncancel() == 0:
                timeout = self._limits.send_timeout
                logger.info("a client stopped reading for %ss: disconnected", timeout)
                self.stop("send_timeout")
            else:
                self.stop("shutdown")  # the server cancels requests it stops waiting for
                raise
        except Exception:  # servers differ in what `send` raises once the client is gone
            logger.debug("the client went away during a send", exc_info=True)
            self.stop("disconnected")
        finally:
            _OPEN.discard(self)
            for helper in helpers:
                helper.cancel()
            if self._tick_timer is not None:
                self._tick_timer.cancel()
            if producer.cancelling() == 0:  # a stop cancelled it already: let its finally run
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    async def _timed_send(self, message: Message) -> None:
        # Bounded by the tick below rather than by a timer of its own: a timer per send costs
        # the event loop dearly when thousands of streams send at once (a fan-out).
        self._sending_since = time.monotonic()
        try:
            await self._send(message)
        finally:
            self._sending_since = None
        self._last_send = time.monotonic()

    def _tick_later(self) -> None:
        """Look at the stream again when a ping may be due or the send in progress may have
        taken too long. A timer, not a task: an idle stream should cost little."""
        ping, send_timeout = self._limits.ping_interval, self._limits.send_timeout
        now = time.monotonic()
        delays: list[float] = []
        if ping is not None:
            # At least a quarter interval apart, so a blocked send cannot make this spin.
            delays.append(max(self._last_send + ping - now, ping / 4))
        if send_timeout is not None:
            sending_since = self._sending_since
            delays.append(
                send_timeout if sending_since is None else sending_since + send_timeout - now
            )
        if delays:
            self._tick_timer = asyncio.get_running_loop().call_later(
                max(min(delays), 0.01), self._tick
            )

    def _tick(self) -> None:
        now = time.monotonic()
        ping, send_timeout = self._limits.ping_interval, self._limits.send_timeout
        sending_since = self._sending_since
        if sending_since is not None and send_timeout is not None:
            if now - sending_since >= send_timeout and self._sender is not None:
                self._send_timed_out = True
                self._sender.cancel()  # `run` tells this cancel from a shutdown's
                return
        elif ping is not None and now - self._last_send >= ping and self._buffer.idle:
            self._buffer.put_ping(sse.PING)
        self._tick_later()

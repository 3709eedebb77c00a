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
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar.types import HTTPResponseStartEvent, Receive, Send

from .. import sse

__all__ = ["EventBuffer", "pump_stream"]

logger = logging.getLogger("milkio_gen.server")


class EventBuffer:
    """Encoded events waiting to be sent, at most `limit` of them."""

    __slots__ = ("_closed", "_events", "_limit", "_readable", "_writable", "chunks", "failed")

    def __init__(self, limit: int) -> None:
        self._events: list[bytes] = []
        self._limit = limit
        self._closed = False
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.chunks = 0
        """Chunk events put so far."""
        self.failed = False
        """Whether the last event is a fail envelope."""

    async def put(self, event: bytes) -> None:
        while len(self._events) >= self._limit:
            self._writable.clear()
            await self._writable.wait()
        self._events.append(event)
        self.chunks += 1
        self._readable.set()

    def put_last(self, event: bytes) -> None:
        """The closing fail envelope: always accepted, then no more events."""
        self._events.append(event)
        self.failed = True
        self.close()

    def close(self) -> None:
        self._closed = True
        self._readable.set()

    async def take_all(self) -> bytes | None:
        """Everything buffered, joined; `None` once closed and drained."""
        while not self._events:
            if self._closed:
                return None
            self._readable.clear()
            await self._readable.wait()
        batch = b"".join(self._events) if len(self._events) > 1 else self._events[0]
        self._events.clear()
        self._writable.set()
        return batch


async def _produce(
    chunks: AsyncIterator[Any],
    buffer: EventBuffer,
    encode_chunk: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
) -> None:
    try:
        async with contextlib.aclosing(chunks):  # type: ignore[type-var]
            async for chunk in chunks:
                await buffer.put(sse.encode_event(encode_chunk(chunk)))
    except asyncio.CancelledError as error:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # stopped by the pump: the client left
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


async def pump_stream(
    chunks: AsyncIterator[Any],
    *,
    send: Send,
    receive: Receive,
    start: HTTPResponseStartEvent,
    handshake: bytes,
    encode_chunk: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    buffer_limit: int,
) -> None:
    """Send the handshake, then the generator's chunks, until it ends, fails or the client leaves.

    Returns once the generator is closed, whatever ended the stream.
    """
    buffer = EventBuffer(buffer_limit)
    producer = asyncio.create_task(_produce(chunks, buffer, encode_chunk, on_error))
    watcher = asyncio.create_task(_wait_for_disconnect(receive))

    def client_left(_: object) -> None:
        producer.cancel()
        buffer.close()

    watcher.add_done_callback(client_left)
    try:
        # One step for the action: if it fails at once, the answer is that fail alone.
        await asyncio.sleep(0)
        failed_at_once = producer.done() and buffer.failed and buffer.chunks == 0
        await send(start)
        if not failed_at_once:
            await send({"type": "http.response.body", "body": handshake, "more_body": True})
        while (batch := await buffer.take_all()) is not None:
            await send({"type": "http.response.body", "body": batch, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except Exception:  # servers differ in what `send` raises once the client is gone
        logger.debug("the client went away during a send", exc_info=True)
    finally:
        watcher.cancel()
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer

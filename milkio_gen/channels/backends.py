"""Backends of Litestar's channels plugin that give every message an id, so a subscriber can
resume after the last message it got: in memory, on Redis streams, and on Redis pub/sub
(no ids, no history), the Redis ones riding out a Redis restart.

The plugin passes payloads through as opaque bytes; ours are framed as `id \\n data`, the id
empty where the backend has none.

Subscribing only records which channels the process wants, and never fails or waits: each
Redis backend has one reader task that brings Redis in line with that (and back in line
after a reconnect), and `ready(channel)` tells when a channel is live. So a subscription
cut short by a cancel or a Redis outage leaves nothing half-done behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
import uuid
from abc import abstractmethod
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from litestar.channels.backends.base import ChannelsBackend

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .settings import ChannelSettings

__all__ = [
    "HistorySlice",
    "IdentifyingBackend",
    "MemoryBackend",
    "RedisPubSubBackend",
    "RedisStreamsBackend",
    "create_backend",
    "frame",
    "id_order",
    "unframe",
]

logger = logging.getLogger("milkio_gen.channels")

_Entries = list[tuple[bytes, dict[bytes, bytes]]]
"""Stream entries as redis-py gives them: ids with their fields."""

_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


def frame(message_id: bytes, data: bytes) -> bytes:
    return message_id + b"\n" + data


def unframe(payload: bytes) -> tuple[str | None, bytes]:
    message_id, _, data = payload.partition(b"\n")
    return (message_id.decode() or None), data


def id_order(message_id: str) -> tuple[int, int]:
    """Ids are `milliseconds-sequence`, as Redis streams make them: they sort as pairs.
    Raises ValueError for anything else."""
    if not _ID.match(message_id):
        raise ValueError(f"not a message id: {message_id!r}")
    milliseconds, _, sequence = message_id.partition("-")
    return int(milliseconds), int(sequence)


@dataclass(frozen=True, slots=True)
class HistorySlice:
    """What a channel's history holds after an id."""

    payloads: list[bytes]
    """The framed messages after the id, oldest first."""
    newest: tuple[int, int] | None
    """The newest id the channel has, None if it has none."""
    gap: bool
    """Messages after the id were dropped from the history: the resume is not whole."""


class IdentifyingBackend(ChannelsBackend):
    """A channels backend whose events are framed with their ids."""

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        for channel in channels:
            await self.publish_one(data, channel)

    @abstractmethod
    async def publish_one(self, data: bytes, channel: str) -> str | None:
        """Publish, returning the message's id (None where the backend gives none)."""

    async def ready(self, channel: str) -> None:
        """Wait until messages published to `channel` from now on reach this process."""

    @abstractmethod
    async def history_after(self, channel: str, after: tuple[int, int]) -> HistorySlice: ...

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return []


class MemoryBackend(IdentifyingBackend):
    """One process. Ids are the start time of the process and a counter, so ids from an
    earlier run sort before every id of this one."""

    def __init__(self, history: int, *, max_channels: int = 10_000) -> None:
        self._history_length = history
        self._max_channels = max_channels
        self._history: OrderedDict[str, deque[tuple[tuple[int, int], bytes]]] = OrderedDict()
        self._dropped: dict[str, tuple[int, int]] = {}
        """The newest id each channel's history let go of."""
        self._subscribed: set[str] = set()
        self._queue: asyncio.Queue[tuple[str, bytes]] | None = None
        self._started_ms = int(time.time() * 1000)
        self._counter = itertools.count(1)

    async def on_startup(self) -> None:
        self._queue = asyncio.Queue()

    async def on_shutdown(self) -> None:
        self._queue = None

    async def publish_one(self, data: bytes, channel: str) -> str:
        if self._queue is None:
            raise RuntimeError("the channels backend is not started")
        order = (self._started_ms, next(self._counter))
        message_id = f"{order[0]}-{order[1]}"
        payload = frame(message_id.encode(), data)
        if self._history_length:
            self._remember(channel, order, payload)
        if channel in self._subscribed:
            self._queue.put_nowait((channel, payload))
        return message_id

    def _remember(self, channel: str, order: tuple[int, int], payload: bytes) -> None:
        history = self._history.get(channel)
        if history is None:
            history = self._history[channel] = deque(maxlen=self._history_length)
            if len(self._history) > self._max_channels:
                quiet, _ = self._history.popitem(last=False)  # the channel quiet the longest
                self._dropped.pop(quiet, None)
        else:
            self._history.move_to_end(channel)
        if len(history) == history.maxlen:
            self._dropped[channel] = history[0][0]
        history.append((order, payload))

    async def subscribe(self, channels: Iterable[str]) -> None:
        self._subscribed.update(channels)

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        self._subscribed.difference_update(channels)

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        if self._queue is None:
            raise RuntimeError("the channels backend is not started")
        queue = self._queue
        while True:
            channel, payload = await queue.get()
            if channel in self._subscribed:
                yield channel, payload

    async def history_after(self, channel: str, after: tuple[int, int]) -> HistorySlice:
        history = self._history.get(channel, ())
        dropped = self._dropped.get(channel)
        return HistorySlice(
            payloads=[payload for order, payload in history if order > after],
            newest=history[-1][0] if history else None,
            gap=dropped is not None and dropped > after,
        )

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        history = [payload for _, payload in self._history.get(channel, ())]
        return history[-limit:] if limit else history


class _RedisBackend(IdentifyingBackend):
    """What both Redis backends share: the channels wanted, one reader task that keeps Redis
    in line with them, a wake-up for that reader, and a wait between tries while Redis is
    unreachable."""

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        # redis-py's answers are typed loosely (bytes | str | None): its client is Any here.
        self._redis: Any = redis
        self._key_prefix = key_prefix
        self._wanted: dict[str, asyncio.Event] = {}
        """The channels this process subscribes to, each with an event set once it is live."""
        self._changed = asyncio.Event()
        self._wake_key = f"{key_prefix}:wake:{uuid.uuid4().hex}"
        self._waking: asyncio.Task[None] | None = None
        self._closed = False

    def _key(self, channel: str) -> str:
        return f"{self._key_prefix}:{channel}"

    async def on_startup(self) -> None:
        pass

    async def on_shutdown(self) -> None:
        self._closed = True
        if self._waking is not None:
            self._waking.cancel()
        await self._redis.aclose()

    async def subscribe(self, channels: Iterable[str]) -> None:
        for channel in channels:
            self._wanted.setdefault(channel, asyncio.Event())
        self._poke()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        for channel in channels:
            self._wanted.pop(channel, None)
        self._poke()

    async def ready(self, channel: str) -> None:
        live = self._wanted.get(channel)
        if live is not None:
            await live.wait()

    def _poke(self) -> None:
        """Have the reader look at the wanted channels again, ending its blocking read."""
        self._changed.set()
        if not self._closed and (self._waking is None or self._waking.done()):
            self._waking = asyncio.get_running_loop().create_task(self._wake())

    @abstractmethod
    async def _wake(self) -> None: ...

    @staticmethod
    async def _wait_after(error: Exception, failures: int) -> None:
        delay = min(0.05 * 2**failures, 2.0)
        if failures == 0:
            logger.warning("Redis is unreachable (%s): trying again", error)
        await asyncio.sleep(delay)


def _redis_errors() -> tuple[type[Exception], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, OSError)


class RedisStreamsBackend(_RedisBackend):
    """One Redis stream per channel, capped at `history` messages, expiring `history_ttl`
    after its last one; the stream ids are the message ids."""

    def __init__(self, redis: Redis, *, key_prefix: str, history: int, history_ttl: float) -> None:
        super().__init__(redis, key_prefix=key_prefix)
        self._history_length = max(history, 1)
        self._ttl_ms = int(history_ttl * 1000)
        self._positions: dict[str, bytes] = {}
        """The id after which each live channel's stream is read."""

    async def publish_one(self, data: bytes, channel: str) -> str:
        key = self._key(channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"d": data}, maxlen=self._history_length, approximate=True)
            pipe.pexpire(key, self._ttl_ms)
            message_id, _ = await pipe.execute()
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    async def _wake(self) -> None:
        with contextlib.suppress(Exception):  # the reader finds out by itself, later
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": b""}, maxlen=1, approximate=False)
                pipe.pexpire(self._wake_key, 60_000)
                await pipe.execute()

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        errors = _redis_errors()
        failures = 0
        wake_position = b"0-0"  # the wake key is this instance's own: all of it is new
        while True:
            self._changed.clear()
            for channel in list(self._positions):
                if channel not in self._wanted:
                    del self._positions[channel]
            if not self._wanted:
                await self._changed.wait()
                continue
            try:
                for channel, live in list(self._wanted.items()):
                    if not live.is_set():  # new, or unsubscribed and subscribed again
                        # Read from the stream's newest id: what is published after it comes.
                        newest = await self._redis.xrevrange(self._key(channel), count=1)
                        if self._wanted.get(channel) is live:
                            self._positions[channel] = newest[0][0] if newest else b"0-0"
                            live.set()
                if self._changed.is_set():
                    continue  # wanted channels changed meanwhile: look again first
                keys = {self._key(channel): channel for channel in self._positions}
                streams: dict[str, bytes] = {key: self._positions[c] for key, c in keys.items()}
                streams[self._wake_key] = wake_position
                answer: list[tuple[bytes, _Entries]] = await self._redis.xread(streams, block=5000)
            except errors as error:
                await self._wait_after(error, failures)
                failures += 1
                continue
            if failures:
                logger.warning("Redis is reachable again")
                failures = 0
            for raw_key, entries in answer or []:
                key = raw_key.decode()
                if key == self._wake_key:
                    wake_position = entries[-1][0]
                    continue
                channel = keys.get(key)
                if channel is None:
                    continue
                for entry_id, fields in entries:
                    if channel not in self._positions:
                        break  # unsubscribed while these were delivered
                    self._positions[channel] = entry_id
                    yield channel, frame(entry_id, fields[b"d"])

    async def history_after(self, channel: str, after: tuple[int, int]) -> HistorySlice:
        key = self._key(channel)
        start = f"({after[0]}-{after[1]}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xrange(key, min=start)
            pipe.xrevrange(key, count=1)
            pipe.xinfo_stream(key)
            results = await pipe.execute(raise_on_error=False)
        entries: _Entries = results[0]
        newest: _Entries = results[1]
        dropped = _dropped_id(results[2])
        return HistorySlice(
            payloads=[frame(entry_id, fields[b"d"]) for entry_id, fields in entries],
            newest=id_order(newest[0][0].decode()) if newest else None,
            gap=dropped is not None and id_order(dropped) > after,
        )

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        entries: _Entries = await self._redis.xrevrange(self._key(channel), count=limit)
        return [frame(entry_id, fields[b"d"]) for entry_id, fields in reversed(entries)]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dropped_id(info: Any) -> str | None:
    """The newest id Redis trimmed from a stream (Redis 7 keeps it in `XINFO STREAM`); None
    for a stream that does not exist (expired, or lost in a restart) or an older Redis."""
    fields = cast("dict[str, Any]", info) if isinstance(info, dict) else {}
    dropped = fields.get("max-deleted-entry-id")
    return None if dropped is None or _text(dropped) == "0-0" else _text(dropped)


class RedisPubSubBackend(_RedisBackend):
    """Redis pub/sub: the lightest across processes, with no ids and no history; a message
    published while Redis or a subscriber's connection is down is lost."""

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        super().__init__(redis, key_prefix=key_prefix)
        self._pubsub: Any = self._redis.pubsub()
        self._requested: set[str] = set()
        """Channels the pub/sub connection was asked to subscribe to."""

    async def on_shutdown(self) -> None:
        self._closed = True
        await self._pubsub.aclose()
        await super().on_shutdown()

    async def publish_one(self, data: bytes, channel: str) -> None:
        await self._redis.publish(self._key(channel), data)
        return None

    async def _wake(self) -> None:
        with contextlib.suppress(Exception):  # the reader finds out by itself, later
            await self._redis.publish(self._wake_key, b"")

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        errors = _redis_errors()
        prefix = len(self._key_prefix) + 1
        failures = 0
        while True:
            self._changed.clear()
            if not self._wanted and not self._requested:
                await self._changed.wait()
                continue
            try:
                # Only this task talks to the pub/sub connection, which is not safe to share.
                if not self._pubsub.subscribed:
                    await self._pubsub.subscribe(self._wake_key)
                added = self._wanted.keys() - self._requested
                if added:
                    await self._pubsub.subscribe(*(self._key(channel) for channel in added))
                    self._requested |= added
                removed = self._requested - self._wanted.keys()
                if removed:
                    await self._pubsub.unsubscribe(*(self._key(channel) for channel in removed))
                    self._requested -= removed
                if self._changed.is_set():
                    continue
                # On a new connection, redis-py subscribes again to every channel it had.
                message = await self._pubsub.get_message(timeout=5.0)
            except errors as error:
                await self._wait_after(error, failures)
                failures += 1
                continue
            if failures:
                logger.warning("Redis is reachable again")
                failures = 0
            if message is None or message["type"] not in ("message", "subscribe"):
                continue
            channel = _text(message["channel"])[prefix:]
            live = self._wanted.get(channel)
            if live is None:
                continue
            if message["type"] == "subscribe":
                live.set()  # Redis confirmed it: what is published from now on comes
            else:
                yield channel, frame(b"", message["data"])

    async def history_after(self, channel: str, after: tuple[int, int]) -> HistorySlice:
        return HistorySlice(payloads=[], newest=None, gap=False)


def create_backend(settings: ChannelSettings) -> IdentifyingBackend:
    if settings.backend == "memory":
        return MemoryBackend(settings.history)
    try:
        from redis.asyncio import Redis
    except ImportError as error:  # pragma: no cover - depends on the install
        raise RuntimeError(
            f"the {settings.backend} channels backend needs redis: pip install 'milkio-gen[redis]'"
        ) from error
    redis: Redis = Redis.from_url(settings.url)  # pyright: ignore[reportUnknownMemberType]
    if settings.backend == "redis":
        return RedisPubSubBackend(redis, key_prefix=settings.key_prefix)
    return RedisStreamsBackend(
        redis,
        key_prefix=settings.key_prefix,
        history=settings.history,
        history_ttl=settings.history_ttl,
    )

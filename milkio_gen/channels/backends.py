"""Backends of Litestar's channels plugin that give every message an id, so a subscriber can
resume after the last message it got: in memory, on Redis streams, and on Redis pub/sub
(no ids, no history), the Redis ones riding out a Redis restart.

The plugin passes payloads through as opaque bytes; ours are framed as `id \\n data`, the id
empty where the backend has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from abc import abstractmethod
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Iterable
from typing import TYPE_CHECKING, Any

from litestar.channels.backends.base import ChannelsBackend

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .settings import ChannelSettings

__all__ = [
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


def frame(message_id: bytes, data: bytes) -> bytes:
    return message_id + b"\n" + data


def unframe(payload: bytes) -> tuple[str | None, bytes]:
    message_id, _, data = payload.partition(b"\n")
    return (message_id.decode() or None), data


def id_order(message_id: str) -> tuple[int, int]:
    """Ids are `milliseconds-sequence`, as Redis streams make them: they sort as pairs."""
    milliseconds, _, sequence = message_id.partition("-")
    return int(milliseconds), int(sequence or 0)


class IdentifyingBackend(ChannelsBackend):
    """A channels backend whose events are framed with their ids."""

    keeps_history: bool = True

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        for channel in channels:
            await self.publish_one(data, channel)

    @abstractmethod
    async def publish_one(self, data: bytes, channel: str) -> str | None:
        """Publish, returning the message's id (None where the backend gives none)."""

    @abstractmethod
    async def history_after(self, channel: str, after: str) -> list[bytes]:
        """The framed messages of `channel` after the id `after`, oldest first, as far as the
        history goes."""

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return []


class MemoryBackend(IdentifyingBackend):
    """One process. Ids are the start time of the process and a counter, so ids from an
    earlier run sort before every id of this one."""

    def __init__(self, history: int, *, max_channels: int = 10_000) -> None:
        self._history_length = history
        self._max_channels = max_channels
        self._history: OrderedDict[str, deque[tuple[tuple[int, int], bytes]]] = OrderedDict()
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
            history = self._history.get(channel)
            if history is None:
                history = self._history[channel] = deque(maxlen=self._history_length)
                if len(self._history) > self._max_channels:
                    self._history.popitem(last=False)  # the channel quiet the longest
            else:
                self._history.move_to_end(channel)
            history.append((order, payload))
        if channel in self._subscribed:
            self._queue.put_nowait((channel, payload))
        return message_id

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

    async def history_after(self, channel: str, after: str) -> list[bytes]:
        start = id_order(after)
        return [payload for order, payload in self._history.get(channel, ()) if order > start]

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        history = [payload for _, payload in self._history.get(channel, ())]
        return history[-limit:] if limit else history


class _RedisBackend(IdentifyingBackend):
    """What both Redis backends share: a client, key names, and a wait between tries while
    Redis is unreachable."""

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        # redis-py's answers are typed loosely (bytes | str | None): its client is Any here.
        self._redis: Any = redis
        self._key_prefix = key_prefix

    def _key(self, channel: str) -> str:
        return f"{self._key_prefix}:{channel}"

    async def on_startup(self) -> None:
        pass

    async def on_shutdown(self) -> None:
        await self._redis.aclose()

    @staticmethod
    async def _wait_after(error: Exception, failures: int) -> None:
        delay = min(0.05 * 2**failures, 2.0)
        if failures == 0:
            logger.warning("Redis is unreachable (%s): trying again", error)
        await asyncio.sleep(delay)


class RedisStreamsBackend(_RedisBackend):
    """One Redis stream per channel, capped at `history` messages, expiring `history_ttl`
    after its last one; the stream ids are the message ids."""

    def __init__(self, redis: Redis, *, key_prefix: str, history: int, history_ttl: float) -> None:
        super().__init__(redis, key_prefix=key_prefix)
        self._history_length = max(history, 1)
        self._ttl_ms = int(history_ttl * 1000)
        self._positions: dict[str, bytes] = {}
        """The id after which each subscribed channel's stream is read."""
        self._wake_key = f"{key_prefix}:wake:{id(self)}-{time.time_ns()}"
        self._changed = asyncio.Event()

    async def publish_one(self, data: bytes, channel: str) -> str:
        key = self._key(channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"d": data}, maxlen=self._history_length, approximate=True)
            pipe.pexpire(key, self._ttl_ms)
            message_id, _ = await pipe.execute()
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    async def subscribe(self, channels: Iterable[str]) -> None:
        for channel in channels:
            if channel in self._positions:
                continue
            # Read from the stream's last id now: what is published from here on is delivered.
            last = await self._redis.xrevrange(self._key(channel), count=1)
            self._positions[channel] = last[0][0] if last else b"0-0"
        await self._wake()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        for channel in channels:
            self._positions.pop(channel, None)

    async def _wake(self) -> None:
        """End the reader's blocking wait, so it reads the channels subscribed since."""
        self._changed.set()
        with contextlib.suppress(Exception):
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": b""}, maxlen=1, approximate=False)
                pipe.pexpire(self._wake_key, 60_000)
                await pipe.execute()

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        failures = 0
        wake_position: bytes = b"$"
        while True:
            if not self._positions:
                self._changed.clear()
                await self._changed.wait()
                continue
            channels = {self._key(channel): channel for channel in self._positions}
            streams: dict[Any, Any] = {key: self._positions[c] for key, c in channels.items()}
            streams[self._wake_key] = wake_position
            try:
                answer: list[tuple[bytes, _Entries]] = await self._redis.xread(streams, block=5000)
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
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
                channel = channels.get(key)
                if channel is None or channel not in self._positions:
                    continue
                for entry_id, fields in entries:
                    self._positions[channel] = entry_id
                    yield channel, frame(entry_id, fields[b"d"])

    async def history_after(self, channel: str, after: str) -> list[bytes]:
        entries: _Entries = await self._redis.xrange(self._key(channel), min=f"({after}")
        return [frame(entry_id, fields[b"d"]) for entry_id, fields in entries]

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        entries: _Entries = await self._redis.xrevrange(self._key(channel), count=limit)
        return [frame(entry_id, fields[b"d"]) for entry_id, fields in reversed(entries)]


class RedisPubSubBackend(_RedisBackend):
    """Redis pub/sub: the lightest across processes, with no ids and no history; a message
    published while Redis or a subscriber's connection is down is lost."""

    keeps_history = False

    def __init__(self, redis: Redis, *, key_prefix: str) -> None:
        super().__init__(redis, key_prefix=key_prefix)
        self._pubsub: Any = self._redis.pubsub()
        self._subscribed: set[str] = set()
        self._changed = asyncio.Event()

    async def on_shutdown(self) -> None:
        await self._pubsub.aclose()
        await super().on_shutdown()

    async def publish_one(self, data: bytes, channel: str) -> None:
        await self._redis.publish(self._key(channel), data)
        return None

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = set(channels) - self._subscribed
        self._subscribed.update(new)
        if new:
            await self._pubsub.subscribe(*(self._key(channel) for channel in new))
        self._changed.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = set(channels) & self._subscribed
        self._subscribed.difference_update(gone)
        if gone:
            with contextlib.suppress(Exception):  # Redis may be down: it forgets them anyway
                await self._pubsub.unsubscribe(*(self._key(channel) for channel in gone))

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        prefix = len(self._key_prefix) + 1
        failures = 0
        while True:
            if not self._subscribed:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                # On a new connection, redis-py subscribes again to every channel it had.
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                await self._wait_after(error, failures)
                failures += 1
                continue
            if failures:
                logger.warning("Redis is reachable again")
                failures = 0
            if message is None or message["type"] != "message":
                continue
            raw = message["channel"]
            channel = (raw.decode() if isinstance(raw, bytes) else raw)[prefix:]
            if channel in self._subscribed:
                yield channel, frame(b"", message["data"])

    async def history_after(self, channel: str, after: str) -> list[bytes]:
        return []


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

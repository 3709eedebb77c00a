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
import importlib.util
import itertools
import logging
import re
import time
import uuid
from abc import abstractmethod
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Awaitable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from litestar.channels.backends.base import ChannelsBackend

if TYPE_CHECKING:
    from .settings import ChannelSettings

__all__ = [
    "HistorySlice",
    "IdentifyingBackend",
    "MemoryBackend",
    "RedisPubSubBackend",
    "RedisStreamsBackend",
    "cancellable",
    "create_backend",
    "frame",
    "id_order",
    "unframe",
]

logger = logging.getLogger("milkio_gen.channels")

T = TypeVar("T")

_Entries = list[tuple[bytes, dict[bytes, bytes]]]
"""Stream entries as redis-py gives them: ids with their fields."""

_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")
_PART_MAX = 2**64 - 1
"""Redis keeps each part of an id in 64 bits."""


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
    milliseconds, sequence = (int(part) for part in message_id.split("-"))
    if milliseconds > _PART_MAX or sequence > _PART_MAX:
        raise ValueError(f"not a message id: {message_id!r}")
    return milliseconds, sequence


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

    def is_ready(self, channel: str) -> bool:
        """Whether messages published to `channel` from now on reach this process."""
        return True

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


_READ_BLOCK_SECONDS = 2.0
"""How long a reader's read waits for news: below redis-py's socket timeout (5 s), so that an
idle read is never taken for a dead connection."""


async def cancellable(operation: Awaitable[T]) -> T:
    """Await a Redis call, keeping a cancel that lands as it completes: redis-py loses such a
    cancel on Python 3.11 (its `wait_for` returns the result instead). Without this, a reader
    would outlive its shutdown, and an action whose client left would go on publishing."""
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    result = await operation
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError
    return result


class _RedisBackend(IdentifyingBackend):
    """What both Redis backends share: the channels wanted, one reader task that keeps Redis
    in line with them, a wake-up for that reader, and a wait between tries while Redis is
    unreachable. Each start (an app can be started again) begins with a new client and
    a clean state."""

    def __init__(self, url: str, *, key_prefix: str) -> None:
        self._url = url
        self._key_prefix = key_prefix
        self._wake_key = f"{key_prefix}:wake:{uuid.uuid4().hex}"
        self._started = False
        self._begin()

    def _begin(self) -> None:
        """The state of one run, between a startup and its shutdown."""
        from redis.asyncio import Redis

        # redis-py's answers are typed loosely (bytes | str | None): its client is Any here.
        self._redis: Any = Redis.from_url(self._url)  # pyright: ignore[reportUnknownMemberType]
        self._wanted: dict[str, asyncio.Event] = {}
        """The channels this process subscribes to, each with an event set once it is live."""
        self._changed = asyncio.Event()
        self._wake_pending = False
        """A wake-up is on its way that will be sent after the latest change."""
        self._wakes: set[asyncio.Task[None]] = set()

    def _key(self, channel: str) -> str:
        return f"{self._key_prefix}:{channel}"

    def _check_started(self) -> None:
        if not self._started:
            raise RuntimeError("the channels backend is not started")

    async def on_startup(self) -> None:
        if self._started:
            raise RuntimeError("the channels backend is started already")
        self._begin()
        self._started = True

    async def on_shutdown(self) -> None:
        self._started = False
        for wake in self._wakes:
            wake.cancel()
        await self._redis.aclose()

    async def subscribe(self, channels: Iterable[str]) -> None:
        for channel in channels:
            self._wanted.setdefault(channel, asyncio.Event())
        self._poke()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        for channel in channels:
            self._wanted.pop(channel, None)
        self._poke()

    def is_ready(self, channel: str) -> bool:
        live = self._wanted.get(channel)
        return live is None or live.is_set()

    async def ready(self, channel: str) -> None:
        live = self._wanted.get(channel)
        if live is not None:
            await live.wait()

    def _poke(self) -> None:
        """Have the reader look at the wanted channels again, ending its blocking read."""
        self._changed.set()
        if self._started and not self._wake_pending:
            self._wake_pending = True
            wake = asyncio.get_running_loop().create_task(self._send_wake())
            self._wakes.add(wake)
            wake.add_done_callback(self._wakes.discard)

    async def _send_wake(self) -> None:
        # Changes from here on need a wake-up of their own: this one may reach the reader
        # before it has looked at them.
        self._wake_pending = False
        with contextlib.suppress(Exception):  # the reader finds out by itself, later
            await self._wake()

    @abstractmethod
    async def _wake(self) -> None:
        """Send something that ends the reader's blocking read."""

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

    def __init__(self, url: str, *, key_prefix: str, history: int, history_ttl: float) -> None:
        super().__init__(url, key_prefix=key_prefix)
        self._history_length = max(history, 1)
        self._ttl_ms = int(history_ttl * 1000)

    def _begin(self) -> None:
        super()._begin()
        self._positions: dict[str, bytes] = {}
        """The id after which each live channel's stream is read."""

    async def publish_one(self, data: bytes, channel: str) -> str:
        self._check_started()
        key = self._key(channel)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(key, {"d": data}, maxlen=self._history_length, approximate=True)
            pipe.pexpire(key, self._ttl_ms)
            message_id, _ = await pipe.execute()
        return _text(message_id)

    async def _wake(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"w": b""}, maxlen=1, approximate=False)
            pipe.pexpire(self._wake_key, 60_000)
            await pipe.execute()

    async def _go_live(self) -> None:
        """Start the channels subscribed since the last look at the stream's newest id: what
        is published after it comes. One round trip for them all, however many."""
        starting = [(channel, live) for channel, live in self._wanted.items() if not live.is_set()]
        if not starting:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, _ in starting:
                pipe.xrevrange(self._key(channel), count=1)
            newest: list[_Entries] = await cancellable(pipe.execute())
        for (channel, live), entries in zip(starting, newest, strict=True):
            if self._wanted.get(channel) is live:  # not unsubscribed meanwhile
                self._positions[channel] = entries[0][0] if entries else b"0-0"
                live.set()

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
                await self._go_live()
                keys = {self._key(channel): channel for channel in self._positions}
                streams: dict[str, bytes] = {key: self._positions[c] for key, c in keys.items()}
                streams[self._wake_key] = wake_position
                # Changed meanwhile: read what is there without waiting, then look again.
                block = None if self._changed.is_set() else int(_READ_BLOCK_SECONDS * 1000)
                answer: list[tuple[bytes, _Entries]] = await cancellable(
                    self._redis.xread(streams, block=block)
                )
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
        self._check_started()
        key = self._key(channel)
        start = f"({after[0]}-{after[1]}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xrange(key, min=start)
            pipe.xrevrange(key, count=1)
            pipe.xinfo_stream(key)  # fails for a stream that does not exist: that is fine
            results = await pipe.execute(raise_on_error=False)
        for result in results[:2]:
            if isinstance(result, Exception):
                raise result
        entries: _Entries = results[0]
        newest: _Entries = results[1]
        dropped = _dropped_id(results[2])
        return HistorySlice(
            payloads=[frame(entry_id, fields[b"d"]) for entry_id, fields in entries],
            newest=id_order(newest[0][0].decode()) if newest else None,
            gap=dropped is not None and id_order(dropped) > after,
        )

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        self._check_started()
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

    def _begin(self) -> None:
        super()._begin()
        self._pubsub: Any = self._redis.pubsub()
        self._requested: dict[str, asyncio.Event] = {}
        """Each channel the pub/sub connection was asked to subscribe to, with the event of
        the subscription it was asked for: subscribed again since, it is asked again, and
        the answer sets the new event."""

    async def on_shutdown(self) -> None:
        await self._pubsub.aclose()
        await super().on_shutdown()

    async def publish_one(self, data: bytes, channel: str) -> None:
        self._check_started()
        await self._redis.publish(self._key(channel), data)
        return None

    async def _wake(self) -> None:
        await self._redis.publish(self._wake_key, b"")

    def _subscribed(self) -> set[str]:
        """The channels redis-py holds a subscription to and is not dropping. Those it
        subscribes to again on a new connection, whatever was asked before."""
        prefix = len(self._key_prefix) + 1
        held = cast("dict[bytes, Any]", self._pubsub.channels).keys()
        leaving = cast("set[bytes]", self._pubsub.pending_unsubscribe_channels)
        wake = self._wake_key.encode()
        return {key.decode()[prefix:] for key in held - leaving if key != wake}

    async def _align(self) -> None:
        """Subscribe to what is wanted and was not asked for, and unsubscribe from the rest."""
        # Only the reader talks to the pub/sub connection, which is not safe to share.
        if not self._pubsub.subscribed:
            await cancellable(self._pubsub.subscribe(self._wake_key))
        added = {c: live for c, live in self._wanted.items() if self._requested.get(c) is not live}
        if added:
            await cancellable(self._pubsub.subscribe(*(self._key(channel) for channel in added)))
            self._requested.update(added)
        removed = self._subscribed() - self._wanted.keys()
        if removed:
            await cancellable(self._pubsub.unsubscribe(*(self._key(c) for c in removed)))
        for channel in list(self._requested):
            if channel not in self._wanted:
                del self._requested[channel]

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        errors = _redis_errors()
        prefix = len(self._key_prefix) + 1
        failures = 0
        aligned = False
        while True:
            if self._changed.is_set():
                self._changed.clear()
                aligned = False
            if not self._wanted and not self._subscribed():
                await self._changed.wait()
                continue
            try:
                if not aligned:
                    await self._align()
                    aligned = True
                    if self._changed.is_set():
                        continue
                # On a new connection, redis-py subscribes again to every channel it had.
                message = await cancellable(self._pubsub.get_message(timeout=_READ_BLOCK_SECONDS))
            except errors as error:
                aligned = False
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
    if importlib.util.find_spec("redis") is None:  # pragma: no cover - depends on the install
        raise RuntimeError(
            f"the {settings.backend} channels backend needs redis: pip install 'milkio-gen[redis]'"
        )
    if settings.backend == "redis":
        return RedisPubSubBackend(settings.url, key_prefix=settings.key_prefix)
    return RedisStreamsBackend(
        settings.url,
        key_prefix=settings.key_prefix,
        history=settings.history,
        history_ttl=settings.history_ttl,
    )

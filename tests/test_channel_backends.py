"""The channels backends under the conditions that break brokers: subscriptions that come and
go faster than Redis answers, connections cut mid-command, a shutdown while messages flow,
an app started twice. Each against a real redis-server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from milkio_gen.channels import Broker, ChannelSettings
from milkio_gen.channels.backends import id_order
from milkio_gen.channels.channel import Channel
from milkio_gen.testing import RedisServer
from milkio_gen.tracked import Tracked
from redis.asyncio import Redis

REDIS_BACKENDS = ["redis", "redis-streams"]

numbers = Channel("numbers", int)


def new_broker(backend: str, redis: RedisServer) -> Broker:
    prefix = uuid.uuid4().hex[:12]
    return Broker(ChannelSettings(backend=backend, url=redis.url, key_prefix=prefix))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(broker: Broker) -> AsyncGenerator[Broker, None]:
    """The broker between its app's startup and shutdown; the shutdown may not hang."""
    await asyncio.wait_for(broker.plugin._on_startup(), 5)  # pyright: ignore[reportPrivateUsage]
    try:
        yield broker
    finally:
        await asyncio.wait_for(broker.plugin._on_shutdown(), 5)  # pyright: ignore[reportPrivateUsage]


async def next_number(subscription: AsyncIterator[Tracked[int]], within: float = 2) -> int:
    delivery = await asyncio.wait_for(anext(subscription), within)
    return delivery.chunk


async def live_subscription(
    broker: Broker, channel: Channel[int]
) -> AsyncGenerator[Tracked[int], None]:
    """A subscription that has started: the broker waits for the backend before the first
    message, so one published message is awaited alongside the first `anext`."""
    subscription = broker.subscribe(channel)
    first = asyncio.ensure_future(anext(subscription))
    deadline = time.monotonic() + 5
    while not first.done() and time.monotonic() < deadline:
        await broker.publish(channel, -1)
        await asyncio.wait([first], timeout=0.05)
    assert (await first).chunk == -1
    return subscription


def test_ids_beyond_what_redis_keeps_are_not_ids() -> None:
    largest = 2**64 - 1
    assert id_order(f"{largest}-{largest}") == (largest, largest)
    for beyond in (f"{largest + 1}-0", f"0-{largest + 1}", "99999999999999999999-0"):
        with pytest.raises(ValueError, match="not a message id"):
            id_order(beyond)


@pytest.mark.parametrize("backend", REDIS_BACKENDS)
@pytest.mark.timeout(30)
async def test_subscriptions_in_quick_succession_each_become_live_at_once(
    redis: RedisServer, backend: str
) -> None:
    """Each subscription wakes the reader from its blocking read, even one made while the
    wake-up for the previous one is still on its way."""
    async with running(new_broker(backend, redis)) as broker:
        slowest = 0.0
        for number in range(150):
            channel = f"quick:{number}"
            started = time.monotonic()
            await broker.backend.subscribe([channel])
            await asyncio.wait_for(broker.backend.ready(channel), 1.5)
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.5


@pytest.mark.parametrize("backend", REDIS_BACKENDS)
@pytest.mark.timeout(30)
async def test_a_channel_left_and_joined_again_before_the_reader_looks_becomes_live(
    redis: RedisServer, backend: str
) -> None:
    """A client that reconnects at once leaves and joins a channel in one breath."""
    channel = Channel("rejoined", int)
    async with running(new_broker(backend, redis)) as broker:
        subscription = await live_subscription(broker, channel)
        for _ in range(5):
            await broker.backend.unsubscribe([channel.name])
            await broker.backend.subscribe([channel.name])
            await asyncio.wait_for(broker.backend.ready(channel.name), 3)
        await broker.publish(channel, 7)
        assert await next_number(subscription) == 7
        await subscription.aclose()


async def redis_subscriptions(client: Any, prefix: str) -> set[str]:
    channels = await client.pubsub_channels(f"{prefix}:*")
    names = {name.decode()[len(prefix) + 1 :] for name in channels}
    return {name for name in names if not name.startswith("wake:")}


@pytest.mark.timeout(60)
async def test_pub_sub_subscriptions_match_the_wanted_ones_after_churn_and_cut_connections(
    redis: RedisServer,
) -> None:
    """Redis holds exactly the channels the process wants, whatever was cut half-way:
    an unsubscribe cut before its answer is sent again after redis-py's reconnect."""
    broker = new_broker("redis", redis)
    prefix = broker.settings.key_prefix
    admin: Any = Redis.from_url(redis.url)  # pyright: ignore[reportUnknownMemberType]
    shuffle = random.Random(6)
    wanted: set[str] = set()
    try:
        async with running(broker):
            for round_number in range(40):
                joining = {f"churn:{shuffle.randrange(30)}" for _ in range(5)} - wanted
                leaving = set(shuffle.sample(sorted(wanted), min(len(wanted), 4)))
                await broker.backend.subscribe(joining)
                await broker.backend.unsubscribe(leaving)
                wanted = (wanted | joining) - leaving
                # The cut lands before, with or just after the reader's commands.
                for _ in range(round_number % 3):
                    await asyncio.sleep(0)
                await admin.client_kill_filter(_type="pubsub")
            deadline = time.monotonic() + 10
            held = await redis_subscriptions(admin, prefix)
            while held != wanted and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                held = await redis_subscriptions(admin, prefix)
            assert held == wanted
    finally:
        await admin.aclose()


@pytest.mark.timeout(60)
async def test_streams_deliver_while_subscriptions_churn(redis: RedisServer) -> None:
    """Thousands of subscriptions a second to new channels do not hold back delivery on the
    channels already live."""
    async with running(new_broker("redis-streams", redis)) as broker:
        subscription = await live_subscription(broker, numbers)
        stop = asyncio.Event()

        async def churn() -> int:
            count = 0
            while not stop.is_set() and count < 100_000:
                channels = [f"churn:{uuid.uuid4().hex}" for _ in range(20)]
                await broker.backend.subscribe(channels)
                await asyncio.sleep(0)
                await broker.backend.unsubscribe(channels)
                count += len(channels)
            return count

        churning = asyncio.create_task(churn())
        try:
            await asyncio.sleep(0.2)
            latencies: list[float] = []
            for number in range(10):
                started = time.monotonic()
                await broker.publish(numbers, number)
                assert await next_number(subscription, within=3) == number
                latencies.append(time.monotonic() - started)
        finally:
            stop.set()
            churned = await churning
        assert churned > 1_000, "the churn ran alongside"
        assert max(latencies) < 1.0
        await subscription.aclose()


@pytest.mark.parametrize("backend", REDIS_BACKENDS)
@pytest.mark.timeout(60)
async def test_publishers_and_readers_stop_when_cancelled_while_messages_flow(
    redis: RedisServer, backend: str
) -> None:
    """A cancel is kept whatever Redis call it lands in: a publisher stops (as an action
    does when its client leaves), and the shutdown stops the reader (`running` bounds it)."""
    for _ in range(8):
        broker = new_broker(backend, redis)
        async with running(broker):
            subscription = await live_subscription(broker, numbers)

            async def flood(broker: Broker) -> None:
                for number in range(100_000):
                    await broker.publish(numbers, number)

            flooding = asyncio.create_task(flood(broker))
            await next_number(subscription)
            await asyncio.sleep(random.random() * 0.05)
            flooding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flooding
            await subscription.aclose()


@pytest.mark.parametrize("backend", ["memory", *REDIS_BACKENDS])
@pytest.mark.timeout(30)
async def test_a_broker_started_again_works_as_new(redis: RedisServer, backend: str) -> None:
    """As when an app is started twice (tests do): nothing of the first run is left behind,
    and publishing once it is shut down is an error, not a message lost in silence."""
    broker = new_broker(backend, redis)
    for run in range(2):
        async with running(broker):
            subscription = await live_subscription(broker, numbers)
            await broker.publish(numbers, run)
            assert await next_number(subscription) == run
            await subscription.aclose()
    with pytest.raises(RuntimeError, match="not started"):
        await broker.publish(numbers, 2)

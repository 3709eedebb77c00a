"""Stopping a stream from the client stops the action on the server, promptly.

Each test stops a stream one way and waits, on the server's side, for the action's `finally`;
the time from the client's stop to that `finally` must stay under 100 ms.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest

from tests.conftest import GeneratedPackage, RunningServer
from tests.probe_app.recorder import record

LIMIT = 0.1


def new_key() -> str:
    return uuid.uuid4().hex


async def ended_within(key: str, stopped_at: float) -> float:
    """Seconds from the client's stop to the action's `finally`, read on the server side."""
    entry = record(key)
    assert await asyncio.to_thread(entry.ended.wait, 5), "the action never ended"
    assert entry.ended_at is not None
    return entry.ended_at - stopped_at


def sync_ended_within(key: str, stopped_at: float) -> float:
    entry = record(key)
    assert entry.ended.wait(5), "the action never ended"
    assert entry.ended_at is not None
    return entry.ended_at - stopped_at


async def stop_by_aclose(client: Any, path: str) -> tuple[str, float]:
    key = new_key()
    call = client.execute_stream(path, params={"key": key})
    stream = call.stream
    await anext(stream)
    started = time.monotonic()
    await stream.aclose()
    return key, started


async def stop_by_break(client: Any, path: str) -> tuple[str, float]:
    key = new_key()
    call = client.execute_stream(path, params={"key": key})
    started = 0.0
    async for _ in call.stream:
        started = time.monotonic()
        break
    return key, started


async def stop_by_leaving_context(client: Any, path: str) -> tuple[str, float]:
    key = new_key()
    started = 0.0
    async with client.execute_stream(path, params={"key": key}) as call:
        stream = call.stream
        await anext(stream)
        started = time.monotonic()
    return key, started


@pytest.mark.parametrize("stop", [stop_by_aclose, stop_by_break, stop_by_leaving_context])
@pytest.mark.parametrize("path", ["lifecycle/forever", "lifecycle/spin"])
async def test_async_stop_ends_the_action_within_100ms(
    probe: GeneratedPackage, probe_server: RunningServer, stop: Any, path: str
) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        key, stopped_at = await stop(client, path)
        elapsed = await ended_within(key, stopped_at)
    assert elapsed < LIMIT, f"the action ran {elapsed * 1000:.1f} ms after the stop"


def sync_stop_by_close(client: Any, path: str) -> tuple[str, float]:
    key = new_key()
    call = client.execute_stream(path, params={"key": key})
    stream = call.stream
    next(stream)
    started = time.monotonic()
    stream.close()
    return key, started


def sync_stop_by_break(client: Any, path: str) -> tuple[str, float]:
    key = new_key()
    call = client.execute_stream(path, params={"key": key})
    started = 0.0
    for _ in call.stream:
        started = time.monotonic()
        break
    return key, started


def sync_stop_by_leaving_context(client: Any, path: str) -> tuple[str, float]:
    key = new_key()
    with client.execute_stream(path, params={"key": key}) as call:
        iterator = iter(call.stream)
        next(iterator)
        started = time.monotonic()
    return key, started


@pytest.mark.parametrize(
    "stop", [sync_stop_by_close, sync_stop_by_break, sync_stop_by_leaving_context]
)
@pytest.mark.parametrize("path", ["lifecycle/forever", "lifecycle/spin"])
def test_sync_stop_ends_the_action_within_100ms(
    probe: GeneratedPackage, probe_server: RunningServer, stop: Any, path: str
) -> None:
    with probe.client.Client(base_url=probe_server.base_url) as client:
        key, stopped_at = stop(client, path)
        elapsed = sync_ended_within(key, stopped_at)
    assert elapsed < LIMIT, f"the action ran {elapsed * 1000:.1f} ms after the stop"


async def test_a_stopped_action_is_cancelled_in_its_await(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        key, stopped_at = await stop_by_aclose(client, "lifecycle/forever")
        await ended_within(key, stopped_at)
    assert record(key).how == "cancelled"


async def test_an_action_that_never_awaits_is_held_back_by_the_reader(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    """Backpressure: once the socket buffers are full, a reader that stops stops the action."""
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        key = new_key()
        call = client.lifecycle.spin.execute_stream(params={"key": key})
        stream = call.stream
        await anext(stream)
        counts: list[int] = []
        for _ in range(50):  # at most 10 s for the buffers between the two ends to fill
            await asyncio.sleep(0.2)
            counts.append(record(key).chunks)
            if len(counts) >= 3 and counts[-1] == counts[-3]:
                break
        await stream.aclose()
    assert len(counts) >= 3
    assert counts[-1] == counts[-3], f"still advancing: {counts}"
    # What stays in flight is what the kernel's socket buffers hold, not an unbounded queue.
    assert counts[-1] < 2_000_000


async def test_first_chunk_of_a_slow_action_arrives_at_once(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        call = client.lifecycle.slow_second.execute_stream(params={"key": new_key()})
        stream = call.stream
        started = time.monotonic()
        first = await asyncio.wait_for(anext(stream), 5)
        elapsed = time.monotonic() - started
        await stream.aclose()
    assert first == "first"
    assert elapsed < 1


async def test_chat_message_reaches_every_subscriber(example_server: RunningServer) -> None:
    from generated.client import AsyncClient

    room = new_key()
    async with (
        AsyncClient(base_url=example_server.base_url) as alice,
        AsyncClient(base_url=example_server.base_url) as bob,
    ):
        # `recent=1`: a subscription that opens after the send still gets the message.
        subscriptions = [
            client.chat.subscribe.execute_stream(params={"room": room, "recent": 1})
            for client in (alice, bob)
        ]
        streams = [call.stream for call in subscriptions]
        receiving = [asyncio.ensure_future(anext(stream)) for stream in streams]
        sent = await alice.chat.send.execute(
            params={"room": room, "author": "alice", "text": "hello"}
        )
        assert sent
        messages = await asyncio.wait_for(asyncio.gather(*receiving), 5)
        for stream in streams:
            await stream.aclose()
    assert [message.text for message in messages] == ["hello", "hello"]
    assert all(message.author == "alice" and message.room == room for message in messages)


async def test_async_stop_from_another_task_while_it_reads(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    """A Stop button: one task iterates, another calls `call.aclose()`."""
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        key = new_key()
        call = client.lifecycle.forever.execute_stream(params={"key": key})
        received: list[str] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for chunk in call.stream:
                received.append(chunk)
                first.set()

        consumer = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 5)
        stopped_at = time.monotonic()
        await call.aclose()
        await asyncio.wait_for(consumer, 5)
        elapsed = await ended_within(key, stopped_at)
    assert received == ["ready"]
    assert call.get_result().success is True, "a stop is not a network error"
    assert elapsed < LIMIT


def test_sync_stop_from_another_thread_while_it_reads(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    with probe.client.Client(base_url=probe_server.base_url) as client:
        key = new_key()
        call = client.lifecycle.forever.execute_stream(params={"key": key})
        received: list[str] = []
        consumer = threading.Thread(target=lambda: received.extend(call.stream))
        consumer.start()
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        stopped_at = time.monotonic()
        call.close()
        consumer.join(5)
        assert not consumer.is_alive(), "the reading thread did not wake up"
        elapsed = sync_ended_within(key, stopped_at)
    assert received == ["ready"]
    assert call.get_result().success is True
    assert elapsed < LIMIT

"""Streams that never end by themselves, to see how and when the server stops them."""

import asyncio
from collections.abc import AsyncIterator

from milkio_gen import Context, Tracked, define_api
from pydantic import BaseModel

from .recorder import ended, record


class Probe(BaseModel):
    key: str


@define_api()
async def forever(params: Probe, context: Context) -> AsyncIterator[str]:
    """Yields once, then waits forever in an `await`."""
    record(params.key).context = context
    try:
        yield "ready"
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        ended(params.key, "cancelled")
        raise
    except GeneratorExit:
        ended(params.key, "closed")
        raise
    finally:
        context.logger.info("forever ended: %s", context.stop_reason)
        if not record(params.key).ended.is_set():
            ended(params.key, "finally")


@define_api()
async def spin(params: Probe) -> AsyncIterator[int]:
    """Yields as fast as it can and never awaits anything else."""
    entry = record(params.key)
    try:
        while True:
            entry.chunks += 1
            yield entry.chunks
    finally:
        ended(params.key, "finally")


class Count(BaseModel):
    n: int


@define_api()
async def count(params: Count) -> AsyncIterator[int]:
    """Yields 0..n-1 without waiting."""
    for index in range(params.n):
        yield index


@define_api()
async def slow_second(params: Probe) -> AsyncIterator[str]:
    """One chunk at once, the next only after a long time."""
    yield "first"
    await asyncio.sleep(30)
    yield "second"


class Ended(BaseModel):
    ended: bool
    at_ms: float | None
    """Wall-clock milliseconds, for clients in another process to compare with their own."""
    how: str


@define_api()
async def ended_report(params: Probe) -> Ended:
    """Whether the stream with this key has ended on the server, when and how."""
    entry = record(params.key)
    return Ended(ended=entry.ended.is_set(), at_ms=entry.ended_at_wall_ms, how=entry.how)


@define_api(meta={"max_duration": 0.3})
async def deadline(params: Probe, context: Context) -> AsyncIterator[str]:
    """Runs past its `max_duration` of 0.3 s."""
    record(params.key).context = context
    try:
        yield "started"
        await asyncio.Event().wait()
    finally:
        ended(params.key, "finally")


@define_api()
async def slow_ticks(params: Probe) -> AsyncIterator[str]:
    """A chunk every half second: long silences for keep-alive pings to fill."""
    for _ in range(3):
        await asyncio.sleep(0.5)
        yield "tick"


@define_api()
async def numbered(params: Probe, context: Context) -> AsyncIterator[Tracked[int]]:
    """0, 1, 2, ... with their numbers as event ids, resuming after `Last-Event-ID`."""
    start = int(context.last_event_id) + 1 if context.last_event_id else 0
    for number in range(start, start + 1000):
        await asyncio.sleep(0.005)
        yield Tracked(str(number), number)


@define_api(meta={"max_duration": 0.15})
async def numbered_briefly(params: Probe, context: Context) -> AsyncIterator[Tracked[int]]:
    """0 to 29, tracked, in a stream that may run 0.15 s at a time: clients resume to get all."""
    start = int(context.last_event_id) + 1 if context.last_event_id else 0
    for number in range(start, 30):
        await asyncio.sleep(0.02)
        yield Tracked(str(number), number)


@define_api(meta={"max_duration": 0.1})
async def stubborn(params: Probe, context: Context) -> AsyncIterator[str]:
    """Tries to go on after it was stopped, and cleans up slowly."""
    record(params.key).context = context
    try:
        yield "a"
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        yield "late"  # a stopped stream sends nothing more
        raise
    finally:
        await asyncio.sleep(0.05)  # cleanup that awaits must not be cut short
        ended(params.key, "cleaned")


@define_api()
async def heavy(params: Probe) -> AsyncIterator[str]:
    """Chunks of 16 KiB as fast as it can, counting them: how far it runs ahead of a reader."""
    entry = record(params.key)
    try:
        while True:
            entry.chunks += 1
            yield f"{entry.chunks:08d}".ljust(16384, ".")
    finally:
        ended(params.key, "finally")

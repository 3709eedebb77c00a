"""Streams that never end by themselves, to see how and when the server stops them."""

import asyncio
from collections.abc import AsyncIterator

from milkio_gen import define_api
from pydantic import BaseModel

from .recorder import ended, record


class Probe(BaseModel):
    key: str


@define_api()
async def forever(params: Probe) -> AsyncIterator[str]:
    """Yields once, then waits forever in an `await`."""
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

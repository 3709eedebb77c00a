"""Ticks stamped with the wall clock when published, so a reader on the same machine can
tell how long each took to reach it."""

import time
from collections.abc import AsyncIterator

from milkio_gen import Channel, Context, Tracked, define_api
from pydantic import BaseModel


class Tick(BaseModel):
    number: int
    sent_us: int


ticks = Channel("ticks", Tick)


class Publish(BaseModel):
    number: int
    count: int = 1


@define_api()
async def publish(params: Publish, context: Context) -> None:
    """Publishes ticks `number`, `number + 1`, ... `count` of them, as fast as it can."""
    for number in range(params.number, params.number + params.count):
        await context.publish(ticks, Tick(number=number, sent_us=time.time_ns() // 1000))


@define_api()
async def subscribe(context: Context) -> AsyncIterator[Tracked[Tick]]:
    async for tick in context.subscribe(ticks, resume=False):
        yield tick

import asyncio
import logging
from collections.abc import AsyncIterator

from milkio_gen import Tracked, define_api
from pydantic import BaseModel, field_validator

from .hooks import EVENTS, HookedContext, Meta

library_logger = logging.getLogger("some.library")


class Words(BaseModel):
    words: list[str]


@define_api(meta={"auth": "user"})
async def whoami(context: HookedContext) -> str:
    """Who the `authenticate` hook says calls."""
    EVENTS.append("action:whoami")
    assert context.user is not None
    library_logger.info("a library logs while serving %s", context.user.name)
    return context.user.name


@define_api(meta=Meta(explode_in="before"))
async def broken_before() -> str:
    EVENTS.append("action:broken_before")
    return "never"


@define_api(meta={"explode_in": "after"})
async def broken_after() -> str:
    EVENTS.append("action:broken_after")
    return "fine"


@define_api(meta={})
async def say(params: Words) -> AsyncIterator[str]:
    """Yields the words; the `count` hook refuses a LOUD one."""
    try:
        for word in params.words:
            yield word
    finally:
        EVENTS.append("action:say:finally")


@define_api(meta={})
async def tracked(params: Words) -> AsyncIterator[Tracked[str]]:
    for index, word in enumerate(params.words):
        yield Tracked(str(index), word)


@define_api(meta={"explode_in": "chunk"})
async def broken_chunk() -> AsyncIterator[str]:
    yield "one"


@define_api(meta={})
async def forever(context: HookedContext) -> AsyncIterator[int]:
    index = 0
    while True:
        yield index
        index += 1
        await asyncio.sleep(0.01)


class Picky(BaseModel):
    value: int

    @field_validator("value")
    @classmethod
    def _odd(cls, value: int) -> int:
        raise TypeError("a validator that raises what pydantic does not wrap")


@define_api(meta={})
async def picky(params: Picky) -> int:
    return params.value


@define_api(meta={})
async def self_cancelled() -> str:
    """Awaits something it cancelled itself: its own error, not the server stopping."""
    waiting = asyncio.get_running_loop().create_future()
    waiting.cancel()
    await waiting
    return "never"

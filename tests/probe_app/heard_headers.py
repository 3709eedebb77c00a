"""Actions that tell which headers reached them, try by try: for the clients' headers."""

import asyncio
import threading
from collections.abc import AsyncIterator

from milkio_gen import Context, Reject, Tracked, define_api
from pydantic import BaseModel


class Listen(BaseModel):
    key: str
    """Tries are counted per key, across calls."""
    names: list[str]
    """The headers to tell, by name."""
    refuse: int = 0
    """How many first tries end at once with a retryable fail, so that the client retries."""
    chunks: int = 1
    """Streams: one chunk a try; a try that is not the last then waits until it is ended."""


class Heard(BaseModel):
    attempt: int
    """Which try of the key this is, from 0."""
    headers: dict[str, list[str]]
    """Every value of each header asked for: two values mean the header came twice."""


_tries: dict[str, int] = {}
_lock = threading.Lock()


def _hear(params: Listen, context: Context) -> Heard:
    with _lock:
        attempt = _tries[params.key] = _tries.get(params.key, -1) + 1
    if attempt < params.refuse:
        raise Reject("SERVER_SHUTTING_DOWN")
    headers = {name: context.headers.getall(name, []) for name in params.names}
    return Heard(attempt=attempt, headers=headers)


@define_api()
async def plain(params: Listen, context: Context) -> Heard:
    """The headers of this try."""
    return _hear(params, context)


async def _chunks(params: Listen, context: Context) -> AsyncIterator[Tracked[Heard]]:
    heard = _hear(params, context)
    number = int(context.last_event_id) + 1 if context.last_event_id else 0
    yield Tracked(str(number), heard)
    if number + 1 < params.chunks:
        await asyncio.Event().wait()


@define_api()
async def until_cut(params: Listen, context: Context) -> AsyncIterator[Tracked[Heard]]:
    """The headers of each try, one chunk a try; a try waits until its connection is cut."""
    async for chunk in _chunks(params, context):
        yield chunk


@define_api(meta={"max_duration": 0.2})
async def briefly(params: Listen, context: Context) -> AsyncIterator[Tracked[Heard]]:
    """The headers of each try, one chunk a try; each try ends after 0.2 s, to be resumed."""
    async for chunk in _chunks(params, context):
        yield chunk

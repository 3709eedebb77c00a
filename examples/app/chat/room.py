"""An in-memory chat room: every subscriber gets every message sent to its room."""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime

from pydantic import BaseModel

_BACKLOG = 100


class Message(BaseModel):
    room: str
    author: str
    text: str
    sent_at: datetime


_subscribers: defaultdict[str, set[asyncio.Queue[Message]]] = defaultdict(set)


def publish(message: Message) -> int:
    """Deliver to every subscriber of the room; a subscriber that fell behind loses its oldest."""
    queues = _subscribers.get(message.room, set())
    for queue in queues:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(message)
    return len(queues)


async def subscribe(room: str) -> AsyncIterator[Message]:
    queue: asyncio.Queue[Message] = asyncio.Queue(_BACKLOG)
    _subscribers[room].add(queue)
    try:
        while True:
            yield await queue.get()
    finally:
        _subscribers[room].discard(queue)
        if not _subscribers[room]:
            del _subscribers[room]

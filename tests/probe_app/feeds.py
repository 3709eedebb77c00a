"""Channels: publish notes to a feed, and stream a feed with the pid of the process that
delivers each note, to see which instance served whom."""

import os
from collections.abc import AsyncIterator

from milkio_gen import Channel, Context, Tracked, define_api
from pydantic import BaseModel


class Note(BaseModel):
    text: str


feeds = Channel("feed", Note)


class Publish(BaseModel):
    feed: str
    texts: list[str]


class Published(BaseModel):
    ids: list[str | None]
    pid: int


@define_api()
async def publish(params: Publish, context: Context) -> Published:
    ids = [await context.publish(feeds(params.feed), Note(text=text)) for text in params.texts]
    return Published(ids=ids, pid=os.getpid())


class Delivery(BaseModel):
    text: str
    pid: int


class Subscribe(BaseModel):
    feed: str
    history: int = 0


@define_api()
async def subscribe(params: Subscribe, context: Context) -> AsyncIterator[Tracked[Delivery]]:
    pid = os.getpid()
    async for note in context.subscribe(feeds(params.feed), history=params.history):
        yield Tracked(note.id, Delivery(text=note.chunk.text, pid=pid))


kept: list[AsyncIterator[Tracked[Note]]] = []
"""Subscriptions `hoarding` holds on to, so that only the server can end them."""


@define_api()
async def hoarding(params: Subscribe, context: Context) -> AsyncIterator[Tracked[Note]]:
    """Subscribes, and keeps a reference to its subscription past the stream's end."""
    subscription = context.subscribe(feeds(params.feed))
    kept.append(subscription)
    async for note in subscription:
        yield note

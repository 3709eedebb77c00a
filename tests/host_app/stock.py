import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from milkio_gen import Context, define_api
from pydantic import BaseModel


class Store(Protocol):
    def count(self, item: str) -> int: ...


class Item(BaseModel):
    item: str


class Count(BaseModel):
    greeting: str
    tenant: str
    item: str
    count: int


@define_api(meta={})
async def count(params: Item, context: Context) -> Count:
    """Counts an item in the host app's store, for the tenant its router names."""
    store: Store = await context.dependency("store")
    tenant: str = await context.dependency("tenant")
    again: Store = await context.dependency("store")
    assert again is store, "a dependency is resolved once per call"
    return Count(
        greeting=context.state.greeting,
        tenant=tenant,
        item=params.item,
        count=store.count(params.item),
    )


@define_api(meta={})
async def watch(params: Item, context: Context) -> AsyncIterator[int]:
    """The count of an item, three times, a little apart."""
    store: Store = await context.dependency("store")
    for _ in range(3):
        yield store.count(params.item)
        await asyncio.sleep(0.2)


@define_api(meta={})
async def missing(context: Context) -> str:
    return await context.dependency("nobody_provides_this")

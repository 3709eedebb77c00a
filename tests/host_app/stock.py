import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from milkio_gen import Context, Reject, define_api
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


class Reservation(BaseModel):
    item: str
    refuse: bool = False


@define_api(meta={})
async def reserve(params: Reservation, context: Context) -> str:
    """Writes through the host's transaction; refuses on demand, after writing."""
    writes: list[str] = await context.dependency("transaction", list)
    writes.append(params.item)
    if params.refuse:
        raise Reject("BUSINESS_FAIL", "refused on demand")
    return "reserved"


@define_api(meta={})
async def follow(params: Reservation, context: Context) -> AsyncIterator[int]:
    """Writes through the host's transaction, then streams until the client stops."""
    writes: list[str] = await context.dependency("transaction", list)
    writes.append(params.item)
    count = 0
    while True:
        yield count
        count += 1
        await asyncio.sleep(0.01)

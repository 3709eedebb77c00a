from collections.abc import AsyncIterator, Callable

from milkio_gen import define_api


class Opaque:
    """A plain class: no schema, so no client could be typed from it."""


@define_api()
async def chunks() -> AsyncIterator[Opaque]:
    yield Opaque()


@define_api()
async def callback() -> Callable[[int], int]:
    return abs

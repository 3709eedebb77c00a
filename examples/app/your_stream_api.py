import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from milkio_gen import Context, define_api
from pydantic import BaseModel


class Params(BaseModel):
    name: str


@define_api(meta={})
async def action(params: Params, context: Context) -> AsyncIterator[str]:
    """Greets, then tells the time, every second, until the client stops."""
    while True:
        yield f"Hello, {params.name}! The current time is:"
        yield datetime.now().isoformat()
        await asyncio.sleep(1)

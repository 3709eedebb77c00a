from collections.abc import AsyncIterator

from milkio_gen import Context, define_api
from pydantic import BaseModel, Field

from .room import Message, subscribe


class Params(BaseModel):
    room: str = Field(min_length=1)


@define_api(meta={})
async def action(params: Params, context: Context) -> AsyncIterator[Message]:
    """Pushes every message sent to the room from now on, until the client stops."""
    context.logger.info("subscribed to %s", params.room)
    async for message in subscribe(params.room):
        yield message

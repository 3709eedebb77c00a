from collections.abc import AsyncIterator

from milkio_gen import Context, Tracked, define_api
from pydantic import BaseModel, Field

from .room import Message, RoomName, rooms


class Params(BaseModel):
    room: RoomName
    recent: int = Field(default=0, ge=0, le=100, description="Earlier messages to get first.")


@define_api(meta={})
async def action(params: Params, context: Context) -> AsyncIterator[Tracked[Message]]:
    """Pushes every message sent to the room, until the client stops: first the `recent`
    ones, and after a reconnect exactly those it missed."""
    context.logger.info("subscribed to %s", params.room)
    async for message in context.subscribe(rooms(params.room), history=params.recent):
        yield message

from datetime import UTC, datetime

from milkio_gen import define_api
from pydantic import BaseModel, Field

from ..hooks import AppContext
from .room import Message, RoomName, rooms


class Params(BaseModel):
    room: RoomName
    author: str = Field(
        min_length=1,
        description="Who writes, for a guest; a signed-in user writes under their own name.",
    )
    text: str = Field(min_length=1, max_length=2000)


class Sent(BaseModel):
    message: Message
    id: str | None = Field(description="The message's id in its room, where the broker keeps ids.")


@define_api(meta={})
async def action(params: Params, context: AppContext) -> Sent:
    """Sends a message to everyone subscribed to the room, on every server instance."""
    author = context.user.name if context.user else params.author
    message = Message(room=params.room, author=author, text=params.text, sent_at=datetime.now(UTC))
    message_id = await context.publish(rooms(params.room), message)
    return Sent(message=message, id=message_id)

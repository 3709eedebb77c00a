from datetime import UTC, datetime

from milkio_gen import define_api
from pydantic import BaseModel, Field

from .room import Message, publish


class Params(BaseModel):
    room: str = Field(min_length=1)
    author: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=2000)


class Sent(BaseModel):
    message: Message
    delivered_to: int = Field(description="How many subscribers received it.")


@define_api(meta={})
async def action(params: Params) -> Sent:
    """Sends a message to everyone subscribed to the room."""
    message = Message(
        room=params.room, author=params.author, text=params.text, sent_at=datetime.now(UTC)
    )
    return Sent(message=message, delivered_to=publish(message))

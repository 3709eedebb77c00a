"""A chat room is a channel: `chat/send` publishes to it, `chat/subscribe` streams it. With
the Redis backends, a message sent through one server instance reaches subscribers on all."""

from datetime import datetime
from typing import Annotated

from milkio_gen import Channel
from pydantic import BaseModel, Field

RoomName = Annotated[str, Field(min_length=1, pattern=r"^[^\r\n\x00 ]+$")]
"""A room's name: a channel's, so without spaces, line breaks or NUL."""


class Message(BaseModel):
    room: str
    author: str
    text: str
    sent_at: datetime


rooms = Channel("room", Message)
"""`rooms("lobby")` is the channel of the room `lobby`."""

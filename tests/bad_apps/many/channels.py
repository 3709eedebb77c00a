from collections.abc import Callable

from milkio_gen import Channel
from pydantic import BaseModel


class Note(BaseModel):
    text: str


notes = Channel("notes", Note)
also_notes = Channel("notes", Note)
callbacks = Channel("callbacks", Callable[[], None])

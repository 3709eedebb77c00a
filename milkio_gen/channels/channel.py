"""`Channel`: a typed name to publish to and subscribe to."""

from __future__ import annotations

import sys
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

__all__ = ["Channel"]

MessageT = TypeVar("MessageT")


class Channel(Generic[MessageT]):
    """A channel and the type of its messages, so publishing and subscribing are type-checked
    and messages cross processes as JSON.

    ```python
    rooms = Channel("room", Message)
    await context.publish(rooms("lobby"), message)       # the channel "room:lobby"
    async for tracked in context.subscribe(rooms("lobby")): ...
    ```
    """

    __slots__ = ("__dict__", "defined_at", "message_type", "name")

    def __init__(self, name: str, message_type: type[MessageT] | Any) -> None:
        if not name or any(character in name for character in "\r\n\0 "):
            raise ValueError(f"a channel name is not empty and holds no space: {name!r}")
        self.name = name
        self.message_type: Any = message_type
        caller = sys._getframe(1)  # pyright: ignore[reportPrivateUsage]
        self.defined_at: tuple[str, str, int] = (
            str(caller.f_globals.get("__name__", "")),
            caller.f_code.co_filename,
            caller.f_lineno,
        )
        """The module, file and line that made the channel, for the build to name."""

    def __call__(self, key: str | int) -> Channel[MessageT]:
        """The channel `name:key`, of the same message type: a room, a user, a job."""
        child = Channel[MessageT](f"{self.name}:{key}", self.message_type)
        child.__dict__["adapter"] = self.adapter
        child.defined_at = self.defined_at
        return child

    @cached_property
    def adapter(self) -> TypeAdapter[MessageT]:
        return TypeAdapter(self.message_type)

    def encode(self, message: MessageT) -> bytes:
        return self.adapter.dump_json(message)

    def decode(self, data: bytes) -> MessageT:
        return self.adapter.validate_json(data)

    def __repr__(self) -> str:
        return (
            f"Channel({self.name!r}, {getattr(self.message_type, '__name__', self.message_type)})"
        )

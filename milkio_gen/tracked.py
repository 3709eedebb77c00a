"""`Tracked`: a chunk with an event id, so a client that reconnects can say where it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Tracked"]

ChunkT = TypeVar("ChunkT")


@dataclass(frozen=True, slots=True)
class Tracked(Generic[ChunkT]):
    """Yield `Tracked(id, chunk)` to send `chunk` with the SSE `id:` line `id`.

    A client that reconnects sends the last id it received as `Last-Event-ID`, which the action
    reads from `context.last_event_id` to continue after it. Annotate the action
    `-> AsyncIterator[Tracked[Chunk]]`; clients receive plain `Chunk`s.
    """

    id: str | None
    """None sends the chunk without an id: a client cannot resume after it."""
    chunk: ChunkT

    def __post_init__(self) -> None:
        if self.id is not None and any(character in self.id for character in "\r\n\0"):
            raise ValueError(f"an event id holds no line break and no NUL: {self.id!r}")

"""A subscriber to `ticks/subscribe` on a raw socket, as light as a client can be, so that
thousands fit in one process: whether its handshake came, and when each tick arrived."""

from __future__ import annotations

import asyncio
import time

import orjson

__all__ = ["TickReader"]

REQUEST = (
    b"POST /ticks/subscribe HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n"
    b"content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
)


class TickReader:
    __slots__ = ("arrivals", "live", "opened", "sent")

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        """The handshake came: the stream is open."""
        self.live = asyncio.Event()
        """A tick came: the subscription is live."""
        self.arrivals: dict[int, int] = {}
        """Each tick's arrival, wall-clock nanoseconds, by its number."""
        self.sent: dict[int, int] = {}
        """Each tick's publication, wall-clock nanoseconds, by its number."""

    async def run(self, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        try:
            while line := await reader.readline():
                if line.startswith(b"data:{"):
                    arrived = time.time_ns()
                    tick = orjson.loads(line[5:])
                    self.arrivals[tick["number"]] = arrived
                    self.sent[tick["number"]] = tick["sent_us"] * 1000
                    self.live.set()
                elif line.startswith(b"data:@"):
                    self.opened.set()
        finally:
            writer.close()

"""A deadline and a size cap for each request's head, for uvicorn, which has neither.

uvicorn waits for a request's headers as long as they trickle in: a client that sends a byte
now and then holds a connection, and its file descriptor, for ever, and enough such clients
(a slowloris) leave none for anybody else. With httptools, the parser it prefers, it also
keeps every header line it is sent, without a bound. Here a connection whose request line
and headers are not all in within `seconds` of its opening, or of the end of its previous
answer, or that sends more than `MAX_HEAD_BYTES` of them, is closed. A request whose head
arrived in time may take as long as it needs: a stream runs for hours. A connection
upgraded to a WebSocket is left alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

__all__ = ["MAX_HEAD_BYTES", "with_header_timeout"]

MAX_HEAD_BYTES = 64 * 1024
"""The most a request line and its headers may take: twice what nginx reads by default."""

logger = logging.getLogger("milkio_gen.server")


def with_header_timeout(protocol: type[Any], seconds: float) -> type[Any]:
    """uvicorn's HTTP protocol class `protocol` (httptools' or h11's), with the deadline."""

    class HeaderTimeout(protocol):
        _head_deadline: asyncio.TimerHandle | None = None
        _head_bytes = 0

        def data_received(self, data: bytes) -> None:
            super().data_received(data)  # pyright: ignore[reportUnknownMemberType]
            if not self._awaiting_head():
                self._head_bytes = 0
                return
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                logger.info(
                    "closed a connection from %s: a request head over %d bytes",
                    _address(self.client),
                    MAX_HEAD_BYTES,
                )
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
            super().connection_made(transport)  # pyright: ignore[reportUnknownMemberType]
            self._await_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # pyright: ignore[reportUnknownMemberType]
            if not self.transport.is_closing():
                self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
            super().connection_lost(exc)  # pyright: ignore[reportUnknownMemberType]

        def _await_head(self) -> None:
            self._head_bytes = 0
            if self._head_deadline is not None:
                self._head_deadline.cancel()
            self._head_deadline = self.loop.call_later(seconds, self._head_overdue)

        def _awaiting_head(self) -> bool:
            """No request is being served: the next one's head is awaited."""
            cycle = self.cycle
            return cycle is None or cycle.response_complete

        def _head_overdue(self) -> None:
            self._head_deadline = None
            if self.transport.get_protocol() is not self:
                return  # upgraded: a WebSocket's protocol serves the connection now
            if not self._awaiting_head():
                return  # the head came: the request is being served
            if not self.transport.is_closing():
                logger.info(
                    "closed a connection from %s: no complete request head within %gs",
                    _address(self.client),
                    seconds,
                )
                self.transport.close()

    HeaderTimeout.__name__ = HeaderTimeout.__qualname__ = f"HeaderTimeout{protocol.__name__}"
    return HeaderTimeout


def _address(client: Any) -> str:
    return f"{client[0]}:{client[1]}" if client else "an unknown client"


def default_protocol() -> type[Any]:
    """The protocol class uvicorn's `http="auto"` picks: httptools' when it is installed."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - uvicorn[standard] brings httptools
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol

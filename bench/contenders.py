"""The servers the stream benchmarks compare ours with: each an ASGI app answering a POST of
`{"n": N}` with N chunks `{"index": i, "text": "tok"}` as Server-Sent Events (`{"n": 1}`
answers the handshake and one chunk at once, for the time to first chunk); and the raw ASGI
references of the idle-streams and cancel benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel


class Count(BaseModel):
    n: int


BATCH = 1000
"""Events the reference sends in one ASGI body message."""

HANDSHAKE = b'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}\n\n'


_EVENT_STREAM = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def _body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def reference(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI, events encoded before the clock starts and sent `BATCH` at a time: the
    ceiling of what uvicorn can carry. It speaks our wire protocol (a handshake, then the
    chunks), so that the generated client can read it too."""
    if scope["type"] != "http":
        return
    count = int(orjson.loads(await _body(receive))["n"])
    events = [HANDSHAKE]
    events += [b"data:" + orjson.dumps({"index": i, "text": "tok"}) + b"\n\n" for i in range(count)]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": _EVENT_STREAM,
        }
    )
    for start in range(0, len(events), BATCH):
        batch = b"".join(events[start : start + BATCH])
        await send({"type": "http.response.body", "body": batch, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class _Broadcast:
    """The latest message and an event set when it changes, replaced by each publish."""

    def __init__(self) -> None:
        self.message = b""
        self.changed: asyncio.Event | None = None
        self.closed = False

    def event(self) -> asyncio.Event:
        if self.changed is None:
            self.changed = asyncio.Event()
        return self.changed

    def publish(self, message: bytes) -> None:
        changed = self.event()
        self.message, self.changed = message, asyncio.Event()
        changed.set()

    def close(self) -> None:
        """End every stream, so that the server can stop without cancelling them."""
        self.closed = True
        self.event().set()


_broadcast = _Broadcast()

MAX_MESSAGES = 1_000_000
"""How many messages an idle reference stream forwards at most (a bound on its loop)."""


async def idle_reference(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI, for the idle-streams benchmark: a POST to `/ticks/subscribe` is a stream
    (the handshake, then every tick published) whose request task waits on one shared
    `asyncio.Event`; a POST of `{"number": n}` to `/ticks/publish` stamps tick `n` with the
    wall clock, encodes it once and wakes every stream; a POST to `/ticks/close` ends them
    all (the benchmark's clean-up). One task per stream and nothing
    else (no disconnect watcher, no pings): the floor of what an idle stream costs."""
    if scope["type"] != "http":
        return
    body = await _body(receive)
    if scope["path"] == "/ticks/close":
        _broadcast.close()
    if scope["path"] in ("/ticks/publish", "/ticks/close"):
        if not _broadcast.closed:
            number = int(orjson.loads(body)["number"])
            tick = {"number": number, "sent_us": time.time_ns() // 1000}
            _broadcast.publish(b"data:" + orjson.dumps(tick) + b"\n\n")
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"null"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _EVENT_STREAM})
    await send({"type": "http.response.body", "body": HANDSHAKE, "more_body": True})
    for _ in range(MAX_MESSAGES):
        await _broadcast.event().wait()
        if _broadcast.closed:
            break
        await send({"type": "http.response.body", "body": _broadcast.message, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def cancel_reference(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI, for the cancel benchmark: a POST of `{"run": k}` gets the handshake and one
    chunk, then the request waits for `http.disconnect` and notes the time as the actions of
    `bench/stream_app/cancel.py` do: how soon uvicorn itself tells an app that its client
    left."""
    from bench.stream_app.cancel import note_stop

    if scope["type"] != "http":
        return
    run = int(orjson.loads(await _body(receive))["run"])
    chunk = b"data:" + orjson.dumps({"index": 0, "text": "tok"}) + b"\n\n"
    await send({"type": "http.response.start", "status": 200, "headers": _EVENT_STREAM})
    await send({"type": "http.response.body", "body": HANDSHAKE + chunk, "more_body": True})
    for _ in range(MAX_MESSAGES):
        if (await receive())["type"] == "http.disconnect":
            break
    note_stop(run)


def sse_starlette() -> Any:
    """Starlette with sse-starlette's `EventSourceResponse`."""
    from sse_starlette.sse import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    async def endpoint(request: Request) -> EventSourceResponse:
        count = int((await request.json())["n"])

        async def events() -> AsyncIterator[dict[str, str]]:
            for index in range(count):
                yield {"data": orjson.dumps({"index": index, "text": "tok"}).decode()}

        return EventSourceResponse(events())

    return Starlette(routes=[Route("/", endpoint, methods=["POST"])])


def fastapi_streaming() -> Any:
    """FastAPI with a `StreamingResponse` of `data:` lines."""
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    app = FastAPI()

    async def endpoint(count: Count) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            for index in range(count.n):
                yield b"data: " + orjson.dumps({"index": index, "text": "tok"}) + b"\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app.post("/")(endpoint)
    return app

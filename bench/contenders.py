"""The servers the stream benchmark compares ours with: each an ASGI app answering a POST of
`{"n": N}` with N chunks `{"index": i, "text": "tok"}` as Server-Sent Events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from pydantic import BaseModel


class Count(BaseModel):
    n: int


BATCH = 1000
"""Events the reference sends in one ASGI body message."""

HANDSHAKE = b'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}\n\n'


async def reference(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Raw ASGI, events encoded before the clock starts and sent `BATCH` at a time: the
    ceiling of what uvicorn can carry. It speaks our wire protocol (a handshake, then the
    chunks), so that the generated client can read it too."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    count = int(orjson.loads(body)["n"])
    events = [HANDSHAKE]
    events += [b"data:" + orjson.dumps({"index": i, "text": "tok"}) + b"\n\n" for i in range(count)]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    for start in range(0, len(events), BATCH):
        batch = b"".join(events[start : start + BATCH])
        await send({"type": "http.response.body", "body": batch, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


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

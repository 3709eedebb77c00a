"""Any SSE library reads our streams: here the third-party parser httpx-sse."""

from __future__ import annotations

import httpx
import orjson
from httpx_sse import connect_sse

from tests.conftest import RunningServer


def test_httpx_sse_reads_handshake_chunks_and_end(example_server: RunningServer) -> None:
    with (
        httpx.Client(base_url=example_server.base_url) as client,
        connect_sse(
            client,
            "POST",
            "/llm/complete",
            json={"prompt": "plain sse", "max_tokens": 3, "delay": 0},
            headers={"accept": "text/event-stream"},
        ) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        events = list(source.iter_sse())
    assert all(event.event == "message" for event in events)
    handshake, *chunks = [event.data for event in events]
    assert handshake.startswith("@")
    assert orjson.loads(handshake[1:])["success"] is True
    decoded = [orjson.loads(chunk) for chunk in chunks]
    assert [chunk["type"] for chunk in decoded] == ["token", "token", "token", "usage"]
    assert decoded[-1] == {"type": "usage", "prompt_tokens": 2, "completion_tokens": 3}


def test_httpx_sse_sees_a_fail_envelope(example_server: RunningServer) -> None:
    with (
        httpx.Client(base_url=example_server.base_url) as client,
        connect_sse(
            client, "POST", "/no/such", json={}, headers={"accept": "text/event-stream"}
        ) as source,
    ):
        (event,) = list(source.iter_sse())
    assert orjson.loads(event.data[1:])["fail"]["code"] == "NOT_FOUND"

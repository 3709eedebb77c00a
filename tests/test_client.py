"""The generated Python clients, async and sync, against real servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from milkio_gen.runtime.client import Failure, Success

from tests.conftest import GeneratedPackage, RunningServer

VALUES = {
    "when": datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=UTC),
    "naive": datetime(2026, 11, 24, 10, 0, 0),
    "big": 2**60 + 1,
    "items": [1, -(2**70)],
}


async def test_stream_yields_typed_chunks_then_success(example_server: RunningServer) -> None:
    from generated.client import AsyncClient, Token, Usage

    async with AsyncClient(base_url=example_server.base_url) as client:
        call = client.llm.complete.execute_stream(
            params={"prompt": "one two", "max_tokens": 3, "delay": 0}
        )
        chunks = [chunk async for chunk in call.stream]
    assert [type(chunk) for chunk in chunks] == [Token, Token, Token, Usage]
    assert chunks[-1] == Usage(prompt_tokens=2, completion_tokens=3)
    result = call.get_result()
    assert isinstance(result, Success)
    assert len(result.execute_id) == 26


def test_sync_stream_yields_typed_chunks_then_success(example_server: RunningServer) -> None:
    from generated.client import Client, Token, Usage

    with Client(base_url=example_server.base_url) as client:
        call = client.execute_stream(
            "llm/complete", params={"prompt": "a", "max_tokens": 2, "delay": 0}
        )
        chunks = list(call.stream)
    assert [type(chunk) for chunk in chunks] == [Token, Token, Usage]
    assert call.get_result().success is True


async def test_plain_execute_returns_typed_success_and_typed_fail(
    example_server: RunningServer,
) -> None:
    from generated.client import AsyncClient, Greeting, OutOfStock, OutOfStockFail

    async with AsyncClient(base_url=example_server.base_url) as client:
        greeting = await client.hello.say.execute(params={"name": "furina"})
        refused = await client.execute("orders/place", params={"item": "cake", "quantity": 2})
    assert isinstance(greeting, Success)
    assert isinstance(greeting.data, Greeting)
    assert greeting.data.at.tzinfo is not None
    assert isinstance(refused, Failure)
    assert refused.fail == OutOfStockFail(
        code="OUT_OF_STOCK",
        message="Only 0 of cake left",
        data=OutOfStock(item="cake", available=0),
    )
    assert refused.fail.from_client is False


async def test_by_path_and_by_accessor_are_the_same_call(example_server: RunningServer) -> None:
    from generated.client import AsyncClient

    async with AsyncClient(base_url=example_server.base_url) as client:
        by_path = await client.execute("hello/say", params={"name": "a"})
        by_accessor = await client.hello.say.execute(params={"name": "a"})
    assert by_path
    assert by_accessor
    assert by_path.data.message == by_accessor.data.message


async def test_unknown_path_by_string_gets_not_found(example_server: RunningServer) -> None:
    from generated.client import AsyncClient

    async with AsyncClient(base_url=example_server.base_url) as client:
        result = await client.execute("no/such", params={})  # type: ignore[call-overload]
    assert isinstance(result, Failure)
    assert result.fail.code == "NOT_FOUND"


async def test_values_json_cannot_carry_round_trip_exactly(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        echoed = await client.values.echo.execute(params=VALUES)
        call = client.values.echo_stream.execute_stream(params=VALUES)
        streamed = [chunk async for chunk in call.stream]
    assert echoed
    assert echoed.data.model_dump() == {**VALUES, "label": None}
    assert [chunk.model_dump() for chunk in streamed] == [{**VALUES, "label": None}] * 2


def test_sync_values_round_trip(probe: GeneratedPackage, probe_server: RunningServer) -> None:
    with probe.client.Client(base_url=probe_server.base_url) as client:
        echoed = client.execute("values/echo", params=VALUES)
    assert echoed
    assert echoed.data.big == 2**60 + 1
    assert echoed.data.naive.tzinfo is None


async def test_api_without_params(probe: GeneratedPackage, probe_server: RunningServer) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        result = await client.values.nothing.execute()
    assert result == Success(None, result.execute_id)


async def test_headers_of_client_and_call_reach_the_context(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(
        base_url=probe_server.base_url, headers={"x-probe": "client"}
    ) as client:
        from_client = await client.values.context_seen.execute()
        from_call = await client.values.context_seen.execute(headers={"x-probe": "call"})
    assert from_client
    assert from_call
    assert from_client.data.header == "client"
    assert from_call.data.header == "call"
    assert from_call.data.execute_id == from_call.execute_id


async def test_a_given_httpx_client_is_used_and_left_open(example_server: RunningServer) -> None:
    from generated.client import AsyncClient

    seen: list[str] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [note]}) as http:
        async with AsyncClient(base_url=example_server.base_url, http_client=http) as client:
            assert await client.hello.say.execute(params={"name": "a"})
        assert not http.is_closed
    assert seen == ["/hello/say"]


async def test_stream_fail_mid_stream_becomes_the_result(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        call = client.failures.raise_in_stream.execute_stream()
        chunks = [chunk async for chunk in call.stream]
    assert chunks == [1, 2]
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.code == "INTERNAL_SERVER_ERROR"
    assert result.fail.from_client is False


async def test_result_before_iterating_is_an_error(example_server: RunningServer) -> None:
    from generated.client import AsyncClient

    async with AsyncClient(base_url=example_server.base_url) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        with pytest.raises(RuntimeError, match="iterate"):
            call.get_result()


async def test_server_down_gives_network_error_from_client() -> None:
    from generated.client import AsyncClient, Client

    async with AsyncClient(base_url="http://127.0.0.1:9") as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        assert [chunk async for chunk in call.stream] == []
        plain = await client.hello.say.execute(params={"name": "a"})
    with Client(base_url="http://127.0.0.1:9") as sync_client:
        sync_plain = sync_client.hello.say.execute(params={"name": "a"})
    for result in (call.get_result(), plain, sync_plain):
        assert isinstance(result, Failure)
        assert result.fail.code == "NETWORK_ERROR"
        assert result.fail.from_client is True
        assert result.execute_id is None


HANDSHAKE = b'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}\n\n'


def sse_response(body: bytes, content_type: bytes = b"text/event-stream") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: "
        + content_type
        + b"\r\nconnection: close\r\n\r\n"
        + body
    )


@pytest.mark.parametrize(
    ("body", "content_type", "chunks", "code", "detail"),
    [
        (HANDSHAKE + b'data:"a"\n\ndata:"b', b"text/event-stream", ["a"], "NETWORK_ERROR",
         "middle of an event"),
        (b"", b"text/event-stream", [], "NETWORK_ERROR", "before its handshake"),
        (b"<html>bad gateway</html>", b"text/html", [], "NETWORK_ERROR", "text/html"),
        (HANDSHAKE + b'data:"a"\n\ndata:{"x":1}\n\n', b"text/event-stream", ["a"],
         "TYPE_SAFE_ERROR", None),
        (b'data:"a"\n\n', b"text/event-stream", [], "NETWORK_ERROR", "before its handshake"),
    ],
)  # fmt: skip
async def test_broken_answers_end_with_a_client_made_fail(
    raw_http_server: object,
    body: bytes,
    content_type: bytes,
    chunks: list[str],
    code: str,
    detail: str | None,
) -> None:
    from generated.client import AsyncClient

    base_url = raw_http_server(sse_response(body, content_type))  # type: ignore[operator]
    async with AsyncClient(base_url=base_url) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        received = [chunk async for chunk in call.stream]
    assert received == chunks
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.code == code
    assert result.fail.from_client is True
    if detail:
        assert detail in str(result.fail.data)


async def test_a_stream_is_iterated_once(example_server: RunningServer) -> None:
    from generated.client import AsyncClient

    async with AsyncClient(base_url=example_server.base_url) as client:
        call = client.llm.complete.execute_stream(params={"prompt": "a", "max_tokens": 1})
        assert call.stream is call.stream
        async for _ in call.stream:
            pass
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already consumed"):
            call.stream  # noqa: B018


async def test_text_that_looks_like_tson_and_bytes_round_trip(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    params = {"text": "t!Date:2026-01-01T00:00:00Z", "raw": "héllo".encode(), "binary": b"\x00\xff"}
    async with probe.client.AsyncClient(base_url=probe_server.base_url) as client:
        result = await client.values.texts.execute(params=params)
    assert result
    assert result.data.text == "t!Date:2026-01-01T00:00:00Z"
    assert result.data.raw == "héllo".encode()
    assert result.data.binary == b"\x00\xff"

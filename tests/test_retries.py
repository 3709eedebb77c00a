"""Retries in the Python clients: what is made again, what resumes, what never is."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from milkio_gen.runtime.client import Failure, Retry, Success

from tests.conftest import GeneratedPackage, RunningServer

QUICK = Retry(attempts=4, backoff=0.01, max_backoff=0.05)
HANDSHAKE = b'data:@{"executeId":"01J0000000000000000000000A","success":true,"data":"$"}\n\n'
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\n"
    b"connection: close\r\n\r\n"
)


def sse(body: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
    return head + body


def json_answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + body
    )


async def test_a_stream_is_retried_until_the_server_answers(raw_http_server: Any) -> None:
    from generated.client import AsyncClient

    base_url = raw_http_server(UNAVAILABLE, UNAVAILABLE, sse(HANDSHAKE + b'data:"a"\n\n'))
    async with AsyncClient(base_url=base_url, retry=QUICK) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        chunks = [chunk async for chunk in call.stream]
    assert chunks == ["a"]
    assert call.get_result().success is True
    assert raw_http_server.connections == 3


def test_a_plain_call_is_retried_after_a_503(raw_http_server: Any) -> None:
    from generated.client import Client

    greeting = b'{"executeId":"01J0000000000000000000000A","success":true,'
    greeting += b'"data":{"message":"hi","at":"t!Date:2026-01-01T00:00:00Z"}}'
    base_url = raw_http_server(UNAVAILABLE, json_answer(greeting))
    with Client(base_url=base_url) as client:
        result = client.hello.say.execute(params={"name": "a"}, retry=QUICK)
    assert isinstance(result, Success)
    assert result.data.message == "hi"
    assert raw_http_server.connections == 2


def test_without_retry_a_503_is_the_result(raw_http_server: Any) -> None:
    from generated.client import Client

    base_url = raw_http_server(UNAVAILABLE)
    with Client(base_url=base_url) as client:
        result = client.hello.say.execute(params={"name": "a"})
    assert isinstance(result, Failure)
    assert result.fail.code == "NETWORK_ERROR"
    assert raw_http_server.connections == 1


def test_attempts_are_bounded(raw_http_server: Any) -> None:
    from generated.client import Client

    base_url = raw_http_server(UNAVAILABLE)
    with Client(base_url=base_url, retry=QUICK) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        assert list(call.stream) == []
    assert not call.get_result()
    assert raw_http_server.connections == QUICK.attempts


def test_business_fails_are_never_retried(raw_http_server: Any) -> None:
    from generated.client import Client

    fail = b'{"executeId":"01J0000000000000000000000A","success":false,"fail":'
    fail += b'{"code":"OUT_OF_STOCK","message":"none","data":{"item":"x","available":0}}}'
    base_url = raw_http_server(json_answer(fail))
    with Client(base_url=base_url, retry=QUICK) as client:
        result = client.orders.place.execute(params={"item": "x", "quantity": 1})
    assert isinstance(result, Failure)
    assert result.fail.code == "OUT_OF_STOCK"
    assert raw_http_server.connections == 1


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_tracked_stream_resumes_after_each_cut_with_nothing_lost_or_repeated(
    probe: GeneratedPackage, probe_server: RunningServer, kind: str
) -> None:
    """The stream may run 0.15 s at a time; 30 chunks take 0.6 s: four tries, one sequence."""
    params = {"key": uuid.uuid4().hex}
    if kind == "async":
        async with probe.client.AsyncClient(base_url=probe_server.base_url, retry=QUICK) as client:
            call = client.lifecycle.numbered_briefly.execute_stream(params=params)
            numbers = [number async for number in call.stream]
    else:
        with probe.client.Client(base_url=probe_server.base_url, retry=QUICK) as client:
            call = client.lifecycle.numbered_briefly.execute_stream(params=params)
            numbers = list(call.stream)
    assert numbers == list(range(30))
    assert call.get_result().success is True
    assert call.last_event_id == "29"


async def test_an_untracked_stream_that_gave_chunks_is_not_retried(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    """Without ids a retry would repeat what was received: the fail is the result."""
    async with probe.client.AsyncClient(base_url=probe_server.base_url, retry=QUICK) as client:
        call = client.lifecycle.deadline.execute_stream(params={"key": uuid.uuid4().hex})
        chunks = [chunk async for chunk in call.stream]
    assert chunks == ["started"]
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.code == "STREAM_DEADLINE"


def test_backoff_doubles_up_to_its_cap_and_honours_retry_after() -> None:
    fixed = Retry(backoff=0.5, max_backoff=3, jitter=False)
    assert [fixed.delay(attempt) for attempt in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    assert fixed.delay(0, retry_after=7) == 7
    jittered = Retry(backoff=1, max_backoff=8)
    assert all(0 <= jittered.delay(3) <= 8 for _ in range(100))


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_silent_stream_ends_after_its_idle_timeout_though_pings_arrive(
    probe: GeneratedPackage, kind: str
) -> None:
    """Pings every 0.1 s keep the bytes flowing; only chunks count against the idle time."""
    from milkio_gen.runtime.client import StreamTimeouts
    from milkio_gen.runtime.server import ServerSettings, create_app, create_router

    from tests.conftest import serve_in_thread

    router = create_router(
        probe.server.apis,
        fail_codes=probe.server.fail_codes,
        settings=ServerSettings(ping_interval=0.1),
    )
    timeouts = StreamTimeouts(idle=0.5)
    for running in serve_in_thread(create_app(router)):
        started = time.monotonic()
        params = {"key": uuid.uuid4().hex}
        if kind == "async":
            async with probe.client.AsyncClient(
                base_url=running.base_url, stream_timeouts=timeouts
            ) as client:
                call = client.lifecycle.forever.execute_stream(params=params)
                chunks = [chunk async for chunk in call.stream]
        else:
            with probe.client.Client(base_url=running.base_url, stream_timeouts=timeouts) as client:
                call = client.lifecycle.forever.execute_stream(params=params)
                chunks = list(call.stream)
        elapsed = time.monotonic() - started
        result = call.get_result()
        assert chunks == ["ready"]
        assert isinstance(result, Failure)
        assert result.fail.code == "NETWORK_ERROR"
        assert "no chunk for 0.5s" in result.fail.data
        assert 0.5 <= elapsed < 1.5


async def test_no_handshake_in_time_is_a_network_error() -> None:
    import socket
    import threading

    from milkio_gen.runtime.client import StreamTimeouts

    from generated.client import AsyncClient

    listener = socket.create_server(("127.0.0.1", 0))

    def answer_headers_only() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(sse(b""))
            time.sleep(2)  # the handshake never comes

    thread = threading.Thread(target=answer_headers_only, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    async with AsyncClient(
        base_url=base_url, stream_timeouts=StreamTimeouts(handshake=0.3)
    ) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        assert [chunk async for chunk in call.stream] == []
    elapsed = time.monotonic() - started
    thread.join(5)
    listener.close()
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.code == "NETWORK_ERROR"
    assert result.fail.data == "no handshake within 0.3s"
    assert 0.3 <= elapsed < 1.5


async def test_a_stop_during_the_wait_between_tries_ends_the_call_at_once(
    raw_http_server: Any,
) -> None:
    import asyncio

    from generated.client import AsyncClient

    later = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\ncontent-length: 0\r\n\r\n"
    base_url = raw_http_server(later)
    async with AsyncClient(base_url=base_url, retry=QUICK) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        consumer = asyncio.ensure_future(asyncio.wait_for(anext(call.stream, None), 5))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await call.aclose()
        assert await consumer is None
        assert time.monotonic() - started < 0.5
    assert raw_http_server.connections == 1


def test_a_504_to_a_plain_call_is_not_made_again(raw_http_server: Any) -> None:
    from generated.client import Client

    base_url = raw_http_server(b"HTTP/1.1 504 Gateway Timeout\r\ncontent-length: 0\r\n\r\n")
    with Client(base_url=base_url, retry=QUICK) as client:
        result = client.hello.say.execute(params={"name": "a"})
    assert not result
    assert raw_http_server.connections == 1, "the action may have run behind the gateway"


def test_the_total_timeout_bounds_the_retries(raw_http_server: Any) -> None:
    from milkio_gen.runtime.client import StreamTimeouts

    from generated.client import Client

    base_url = raw_http_server(UNAVAILABLE)
    slow = Retry(attempts=10, backoff=0.2, max_backoff=0.2, jitter=False)
    started = time.monotonic()
    with Client(base_url=base_url, retry=slow, stream_timeouts=StreamTimeouts(total=0.5)) as client:
        call = client.your_stream_api.execute_stream(params={"name": "a"})
        assert list(call.stream) == []
    assert time.monotonic() - started < 1
    assert raw_http_server.connections <= 3


def test_a_chunk_without_an_id_after_tracked_ones_cannot_be_resumed_after() -> None:
    from milkio_gen.runtime.sse import SSEDecoder

    events = SSEDecoder().feed(b"id:1\ndata:1\n\ndata:2\n\n")
    assert [(event.id, event.own_id) for event in events] == [("1", True), ("1", False)]

"""What ends a stream on the server, and what keeps it alive: stop reasons, deadlines, send
timeouts, keep-alive pings, event ids and resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.config.compression import CompressionConfig
from milkio_gen.runtime.server import ServerSettings, create_app, create_router
from milkio_gen.runtime.server import stream as server_streams

from tests.conftest import ROOT, GeneratedPackage, RunningServer, serve_in_thread
from tests.probe_app.recorder import record

SSE = {"accept": "text/event-stream", "content-type": "application/json"}


@pytest.fixture(scope="module")
def tight_server(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app with short keep-alive and send timeouts."""
    settings = ServerSettings(ping_interval=0.1, send_timeout=0.5)
    router = create_router(probe.server.apis, fail_codes=probe.server.fail_codes, settings=settings)
    yield from serve_in_thread(create_app(router))


def key() -> str:
    return uuid.uuid4().hex


def test_a_client_that_leaves_is_the_stop_reason(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    probe_key = key()
    with probe.client.Client(base_url=probe_server.base_url) as client:
        for _ in client.lifecycle.forever.execute_stream(params={"key": probe_key}).stream:
            break
    assert record(probe_key).ended.wait(5)
    assert record(probe_key).context.stop_reason == "disconnected"


def test_max_duration_ends_the_stream_with_a_retryable_fail(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    probe_key = key()
    started = time.monotonic()
    with probe.client.Client(base_url=probe_server.base_url) as client:
        call = client.lifecycle.deadline.execute_stream(params={"key": probe_key})
        chunks = list(call.stream)
    elapsed = time.monotonic() - started
    result = call.get_result()
    assert chunks == ["started"]
    assert not result
    assert result.fail.code == "STREAM_DEADLINE"
    assert result.fail.data.seconds == 0.3
    assert 0.3 <= elapsed < 2
    assert record(probe_key).ended.wait(5)
    assert record(probe_key).context.stop_reason == "deadline"
    manifest = (probe.directory / "schema" / "manifest.json").read_text()
    assert '"code": "STREAM_DEADLINE",\n      "builtin": true,\n      "retryable": true' in manifest


def test_silences_are_filled_with_pings_that_no_client_sees(
    probe: GeneratedPackage, tight_server: RunningServer
) -> None:
    raw = httpx.post(
        f"{tight_server.base_url}/lifecycle/slow-ticks",
        json={"key": key()},
        headers=SSE,
        timeout=10,
    )
    assert raw.content.count(b": ping\n") >= 6, raw.content
    assert b": ping\n\n" not in raw.content, "a ping never stands as an event of its own"
    with probe.client.Client(base_url=tight_server.base_url) as client:
        call = client.lifecycle.slow_ticks.execute_stream(params={"key": key()})
        assert list(call.stream) == ["tick", "tick", "tick"]
        assert call.get_result().success is True


@pytest.fixture(scope="module")
def compressing_server(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app in an app that gzips every answer it can."""
    router = create_router(probe.server.apis, fail_codes=probe.server.fail_codes)
    config = CompressionConfig(backend="gzip", minimum_size=1)
    yield from serve_in_thread(create_app(router, compression_config=config))


def test_event_streams_are_never_compressed_even_in_an_app_that_compresses(
    compressing_server: RunningServer,
) -> None:
    headers = {**SSE, "accept-encoding": "gzip"}
    with httpx.Client(base_url=compressing_server.base_url, timeout=5) as client:
        plain = client.post("/lifecycle/ended-report", json={"key": key()}, headers=headers)
        assert plain.headers["content-encoding"] == "gzip", "the app does compress"
        with client.stream(
            "POST", "/lifecycle/slow-second", json={"key": key()}, headers=headers
        ) as response:
            assert "content-encoding" not in response.headers
            assert response.headers["cache-control"] == "no-cache, no-transform"
            assert response.headers["x-accel-buffering"] == "no"
            events = response.iter_lines()
            received = [next(events) for _ in range(4)]  # at once: nothing holds it back
    assert received[2:] == ['data:"first"', ""]


def test_a_reader_of_one_chunk_a_second_holds_the_action_back(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    """The action yields 16 KiB chunks as fast as it can; once the socket buffers between are
    full, it advances only as the client reads, and the server holds at most its byte limit."""
    probe_key = key()
    limit = ServerSettings().stream_buffer_bytes
    produced: list[int] = []
    held: list[int] = []
    with probe.client.Client(base_url=probe_server.base_url) as client:
        call = client.lifecycle.heavy.execute_stream(params={"key": probe_key})
        for chunk in call.stream:
            assert int(chunk[:8]) == len(produced) + 1, "chunks come whole and in order"
            produced.append(record(probe_key).chunks)
            held.append(max((pump.held_bytes for pump in server_streams._OPEN), default=0))
            if len(produced) == 6:
                break
            time.sleep(1)
    assert record(probe_key).ended.wait(5)
    # Reads 2 to 6 took four seconds: a racing action would have yielded thousands more.
    assert produced[-1] - produced[1] <= 8, produced
    assert max(held) <= limit + 16 * 1024 + 100, held


def test_a_client_that_stops_reading_is_disconnected_after_the_send_timeout(
    tight_server: RunningServer,
) -> None:
    probe_key = key()
    host, port = tight_server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        body = f'{{"key": "{probe_key}"}}'.encode()
        connection.sendall(
            b"POST /lifecycle/spin HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n"
            b"content-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        # Read nothing: the kernel buffers fill, the server's send waits, then gives up.
        assert record(probe_key).ended.wait(20), "the action kept running"
    assert record(probe_key).how == "finally"


def test_tracked_chunks_carry_ids_and_a_reconnect_resumes_after_the_last(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    raw = httpx.Client(base_url=probe_server.base_url)
    with raw.stream("POST", "/lifecycle/numbered", json={"key": "x"}, headers=SSE) as response:
        head = b""
        for piece in response.iter_raw():
            head += piece
            if head.count(b"\n\n") >= 3:
                break
    assert b"id:0\ndata:0\n\nid:1\ndata:1\n\n" in head
    raw.close()

    with probe.client.Client(base_url=probe_server.base_url) as client:
        first = client.lifecycle.numbered.execute_stream(params={"key": "x"})
        seen = []
        for number in first.stream:
            seen.append(number)
            if len(seen) == 5:
                break
        assert first.last_event_id == "4"
        resumed = client.lifecycle.numbered.execute_stream(
            params={"key": "x"}, headers={"last-event-id": first.last_event_id}
        )
        stream = resumed.stream
        assert [next(stream) for _ in range(3)] == [5, 6, 7]
        stream.close()
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.timeout(60)
def test_sigterm_ends_open_streams_with_a_retryable_fail_then_exits(
    probe: GeneratedPackage,
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    package = probe.directory.parent
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from milkio_gen.serving import serve; "
            f"serve('probe_gen.server:app', host='127.0.0.1', port={port}, log_level='info')",
        ],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(package), str(ROOT)])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{base_url}/values/nothing", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        with probe.client.Client(base_url=base_url) as client:
            call = client.lifecycle.forever.execute_stream(params={"key": key()})
            stream = call.stream
            assert next(stream) == "ready"
            stopped_at = time.monotonic()
            server.send_signal(signal.SIGTERM)
            assert list(stream) == []
        result = call.get_result()
        assert not result
        assert result.fail.code == "SERVER_SHUTTING_DOWN"
        # uvicorn raises the signal again once it has shut down, as the process's exit status.
        assert server.wait(timeout=10) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped_at < 5
    finally:
        server.kill()
        output = server.communicate(timeout=10)[0].decode()
    assert "stopped 1 open stream(s)" in output
    assert "forever ended: shutdown" in output, "the action's finally ran, knowing why"


def test_a_stopped_action_sends_nothing_more_and_its_cleanup_completes(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    probe_key = key()
    raw = httpx.post(
        f"{probe_server.base_url}/lifecycle/stubborn", json={"key": probe_key}, headers=SSE
    )
    events = [block for block in raw.content.split(b"\n\n") if block]
    assert events[1] == b'data:"a"'
    assert b"STREAM_DEADLINE" in events[2]
    assert len(events) == 3, "no chunk, and no second fail, after the closing fail"
    assert record(probe_key).ended.wait(5)
    assert record(probe_key).how == "cleaned"


async def test_a_shutdown_in_the_same_step_as_a_send_timeout_is_a_shutdown() -> None:
    """Both stop the request task by cancelling it: the server's cancel is not taken for the
    send timeout's, and the task ends cancelled, as the server asked."""
    import asyncio

    from milkio_gen.runtime.server.stream import StreamLimits, StreamPump

    async def chunks() -> Any:
        while True:
            yield "x"
            await asyncio.sleep(0.01)

    never = asyncio.Event()

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            await never.wait()  # a client that stopped reading

    async def receive() -> Any:
        await never.wait()

    pump = StreamPump(
        chunks(),
        send=send,
        receive=receive,
        encode_chunk=lambda chunk: b'"x"',
        on_error=lambda error: b"",
        on_stop=lambda reason: None,
        limits=StreamLimits(256, 65536, ping_interval=None, send_timeout=0.2, max_duration=None),
    )
    tick = pump._tick  # pyright: ignore[reportPrivateUsage]

    def tick_then_shutdown() -> None:
        tick()
        if pump._send_timed_out:  # pyright: ignore[reportPrivateUsage]
            request.cancel()  # the server's cancel, in the same loop step

    pump._tick = tick_then_shutdown  # pyright: ignore[reportPrivateUsage]
    start: Any = {"type": "http.response.start", "status": 200, "headers": []}
    request = asyncio.create_task(pump.run(start, b"data:@{}\n\n"))
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(request, 5)
    assert pump.stop_reason == "shutdown"

"""Streams through a real nginx in front of the server, with its proxy buffering left on and a
`proxy_read_timeout` of 2 s: chunks pass at once, idle streams stay open, stops reach the
action. Each test also shows the proxy setting or the server's header or ping that it rests
on, by taking it away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from milkio_gen.runtime.client import Failure, StreamTimeouts
from milkio_gen.runtime.server import ServerSettings
from milkio_gen.testing.nginx import READ_TIMEOUT, Nginx

from tests.conftest import GeneratedPackage, RunningServer, serve_probe_with
from tests.probe_app.recorder import record

PING_INTERVAL = 0.5
IGNORE_HEADER = "proxy_ignore_headers X-Accel-Buffering;"
GZIP_STREAMS = ("gzip on;", "gzip_types text/event-stream;")
SSE = {"accept": "text/event-stream", "content-type": "application/json"}


@pytest.fixture(scope="module")
def pinging_server(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app, pinging idle streams every half second."""
    yield from serve_probe_with(probe, ServerSettings(ping_interval=PING_INTERVAL))


@pytest.fixture(scope="module")
def silent_server(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app with its keep-alive pings off."""
    yield from serve_probe_with(probe, ServerSettings(ping_interval=None))


def port_of(server: RunningServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def proxy(pinging_server: RunningServer) -> Iterator[Nginx]:
    """nginx with the settings of docs/deploy.md in front of `pinging_server`."""
    with Nginx(port_of(pinging_server)) as nginx:
        yield nginx


def key() -> str:
    return uuid.uuid4().hex


def first_chunk(probe: GeneratedPackage, base_url: str) -> tuple[list[str], float, Any]:
    """What `slow_second` (one chunk, then 30 s of silence) sends within 1.5 s, and when."""
    with probe.client.Client(
        base_url=base_url, stream_timeouts=StreamTimeouts(handshake=1.5)
    ) as client:
        call = client.lifecycle.slow_second.execute_stream(params={"key": key()})
        started = time.monotonic()
        received: list[str] = []
        for chunk in call.stream:
            received.append(chunk)
            break
        return received, time.monotonic() - started, call.get_result()


@pytest.mark.timeout(20)
def test_the_first_chunk_passes_nginx_at_once(probe: GeneratedPackage, proxy: Nginx) -> None:
    received, elapsed, result = first_chunk(probe, proxy.base_url)
    assert received == ["first"], result
    assert elapsed < 0.5, f"{elapsed:.2f} s"


def first_chunk_gzipped(base_url: str) -> float | None:
    """Seconds until `slow_second`'s chunk comes, gzipped, through `base_url`; None if it does
    not come within 1.5 s."""
    started = time.monotonic()
    try:
        with httpx.stream(
            "POST",
            f"{base_url}/lifecycle/slow-second",
            json={"key": key()},
            headers={**SSE, "accept-encoding": "gzip"},
            timeout=httpx.Timeout(5, read=1.5),
        ) as response:
            assert response.headers["content-encoding"] == "gzip"
            for line in response.iter_lines():
                if line == 'data:"first"':
                    return time.monotonic() - started
    except httpx.ReadTimeout:
        return None
    raise AssertionError("the stream ended without its chunk")


@pytest.mark.timeout(20)
def test_nginx_that_gzips_event_streams_flushes_each_chunk_for_our_header(
    pinging_server: RunningServer,
) -> None:
    """nginx's gzip ignores `no-transform`, but with `X-Accel-Buffering: no` it flushes each
    write. Told to ignore that header, it holds everything back, the response's head too."""
    with Nginx(port_of(pinging_server), *GZIP_STREAMS) as gzipping:
        elapsed = first_chunk_gzipped(gzipping.base_url)
    assert elapsed is not None, "the chunk did not come within 1.5 s"
    assert elapsed < 0.5, f"{elapsed:.2f} s"
    with Nginx(port_of(pinging_server), *GZIP_STREAMS, IGNORE_HEADER) as buffering:
        assert first_chunk_gzipped(buffering.base_url) is None


@pytest.mark.timeout(20)
def test_the_python_client_reads_a_stream_through_a_proxy_that_gzips_event_streams(
    probe: GeneratedPackage, pinging_server: RunningServer
) -> None:
    """The clients ask for no compression on streams (`Accept-Encoding: identity`), so an
    nginx with `gzip_types text/event-stream` passes the events as they are."""
    with Nginx(port_of(pinging_server), *GZIP_STREAMS) as gzipping:
        received, _, result = first_chunk(probe, gzipping.base_url)
    assert received == ["first"], result


def run_ahead(probe: GeneratedPackage, base_url: str) -> int:
    """How many 16 KiB chunks `heavy` yields for a client that reads one and then waits, once
    the action stops advancing."""
    probe_key = key()
    with probe.client.Client(base_url=base_url) as client:
        call = client.lifecycle.heavy.execute_stream(params={"key": probe_key})
        chunks = iter(call.stream)
        next(chunks)
        counts = [record(probe_key).chunks]
        for _ in range(25):  # at most 5 s for the buffers on the way to fill
            time.sleep(0.2)
            counts.append(record(probe_key).chunks)
            if counts[-1] == counts[-2]:
                break
        call.close()
    assert counts[-1] == counts[-2], f"still advancing: {counts}"
    assert record(probe_key).ended.wait(5)
    return counts[-1]


@pytest.mark.timeout(30)
def test_nginx_does_not_buffer_a_stream_ahead_of_its_reader(
    probe: GeneratedPackage, pinging_server: RunningServer, proxy: Nginx
) -> None:
    """Backpressure reaches the action through nginx: only the socket buffers on the way hold
    chunks. Ignoring `X-Accel-Buffering`, nginx reads the stream into its memory and a temporary
    file (here at most 32 MB; by default 1 GB) for a client that does not read."""
    held_back = run_ahead(probe, proxy.base_url)
    with Nginx(
        port_of(pinging_server), IGNORE_HEADER, "proxy_max_temp_file_size 32m;"
    ) as buffering:
        buffered = run_ahead(probe, buffering.base_url)
    assert held_back < 1500, f"{held_back} chunks of 16 KiB ahead"
    assert buffered - held_back > 1500, f"{buffered} chunks against {held_back}"


def subscribed(client: Any, feed: str) -> tuple[Any, Iterator[Any]]:
    """A subscription to `feed` through `client`, once its first note came."""
    assert client.feeds.publish.execute(params={"feed": feed, "texts": ["before"]})
    call = client.feeds.subscribe.execute_stream(params={"feed": feed, "history": 1})
    chunks = iter(call.stream)
    assert next(chunks).text == "before"
    return call, chunks


@pytest.mark.timeout(30)
def test_an_idle_stream_outlives_the_proxy_read_timeout(
    probe: GeneratedPackage, proxy: Nginx
) -> None:
    """Pings every 0.5 s keep a stream silent for twice nginx's 2 s `proxy_read_timeout` open,
    and its next chunk comes."""
    feed = key()
    with probe.client.Client(base_url=proxy.base_url) as client:
        call, chunks = subscribed(client, feed)
        time.sleep(2 * READ_TIMEOUT + 0.5)
        assert client.feeds.publish.execute(params={"feed": feed, "texts": ["after"]})
        after = next(chunks, None)
        call.close()
    assert after is not None, "the stream was cut"
    assert after.text == "after"


@pytest.mark.timeout(30)
def test_an_idle_stream_without_pings_is_cut_by_nginx(
    probe: GeneratedPackage, silent_server: RunningServer
) -> None:
    with (
        Nginx(port_of(silent_server)) as unpinged,
        probe.client.Client(base_url=unpinged.base_url) as client,
    ):
        call, chunks = subscribed(client, key())
        opened = time.monotonic()
        rest = list(chunks)
        lasted = time.monotonic() - opened
        errors = unpinged.errors()
    assert rest == []
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.code == "NETWORK_ERROR"
    assert READ_TIMEOUT - 0.1 <= lasted < READ_TIMEOUT + 1.5, f"{lasted:.2f} s"
    assert "upstream timed out" in errors


async def stop_by_aclose(client: Any, probe_key: str) -> float:
    call = client.lifecycle.forever.execute_stream(params={"key": probe_key})
    stream = call.stream
    assert await asyncio.wait_for(anext(stream), 5) == "ready"
    stopped_at = time.monotonic()
    await stream.aclose()
    return stopped_at


async def stop_by_break(client: Any, probe_key: str) -> float:
    stopped_at = 0.0
    async for _ in client.lifecycle.forever.execute_stream(params={"key": probe_key}).stream:
        stopped_at = time.monotonic()
        break
    return stopped_at


@pytest.mark.timeout(20)
@pytest.mark.parametrize("stop", [stop_by_aclose, stop_by_break])
async def test_a_stop_through_nginx_ends_the_action_within_100ms(
    probe: GeneratedPackage, proxy: Nginx, stop: Any
) -> None:
    probe_key = key()
    async with probe.client.AsyncClient(base_url=proxy.base_url) as client:
        stopped_at = await stop(client, probe_key)
        entry = record(probe_key)
        assert await asyncio.to_thread(entry.ended.wait, 5), "the action never ended"
    assert entry.ended_at is not None
    elapsed = entry.ended_at - stopped_at
    assert elapsed < 0.1, f"the action ran {elapsed * 1000:.1f} ms after the stop"
    assert entry.context.stop_reason == "disconnected"


@pytest.mark.timeout(20)
def test_a_stop_through_nginx_that_ignores_client_aborts_arrives_late(
    probe: GeneratedPackage, pinging_server: RunningServer
) -> None:
    """With `proxy_ignore_client_abort on`, nginx does not pass the client's leaving on: it
    goes on reading the stream for nobody, until a ping it forwards fails to be written (the
    second after the close, 0.5 s apart) or nginx goes."""
    probe_key = key()
    with Nginx(port_of(pinging_server), "proxy_ignore_client_abort on;") as ignoring:
        with probe.client.Client(base_url=ignoring.base_url) as client:
            for _ in client.lifecycle.forever.execute_stream(params={"key": probe_key}).stream:
                break
        assert not record(probe_key).ended.wait(0.3), "the action ended with the client"
        assert record(probe_key).ended.wait(3), "a forwarded ping failed, and it ended late"

"""Faults of real networks, made by a TCP fault proxy or by killing the server: what the
client reports, what the action saw, and that nothing leaks."""

from __future__ import annotations

import gc
import logging
import signal
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from milkio_gen.runtime.client import Failure, Retry, StreamTimeouts
from milkio_gen.runtime.server import stream as server_streams

from tests.conftest import GeneratedPackage, RunningServer
from tests.fault_proxy import FaultProxy, Unanswered
from tests.probe_app.recorder import record
from tests.processes import free_port, start_server

QUICK = Retry(attempts=20, backoff=0.05, max_backoff=0.2)


@pytest.fixture
def proxy(probe_server: RunningServer) -> Iterator[FaultProxy]:
    port = int(probe_server.base_url.rsplit(":", 1)[1])
    proxy = FaultProxy(port)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.mark.parametrize("reset", [False, True])
def test_a_connection_cut_mid_stream(
    probe: GeneratedPackage, proxy: FaultProxy, reset: bool
) -> None:
    """The client ends with NETWORK_ERROR after the chunks that came; the action is stopped."""
    proxy.faults.cut_after = 600
    proxy.faults.reset = reset
    key = uuid.uuid4().hex
    with probe.client.Client(base_url=proxy.base_url) as client:
        call = client.lifecycle.spin.execute_stream(params={"key": key})
        chunks = list(call.stream)
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.code == "NETWORK_ERROR"
    assert result.fail.from_client is True
    assert chunks == list(range(1, len(chunks) + 1)), "what came, came whole and in order"
    assert record(key).ended.wait(5), "the server's action ended"


def test_a_stall_past_the_idle_timeout(probe: GeneratedPackage, proxy: FaultProxy) -> None:
    proxy.faults.stall = True
    key = uuid.uuid4().hex
    started = time.monotonic()
    with probe.client.Client(
        base_url=proxy.base_url, stream_timeouts=StreamTimeouts(handshake=0.5)
    ) as client:
        call = client.lifecycle.forever.execute_stream(params={"key": key})
        assert list(call.stream) == []
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.data == "no handshake within 0.5s"
    assert time.monotonic() - started < 2
    assert record(key).ended.wait(5)
    assert record(key).context.stop_reason == "disconnected"


@pytest.fixture
def unanswered() -> Iterator[Unanswered]:
    port = Unanswered()
    try:
        yield port
    finally:
        port.close()


def test_a_connect_that_hangs_ends_after_the_connect_timeout(
    probe: GeneratedPackage, unanswered: Unanswered
) -> None:
    timeout = httpx.Timeout(30, connect=0.3)
    with probe.client.Client(base_url=unanswered.base_url, timeout=timeout) as client:
        started = time.monotonic()
        call = client.lifecycle.forever.execute_stream(params={"key": "never"})
        assert list(call.stream) == []
        streamed = call.get_result()
        stream_took = time.monotonic() - started
        started = time.monotonic()
        answered = client.values.nothing.execute()
        plain_took = time.monotonic() - started
    for result, took in ((streamed, stream_took), (answered, plain_took)):
        assert isinstance(result, Failure)
        assert result.fail.code == "NETWORK_ERROR"
        assert result.fail.data == "ConnectTimeout: timed out"
        assert 0.3 <= took < 2


def test_a_throttled_connection_delivers_everything_in_order(
    probe: GeneratedPackage, proxy: FaultProxy
) -> None:
    """About 30 KB at 16 KB/s: two seconds of trickle, never idle for the client's 0.5 s."""
    proxy.faults.throttle = 16_000
    started = time.monotonic()
    with probe.client.Client(
        base_url=proxy.base_url, stream_timeouts=StreamTimeouts(idle=0.5)
    ) as client:
        call = client.lifecycle.count.execute_stream(params={"n": 3000})
        chunks = list(call.stream)
    assert call.get_result().success is True
    assert chunks == list(range(3000))
    assert time.monotonic() - started > 1, "the proxy did throttle"


@pytest.mark.timeout(120)
def test_a_server_killed_mid_stream_and_restarted_loses_and_repeats_nothing(
    probe: GeneratedPackage,
) -> None:
    port = free_port()
    server = start_server(probe, port)
    try:
        numbers: list[int] = []
        with probe.client.Client(base_url=f"http://127.0.0.1:{port}", retry=QUICK) as client:
            call = client.lifecycle.numbered.execute_stream(params={"key": "k"})
            for number in call.stream:
                numbers.append(number)
                if len(numbers) == 40:
                    server.send_signal(signal.SIGKILL)
                    server.wait(10)
                    server = start_server(probe, port)
                if len(numbers) == 120:
                    break
    finally:
        server.kill()
        server.wait(10)
    assert numbers == list(range(120))


@pytest.mark.timeout(120)
def test_a_server_shutting_down_hands_its_tracked_streams_over_to_another(
    probe: GeneratedPackage,
) -> None:
    """Two instances behind a balancer that picks the first one up: SIGTERM to the first
    ends its stream with the retryable SERVER_SHUTTING_DOWN; the client resumes on the
    second after its last id."""
    ports = [free_port(), free_port()]
    servers = [start_server(probe, port) for port in ports]
    balancer = FaultProxy(*ports)
    try:
        numbers: list[int] = []
        with probe.client.Client(base_url=balancer.base_url, retry=QUICK) as client:
            call = client.lifecycle.numbered.execute_stream(params={"key": "k"})
            for number in call.stream:
                numbers.append(number)
                if len(numbers) == 40:
                    servers[0].send_signal(signal.SIGTERM)
                if len(numbers) == 60:  # from here on, only the second can be answering
                    assert servers[0].wait(10) in (0, -signal.SIGTERM), "the first exited"
                if len(numbers) == 120:
                    break
    finally:
        balancer.close()
        for server in servers:
            server.kill()
            server.wait(10)
    assert numbers == list(range(120))


@pytest.mark.timeout(120)
def test_the_typescript_client_resumes_across_a_killed_and_restarted_server(
    probe: GeneratedPackage, compiled: Path
) -> None:
    port = free_port()
    server = start_server(probe, port)
    script = compiled / "tests" / "ts" / "src" / "resume.js"
    lines: list[str] = []
    try:
        with subprocess.Popen(
            ["node", str(script), f"http://127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True
        ) as reader:
            assert reader.stdout is not None
            for line in reader.stdout:
                lines.append(line.strip())
                if len(lines) == 40:
                    server.send_signal(signal.SIGKILL)
                    server.wait(10)
                    server = start_server(probe, port)
            assert reader.wait(30) == 0
    finally:
        server.kill()
        server.wait(10)
    assert lines[:-1] == [str(number) for number in range(120)], "nothing lost or repeated"
    assert len(lines) == 121


@pytest.mark.timeout(120)
def test_a_thousand_streams_opened_and_stopped_leave_nothing_behind(
    probe: GeneratedPackage, probe_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    # pytest keeps every log record of a test: at INFO, those would be what grows.
    for name in ("", "httpx", "milkio_gen.app", "milkio_gen.server"):
        caplog.set_level(logging.WARNING, logger=name)
    with probe.client.Client(base_url=probe_server.base_url) as client:

        def one_round() -> None:
            # One key for all: the probe's recorder would otherwise keep every context.
            for _ in client.lifecycle.forever.execute_stream(params={"key": "leak"}).stream:
                break

        def settled_memory() -> int:
            deadline = time.monotonic() + 5
            while server_streams._OPEN and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # the server thread lets go of its connections
            gc.collect()
            return tracemalloc.get_traced_memory()[0]

        for _ in range(200):  # warm up: caches, pools and the like
            one_round()
        tracemalloc.start()
        for _ in range(500):
            one_round()
        before = settled_memory()
        for _ in range(1000):
            one_round()
        grown = settled_memory() - before
        tracemalloc.stop()
        pool = client.http._transport._pool
        assert len(pool.connections) <= 1
    assert len(server_streams._OPEN) == 0, "every stream of the server ended"
    # Growth between two batches is a leak; what the first batch cached is not.
    assert grown < 200_000, f"memory grew by {grown} bytes over 1,000 more streams"

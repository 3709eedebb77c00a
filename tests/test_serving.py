"""Serving: `milkio-gen serve`, and the generated router inside an app of one's own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest
from litestar import Litestar, Router, get

from tests.conftest import ROOT, serve_in_thread


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_runs_the_generated_server_with_uvicorn() -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "milkio_gen",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/hello/say", json={"name": "s"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                assert server.poll() is None, "serve exited"
                time.sleep(0.1)
        assert response.json()["data"]["message"] == "Hello, s!"
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert f"serving generated.server:app on http://127.0.0.1:{port}" in output


def own_app() -> Litestar:
    from generated.server import router

    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[health, Router("/rpc", route_handlers=[router])])


def serve_own_app() -> Iterator[str]:
    for running in serve_in_thread(own_app()):
        yield running.base_url


async def test_router_mounts_under_a_prefix_beside_other_routes() -> None:
    from generated.client import AsyncClient

    for base_url in serve_own_app():
        async with httpx.AsyncClient(base_url=base_url) as plain:
            health = await plain.get("/health")
            elsewhere = await plain.get("/elsewhere")
        assert health.json() == {"status": "ok"}
        assert elsewhere.status_code == 404
        async with AsyncClient(base_url=f"{base_url}/rpc") as client:
            greeting = await client.hello.say.execute(params={"name": "mounted"})
            call = client.llm.complete.execute_stream(
                params={"prompt": "x", "max_tokens": 2, "delay": 0}
            )
            chunks = [chunk async for chunk in call.stream]
            missing = await client.execute("nope", params={})  # type: ignore[call-overload]
        assert greeting
        assert greeting.data.message == "Hello, mounted!"
        assert len(chunks) == 3
        assert not missing
        assert missing.fail.code == "NOT_FOUND"


def serve_with_workers(port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "milkio_gen", "serve", "--port", str(port), "--workers", "2",
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def workers_of(server: subprocess.Popen[bytes], port: int) -> list[psutil.Process]:
    """The children of `server` listening on `port` (not multiprocessing's own helpers)."""
    return [
        child
        for child in psutil.Process(server.pid).children()
        if any(c.status == psutil.CONN_LISTEN for c in child.net_connections(kind="tcp"))
    ]


@contextlib.contextmanager
def started_with_workers(
    port: int,
) -> Iterator[tuple[subprocess.Popen[bytes], list[psutil.Process]]]:
    server = serve_with_workers(port)
    try:
        deadline = time.monotonic() + 30
        while len(workers_of(server, port)) < 2 or not answers(port):
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        workers = workers_of(server, port)
        yield server, workers
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(5)
        for worker in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
        if server.stdout is not None:
            server.stdout.close()


@pytest.mark.timeout(60)
def test_serve_with_workers_shares_the_port_and_stops_open_streams_on_sigterm() -> None:
    from generated.client import Client

    port = free_port()
    with started_with_workers(port) as (server, workers):
        with Client(base_url=f"http://127.0.0.1:{port}") as client:
            call = client.chat.subscribe.execute_stream(params={"room": "workers"})
            chunks = iter(call.stream)
            server.send_signal(signal.SIGTERM)  # to the supervisor alone, as a process manager
            assert list(chunks) == []
            result = call.get_result()
        assert not result
        assert result.fail.code == "SERVER_SHUTTING_DOWN", "the worker stopped its stream"
        assert server.wait(20) == 0
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive


@pytest.mark.timeout(60)
def test_workers_stop_when_their_supervisor_is_killed() -> None:
    port = free_port()
    with started_with_workers(port) as (server, workers):
        server.kill()
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, "a worker served the port on its own"


@pytest.mark.timeout(60)
def test_workers_that_cannot_start_end_the_server_with_exit_code_1() -> None:
    server = serve_with_workers(free_port(), env={"MILKIO_CHANNELS_BACKEND": "nowhere"})
    output, _ = server.communicate(timeout=45)
    assert server.returncode == 1
    assert b"after its start" in output
    assert output.count(b"Traceback") <= 2, "not started again and again"


def answers(port: int) -> bool:
    try:
        httpx.post(f"http://127.0.0.1:{port}/hello/say", json={"name": "w"}, timeout=1)
    except httpx.TransportError:
        return False
    return True

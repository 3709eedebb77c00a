"""Slow request heads (a slowloris): `serve` closes a connection whose headers trickle in,
and keeps serving everyone else."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from milkio_gen.header_timeout import MAX_HEAD_BYTES

from tests.conftest import ROOT, GeneratedPackage
from tests.processes import free_port, start_server

HEADER_TIMEOUT = 0.6


@pytest.fixture(scope="module")
def served(probe: GeneratedPackage) -> Iterator[str]:
    port = free_port()
    server = start_server(probe, port, header_timeout=HEADER_TIMEOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _connect(base_url: str) -> socket.socket:
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=5)
    return connection


def _closed_by_server(connection: socket.socket) -> bool:
    try:
        return connection.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_a_trickled_head_is_cut_while_other_clients_are_served(served: str) -> None:
    with _connect(served) as slow:
        slow.sendall(b"POST /values/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed_after: float | None = None
        served_meanwhile: list[float] = []
        slow.settimeout(0.05)
        while time.monotonic() - started < 5:
            try:
                slow.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            try:
                if slow.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - started
                break
            asked = time.monotonic()
            answer = httpx.post(f"{served}/values/nothing", timeout=2)
            assert answer.json()["success"] is True
            served_meanwhile.append(time.monotonic() - asked)
            time.sleep(0.1)
    assert closed_after is not None, "the server kept the trickling connection open"
    assert HEADER_TIMEOUT * 0.8 <= closed_after <= HEADER_TIMEOUT + 1.0
    assert served_meanwhile, "nobody else was served meanwhile"
    assert max(served_meanwhile) < 1.5, "the others were not held up"


def test_a_head_in_time_may_be_followed_by_a_long_answer(served: str) -> None:
    """The deadline is for the head alone: a stream outlives it, and the same connection,
    kept alive, takes a next request."""
    body = b'{"key": "head-timeout"}'
    stream_request = (
        b"POST /lifecycle/slow-ticks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Accept: text/event-stream\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with _connect(served) as connection:
        connection.sendall(stream_request)
        answer = _read_until(connection, b"0\r\n\r\n")  # the chunked body's end
        assert answer.count(b"tick") == 3  # 1.5 s: longer than the head's deadline
        connection.sendall(b"POST /values/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b'"success":true' in _read_until(connection, b'"success":true')


def _read_until(connection: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        piece = connection.recv(65536)
        assert piece, f"the server closed the connection after {received!r}"
        received += piece
    return received


def test_an_idle_connection_is_closed_after_the_deadline(served: str) -> None:
    with _connect(served) as idle:
        idle.settimeout(HEADER_TIMEOUT + 2)
        started = time.monotonic()
        assert _closed_by_server(idle)
        assert time.monotonic() - started <= HEADER_TIMEOUT + 1.0


def test_serve_has_a_header_timeout_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "milkio_gen", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "--header-timeout" in done.stdout


def test_a_head_larger_than_the_cap_is_cut(served: str) -> None:
    """With httptools, uvicorn would keep every header line sent; past the cap, the
    connection is closed, at once."""
    with _connect(served) as greedy:
        greedy.sendall(b"POST /values/nothing HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = 0
        padding = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        started = time.monotonic()
        try:
            while sent < 4 * MAX_HEAD_BYTES:
                greedy.sendall(padding)
                sent += len(padding)
        except (BrokenPipeError, ConnectionResetError):
            pass
        greedy.settimeout(2)
        assert _closed_by_server(greedy)
        assert time.monotonic() - started < HEADER_TIMEOUT, "cut by size, before the deadline"
    assert httpx.post(f"{served}/values/nothing", timeout=2).json()["success"] is True


WEBSOCKET_APP = """
from litestar import Litestar, WebSocket, websocket

@websocket("/echo")
async def echo(socket: WebSocket) -> None:
    await socket.accept()
    while True:
        await socket.send_text(await socket.receive_text())

app = Litestar(route_handlers=[echo])
"""


def test_a_websocket_outlives_the_head_deadline(tmp_path: Path) -> None:
    """An upgraded connection is the WebSocket's: the head's deadline no longer applies."""
    from websockets.sync.client import connect

    (tmp_path / "socket_app.py").write_text(WEBSOCKET_APP)
    port = free_port()
    code = (
        "from milkio_gen.serving import serve; "
        f"serve('socket_app:app', host='127.0.0.1', port={port}, log_level='warning', "
        f"header_timeout={HEADER_TIMEOUT})"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with connect(f"ws://127.0.0.1:{port}/echo", open_timeout=2) as socket_:
                    socket_.send("hello")
                    assert socket_.recv(timeout=2) == "hello"
                    time.sleep(HEADER_TIMEOUT * 2)
                    socket_.send("still here")
                    assert socket_.recv(timeout=2) == "still here"
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)

"""Slow request heads (a slowloris): `serve` closes a connection whose headers trickle in,
and keeps serving everyone else."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import GeneratedPackage
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
    assert max(served_meanwhile) < 0.5


def test_a_head_in_time_may_be_followed_by_a_long_answer(served: str) -> None:
    """The deadline is for the head alone: a stream outlives it, and the connection, kept
    alive, takes a next request."""
    with httpx.Client(base_url=served, timeout=5) as http:
        with http.stream(
            "POST",
            "/lifecycle/slow-ticks",
            json={"key": "head-timeout"},
            headers={"accept": "text/event-stream"},
        ) as stream:
            body = b"".join(stream.iter_bytes())
        assert body.count(b"tick") == 3  # 1.5 s: longer than the head's deadline
        again = http.post("/values/nothing")
        assert again.json()["success"] is True


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

"""Headers in the clients: the client's (a mapping, or a function called before every try),
each call's own, which wins, and a function that fails; against the probe server's
`heard-headers/*` actions, which tell the headers each try brought."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from milkio_gen.runtime.client import Failure, Retry, StreamTimeouts, Success

from tests.conftest import GeneratedPackage, RunningServer, run_in_ts
from tests.fault_proxy import FaultProxy

QUICK = Retry(attempts=4, backoff=0.01, max_backoff=0.05)
NAMES = ["authorization", "x-who", "x-app", "last-event-id"]


def listen(**more: Any) -> dict[str, Any]:
    """Params of the `heard-headers` actions, with a key of their own."""
    return {"key": uuid.uuid4().hex, "names": NAMES, **more}


class Tokens:
    """A headers function whose every call makes the next token, as a refresh would."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self) -> dict[str, str]:
        self.made += 1
        return {"authorization": f"Bearer token-{self.made}"}

    async def refresh(self) -> dict[str, str]:
        await asyncio.sleep(0)  # as a refresh that awaits its token server
        return self()


def token(heard: Any) -> list[str]:
    return heard.headers["authorization"]


@pytest.fixture
def proxy(probe_server: RunningServer) -> Iterator[FaultProxy]:
    """A proxy in front of the probe server, whose connections a test cuts."""
    proxy = FaultProxy(int(probe_server.base_url.rsplit(":", 1)[1]))
    try:
        yield proxy
    finally:
        proxy.close()


# The client's and the call's


async def test_the_clients_headers_reach_every_call_and_the_calls_win(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    async with probe.client.AsyncClient(
        base_url=probe_server.base_url, headers={"X-Who": "client", "x-app": "shop"}
    ) as client:
        plain = await client.heard_headers.plain.execute(params=listen())
        called = await client.heard_headers.plain.execute(
            params=listen(), headers={"x-who": "call"}
        )
        call = client.heard_headers.until_cut.execute_stream(
            params=listen(), headers={"X-WHO": "stream"}
        )
        (chunk,) = [chunk async for chunk in call.stream]
    assert isinstance(plain, Success)
    assert isinstance(called, Success)
    assert plain.data.headers["x-who"] == ["client"]
    assert called.data.headers["x-who"] == ["call"], "once, whatever the case of its name"
    assert chunk.headers["x-who"] == ["stream"]
    assert called.data.headers["x-app"] == chunk.headers["x-app"] == ["shop"]


def test_the_sync_clients_headers_reach_every_call_and_the_calls_win(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    with probe.client.Client(
        base_url=probe_server.base_url, headers={"X-Who": "client", "x-app": "shop"}
    ) as client:
        plain = client.heard_headers.plain.execute(params=listen())
        called = client.execute("heard-headers/plain", params=listen(), headers={"x-who": "call"})
        call = client.heard_headers.until_cut.execute_stream(
            params=listen(), headers={"X-WHO": "stream"}
        )
        (chunk,) = list(call.stream)
    assert isinstance(plain, Success)
    assert isinstance(called, Success)
    assert plain.data.headers["x-who"] == ["client"]
    assert called.data.headers["x-who"] == ["call"]
    assert chunk.headers["x-who"] == ["stream"]
    assert called.data.headers["x-app"] == chunk.headers["x-app"] == ["shop"]


def test_a_mapping_given_to_the_client_is_copied(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    given = {"x-who": "first"}
    with probe.client.Client(base_url=probe_server.base_url, headers=given) as client:
        given["x-who"] = "changed"
        heard = client.heard_headers.plain.execute(params=listen())
    assert isinstance(heard, Success)
    assert heard.data.headers["x-who"] == ["first"]


# A function, called before every try


async def test_an_async_function_is_called_before_every_request(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    tokens = Tokens()
    async with probe.client.AsyncClient(
        base_url=probe_server.base_url, headers=tokens.refresh
    ) as client:
        first = await client.heard_headers.plain.execute(params=listen())
        second = await client.heard_headers.plain.execute(params=listen())
        call = client.heard_headers.until_cut.execute_stream(params=listen())
        (chunk,) = [chunk async for chunk in call.stream]
        mine = await client.heard_headers.plain.execute(
            params=listen(), headers={"Authorization": "Bearer mine"}
        )
    assert isinstance(first, Success)
    assert isinstance(second, Success)
    assert isinstance(mine, Success)
    assert token(first.data) == ["Bearer token-1"]
    assert token(second.data) == ["Bearer token-2"]
    assert token(chunk) == ["Bearer token-3"]
    assert token(mine.data) == ["Bearer mine"], "a call's own header wins over the function's"


async def test_the_async_client_takes_a_plain_function_too(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    tokens = Tokens()
    async with probe.client.AsyncClient(base_url=probe_server.base_url, headers=tokens) as client:
        first = await client.heard_headers.plain.execute(params=listen())
        second = await client.heard_headers.plain.execute(params=listen())
    assert isinstance(first, Success)
    assert isinstance(second, Success)
    assert (token(first.data), token(second.data)) == (["Bearer token-1"], ["Bearer token-2"])


def test_a_sync_function_is_called_before_every_request(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    tokens = Tokens()
    with probe.client.Client(base_url=probe_server.base_url, headers=tokens) as client:
        first = client.heard_headers.plain.execute(params=listen())
        call = client.heard_headers.until_cut.execute_stream(params=listen())
        (chunk,) = list(call.stream)
    assert isinstance(first, Success)
    assert token(first.data) == ["Bearer token-1"]
    assert token(chunk) == ["Bearer token-2"]


async def test_a_stream_resumed_after_its_deadline_sends_a_new_token(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    """The server ends each try after 0.2 s with a retryable fail; the client reconnects."""
    tokens = Tokens()
    async with probe.client.AsyncClient(
        base_url=probe_server.base_url, headers=tokens.refresh, retry=QUICK
    ) as client:
        call = client.heard_headers.briefly.execute_stream(params=listen(chunks=3))
        chunks = [chunk async for chunk in call.stream]
    assert [token(chunk) for chunk in chunks] == [
        ["Bearer token-1"],
        ["Bearer token-2"],
        ["Bearer token-3"],
    ]
    assert [chunk.headers["last-event-id"] for chunk in chunks] == [[], ["0"], ["1"]]
    assert call.get_result().success is True


def test_a_sync_stream_resumed_after_its_deadline_sends_a_new_token(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    tokens = Tokens()
    with probe.client.Client(base_url=probe_server.base_url, headers=tokens, retry=QUICK) as client:
        call = client.heard_headers.briefly.execute_stream(params=listen(chunks=2))
        chunks = list(call.stream)
    assert [token(chunk) for chunk in chunks] == [["Bearer token-1"], ["Bearer token-2"]]
    assert chunks[1].headers["last-event-id"] == ["0"]


async def test_a_stream_reconnected_after_a_cut_sends_a_new_token(
    probe: GeneratedPackage, proxy: FaultProxy
) -> None:
    tokens = Tokens()
    async with probe.client.AsyncClient(
        base_url=proxy.base_url, headers=tokens.refresh, retry=QUICK
    ) as client:
        call = client.heard_headers.until_cut.execute_stream(params=listen(chunks=2))
        chunks: list[Any] = []
        async for chunk in call.stream:
            chunks.append(chunk)
            if len(chunks) == 1:
                proxy.cut_all()
    assert [token(chunk) for chunk in chunks] == [["Bearer token-1"], ["Bearer token-2"]]
    assert [chunk.attempt for chunk in chunks] == [0, 1]
    assert chunks[1].headers["last-event-id"] == ["0"]


def test_a_sync_stream_reconnected_after_a_cut_sends_a_new_token(
    probe: GeneratedPackage, proxy: FaultProxy
) -> None:
    tokens = Tokens()
    with probe.client.Client(base_url=proxy.base_url, headers=tokens, retry=QUICK) as client:
        call = client.heard_headers.until_cut.execute_stream(params=listen(chunks=2))
        chunks: list[Any] = []
        for chunk in call.stream:
            chunks.append(chunk)
            if len(chunks) == 1:
                proxy.cut_all()
    assert [token(chunk) for chunk in chunks] == [["Bearer token-1"], ["Bearer token-2"]]
    assert [chunk.attempt for chunk in chunks] == [0, 1]


async def test_a_retried_call_sends_a_new_token(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    """The first try of each call ends with a retryable fail (`refuse=1`); the second works."""
    tokens = Tokens()
    async with probe.client.AsyncClient(
        base_url=probe_server.base_url, headers=tokens.refresh, retry=QUICK
    ) as client:
        plain = await client.heard_headers.plain.execute(params=listen(refuse=1))
        call = client.heard_headers.until_cut.execute_stream(params=listen(refuse=1))
        (chunk,) = [chunk async for chunk in call.stream]
    assert isinstance(plain, Success)
    assert (plain.data.attempt, token(plain.data)) == (1, ["Bearer token-2"])
    assert (chunk.attempt, token(chunk)) == (1, ["Bearer token-4"])


def test_a_sync_retried_call_sends_a_new_token(
    probe: GeneratedPackage, probe_server: RunningServer
) -> None:
    tokens = Tokens()
    with probe.client.Client(base_url=probe_server.base_url, headers=tokens, retry=QUICK) as client:
        plain = client.heard_headers.plain.execute(params=listen(refuse=1))
        call = client.heard_headers.until_cut.execute_stream(params=listen(refuse=1))
        (chunk,) = list(call.stream)
    assert isinstance(plain, Success)
    assert (plain.data.attempt, token(plain.data)) == (1, ["Bearer token-2"])
    assert (chunk.attempt, token(chunk)) == (1, ["Bearer token-4"])


class BearerAuth(httpx.Auth):
    """httpx's own way: an `Auth` on the httpx client, run for every request it sends."""

    def __init__(self) -> None:
        self.tokens = Tokens()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.tokens())
        yield request


@pytest.mark.parametrize("twin", ["async", "sync"])
async def test_an_httpx_auth_of_ones_own_http_client_runs_on_every_try_too(
    probe: GeneratedPackage, probe_server: RunningServer, twin: str
) -> None:
    auth = BearerAuth()
    params = listen(chunks=2)
    if twin == "async":
        async with (
            httpx.AsyncClient(auth=auth) as http,
            probe.client.AsyncClient(
                base_url=probe_server.base_url, http_client=http, retry=QUICK
            ) as client,
        ):
            call = client.heard_headers.briefly.execute_stream(params=params)
            chunks = [chunk async for chunk in call.stream]
    else:
        with (
            httpx.Client(auth=auth) as http,
            probe.client.Client(
                base_url=probe_server.base_url, http_client=http, retry=QUICK
            ) as client,
        ):
            call = client.heard_headers.briefly.execute_stream(params=params)
            chunks = list(call.stream)
    assert [token(chunk) for chunk in chunks] == [["Bearer token-1"], ["Bearer token-2"]]


# A function that fails


async def test_a_function_that_raises_ends_the_call_with_a_network_error(
    probe: GeneratedPackage, raw_http_server: Any
) -> None:
    def broken() -> dict[str, str]:
        raise RuntimeError("token server down")

    base_url = raw_http_server(b"")
    async with probe.client.AsyncClient(base_url=base_url, headers=broken) as client:
        plain = await client.heard_headers.plain.execute(params=listen())
        call = client.heard_headers.until_cut.execute_stream(params=listen())
        chunks = [chunk async for chunk in call.stream]
    streamed = call.get_result()
    assert chunks == []
    for result in (plain, streamed):
        assert isinstance(result, Failure)
        assert result.fail.code == "NETWORK_ERROR"
        assert result.fail.from_client is True
        assert result.fail.data == "the headers function failed: RuntimeError: token server down"
    assert raw_http_server.connections == 0, "nothing was sent"


def test_a_sync_function_that_raises_ends_the_call_with_a_network_error(
    probe: GeneratedPackage, raw_http_server: Any
) -> None:
    def broken() -> dict[str, str]:
        raise KeyError("refresh_token")

    base_url = raw_http_server(b"")
    with probe.client.Client(base_url=base_url, headers=broken) as client:
        plain = client.heard_headers.plain.execute(params=listen())
        call = client.heard_headers.until_cut.execute_stream(params=listen())
        assert list(call.stream) == []
    for result in (plain, call.get_result()):
        assert isinstance(result, Failure)
        assert result.fail.code == "NETWORK_ERROR"
        assert result.fail.data == "the headers function failed: KeyError: 'refresh_token'"
    assert raw_http_server.connections == 0


@pytest.mark.parametrize("twin", ["async", "sync"])
async def test_with_retries_a_function_that_failed_is_called_again(
    probe: GeneratedPackage, probe_server: RunningServer, twin: str
) -> None:
    """As a connection that failed: nothing was sent, so trying again is safe."""
    tokens = Tokens()

    def flaky() -> dict[str, str]:
        made = tokens()
        if tokens.made % 2:
            raise ConnectionError("token server busy")
        return made

    params = listen()
    if twin == "async":
        async with probe.client.AsyncClient(
            base_url=probe_server.base_url, headers=flaky, retry=QUICK
        ) as client:
            plain = await client.heard_headers.plain.execute(params=params)
            call = client.heard_headers.until_cut.execute_stream(params=listen())
            (chunk,) = [chunk async for chunk in call.stream]
    else:
        with probe.client.Client(
            base_url=probe_server.base_url, headers=flaky, retry=QUICK
        ) as client:
            plain = client.heard_headers.plain.execute(params=params)
            call = client.heard_headers.until_cut.execute_stream(params=listen())
            (chunk,) = list(call.stream)
    assert isinstance(plain, Success)
    assert (plain.data.attempt, token(plain.data)) == (0, ["Bearer token-2"])
    assert (chunk.attempt, token(chunk)) == (0, ["Bearer token-4"])


async def test_a_function_that_hangs_ends_a_stream_at_its_handshake_deadline(
    probe: GeneratedPackage, raw_http_server: Any
) -> None:
    async def hangs() -> dict[str, str]:
        await asyncio.Event().wait()
        return {}

    base_url = raw_http_server(b"")
    async with probe.client.AsyncClient(
        base_url=base_url, headers=hangs, stream_timeouts=StreamTimeouts(handshake=0.2)
    ) as client:
        started = time.monotonic()
        call = client.heard_headers.until_cut.execute_stream(params=listen())
        assert [chunk async for chunk in call.stream] == []
    assert time.monotonic() - started < 2
    result = call.get_result()
    assert isinstance(result, Failure)
    assert result.fail.data == "no handshake within 0.2s"
    assert raw_http_server.connections == 0


def test_the_sync_client_refuses_an_async_function(probe: GeneratedPackage) -> None:
    with pytest.raises(TypeError, match="AsyncClient"):
        probe.client.Client(headers=Tokens().refresh)


def test_a_sync_function_that_returns_an_awaitable_fails_the_call(
    probe: GeneratedPackage, raw_http_server: Any
) -> None:
    """A coroutine a sync client cannot await is closed, so no warning says it never was."""
    tokens = Tokens()
    base_url = raw_http_server(b"")
    with probe.client.Client(base_url=base_url, headers=lambda: tokens.refresh()) as client:
        result = client.heard_headers.plain.execute(params=listen())
    assert isinstance(result, Failure)
    assert result.fail.data.startswith("the headers function failed: TypeError: it is async")
    assert raw_http_server.connections == 0


# Types


TYPED_USE = """
from generated.client import AsyncClient, Client


async def refresh() -> dict[str, str]:
    return {"authorization": "Bearer t"}


def fixed() -> dict[str, str]:
    return {"authorization": "Bearer t"}


AsyncClient(headers=refresh)
AsyncClient(headers=fixed)
AsyncClient(headers={"x-app": "shop"})
Client(headers=fixed)
Client(headers={"x-app": "shop"})
Client(headers=refresh)  # error: async
AsyncClient(headers=lambda: {"x-app": 1})  # error: not str
"""


def test_the_headers_option_is_typed_per_twin(tmp_path: Path) -> None:
    """Strict pyright, as over a user's file: each twin takes what it can call, and only that."""
    from tests.test_typing import pyright_diagnostics

    case, project = tmp_path / "uses_headers.py", tmp_path / "project"
    case.write_text(TYPED_USE)
    project.mkdir()
    diagnostics = pyright_diagnostics(project, case)
    lines = TYPED_USE.splitlines()
    marked = {number for number, line in enumerate(lines, 1) if "# error" in line}
    errors = {
        number
        for number, messages in diagnostics.items()
        if any(message.startswith("error") for message in messages)
    }
    assert errors == marked, diagnostics


# TypeScript


@pytest.mark.timeout(120)
def test_the_typescript_client_sends_the_same_headers(
    compiled: Path, probe_server: RunningServer
) -> None:
    """tests/ts/src/headers.test.ts, with node's test runner, against the probe server."""
    tests = compiled / "tests" / "ts" / "src" / "headers.test.js"
    environment = {**os.environ, "PROBE_URL": probe_server.base_url}
    result = run_in_ts(["node", "--test", "--test-reporter=spec", str(tests)], env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fail 0" in result.stdout
    assert "pass 0" not in result.stdout

"""The server's limits on what a client may ask: each refusal a structured fail, and the
server goes on serving everyone else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from milkio_gen.runtime.server import ServerSettings

from tests.conftest import GeneratedPackage, RunningServer, serve_probe_with

STREAM = {"accept": "text/event-stream", "content-type": "application/json"}


@pytest.fixture(scope="module")
def capped(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app with a cap of three open streams a client."""
    yield from serve_probe_with(probe, ServerSettings(max_streams_per_client=3))


@pytest.mark.parametrize("body", [b"{}", b""], ids=["body", "empty"])
@pytest.mark.parametrize(
    "content_type",
    ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"],
)
async def test_a_body_that_is_not_json_is_refused_by_its_content_type(
    probe_server: RunningServer, content_type: str, body: bytes
) -> None:
    """What a form or a page of another site may post without asking the browser, empty
    or not: refused, so such a page cannot call an API with the user's cookies."""
    async with httpx.AsyncClient(base_url=probe_server.base_url) as http:
        answer = await http.post(
            "/custom/place", content=body, headers={"content-type": content_type}
        )
    fail = answer.json()["fail"]
    assert fail["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert fail["data"] == {"received": content_type, "expected": "application/json"}
    assert f"not {content_type}" in fail["message"]


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"]
)
async def test_json_content_types_are_read(probe_server: RunningServer, content_type: str) -> None:
    async with httpx.AsyncClient(base_url=probe_server.base_url) as http:
        answer = await http.post(
            "/custom/place", content=b"{}", headers={"content-type": content_type}
        )
    assert answer.json()["success"] is True


async def test_an_empty_body_needs_no_content_type(probe_server: RunningServer) -> None:
    """`curl -X POST` of an API without params."""
    async with httpx.AsyncClient(base_url=probe_server.base_url) as http:
        answer = await http.post("/custom/place")
    assert answer.json()["success"] is True


async def test_a_stream_call_refused_by_content_type_gets_an_event_stream(
    probe_server: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=probe_server.base_url) as http:
        answer = await http.post(
            "/lifecycle/count",
            content=b'{"n": 1}',
            headers={"accept": "text/event-stream", "content-type": "text/plain"},
        )
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert '"code":"UNSUPPORTED_MEDIA_TYPE"' in answer.text


async def test_streams_past_the_cap_of_a_client_get_a_retryable_fail(
    probe: GeneratedPackage, capped: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=capped.base_url) as client:
        calls = [
            client.execute_stream("lifecycle/forever", params={"key": f"capped-{index}"})
            for index in range(3)
        ]
        iterators = [call.stream.__aiter__() for call in calls]
        for iterator in iterators:
            await iterator.__anext__()  # each stream is open on the server
        refused = client.execute_stream("lifecycle/forever", params={"key": "capped-refused"})
        assert await asyncio.wait_for(anext(aiter(refused.stream), None), 5) is None
        result = refused.get_result()
        assert not result
        assert result.fail.code == "TOO_MANY_STREAMS"
        assert result.fail.data.limit == 3
        assert client.codec.retryable(result)

        # Plain calls are not capped, and a stream that ends makes room for another.
        plain = await client.execute("custom/place")
        assert plain
        await calls[0].aclose()
        for _ in range(100):
            again = client.execute_stream("lifecycle/forever", params={"key": "capped-again"})
            first = await anext(aiter(again.stream), None)
            await again.aclose()
            if first is not None:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("no stream was let in after one closed")
        for call in calls[1:]:
            await call.aclose()


@pytest.fixture(scope="module")
def rate_limited(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app with three calls a minute for each client."""
    yield from serve_probe_with(probe, ServerSettings(rate_limit=("minute", 3)))


async def test_calls_past_the_rate_limit_get_a_retryable_fail_with_retry_after(
    probe: GeneratedPackage, rate_limited: RunningServer
) -> None:
    async with probe.client.AsyncClient(base_url=rate_limited.base_url) as client:
        allowed = [await client.execute("custom/place") for _ in range(3)]
        assert all(allowed)
        refused = await client.execute("custom/place")
        assert not refused
        assert refused.fail.code == "TOO_MANY_REQUESTS"
        assert refused.fail.data.retry_after is not None
        assert 1 <= refused.fail.data.retry_after <= 60
        assert client.codec.retryable(refused)

        stream = client.execute_stream("lifecycle/count", params={"n": 2})
        assert [chunk async for chunk in stream.stream] == []
        result = stream.get_result()
        assert not result
        assert result.fail.code == "TOO_MANY_REQUESTS"

    async with httpx.AsyncClient(base_url=rate_limited.base_url) as http:
        raw = await http.post("/custom/place")
    assert raw.status_code == 200
    assert raw.json()["fail"]["code"] == "TOO_MANY_REQUESTS"
    assert raw.headers["retry-after"] == str(raw.json()["fail"]["data"]["retry_after"])
    assert raw.headers["ratelimit-limit"] == "3"
    assert raw.headers["ratelimit-remaining"] == "0"


@pytest.fixture(scope="module")
def per_second(probe: GeneratedPackage) -> Iterator[RunningServer]:
    yield from serve_probe_with(probe, ServerSettings(rate_limit=("second", 2)))


async def test_a_client_with_retries_waits_as_long_as_the_rate_limit_says(
    probe: GeneratedPackage, per_second: RunningServer
) -> None:
    retry = probe.client.Retry(attempts=3, backoff=0.01, jitter=False)
    async with probe.client.AsyncClient(base_url=per_second.base_url, retry=retry) as client:
        assert await client.execute("custom/place")
        assert await client.execute("custom/place")
        started = time.monotonic()
        third = await client.execute("custom/place")
        waited = time.monotonic() - started
    assert third, "retried once the window had passed"
    assert waited >= 0.9, "the Retry-After of a second was honoured, not the 10 ms backoff"


async def test_the_cap_is_per_client_address(
    probe: GeneratedPackage, capped: RunningServer
) -> None:
    """A client at its cap leaves the others their streams: 127.0.0.2 is another address on
    the same loopback."""
    async with probe.client.AsyncClient(base_url=capped.base_url) as greedy:
        calls = [
            greedy.execute_stream("lifecycle/forever", params={"key": f"greedy-{index}"})
            for index in range(3)
        ]
        # Kept: a stream iterator that is collected closes its connection.
        held = [aiter(call.stream) for call in calls]
        for iterator in held:
            assert await anext(iterator) == "ready"
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        async with (
            httpx.AsyncClient(transport=transport) as http,
            probe.client.AsyncClient(base_url=capped.base_url, http_client=http) as other,
        ):
            call = other.execute_stream("lifecycle/forever", params={"key": "other-address"})
            assert await anext(aiter(call.stream)) == "ready"
            await call.aclose()
        refused = greedy.execute_stream("lifecycle/forever", params={"key": "greedy-refused"})
        assert await asyncio.wait_for(anext(aiter(refused.stream), None), 5) is None
        result = refused.get_result()
        assert not result
        assert result.fail.code == "TOO_MANY_STREAMS"
        for call in calls:
            await call.aclose()

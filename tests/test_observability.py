"""What an execute leaves behind: its structured log line and its OpenTelemetry span."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from milkio_gen.runtime.server import create_app, create_router
from milkio_gen.runtime.server.observe import BatchingHandler
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tests.conftest import GeneratedPackage, RunningServer, build_package, serve_in_thread


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPackage:
    return build_package("tests.hooks_app", tmp_path_factory.mktemp("traced"), "traced_gen")


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def traced_server(
    hooked: GeneratedPackage, exporter: InMemorySpanExporter
) -> Iterator[RunningServer]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # One span a request: the per-message spans of ASGI sends would be one per batch of
    # chunks of a stream.
    config = OpenTelemetryConfig(tracer_provider=provider, exclude_spans=["receive", "send"])
    server = hooked.server
    router = create_router(server.apis, fail_codes=server.fail_codes, hooks=server.hooks)
    app = create_app(router, plugins=[OpenTelemetryPlugin(config)])
    yield from serve_in_thread(app)


@pytest.fixture(autouse=True)
def no_spans_yet(exporter: InMemorySpanExporter) -> None:
    exporter.clear()


def _span_of(exporter: InMemorySpanExporter, execute_id: str) -> ReadableSpan:
    spans = [
        span
        for span in exporter.get_finished_spans()
        if (span.attributes or {}).get("milkio.execute_id") == execute_id
    ]
    assert len(spans) == 1, [span.name for span in exporter.get_finished_spans()]
    return spans[0]


async def test_a_plain_call_has_a_span_with_its_execute(
    hooked: GeneratedPackage, traced_server: RunningServer, exporter: InMemorySpanExporter
) -> None:
    async with hooked.client.AsyncClient(
        base_url=traced_server.base_url, headers={"authorization": "Bearer ada"}
    ) as client:
        result = await client.calls.whoami.execute()
    assert result
    span = _span_of(exporter, result.execute_id)
    attributes = dict(span.attributes or {})
    assert attributes["milkio.path"] == "calls/whoami"
    assert attributes["milkio.status"] == "success"
    assert "milkio.fail_code" not in attributes
    method = attributes.get("http.request.method", attributes.get("http.method"))
    assert method == "POST"
    assert span.status.status_code != StatusCode.ERROR


async def test_a_fail_is_on_the_span_and_an_internal_error_marks_it_as_an_error(
    hooked: GeneratedPackage, traced_server: RunningServer, exporter: InMemorySpanExporter
) -> None:
    async with hooked.client.AsyncClient(base_url=traced_server.base_url) as client:
        refused = await client.calls.whoami.execute()
        broken = await client.calls.broken_before.execute()
    assert not refused
    assert not broken
    refused_span = _span_of(exporter, refused.execute_id)
    assert (refused_span.attributes or {})["milkio.fail_code"] == "UNAUTHORIZED"
    assert refused_span.status.status_code != StatusCode.ERROR
    broken_span = _span_of(exporter, broken.execute_id)
    assert (broken_span.attributes or {})["milkio.fail_code"] == "INTERNAL_SERVER_ERROR"
    assert broken_span.status.status_code == StatusCode.ERROR


async def test_a_stream_span_lasts_the_stream_and_counts_its_chunks(
    hooked: GeneratedPackage, traced_server: RunningServer, exporter: InMemorySpanExporter
) -> None:
    async with hooked.client.AsyncClient(base_url=traced_server.base_url) as client:
        call = client.calls.forever.execute_stream()
        async for chunk in call.stream:
            if chunk == 5:
                break
    execute_id = call.get_result().execute_id
    assert execute_id is not None
    for _ in range(100):
        if any(
            (span.attributes or {}).get("milkio.execute_id") == execute_id
            for span in exporter.get_finished_spans()
        ):
            break
        await asyncio.sleep(0.02)
    span = _span_of(exporter, execute_id)
    attributes = dict(span.attributes or {})
    assert attributes["milkio.status"] == "stopped"
    assert attributes["milkio.stop_reason"] == "disconnected"
    chunks = attributes["milkio.chunks"]
    assert isinstance(chunks, int)
    assert chunks >= 6
    assert span.end_time is not None
    assert span.start_time is not None
    # Six chunks 10 ms apart: the span covers the stream, not only its first answer.
    assert (span.end_time - span.start_time) / 1e9 >= 0.05


async def test_one_structured_log_line_per_execute(
    hooked: GeneratedPackage, traced_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="milkio_gen.execute")
    async with hooked.client.AsyncClient(base_url=traced_server.base_url) as client:
        call = client.calls.say.execute_stream(params={"words": ["a", "LOUD"]})
        assert [chunk async for chunk in call.stream] == ["a"]
        refused = await client.calls.whoami.execute()
    stream_result = call.get_result()
    assert not stream_result
    assert not refused
    # The line is written once the answer is complete, so a client may have it first.
    for _ in range(500):
        records = [record for record in caplog.records if record.name == "milkio_gen.execute"]
        if len(records) >= 2:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # time for a doubled line to show
    records = [record for record in caplog.records if record.name == "milkio_gen.execute"]
    per_call = Counter(record.__dict__["execute_id"] for record in records)
    assert per_call == {stream_result.execute_id: 1, refused.execute_id: 1}
    lines = {record.__dict__["execute_id"]: record for record in records}
    stream_line = lines[stream_result.execute_id]
    fields: dict[str, Any] = {
        name: stream_line.__dict__[name]
        for name in ("path", "status", "fail_code", "stop_reason", "chunks")
    }
    assert fields == {
        "path": "calls/say",
        "status": "fail",
        "fail_code": "TOO_LOUD",
        "stop_reason": None,
        "chunks": 1,
    }
    assert stream_line.__dict__["duration_ms"] > 0
    assert stream_line.getMessage().startswith(
        f"[{stream_result.execute_id}] calls/say fail (TOO_LOUD) in "
    )
    refused_line = lines[refused.execute_id]
    assert refused_line.__dict__["fail_code"] == "UNAUTHORIZED"
    assert refused_line.__dict__["chunks"] == 0


async def test_an_unknown_path_is_logged_too(
    traced_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    import httpx

    caplog.set_level(logging.INFO, logger="milkio_gen.execute")
    async with httpx.AsyncClient() as http:
        answer = (await http.post(f"{traced_server.base_url}/no/such/api")).json()
    (line,) = [record for record in caplog.records if record.name == "milkio_gen.execute"]
    assert line.__dict__["execute_id"] == answer["executeId"]
    assert line.__dict__["path"] == "no/such/api"
    assert line.__dict__["fail_code"] == "NOT_FOUND"


class _CountingStream(io.StringIO):
    """A stream that counts its writes, and can be held stalled."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.open = threading.Event()
        self.open.set()

    def write(self, text: str) -> int:
        self.open.wait(5)
        self.writes += 1
        return super().write(text)


def _logger_to(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_the_default_handler_writes_lines_in_batches_and_what_waits_at_exit() -> None:
    stream = _CountingStream()
    handler = BatchingHandler(stream, interval=0.05)
    logger = _logger_to(handler, "tests.batching")
    for index in range(200):
        logger.info("line %d", index)
    deadline = time.monotonic() + 5
    while stream.getvalue().count("\n") < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue().splitlines() == [f"line {index}" for index in range(200)]
    assert stream.writes <= 3, "one write a batch, not a write a line"
    logger.info("the last line")
    handler.flush()  # what logging's shutdown does at exit
    assert stream.getvalue().endswith("the last line\n")


def test_a_stalled_stream_holds_a_bounded_number_of_lines_and_says_what_it_dropped() -> None:
    stream = _CountingStream()
    handler = BatchingHandler(stream, interval=0.01, limit=10)
    logger = _logger_to(handler, "tests.batching.stalled")
    stream.open.clear()  # the pipe is full
    logger.info("first")
    time.sleep(0.1)  # the writer took "first" and now waits on the stream
    started = time.monotonic()
    for index in range(25):
        logger.info("more %d", index)
    assert time.monotonic() - started < 0.5, "logging did not wait on the stalled stream"
    stream.open.set()
    time.sleep(0.1)
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert lines[:11] == ["first", *(f"more {index}" for index in range(10))]
    assert "15 log lines were dropped: the log's stream was stalled" in lines

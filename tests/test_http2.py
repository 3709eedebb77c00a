"""More than six streams in one page: a browser opens at most six HTTP/1.1 connections to an
origin, so a page's seventh stream waits for one of the six to end; `milkio-gen serve
--certfile/--keyfile` serves HTTPS with HTTP/2, where all of them share one connection and
run at once. Shown in Chromium with the example page `streams.html`; and the server over TLS
still stops open streams first on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from milkio_gen.testing import Certificate, self_signed_certificate
from playwright.sync_api import Browser, expect

from tests.browser import ARTIFACTS, ServedExample, wait_for
from tests.conftest import ROOT
from tests.processes import free_port

pytestmark = pytest.mark.timeout(60)

STREAMS = 10
TOKENS = 20
DELAY = 0.05
"""Each stream of the page lasts about TOKENS * DELAY = 1 s."""
STOPPED_WITHIN = 5.0
"""Seconds from SIGTERM to the server's exit, with a client's idle connection open."""


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@contextmanager
def served(*options: str, tls: Certificate | None = None) -> Iterator[ServedExample]:
    server = ServedExample(free_port(), *options, tls=tls)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def http2(built_pages: None, certificate: Certificate) -> Iterator[ServedExample]:
    with served(tls=certificate) as server:
        yield server


@pytest.fixture(scope="module")
def http1(built_pages: None) -> Iterator[ServedExample]:
    with served() as server:
        yield server


class Timed:
    """A stream of the page: when it started, got its first token and ended (ms)."""

    def __init__(self, number: int, times: dict[str, float]) -> None:
        self.number = number
        self.started, self.first, self.ended = times["started"], times["first"], times["ended"]
        self.tokens = int(times["tokens"])


def run_page(browser: Browser, server: ServedExample, name: str) -> list[Timed]:
    """Open `streams.html` with ten streams in a context of its own (a connection pool of its
    own), wait until all ended; each stream's times, in the page's order."""
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    try:
        page.goto(f"{server.base_url}/web/streams.html?n={STREAMS}&tokens={TOKENS}&delay={DELAY}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_function(
            "[...document.querySelectorAll('#streams li')].some(item => item.dataset.tokens >= 10)"
        )
        page.screenshot(path=ARTIFACTS / f"{name}-running.png", full_page=True)
        expect(page.locator("body")).to_have_attribute("data-state", "done", timeout=20_000)
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
        found: list[dict[str, float]] = page.eval_on_selector_all(
            "#streams li",
            """items => items.map(item => ({
                started: Number(item.dataset.started), first: Number(item.dataset.first),
                ended: Number(item.dataset.ended), tokens: Number(item.dataset.tokens)}))""",
        )
    finally:
        context.close()
    streams = [Timed(number, times) for number, times in enumerate(found, 1)]
    assert len(streams) == STREAMS
    assert all(stream.tokens == TOKENS for stream in streams), "every stream completed"
    return streams


def most_at_once(streams: list[Timed]) -> int:
    moments = sorted(
        [(stream.first, 1) for stream in streams] + [(stream.ended, -1) for stream in streams],
        key=lambda moment: (moment[0], moment[1]),
    )
    running = most = 0
    for _, step in moments:
        running += step
        most = max(most, running)
    return most


def test_ten_streams_run_at_once_in_one_page_over_http2(
    browser: Browser, http2: ServedExample
) -> None:
    streams = run_page(browser, http2, "streams-http2")
    first_end = min(stream.ended for stream in streams)
    late = [stream.number for stream in streams if stream.first > first_end]
    assert not late, f"streams {late} got their first token only after another stream ended"
    assert most_at_once(streams) == STREAMS


def test_over_http1_a_page_runs_only_six_streams_at_once(
    browser: Browser, http1: ServedExample
) -> None:
    """The limit that HTTP/2 lifts: four of the ten streams wait for a connection."""
    streams = run_page(browser, http1, "streams-http1")
    first_end = min(stream.ended for stream in streams)
    waited = [stream for stream in streams if stream.first > first_end]
    assert len(waited) == STREAMS - 6, [(s.number, s.first, s.ended) for s in streams]
    assert most_at_once(streams) == 6


def test_the_tls_server_negotiates_h2_by_alpn_and_http1_for_older_clients(
    http2: ServedExample,
) -> None:
    with httpx.Client(http2=True, verify=False, timeout=5) as client:
        assert client.get(f"{http2.base_url}/web/").http_version == "HTTP/2"
    with httpx.Client(verify=False, timeout=5) as client:
        assert client.get(f"{http2.base_url}/web/").http_version == "HTTP/1.1"


@pytest.mark.timeout(40)
def test_over_tls_with_workers_sigterm_stops_open_streams_first(
    built_pages: None, certificate: Certificate
) -> None:
    from generated.client import Client

    with (
        served("--workers", "2", tls=certificate) as server,
        httpx.Client(http2=True, verify=False) as http,
        Client(base_url=server.base_url, http_client=http) as client,
    ):
        call = client.chat.subscribe.execute_stream(params={"room": "tls-workers"})
        with ThreadPoolExecutor(1) as reader:
            chunks = reader.submit(list, call.stream)
            wait_for(lambda: bool(server.logged("subscribed to tls-workers")), 10, "the stream")
            os.kill(server.pid, signal.SIGTERM)  # to the supervisor alone
            signalled = time.perf_counter()
            assert chunks.result(timeout=10) == []
        result = call.get_result()
        # The client still holds its connection, idle: it does not keep the server up.
        assert server.wait(20) == 0
        stopped = time.perf_counter() - signalled
    assert not result
    assert result.fail.code == "SERVER_SHUTTING_DOWN", "the worker stopped its stream"
    assert stopped < STOPPED_WITHIN, f"stopped {stopped:.1f}s after SIGTERM"


def test_serve_refuses_a_certificate_without_its_key(certificate: Certificate) -> None:
    command = [str(Path(sys.executable).parent / "milkio-gen"), "serve"]
    ran = subprocess.run(
        [*command, "--port", str(free_port()), "--certfile", str(certificate.certfile)],
        cwd=ROOT, capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    assert ran.returncode == 2
    assert "--certfile and --keyfile go together" in ran.stderr


def test_stop_over_http2_halts_the_action_on_the_server(
    browser: Browser, http2: ServedExample
) -> None:
    """Over HTTP/2 a stop is a reset of one stream of a shared connection, not a closed
    connection: the server still sees the client leave, and the action ends."""
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    try:
        page.goto(f"{http2.base_url}/web/llm.html?delay=0.05")
        page.click("#go")
        page.wait_for_function(
            "document.getElementById('answer').textContent.split(' ').length > 3"
        )
        clicked = time.perf_counter()
        page.click("#stop")
        ended = wait_for(
            lambda: bool(http2.logged("completion ended after", after=clicked)), 5, "finally"
        )
        expect(page.locator("body")).to_have_attribute("data-state", "stopped")
        assert ended - clicked < 0.5, f"the action ended {ended - clicked:.3f}s after Stop"
    finally:
        context.close()

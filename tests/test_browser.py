"""The example pages in a real browser (Debian's Chromium, headless, driven by Playwright)
against the example server: two tabs chatting, a Stop button and a closed tab that halt the
server's action at once, and a tab that loses its network and resumes its stream without
loss or repeat. Each test keeps screenshots of its pages in `test-artifacts/pages/`."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import psutil
import pytest
from milkio_gen.testing import RedisServer
from playwright.sync_api import Browser, Page, expect

from tests.browser import ARTIFACTS, ServedExample, wait_for
from tests.conftest import ROOT
from tests.fault_proxy import FaultProxy
from tests.processes import free_port

pytestmark = pytest.mark.timeout(90)

STOPPED_WITHIN = 0.2
"""Seconds from a click on Stop to the action's `finally` on the server."""


@pytest.fixture(scope="module")
def server(built_pages: None) -> Iterator[ServedExample]:
    served = ServedExample(free_port())
    try:
        yield served
    finally:
        served.stop()


def keep(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.press("#text", "Enter")


def test_two_tabs_chat_through_chat_subscribe(browser: Browser, server: ServedExample) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    ada, bob = browser.new_page(), browser.new_page()
    ada.goto(f"{server.base_url}/web/chat.html?room={room}&name=ada")
    bob.goto(f"{server.base_url}/web/chat.html?room={room}&name=bob")
    for page in (ada, bob):
        expect(page.locator("body")).to_have_attribute("data-state", "subscribed")

    say(ada, "hello from ada")
    expect(bob.locator("#messages li")).to_have_text(["ada: hello from ada"])
    say(bob, "hi ada")
    for page in (ada, bob):
        expect(page.locator("#messages li")).to_have_text(["ada: hello from ada", "bob: hi ada"])
    keep(ada, "chat-ada")
    keep(bob, "chat-bob")
    ada.close()
    bob.close()


def ask(page: Page, server: ServedExample, delay: float) -> None:
    page.goto(f"{server.base_url}/web/llm.html?delay={delay}")
    page.click("#go")
    expect(page.locator("body")).to_have_attribute("data-state", "answering")
    page.wait_for_function("document.getElementById('answer').textContent.split(' ').length > 3")


def test_stop_halts_the_action_on_the_server_at_once(
    browser: Browser, server: ServedExample
) -> None:
    page = browser.new_page()
    ask(page, server, delay=0.05)
    keep(page, "llm-answering")

    clicked = time.perf_counter()
    page.click("#stop")
    ended = wait_for(
        lambda: bool(server.logged("completion ended after", after=clicked)), 5, "the finally"
    )
    expect(page.locator("body")).to_have_attribute("data-state", "stopped")
    assert ended - clicked < STOPPED_WITHIN, f"finally ran {ended - clicked:.3f}s after Stop"
    tokens = len(page.text_content("#answer").split())  # pyright: ignore[reportOptionalMemberAccess]
    time.sleep(0.3)
    assert len(page.text_content("#answer").split()) == tokens, "no token after Stop"  # pyright: ignore[reportOptionalMemberAccess]
    keep(page, "llm-stopped")
    page.close()


def test_closing_the_tab_ends_the_stream_on_the_server(
    browser: Browser, server: ServedExample
) -> None:
    page = browser.new_page()
    ask(page, server, delay=0.05)
    closed = time.perf_counter()
    page.close()
    ended = wait_for(
        lambda: bool(server.logged("completion ended after", after=closed)), 5, "the finally"
    )
    assert ended - closed < 1.0


def test_a_tab_that_loses_its_network_resumes_without_loss_or_repeat(
    browser: Browser, server: ServedExample
) -> None:
    """The reader's tab reaches the server through a proxy; going offline, the browser is
    told so and the proxy cuts its connections and refuses new ones, as a lost network does
    (the browser alone keeps an open stream going when told it is offline)."""
    room = f"room-{uuid.uuid4().hex[:8]}"
    network = FaultProxy(server.port)
    offline = browser.new_context()
    reader, writer = offline.new_page(), browser.new_page()
    try:
        reader.goto(f"{network.base_url}/web/chat.html?room={room}&name=reader")
        writer.goto(f"{server.base_url}/web/chat.html?room={room}&name=writer")
        say(writer, "one")
        expect(reader.locator("#messages li")).to_have_text(["writer: one"])
        # Both tabs subscribed; the server writes its log lines in batches.
        subscribed = f"subscribed to {room}"
        wait_for(lambda: len(server.logged(subscribed)) >= 2, 5, "both subscriptions logged")
        subscriptions = len(server.logged(subscribed))

        offline.set_offline(True)
        network.faults.refuse = True
        network.cut_all()
        for text in ("two", "three"):
            say(writer, text)
            expect(writer.locator("#messages li").last).to_have_text(f"writer: {text}")
        time.sleep(1.0)  # offline for a while, as on a train
        expect(reader.locator("#messages li")).to_have_text(["writer: one"])
        keep(reader, "chat-offline")
        network.faults.refuse = False
        offline.set_offline(False)

        everything = ["writer: one", "writer: two", "writer: three"]
        expect(reader.locator("#messages li")).to_have_text(everything, timeout=15_000)
        wait_for(lambda: len(server.logged(subscribed)) > subscriptions, 5, "it reconnected")
        time.sleep(0.5)
        expect(reader.locator("#messages li")).to_have_text(everything)
        keep(reader, "chat-resumed")
    finally:
        offline.close()
        writer.close()
        network.close()


@pytest.fixture(scope="module")
def pages_elsewhere() -> Iterator[tuple[str, str]]:
    """The pages served by two other origins, beside the API's: the first one allowed."""
    pages = str(ROOT / "examples" / "web" / "pages")
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", pages],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    origins = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for origin in origins:
            wait_for(lambda origin=origin: answers(f"{origin}/llm.html"), 20, f"{origin} serves")
        yield origins[0], origins[1]
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_page_of_an_allowed_origin_streams_and_another_is_refused(
    browser: Browser, server: ServedExample, pages_elsewhere: tuple[str, str]
) -> None:
    allowed, refused = pages_elsewhere
    api = ServedExample(free_port(), "--cors-origin", allowed)
    try:
        page = browser.new_page()
        page.goto(f"{allowed}/llm.html?api={api.base_url}&delay=0")
        page.click("#go")
        expect(page.locator("body")).to_have_attribute("data-state", "done")
        expect(page.locator("#usage")).to_contain_text("256 tokens")
        keep(page, "cors-allowed")

        page.goto(f"{refused}/llm.html?api={api.base_url}&delay=0")
        asked = time.perf_counter()
        page.click("#go")
        preflight = '"OPTIONS /llm/complete HTTP/1.1" 400'
        wait_for(lambda: bool(api.logged(preflight, after=asked)), 10,
                 "the preflight refused")  # fmt: skip
        time.sleep(1.0)  # the page's client retries what looks to it like a network error
        assert page.text_content("#answer") == ""
        assert not api.logged('"POST /llm/complete', after=asked), "no refused call is sent"
        keep(page, "cors-refused")
        page.close()
    finally:
        api.stop()


def streams_by_worker(server: ServedExample) -> list[int]:
    """The connections each worker of `server` holds open."""
    counts: list[int] = []
    for child in psutil.Process(server.pid).children():
        ours = [c for c in child.net_connections(kind="tcp") if c.laddr.port == server.port]
        if any(connection.status == psutil.CONN_LISTEN for connection in ours):
            counts.append(sum(c.status == psutil.CONN_ESTABLISHED for c in ours))
    return counts


@pytest.mark.timeout(120)
def test_tabs_on_different_workers_chat_through_redis(browser: Browser, redis: RedisServer) -> None:
    """Two workers and Redis streams: readers end up on both workers (their idle page loads
    closed by the server, what stays open is their streams), and each reads what a writer
    sent through either."""
    channels = {"MILKIO_CHANNELS_BACKEND": "redis-streams", "MILKIO_CHANNELS_URL": redis.url}
    served = ServedExample(free_port(), "--workers", "2", env=channels)
    room = f"room-{uuid.uuid4().hex[:8]}"
    readers: list[Page] = []
    try:
        wait_for(lambda: len(streams_by_worker(served)) == 2, 30, "two workers listening")
        while len(readers) < 12:
            for _ in range(4):
                page = browser.new_context().new_page()  # a connection pool of its own
                page.goto(f"{served.base_url}/web/chat.html?room={room}&name=r{len(readers)}")
                readers.append(page)
            # uvicorn closes idle connections after 5 s: the page loads' go, the streams stay.
            wait_for(lambda: sum(streams_by_worker(served)) == len(readers), 15, "streams only")
            if all(streams_by_worker(served)):
                break
        assert all(streams_by_worker(served)), f"streams by worker: {streams_by_worker(served)}"

        writer = browser.new_context().new_page()
        writer.goto(f"{served.base_url}/web/chat.html?room={room}&name=writer")
        say(writer, "to every worker")
        for page in readers:
            expect(page.locator("#messages li")).to_have_text(["writer: to every worker"])
        keep(readers[0], "chat-workers")
    finally:
        for page in readers:
            page.context.close()
        served.stop()

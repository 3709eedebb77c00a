"""Channels through real servers: in memory, and across processes on a real redis-server
(pub/sub and streams), with resume, backlog policies, several workers and a Redis restart."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from milkio_gen.channels import ChannelSettings
from milkio_gen.config import ConfigError, load_config
from milkio_gen.runtime.client import Retry
from milkio_gen.runtime.server import create_app, create_router
from milkio_gen.runtime.server import stream as server_streams
from milkio_gen.testing import RedisServer

from tests.conftest import ROOT, GeneratedPackage, RunningServer, serve_in_thread
from tests.fault_proxy import FaultProxy
from tests.processes import free_port, start_server

QUICK = Retry(attempts=40, backoff=0.05, max_backoff=0.2)


def new_feed() -> str:
    return uuid.uuid4().hex[:12]


def serve_probe(probe: GeneratedPackage, settings: ChannelSettings) -> Iterator[RunningServer]:
    router = create_router(probe.server.apis, fail_codes=probe.server.fail_codes)
    yield from serve_in_thread(create_app(router, channels=settings))


class Reader:
    """Reads a subscription in a thread of its own, noting each delivery as it comes."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.deliveries: list[Any] = []
        self.arrived = threading.Condition()
        self.reading = threading.Event()
        """Cleared, the reader stops reading after the delivery it has: the client falls behind."""
        self.reading.set()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for delivery in self.call.stream:
            with self.arrived:
                self.deliveries.append(delivery)
                self.arrived.notify_all()
            self.reading.wait()

    def wait_for(self, count: int, timeout: float = 10) -> list[Any]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout)
            return list(self.deliveries)

    def texts(self) -> list[str]:
        return [delivery.text for delivery in self.deliveries]

    def stop(self) -> None:
        self.call.close()
        self.reading.set()
        self._thread.join(5)


def ready(client: Any, feed: str, *readers: Reader) -> None:
    """Publish markers until every reader got one: their subscriptions are live on the
    server. Then forget the markers."""
    for attempt in range(100):
        assert client.feeds.publish.execute(params={"feed": feed, "texts": [f"marker {attempt}"]})
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline and not all(r.deliveries for r in readers):
            time.sleep(0.01)
        if all(reader.deliveries for reader in readers):
            break
    for reader in readers:
        assert reader.deliveries, "the subscription never became live"
        with reader.arrived:
            reader.deliveries.clear()
    time.sleep(0.2)  # markers still on their way arrive now, not among what is tested
    for reader in readers:
        with reader.arrived:
            reader.deliveries.clear()


def settings_for(backend: str, redis: RedisServer | None) -> ChannelSettings:
    if backend == "memory":
        return ChannelSettings(backend="memory")
    assert redis is not None
    return ChannelSettings(backend=backend, url=redis.url, key_prefix=new_feed())  # type: ignore[arg-type]


def backend_env(backend: str, redis: RedisServer) -> dict[str, str]:
    return {"MILKIO_CHANNELS_BACKEND": backend, "MILKIO_CHANNELS_URL": redis.url}


def test_a_subscription_ends_with_its_stream_whatever_ends_it(probe: GeneratedPackage) -> None:
    """Stopped by the client, or failed at its start: the broker keeps no subscriber."""
    servers = serve_probe(probe, ChannelSettings())
    server = next(servers)
    try:
        app: Any = server.server.config.app
        broker = app.state["milkio_channels"]
        feed = new_feed()
        with probe.client.Client(base_url=server.base_url) as client:
            reader = Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            ready(client, feed, reader)
            assert len(broker.plugin._channels[f"feed:{feed}"]) == 1
            reader.stop()
            deadline = time.monotonic() + 5
            while broker.plugin._channels[f"feed:{feed}"] and time.monotonic() < deadline:
                time.sleep(0.01)
            assert not broker.plugin._channels[f"feed:{feed}"], "stopped by the client"

            bad = client.feeds.subscribe.execute_stream(
                params={"feed": feed}, headers={"last-event-id": "not an id"}
            )
            assert list(bad.stream) == []
            result = bad.get_result()
            assert not result
            assert result.fail.code == "TYPE_SAFE_ERROR"
            assert result.fail.data.path == "Last-Event-ID"
            assert not broker.plugin._channels[f"feed:{feed}"], "failed at its start"

    finally:
        servers.close()


@pytest.mark.parametrize("backend", ["memory", "redis-streams"])
@pytest.mark.timeout(60)
def test_a_cut_subscription_resumes_with_exactly_what_it_missed(
    probe: GeneratedPackage, redis: RedisServer, backend: str
) -> None:
    """Five messages, a cut, 100 published while the client cannot reconnect, then the
    client back: it receives the 100, in order, once."""
    servers = serve_probe(probe, settings_for(backend, redis))
    server = next(servers)
    proxy = FaultProxy(int(server.base_url.rsplit(":", 1)[1]))
    feed = new_feed()
    try:
        with (
            probe.client.Client(base_url=server.base_url) as publisher,
            probe.client.Client(base_url=proxy.base_url, retry=QUICK) as client,
        ):
            reader = Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            ready(publisher, feed, reader)
            texts = [f"before {n}" for n in range(5)]
            assert publisher.feeds.publish.execute(params={"feed": feed, "texts": texts})
            reader.wait_for(5)
            proxy.faults.refuse = True
            proxy.cut_all()
            missed = [f"missed {n}" for n in range(100)]
            assert publisher.feeds.publish.execute(params={"feed": feed, "texts": missed})
            proxy.faults.refuse = False
            reader.wait_for(105)
            time.sleep(0.2)  # a repeat would come now
            reader.stop()
        assert reader.texts() == texts + missed
        assert reader.call.last_event_id is not None
    finally:
        proxy.close()
        servers.close()


@pytest.mark.parametrize("backend", ["redis", "redis-streams"])
@pytest.mark.timeout(90)
def test_a_message_sent_through_one_process_reaches_subscribers_of_both(
    probe: GeneratedPackage, redis: RedisServer, backend: str
) -> None:
    ports = [free_port(), free_port()]
    processes = [start_server(probe, port, env=backend_env(backend, redis)) for port in ports]
    feed = new_feed()
    try:
        clients = [probe.client.Client(base_url=f"http://127.0.0.1:{port}") for port in ports]
        readers = [
            Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            for client in clients
        ]
        ready(clients[0], feed, *readers)
        sent = clients[0].feeds.publish.execute(params={"feed": feed, "texts": ["hello"]})
        assert sent
        deliveries = [reader.wait_for(1)[:1] for reader in readers]
        for reader in readers:
            reader.stop()
        for client in clients:
            client.close()
    finally:
        for process in processes:
            process.kill()
            process.wait(10)
    assert [[d.text for d in got] for got in deliveries] == [["hello"], ["hello"]]
    pids = {got[0].pid for got in deliveries}
    assert len(pids) == 2, "each process delivered to its own subscriber"
    assert sent.data.pid in pids


@pytest.mark.timeout(90)
def test_uvicorn_with_two_workers_delivers_to_subscribers_on_both(
    probe: GeneratedPackage, redis: RedisServer
) -> None:
    port = free_port()
    process = start_server(probe, port, env=backend_env("redis-streams", redis), workers=2)
    feed = new_feed()
    readers: list[Reader] = []
    clients: list[Any] = []
    try:
        serving: set[int] = set()
        # Each subscription on a connection of its own, until both workers serve some: the
        # kernel hands connections to either, in no set order.
        while len(serving) < 2 and len(readers) < 40:
            client = probe.client.Client(base_url=f"http://127.0.0.1:{port}")
            clients.append(client)
            reader = Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            readers.append(reader)
            ready(clients[0], feed, reader)
            assert clients[0].feeds.publish.execute(params={"feed": feed, "texts": ["whose"]})
            serving.add(reader.wait_for(1)[0].pid)
        ready(clients[0], feed, *readers)
        assert clients[0].feeds.publish.execute(params={"feed": feed, "texts": ["to all"]})
        deliveries = [reader.wait_for(1)[:1] for reader in readers]
        for reader in readers:
            reader.stop()
    finally:
        for client in clients:
            client.close()
        process.terminate()
        process.wait(20)
    assert len(serving) == 2, "subscribers were on both workers"
    assert all([d.text for d in got] == ["to all"] for got in deliveries)
    assert {got[0].pid for got in deliveries} == serving


@pytest.mark.parametrize("backend", ["redis", "redis-streams"])
@pytest.mark.timeout(90)
def test_subscribers_recover_from_a_redis_restart(probe: GeneratedPackage, backend: str) -> None:
    redis = RedisServer()
    servers = serve_probe(probe, settings_for(backend, redis))
    server = next(servers)
    feed = new_feed()
    try:
        with probe.client.Client(base_url=server.base_url) as client:
            reader = Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            ready(client, feed, reader)
            redis.stop()
            down = client.feeds.publish.execute(params={"feed": feed, "texts": ["lost"]})
            assert not down
            assert down.fail.code == "CHANNELS_UNAVAILABLE"
            redis.start()
            # Retried as the fail is retryable, until Redis answers again.
            with probe.client.Client(base_url=server.base_url, retry=QUICK) as retrying:
                up = retrying.feeds.publish.execute(params={"feed": feed, "texts": ["back"]})
            assert up
            # A pub/sub subscriber may miss a message until its connection is back: send on.
            for attempt in range(50):
                if "back" in reader.texts() or f"again {attempt - 1}" in reader.texts():
                    break
                client.feeds.publish.execute(params={"feed": feed, "texts": [f"again {attempt}"]})
                time.sleep(0.1)
            reader.stop()
        got = reader.texts()
        assert any(text == "back" or text.startswith("again") for text in got), got
    finally:
        servers.close()
        redis.stop()


BEHIND = [f"{n:05d} ".ljust(4096, ".") for n in range(3000)]
"""12 MB of messages: more than the socket buffers between server and client hold."""


def fall_behind(probe: GeneratedPackage, policy: str, retry: Retry | None) -> Reader:
    """A subscriber that stops reading while 3,000 messages are published to a server whose
    subscribers may be 8 messages behind; then it reads on."""
    settings = ChannelSettings(backlog=8, history=5000, on_backlog_full=policy)  # type: ignore[arg-type]
    servers = serve_probe(probe, settings)
    server = next(servers)
    feed = new_feed()
    try:
        with (
            probe.client.Client(base_url=server.base_url) as publisher,
            probe.client.Client(base_url=server.base_url, retry=retry) as client,
        ):
            reader = Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            ready(publisher, feed, reader)
            reader.reading.clear()
            for start in range(0, len(BEHIND), 100):
                texts = BEHIND[start : start + 100]
                assert publisher.feeds.publish.execute(params={"feed": feed, "texts": texts})
            reader.reading.set()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and reader._thread.is_alive():
                if reader.deliveries and reader.deliveries[-1].text == BEHIND[-1]:
                    break
                time.sleep(0.05)
            time.sleep(0.2)  # a repeat would come now
            reader.stop()
        return reader
    finally:
        servers.close()


def test_a_subscriber_too_far_behind_ends_with_a_retryable_fail(probe: GeneratedPackage) -> None:
    reader = fall_behind(probe, "fail", retry=None)
    result = reader.call.get_result()
    assert not result
    assert result.fail.code == "SUBSCRIPTION_OVERFLOW"
    assert result.fail.data.backlog == 8
    got = reader.texts()
    assert 0 < len(got) < len(BEHIND)
    assert got == BEHIND[: len(got)], "what came before the fail came in order, with no gap"


def test_a_client_with_retries_resumes_after_the_overflow_and_misses_nothing(
    probe: GeneratedPackage,
) -> None:
    reader = fall_behind(probe, "fail", retry=QUICK)
    assert reader.texts() == BEHIND


def test_drop_oldest_keeps_the_newest_messages_in_order(probe: GeneratedPackage) -> None:
    reader = fall_behind(probe, "drop_oldest", retry=None)
    got = reader.texts()
    assert got[-1] == BEHIND[-1], "the newest arrived"
    assert len(got) < len(BEHIND), "older ones were dropped"
    assert got == sorted(got), "in order"
    assert len(set(got)) == len(got), "none twice"


def test_pyproject_chooses_the_broker_and_the_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.milkio-gen]\napp = "examples.app"\n\n'
        '[tool.milkio-gen.channels]\nbackend = "redis-streams"\nhistory = 50\n'
    )
    built = subprocess.run(
        [sys.executable, "-m", "milkio_gen", "build"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    server = (tmp_path / "generated" / "server.py").read_text()
    assert 'channels = ChannelSettings(backend="redis-streams", history=50)' in server
    monkeypatch.setenv("MILKIO_CHANNELS_BACKEND", "memory")
    assert ChannelSettings(backend="redis-streams", history=50).backend == "memory"

    pyproject.write_text(
        '[tool.milkio-gen]\napp = "examples.app"\n\n'
        '[tool.milkio-gen.channels]\nbackend = "kafka"\nhistroy = 5\n'
    )
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path)
    message = str(error.value)
    assert message.startswith("[tool.milkio-gen.channels] in pyproject.toml: ")
    assert "backend: Input should be 'memory', 'redis' or 'redis-streams'" in message
    assert "histroy: Extra inputs are not permitted" in message


def test_the_server_ends_a_subscription_the_action_left_suspended(probe: GeneratedPackage) -> None:
    """The action is stopped at its `yield` (its client stopped reading) while it holds on to
    its subscription: the server closes the subscription itself."""
    servers = serve_probe(probe, ChannelSettings())
    server = next(servers)
    feed = new_feed()
    try:
        app: Any = server.server.config.app
        subscribers = app.state["milkio_channels"].plugin._channels
        with probe.client.Client(base_url=server.base_url) as client:
            hoarder = Reader(client.feeds.hoarding.execute_stream(params={"feed": feed}))
            ready(client, feed, hoarder)
            hoarder.reading.clear()
            for start in range(0, len(BEHIND), 100):
                texts = BEHIND[start : start + 100]
                assert client.feeds.publish.execute(params={"feed": feed, "texts": texts})
            hoarder.stop()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (
                subscribers[f"feed:{feed}"] or server_streams._OPEN
            ):
                time.sleep(0.01)
        assert not subscribers[f"feed:{feed}"], "the subscription outlived its stream"
        backend = app.state["milkio_channels"].backend
        assert f"feed:{feed}" not in backend._subscribed, "the backend still delivers to it"
        assert not server_streams._OPEN, "the request is over"
    finally:
        servers.close()


@pytest.mark.parametrize("backend", ["redis", "redis-streams"])
@pytest.mark.timeout(60)
def test_a_subscription_while_redis_is_down_fails_retryably_and_leaves_nothing_behind(
    probe: GeneratedPackage, backend: str
) -> None:
    redis = RedisServer()
    settings = settings_for(backend, redis).model_copy(update={"subscribe_timeout": 0.5})
    servers = serve_probe(probe, settings)
    server = next(servers)
    feed = new_feed()
    try:
        with probe.client.Client(base_url=server.base_url) as client:
            redis.stop()
            refused = client.feeds.subscribe.execute_stream(params={"feed": feed})
            assert list(refused.stream) == []
            result = refused.get_result()
            assert not result
            assert result.fail.code == "CHANNELS_UNAVAILABLE"
            redis.start()
            reader = Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
            ready(client, feed, reader)
            assert client.feeds.publish.execute(params={"feed": feed, "texts": ["after"]})
            assert [d.text for d in reader.wait_for(1)] == ["after"]
            reader.stop()
    finally:
        servers.close()
        redis.stop()


@pytest.mark.parametrize("backend", ["memory", "redis", "redis-streams"])
@pytest.mark.timeout(60)
def test_many_subscriptions_opened_at_once_all_become_live(
    probe: GeneratedPackage, redis: RedisServer, backend: str
) -> None:
    servers = serve_probe(probe, settings_for(backend, redis))
    server = next(servers)
    feeds = [new_feed() for _ in range(10)]
    try:
        with probe.client.Client(base_url=server.base_url) as client:
            readers = [
                Reader(client.feeds.subscribe.execute_stream(params={"feed": feed}))
                for feed in feeds
            ]
            for feed, reader in zip(feeds, readers, strict=True):
                ready(client, feed, reader)
                assert client.feeds.publish.execute(params={"feed": feed, "texts": [feed]})
            got = [[d.text for d in reader.wait_for(1)] for reader in readers]
            for reader in readers:
                reader.stop()
    finally:
        servers.close()
    assert got == [[feed] for feed in feeds]


class Warnings(logging.Handler):
    """The warnings of a logger, noted where pytest's capture cannot see them: a server
    started inside a test configures logging anew."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self._logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> Warnings:
        self._logger.addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        self._logger.removeHandler(self)


@pytest.mark.parametrize("backend", ["memory", "redis-streams"])
def test_resume_after_ids_that_do_not_fit(
    probe: GeneratedPackage, redis: RedisServer, backend: str
) -> None:
    """An id newer than any of the channel's skips nothing; an id of another shape is refused;
    in memory, an id older than the history gets what the history holds, and a warning
    (Redis trims its streams in blocks of about 100, so 40 messages stay whole there)."""
    settings = settings_for(backend, redis).model_copy(update={"history": 5})
    servers = serve_probe(probe, settings)
    server = next(servers)
    feed = new_feed()
    try:
        with probe.client.Client(base_url=server.base_url) as client:
            texts = [f"n{n:02d}" for n in range(40)]
            published = client.feeds.publish.execute(params={"feed": feed, "texts": texts})
            assert published
            early = published.data.ids[1]

            def resume(after: str) -> Reader:
                call = client.feeds.subscribe.execute_stream(
                    params={"feed": feed}, headers={"last-event-id": after}
                )
                return Reader(call)

            future = resume("99999999999999-0")
            ready(client, feed, future)
            assert client.feeds.publish.execute(params={"feed": feed, "texts": ["new"]})
            assert [d.text for d in future.wait_for(1)] == ["new"]
            future.stop()

            if backend == "memory":
                with Warnings("milkio_gen.channels") as warnings:
                    old = resume(early)
                    kept = [d.text for d in old.wait_for(5)]
                    old.stop()
                # The 5 the history keeps: the newest numbers, the markers of `ready`, "new".
                numbered = [text for text in kept if text.startswith("n") and text != "new"]
                assert numbered == texts[len(texts) - len(numbered) :]
                assert kept[-1] == "new"
                assert any("older messages than the history keeps" in m for m in warnings.messages)

            for shape in ("1_000-0", "5-", "-1", "12", f"{2**64}-0"):
                bad = client.feeds.subscribe.execute_stream(
                    params={"feed": feed}, headers={"last-event-id": shape}
                )
                assert list(bad.stream) == []
                result = bad.get_result()
                assert not result
                assert result.fail.code == "TYPE_SAFE_ERROR", shape
    finally:
        servers.close()

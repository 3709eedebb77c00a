"""The generated router inside a Litestar app of its own: its routes, middleware, guards,
dependencies, plugins and state keep working, and actions reach the state and the
dependencies through their context."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Router, get
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import BaseRouteHandler
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from milkio_gen.channels import Broker
from milkio_gen.runtime.server import create_router

from tests.conftest import GeneratedPackage, RunningServer, build_package, serve_in_thread

CLEANED: list[str] = []


class Shelf:
    """The host app's store."""

    def __init__(self) -> None:
        self.items = {"tea": 3, "cake": 1}

    def count(self, item: str) -> int:
        return self.items.get(item, 0)


async def provide_shelf() -> AsyncIterator[Shelf]:
    yield Shelf()
    CLEANED.append("shelf")


async def provide_transaction() -> AsyncIterator[list[str]]:
    """Commits what was written after its `yield`, unless the call failed."""
    writes: list[str] = []
    try:
        yield writes
    except Exception as error:
        CLEANED.append(f"rollback {writes} ({type(error).__name__})")
        raise
    else:
        CLEANED.append(f"commit {writes}")


def provide_tenant(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("x-tenant", "public")


def requires_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.headers.get("x-key") != "open-sesame":
        raise NotAuthorizedException("the key is missing")


def served_by(app: ASGIApp) -> ASGIApp:
    """The host's middleware: marks every answer, its own and the APIs' alike."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-served-by", b"host")]
            await send(message)

        await app(scope, receive, marked)

    return middleware


class Greeter(InitPlugin):
    """The host's plugin: sets up state its handlers read."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state["greeting"] = "hello from the host"
        return app_config


@get("/health")
async def health(store: NamedDependency[Shelf]) -> dict[str, int]:
    return {"tea": store.count("tea")}


@get("/admin", guards=[requires_key])
async def admin() -> str:
    return "welcome"


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPackage:
    return build_package("tests.host_app", tmp_path_factory.mktemp("hosted"), "host_gen")


@pytest.fixture(scope="module")
def host(hosted: GeneratedPackage) -> Iterator[RunningServer]:
    server = hosted.server
    app = Litestar(
        route_handlers=[
            health,
            admin,
            Router(
                "/rpc",
                route_handlers=[server.router],
                dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
            ),
            Router("/locked", route_handlers=[create_router(server.apis)], guards=[requires_key]),
        ],
        dependencies={
            "store": Provide(provide_shelf),
            "transaction": Provide(provide_transaction),
        },
        middleware=[served_by],
        plugins=[Greeter(), Broker()],
    )
    yield from serve_in_thread(app)


@pytest.fixture(autouse=True)
def nothing_cleaned() -> None:
    CLEANED.clear()


async def cleaned_up() -> None:
    """Wait for the cleanup, which comes once the answer is sent."""
    for _ in range(500):
        if CLEANED:
            return
        await asyncio.sleep(0.01)


async def test_the_hosts_own_routes_guards_and_middleware_keep_working(
    host: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=host.base_url) as http:
        own = await http.get("/health")
        refused = await http.get("/admin")
        let_in = await http.get("/admin", headers={"x-key": "open-sesame"})
    assert own.json() == {"tea": 3}
    assert own.headers["x-served-by"] == "host"
    assert refused.status_code == 401
    assert let_in.text == "welcome"


async def test_an_action_reaches_the_hosts_state_and_dependencies(
    hosted: GeneratedPackage, host: RunningServer
) -> None:
    async with hosted.client.AsyncClient(
        base_url=f"{host.base_url}/rpc", headers={"x-tenant": "acme"}
    ) as client:
        result = await client.stock.count.execute(params={"item": "tea"})
    assert result, result
    assert result.data.model_dump() == {
        "greeting": "hello from the host",
        "tenant": "acme",
        "item": "tea",
        "count": 3,
    }
    await cleaned_up()
    assert CLEANED == ["shelf"], "the generator dependency was cleaned up, once"


async def test_a_stream_through_the_hosts_middleware_arrives_chunk_by_chunk(
    hosted: GeneratedPackage, host: RunningServer
) -> None:
    arrivals: list[float] = []
    async with hosted.client.AsyncClient(base_url=f"{host.base_url}/rpc") as client:
        call = client.stock.watch.execute_stream(params={"item": "cake"})
        started = time.monotonic()
        async for count in call.stream:
            assert count == 1
            arrivals.append(time.monotonic() - started)
            if len(arrivals) == 1:
                assert not CLEANED, "the dependency lives as long as the stream"
    assert call.get_result()
    assert len(arrivals) == 3
    # Each chunk as it is made, 0.2 s apart: not all at once at the end.
    assert arrivals[1] - arrivals[0] >= 0.15, arrivals
    assert arrivals[2] - arrivals[1] >= 0.15, arrivals
    await cleaned_up()
    assert CLEANED == ["shelf"]


async def test_the_protocol_and_the_hosts_middleware_both_answer_under_the_prefix(
    host: RunningServer,
) -> None:
    async with httpx.AsyncClient(base_url=host.base_url) as http:
        unknown = await http.post("/rpc/no/such/api", json={})
    assert unknown.json()["fail"]["code"] == "NOT_FOUND"
    assert unknown.headers["x-served-by"] == "host"


async def test_a_guard_on_the_mounted_router_guards_the_apis(
    hosted: GeneratedPackage, host: RunningServer
) -> None:
    async with hosted.client.AsyncClient(base_url=f"{host.base_url}/locked") as client:
        refused = await client.stock.count.execute(params={"item": "tea"})
    assert not refused
    assert refused.fail.code == "NETWORK_ERROR"
    assert refused.fail.data == "the server answered HTTP 401"
    assert not CLEANED, "the action never ran"
    async with hosted.client.AsyncClient(
        base_url=f"{host.base_url}/locked", headers={"x-key": "open-sesame"}
    ) as client:
        # The tenant dependency is declared on /rpc only: the guard let the call through,
        # and the action failed on the missing dependency instead.
        let_in = await client.stock.count.execute(params={"item": "tea"})
    assert not let_in
    assert let_in.fail.code == "INTERNAL_SERVER_ERROR"


async def test_a_dependency_nobody_provides_is_an_internal_error_that_names_it(
    hosted: GeneratedPackage, host: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with hosted.client.AsyncClient(base_url=f"{host.base_url}/rpc") as client:
        result = await client.stock.missing.execute()
    assert not result
    assert result.fail.code == "INTERNAL_SERVER_ERROR"
    assert "nobody_provides_this" not in result.fail.message
    (record,) = [r for r in caplog.records if r.name == "milkio_gen.server"]
    assert record.__dict__["execute_id"] == result.execute_id
    assert record.exc_info is not None
    assert "no dependency 'nobody_provides_this' is declared" in str(record.exc_info[1])


async def test_a_failed_call_rolls_its_dependencies_back_and_a_success_commits(
    hosted: GeneratedPackage, host: RunningServer
) -> None:
    """What ended a call without success is thrown into its generator dependencies, as
    Litestar does for its own handlers: a transaction that commits after `yield` rolls back."""
    async with hosted.client.AsyncClient(base_url=f"{host.base_url}/rpc") as client:
        assert await client.stock.reserve.execute(params={"item": "tea"})
        await cleaned_up()
        assert CLEANED == ["commit ['tea']"]
        CLEANED.clear()
        refused = await client.stock.reserve.execute(params={"item": "cake", "refuse": True})
        assert not refused
        await cleaned_up()
        assert CLEANED == ["rollback ['cake'] (Reject)"]
        CLEANED.clear()
        call = client.stock.follow.execute_stream(params={"item": "jam"})
        async for count in call.stream:
            if count == 2:
                break
    await cleaned_up()
    assert CLEANED == ["rollback ['jam'] (CallEnded)"], "a stream its client stopped"

"""`milkio_gen.testing`: `serve` in this process, and the pytest fixtures in a project made by
`milkio-gen new`, whose own tests run in a pytest of their own."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from milkio_gen.runtime.server import create_app, create_router
from milkio_gen.testing import ServeError, serve

from tests.conftest import ROOT, GeneratedPackage
from tests.probe_app.recorder import record

BIN = Path(sys.executable).parent


def fresh_app(probe: GeneratedPackage, **options: Any) -> Any:
    """The probe's APIs in an app of their own: its lifespan is not shared with another server
    of the session serving `probe.server.app`."""
    router = create_router(probe.server.apis, fail_codes=probe.server.fail_codes)
    return create_app(router, **options)


def refuses(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def serving_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name == "milkio-gen serve"]


# serve, in this process


async def test_a_chunk_arrives_at_once_and_the_stop_ends_the_open_stream(
    probe: GeneratedPackage,
) -> None:
    key = uuid.uuid4().hex
    served = serve(fresh_app(probe), stop_timeout=5)
    with served:
        async with probe.client.AsyncClient(base_url=served.base_url) as client:
            call = client.lifecycle.forever.execute_stream(params={"key": key})
            chunks = aiter(call.stream)
            # `forever` waits after its first chunk until it is stopped: only a real server
            # hands the chunk over before the response ends.
            assert await asyncio.wait_for(anext(chunks), 5) == "ready"
            started = time.monotonic()
            await asyncio.to_thread(served.stop)
            stopped_in = time.monotonic() - started
            assert [chunk async for chunk in chunks] == []
    entry = record(key)
    assert entry.ended.is_set(), "the action's finally ran before the stop returned"
    assert entry.context.stop_reason == "disconnected"
    # Far within the 5 s after which uvicorn would cancel the request instead.
    assert stopped_in < 2, stopped_in
    assert refuses(served.base_url)
    assert served.base_url not in " ".join(serving_threads())
    served.stop()  # again: nothing to do


def test_stopping_one_server_leaves_the_streams_of_others(probe: GeneratedPackage) -> None:
    key = uuid.uuid4().hex
    with (
        serve(fresh_app(probe)) as staying,
        probe.client.Client(base_url=staying.base_url) as client,
    ):
        call = client.lifecycle.forever.execute_stream(params={"key": key})
        chunks = iter(call.stream)
        assert next(chunks) == "ready"
        with serve(fresh_app(probe)) as leaving:
            assert leaving.port != staying.port
        assert not record(key).ended.wait(0.2), "another server's stop ended this stream"
        # A server started after a stop streams as the first did.
        with (
            serve(fresh_app(probe)) as later,
            probe.client.Client(base_url=later.base_url) as other,
        ):
            counted = other.lifecycle.count.execute_stream(params={"n": 3})
            assert list(counted.stream) == [0, 1, 2]
            assert counted.get_result()
        call.stream.close()
        assert record(key).ended.wait(5)
        assert record(key).context.stop_reason == "disconnected"


def test_an_app_whose_startup_fails_is_an_error_saying_why(probe: GeneratedPackage) -> None:
    async def connect() -> None:
        raise RuntimeError("the database is down")

    started = time.monotonic()
    with pytest.raises(ServeError) as raised:
        serve(fresh_app(probe, on_startup=[connect]))
    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert message.startswith("the app did not start:")
    assert "RuntimeError: the database is down" in message
    assert "Application startup failed" in message


def test_a_startup_that_hangs_is_an_error_after_the_start_timeout() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await asyncio.Event().wait()  # never says that it started

    started = time.monotonic()
    with pytest.raises(ServeError, match=r"^the app did not start within 0.3s$"):
        serve(app, start_timeout=0.3)
    assert time.monotonic() - started < 3
    assert serving_threads() == []


def test_a_port_in_use_is_an_error_naming_it(probe: GeneratedPackage) -> None:
    with serve(fresh_app(probe)) as first, pytest.raises(ServeError) as raised:
        serve(fresh_app(probe), port=first.port)
    assert str(raised.value).startswith("the app did not start:")
    assert "address already in use" in str(raised.value)


# The pytest fixtures, in a project of their own

STEPS_API = '''\
"""A stream whose second chunk waits for the test: the first must reach it before."""

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

from milkio_gen import Context, define_api
from pydantic import BaseModel

events: list[str] = []
"""The ends of the streams, in order."""
seen: list[str] = []
"""The base URLs the tests were given."""
held: list[Any] = []
"""Clients left open until the session's end."""
_gates: dict[str, threading.Event] = {}
_lock = threading.Lock()


def gate(key: str) -> threading.Event:
    with _lock:
        return _gates.setdefault(key, threading.Event())


class Params(BaseModel):
    key: str


@define_api()
async def action(params: Params, context: Context) -> AsyncIterator[str]:
    try:
        yield "first"
        while not gate(params.key).is_set():
            await asyncio.sleep(0.005)
        yield "second"
    finally:
        events.append(f"{params.key}: ended, {context.stop_reason}")
'''

BOOM_API = """\
from milkio_gen import define_api


@define_api()
async def action() -> int:
    raise RuntimeError("the action broke")
"""

STEPS_TESTS = """\
import time

from milkio_gen.testing import ServedApp
from shop.app.steps import events, gate, held, seen
from shop.generated.client import AsyncClient, Client


async def test_a_chunk_arrives_before_the_action_makes_the_next(
    milkio_async_client: AsyncClient, milkio_base_url: str
) -> None:
    seen.append(milkio_base_url)
    call = milkio_async_client.steps.execute_stream(params={"key": "async"})
    chunks = aiter(call.stream)
    assert await anext(chunks) == "first"
    gate("async").set()
    assert [chunk async for chunk in chunks] == ["second"]
    assert call.get_result()


def test_the_sync_client_streams_too(milkio_client: Client, milkio_base_url: str) -> None:
    seen.append(milkio_base_url)
    call = milkio_client.steps.execute_stream(params={"key": "sync"})
    chunks = iter(call.stream)
    assert next(chunks) == "first"
    gate("sync").set()
    assert list(chunks) == ["second"]
    assert call.get_result()


def test_leaves_a_stream_open_on_its_client(milkio_client: Client) -> None:
    call = milkio_client.steps.execute_stream(params={"key": "on the test's client"})
    chunks = iter(call.stream)
    held.append((milkio_client, chunks))
    assert next(chunks) == "first"


def test_the_client_was_closed_after_the_test(milkio_server: ServedApp) -> None:
    deadline = time.monotonic() + 5
    while "on the test's client: ended, disconnected" not in events:
        assert time.monotonic() < deadline, events
        time.sleep(0.01)


def test_leaves_a_stream_open_until_the_session_ends(milkio_base_url: str) -> None:
    seen.append(milkio_base_url)
    client = Client(base_url=milkio_base_url)
    call = client.steps.execute_stream(params={"key": "left open"})
    chunks = iter(call.stream)
    held.append((client, chunks))  # a stream that is collected closes its connection
    assert next(chunks) == "first"
"""

SESSION_REPORT = """

import json
import os
import socket
import threading

import pytest


def pytest_sessionfinish(session: pytest.Session) -> None:
    from shop.app.steps import events, held, seen

    port = int(seen[0].rsplit(":", 1)[1]) if seen else 0
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    threads = [thread.name for thread in threading.enumerate()]
    report = {"events": events, "seen": sorted(set(seen)), "refused": refused, "threads": threads}
    with open(os.environ["SESSION_REPORT"], "w") as file:
        json.dump(report, file)
    for client, _ in held:
        client.close()
"""

OTHER_MODULE_TESTS = """\
from shop.app.steps import seen


def test_another_module_is_given_the_same_server(milkio_base_url: str) -> None:
    seen.append(milkio_base_url)
"""

FAILING_TEST = """\
from shop.generated.client import Client


def test_fails_after_the_action_raised(milkio_client: Client) -> None:
    result = milkio_client.boom.execute()
    assert result
"""


def write(project: Path, path: str, text: str, *, append: bool = False) -> None:
    target = project / path
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a" if append else "w") as file:
        file.write(textwrap.dedent(text))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project as `milkio-gen new shop` makes it, with two more APIs, built."""
    home = tmp_path_factory.mktemp("made")
    made = subprocess.run(
        [str(BIN / "milkio-gen"), "new", "shop"], cwd=home, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    project = home / "shop"
    write(project, "shop/app/steps.py", STEPS_API)
    write(project, "shop/app/boom.py", BOOM_API)
    built = subprocess.run(
        [str(BIN / "milkio-gen"), "build"], cwd=project, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return project


def copy(shop: Path, tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    shutil.copytree(shop, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def pytest_in(project: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest run in `project` as its user would, with only the plugins its tests need, and
    every warning an error."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    environment |= {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **env}
    command = [sys.executable, "-m", "pytest", "-p", "asyncio", "-p", "timeout"]
    command += ["-p", "no:cacheprovider", "-W", "error", "-o", "timeout=20", *arguments]
    return subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.timeout(180)
def test_the_fixtures_serve_the_app_for_the_session_with_real_streams(
    shop: Path, tmp_path: Path
) -> None:
    project = copy(shop, tmp_path)
    write(project, "tests/test_steps.py", STEPS_TESTS)
    write(project, "tests/test_zz_other_module.py", OTHER_MODULE_TESTS)
    write(project, "tests/conftest.py", SESSION_REPORT, append=True)
    report_file = tmp_path / "report.json"
    ran = pytest_in(project, "-q", SESSION_REPORT=str(report_file))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "9 passed" in ran.stdout, ran.stdout
    report = json.loads(report_file.read_text())
    (base_url,) = report["seen"]  # one server for the session
    assert base_url.startswith("http://127.0.0.1:")
    events: list[str] = report["events"]
    assert events.index("on the test's client: ended, disconnected") < events.index(
        "left open: ended, disconnected"
    )
    # Its client open until after the session, only the server's stop could end it.
    assert events[-1] == "left open: ended, disconnected", events
    assert "async: ended, None" in events
    assert "sync: ended, None" in events
    assert report["refused"]
    assert not [name for name in report["threads"] if name.startswith("milkio-gen serve")]


@pytest.mark.timeout(180)
def test_a_failing_test_shows_what_the_served_app_logged(shop: Path, tmp_path: Path) -> None:
    project = copy(shop, tmp_path)
    write(project, "tests/test_boom.py", FAILING_TEST)
    ran = pytest_in(project, "tests/test_boom.py")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 failed" in ran.stdout
    logged = ran.stdout.split("Captured log call", 1)[1]
    assert "RuntimeError: the action broke" in logged
    assert "shop/app/boom.py" in logged


@pytest.mark.timeout(180)
def test_an_app_whose_startup_fails_fails_each_test_saying_why(shop: Path, tmp_path: Path) -> None:
    project = copy(shop, tmp_path)
    write(
        project,
        "tests/conftest.py",
        """
        import pytest
        from litestar import Litestar
        from milkio_gen.runtime.server import create_app

        from shop.generated.server import router


        async def connect() -> None:
            raise RuntimeError("the database is down")


        @pytest.fixture(scope="session")
        def milkio_app() -> Litestar:
            return create_app(router, on_startup=[connect])
        """,
        append=True,
    )
    ran = pytest_in(project)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "3 errors" in ran.stdout, ran.stdout
    # Once a test, not chained to itself; the short summary (whole under CI) aside.
    reports = [line for line in ran.stdout.splitlines() if not line.startswith("ERROR ")]
    said = sum(line.count("milkio_server: the app did not start:") for line in reports)
    assert said == 3, ran.stdout
    assert "During handling" not in ran.stdout
    assert "RuntimeError: the database is down" in ran.stdout


@pytest.mark.timeout(180)
def test_an_app_that_cannot_be_imported_fails_with_its_file_and_line(
    shop: Path, tmp_path: Path
) -> None:
    project = copy(shop, tmp_path)
    hello = project / "shop" / "app" / "hello.py"
    hello.write_text(hello.read_text() + "\nGREETING = undefined_name\n")
    line = len(hello.read_text().splitlines())
    ran = pytest_in(project)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "3 errors" in ran.stdout, ran.stdout
    assert f"shop/app/hello.py:{line}: NameError" in ran.stdout


@pytest.mark.timeout(180)
def test_an_app_not_built_yet_says_to_build_it(shop: Path, tmp_path: Path) -> None:
    project = copy(shop, tmp_path)
    shutil.rmtree(project / "shop" / "generated")
    write(project, "tests/test_app.py", "def test_served(milkio_server: object) -> None: ...\n")
    ran = pytest_in(project)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "no module shop.generated.server: run `milkio-gen build`" in ran.stdout


@pytest.mark.timeout(180)
def test_an_app_of_ones_own_with_the_apis_under_a_prefix(shop: Path, tmp_path: Path) -> None:
    project = copy(shop, tmp_path)
    write(
        project,
        "tests/conftest.py",
        """
        import pytest
        from litestar import Litestar, Router, get
        from milkio_gen.testing import ServedApp

        from shop.generated.server import router


        @get("/health")
        async def health() -> str:
            return "ok"


        @pytest.fixture(scope="session")
        def milkio_app() -> Litestar:
            return Litestar(route_handlers=[Router("/rpc", route_handlers=[router]), health])


        @pytest.fixture(scope="session")
        def milkio_base_url(milkio_server: ServedApp) -> str:
            return f"{milkio_server.base_url}/rpc"
        """,
        append=True,
    )
    write(
        project,
        "tests/test_health.py",
        """
        import httpx
        from milkio_gen.testing import ServedApp


        def test_the_apps_own_route(milkio_server: ServedApp) -> None:
            assert httpx.get(f"{milkio_server.base_url}/health").text == "ok"
        """,
    )
    ran = pytest_in(project, "-q")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "4 passed" in ran.stdout, ran.stdout


@pytest.mark.timeout(180)
def test_the_projects_tests_type_check_strictly(shop: Path, tmp_path: Path) -> None:
    project = copy(shop, tmp_path)
    write(project, "tests/test_steps.py", STEPS_TESTS)
    # milkio_gen has no py.typed yet: its types are read from its source all the same.
    settings = {"typeCheckingMode": "strict", "include": ["tests"], "reportMissingTypeStubs": False}
    (project / "pyrightconfig.json").write_text(json.dumps(settings))
    checked = subprocess.run(
        [str(BIN / "basedpyright"), "--pythonpath", sys.executable],
        cwd=project, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout


def test_the_docs_show_the_test_a_new_project_has(shop: Path) -> None:
    page = (ROOT / "docs" / "testing.md").read_text()
    shown = page.split("## Write a test", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    made = (shop / "tests" / "test_app.py").read_text()
    assert made.endswith(shown)

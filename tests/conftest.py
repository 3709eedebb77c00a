"""Fixtures: real uvicorn servers on 127.0.0.1 with ephemeral ports, and generated packages."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn
from milkio_gen.build import build
from milkio_gen.config import load_config
from milkio_gen.runtime.server import ServerSettings, create_app, create_router
from milkio_gen.testing import RedisServer

ROOT = Path(__file__).resolve().parents[1]
TS = ROOT / "tests" / "ts"


@dataclass
class RunningServer:
    base_url: str
    server: uvicorn.Server


def serve_in_thread(app: Any) -> Iterator[RunningServer]:
    """Run `app` under uvicorn in a thread, as httpx's own tests do, until the test is done."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class GeneratedPackage:
    directory: Path
    client: ModuleType
    server: ModuleType


def build_package(app: str, destination: Path, name: str) -> GeneratedPackage:
    """Build `app` into `destination/name` and import the result."""
    config = load_config(
        ROOT,
        app=app,
        schema=destination / name / "schema" / "manifest.json",
        out=destination / name,
    )
    build(config)
    if str(destination) not in sys.path:
        sys.path.insert(0, str(destination))
    return GeneratedPackage(
        destination / name,
        importlib.import_module(f"{name}.client"),
        importlib.import_module(f"{name}.server"),
    )


def lint_and_type_check(project: Path, package: str, *, skip: tuple[str, ...] = ()) -> None:
    """`ruff check`, `ruff format --check` and strict pyright over a generated package.

    `skip` names files pyright leaves out, relative to the package.
    """
    import json
    import subprocess

    bin_dir = Path(sys.executable).parent
    for command in (["ruff", "check", package], ["ruff", "format", "--check", package]):
        checked = subprocess.run(
            [str(bin_dir / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            cwd=project,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    (project / "pyrightconfig.json").write_text(
        json.dumps(
            {
                "typeCheckingMode": "strict",
                "extraPaths": [str(ROOT)],
                "include": [package],
                "exclude": [f"{package}/{name}" for name in skip],
            }
        )
    )
    typed = subprocess.run(
        [str(bin_dir / "basedpyright"), "--pythonpath", sys.executable, "--project", str(project)],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=300,
        check=False,
    )
    assert typed.returncode == 0, typed.stdout


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    """A redis-server of the module's own on a free port of 127.0.0.1."""
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def probe(tmp_path_factory: pytest.TempPathFactory) -> GeneratedPackage:
    """The probe app of the tests, built into a temporary package `probe_gen`."""
    return build_package("tests.probe_app", tmp_path_factory.mktemp("probe"), "probe_gen")


def serve_probe_with(probe: GeneratedPackage, settings: ServerSettings) -> Iterator[RunningServer]:
    """The probe app under `ServerSettings` of a test's own, served in a thread."""
    yield from serve_in_thread(create_app(create_router(probe.server.apis, settings=settings)))


@pytest.fixture(scope="session")
def probe_server(probe: GeneratedPackage) -> Iterator[RunningServer]:
    yield from serve_in_thread(probe.server.app)


@pytest.fixture(scope="session")
def example_server() -> Iterator[RunningServer]:
    """The example app, served from the committed `generated/` package."""
    from generated.server import app

    yield from serve_in_thread(app)


def _read_request(connection: Any) -> None:
    """Read a whole request, so closing the socket afterwards is a clean close, not a reset."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        if not piece:
            return
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        piece = connection.recv(65536)
        if not piece:
            return
        body += piece


@pytest.fixture
def raw_http_server() -> Iterator[Any]:
    """A TCP server on 127.0.0.1 that answers each connection with the next bytes it is given
    (the last ones again once they run out), and counts the connections.

    For what a real server of ours never sends: truncated streams, wrong content types,
    invalid chunks, a proxy's 503.
    """
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    state: dict[str, Any] = {"responses": [b""], "stop": False, "connections": 0}

    def serve() -> None:
        while not state["stop"]:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            responses = state["responses"]
            response = responses[min(state["connections"], len(responses) - 1)]
            state["connections"] += 1
            with connection:
                connection.settimeout(2)
                try:
                    _read_request(connection)
                    connection.sendall(response)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    class Respond:
        def __call__(self, *responses: bytes) -> str:
            state["responses"] = list(responses)
            return f"http://127.0.0.1:{listener.getsockname()[1]}"

        @property
        def connections(self) -> int:
            return state["connections"]

    try:
        yield Respond()
    finally:
        state["stop"] = True
        thread.join(timeout=5)
        listener.close()


def run_in_ts(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=TS, capture_output=True, text=True, timeout=300, check=False, **options
    )  # type: ignore[call-overload]


@pytest.fixture(scope="session")
def compiled() -> Path:
    """The probe app's client.ts built beside the tests, then everything compiled strictly."""
    if shutil.which("node") is None or not (TS / "node_modules").is_dir():
        pytest.fail("node and tests/ts/node_modules are needed: run scripts/setup")
    for app, name in (
        ("tests.probe_app", "probe"),
        ("tests.edge_app", "edge"),
        ("tests.corpus_app", "corpus"),
    ):
        out = TS / name
        build(load_config(ROOT, app=app, schema=out / "manifest.json", out=out))
    for config in ("tsconfig.json", "tsconfig.node.json"):
        tsc = run_in_ts([str(TS / "node_modules" / ".bin" / "tsc"), "-p", config])
        assert tsc.returncode == 0, f"{config}:\n{tsc.stdout}{tsc.stderr}"
    return TS / "dist"


@dataclass(frozen=True)
class FreshVenv:
    """A virtualenv with only the wheel built from this repository installed (and pytest)."""

    root: Path

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this repository, built once."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = dist.glob("milkio_gen-*.whl")
    return built


@pytest.fixture(scope="session")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    pip = [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(
        [*pip, str(wheel), "pytest", "pytest-timeout"], check=True, capture_output=True, timeout=500
    )
    return FreshVenv(root)


@pytest.fixture(scope="session")
def built_pages() -> None:
    """The example pages bundled with the generated client.ts as it is now."""
    subprocess.run(
        ["npm", "run", "build", "--prefix", str(ROOT / "examples" / "web")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (`playwright.sync_api.Browser`)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()

"""What the benchmarks share: building a bench app's generated package, starting servers
under uvicorn (uvloop, httptools) on a free port of 127.0.0.1 and always stopping them, and
the small statistics and output helpers, so every scenario measures the same way."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import importlib
import json
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Generator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
from milkio_gen.build import build
from milkio_gen.config import load_config
from milkio_gen.testing import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@functools.cache
def build_package(app: str, name: str) -> Path:
    """Build `app`'s generated package `name` into a temp dir (once per process, removed at
    exit), make it importable here, and return the dir to put on a server's PYTHONPATH."""
    work = Path(tempfile.mkdtemp(prefix=f"milkio-{name}-"))
    atexit.register(shutil.rmtree, work, True)
    config = load_config(ROOT, app=app, schema=work / "manifest.json", out=work / name)
    build(dataclasses.replace(config, http={}))  # the project's pages are not the bench's
    sys.path.insert(0, str(work))
    return work


def client_module(app: str, name: str) -> ModuleType:
    """The generated client module of `app` (built if needed); its members are typed `Any`
    here, since the package exists only at run time."""
    build_package(app, name)
    return importlib.import_module(f"{name}.client")


def python_path(work: Path) -> str:
    """A PYTHONPATH that sees the generated package and this project's `bench` apps."""
    return os.pathsep.join([str(work), str(ROOT)])


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit: thousands of sockets exceed
    the usual 1,024. Servers started afterwards inherit it. Returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 16)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start(
    target: Sequence[str], pythonpath: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `uvicorn <target>` on a free port; return the process and its base URL once it
    accepts connections (20 s at most)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", *target, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    command += ["--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "2"]
    # Quiet, and uncapped: a benchmark opens thousands of streams from one address.
    quiet = {"MILKIO_LOG_LEVEL": "warning", "MILKIO_SERVER_MAX_STREAMS_PER_CLIENT": "null"}
    environment = {**os.environ, **quiet, **(env or {}), "PYTHONPATH": pythonpath}
    process = subprocess.Popen(command, env=environment)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, base_url
        except OSError:
            time.sleep(0.05)
    stop(process)
    raise SystemExit(f"{target[0]} did not start")


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a server; kill it if it has not exited within 10 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def stop_group(process: subprocess.Popen[Any]) -> None:
    """Terminate a process started in a session of its own, and every process in it; kill
    them if it has not exited within 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@contextlib.contextmanager
def serving(
    target: Sequence[str], pythonpath: str, env: Mapping[str, str] | None = None
) -> Generator[tuple[subprocess.Popen[bytes], str]]:
    """A server for the length of a `with` block, stopped however the block ends."""
    process, base_url = start(target, pythonpath, env)
    try:
        yield process, base_url
    finally:
        stop(process)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.5 is the median, 0.99 the p99)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def ratio(value: float, reference: float) -> float:
    return value / reference if reference else float("nan")


def write_json(path: Path, figures: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")


async def minimal_chunks(response: httpx.Response) -> AsyncIterator[Any]:
    """The chunks of an event stream, read the least costly way: the body split on blank
    lines, each `data:` of JSON parsed by orjson, nothing checked. The benchmarks' ceiling."""
    rest = b""
    async for piece in response.aiter_raw():
        events = (rest + piece).split(b"\n\n")
        rest = events.pop()
        for event in events:
            if event.startswith(b"data:{"):
                yield orjson.loads(event[5:])

"""A stream through what stands in front of it in production, beside the same stream served
directly: time to first chunk and chunks per second, ratios to the direct figures measured
in the same run.

    python -m bench.deploy [--calls 300] [--chunks 100000] [--json bench/results/deploy.json]

Routes: the generated server under uvicorn, read directly over HTTP/1.1 (the reference);
through nginx with the settings of docs/deploy.md (`milkio_gen.testing.Nginx`); and over
HTTP/2 with TLS (`milkio-gen serve --certfile/--keyfile`, a certificate made for the run).
The client is the generated async client each time, on httpx (with `http2=True` for HTTP/2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from milkio_gen.testing import Nginx, free_port, self_signed_certificate

from bench.first_chunk import generated_first_chunks
from bench.servers import (
    RESULTS,
    build_package,
    client_module,
    percentile,
    python_path,
    ratio,
    serving,
    stop,
    write_json,
)

DIRECT = "direct, HTTP/1.1"


@dataclass(frozen=True)
class Route:
    name: str
    base_url: str
    http_client: Callable[[], httpx.AsyncClient]


def plain_http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=30)


async def first_chunks(package: Any, route: Route, calls: int) -> list[float]:
    async with (
        route.http_client() as http,
        package.AsyncClient(base_url=route.base_url, http_client=http) as client,
    ):
        return await generated_first_chunks(client, calls, route.name)


async def throughput(package: Any, route: Route, chunks: int, runs: int) -> float:
    """Chunks a second of the best of `runs` streams of `chunks` chunks."""
    best = 0.0
    async with (
        route.http_client() as http,
        package.AsyncClient(base_url=route.base_url, http_client=http, timeout=60) as client,
    ):
        for _ in range(runs + 1):  # the first warms both sides up
            started = time.perf_counter()
            got = 0
            async with asyncio.timeout(120):
                async for _ in client.execute_stream("chunks/dicts", params={"n": chunks}).stream:
                    got += 1
            if got != chunks:
                raise SystemExit(f"{route.name}: {got} chunks of {chunks}")
            best = max(best, chunks / (time.perf_counter() - started))
    return best


@contextlib.contextmanager
def http2_server(pythonpath: str, work: Path, scratch: Path) -> Generator[Route]:
    """`milkio-gen serve` of the package built in `work`, over TLS and HTTP/2, with a
    self-signed certificate for 127.0.0.1 made in `scratch`."""
    certificate, key = self_signed_certificate(scratch)
    port = free_port()
    command = [sys.executable, "-m", "milkio_gen", "serve", "--out", "stream_gen"]
    command += ["--port", str(port), "--log-level", "warning"]
    command += ["--certfile", str(certificate), "--keyfile", str(key)]
    process = subprocess.Popen(command, cwd=work, env={"PYTHONPATH": pythonpath, **_env()})
    base_url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{base_url}/", verify=False, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the HTTP/2 server did not start") from None
                time.sleep(0.1)
        yield Route(
            "HTTP/2 with TLS",
            base_url,
            lambda: httpx.AsyncClient(http2=True, verify=str(certificate), timeout=30),
        )
    finally:
        stop(process)


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="streams direct, through nginx, over HTTP/2")
    parser.add_argument("--calls", type=int, default=300, help="first-chunk calls per route")
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks per stream read")
    parser.add_argument("--runs", type=int, default=3, help="stream reads per route; best")
    parser.add_argument("--json", type=Path, default=RESULTS / "deploy.json")
    return parser


QUICK = ["--calls", "50", "--chunks", "5000", "--runs", "1"]
"""Options of `python -m bench --quick`."""


def measure(package: Any, route: Route, options: argparse.Namespace) -> dict[str, float]:
    latencies = asyncio.run(first_chunks(package, route, options.calls))
    return {
        "first_chunk_p50_ms": percentile(latencies, 0.5),
        "first_chunk_p99_ms": percentile(latencies, 0.99),
        "chunks_per_s": asyncio.run(throughput(package, route, options.chunks, options.runs)),
    }


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every route, print the table, and return the figures."""
    work = build_package("bench.stream_app", "stream_gen")
    pythonpath = python_path(work)
    package = client_module("bench.stream_app", "stream_gen")
    results: dict[str, dict[str, float]] = {}
    with serving(["stream_gen.server:app"], pythonpath) as (_, base_url):
        results[DIRECT] = measure(package, Route(DIRECT, base_url, plain_http), options)
        with Nginx(int(base_url.rsplit(":", 1)[1])) as nginx:
            through = Route("through nginx, HTTP/1.1", nginx.base_url, plain_http)
            results[through.name] = measure(package, through, options)
    with (
        tempfile.TemporaryDirectory() as scratch,
        http2_server(pythonpath, work, Path(scratch)) as h2,
    ):
        results[h2.name] = measure(package, h2, options)

    base = results[DIRECT]
    print(f"first chunk: {options.calls} calls on a warm client; throughput: best of "
          f"{options.runs} reads of {options.chunks} chunks")  # fmt: skip
    print(f"{'route':<26} {'p50 ms':>7} {'p99 ms':>7} {'p50 x':>6} {'chunks/s':>10} {'x':>6}")
    for name, row in results.items():
        print(
            f"{name:<26} {row['first_chunk_p50_ms']:>7.3f} {row['first_chunk_p99_ms']:>7.3f} "
            f"{ratio(row['first_chunk_p50_ms'], base['first_chunk_p50_ms']):>6.2f} "
            f"{row['chunks_per_s']:>10,.0f} "
            f"{ratio(row['chunks_per_s'], base['chunks_per_s']):>6.2f}"
        )
    return {"calls": options.calls, "chunks": options.chunks, "results": results}


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

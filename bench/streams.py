"""Stream throughput, side by side: one stream of `n` small chunks per contender, each
server in a process of its own under uvicorn (uvloop, httptools), read by its usual client
in this process.

    python -m bench.streams [--chunks 200000] [--runs 3] [--json bench/results/streams.json]

Rows:
- reference: raw ASGI, pre-encoded events sent 1,000 at a time (bench/contenders.py), read
  by a minimal client (httpx bytes, split on blank lines, orjson), and by the generated
  client: the ceiling, and the same server feeding our parser;
- ours: the generated server and client, for actions yielding TypedDicts and models;
- sse-starlette read by httpx-sse; FastAPI `StreamingResponse` read by httpx `aiter_lines`.

Each row: chunks/s (best of `runs`), CPU microseconds per chunk in the server process and in
the client, and throughput ratios to the reference feeding the generated client and to
sse-starlette, measured in the same run. Everything runs on 127.0.0.1; loops are bounded by
`chunks`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from bench.servers import (
    RESULTS,
    build_package,
    client_module,
    minimal_chunks,
    python_path,
    start,
    stop,
    write_json,
)

Reader = Callable[[str, int], Coroutine[Any, Any, int]]
"""Reads one stream of `n` chunks from a base URL; returns how many it decoded."""


async def read_minimal(base_url: str, n: int) -> int:
    count = 0
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream("POST", "/", json={"n": n}) as response,
    ):
        async for _ in minimal_chunks(response):
            count += 1
    return count


async def read_httpx_sse(base_url: str, n: int) -> int:
    from httpx_sse import aconnect_sse

    count = 0
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        aconnect_sse(client, "POST", "/", json={"n": n}) as source,
    ):
        async for event in source.aiter_sse():
            orjson.loads(event.data)
            count += 1
    return count


async def read_lines(base_url: str, n: int) -> int:
    count = 0
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream("POST", "/", json={"n": n}) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                orjson.loads(line[6:])
                count += 1
    return count


def generated_reader(package: Any, path: str) -> Reader:
    async def read(base_url: str, n: int) -> int:
        count = 0
        async with package.AsyncClient(base_url=base_url, timeout=60) as client:
            call = client.execute_stream(path, params={"n": n})
            async for _ in call.stream:
                count += 1
        return count

    return read


@dataclass(frozen=True)
class Contender:
    name: str
    server: list[str]
    """The uvicorn target and its flags."""
    reader: Reader


@dataclass(frozen=True)
class Figures:
    chunks_per_s: float
    server_us: float
    client_us: float


def measure(contender: Contender, pythonpath: str, chunks: int, runs: int) -> Figures:
    process, base_url = start(contender.server, pythonpath)
    server = psutil.Process(process.pid)
    try:
        asyncio.run(contender.reader(base_url, min(chunks, 10_000)))  # warm up both sides
        best: Figures | None = None
        for _ in range(runs):
            server_before = sum(server.cpu_times()[:2])
            client_before = time.process_time()
            started = time.perf_counter()
            got = asyncio.run(contender.reader(base_url, chunks))
            elapsed = time.perf_counter() - started
            if got != chunks:
                raise SystemExit(f"{contender.name}: {got} chunks of {chunks}")
            figures = Figures(
                chunks_per_s=chunks / elapsed,
                server_us=(sum(server.cpu_times()[:2]) - server_before) / chunks * 1e6,
                client_us=(time.process_time() - client_before) / chunks * 1e6,
            )
            if best is None or figures.chunks_per_s > best.chunks_per_s:
                best = figures
        assert best is not None
        return best
    finally:
        stop(process)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="stream throughput, side by side")
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per contender; the best counts")
    parser.add_argument("--json", type=Path, default=RESULTS / "streams.json")
    return parser


QUICK = ["--chunks", "20000", "--runs", "1"]
"""Options of `python -m bench --quick`."""


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every contender, print the table, and return the figures."""
    work = build_package("bench.stream_app", "stream_gen")
    package = client_module("bench.stream_app", "stream_gen")
    pythonpath = python_path(work)
    ours = ["stream_gen.server:app"]
    contenders = [
        Contender("reference + minimal client", ["bench.contenders:reference"], read_minimal),
        Contender(
            "reference + generated client",
            ["bench.contenders:reference"],
            generated_reader(package, "chunks/dicts"),
        ),
        Contender("ours, TypedDict chunks", ours, generated_reader(package, "chunks/dicts")),
        Contender("ours, model chunks", ours, generated_reader(package, "chunks/models")),
        Contender(
            "sse-starlette + httpx-sse",
            ["bench.contenders:sse_starlette", "--factory"],
            read_httpx_sse,
        ),
        Contender(
            "FastAPI StreamingResponse + aiter_lines",
            ["bench.contenders:fastapi_streaming", "--factory"],
            read_lines,
        ),
    ]
    results = {c.name: measure(c, pythonpath, options.chunks, options.runs) for c in contenders}

    reference = results["reference + generated client"].chunks_per_s
    starlette = results["sse-starlette + httpx-sse"].chunks_per_s
    print(f"one stream of {options.chunks:,} chunks; best of {options.runs}")
    print(f"{'contender':<42} {'chunks/s':>10} {'server us':>10} {'client us':>10} "
          f"{'x ref':>6} {'x sse-st':>8}")  # fmt: skip
    for name, row in results.items():
        print(
            f"{name:<42} {row.chunks_per_s:>10,.0f} {row.server_us:>10.2f} {row.client_us:>10.2f} "
            f"{row.chunks_per_s / reference:>6.2f} {row.chunks_per_s / starlette:>8.2f}"
        )
    return {"chunks": options.chunks, "runs": options.runs,
            "results": {name: row.__dict__ for name, row in results.items()}}  # fmt: skip


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

"""Time to first chunk, side by side: how long a new stream request on a warm client takes
to bring its first chunk, and the first call of a fresh process.

    python -m bench.first_chunk [--calls 500] [--fresh 10] [--json bench/results/first_chunk.json]

Warm rows: `calls` stream requests one after another on one warm client (keep-alive), each
a stream of one chunk, timed from the request (`execute_stream` for the generated client) to
the first chunk out of the client; p50/p99. Each server runs in a process of its own under
uvicorn (uvloop, httptools); the clients run in this process, as in `bench.streams`.

Fresh rows: `fresh` new Python processes, each importing its client, constructing it (not
timed: construction may warm things up) and timing its FIRST call the same way, connection
included; p50/max. A third fresh row imports anyio's asyncio backend before the clock starts,
which httpcore otherwise does during the first request.

Targets: ours within 0.2 ms of the reference at p50; a fresh process's first call under 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.servers import (
    RESULTS,
    build_package,
    client_module,
    minimal_chunks,
    percentile,
    python_path,
    ratio,
    serving,
    write_json,
)

FirstChunk = Callable[[httpx.AsyncClient, str], Coroutine[Any, Any, float]]
"""One stream request on a warm client: the seconds from the request to its first chunk
(the stream is then read to its end, so the connection goes back to the pool)."""


async def first_minimal(http: httpx.AsyncClient, base_url: str) -> float:
    started = time.perf_counter()
    first = 0.0
    async with http.stream("POST", f"{base_url}/", json={"n": 1}) as response:
        async for _ in minimal_chunks(response):
            first = first or time.perf_counter()
    return first - started


async def first_httpx_sse(http: httpx.AsyncClient, base_url: str) -> float:
    from httpx_sse import aconnect_sse

    started = time.perf_counter()
    first = 0.0
    async with aconnect_sse(http, "POST", f"{base_url}/", json={"n": 1}) as source:
        async for _ in source.aiter_sse():
            first = first or time.perf_counter()
    return first - started


async def first_lines(http: httpx.AsyncClient, base_url: str) -> float:
    started = time.perf_counter()
    first = 0.0
    async with http.stream("POST", f"{base_url}/", json={"n": 1}) as response:
        async for line in response.aiter_lines():
            if not first and line.startswith("data: "):
                first = time.perf_counter()
    return first - started


@dataclass(frozen=True)
class Contender:
    name: str
    server: list[str]
    """The uvicorn target and its flags."""
    first: FirstChunk | None
    """How a raw httpx client times one call; None: the generated client."""


async def warm_latencies(contender: Contender, base_url: str, calls: int) -> list[float]:
    """Milliseconds to first chunk of `calls` calls, after 20 not counted."""
    latencies: list[float] = []
    if contender.first is None:
        package = client_module("bench.stream_app", "stream_gen")
        async with package.AsyncClient(base_url=base_url, timeout=10) as client:
            return await generated_first_chunks(client, calls, contender.name)
    async with httpx.AsyncClient(timeout=10) as http:
        for index in range(20 + calls):
            async with asyncio.timeout(10):
                seconds = await contender.first(http, base_url)
            if seconds <= 0:
                raise SystemExit(f"{contender.name}: no chunk")
            if index >= 20:
                latencies.append(seconds * 1000)
    return latencies


async def generated_first_chunks(client: Any, calls: int, name: str) -> list[float]:
    """Milliseconds from `execute_stream` to the first chunk, for `calls` streams of one chunk
    on the warm generated `client`, after 20 not counted."""
    latencies: list[float] = []
    for index in range(20 + calls):
        started = time.perf_counter()
        first = 0.0
        call = client.execute_stream("chunks/dicts", params={"n": 1})
        async with asyncio.timeout(10):
            async for _ in call.stream:
                first = first or time.perf_counter()
        if not first:
            raise SystemExit(f"{name}: no chunk ({call.get_result()})")
        if index >= 20:
            latencies.append((first - started) * 1000)
    return latencies


# The first call of a fresh process: argv is the client kind and the base URL; prints the
# milliseconds from the request to the first chunk. Constructing the client is not timed.
_FRESH = """
import asyncio, sys, time
kind, base_url = sys.argv[1], sys.argv[2]
if kind.startswith("generated"):
    from stream_gen.client import AsyncClient
else:
    import httpx, orjson

async def main():
    first = 0.0
    if kind == "generated, anyio imported":
        import anyio._backends._asyncio  # what httpcore imports on its first request
    if kind.startswith("generated"):
        async with AsyncClient(base_url=base_url, timeout=10) as client:
            started = time.perf_counter()
            call = client.execute_stream("chunks/dicts", params={"n": 1})
            async for _ in call.stream:
                first = first or time.perf_counter()
    else:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            started = time.perf_counter()
            async with http.stream("POST", "/", json={"n": 1}) as response:
                async for piece in response.aiter_raw():
                    for event in piece.split(b"\\n\\n"):
                        if not first and event.startswith(b"data:{"):
                            orjson.loads(event[5:])
                            first = time.perf_counter()
    print((first - started) * 1000 if first else -1.0)

asyncio.run(asyncio.wait_for(main(), 20))
"""


def fresh_latencies(kind: str, base_url: str, pythonpath: str, processes: int) -> list[float]:
    """Milliseconds to the first chunk of the first call, in `processes` fresh processes."""
    latencies: list[float] = []
    for _ in range(processes):
        completed = subprocess.run(
            [sys.executable, "-c", _FRESH, kind, base_url],
            env={**os.environ, "PYTHONPATH": pythonpath},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0 or float(completed.stdout) < 0:
            raise SystemExit(f"a fresh {kind} client failed:\n{completed.stderr[-2000:]}")
        latencies.append(float(completed.stdout))
    return latencies


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="time to first chunk, side by side")
    parser.add_argument("--calls", type=int, default=500, help="timed calls per warm client")
    parser.add_argument("--fresh", type=int, default=10, help="fresh processes per client")
    parser.add_argument("--json", type=Path, default=RESULTS / "first_chunk.json")
    return parser


QUICK = ["--calls", "100", "--fresh", "3"]
"""Options of `python -m bench --quick`."""

REFERENCE = "reference + minimal client"
OURS = "ours + generated client"
ANYIO = "ours + generated client, anyio imported first"
"""httpcore imports anyio's asyncio backend on its first request: this row shows the first
call with that import done before the clock starts, as a client's construction could."""


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every contender, print the table, and return the figures."""
    work = build_package("bench.stream_app", "stream_gen")
    pythonpath = python_path(work)
    reference, ours = ["bench.contenders:reference"], ["stream_gen.server:app"]
    contenders = [
        Contender(REFERENCE, reference, first_minimal),
        Contender("reference + generated client", reference, None),
        Contender(OURS, ours, None),
        Contender(
            "sse-starlette + httpx-sse",
            ["bench.contenders:sse_starlette", "--factory"],
            first_httpx_sse,
        ),
        Contender(
            "FastAPI StreamingResponse + aiter_lines",
            ["bench.contenders:fastapi_streaming", "--factory"],
            first_lines,
        ),
    ]
    warm: dict[str, dict[str, float]] = {}
    fresh: dict[str, dict[str, float]] = {}
    for contender in contenders:
        with serving(contender.server, pythonpath) as (_, base_url):
            latencies = asyncio.run(warm_latencies(contender, base_url, options.calls))
            warm[contender.name] = {
                "p50_ms": percentile(latencies, 0.5),
                "p99_ms": percentile(latencies, 0.99),
                "max_ms": max(latencies),
            }
            kinds = {REFERENCE: ["minimal"], OURS: ["generated", "generated, anyio imported"]}
            for kind in kinds.get(contender.name, []):
                firsts = fresh_latencies(kind, base_url, pythonpath, options.fresh)
                name = contender.name if kind != "generated, anyio imported" else ANYIO
                fresh[f"fresh process, {name}"] = {
                    "p50_ms": percentile(firsts, 0.5),
                    "max_ms": max(firsts),
                }

    base = warm[REFERENCE]
    print(f"time to first chunk: {options.calls} calls on a warm client, after 20 not counted")
    print(f"{'contender':<42} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'p50 x':>6} {'p99 x':>6}")
    for name, row in warm.items():
        print(
            f"{name:<42} {row['p50_ms']:>7.3f} {row['p99_ms']:>7.3f} {row['max_ms']:>7.2f} "
            f"{ratio(row['p50_ms'], base['p50_ms']):>6.2f} "
            f"{ratio(row['p99_ms'], base['p99_ms']):>6.2f}"
        )
    gap = warm[OURS]["p50_ms"] - base["p50_ms"]
    verdict = "met" if gap <= 0.2 else "MISSED"
    print(f"target: ours within 0.2 ms of the reference at p50: {gap:+.3f} ms, {verdict}")
    print(f"\nthe first call of a fresh process ({options.fresh} processes each)")
    print(f"{'client':<58} {'p50 ms':>7} {'max ms':>7} {'p50 x':>6}")
    fresh_base = fresh[f"fresh process, {REFERENCE}"]["p50_ms"]
    for name, row in fresh.items():
        print(
            f"{name:<58} {row['p50_ms']:>7.2f} {row['max_ms']:>7.2f} "
            f"{ratio(row['p50_ms'], fresh_base):>6.2f}"
        )
    ours_fresh = fresh[f"fresh process, {OURS}"]["p50_ms"]
    verdict = "met" if ours_fresh < 5 else "MISSED"
    print(f"target: a fresh process's first call under 5 ms (p50): {ours_fresh:.2f} ms, {verdict}")
    return {
        "calls": options.calls,
        "fresh_processes": options.fresh,
        "results": warm,
        "fresh": fresh,
        "targets": {
            "p50_gap_ms": gap,
            "p50_gap_met": gap <= 0.2,
            "fresh_p50_ms": ours_fresh,
            "fresh_met": ours_fresh < 5,
        },
    }


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

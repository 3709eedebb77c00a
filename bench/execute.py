"""Per-execute costs: what the execute log line and the hooks add to a trivial plain call, and
what `on_chunk` hooks add to a stream of small chunks, each beside a reference measured in
the same run.

    python -m bench.execute [--calls 10000] [--connections 8] [--chunks 200000] [--rounds 3]
                            [--json bench/results/execute.json]

Every contender is the generated server of `bench/hooked_app`, with `create_app`'s default
logging set-up, under uvicorn (uvloop, httptools) in a process of its own on 127.0.0.1. They
differ only in which of the app's hooks are registered and in whether the `milkio_gen.execute`
logger writes its line (at WARNING it does not). Each server's stderr, where the lines go,
is a file: its lines are counted at the end, to check that every contender logged what it
claims (a line per call, or none).

Plain calls (`calls/ping`), from this process over raw HTTP/1.1 keep-alive connections, so
that the client adds little to what the server costs:
- latency: `calls` calls one after another on one connection, after 200 not counted;
  p50 and p99;
- throughput: `calls` calls spread over `connections` connections, each one call at a time;
  calls/s, and the CPU the server process spent per call, its threads included.
Rows: (ref) no hooks and the line off; (a) the line on; (b) one sync hook of each kind
(`before_execute`, `on_chunk`, `after_execute`), the line off; (c) both.

Streams (`calls/tokens`): one stream of `chunks` chunks read by the minimal client of
`bench.streams`, which is cheaper per chunk than the server, so that what the server's hooks
cost shows in chunks/s; and the server's CPU per chunk. Rows: no `on_chunk` hook (ref); one
sync `on_chunk` hook; two, one of them `async def` (a coroutine per chunk).

All servers are up for the whole run and the contenders are measured in turn, `rounds`
times, so that a change in the machine's speed falls on all of them alike. Latencies pool the
rounds; calls/s and chunks/s, with their CPU figures, are the best round's. Every loop is
bounded by its count and by a time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvloop

from bench.servers import (
    RESULTS,
    build_package,
    minimal_chunks,
    percentile,
    python_path,
    ratio,
    start,
    stop,
    write_json,
)

HOOKS_VARIABLE = "BENCH_EXECUTE_HOOKS"
"""The names of the bench app's hooks a server keeps registered, comma-separated."""
LOG_VARIABLE = "BENCH_EXECUTE_LOG"
"""`on`: the server writes the execute log line; anything else: its logger is at WARNING."""
STDERR_VARIABLE = "BENCH_EXECUTE_STDERR"
"""The file a server's stderr, where its log lines go, is appended to."""

EXECUTE_LINE = b" - milkio_gen.execute - "
"""What marks an execute log line in `observe.LOG_FORMAT`."""


def serve() -> Any:
    """The uvicorn factory of every contender: the generated server of the bench app, with
    only the hooks `BENCH_EXECUTE_HOOKS` names, the log line as `BENCH_EXECUTE_LOG` says, and
    stderr in the file `BENCH_EXECUTE_STDERR` names."""
    stderr = os.environ.get(STDERR_VARIABLE)
    if stderr:
        file = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(file, 2)
        os.close(file)
    from bench.hooked_app.hooks import hooks

    kept = set(filter(None, os.environ.get(HOOKS_VARIABLE, "").split(",")))
    unknown = kept - {hook.function.__name__ for hook in hooks.registered}
    if unknown:
        raise SystemExit(f"the bench app has no hook named {', '.join(sorted(unknown))}")
    # Before the generated server is imported: its router reads the hooks as they are then.
    hooks.registered[:] = [hook for hook in hooks.registered if hook.function.__name__ in kept]
    server = importlib.import_module("hooked_gen.server")
    if os.environ.get(LOG_VARIABLE) != "on":
        logging.getLogger("milkio_gen.execute").setLevel(logging.WARNING)
    return server.app


@dataclass(frozen=True)
class Server:
    """How a contender's server is set up."""

    hooks: tuple[str, ...]
    log_line: bool


@dataclass(frozen=True)
class Contender:
    name: str
    server: Server


EACH_KIND = ("admit", "count", "settle")
"""One sync hook of each kind: `before_execute`, `on_chunk`, `after_execute`."""

PLAIN = [
    Contender("(ref) no hooks, log line off", Server((), log_line=False)),
    Contender("(a) log line on", Server((), log_line=True)),
    Contender("(b) 3 sync hooks, log line off", Server(EACH_KIND, log_line=False)),
    Contender("(c) 3 sync hooks and log line", Server(EACH_KIND, log_line=True)),
]
STREAMS = [
    Contender("(ref) no on_chunk hook", Server((), log_line=False)),
    Contender("one sync on_chunk hook", Server(("count",), log_line=False)),
    Contender("two on_chunk hooks, one async", Server(("count", "count_async"), log_line=False)),
]

WARM_UP = 200
"""Calls on a connection before its latencies count."""
ROUND_SECONDS = 120.0
"""The most one contender's round may take."""


@dataclass
class Running:
    """A contender's server while the benchmark runs."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    stderr: Path
    calls: int = 0
    """Calls and streams made to it, warm-ups included: its log lines should number as many."""

    def cpu_seconds(self) -> float:
        return sum(psutil.Process(self.process.pid).cpu_times()[:2])


def start_server(server: Server, pythonpath: str, directory: Path, index: int) -> Running:
    stderr = directory / f"server-{index}.log"
    env = {
        HOOKS_VARIABLE: ",".join(server.hooks),
        LOG_VARIABLE: "on" if server.log_line else "off",
        STDERR_VARIABLE: str(stderr),
    }
    try:
        process, base_url = start(["bench.execute:serve", "--factory"], pythonpath, env)
    except SystemExit:
        if stderr.exists():
            print(stderr.read_text()[-3000:])
        raise
    return Running(process, base_url, int(base_url.rsplit(":", 1)[1]), stderr)


# Plain calls ------------------------------------------------------------------------------

_PING_BODY = b'{"n":1}'
_PING = (
    b"POST /calls/ping HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_PING_BODY)).encode() + b"\r\n\r\n" + _PING_BODY
)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


class Connection:
    """One keep-alive HTTP/1.1 connection making `calls/ping` calls, one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def call(self) -> None:
        self.writer.write(_PING)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        if not head.startswith(b"HTTP/1.1 200") or length is None:
            raise SystemExit(f"calls/ping answered {head!r}")
        body = await self.reader.readexactly(int(length[1]))
        if b'"success":true' not in body:
            raise SystemExit(f"calls/ping failed: {body!r}")

    async def calls(self, count: int) -> None:
        for _ in range(count):
            await self.call()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


@dataclass(frozen=True)
class PlainRound:
    latencies_ms: list[float]
    calls_per_s: float
    server_us: float


async def plain_round(server: Running, calls: int, connections: int) -> PlainRound:
    """One round of a contender: latencies on one connection, then calls/s over all."""
    async with asyncio.timeout(ROUND_SECONDS):
        opened = [await Connection.open(server.port) for _ in range(connections)]
        try:
            first = opened[0]
            await first.calls(WARM_UP)
            latencies: list[float] = []
            for _ in range(calls):
                started = time.perf_counter()
                await first.call()
                latencies.append((time.perf_counter() - started) * 1000)
            for connection in opened:
                await connection.call()  # every connection warm
            share, rest = divmod(calls, connections)
            shares = [share + (index < rest) for index in range(connections)]
            cpu_before = server.cpu_seconds()
            started = time.perf_counter()
            await asyncio.gather(*(c.calls(n) for c, n in zip(opened, shares, strict=True)))
            elapsed = time.perf_counter() - started
            cpu = server.cpu_seconds() - cpu_before
        finally:
            for connection in opened:
                await connection.close()
    server.calls += WARM_UP + 2 * calls + connections
    return PlainRound(latencies, calls / elapsed, cpu / calls * 1e6)


@dataclass(frozen=True)
class PlainFigures:
    p50_ms: float
    p99_ms: float
    calls_per_s: float
    server_us: float
    """The server process's CPU per call (user and system, every thread)."""


def plain_figures(rounds: Sequence[PlainRound]) -> PlainFigures:
    latencies = [latency for one in rounds for latency in one.latencies_ms]
    best = max(rounds, key=lambda one: one.calls_per_s)
    return PlainFigures(
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        calls_per_s=best.calls_per_s,
        server_us=best.server_us,
    )


# Streams ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamFigures:
    chunks_per_s: float
    server_us: float
    """The server process's CPU per chunk."""
    client_us: float
    """This process's CPU per chunk."""


async def read_stream(base_url: str, chunks: int) -> int:
    count = 0
    async with (
        asyncio.timeout(ROUND_SECONDS),
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream(
            "POST", "/calls/tokens", json={"n": chunks}, headers={"accept": "text/event-stream"}
        ) as response,
    ):
        async for _ in minimal_chunks(response):
            count += 1
    return count


def stream_round(server: Running, chunks: int) -> StreamFigures:
    """One round of a contender: a stream to warm up both sides, then the one measured."""
    uvloop.run(read_stream(server.base_url, min(chunks, 10_000)))
    cpu_before = server.cpu_seconds()
    client_before = time.process_time()
    started = time.perf_counter()
    got = uvloop.run(read_stream(server.base_url, chunks))
    elapsed = time.perf_counter() - started
    server.calls += 2
    if got != chunks:
        raise SystemExit(f"calls/tokens: {got} chunks of {chunks}")
    return StreamFigures(
        chunks_per_s=chunks / elapsed,
        server_us=(server.cpu_seconds() - cpu_before) / chunks * 1e6,
        client_us=(time.process_time() - client_before) / chunks * 1e6,
    )


# The run ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="what the log line and the hooks cost")
    parser.add_argument("--calls", type=int, default=10_000, help="plain calls per phase")
    parser.add_argument("--connections", type=int, default=8, help="for calls/s")
    parser.add_argument("--chunks", type=int, default=200_000, help="chunks of the stream")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every contender")
    parser.add_argument("--json", type=Path, default=RESULTS / "execute.json")
    return parser


QUICK = ["--calls", "300", "--connections", "4", "--chunks", "20000", "--rounds", "1"]
"""Options of `python -m bench --quick`."""


def log_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(EXECUTE_LINE in line for line in lines)


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every contender, print the tables, and return the figures."""
    pythonpath = python_path(build_package("bench.hooked_app", "hooked_gen"))
    plain_rounds: dict[str, list[PlainRound]] = {c.name: [] for c in PLAIN}
    stream_rounds: dict[str, list[StreamFigures]] = {c.name: [] for c in STREAMS}
    with tempfile.TemporaryDirectory(prefix="milkio-execute-") as directory:
        servers: dict[Server, Running] = {}
        try:
            for index, server in enumerate(dict.fromkeys(c.server for c in PLAIN + STREAMS)):
                servers[server] = start_server(server, pythonpath, Path(directory), index)
            for _ in range(options.rounds):
                for contender in PLAIN:
                    running = servers[contender.server]
                    one = uvloop.run(plain_round(running, options.calls, options.connections))
                    plain_rounds[contender.name].append(one)
                for contender in STREAMS:
                    running = servers[contender.server]
                    stream_rounds[contender.name].append(stream_round(running, options.chunks))
        finally:
            for running in servers.values():
                stop(running.process)  # its queue of log lines written out as it exits
        lines = {server: log_lines(running.stderr) for server, running in servers.items()}

    for server, running in servers.items():
        expected = running.calls if server.log_line else 0
        if lines[server] != expected:
            raise SystemExit(f"{server}: {lines[server]} log lines for {running.calls} calls")
    plain = {name: plain_figures(rounds) for name, rounds in plain_rounds.items()}
    streams = {
        name: max(rounds, key=lambda one: one.chunks_per_s)
        for name, rounds in stream_rounds.items()
    }
    plain_rows = plain_table(options, plain)
    stream_rows = stream_table(options, streams)
    return {
        "calls": options.calls,
        "connections": options.connections,
        "chunks": options.chunks,
        "rounds": options.rounds,
        "results": {"plain": plain_rows, "streams": stream_rows},
        "log_lines": {c.name: lines[c.server] for c in PLAIN},
    }


def plain_table(
    options: argparse.Namespace, figures: dict[str, PlainFigures]
) -> dict[str, dict[str, float]]:
    """Print the plain calls' table; their figures with the ratios to the reference."""
    base = figures[PLAIN[0].name]
    print(
        f"plain calls (calls/ping), {options.rounds} round(s): latency of {options.calls:,} "
        f"calls one after another on one connection; calls/s of {options.calls:,} calls over "
        f"{options.connections} connections; server CPU per call"
    )
    print(f"{'contender':<34} {'p50 ms':>7} {'p99 ms':>7} {'calls/s':>8} {'server us':>9} "
          f"{'+us':>6} {'p50 x':>6} {'p99 x':>6} {'calls/s x':>9}")  # fmt: skip
    rows: dict[str, dict[str, float]] = {}
    for name, row in figures.items():
        extra = row.server_us - base.server_us
        rows[name] = {
            **asdict(row),
            "server_us_over_ref": extra,
            "p50_x": ratio(row.p50_ms, base.p50_ms),
            "p99_x": ratio(row.p99_ms, base.p99_ms),
            "calls_per_s_x": ratio(row.calls_per_s, base.calls_per_s),
            "server_us_x": ratio(row.server_us, base.server_us),
        }
        print(
            f"{name:<34} {row.p50_ms:>7.3f} {row.p99_ms:>7.3f} {row.calls_per_s:>8,.0f} "
            f"{row.server_us:>9.1f} {extra:>+6.1f} {rows[name]['p50_x']:>6.2f} "
            f"{rows[name]['p99_x']:>6.2f} {rows[name]['calls_per_s_x']:>9.2f}"
        )
    return rows


def stream_table(
    options: argparse.Namespace, figures: dict[str, StreamFigures]
) -> dict[str, dict[str, float]]:
    """Print the streams' table; their figures with the ratios to the reference."""
    base = figures[STREAMS[0].name]
    print(
        f"\none stream of {options.chunks:,} chunks (calls/tokens), minimal client; best of "
        f"{options.rounds}"
    )
    print(f"{'contender':<34} {'chunks/s':>9} {'server us':>9} {'+ns':>5} {'client us':>9} "
          f"{'x ref':>6}")  # fmt: skip
    rows: dict[str, dict[str, float]] = {}
    for name, row in figures.items():
        extra_ns = (row.server_us - base.server_us) * 1000
        rows[name] = {
            **asdict(row),
            "server_ns_over_ref": extra_ns,
            "chunks_per_s_x": ratio(row.chunks_per_s, base.chunks_per_s),
        }
        print(
            f"{name:<34} {row.chunks_per_s:>9,.0f} {row.server_us:>9.2f} {extra_ns:>+5.0f} "
            f"{row.client_us:>9.2f} {rows[name]['chunks_per_s_x']:>6.2f}"
        )
    return rows


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

"""Per-execute costs: what the execute log line and the hooks add to a trivial plain call, and
what `on_chunk` hooks add to a stream of small chunks, each beside a reference measured in
the same run.

    python -m bench.execute [--calls 1000] [--connections 8] [--chunks 100000] [--rounds 20]
                            [--json bench/results/execute.json]

Every contender is the generated server of `bench/hooked_app`, with `create_app`'s default
logging set-up, under uvicorn (uvloop, httptools) in a process of its own on 127.0.0.1. They
differ only in which of the app's hooks are registered and in whether the `milkio_gen.execute`
logger writes its line (at WARNING it does not). Each server's stderr, where the lines go,
is a file: its lines are counted at the end, to check that every contender logged what it
claims (a line per call, or none).

Plain calls (`calls/ping`), from this process over raw HTTP/1.1 keep-alive connections, so
that the client adds little to what the server costs; `connections` a contender, opened and
warmed (200 calls each) before the first round. A round of a contender:
- latency: `calls` calls one after another on its first connection, each timed;
- throughput: `calls` calls spread over its connections, each one call at a time, timed
  together, with the CPU the server process spent (its threads included).
Rows: (ref) no hooks and the line off; (a) the line on; (b) one sync hook of each kind
(`before_execute`, `on_chunk`, `after_execute`; a plain call runs no `on_chunk` hook), the
line off; (c) both.

Streams (`calls/tokens`): a round is one stream of `chunks` chunks, read by the minimal client
of `bench.streams`, which spends less per chunk than the server, so that what the server's
hooks cost shows in chunks/s; and the server's CPU per chunk. Rows: no `on_chunk` hook (ref);
one sync `on_chunk` hook; two, one of them `async def` (a coroutine per chunk).

All servers are up for the whole run and the contenders take turns, round after round, each
round starting with the next one: the machine's speed drifts over seconds, and short turns
spread the drift over all contenders alike. Each figure is over all rounds: latencies pooled,
calls/s and chunks/s the total over the total time, CPU the total over the total calls or
chunks. Every loop is bounded by its count and by a time limit.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvloop
from milkio_gen.runtime.server.observe import LOG_LEVEL_VARIABLE

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
"""Calls on each connection before the first round."""
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
        # `create_app`'s logging set-up at its default level: `start` asks for quiet servers.
        LOG_LEVEL_VARIABLE: "info",
        HOOKS_VARIABLE: ",".join(server.hooks),
        LOG_VARIABLE: "on" if server.log_line else "off",
        STDERR_VARIABLE: str(stderr),
    }
    try:
        # Its connections idle while the other contenders take their turns.
        target = ["bench.execute:serve", "--factory", "--timeout-keep-alive", "600"]
        process, base_url = start(target, pythonpath, env)
    except SystemExit:
        if stderr.exists():
            print(stderr.read_text()[-3000:])
        raise
    return Running(process, base_url, int(base_url.rsplit(":", 1)[1]), stderr)


def start_servers(
    contenders: Sequence[Contender], pythonpath: str, directory: Path
) -> dict[Contender, Running]:
    """A server for each contender, started side by side; if one fails, the others are
    stopped and its error raised."""
    with ThreadPoolExecutor(max_workers=len(contenders)) as pool:
        starting = {
            contender: pool.submit(start_server, contender.server, pythonpath, directory, index)
            for index, contender in enumerate(contenders)
        }
    failures = [error for future in starting.values() if (error := future.exception())]
    if failures:
        for future in starting.values():
            if not future.exception():
                stop(future.result().process)
        raise failures[0]
    return {contender: future.result() for contender, future in starting.items()}


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


@dataclass
class PlainTotals:
    """What a plain contender's rounds add up to."""

    latencies_ms: list[float] = field(default_factory=list[float])
    calls: int = 0
    """Calls of the throughput phases."""
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


async def plain_round(
    server: Running, opened: Sequence[Connection], calls: int, totals: PlainTotals
) -> None:
    """One round of a plain contender: `calls` calls one after another on the first
    connection, timed each; then `calls` calls over all of them, timed together."""
    async with asyncio.timeout(ROUND_SECONDS):
        first = opened[0]
        for _ in range(calls):
            started = time.perf_counter()
            await first.call()
            totals.latencies_ms.append((time.perf_counter() - started) * 1000)
        share, rest = divmod(calls, len(opened))
        shares = [share + (index < rest) for index in range(len(opened))]
        server_before = server.cpu_seconds()
        client_before = time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(c.calls(n) for c, n in zip(opened, shares, strict=True)))
        totals.seconds += time.perf_counter() - started
        totals.client_cpu += time.process_time() - client_before
        totals.server_cpu += server.cpu_seconds() - server_before
    totals.calls += calls
    server.calls += 2 * calls


@dataclass(frozen=True)
class PlainFigures:
    p50_ms: float
    p99_ms: float
    calls_per_s: float
    server_us: float
    """The server process's CPU per call (user and system, every thread)."""
    client_us: float
    """This process's CPU per call."""


def plain_figures(totals: PlainTotals) -> PlainFigures:
    return PlainFigures(
        p50_ms=percentile(totals.latencies_ms, 0.5),
        p99_ms=percentile(totals.latencies_ms, 0.99),
        calls_per_s=totals.calls / totals.seconds,
        server_us=totals.server_cpu / totals.calls * 1e6,
        client_us=totals.client_cpu / totals.calls * 1e6,
    )


# Streams ----------------------------------------------------------------------------------


@dataclass
class StreamTotals:
    """What a stream contender's rounds add up to."""

    chunks: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


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


async def stream_round(server: Running, chunks: int, totals: StreamTotals) -> None:
    """One round of a stream contender: one stream of `chunks` chunks, timed."""
    server_before = server.cpu_seconds()
    client_before = time.process_time()
    started = time.perf_counter()
    got = await read_stream(server.base_url, chunks)
    totals.seconds += time.perf_counter() - started
    totals.client_cpu += time.process_time() - client_before
    totals.server_cpu += server.cpu_seconds() - server_before
    server.calls += 1
    if got != chunks:
        raise SystemExit(f"calls/tokens: {got} chunks of {chunks}")
    totals.chunks += chunks


@dataclass(frozen=True)
class StreamFigures:
    chunks_per_s: float
    server_us: float
    """The server process's CPU per chunk."""
    client_us: float
    """This process's CPU per chunk."""


def stream_figures(totals: StreamTotals) -> StreamFigures:
    return StreamFigures(
        chunks_per_s=totals.chunks / totals.seconds,
        server_us=totals.server_cpu / totals.chunks * 1e6,
        client_us=totals.client_cpu / totals.chunks * 1e6,
    )


# The run ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="what the log line and the hooks cost")
    parser.add_argument("--calls", type=int, default=1_000, help="plain calls per phase a round")
    parser.add_argument("--connections", type=int, default=8, help="for calls/s")
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks of a stream")
    parser.add_argument("--rounds", type=int, default=20, help="turns of every contender")
    parser.add_argument("--json", type=Path, default=RESULTS / "execute.json")
    return parser


QUICK = ["--calls", "200", "--connections", "4", "--chunks", "10000", "--rounds", "2"]
"""Options of `python -m bench --quick`."""


def log_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as lines:
        return sum(EXECUTE_LINE in line for line in lines)


async def measure(
    servers: dict[Contender, Running], options: argparse.Namespace
) -> tuple[dict[str, PlainTotals], dict[str, StreamTotals]]:
    """Every contender's rounds, in turn; each round starts with the next contender, so that
    none is always first."""
    plain = {contender.name: PlainTotals() for contender in PLAIN}
    streams = {contender.name: StreamTotals() for contender in STREAMS}
    opened: dict[Contender, list[Connection]] = {}
    try:
        for contender in PLAIN:
            server = servers[contender]
            connections = [await Connection.open(server.port) for _ in range(options.connections)]
            opened[contender] = connections
            async with asyncio.timeout(ROUND_SECONDS):
                for connection in connections:
                    await connection.calls(WARM_UP)
            server.calls += WARM_UP * len(connections)
        for contender in STREAMS:  # a stream to warm up both sides
            await read_stream(servers[contender].base_url, min(options.chunks, 10_000))
            servers[contender].calls += 1
        for turn in range(options.rounds):
            for contender in rotated(PLAIN, turn):
                server, totals = servers[contender], plain[contender.name]
                await plain_round(server, opened[contender], options.calls, totals)
            for contender in rotated(STREAMS, turn):
                await stream_round(servers[contender], options.chunks, streams[contender.name])
    finally:
        for connections in opened.values():
            for connection in connections:
                await connection.close()
    return plain, streams


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every contender, print the tables, and return the figures."""
    pythonpath = python_path(build_package("bench.hooked_app", "hooked_gen"))
    with tempfile.TemporaryDirectory(prefix="milkio-execute-") as directory:
        # A server of its own for each contender: what one served (long streams) does not
        # weigh on another's figures.
        servers: dict[Contender, Running] = {}
        try:
            servers.update(start_servers(PLAIN + STREAMS, pythonpath, Path(directory)))
            plain_totals, stream_totals = uvloop.run(measure(servers, options))
        finally:
            for running in servers.values():
                stop(running.process)  # its queue of log lines written out as it exits
        lines = {contender: log_lines(running.stderr) for contender, running in servers.items()}

    for contender, running in servers.items():
        expected = running.calls if contender.server.log_line else 0
        if lines[contender] != expected:
            raise SystemExit(
                f"{contender.name}: {lines[contender]} log lines for {running.calls} calls"
            )
    plain = {name: plain_figures(totals) for name, totals in plain_totals.items()}
    streams = {name: stream_figures(totals) for name, totals in stream_totals.items()}
    return {
        "calls": options.calls,
        "connections": options.connections,
        "chunks": options.chunks,
        "rounds": options.rounds,
        "results": {
            "plain": plain_table(options, plain),
            "streams": stream_table(options, streams),
        },
        "log_lines": {contender.name: lines[contender] for contender in PLAIN},
    }


def rotated(contenders: list[Contender], turn: int) -> list[Contender]:
    start = turn % len(contenders)
    return contenders[start:] + contenders[:start]


def plain_table(
    options: argparse.Namespace, figures: dict[str, PlainFigures]
) -> dict[str, dict[str, float]]:
    """Print the plain calls' table; their figures with the ratios to the reference."""
    base = figures[PLAIN[0].name]
    print(
        f"plain calls (calls/ping), {options.rounds} rounds each of {options.calls:,} calls one "
        f"after another on one connection (latency) and {options.calls:,} over "
        f"{options.connections} connections (calls/s, server CPU per call)"
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
        f"\nstreams (calls/tokens), {options.rounds} rounds each of one stream of "
        f"{options.chunks:,} chunks, read by the minimal client"
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

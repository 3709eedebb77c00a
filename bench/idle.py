"""Idle open streams: what each costs the server in memory, and how fast one message fans out
to all of them, for ours and a raw ASGI reference.

    python -m bench.idle [--streams 1000,5000] [--messages 5] [--json bench/results/idle.json]

For each count N and contender, a fresh server (uvicorn, uvloop, httptools) and N minimal
readers (raw asyncio sockets, one line split per event, in this process, so that 5,000 fit):

- memory per stream: the server's RSS once all N streams sent their handshake (and 0.5 s
  later), minus its RSS before they were opened, over N; and the same once each stream has
  delivered one message (its subscription is live);
- fan-out latency: `messages` messages published 200 ms apart, each stamped with the wall
  clock by the server when published; each reader notes its arrival; p50/p99/max over
  every delivery.

Ours is `bench/fanout_app` (`ticks/subscribe` yields what `context.subscribe` gets from the
in-memory channels backend; `ticks/publish` publishes); the reference is
`bench.contenders:idle_reference`, one request task per stream waiting on one shared
`asyncio.Event`. The soft RLIMIT_NOFILE of this process, and so of the servers it starts, is
raised to the hard limit. Targets: memory per idle stream <= 1.5x the reference; fan-out p99
<= 1.1x the reference at 5,000 streams.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import psutil
import uvloop

from bench.servers import (
    RESULTS,
    build_package,
    percentile,
    python_path,
    raise_open_files_limit,
    ratio,
    serving,
    write_json,
)
from bench.ticks import TickReader

BATCH = 250
"""Streams opened at once: more would overflow the server's listen backlog."""
REFERENCE = "raw ASGI reference"
OURS = "ours, in-memory channel"


async def wait_all(events: Iterable[asyncio.Event], seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            for event in events:
                await event.wait()
    except TimeoutError:
        raise SystemExit(f"{what} within {seconds} s") from None


async def measure(
    base_url: str, pid: int, streams: int, messages: int, interval: float
) -> dict[str, float]:
    port = int(base_url.rsplit(":", 1)[1])
    server = psutil.Process(pid)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            marker = -1

            async def make_live(readers: list[TickReader]) -> None:
                """Publish markers until every reader got one (30 s at most)."""
                nonlocal marker
                deadline = time.monotonic() + 30
                while not all(reader.live.is_set() for reader in readers):
                    if time.monotonic() > deadline:
                        raise SystemExit("the streams did not all become live within 30 s")
                    marker -= 1
                    published = await client.post("/ticks/publish", json={"number": marker})
                    published.raise_for_status()
                    await asyncio.sleep(0.1)

            # Warm up: one stream opened, fed and closed, so lazy imports are not counted.
            warm = TickReader()
            warm_task = asyncio.create_task(warm.run(port))
            await wait_all([warm.opened], 10, "the warm-up stream did not open")
            await make_live([warm])
            warm_task.cancel()
            await asyncio.gather(warm_task, return_exceptions=True)
            await asyncio.sleep(0.5)
            before = server.memory_info().rss

            readers: list[TickReader] = []
            for start in range(0, streams, BATCH):
                batch = [TickReader() for _ in range(min(BATCH, streams - start))]
                tasks += [asyncio.create_task(reader.run(port)) for reader in batch]
                readers += batch
                await wait_all((r.opened for r in batch), 30, "streams did not open")
            await asyncio.sleep(0.5)
            opened = server.memory_info().rss
            await make_live(readers)
            await asyncio.sleep(0.5)
            live = server.memory_info().rss

            for number in range(messages):
                (await client.post("/ticks/publish", json={"number": number})).raise_for_status()
                await asyncio.sleep(interval)
            last = messages - 1
            deadline = time.monotonic() + 10
            # Polls the readers, bounded in time.
            while time.monotonic() < deadline and not all(last in r.arrivals for r in readers):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await client.post("/ticks/close")  # ends the reference's streams; a 404 for ours
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [
        (reader.arrivals[number] - reader.sent[number]) / 1e6
        for reader in readers
        for number in range(messages)
        if number in reader.arrivals
    ]
    return {
        "kib_per_stream_open": (opened - before) / streams / 1024,
        "kib_per_stream_live": (live - before) / streams / 1024,
        "server_rss_mib": live / 2**20,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=float("nan")),
        "lost": float(streams * messages - len(latencies)),
    }


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="idle streams: memory and fan-out, side by side")
    parser.add_argument("--streams", default="1000,5000", help="stream counts, comma-separated")
    parser.add_argument("--messages", type=int, default=5, help="messages fanned out per count")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between messages")
    parser.add_argument("--json", type=Path, default=RESULTS / "idle.json")
    return parser


QUICK = ["--streams", "1000", "--messages", "3"]
"""Options of `python -m bench --quick`."""


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure both contenders at each count, print the table, and return the figures."""
    counts = [int(count) for count in str(options.streams).split(",")]
    limit = raise_open_files_limit()
    if max(counts) + 100 > limit:
        raise SystemExit(f"{max(counts)} streams need more open files than the limit {limit}")
    work = build_package("bench.fanout_app", "fanout_gen")
    pythonpath = python_path(work)
    contenders = {
        REFERENCE: ["bench.contenders:idle_reference"],
        OURS: ["fanout_gen.server:app"],
    }
    env = {"MILKIO_CHANNELS_BACKEND": "memory"}
    results: dict[str, dict[str, dict[str, float]]] = {}
    for count in counts:
        rows = results[str(count)] = {}
        for name, target in contenders.items():
            with (
                serving(target, pythonpath, env) as (process, base_url),
                asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
            ):
                rows[name] = runner.run(
                    measure(base_url, process.pid, count, options.messages, options.interval)
                )

    print(
        f"idle streams; {options.messages} messages {options.interval * 1000:.0f} ms apart; "
        "KiB per stream = server RSS growth / streams"
    )
    print(
        f"{'streams':>7} {'contender':<26} {'KiB open':>8} {'KiB live':>8} {'RSS MiB':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'lost':>5} {'mem x':>6} {'p99 x':>6}"
    )
    for count, rows in results.items():
        base = rows[REFERENCE]
        for name, row in rows.items():
            print(
                f"{count:>7} {name:<26} {row['kib_per_stream_open']:>8.1f} "
                f"{row['kib_per_stream_live']:>8.1f} {row['server_rss_mib']:>8.1f} "
                f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['max_ms']:>7.2f} "
                f"{row['lost']:>5.0f} "
                f"{ratio(row['kib_per_stream_open'], base['kib_per_stream_open']):>6.2f} "
                f"{ratio(row['p99_ms'], base['p99_ms']):>6.2f}"
            )
    largest = results[str(max(counts))]
    memory_x = ratio(
        largest[OURS]["kib_per_stream_open"], largest[REFERENCE]["kib_per_stream_open"]
    )
    p99_x = ratio(largest[OURS]["p99_ms"], largest[REFERENCE]["p99_ms"])
    print(
        f"targets at {max(counts)}: memory per idle stream <= 1.5x the reference: {memory_x:.2f}x, "
        f"{'met' if memory_x <= 1.5 else 'MISSED'}; fan-out p99 <= 1.1x: {p99_x:.2f}x, "
        f"{'met' if p99_x <= 1.1 else 'MISSED'}"
    )
    return {
        "streams": counts,
        "messages": options.messages,
        "interval_s": options.interval,
        "results": results,
        "targets": {"memory_x": memory_x, "p99_x": p99_x},
    }


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

"""Fan-out of channel messages to 1,000 subscribers: in memory on one instance, and on Redis
(pub/sub, streams) with the subscribers spread over two instances.

    python -m bench.fanout [--subscribers 1000] [--messages 20] [--burst 100]

Every message carries the wall-clock time it was published; minimal readers (raw sockets,
one line split per event) note when each delivery arrives. Printed per backend: delivery
latency p50/p99/max over `messages` messages sent 50 ms apart, and deliveries per second for
a burst of `burst` messages published back to back by one call. Memory is the reference of
the ratios. Every process runs on 127.0.0.1; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from milkio_gen.build import build
from milkio_gen.config import load_config
from milkio_gen.testing import RedisServer, free_port

from bench.ticks import TickReader

ROOT = Path(__file__).resolve().parent.parent


def start_instance(package: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    code = (
        "from milkio_gen.serving import serve; "
        f"serve('fanout_gen.server:app', host='127.0.0.1', port={port}, log_level='warning')"
    )
    path = os.pathsep.join([str(package), str(ROOT)])
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        # Uncapped: the subscribers all come from one address.
        env={
            **os.environ,
            "MILKIO_SERVER_MAX_STREAMS_PER_CLIENT": "null",
            "PYTHONPATH": path,
            **env,
        },
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/ticks/publish", json={"number": -1}, timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("a server instance did not start")


async def measure(
    ports: list[int], subscribers: int, messages: int, burst: int
) -> dict[str, float]:
    readers = [TickReader() for _ in range(subscribers)]
    tasks = [
        asyncio.create_task(reader.run(ports[index % len(ports)]))
        for index, reader in enumerate(readers)
    ]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=10) as client:
        marker = -1000
        deadline = time.monotonic() + 30
        while not all(reader.live.is_set() for reader in readers):  # every subscription live
            if time.monotonic() > deadline:
                raise SystemExit("the subscriptions did not all become live")
            marker -= 1
            await client.post("/ticks/publish", json={"number": marker})
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)

        for number in range(messages):
            await client.post("/ticks/publish", json={"number": number})
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        latencies = [
            (reader.arrivals[number] - reader.sent[number]) / 1e6
            for reader in readers
            for number in range(messages)
            if number in reader.arrivals
        ]
        lost = subscribers * messages - len(latencies)

        first = 1_000_000
        started = time.time_ns()
        await client.post("/ticks/publish", json={"number": first, "count": burst})
        deadline = time.monotonic() + 30
        last = first + burst - 1
        # Polls 1,000 readers, bounded in time.
        while time.monotonic() < deadline and not all(last in r.arrivals for r in readers):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        ended = max(max(r.arrivals.get(n, 0) for n in range(first, first + burst)) for r in readers)
        delivered = sum(1 for r in readers for n in range(first, first + burst) if n in r.arrivals)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1],
        "max_ms": ordered[-1],
        "lost": float(lost),
        "deliveries_per_s": delivered / ((ended - started) / 1e9),
        "burst_lost": float(subscribers * burst - delivered),
    }


def run_backend(
    package: Path, backend: str, redis: RedisServer | None, options: argparse.Namespace
) -> dict[str, float]:
    instances = 1 if backend == "memory" else 2
    env = {"MILKIO_CHANNELS_BACKEND": backend, "MILKIO_CHANNELS_BACKLOG": "100000"}
    if redis is not None:
        env["MILKIO_CHANNELS_URL"] = redis.url
    ports = [free_port() for _ in range(instances)]
    processes = [start_instance(package, port, env) for port in ports]
    try:
        return asyncio.run(measure(ports, options.subscribers, options.messages, options.burst))
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description="channel fan-out: memory and Redis")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--json", type=Path, default=Path("bench/results/fanout.json"))
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="milkio-fanout-"))
    build(
        load_config(
            ROOT, app="bench.fanout_app", schema=work / "manifest.json", out=work / "fanout_gen"
        )
    )
    redis = RedisServer()
    try:
        results = {
            "memory, 1 instance": run_backend(work, "memory", None, options),
            "redis pub/sub, 2 instances": run_backend(work, "redis", redis, options),
            "redis streams, 2 instances": run_backend(work, "redis-streams", redis, options),
        }
    finally:
        redis.stop()
    reference = results["memory, 1 instance"]
    print(
        f"{options.subscribers} subscribers; {options.messages} messages 50 ms apart; "
        f"a burst of {options.burst}"
    )
    print(
        f"{'backend':<28} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'deliveries/s':>13} "
        f"{'p99 x':>6} {'rate x':>6} {'lost':>5}"
    )
    for name, row in results.items():
        print(
            f"{name:<28} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['max_ms']:>7.1f} "
            f"{row['deliveries_per_s']:>13,.0f} {row['p99_ms'] / reference['p99_ms']:>6.2f} "
            f"{row['deliveries_per_s'] / reference['deliveries_per_s']:>6.2f} "
            f"{row['lost'] + row['burst_lost']:>5.0f}"
        )
    options.json.parent.mkdir(parents=True, exist_ok=True)
    figures = {
        "subscribers": options.subscribers,
        "messages": options.messages,
        "burst": options.burst,
        "results": results,
    }
    options.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Cancel latency: from the client closing a stream to the action's `finally` running.

    python -m bench.cancel [--runs 100] [--json bench/results/cancel.json]

The generated async client reads one chunk of a stream, notes `time.monotonic()` and stops
it, by `await call.aclose()` or by leaving its `async for` with `break`. The action's
`finally` (`bench/stream_app/cancel.py`) appends its own `time.monotonic()` to a file named
by `BENCH_CANCEL_LOG`; CLOCK_MONOTONIC is system-wide on Linux, so the two compare across
processes. Actions: one suspended in `await asyncio.sleep(3600)`, one that never awaits
(it yields chunks as fast as it can; its only suspension points are its `yield`s). The
reference is raw ASGI (`bench.contenders:cancel_reference`) noting when uvicorn tells it
`http.disconnect`: the floor of any server under uvicorn. Servers run under uvicorn
(uvloop, httptools) in a process of their own; p50/p99/max over `runs` runs each.

Target: p99 <= 30 ms for both actions.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.servers import (
    RESULTS,
    build_package,
    client_module,
    percentile,
    python_path,
    ratio,
    serving,
    write_json,
)
from bench.stream_app.cancel import LOG_VARIABLE

REFERENCE = "raw ASGI reference, http.disconnect, aclose()"
ROWS: dict[str, tuple[str, str, str]] = {
    REFERENCE: ("reference", "cancel/sleeping", "aclose"),
    "ours, waiting in an await, aclose()": ("ours", "cancel/sleeping", "aclose"),
    "ours, waiting in an await, break": ("ours", "cancel/sleeping", "break"),
    "ours, never awaiting, aclose()": ("ours", "cancel/busy", "aclose"),
    "ours, never awaiting, break": ("ours", "cancel/busy", "break"),
}
"""Each row: its server, the API and how the client stops the stream."""
SERVERS = {"reference": ["bench.contenders:cancel_reference"], "ours": ["stream_gen.server:app"]}


class StopLog:
    """The `<run> <monotonic>` lines the server's `finally`s append, read as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.stopped: dict[int, float] = {}

    async def wait_for(self, run: int, seconds: float) -> float | None:
        """When run `run` was stopped, polling every half millisecond; None after `seconds`."""
        deadline = time.monotonic() + seconds
        while run not in self.stopped and time.monotonic() < deadline:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                text = log.read()
            complete = text[: text.rfind(b"\n") + 1]
            self.offset += len(complete)
            for line in complete.decode().splitlines():
                number, stopped = line.split()
                self.stopped[int(number)] = float(stopped)
            if run not in self.stopped:
                await asyncio.sleep(0.0005)
        return self.stopped.get(run)


async def latencies(
    base_url: str, log: StopLog, path: str, how: str, runs: int, first: int
) -> list[float]:
    """Milliseconds from the client's stop to the action's `finally`, for `runs` runs after
    5 not counted; a run whose `finally` never came within 5 s is left out. Runs are
    numbered from `first`, so that each row's lines in the log are its own."""
    package = client_module("bench.stream_app", "stream_gen")
    found: list[float] = []
    async with package.AsyncClient(base_url=base_url, timeout=10) as client:
        for index in range(-5, runs):
            run = first + 5 + index
            closed = 0.0
            call = client.execute_stream(path, params={"run": run})
            async with asyncio.timeout(10):
                async for _ in call.stream:
                    closed = time.monotonic()
                    if how == "aclose":
                        await call.aclose()
                    break
            if not closed:
                raise SystemExit(f"{path}: no chunk ({call.get_result()})")
            stopped = await log.wait_for(run, 5)
            if stopped is not None and index >= 0:
                found.append((stopped - closed) * 1000)
    return found


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="cancel latency: client stop to `finally`")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per row")
    parser.add_argument("--json", type=Path, default=RESULTS / "cancel.json")
    return parser


QUICK = ["--runs", "30"]
"""Options of `python -m bench --quick`."""


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every row, print the table, and return the figures."""
    work = build_package("bench.stream_app", "stream_gen")
    pythonpath = python_path(work)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="milkio-cancel-") as directory:
        for server in SERVERS:
            path = Path(directory) / f"{server}.log"
            path.touch()
            env = {LOG_VARIABLE: str(path)}
            log = StopLog(path)
            with serving(SERVERS[server], pythonpath, env) as (_, base_url):
                for number, (name, (row_server, api, how)) in enumerate(ROWS.items()):
                    if row_server != server:
                        continue
                    first = number * (options.runs + 5)
                    found = asyncio.run(latencies(base_url, log, api, how, options.runs, first))
                    results[name] = {
                        "p50_ms": percentile(found, 0.5),
                        "p99_ms": percentile(found, 0.99),
                        "max_ms": max(found, default=float("nan")),
                        "lost": float(options.runs - len(found)),
                    }

    base = results[REFERENCE]
    print(f"cancel latency, client stop -> the action's finally; {options.runs} runs each")
    print(
        f"{'stream, stopped by':<46} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'lost':>5} "
        f"{'p50 x':>6} {'p99 x':>6}"
    )
    for name, row in results.items():
        print(
            f"{name:<46} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['max_ms']:>7.2f} "
            f"{row['lost']:>5.0f} {ratio(row['p50_ms'], base['p50_ms']):>6.2f} "
            f"{ratio(row['p99_ms'], base['p99_ms']):>6.2f}"
        )
    worst = max(row["p99_ms"] for name, row in results.items() if name != REFERENCE)
    lost = sum(row["lost"] for row in results.values())
    met = worst <= 30 and lost == 0
    verdict = "met" if met else "MISSED"
    print(f"target: p99 <= 30 ms for both actions: worst {worst:.2f} ms, {verdict}")
    targets = {"worst_p99_ms": worst, "met": met}
    return {"runs": options.runs, "results": results, "targets": targets}


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

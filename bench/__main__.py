"""Every benchmark of the performance issue in one run, one after another (never in
parallel: they share the machine's cores):

    python -m bench [--quick] [--json bench/results/all.json]

(a) stream throughput `bench.streams`, (b) time to first chunk `bench.first_chunk`, (c) idle
streams `bench.idle`, (d) cancel latency `bench.cancel`, (e) build `bench.build`, (f) the loop
of `milkio-gen dev`, from a save to a server that serves it, `bench.loop`, (g) streams
through nginx and over HTTP/2, `bench.deploy`, (h) what the execute log line and the hooks
cost a call and a chunk, `bench.execute`. Each runs
with its default options, or the smaller ones of its `QUICK` with `--quick`; its table is
printed as it ends, and every scenario's figures are written to one JSON file (and, without
`--quick`, also to the scenario's own `bench/results/<name>.json`). Scenarios are
called in this process (their `run`), never by spawning `python -m bench` again.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import build, cancel, deploy, execute, first_chunk, idle, loop, streams
from bench.servers import RESULTS, write_json

SCENARIOS: dict[str, ModuleType] = {
    "streams": streams,
    "first_chunk": first_chunk,
    "idle": idle,
    "cancel": cancel,
    "build": build,
    "loop": loop,
    "deploy": deploy,
    "execute": execute,
}


def main() -> None:
    parser = argparse.ArgumentParser(description="every benchmark, one after another")
    parser.add_argument("--quick", action="store_true", help="smaller options for each")
    parser.add_argument("--json", type=Path, default=RESULTS / "all.json")
    options = parser.parse_args()

    figures: dict[str, Any] = {"quick": options.quick, "scenarios": {}}
    for name, module in SCENARIOS.items():
        arguments: list[str] = list(module.QUICK) if options.quick else []
        scenario = module.parser().parse_args(arguments)
        print(f"\n== {name}: python -m bench.{name} {' '.join(arguments)}".rstrip(), flush=True)
        started = time.perf_counter()
        result: dict[str, Any] = module.run(scenario)
        if not options.quick:
            write_json(scenario.json, result)
        figures["scenarios"][name] = {**result, "seconds_taken": time.perf_counter() - started}
        write_json(options.json, figures)  # what ran so far survives a later failure
    print(f"\nall figures: {options.json}")


if __name__ == "__main__":
    main()

"""`milkio-gen build` on a synthetic app of 500 APIs, beside datamodel-code-generator.

    python -m bench.build [--apis 500] [--json bench/results/build.json]

Both tools get the same JSON Schemas: milkio-gen extracts them from the app and writes the
manifest and every client; datamodel-code-generator turns the manifest's schemas into
pydantic models. Each command runs in a fresh process; the table shows wall time and peak
memory, and ratios to datamodel-code-generator, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.servers import RESULTS, write_json
from bench.synthetic_app import write_app

# Runs one command and reports its wall time and the peak memory of the process tree it made.
_MEASURE = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
elapsed = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_mib": peak_kib / 1024, "code": done.returncode,
                  "stderr": done.stderr[-2000:]}))
"""


def measure(command: list[str], cwd: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(completed.stdout)
    if figures["code"] != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{figures['stderr']}")
    return {"seconds": figures["seconds"], "peak_mib": figures["peak_mib"]}


def best_of(
    runs: int, command: list[str], cwd: Path, prepare: Callable[[], None] | None = None
) -> dict[str, float]:
    results: list[dict[str, float]] = []
    for _ in range(runs):
        if prepare is not None:
            prepare()
        results.append(measure(command, cwd))
    return min(results, key=lambda figures: figures["seconds"])


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="milkio-gen build beside datamodel-code-generator")
    parser.add_argument("--apis", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3, help="runs per command; the best counts")
    parser.add_argument("--json", type=Path, default=RESULTS / "build.json")
    return parser


QUICK = ["--apis", "100", "--runs", "1"]
"""Options of `python -m bench --quick`."""


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Time both tools, print the table, and return the figures."""

    work = Path(tempfile.mkdtemp(prefix="milkio-bench-"))
    try:
        write_app(work, "synthetic", options.apis)
        bin_dir = Path(sys.executable).parent
        milkio = [str(bin_dir / "milkio-gen"), "build", "--app", "synthetic", "--out", "gen",
                  "--schema", "schema/manifest.json"]  # fmt: skip

        def clean() -> None:
            shutil.rmtree(work / "gen", ignore_errors=True)
            shutil.rmtree(work / "schema", ignore_errors=True)

        fresh = best_of(options.runs, milkio, work, clean)
        unchanged = best_of(options.runs, milkio, work)

        manifest = json.loads((work / "schema" / "manifest.json").read_text())
        schemas = {"$defs": manifest["$defs"], "type": "object", "properties": {
            api["path"]: api.get("result") or api.get("chunk") for api in manifest["apis"]
        }}  # fmt: skip
        (work / "schemas.json").write_text(json.dumps(schemas))
        datamodel = [str(bin_dir / "datamodel-codegen"), "--input", "schemas.json",
                     "--input-file-type", "jsonschema", "--output", "models_dcg.py",
                     "--output-model-type", "pydantic_v2.BaseModel"]  # fmt: skip
        reference = best_of(options.runs, datamodel, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = {
        "datamodel-code-generator (models only)": reference,
        f"milkio-gen build, {options.apis} APIs (manifest, models, clients, server)": fresh,
        "milkio-gen build, nothing changed": unchanged,
    }
    print(f"{'command':<70} {'seconds':>8} {'peak MiB':>9} {'time x':>7} {'mem x':>6}")
    for name, figures in rows.items():
        print(
            f"{name:<70} {figures['seconds']:>8.2f} {figures['peak_mib']:>9.0f} "
            f"{figures['seconds'] / reference['seconds']:>7.2f} "
            f"{figures['peak_mib'] / reference['peak_mib']:>6.2f}"
        )
    return {"apis": options.apis, "results": rows}


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

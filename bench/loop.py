"""The inner loop: from saving a change in an app to updated generated files and a server
that serves them, with `milkio-gen dev`, beside uvicorn's own `--reload`.

    python -m bench.loop [--apis 50 500] [--saves 5] [--json bench/results/loop.json]

For each size, a synthetic app is written and `milkio-gen dev` started on it. Each save adds
a field to a model; the figures are the time from the write to (a) `models.py` holding the
field and (b) the restarted server answering. The reference is `uvicorn --reload` on the
same app and the same saves: it restarts the server, and builds nothing. A no-change
`milkio-gen build` in a fresh process is timed beside a fresh process that only imports the
app, and one build in this process is split into its phases, to show where the time goes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from milkio_gen.testing import free_port

from bench.build import best_of
from bench.servers import RESULTS, ratio, stop_group, write_json
from bench.synthetic_app import write_app

PACKAGE = "synthetic"
STARTED = "Application startup complete."
"""uvicorn's line once a server listens: both loops log it, from the same server."""
_POLL = 0.002
_IMPORT_ONLY = f"from milkio_gen.extract.discover import discover; discover({PACKAGE!r})"
"""Imports every module of the app, as a build does first, and nothing more."""

_PYPROJECT = f"""\
[project]
name = "loop-bench"
version = "0"

[tool.milkio-gen]
app = "{PACKAGE}"
schema = "schema/manifest.json"
out = "gen"
"""


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="save → generated files → served, at N APIs")
    parser.add_argument("--apis", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--saves", type=int, default=5, help="saves measured per size and loop")
    parser.add_argument("--runs", type=int, default=3, help="runs of each fresh-process build")
    parser.add_argument("--json", type=Path, default=RESULTS / "loop.json")
    return parser


QUICK = ["--apis", "20", "--saves", "2", "--runs", "1"]
"""Options of `python -m bench --quick`."""


class Output:
    """A process's output lines, each with the time it was read."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self._process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append((time.perf_counter(), line.rstrip()))

    def first_after(self, moment: float, text: str, seconds: float) -> float:
        """When a line holding `text` was read after `moment`."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for at, line in list(self.lines):
                if at > moment and text in line:
                    return at
            if self._process.poll() is not None:
                break
            time.sleep(_POLL)
        tail = "\n".join(line for _, line in self.lines[-30:])
        raise SystemExit(f"no {text!r} within {seconds}s; the output ends:\n{tail}")


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if condition():
            return time.perf_counter()
        time.sleep(_POLL)
    raise SystemExit(f"not within {seconds}s: {what}")


def answers(url: str) -> bool:
    try:
        httpx.post(url, json={}, timeout=1)
    except httpx.TransportError:
        return False
    return True


def save(module: Path, field: str) -> float:
    """Add `field` to the first model of `module`, as an editor saves; the moment of the write."""
    source = module.read_text()
    source = re.sub(r"(class Params0\(BaseModel\):\n)", rf"\1    {field}: int = 0\n", source)
    started = time.perf_counter()
    module.write_text(source)
    return started


def run_loop(
    work: Path, command: list[str], saves: int, generated: Path | None
) -> dict[str, list[float]]:
    """Start a watching server, save `saves` changes; seconds from each save to files, served."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/module-000/api-0"
    environ = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=work, env=environ, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    output = Output(process)
    figures: dict[str, list[float]] = {"files": [], "served": []}
    try:
        output.first_after(0, STARTED, 120)
        wait_for(lambda: answers(url), 30, "the server answers")
        module = work / PACKAGE / "module_000.py"
        for index in range(saves):
            time.sleep(0.5)  # the watcher is idle again
            field = f"added_{os.getpid()}_{index}_{time.monotonic_ns()}"
            saved = save(module, field)
            if generated is not None:
                models = generated / "models.py"

                def updated(models: Path = models, field: str = field) -> bool:
                    return field in models.read_text()

                written = wait_for(updated, 60, "models.py updated")
                figures["files"].append(written - saved)
            output.first_after(saved, STARTED, 120)
            served = wait_for(lambda: answers(url), 30, "the restarted server answers")
            figures["served"].append(served - saved)
    finally:
        stop_group(process)
    return figures


def phases(work: Path) -> dict[str, float]:
    """One build in this process, with the app imported afresh, split into its steps."""
    from milkio_gen.config import load_config
    from milkio_gen.extract import extract
    from milkio_gen.extract.discover import discover
    from milkio_gen.render.generate import generate_python, generate_typescript

    config = load_config(work)
    sys.path.insert(0, str(work))
    cwd = Path.cwd()
    os.chdir(work)
    try:
        started = time.perf_counter()
        discover(PACKAGE)
        imported = time.perf_counter()
        manifest = extract(PACKAGE)  # the modules are imported now: this is the schemas' time
        extracted = time.perf_counter()
        digest = "0" * 16
        generate_python(manifest, source="bench", digest=digest, out=config.out, project_root=work)
        python = time.perf_counter()
        generate_typescript(manifest, source="bench", digest=digest, out=config.out)
        typescript = time.perf_counter()
    finally:
        os.chdir(cwd)
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]
    return {
        "import the app": imported - started,
        "signatures and JSON Schemas": extracted - imported,
        "Python files (render, ruff)": python - extracted,
        "TypeScript file": typescript - python,
    }


def measure_size(apis: int, options: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="milkio-loop-"))
    try:
        write_app(work, PACKAGE, apis)
        (work / "pyproject.toml").write_text(_PYPROJECT)
        bin_dir = Path(sys.executable).parent
        ours = run_loop(work, [str(bin_dir / "milkio-gen"), "dev"], options.saves, work / "gen")
        reference = run_loop(
            work,
            [str(bin_dir / "uvicorn"), "gen.server:app", "--reload", "--reload-dir", PACKAGE],
            options.saves,
            None,
        )
        unchanged = best_of(options.runs, [str(bin_dir / "milkio-gen"), "build"], work)
        import_only = best_of(
            options.runs,
            [sys.executable, "-c", _IMPORT_ONLY],
            work,
        )
        steps = phases(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "save_to_files_s": statistics.median(ours["files"]),
        "save_to_files_max_s": max(ours["files"]),
        "save_to_served_s": statistics.median(ours["served"]),
        "reference_save_to_served_s": statistics.median(reference["served"]),
        "no_change_build_s": unchanged["seconds"],
        "import_only_s": import_only["seconds"],
        "phases_s": steps,
    }


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure every size, print the tables, and return the figures."""
    sizes = {apis: measure_size(apis, options) for apis in options.apis}
    print(
        f"{'APIs':>5} {'save→files':>11} {'(max)':>7} {'save→served':>12} "
        f"{'uvicorn --reload':>17} {'x':>6} {'build, no change':>17} {'import app':>11} {'x':>6}"
    )
    for apis, row in sizes.items():
        print(
            f"{apis:>5} {row['save_to_files_s']:>10.3f}s {row['save_to_files_max_s']:>6.3f}s "
            f"{row['save_to_served_s']:>11.3f}s {row['reference_save_to_served_s']:>16.3f}s "
            f"{ratio(row['save_to_served_s'], row['reference_save_to_served_s']):>6.2f} "
            f"{row['no_change_build_s']:>16.3f}s {row['import_only_s']:>10.3f}s "
            f"{ratio(row['no_change_build_s'], row['import_only_s']):>6.2f}"
        )
    print("\none build in process, by step (seconds):")
    for apis, row in sizes.items():
        steps = ", ".join(f"{name} {seconds:.3f}" for name, seconds in row["phases_s"].items())
        print(f"{apis:>5} APIs: {steps}")
    return {"saves": options.saves, "results": {str(apis): row for apis, row in sizes.items()}}


def main() -> None:
    options = parser().parse_args()
    write_json(options.json, run(options))


if __name__ == "__main__":
    main()

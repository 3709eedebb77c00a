"""The benchmarks still run (on a small app): their figures are read by people, not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT


def run_benchmark(module: str, output: Path, *arguments: str) -> tuple[str, dict[str, Any]]:
    """Run `python -m <module> ... --json <output>`; its printed table and its figures."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments, "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout, json.loads(output.read_text())


@pytest.mark.timeout(300)
def test_build_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    printed, figures = run_benchmark(
        "bench.build", tmp_path / "build.json", "--apis", "12", "--runs", "1"
    )
    assert "datamodel-code-generator" in printed
    assert figures["apis"] == 12
    assert len(figures["results"]) == 3
    assert all(row["seconds"] > 0 and row["peak_mib"] > 0 for row in figures["results"].values())


@pytest.mark.timeout(300)
def test_fanout_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    arguments = ("--subscribers", "20", "--messages", "3", "--burst", "5")
    printed, figures = run_benchmark("bench.fanout", tmp_path / "fanout.json", *arguments)
    assert "redis streams, 2 instances" in printed
    assert figures["subscribers"] == 20
    for row in figures["results"].values():
        assert row["lost"] == 0
        assert row["burst_lost"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]


@pytest.mark.timeout(300)
def test_stream_benchmark_runs_every_contender_and_writes_its_figures(tmp_path: Path) -> None:
    arguments = ("--chunks", "2000", "--runs", "1")
    _, figures = run_benchmark("bench.streams", tmp_path / "streams.json", *arguments)
    assert set(figures["results"]) == {
        "reference + minimal client",
        "reference + generated client",
        "ours, TypedDict chunks",
        "ours, model chunks",
        "sse-starlette + httpx-sse",
        "FastAPI StreamingResponse + aiter_lines",
    }
    for row in figures["results"].values():
        assert row["chunks_per_s"] > 0
        assert row["server_us"] >= 0
        assert row["client_us"] > 0

"""The benchmarks still run (on a small app): their figures are read by people, not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.timeout(300)
def test_build_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    output = tmp_path / "build.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.build", "--apis", "12", "--runs", "1", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "datamodel-code-generator" in completed.stdout
    figures = json.loads(output.read_text())
    assert figures["apis"] == 12
    assert len(figures["results"]) == 3
    assert all(row["seconds"] > 0 and row["peak_mib"] > 0 for row in figures["results"].values())


@pytest.mark.timeout(300)
def test_fanout_benchmark_runs_and_writes_its_figures(tmp_path: Path) -> None:
    output = tmp_path / "fanout.json"
    command = [sys.executable, "-m", "bench.fanout", "--subscribers", "20", "--messages", "3"]
    completed = subprocess.run(
        [*command, "--burst", "5", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "redis streams, 2 instances" in completed.stdout
    figures = json.loads(output.read_text())
    assert figures["subscribers"] == 20
    for row in figures["results"].values():
        assert row["lost"] == 0
        assert row["burst_lost"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]


@pytest.mark.timeout(300)
def test_stream_benchmark_runs_every_contender_and_writes_its_figures(tmp_path: Path) -> None:
    output = tmp_path / "streams.json"
    command = [sys.executable, "-m", "bench.streams", "--chunks", "2000", "--runs", "1"]
    completed = subprocess.run(
        [*command, "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    figures = json.loads(output.read_text())
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

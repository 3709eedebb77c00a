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
def test_loop_benchmark_times_saves_beside_uvicorn_reload(tmp_path: Path) -> None:
    printed, figures = run_benchmark(
        "bench.loop", tmp_path / "loop.json", "--apis", "12", "--saves", "1", "--runs", "1"
    )
    assert "uvicorn --reload" in printed
    row = figures["results"]["12"]
    assert 0 < row["save_to_files_s"] < row["save_to_served_s"]
    assert row["reference_save_to_served_s"] > 0
    assert row["no_change_build_s"] > row["import_only_s"] > 0
    assert set(row["phases_s"]) == {
        "import the app",
        "signatures and JSON Schemas",
        "Python files (render, ruff)",
        "TypeScript file",
    }


@pytest.mark.timeout(300)
def test_deploy_benchmark_measures_each_route_beside_the_direct_one(tmp_path: Path) -> None:
    printed, figures = run_benchmark(
        "bench.deploy", tmp_path / "deploy.json", "--calls", "20", "--chunks", "2000", "--runs", "1"
    )
    assert "through nginx" in printed
    assert set(figures["results"]) == {
        "direct, HTTP/1.1",
        "through nginx, HTTP/1.1",
        "HTTP/2 with TLS",
    }
    for row in figures["results"].values():
        assert 0 < row["first_chunk_p50_ms"] <= row["first_chunk_p99_ms"]
        assert row["chunks_per_s"] > 0


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


@pytest.mark.timeout(300)
def test_first_chunk_benchmark_runs_every_contender_and_writes_its_figures(tmp_path: Path) -> None:
    arguments = ("--calls", "20", "--fresh", "2")
    printed, figures = run_benchmark("bench.first_chunk", tmp_path / "first_chunk.json", *arguments)
    assert "target: ours within 0.2 ms of the reference at p50" in printed
    assert figures["calls"] == 20
    assert set(figures["results"]) == {
        "reference + minimal client",
        "reference + generated client",
        "ours + generated client",
        "sse-starlette + httpx-sse",
        "FastAPI StreamingResponse + aiter_lines",
    }
    for row in figures["results"].values():
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"] < 1000
    assert len(figures["fresh"]) == 3
    for row in figures["fresh"].values():
        assert 0 < row["p50_ms"] <= row["max_ms"] < 10_000


@pytest.mark.timeout(300)
def test_idle_benchmark_measures_memory_and_fan_out_and_writes_its_figures(
    tmp_path: Path,
) -> None:
    arguments = ("--streams", "50", "--messages", "2", "--interval", "0.05")
    printed, figures = run_benchmark("bench.idle", tmp_path / "idle.json", *arguments)
    assert "memory per idle stream" in printed
    rows = figures["results"]["50"]
    assert set(rows) == {"raw ASGI reference", "ours, in-memory channel"}
    for row in rows.values():
        assert row["lost"] == 0
        assert row["server_rss_mib"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"] < 10_000


@pytest.mark.timeout(300)
def test_cancel_benchmark_times_every_way_of_stopping_and_writes_its_figures(
    tmp_path: Path,
) -> None:
    printed, figures = run_benchmark("bench.cancel", tmp_path / "cancel.json", "--runs", "5")
    assert "target: p99 <= 30 ms" in printed
    assert len(figures["results"]) == 5
    for row in figures["results"].values():
        assert row["lost"] == 0
        # The action's `finally` runs after the client's stop, within the benchmark's wait.
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"] < 5000


@pytest.mark.timeout(300)
def test_execute_benchmark_measures_the_log_line_and_the_hooks_beside_a_reference(
    tmp_path: Path,
) -> None:
    arguments = ("--calls", "100", "--connections", "2", "--chunks", "2000", "--rounds", "1")
    printed, figures = run_benchmark("bench.execute", tmp_path / "execute.json", *arguments)
    assert "plain calls (calls/ping)" in printed
    plain, streams = figures["results"]["plain"], figures["results"]["streams"]
    assert set(plain) == {
        "(ref) no hooks, log line off",
        "(a) log line on",
        "(b) 3 sync hooks, log line off",
        "(c) 3 sync hooks and log line",
    }
    for row in plain.values():
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["calls_per_s"] > 0
        assert row["server_us"] >= 0
    assert plain["(ref) no hooks, log line off"]["p50_x"] == 1
    # A line for every call where it is on, none where it is off.
    lines = figures["log_lines"]
    assert lines["(ref) no hooks, log line off"] == lines["(b) 3 sync hooks, log line off"] == 0
    assert lines["(a) log line on"] == lines["(c) 3 sync hooks and log line"] > 200
    assert set(streams) == {
        "(ref) no on_chunk hook",
        "one sync on_chunk hook",
        "two on_chunk hooks, one async",
    }
    for row in streams.values():
        assert row["chunks_per_s"] > 0
        assert row["server_us"] >= 0


@pytest.mark.timeout(300)
def test_every_benchmark_runs_in_one_quick_command(tmp_path: Path) -> None:
    printed, figures = run_benchmark("bench", tmp_path / "all.json", "--quick")
    assert figures["quick"] is True
    assert list(figures["scenarios"]) == [
        "streams",
        "first_chunk",
        "idle",
        "cancel",
        "build",
        "loop",
        "deploy",
        "execute",
    ]
    for name in figures["scenarios"]:
        assert f"== {name}: python -m bench.{name}" in printed
    assert all(scenario["results"] for scenario in figures["scenarios"].values())

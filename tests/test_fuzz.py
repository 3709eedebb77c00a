"""The decoders fuzzed for a few seconds each: atheris over `Tson.loads` and the Python SSE
parser (tests/fuzz/), fast-check over the TypeScript client's SSE parser (tests/ts). Longer
runs by hand: docs/limits.md."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_in_ts

FUZZ = ROOT / "tests" / "fuzz"
SECONDS = 8
"""Each fuzzer's time here; with its start, the fuzz tests take about half a minute."""


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("target", "dictionary"), [("tson", "json.dict"), ("sse", "sse.dict")])
def test_atheris_finds_nothing(target: str, dictionary: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(FUZZ / "seeds" / target, corpus)
    completed = subprocess.run(
        [
            sys.executable,
            str(FUZZ / f"fuzz_{target}.py"),
            f"-dict={FUZZ / dictionary}",
            f"-max_total_time={SECONDS}",
            "-timeout=5",  # seconds one input may take: a decoder that hangs is a finding
            "-rss_limit_mb=4096",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=False,
    )
    report = completed.stderr[-4000:]
    assert completed.returncode == 0, report
    done = [line for line in completed.stderr.splitlines() if line.startswith("Done ")]
    assert done, report
    runs = int(done[0].split()[1])
    assert runs > 1000, done[0]  # it did fuzz, rather than stop at its start
    assert not list(tmp_path.glob("crash-*")), report


@pytest.mark.timeout(300)
def test_fast_check_finds_nothing_in_the_typescript_parser(compiled: Path) -> None:
    tests = compiled / "tests" / "ts" / "src" / "sse.fuzz.test.js"
    result = run_in_ts(["node", "--test", "--test-reporter=spec", str(tests)])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "fail 0" in result.stdout

"""The generated TypeScript client: `tsc --strict` over it and a typing file, then node's
test runner against the real example and probe servers."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from milkio_gen.build import build
from milkio_gen.config import load_config

from tests.conftest import ROOT, RunningServer

TS = ROOT / "tests" / "ts"


def run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=TS, capture_output=True, text=True, timeout=300, check=False, **options
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def compiled() -> Path:
    """The probe app's client.ts built beside the tests, then everything compiled strictly."""
    if shutil.which("node") is None or not (TS / "node_modules").is_dir():
        pytest.fail("node and tests/ts/node_modules are needed: run scripts/setup")
    for app, name in (
        ("tests.probe_app", "probe"),
        ("tests.edge_app", "edge"),
        ("tests.corpus_app", "corpus"),
    ):
        out = TS / name
        build(load_config(ROOT, app=app, schema=out / "manifest.json", out=out))
    for config in ("tsconfig.json", "tsconfig.node.json"):
        tsc = run([str(TS / "node_modules" / ".bin" / "tsc"), "-p", config])
        assert tsc.returncode == 0, f"{config}:\n{tsc.stdout}{tsc.stderr}"
    return TS / "dist"


def test_generated_clients_and_typing_file_pass_tsc_strict(compiled: Path) -> None:
    """The example's client, the awkward names of the edge app, and `@ts-expect-error`s; and
    the clients again as a Node-only project with the strictest flags (tsconfig.node.json)."""
    assert (compiled / "generated" / "client.js").is_file()
    assert (compiled / "tests" / "ts" / "edge" / "client.js").is_file()
    assert (compiled / "tests" / "ts" / "src" / "typing.js").is_file()


@pytest.mark.timeout(300)
def test_node_runs_the_client_against_the_servers(
    compiled: Path, example_server: RunningServer, probe_server: RunningServer
) -> None:
    environment = {
        **os.environ,
        "BASE_URL": example_server.base_url,
        "PROBE_URL": probe_server.base_url,
    }
    tests = compiled / "tests" / "ts" / "src" / "client.test.js"
    result = run(["node", "--test", "--test-reporter=spec", str(tests)], env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fail 0" in result.stdout

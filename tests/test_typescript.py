"""The generated TypeScript client: `tsc --strict` over it and a typing file, then node's
test runner against the real example and probe servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from milkio_gen.runtime.server import ServerSettings

from tests.conftest import GeneratedPackage, RunningServer, run_in_ts, serve_probe_with
from tests.fault_proxy import FaultProxy, Faults, Unanswered


def test_generated_clients_and_typing_file_pass_tsc_strict(compiled: Path) -> None:
    """The example's client, the awkward names of the edge app, and `@ts-expect-error`s; and
    the clients again as a Node-only project with the strictest flags (tsconfig.node.json)."""
    assert (compiled / "generated" / "client.js").is_file()
    assert (compiled / "tests" / "ts" / "edge" / "client.js").is_file()
    assert (compiled / "tests" / "ts" / "src" / "typing.js").is_file()


@pytest.fixture
def fault_proxies(probe_server: RunningServer) -> Iterator[dict[str, str]]:
    """One proxy in front of the probe server for each fault, and a port whose connects hang,
    by the variables naming them."""
    port = int(probe_server.base_url.rsplit(":", 1)[1])
    faults = {
        "CUT_URL": Faults(cut_after=600),
        "RESET_URL": Faults(cut_after=600, reset=True),
        "STALL_URL": Faults(stall=True),
        "THROTTLE_URL": Faults(throttle=16_000),
    }
    proxies = {name: FaultProxy(port, faults=fault) for name, fault in faults.items()}
    unanswered = Unanswered()
    try:
        urls = {name: proxy.base_url for name, proxy in proxies.items()}
        yield {**urls, "UNANSWERED_URL": unanswered.base_url}
    finally:
        unanswered.close()
        for proxy in proxies.values():
            proxy.close()


@pytest.fixture
def rate_limited_server(probe: GeneratedPackage) -> Iterator[RunningServer]:
    """The probe app with a rate limit of two calls a second for each client."""
    yield from serve_probe_with(probe, ServerSettings(rate_limit=("second", 2)))


@pytest.mark.timeout(300)
def test_node_runs_the_client_against_the_servers(
    compiled: Path,
    example_server: RunningServer,
    probe_server: RunningServer,
    rate_limited_server: RunningServer,
    fault_proxies: dict[str, str],
) -> None:
    environment = {
        **os.environ,
        "BASE_URL": example_server.base_url,
        "PROBE_URL": probe_server.base_url,
        "RATE_LIMITED_URL": rate_limited_server.base_url,
        **fault_proxies,
    }
    tests = compiled / "tests" / "ts" / "src" / "client.test.js"
    result = run_in_ts(["node", "--test", "--test-reporter=spec", str(tests)], env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fail 0" in result.stdout

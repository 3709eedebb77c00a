"""Servers of a generated package in processes of their own, for tests that kill, restart or
multiply them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
from milkio_gen.testing import free_port

from tests.conftest import ROOT, GeneratedPackage

__all__ = ["free_port", "start_server"]


def start_server(
    package: GeneratedPackage,
    port: int,
    *,
    env: dict[str, str] | None = None,
    workers: int | None = None,
    header_timeout: float = 10.0,
) -> subprocess.Popen[bytes]:
    """`<package>.server:app` under uvicorn on 127.0.0.1:`port`, once it answers."""
    app = f"{package.directory.name}.server:app"
    if workers is None:
        code = (
            "from milkio_gen.serving import serve; "
            f"serve({app!r}, host='127.0.0.1', port={port}, log_level='warning', "
            f"header_timeout={header_timeout})"
        )
        command = [sys.executable, "-c", code]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    path = os.pathsep.join([str(package.directory.parent), str(ROOT)])
    server = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": path, **(env or {})})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/values/nothing", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    server.wait(10)
    raise RuntimeError("the server did not start")

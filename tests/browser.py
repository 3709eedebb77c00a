"""A real browser and a real server for the example pages: Debian's Chromium driven by
Playwright, and `milkio-gen serve` in a process whose log lines are kept with the time each
was read, so that a test can time what the server did after a click."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from milkio_gen.testing import Certificate

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""As root, headless, on a machine whose network is closed: no sandbox, no calls home."""
ARTIFACTS = ROOT / "test-artifacts" / "pages"
"""Screenshots of the pages, kept by CI."""


class ServedExample:
    """`milkio-gen serve` of the example app on 127.0.0.1:`port`, with its log; over HTTPS with
    HTTP/2 when given a certificate."""

    def __init__(
        self,
        port: int,
        *options: str,
        env: dict[str, str] | None = None,
        tls: Certificate | None = None,
    ) -> None:
        self.port = port
        self.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        command = [str(Path(sys.executable).parent / "milkio-gen"), "serve", "--port", str(port)]
        if tls is not None:
            command += ["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)]
        self._process = subprocess.Popen(
            [*command, *options], cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(self._answers, 30, "the example server answers")

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append((time.perf_counter(), line.rstrip()))

    def _answers(self) -> bool:
        try:
            httpx.get(f"{self.base_url}/web/", timeout=1, verify=False)
        except httpx.TransportError:
            return False
        return True

    def logged(self, text: str, *, after: float = 0.0) -> list[float]:
        """When lines holding `text` were read, of those read after `after`."""
        return [at for at, line in list(self.lines) if at > after and text in line]

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait(self, seconds: float) -> int:
        """The exit code, once the server exited by itself (after a signal of the test's)."""
        return self._process.wait(seconds)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self._reader.join(5)
        if self._process.stdout is not None:
            self._process.stdout.close()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll every 2 ms; the moment `condition` held."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if condition():
            return time.perf_counter()
        time.sleep(0.002)
    raise AssertionError(f"not within {seconds}s: {what}")

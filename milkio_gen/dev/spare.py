"""A server process started ahead of need, so that a restart of `milkio-gen dev` costs the
import of the app only: the libraries a server imports (Litestar, uvicorn, the runtime) take
most of a server's start, and they are the same for every build.

The spare imports them, then waits on its stdin for the app to serve and how: it imports
the app while the server it replaces still serves, and binds the port at the "go" that
follows once that server has stopped. It must not import the app before it is told to,
since the app is what changed.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["ServeOrder", "Spare"]


@dataclass(frozen=True, slots=True)
class ServeOrder:
    app: str
    """What uvicorn serves: "package.module:attribute"."""
    host: str
    port: int
    log_level: str
    grace_period: int


_GO = b"go\n"


class Spare:
    """A started spare: `prepare` has it import an app, `serve` has it serve the app."""

    def __init__(self, root: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from milkio_gen.dev.spare import main; main()"],
            cwd=root,
            stdin=subprocess.PIPE,
        )

    def prepare(self, order: ServeOrder) -> None:
        self._send(json.dumps(asdict(order)).encode() + b"\n")

    def serve(self) -> subprocess.Popen[bytes]:
        """Bind and serve what was prepared: the process is now the server."""
        self._send(_GO)
        if self._process.stdin is not None:
            self._process.stdin.close()
        return self._process

    def _send(self, line: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            stdin.write(line)
            stdin.flush()
        except BrokenPipeError:  # it died (Ctrl-C): the caller stops as well
            pass

    def discard(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()  # a waiting spare ends by itself
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


_PRELOADED = (
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "milkio_gen.channels",
    "milkio_gen.runtime.server",
    "milkio_gen.serving",
)
"""What every generated server imports, and uvicorn's parts it picks at start."""


def main() -> None:
    try:
        for name in _PRELOADED:
            importlib.import_module(name)
        line = sys.stdin.buffer.readline()
        if not line:
            return
        order = ServeOrder(**json.loads(line))
        from milkio_gen.serving import serve

        sys.path.insert(0, os.getcwd())
        importlib.import_module(order.app.partition(":")[0])
        if sys.stdin.buffer.readline() != _GO:
            return
        print(f"serving {order.app} on http://{order.host}:{order.port}", flush=True)
        serve(
            order.app,
            host=order.host,
            port=order.port,
            log_level=order.log_level,
            grace_period=order.grace_period,
        )
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: end quietly
        pass

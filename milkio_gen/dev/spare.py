"""A server process started ahead of need, so that a restart of `milkio-gen dev` costs
little: the libraries a server imports (Litestar, uvicorn, the runtime) take most of a
server's start, and they are the same for every build.

A spare imports them at once, then takes orders on its stdin, one a line:
- `warm`: import the app's modules, as a build starts, so that they are imported by the time
  the build ends. A spare warmed for a build is served after that build, or discarded.
- the `ServeOrder`: import the generated server, while the server it replaces still serves;
- `go`, once that server stopped: bind the port and serve.
Nothing of the app is imported before it is told to, since the app is what changes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
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
    """A started spare: `warm`, then `prepare` and `serve` make it the server."""

    def __init__(self, root: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from milkio_gen.dev.spare import main; main()"],
            cwd=root,
            stdin=subprocess.PIPE,
        )

    def warm(self, package: str) -> None:
        self._send(json.dumps({"warm": package}).encode() + b"\n")

    def prepare(self, order: ServeOrder, generated: str) -> None:
        """Import the server of `order`, with the `generated` package as it is now."""
        self._send(json.dumps({"order": asdict(order), "generated": generated}).encode() + b"\n")

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
        """End it: a spare holds nothing to save."""
        self._process.kill()
        self._process.wait(10)


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


def _warm(package: str) -> None:
    """Import every module of `package` that imports; the build reports the others."""
    try:
        root = importlib.import_module(package)
    except Exception:
        return
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), f"{package}.", lambda _: None):
        with contextlib.suppress(Exception):
            importlib.import_module(info.name)


def _forget(package: str) -> None:
    """Drop `package`, in case the app imported it as it was before this build."""
    for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
        del sys.modules[name]


def main() -> None:
    try:
        for name in _PRELOADED:
            importlib.import_module(name)
        sys.path.insert(0, os.getcwd())
        while line := sys.stdin.buffer.readline():
            message = json.loads(line)
            if "warm" in message:
                _warm(message["warm"])
                continue
            order = ServeOrder(**message["order"])
            _forget(message["generated"])
            importlib.import_module(order.app.partition(":")[0])
            if sys.stdin.buffer.readline() != _GO:
                return
            from milkio_gen.serving import serve

            print(f"serving {order.app} on http://{order.host}:{order.port}", flush=True)
            serve(
                order.app,
                host=order.host,
                port=order.port,
                log_level=order.log_level,
                grace_period=order.grace_period,
            )
            return
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: end quietly
        pass

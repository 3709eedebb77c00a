"""A server process started ahead of need, so that a restart of `milkio-gen dev` costs
little: the libraries a server imports (Litestar, uvicorn, the runtime) take most of a
server's start, and they are the same for every build.

A spare imports them at once, then takes orders on its stdin, one a line:
- `warm`: import the app's modules, as a build starts, so that they are imported by the time
  the build ends. A spare warmed for a build is served after that build, or discarded.
- `prepare`: import the generated server, while the server it replaces still serves; the
  spare answers on a pipe of its own whether it could.
- `go`, once that server stopped: bind the port and serve. From then on, the end of its
  stdin (dev stopped, even killed) stops it.
Nothing of the app is imported before it is told to, since the app is what changes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ServeOrder", "Spare"]


@dataclass(frozen=True, slots=True)
class ServeOrder:
    app: str
    """What uvicorn serves: "package.module:attribute"."""
    generated: str
    """The generated package, imported afresh."""
    host: str
    port: int
    log_level: str
    grace_period: int
    announce: bool
    """Print the line saying where it serves."""


_GO = b"go\n"
_PREPARED = b"prepared\n"


class Spare:
    """A started spare: `warm`, then `prepare` and `serve` make it the server."""

    def __init__(self, root: Path) -> None:
        answers, answer = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", f"from milkio_gen.dev.spare import main; main({answer})"],
            cwd=root,
            stdin=subprocess.PIPE,
            pass_fds=(answer,),
        )
        os.close(answer)
        self._answers = answers

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def warm(self, package: str) -> None:
        self._send({"warm": package})

    def prepare(self, order: ServeOrder, timeout: float) -> bool:
        """Have it import the server of `order`; whether it did within `timeout` seconds."""
        self._send({"prepare": asdict(order)})
        ready, _, _ = select.select([self._answers], [], [], timeout)
        return bool(ready) and os.read(self._answers, len(_PREPARED)) == _PREPARED

    def serve(self) -> subprocess.Popen[bytes]:
        """Bind and serve what was prepared: the process is now the server, and stops when
        its stdin is closed."""
        self._write(_GO)
        os.close(self._answers)
        return self._process

    def discard(self) -> None:
        """End it: a spare holds nothing to keep."""
        self._process.kill()
        self._process.wait(10)
        with contextlib.suppress(OSError):
            os.close(self._answers)
        with contextlib.suppress(OSError):
            if self._process.stdin is not None:
                self._process.stdin.close()

    def _send(self, message: dict[str, Any]) -> None:
        self._write(json.dumps(message).encode() + b"\n")

    def _write(self, line: bytes) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError):  # it died: `alive` and `prepare` tell
            stdin.write(line)
            stdin.flush()


_PRELOADED = (
    "uvicorn.lifespan.on",
    "uvicorn.loops.auto",
    "uvicorn.protocols.http.auto",
    "uvicorn.protocols.websockets.auto",
    "milkio_gen.channels",
    "milkio_gen.runtime.server",
    "milkio_gen.serving",
    "milkio_gen.extract.discover",
)
"""What every generated server imports, uvicorn's parts it picks at start, and the import
of an app."""


def _stop_at_end_of_input() -> None:
    """Stop as on SIGTERM once stdin ends: dev closed it, or dev is gone."""
    while sys.stdin.buffer.read(4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def main(answers: int) -> None:
    try:
        for name in _PRELOADED:
            importlib.import_module(name)
        from milkio_gen.dev.modules import forget_package
        from milkio_gen.extract.discover import discover

        sys.path.insert(0, os.getcwd())
        while line := sys.stdin.buffer.readline():
            message = json.loads(line)
            if "warm" in message:
                discover(message["warm"])  # what does not import, the build reports
                continue
            order = ServeOrder(**message["prepare"])
            forget_package(order.generated)  # in case the app imported it before this build
            try:
                importlib.import_module(order.app.partition(":")[0])
            except BaseException:
                traceback.print_exc()
                return
            os.write(answers, _PREPARED)
            if sys.stdin.buffer.readline() != _GO:
                return
            _serve(order)
            return
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: end quietly
        pass


def _serve(order: ServeOrder) -> None:
    from milkio_gen.serving import serve

    threading.Thread(target=_stop_at_end_of_input, daemon=True).start()
    if order.announce:
        print(f"serving {order.app} on http://{order.host}:{order.port}", flush=True)
    serve(
        order.app,
        host=order.host,
        port=order.port,
        log_level=order.log_level,
        grace_period=order.grace_period,
    )

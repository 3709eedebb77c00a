"""The loop of `milkio-gen dev`: watch, build, restart.

A build runs in this process, with the app's modules imported afresh: it writes only the
files whose bytes changed, so editors and watchers see no churn. A build that fails prints
its errors and changes nothing: the last good `generated/` stays, and so does the server,
in a process of its own that each good build replaces with a spare started ahead.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..build import build
from ..config import BuildConfig
from ..extract import BuildFailed
from .modules import ModuleGraph
from .spare import ServeOrder, Spare

__all__ = ["DevLoop", "port_taken"]

_GRACE_PERIOD = 2
"""Seconds a restart waits for requests in flight (streams are stopped first)."""

Say = Callable[[str, bool], None]
"""Prints a line; the flag says it is an error."""


class DevLoop:
    def __init__(
        self, config: BuildConfig, *, host: str, port: int, say: Say, log_level: str = "info"
    ) -> None:
        self._config = config
        self._log_level = log_level
        self._host = host
        self._port = port
        self._say = say
        self._server: subprocess.Popen[bytes] | None = None
        self._spare: Spare | None = None
        self._modules = ModuleGraph([self.watched], excluded=[self.out])

    @property
    def watched(self) -> Path:
        """The directory of the app's top-level package: the app, and what it imports of the
        project's own code beside it (models, a database module), but not the build's output."""
        return self._config.root / self._config.app.partition(".")[0]

    @property
    def out(self) -> Path:
        return self._config.root / self._config.out

    def run(self) -> None:
        """Build, serve, and go on until interrupted; the server stops with the loop."""
        import watchfiles

        _interrupt_on_termination()
        self._spare = Spare(self._config.root)
        try:
            if self.rebuild() or (self.out / "server.py").is_file():
                self.restart()
            python_files = watchfiles.PythonFilter(ignore_paths=[self.out])
            for changes in watchfiles.watch(self.watched, watch_filter=python_files):
                if self.rebuild({Path(path) for _, path in changes}):
                    self.restart()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            self._end_spare()

    def rebuild(self, changed: set[Path] | None = None) -> bool:
        """Build with the modules of the `changed` files (all, without it) and those that
        import them imported afresh; whether the build succeeded."""
        started = time.perf_counter()
        graph = self._modules
        graph.forget(graph.loaded() if changed is None else graph.stale(changed))
        if self._spare is not None:
            self._spare.warm(self._config.app)  # beside the build, on another core
        try:
            report = build(self._config)
        except BuildFailed as failed:
            self._end_spare()  # warmed with an app that does not build
            self._spare = Spare(self._config.root)
            for error in failed.errors:
                self._say(f"error: {error}", True)
            self._say("build failed: the last good build stays, and so does the server", True)
            return False
        self._say(report.summary(time.perf_counter() - started), False)
        return True

    def restart(self) -> None:
        """Replace the server with the spare, which imports the generated server as the old
        one stops; start the next spare at once, to have its libraries imported by the next
        save."""
        module = ".".join(self._config.out.with_suffix("").parts)
        order = ServeOrder(
            app=f"{module}.server:app",
            host=self._host,
            port=self._port,
            log_level=self._log_level,
            grace_period=_GRACE_PERIOD,
        )
        spare, self._spare = self._spare or Spare(self._config.root), None
        spare.prepare(order, generated=module)
        self.stop()
        self._server = spare.serve()  # it says where it serves
        self._spare = Spare(self._config.root)

    def _end_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def port_taken(host: str, port: int) -> bool:
    """Whether a server could not listen on `host:port`: said before the first build, rather
    than by a server that fails to start after it."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _interrupt_on_termination() -> None:
    """SIGTERM (a process manager) and SIGHUP (a closed terminal) end the loop as Ctrl-C does,
    so that the server and the spare end with it rather than outlive it."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        for terminating in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(terminating, interrupt)

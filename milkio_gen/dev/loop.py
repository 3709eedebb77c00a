"""The loop of `milkio-gen dev`: watch, build, restart.

A build runs in this process, with the modules a save made stale imported afresh: it
writes only the files whose bytes changed, so editors and watchers see no churn. The server
runs in a process of its own, which each good build replaces with a spare started ahead;
the old server stops only once the spare has imported the new one. A build that fails, or
a server that cannot import, prints why and changes nothing: the last good `generated/`
stays, and so does the server.
"""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import threading
import time
import traceback
from pathlib import Path

from ..build import BuildReport, build
from ..config import BuildConfig
from ..console import Console
from ..extract import BuildFailed
from .modules import ModuleGraph, drop_bytecode
from .spare import ServeOrder, Spare

__all__ = ["DevLoop", "port_taken"]

_GRACE_PERIOD = 2
"""Seconds a restart waits for requests in flight (streams are stopped first)."""
_PREPARE_TIMEOUT = 120.0
"""Seconds a spare gets to import the new server."""
_QUIET_LOG_LEVEL = "warning"


class DevLoop:
    def __init__(self, config: BuildConfig, *, host: str, port: int, console: Console) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._console = console
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
        _interrupt_on_termination()
        self._spare = Spare(self._config.root)
        saves = _Saves(self.watched, ignored=self.out)  # from now: none is missed
        try:
            if self.rebuild():
                self.restart()
            while True:
                if self.rebuild(saves.next()):
                    self.restart()
        except KeyboardInterrupt:
            pass
        finally:
            _ignore_termination()  # a second Ctrl-C must not cut the cleanup short
            saves.close()
            self._stop_server()
            self._end_spare()

    def rebuild(self, changed: set[Path] | None = None) -> bool:
        """Build with the modules of the `changed` files (all, without it) and those that
        import them imported afresh; whether the build succeeded."""
        started = time.perf_counter()
        try:
            report = self._build(changed)
        except BuildFailed as failed:
            for error in failed.errors:
                self._console.error(f"error: {error}")
            self._kept("build failed")
            return False
        except Exception:  # a bug or the machine (a disk full): say so, and keep serving
            for line in traceback.format_exc().rstrip().splitlines():
                self._console.error(line)
            self._kept("build failed")
            return False
        self._console.say(report.summary(time.perf_counter() - started))
        return True

    def _build(self, changed: set[Path] | None) -> BuildReport:
        graph = self._modules
        if changed is not None:
            drop_bytecode(changed)
        graph.forget(graph.loaded() if changed is None else graph.stale(changed))
        spare = self._live_spare()
        spare.warm(self._config.app)  # beside the build, on another core
        try:
            return build(self._config)
        except BaseException:
            self._end_spare()  # warmed with an app that does not build
            raise

    def restart(self) -> None:
        """Replace the server with the spare once it has imported the new server; start the
        next spare at once, to have its libraries imported by the next save."""
        module = ".".join(self._config.out.with_suffix("").parts)
        level = _QUIET_LOG_LEVEL if self._console.quiet else "info"
        order = ServeOrder(
            app=f"{module}.server:app",
            generated=module,
            host=self._host,
            port=self._port,
            log_level=level,
            grace_period=_GRACE_PERIOD,
            announce=level != _QUIET_LOG_LEVEL,
        )
        spare, self._spare = self._live_spare(), None
        if not spare.prepare(order, _PREPARE_TIMEOUT):
            spare.discard()
            self._console.error(f"error: the server could not import {module}.server (above)")
            self._kept("restart failed")
            return
        self._stop_server()
        self._server = spare.serve()  # it says where it serves
        self._spare = Spare(self._config.root)

    def _kept(self, what: str) -> None:
        if self._server is not None and self._server.poll() is None:
            self._console.error(f"{what}: the last good build stays, and so does the server")
        else:
            self._console.error(f"{what}: no server runs until a build succeeds")

    def _live_spare(self) -> Spare:
        if self._spare is None or not self._spare.alive:
            self._end_spare()
            self._spare = Spare(self._config.root)
        return self._spare

    def _end_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        if server.stdin is not None:
            server.stdin.close()


class _Saves:
    """The Python files saved under a directory, watched from a thread (with watchfiles, as
    uvicorn's reload does), so that saves made while a build or a restart runs are kept."""

    def __init__(self, directory: Path, *, ignored: Path) -> None:
        self._changed: queue.Queue[set[Path]] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, args=(directory, ignored), name="milkio-gen dev watch", daemon=True
        )
        self._thread.start()

    def _watch(self, directory: Path, ignored: Path) -> None:
        import watchfiles

        python_files = watchfiles.PythonFilter(ignore_paths=[ignored])
        watching = watchfiles.watch(directory, watch_filter=python_files, stop_event=self._stop)
        for changes in watching:
            self._changed.put({Path(path) for _, path in changes})

    def next(self) -> set[Path]:
        """The files saved since the last call, waiting for one."""
        while True:
            try:
                changed = self._changed.get(timeout=0.5)  # a short wait lets Ctrl-C in
            except queue.Empty:
                continue
            while not self._changed.empty():
                changed |= self._changed.get_nowait()
            return changed

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


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


_TERMINATING = (signal.SIGTERM, signal.SIGHUP)


def _interrupt_on_termination() -> None:
    """SIGTERM (a process manager) and SIGHUP (a closed terminal) end the loop as Ctrl-C does,
    so that the server and the spare end with it rather than outlive it."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        for terminating in _TERMINATING:
            signal.signal(terminating, interrupt)


def _ignore_termination() -> None:
    if threading.current_thread() is threading.main_thread():
        for terminating in (signal.SIGINT, *_TERMINATING):
            signal.signal(terminating, signal.SIG_IGN)

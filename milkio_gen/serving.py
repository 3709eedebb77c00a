"""Serving with uvicorn, so that a shutdown ends open streams rather than waiting on them.

uvicorn waits for every request in flight before it stops; a stream may never end by itself.
On SIGTERM or Ctrl-C, every open stream first gets the retryable `SERVER_SHUTTING_DOWN` fail
and its action is cancelled (its `finally` runs), then uvicorn stops as usual.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from .runtime.server import stop_open_streams

__all__ = ["serve"]

logger = logging.getLogger("milkio_gen.server")


class _Server(uvicorn.Server):
    async def shutdown(self, sockets: Any = None) -> None:
        stopped = stop_open_streams()
        if stopped:
            logger.info("shutting down: stopped %d open stream(s)", stopped)
        await super().shutdown(sockets)


def serve(
    app: str,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    grace_period: int = 10,
    workers: int = 1,
) -> None:
    """Serve `app` ("package.module:attribute") until a signal stops it.

    Args:
        grace_period: seconds requests in flight get to end once streams were stopped.
        workers: processes sharing the port, as uvicorn's `--workers`; for channels across
            them, the Redis backends (`MILKIO_CHANNELS_BACKEND`).
    """
    options: dict[str, Any] = {"log_config": _worker_log_config()} if workers > 1 else {}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=grace_period,
        **options,
    )
    if workers <= 1:
        _Server(config).run()
        return
    _Workers(config, workers).run()


def _worker_log_config() -> dict[str, Any]:
    """uvicorn's logging, with each line naming the worker's process: `[4242]`."""
    from uvicorn.config import LOGGING_CONFIG

    logging_config = copy.deepcopy(LOGGING_CONFIG)
    for formatter in logging_config["formatters"].values():
        formatter["fmt"] = formatter["fmt"].replace(
            "%(levelprefix)s", "%(levelprefix)s [%(process)d]"
        )
    return logging_config


def _serve_worker(config: uvicorn.Config, listening: socket.socket) -> None:
    _Server(config).run(sockets=[listening])


class _Workers:
    """Processes serving one socket, each a `_Server` (uvicorn's own workers are plain
    servers, which would wait on open streams when stopped); one that dies is replaced."""

    def __init__(self, config: uvicorn.Config, count: int) -> None:
        self._config = config
        self._count = count
        self._stop = threading.Event()
        self._signal: signal.Signals | None = None

    def run(self) -> None:
        listening = self._config.bind_socket()
        spawn = multiprocessing.get_context("spawn")

        def start() -> BaseProcess:
            process = spawn.Process(target=_serve_worker, args=(self._config, listening))
            process.start()
            return process

        for stopping in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stopping, self._on_signal)
        logger.info("serving with %d workers, process %d", self._count, os.getpid())
        processes = [start() for _ in range(self._count)]
        while not self._stop.wait(0.5):
            for index, process in enumerate(processes):
                if not process.is_alive():
                    logger.warning("worker %s exited (%s): starting another", process.pid,
                                   process.exitcode)  # fmt: skip
                    processes[index] = start()
        # Ctrl-C reaches the workers too, from the terminal; a signal to this process alone
        # is passed on (SIGTERM at once, SIGINT once they have had a moment to see their own).
        if self._signal == signal.SIGINT:
            for process in processes:
                process.join(1.0)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join((self._config.timeout_graceful_shutdown or 10) + 5)
            if process.is_alive():
                process.kill()
                process.join(5)
        listening.close()

    def _on_signal(self, received: int, frame: object) -> None:
        self._signal = signal.Signals(received)
        self._stop.set()

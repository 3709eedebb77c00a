"""Serving, so that a shutdown ends open streams rather than waiting on them.

Plain HTTP/1.1 is served by uvicorn; TLS with HTTP/2 (and HTTP/1.1 by ALPN), which lets a page
hold more than six streams at once, by hypercorn (the `http2` extra): its `shutdown_trigger`
runs in each worker's loop, where the streams are (granian, in Rust, offers no such hook and
waits on open streams). Both wait for every request in flight before they stop, and a stream
may never end by itself: so on SIGTERM or Ctrl-C, every open stream first gets the retryable
`SERVER_SHUTTING_DOWN` fail and its action is cancelled (its `finally` runs), then the server
stops as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

from .header_timeout import default_protocol, with_header_timeout
from .runtime.server import stop_open_streams
from .runtime.server.observe import LOG_LEVEL_VARIABLE

__all__ = ["TLS_MISSING", "serve"]

logger = logging.getLogger("milkio_gen.server")

TLS_MISSING = "TLS with HTTP/2 needs hypercorn: pip install 'milkio-gen[http2]'"
"""Why `serve` with a certificate cannot start, when hypercorn is not installed."""


@dataclass(frozen=True)
class _Options:
    """What every server kind is given; plain values, so that workers get a copy."""

    app: str
    host: str
    port: int
    log_level: str
    grace_period: int
    certfile: str | None
    keyfile: str | None
    workers: int
    header_timeout: float


def serve(
    app: str,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    grace_period: int = 10,
    workers: int = 1,
    certfile: str | None = None,
    keyfile: str | None = None,
    header_timeout: float = 10.0,
) -> None:
    """Serve `app` ("package.module:attribute") until a signal stops it.

    Args:
        grace_period: seconds requests in flight get to end once streams were stopped.
        workers: processes sharing the port, as uvicorn's `--workers`; for channels across
            them, the Redis backends (`MILKIO_CHANNELS_BACKEND`).
        certfile, keyfile: a PEM certificate (with its chain) and its key: serve HTTPS with
            HTTP/2 by hypercorn rather than HTTP/1.1 by uvicorn. Both or neither.
        header_timeout: seconds a connection gets to send a request's line and headers, so
            that clients trickling them (a slowloris) cannot hold connections for ever.
    """
    if (certfile is None) != (keyfile is None):
        raise ValueError("certfile and keyfile go together")
    options = _Options(
        app, host, port, log_level, grace_period, certfile, keyfile, workers, header_timeout
    )
    # Read by the app's logging set-up as it is imported, here or in a worker.
    os.environ[LOG_LEVEL_VARIABLE] = log_level
    run = _serve_tls if certfile is not None else _serve_plain
    if workers <= 1:
        run(options, None)
        return
    _Workers(options, run).run()


# One function per server kind: it serves `options` on `listening` (a socket the supervisor
# of workers bound) or on a socket of its own, and stops open streams first on a signal.


class _Server(uvicorn.Server):
    async def startup(self, sockets: Any = None) -> None:
        _app_logs_at(self.config.log_level)
        await super().startup(sockets)

    async def shutdown(self, sockets: Any = None) -> None:
        _stop_open_streams()
        await super().shutdown(sockets)


def _app_logs_at(level: str | int | None) -> None:
    """The app's own lines (the execute lines, the actions') at the server's log level: the
    app's logging set-up, made as it was imported, logs from INFO whatever the server says."""
    if isinstance(level, str):
        level = logging.getLevelNamesMapping().get(level.upper(), logging.DEBUG)  # trace: DEBUG
    if level is not None:
        logging.getLogger().setLevel(level)
        logging.getLogger("milkio_gen").setLevel(level)


def _serve_plain(options: _Options, listening: socket.socket | None) -> None:
    config = uvicorn.Config(
        options.app,
        host=options.host,
        port=options.port,
        log_level=options.log_level,
        timeout_graceful_shutdown=options.grace_period,
        http=with_header_timeout(default_protocol(), options.header_timeout),
    )
    _Server(config).run(sockets=None if listening is None else [listening])


def _serve_tls(options: _Options, listening: socket.socket | None) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve  # pyright: ignore[reportUnknownVariableType]
    from hypercorn.config import Config
    from uvicorn.importer import import_from_string

    config = Config()
    # hypercorn's bind: "fd://N" for a socket bound already, "[::1]:443" for IPv6.
    host = f"[{options.host}]" if ":" in options.host else options.host
    config.bind = [f"fd://{listening.fileno()}" if listening else f"{host}:{options.port}"]
    config.certfile, config.keyfile = options.certfile, options.keyfile
    config.alpn_protocols = ["h2", "http/1.1"]
    config.graceful_timeout = options.grace_period
    # hypercorn closes a connection that stays idle, its request head unfinished, included.
    config.keep_alive_timeout = options.header_timeout
    config.loglevel = "DEBUG" if options.log_level == "trace" else options.log_level.upper()
    config.accesslog = "-" if options.log_level in ("trace", "debug", "info") else None
    # A logger rather than "-": printed once, by the app's logging, not also by a handler
    # of hypercorn's own.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.errorlog.setLevel(config.loglevel)
    app = import_from_string(options.app)
    _app_logs_at(options.log_level)

    async def main() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for received in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(received, stopping.set)

        async def shutdown_trigger() -> None:
            await stopping.wait()
            _stop_open_streams()

        await hypercorn_serve(app, config, shutdown_trigger=shutdown_trigger)

    with asyncio.Runner(loop_factory=_TlsLoop) as runner:
        runner.run(main())


class _TlsLoop(asyncio.SelectorEventLoop):
    """Closing a TLS connection waits for the client's `close_notify`, 30 s by default; a
    client that holds an idle connection without reading (a pool) never sends it, and the
    server would wait that long to stop. A client that reads answers within milliseconds."""

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        if kwargs.get("ssl") is not None:
            kwargs.setdefault("ssl_shutdown_timeout", _TLS_SHUTDOWN_TIMEOUT)
        return await super().create_server(*args, **kwargs)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        # hypercorn lets the timeout out of the connection's task: an ordinary ending here.
        error = context.get("exception")
        if isinstance(error, TimeoutError) and str(error) == "SSL shutdown timed out":
            logger.debug("a TLS client left its connection without closing it")
            return
        super().call_exception_handler(context)


_TLS_SHUTDOWN_TIMEOUT = 2.0


def _stop_open_streams() -> None:
    stopped = stop_open_streams()
    if stopped:
        logger.info("shutting down: stopped %d open stream(s)", stopped)


_Run = Callable[[_Options, "socket.socket | None"], None]


_EARLY_EXIT = 10.0
"""Seconds: a worker that ends sooner after its start is failing to start (a bad setting, a
broker that is down), and starting it again would only fail again."""


def _worker(run: _Run, options: _Options, listening: socket.socket, supervisor: int) -> None:
    """A worker's process: it serves until a signal, and stops as on SIGTERM when its
    supervisor is gone (killed, say), rather than serve the port on its own."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor watch", daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches each worker: end quietly
        run(options, listening)


class _Workers:
    """Processes serving one socket, each stopping its open streams on a signal (uvicorn's
    own workers are plain servers, which would wait on them). One that dies is replaced;
    one that dies right after its start stops them all, with exit code 1."""

    def __init__(self, options: _Options, run: _Run) -> None:
        self._options = options
        self._run = run
        self._stop = threading.Event()
        self._signal: signal.Signals | None = None

    def run(self) -> None:
        listening = _bind(self._options.host, self._options.port)
        spawn = multiprocessing.get_context("spawn")
        started: dict[int, float] = {}

        def start() -> BaseProcess:
            arguments = (self._run, self._options, listening, os.getpid())
            process = spawn.Process(target=_worker, args=arguments)
            process.start()
            started[id(process)] = time.monotonic()
            return process

        for stopping in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stopping, self._on_signal)
        count = self._options.workers
        logger.info("serving with %d workers, process %d", count, os.getpid())
        processes = [start() for _ in range(count)]
        failed = False
        try:
            while not failed and not self._stop.wait(0.5):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    lived = time.monotonic() - started[id(process)]
                    if lived < _EARLY_EXIT:
                        logger.error("worker %s exited %.1f s after its start (code %s): "
                                     "stopping", process.pid, lived, process.exitcode)  # fmt: skip
                        failed = True
                        break
                    logger.warning("worker %s exited (code %s): starting another",
                                   process.pid, process.exitcode)  # fmt: skip
                    processes[index] = start()
        finally:
            self._end(processes)
            listening.close()
        if failed:
            raise SystemExit(1)

    def _end(self, processes: list[BaseProcess]) -> None:
        # Ctrl-C reaches the workers too, from the terminal; a signal to this process alone
        # is passed on (SIGTERM at once, SIGINT once they have had a moment to see their own).
        if self._signal == signal.SIGINT:
            for process in processes:
                process.join(1.0)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(self._options.grace_period + 5)
            if process.is_alive():
                process.kill()
                process.join(5)

    def _on_signal(self, received: int, frame: object) -> None:
        self._signal = signal.Signals(received)
        self._stop.set()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket the workers share, as uvicorn binds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.create_server((host, port), family=family, backlog=2048)
    listening.set_inheritable(True)
    return listening
